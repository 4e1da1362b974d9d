package wal

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestReopenAfterClose(t *testing.T) {
	opts := Options{Dir: t.TempDir(), SegmentSize: 2048, Logger: testLogger(t)}
	w := mustOpen(t, opts)
	recs := appendN(t, w, 0, 100)
	mustClose(t, w)

	w = mustOpen(t, opts)
	checkRecords(t, replayAll(t, w, Position{}), recs)
	if st := w.Stats(); st.TornTailTruncations != 0 {
		t.Fatalf("clean reopen counted a torn tail: %+v", st)
	}
	more := appendN(t, w, 100, 100)
	if more[0].pos.Segment != recs[len(recs)-1].pos.Segment || more[0].pos.Offset != recs[len(recs)-1].pos.End() {
		t.Fatalf("after reopen, append went to %v, want right after %v", more[0].pos, recs[len(recs)-1].pos)
	}
	mustClose(t, w)

	w = mustOpen(t, opts)
	defer mustClose(t, w)
	all := append(recs, more...)
	checkRecords(t, replayAll(t, w, Position{}), all)
	for _, r := range all {
		if d, err := w.ReadAt(r.pos, nil); err != nil || !bytes.Equal(d, r.data) {
			t.Fatalf("ReadAt(%v) after reopen: %q, %v", r.pos, trunc(d), err)
		}
	}
}

// TestCrash runs appenders against an ErrorFS, crashes it at a random moment
// and checks that recovery keeps every acknowledged entry, keeps only intact
// entries in order, and accepts appends again.
func TestCrash(t *testing.T) {
	var tornTails atomic.Uint64
	defer func() {
		if !t.Failed() && tornTails.Load() == 0 {
			t.Error("no crash produced a torn tail: the test is not exercising recovery")
		}
	}()
	for seed := range uint64(24) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 42))
			efs := NewErrorFS(nil)
			opts := memOpts(t, efs)
			opts.SegmentSize = 512 + rng.Int64N(4096)
			w := mustOpen(t, opts)

			var mu sync.Mutex
			appended := map[Position][]byte{}
			acked := map[Position]bool{}
			var wg sync.WaitGroup
			stop := make(chan struct{})
			for g := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						d := entry(g*100000 + i)
						// Every 16th append waits for its callback, to keep
						// the run short while still letting batches build up.
						waited := make(chan struct{})
						mu.Lock() // so appended has the position before done can run
						pos, err := w.Append(d, func(p Position, err error) {
							if err == nil {
								mu.Lock()
								acked[p] = true
								mu.Unlock()
							}
							close(waited)
						})
						if err == nil {
							appended[pos] = d
						}
						mu.Unlock()
						if err != nil {
							return // crashed
						}
						if i%16 == 15 {
							select {
							case <-waited:
							case <-stop:
								return
							}
						}
					}
				}()
			}
			// Let some batches through, then crash.
			target := 50 + rng.IntN(400)
			for {
				mu.Lock()
				n := len(acked)
				mu.Unlock()
				if n >= target {
					break
				}
			}
			var (
				after *ErrorFS
				err   error
			)
			if seed%2 == 0 {
				after, err = efs.Crash()
			} else {
				// Crash while the flusher has written a batch but is still
				// inside fsync, keeping a random part of what it wrote.
				inSync, release := make(chan struct{}), make(chan struct{})
				var once sync.Once
				efs.SetInjector(func(op Op, _ string) error {
					if op == OpSync {
						once.Do(func() { close(inSync); <-release })
					}
					return nil
				})
				<-inSync
				after, err = efs.CrashTorn(rng)
				close(release)
			}
			if err != nil {
				t.Fatal(err)
			}
			close(stop)
			wg.Wait()
			_ = w.Close() // fails: its FS is gone
			mu.Lock()
			defer mu.Unlock()

			opts.FS = after
			w2 := mustOpen(t, opts)
			got := replayAll(t, w2, Position{})
			// Recovered entries are exactly the first len(got) appended ones.
			for i, r := range got {
				want, ok := appended[r.pos]
				if !ok || !bytes.Equal(want, r.data) {
					t.Fatalf("recovered entry %d at %v was never appended there", i, r.pos)
				}
				if i > 0 {
					prev := got[i-1].pos
					if !(r.pos.Segment == prev.Segment && r.pos.Offset == prev.End()) &&
						!(r.pos.Segment == prev.Segment+1 && r.pos.Offset == SegmentHeaderSize) {
						t.Fatalf("gap in recovered log: %v after %v", r.pos, prev)
					}
				} else if r.pos != (Position{Segment: 1, Offset: SegmentHeaderSize, Length: r.pos.Length}) {
					t.Fatalf("recovered log starts at %v", r.pos)
				}
			}
			recovered := map[Position]bool{}
			for _, r := range got {
				recovered[r.pos] = true
			}
			for p := range acked {
				if !recovered[p] {
					t.Fatalf("acknowledged entry %v lost (recovered %d, acked %d)", p, len(got), len(acked))
				}
			}
			t.Logf("appended %d, acked %d, recovered %d, stats %+v", len(appended), len(acked), len(got), w2.Stats())
			tornTails.Add(w2.Stats().TornTailTruncations)
			// The recovered WAL works and a clean reopen keeps everything.
			more := appendN(t, w2, 1e6, 20)
			mustClose(t, w2)
			w3 := mustOpen(t, opts)
			defer mustClose(t, w3)
			checkRecords(t, replayAll(t, w3, Position{}), append(got, more...))
		})
	}
}

// TestOpenMakesRecoveredTailDurable: frames a crashed process left unsynced
// (in the page cache) are fsynced by Open before being reported durable.
func TestOpenMakesRecoveredTailDurable(t *testing.T) {
	efs := NewErrorFS(nil)
	opts := memOpts(t, efs)
	opts.NoSync = true // the "previous process" never fsyncs
	w := mustOpen(t, opts)
	recs := appendN(t, w, 0, 10)
	mustClose(t, w)
	path := segFile(testDir, 1)
	if efs.UnsyncedBytes(path) == 0 {
		t.Fatal("expected unsynced bytes after a NoSync run")
	}
	opts.NoSync = false
	w = mustOpen(t, opts)
	if n := efs.UnsyncedBytes(path); n != 0 {
		t.Fatalf("Open left %d bytes unsynced", n)
	}
	mustClose(t, w)
	after, err := efs.Crash()
	if err != nil {
		t.Fatal(err)
	}
	opts.FS = after
	w = mustOpen(t, opts)
	defer mustClose(t, w)
	checkRecords(t, replayAll(t, w, Position{}), recs)
}

// closedWAL writes n entries into small segments and closes the WAL.
func closedWAL(t *testing.T, n int) (Options, []record) {
	t.Helper()
	opts := memOpts(t, NewMemFS())
	opts.SegmentSize = 1024
	w := mustOpen(t, opts)
	recs := appendN(t, w, 0, n)
	// Make sure the last segment holds several entries.
	for i := n; ; i++ {
		inLast := 0
		for _, r := range recs {
			if r.pos.Segment == lastSegment(recs) {
				inLast++
			}
		}
		if inLast >= 6 {
			break
		}
		recs = append(recs, appendN(t, w, i, 1)...)
	}
	mustClose(t, w)
	return opts, recs
}

func lastSegment(recs []record) uint64 { return recs[len(recs)-1].pos.Segment }

func TestTornTail(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	garbage := make([]byte, 3000)
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	for _, tc := range []struct {
		name string
		// damage changes the last segment's bytes; keep is how many of the
		// last segment's entries survive (-1: all).
		damage func(b []byte, last []record) []byte
		keep   int
	}{
		{"truncated mid-payload", func(b []byte, last []record) []byte {
			return b[:last[len(last)-1].pos.Offset+FrameHeaderSize+1]
		}, -2},
		{"truncated mid-header", func(b []byte, last []record) []byte {
			return b[:last[len(last)-1].pos.Offset+5]
		}, -2},
		{"truncated mid-entry of two", func(b []byte, last []record) []byte {
			return b[:last[len(last)-2].pos.Offset+9]
		}, -3},
		{"garbage appended", func(b []byte, _ []record) []byte { return append(b, garbage...) }, -1},
		{"zero-filled tail", func(b []byte, _ []record) []byte { return append(b, make([]byte, 4096)...) }, -1},
		{"partial frame header appended", func(b []byte, _ []record) []byte { return append(b, 0, 0, 1) }, -1},
		{"last frame payload zeroed", func(b []byte, last []record) []byte {
			clear(b[last[len(last)-1].pos.Offset+FrameHeaderSize:])
			return b
		}, -2},
		{"last frame length zeroed", func(b []byte, last []record) []byte {
			clear(b[last[len(last)-1].pos.Offset:][:4])
			return b
		}, -2},
		{"huge length in last frame", func(b []byte, last []record) []byte {
			copy(b[last[len(last)-1].pos.Offset:], []byte{0xff, 0xff, 0xff, 0xff})
			return b
		}, -2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts, recs := closedWAL(t, 60)
			ls := lastSegment(recs)
			var last []record
			var want []record
			for _, r := range recs {
				if r.pos.Segment == ls {
					last = append(last, r)
				}
			}
			if len(last) < 3 {
				t.Fatalf("only %d entries in the last segment", len(last))
			}
			path := segFile(testDir, ls)
			b := tc.damage(readFile(t, opts.FS, path), last)
			writeFile(t, opts.FS, path, b)
			want = recs[:len(recs)+tc.keep+1]

			logger, logs := bufferLogger(t)
			opts.Logger = logger
			w := mustOpen(t, opts)
			if n := w.Stats().TornTailTruncations; n != 1 {
				t.Fatalf("TornTailTruncations = %d, want 1", n)
			}
			if !strings.Contains(logs.String(), "torn tail") {
				t.Fatalf("torn tail not logged: %s", logs)
			}
			checkRecords(t, replayAll(t, w, Position{}), want)
			more := appendN(t, w, 1000, 5)
			if more[0].pos.Segment != ls || more[0].pos.Offset != want[len(want)-1].pos.End() {
				t.Fatalf("append after repair at %v, want right after %v", more[0].pos, want[len(want)-1].pos)
			}
			mustClose(t, w)
			w = mustOpen(t, opts)
			defer mustClose(t, w)
			if n := w.Stats().TornTailTruncations; n != 0 {
				t.Fatalf("repaired log still torn: %d", n)
			}
			checkRecords(t, replayAll(t, w, Position{}), append(want, more...))
		})
	}
}

func TestTornSegmentCreation(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"partial header", []byte("STRATA")},
		{"zero filled", make([]byte, 4096)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts, recs := closedWAL(t, 30)
			next := lastSegment(recs) + 1
			writeFile(t, opts.FS, segFile(testDir, next), tc.data)
			w := mustOpen(t, opts)
			if n := w.Stats().TornTailTruncations; n != 1 {
				t.Fatalf("TornTailTruncations = %d", n)
			}
			checkRecords(t, replayAll(t, w, Position{}), recs)
			more := appendN(t, w, 100, 3)
			if more[0].pos != (Position{Segment: next, Offset: SegmentHeaderSize, Length: more[0].pos.Length}) {
				t.Fatalf("append went to %v, want start of segment %d", more[0].pos, next)
			}
			mustClose(t, w)
			w = mustOpen(t, opts)
			defer mustClose(t, w)
			checkRecords(t, replayAll(t, w, Position{}), append(recs, more...))
		})
	}
}

func TestCorruption(t *testing.T) {
	type damage struct {
		seg    uint64
		offset int64 // expected CorruptionError.Offset
	}
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, fs FS, recs []record) damage
		reason string
	}{
		{"bit flip in non-last segment", func(t *testing.T, fs FS, recs []record) damage {
			r := recs[3]
			flip(t, fs, r.pos.Segment, r.pos.Offset+FrameHeaderSize+2)
			return damage{r.pos.Segment, r.pos.Offset}
		}, "CRC"},
		{"bit flip in last frame of non-last segment", func(t *testing.T, fs FS, recs []record) damage {
			var r record
			for _, x := range recs {
				if x.pos.Segment == 1 {
					r = x
				}
			}
			flip(t, fs, 1, r.pos.End()-1)
			return damage{1, r.pos.Offset}
		}, "not in the last segment"},
		{"non-last segment truncated", func(t *testing.T, fs FS, recs []record) damage {
			var r record
			for _, x := range recs {
				if x.pos.Segment == 2 {
					r = x
				}
			}
			path := segFile(testDir, 2)
			writeFile(t, fs, path, readFile(t, fs, path)[:r.pos.End()-3])
			return damage{2, r.pos.Offset}
		}, "incomplete"},
		{"bit flip mid last segment followed by valid frames", func(t *testing.T, fs FS, recs []record) damage {
			ls := lastSegment(recs)
			var in []record
			for _, x := range recs {
				if x.pos.Segment == ls {
					in = append(in, x)
				}
			}
			r := in[len(in)/2-1]
			flip(t, fs, ls, r.pos.Offset+FrameHeaderSize)
			return damage{ls, r.pos.Offset}
		}, "valid frame follows"},
		{"length flip mid last segment", func(t *testing.T, fs FS, recs []record) damage {
			ls := lastSegment(recs)
			var in []record
			for _, x := range recs {
				if x.pos.Segment == ls {
					in = append(in, x)
				}
			}
			r := in[0]
			flip(t, fs, ls, r.pos.Offset+3)
			return damage{ls, r.pos.Offset}
		}, "valid frame follows"},
		{"bad magic", func(t *testing.T, fs FS, recs []record) damage {
			flip(t, fs, 2, 0)
			return damage{2, 0}
		}, "magic"},
		{"bad magic in last segment", func(t *testing.T, fs FS, recs []record) damage {
			ls := lastSegment(recs)
			flip(t, fs, ls, 1)
			return damage{ls, 0}
		}, "magic"},
		{"wrong version", func(t *testing.T, fs FS, recs []record) damage {
			flip(t, fs, 1, 11)
			return damage{1, 0}
		}, "version"},
		{"header names another segment", func(t *testing.T, fs FS, recs []record) damage {
			flip(t, fs, 2, 19)
			return damage{2, 0}
		}, "header names segment"},
		{"missing segment", func(t *testing.T, fs FS, recs []record) damage {
			if err := fs.Remove(segFile(testDir, 2)); err != nil {
				t.Fatal(err)
			}
			return damage{2, 0}
		}, "missing"},
		{"non-last segment too short for header", func(t *testing.T, fs FS, recs []record) damage {
			writeFile(t, fs, segFile(testDir, 1), []byte("STRAT"))
			return damage{1, 0}
		}, "header"},
		{"segment zero", func(t *testing.T, fs FS, recs []record) damage {
			writeFile(t, fs, segFile(testDir, 0), buildSegment(0))
			return damage{0, 0}
		}, "invalid sequence"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts, recs := closedWAL(t, 60)
			if lastSegment(recs) < 4 {
				t.Fatalf("only %d segments", lastSegment(recs))
			}
			d := tc.damage(t, opts.FS, recs)
			w, err := Open(opts)
			if err == nil {
				w.Close()
				t.Fatal("Open succeeded on a corrupt log")
			}
			ce := asCorruption(t, err)
			if ce.Segment != d.seg || ce.Offset != d.offset || !strings.Contains(ce.Reason, tc.reason) {
				t.Fatalf("got %v, want segment %d offset %d reason containing %q", ce, d.seg, d.offset, tc.reason)
			}
			if ce.Path == "" || !strings.Contains(err.Error(), fmt.Sprintf("segment %d", d.seg)) {
				t.Fatalf("error does not name the segment: %v", err)
			}
		})
	}
}

func flip(t *testing.T, fs FS, seg uint64, off int64) {
	t.Helper()
	path := segFile(testDir, seg)
	b := readFile(t, fs, path)
	b[off] ^= 0x10
	writeFile(t, fs, path, b)
}

// TestCorruptionWhileOpen: damage to durable data is caught by ReadAt and
// Replay too.
func TestCorruptionWhileOpen(t *testing.T) {
	fs := NewMemFS()
	opts := memOpts(t, fs)
	w := mustOpen(t, opts)
	defer mustClose(t, w)
	recs := appendN(t, w, 0, 10)
	f, err := fs.OpenFile(segFile(testDir, 1), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	r := recs[4]
	b := readFile(t, fs, segFile(testDir, 1))
	b[r.pos.Offset+FrameHeaderSize] ^= 1
	if err := f.Truncate(0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = w.ReadAt(r.pos, nil)
	if ce := asCorruption(t, err); ce.Segment != 1 || ce.Offset != r.pos.Offset {
		t.Fatalf("ReadAt: %v", ce)
	}
	if d, err := w.ReadAt(recs[3].pos, nil); err != nil || !bytes.Equal(d, recs[3].data) {
		t.Fatalf("neighbour unreadable: %v", err)
	}
	var n int
	err = w.Replay(Position{}, func(Position, []byte) error { n++; return nil })
	if ce := asCorruption(t, err); ce.Offset != r.pos.Offset || n != 4 {
		t.Fatalf("Replay: %v after %d entries", ce, n)
	}
}

func TestIgnoresForeignFiles(t *testing.T) {
	opts, recs := closedWAL(t, 20)
	writeFile(t, opts.FS, testDir+"/LOCK", []byte("x"))
	writeFile(t, opts.FS, testDir+"/1.wal", []byte("x"))
	writeFile(t, opts.FS, testDir+"/0000000000000000000a.wal", []byte("x"))
	w := mustOpen(t, opts)
	defer mustClose(t, w)
	checkRecords(t, replayAll(t, w, Position{}), recs)
}

func TestFsyncFailure(t *testing.T) {
	injected := errors.New("injected EIO")
	for _, tc := range []struct {
		name string
		op   Op
	}{
		{"fsync", OpSync},
		{"write", OpWrite},
		{"directory fsync while rolling", OpSyncDir},
	} {
		t.Run(tc.name, func(t *testing.T) {
			efs := NewErrorFS(nil)
			opts := memOpts(t, efs)
			opts.SegmentSize = 256
			w := mustOpen(t, opts)
			good := appendN(t, w, 0, 5)
			efs.SetInjector(FailOn(tc.op, injected))

			var errs []error
			var mu sync.Mutex
			var wg sync.WaitGroup
			for i := range 10 { // enough to roll at least once
				wg.Add(1)
				if _, err := w.Append(entry(100+i), func(_ Position, err error) {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					wg.Done()
				}); err != nil {
					wg.Done()
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
			wg.Wait()
			if len(errs) != 10 {
				t.Fatalf("%d results for 10 appends", len(errs))
			}
			// Results are in append order: entries of batches that did not
			// touch the failing operation (only possible for the directory
			// fsync, done when rolling) succeed, then everything fails.
			failedAt := -1
			for i, err := range errs {
				if err == nil && failedAt < 0 && tc.op == OpSyncDir {
					continue
				}
				if failedAt < 0 {
					failedAt = i
				}
				if !errors.Is(err, injected) || !errors.Is(err, ErrFailed) {
					t.Fatalf("append %d after injected failure: %v", i, err)
				}
			}
			if failedAt < 0 {
				t.Fatal("no append failed")
			}
			// Healing the disk does not help: the WAL stays failed.
			efs.SetInjector(nil)
			if _, err := w.Append([]byte("later"), func(Position, error) { t.Error("done called") }); !errors.Is(err, injected) {
				t.Fatalf("later Append = %v", err)
			}
			if _, err := w.AppendSync([]byte("later")); !errors.Is(err, ErrFailed) {
				t.Fatalf("later AppendSync = %v", err)
			}
			// Acknowledged entries are still readable.
			for _, r := range good {
				if d, err := w.ReadAt(r.pos, nil); err != nil || !bytes.Equal(d, r.data) {
					t.Fatalf("ReadAt(%v) after failure: %v", r.pos, err)
				}
			}
			// Every acknowledged entry replays: those acked before the
			// injection, and those of this round acked before the failure
			// (possible only for the directory fsync). Entries of the
			// failed batch may or may not be on disk.
			replayed := replayAll(t, w, Position{})
			if len(replayed) < len(good)+failedAt || len(replayed) > len(good)+10 {
				t.Fatalf("replayed %d entries; %d were acknowledged before and %d after the injection, of 10 appended", len(replayed), len(good), failedAt)
			}
			checkRecords(t, replayed[:len(good)], good)
			if err := w.Close(); !errors.Is(err, injected) {
				t.Fatalf("Close = %v, want the failure", err)
			}
			// A fresh Open recovers at least the acknowledged entries.
			w = mustOpen(t, opts)
			defer mustClose(t, w)
			got := replayAll(t, w, Position{})
			checkRecords(t, got[:len(good)], good)
		})
	}
}

func TestOpenErrors(t *testing.T) {
	injected := errors.New("injected")
	for _, op := range []Op{OpReadDir, OpOpen, OpMkdirAll, OpSync, OpStat, OpRead} {
		t.Run(op.String(), func(t *testing.T) {
			opts, _ := closedWAL(t, 20)
			efs := NewErrorFS(opts.FS)
			efs.SetInjector(FailOn(op, injected))
			opts.FS = efs
			if w, err := Open(opts); !errors.Is(err, injected) {
				if err == nil {
					w.Close()
				}
				t.Fatalf("Open with failing %v = %v", op, err)
			}
			efs.SetInjector(nil)
			w := mustOpen(t, opts)
			mustClose(t, w)
		})
	}
}

func TestErrorFSCrash(t *testing.T) {
	efs := NewErrorFS(nil)
	if err := efs.MkdirAll("/d", 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := efs.OpenFile("/d/a", os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("durable"))
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	dir, _ := efs.Open("/d")
	if err := dir.Sync(); err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("-lost"))
	g, _ := efs.OpenFile("/d/b", os.O_RDWR|os.O_CREATE, 0o644)
	g.Write([]byte("new file"))
	g.Sync() // synced, but its directory entry is not
	after, err := efs.Crash()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("x")); !errors.Is(err, ErrCrashed) {
		t.Fatalf("write after crash: %v", err)
	}
	if _, err := efs.Open("/d/a"); !errors.Is(err, ErrCrashed) {
		t.Fatalf("open on crashed fs: %v", err)
	}
	if got := readFile(t, after, "/d/a"); string(got) != "durable" {
		t.Fatalf("after crash /d/a = %q", got)
	}
	if _, err := after.Open("/d/b"); err == nil {
		t.Fatal("file without directory sync survived the crash")
	}
}
