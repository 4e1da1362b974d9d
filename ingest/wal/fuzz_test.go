package wal

import (
	"bytes"
	"io"
	"log/slog"
	"testing"
)

// FuzzOpen writes arbitrary bytes as a segment file and opens the WAL. Open
// must never panic; it either fails with a *CorruptionError exactly when the
// recovery rules say the data is corrupt, or opens a WAL whose Replay returns
// exactly the valid frames before the first bad one (a prefix of the frames).
//
// mode bit 0: prepend a valid segment header to data (so the fuzzer explores
// frames rather than headers). mode bit 1: add a valid empty segment 2 after
// it, so data is in a non-last segment.
func FuzzOpen(f *testing.F) {
	valid := buildSegment(1, []byte("hello"), []byte("world"), bytes.Repeat([]byte{7}, 300))
	frames := valid[SegmentHeaderSize:]
	f.Add(valid, uint8(0))
	f.Add(frames, uint8(1))
	f.Add(frames, uint8(3))
	f.Add(frames[:len(frames)-5], uint8(1))                     // torn
	f.Add(append(bytes.Clone(frames), 0, 0, 0, 0, 0), uint8(1)) // zero tail
	f.Add(append(bytes.Clone(frames), 0xff, 1, 2), uint8(1))
	flipped := bytes.Clone(frames)
	flipped[10] ^= 1 // bad frame followed by valid frames
	f.Add(flipped, uint8(1))
	f.Add([]byte{}, uint8(0))
	f.Add(make([]byte, 64), uint8(0))
	f.Add([]byte("STRATAWL"), uint8(0))
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 0, 0}, uint8(1))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, uint8(1))

	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		fs := NewMemFS()
		if err := fs.MkdirAll(testDir, 0o755); err != nil {
			t.Fatal(err)
		}
		seg := data
		if mode&1 != 0 {
			seg = append(buildSegment(1), data...)
		}
		last := mode&2 == 0
		writeFile(t, fs, segFile(testDir, 1), seg)
		if !last {
			writeFile(t, fs, segFile(testDir, 2), buildSegment(2))
		}

		// What the recovery rules say should happen.
		var wantFrames [][]byte
		wantCorrupt := false
		if checkSegmentHeader(seg, 1) != "" {
			zero := len(seg) < SegmentHeaderSize || bytes.Count(seg, []byte{0}) == len(seg)
			wantCorrupt = !last || !zero
		} else {
			var bad int
			wantFrames, bad = refFrames(seg, SegmentHeaderSize)
			if bad >= 0 && (!last || refValidAfter(seg, bad)) {
				wantCorrupt = true
			}
		}

		opts := Options{Dir: testDir, FS: fs, Logger: logger, SegmentSize: 1024}
		w, err := Open(opts)
		if wantCorrupt {
			if err == nil {
				w.Close()
				t.Fatalf("Open accepted a corrupt segment (mode %d)", mode)
			}
			asCorruption(t, err)
			return
		}
		if err != nil {
			t.Fatalf("Open: %v (mode %d)", err, mode)
		}
		var got [][]byte
		if err := w.Replay(Position{}, func(_ Position, d []byte) error {
			got = append(got, bytes.Clone(d))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(wantFrames) {
			t.Fatalf("replayed %d entries, want %d", len(got), len(wantFrames))
		}
		for i := range got {
			if !bytes.Equal(got[i], wantFrames[i]) {
				t.Fatalf("entry %d differs", i)
			}
		}
		// The repaired log accepts appends and reopens cleanly.
		pos, err := w.AppendSync([]byte("appended"))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		w, err = Open(opts)
		if err != nil {
			t.Fatalf("reopen after repair: %v", err)
		}
		defer w.Close()
		if w.Stats().TornTailTruncations != 0 {
			t.Fatal("repaired log torn again")
		}
		if d, err := w.ReadAt(pos, nil); err != nil || string(d) != "appended" {
			t.Fatalf("ReadAt after reopen: %q, %v", d, err)
		}
	})
}
