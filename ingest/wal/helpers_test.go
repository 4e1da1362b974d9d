package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// testLogger logs to the test's output (shown on failure or with -v).
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// logBuffer is a concurrency-safe log sink for asserting on log output.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func bufferLogger(t testing.TB) (*slog.Logger, *logBuffer) {
	lb := &logBuffer{}
	return slog.New(slog.NewTextHandler(io.MultiWriter(lb, t.Output()), nil)), lb
}

const testDir = "/wal"

func memOpts(t testing.TB, fs FS) Options {
	return Options{Dir: testDir, FS: fs, Logger: testLogger(t)}
}

func mustOpen(t testing.TB, opts Options) *WAL {
	t.Helper()
	w, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return w
}

func mustClose(t testing.TB, w *WAL) {
	t.Helper()
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// entry returns deterministic test payload i, 1..~300 bytes long.
func entry(i int) []byte {
	b := fmt.Appendf(nil, "entry-%d:", i)
	for j := range (i * 7919) % 290 {
		b = append(b, byte('a'+(i+j)%26))
	}
	return b
}

type record struct {
	pos  Position
	data []byte
}

// replayAll returns every durable entry, copied.
func replayAll(t testing.TB, w *WAL, from Position) []record {
	t.Helper()
	var out []record
	err := w.Replay(from, func(pos Position, data []byte) error {
		out = append(out, record{pos, bytes.Clone(data)})
		return nil
	})
	if err != nil {
		t.Fatalf("Replay(%v): %v", from, err)
	}
	return out
}

// appendN appends entries [from, from+n) with AppendSync and returns them.
func appendN(t testing.TB, w *WAL, from, n int) []record {
	t.Helper()
	out := make([]record, 0, n)
	for i := from; i < from+n; i++ {
		d := entry(i)
		pos, err := w.AppendSync(d)
		if err != nil {
			t.Fatalf("AppendSync(%d): %v", i, err)
		}
		out = append(out, record{pos, d})
	}
	return out
}

func checkRecords(t testing.TB, got, want []record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].pos != want[i].pos || !bytes.Equal(got[i].data, want[i].data) {
			t.Fatalf("entry %d: got %v %q, want %v %q", i, got[i].pos, trunc(got[i].data), want[i].pos, trunc(want[i].data))
		}
	}
}

func trunc(b []byte) []byte {
	if len(b) > 24 {
		return b[:24]
	}
	return b
}

// readFile / writeFile / fileSize access a segment on an FS directly, to
// damage it between Close and Open.
func readFile(t testing.TB, fs FS, path string) []byte {
	t.Helper()
	f, err := fs.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, info.Size())
	if err := readAtFull(f, b, 0); err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, fs FS, path string, b []byte) {
	t.Helper()
	f, err := fs.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func segFile(dir string, seq uint64) string { return filepath.Join(dir, segmentName(seq)) }

// buildSegment returns a segment file image with the given payloads.
func buildSegment(seq uint64, payloads ...[]byte) []byte {
	h := segmentHeader(seq)
	b := h[:]
	for _, p := range payloads {
		b = appendFrame(b, p, checksum(p))
	}
	return b
}

// refFrames is an independent, simple parser of a segment's frames: it
// returns the valid frames from offset start and the offset of the first
// invalid one (-1 if the data ends cleanly).
func refFrames(b []byte, start int) (frames [][]byte, bad int) {
	off := start
	for off < len(b) {
		if !refValid(b[off:]) {
			return frames, off
		}
		n := int(binary.BigEndian.Uint32(b[off:]))
		frames = append(frames, b[off+8:off+8+n])
		off += 8 + n
	}
	return frames, -1
}

func refValid(b []byte) bool {
	if len(b) < 8 {
		return false
	}
	n := uint64(binary.BigEndian.Uint32(b))
	if n == 0 || n > MaxEntrySize || n > uint64(len(b)-8) {
		return false
	}
	return checksum(b[8:8+n]) == binary.BigEndian.Uint32(b[4:])
}

// refValidAfter reports whether a valid frame starts at any offset > bad.
func refValidAfter(b []byte, bad int) bool {
	for p := bad + 1; p < len(b); p++ {
		if refValid(b[p:]) {
			return true
		}
	}
	return false
}

func asCorruption(t testing.TB, err error) *CorruptionError {
	t.Helper()
	var ce *CorruptionError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *CorruptionError", err, err)
	}
	return ce
}
