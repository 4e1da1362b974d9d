package wal

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestFormatGolden(t *testing.T) {
	fs := NewMemFS()
	w := mustOpen(t, memOpts(t, fs))
	pos, err := w.AppendSync([]byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if want := (Position{Segment: 1, Offset: 20, Length: 5}); pos != want {
		t.Fatalf("position %v, want %v", pos, want)
	}
	mustClose(t, w)
	got := hex.EncodeToString(readFile(t, fs, segFile(testDir, 1)))
	want := "535452415441574c" + "00000001" + "0000000000000001" + // header
		"00000005" + "9a71bb4c" + "68656c6c6f" // frame
	if got != want {
		t.Fatalf("segment bytes\n got %s\nwant %s", got, want)
	}
	if n := segmentName(1); n != "00000000000000000001.wal" {
		t.Fatalf("segment name %q", n)
	}
}

func TestRoundTripAcrossSegments(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts func(t *testing.T) Options
	}{
		{"memfs", func(t *testing.T) Options { return memOpts(t, NewMemFS()) }},
		{"osfs", func(t *testing.T) Options { return Options{Dir: t.TempDir() + "/wal", Logger: testLogger(t)} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts(t)
			opts.SegmentSize = 4096
			w := mustOpen(t, opts)
			const n = 600
			var want []record
			var failed atomic.Int32
			for i := range n {
				d := entry(i)
				pos, err := w.Append(d, func(_ Position, err error) {
					if err != nil {
						failed.Add(1)
					}
				})
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, record{pos, d})
			}
			// Positions are contiguous: each frame follows the previous one
			// or starts a new segment after the header.
			for i := 1; i < n; i++ {
				prev, cur := want[i-1].pos, want[i].pos
				switch {
				case cur.Segment == prev.Segment && cur.Offset == prev.End():
				case cur.Segment == prev.Segment+1 && cur.Offset == SegmentHeaderSize && prev.End() >= opts.SegmentSize:
				default:
					t.Fatalf("position %d %v does not follow %v", i, cur, prev)
				}
				if cur.Segment == prev.Segment && prev.Offset >= opts.SegmentSize {
					t.Fatalf("segment %d not rolled at %v", cur.Segment, prev)
				}
			}
			if _, err := w.AppendSync([]byte("barrier")); err != nil { // everything before is durable too
				t.Fatal(err)
			}
			if failed.Load() != 0 {
				t.Fatal("append failed")
			}
			segs := w.Segments()
			if len(segs) < 5 {
				t.Fatalf("only %d segments, want several", len(segs))
			}
			for i, s := range segs {
				if s != uint64(i+1) {
					t.Fatalf("segments %v", segs)
				}
			}
			got := replayAll(t, w, Position{})
			checkRecords(t, got[:n], want)
			var buf []byte
			for _, r := range want {
				d, err := w.ReadAt(r.pos, buf)
				if err != nil {
					t.Fatalf("ReadAt(%v): %v", r.pos, err)
				}
				if !bytes.Equal(d, r.data) {
					t.Fatalf("ReadAt(%v) = %q, want %q", r.pos, trunc(d), trunc(r.data))
				}
				buf = d[:cap(d)]
			}
			// Replay from an entry in the middle, and from a segment start.
			mid := want[n/2]
			checkRecords(t, replayAll(t, w, mid.pos)[:n-n/2], want[n/2:])
			var firstOf3 int
			for firstOf3 = 0; want[firstOf3].pos.Segment != 3; firstOf3++ {
			}
			checkRecords(t, replayAll(t, w, Position{Segment: 3})[:n-firstOf3], want[firstOf3:])
			// Stop early with an error from fn.
			stop := errors.New("stop")
			calls := 0
			if err := w.Replay(Position{}, func(Position, []byte) error { calls++; return stop }); err != stop || calls != 1 {
				t.Fatalf("Replay with failing fn: err %v after %d calls", err, calls)
			}
			st := w.Stats()
			if st.Appends != n+1 || st.Segments != len(segs) {
				t.Fatalf("stats %+v", st)
			}
			mustClose(t, w)
		})
	}
}

func TestReadAtBufferReuse(t *testing.T) {
	w := mustOpen(t, memOpts(t, NewMemFS()))
	defer mustClose(t, w)
	pos, err := w.AppendSync([]byte("0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 64)
	d, err := w.ReadAt(pos, buf)
	if err != nil || string(d) != "0123456789" {
		t.Fatalf("ReadAt = %q, %v", d, err)
	}
	if &d[0] != &buf[:1][0] {
		t.Fatal("ReadAt did not reuse a big enough buf")
	}
	small := make([]byte, 0, 12) // payload fits but the frame does not
	d, err = w.ReadAt(pos, small)
	if err != nil || string(d) != "0123456789" || &d[0] == &small[:1][0] {
		t.Fatalf("ReadAt with small buf = %q, %v", d, err)
	}
	for _, bad := range []Position{{}, {Segment: 1, Offset: 3, Length: 1}, {Segment: 1, Offset: 20}, {Segment: 1, Offset: 20, Length: -1}} {
		if _, err := w.ReadAt(bad, nil); !errors.Is(err, ErrInvalidPosition) {
			t.Errorf("ReadAt(%v) = %v, want ErrInvalidPosition", bad, err)
		}
	}
	if _, err := w.ReadAt(Position{Segment: 1, Offset: 20, Length: 4}, nil); asCorruption(t, err).Offset != 20 {
		t.Fatalf("wrong length: %v", err)
	}
	if _, err := w.ReadAt(Position{Segment: 1, Offset: pos.End(), Length: 4}, nil); !errors.Is(err, ErrNotDurable) {
		t.Fatalf("ReadAt past the end = %v, want ErrNotDurable", err)
	}
}

// blockingSync returns an injector that makes every fsync of a regular file
// wait until release is closed.
func blockingSync(release <-chan struct{}, entered chan<- struct{}) Injector {
	return func(op Op, _ string) error {
		if op == OpSync {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-release
		}
		return nil
	}
}

func TestNotDurableUntilSynced(t *testing.T) {
	efs := NewErrorFS(nil)
	w := mustOpen(t, memOpts(t, efs))
	release, entered := make(chan struct{}), make(chan struct{}, 1)
	efs.SetInjector(blockingSync(release, entered))
	done := make(chan error, 1)
	pos, err := w.Append([]byte("pending"), func(_ Position, err error) { done <- err })
	if err != nil {
		t.Fatal(err)
	}
	<-entered // flusher wrote the frame and is inside fsync
	if _, err := w.ReadAt(pos, nil); !errors.Is(err, ErrNotDurable) {
		t.Fatalf("ReadAt before fsync = %v, want ErrNotDurable", err)
	}
	if got := replayAll(t, w, Position{}); len(got) != 0 {
		t.Fatalf("Replay before fsync returned %d entries", len(got))
	}
	select {
	case err := <-done:
		t.Fatalf("done fired before fsync finished: %v", err)
	default:
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d, err := w.ReadAt(pos, nil); err != nil || string(d) != "pending" {
		t.Fatalf("ReadAt after fsync = %q, %v", d, err)
	}
	mustClose(t, w)
}

func TestGroupCommit(t *testing.T) {
	efs := NewErrorFS(nil)
	// Slow fsyncs (like a real disk) so appends pile up behind each one.
	efs.SetInjector(func(op Op, _ string) error {
		if op == OpSync {
			time.Sleep(2 * time.Millisecond)
		}
		return nil
	})
	opts := memOpts(t, efs)
	opts.SegmentSize = 64 << 10
	w := mustOpen(t, opts)
	const goroutines, per = 32, 40
	calls := make([]atomic.Int32, goroutines*per)
	var order sync.Mutex
	var lastDone Position
	var outOfOrder atomic.Bool
	var wg sync.WaitGroup
	positions := make([][]Position, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				idx := g*per + i
				ch := make(chan error, 1)
				pos, err := w.Append(entry(idx), func(p Position, err error) {
					calls[idx].Add(1)
					order.Lock()
					if p.Segment < lastDone.Segment || (p.Segment == lastDone.Segment && p.Offset <= lastDone.Offset) {
						outOfOrder.Store(true)
					}
					lastDone = p
					order.Unlock()
					ch <- err
				})
				if err != nil {
					t.Error(err)
					return
				}
				positions[g] = append(positions[g], pos)
				if err := <-ch; err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for i := range calls {
		if c := calls[i].Load(); c != 1 {
			t.Fatalf("done for entry %d called %d times", i, c)
		}
	}
	if outOfOrder.Load() {
		t.Fatal("done callbacks not in position order")
	}
	for g, ps := range positions {
		for i := 1; i < len(ps); i++ {
			if ps[i].Segment < ps[i-1].Segment || (ps[i].Segment == ps[i-1].Segment && ps[i].Offset <= ps[i-1].Offset) {
				t.Fatalf("goroutine %d: position %v after %v", g, ps[i], ps[i-1])
			}
		}
	}
	st := w.Stats()
	t.Logf("stats: %+v, appends per fsync %.1f", st, float64(st.Appends)/float64(st.Fsyncs))
	if st.Appends != goroutines*per {
		t.Fatalf("Appends = %d, want %d", st.Appends, goroutines*per)
	}
	if st.Fsyncs*4 > st.Appends {
		t.Fatalf("%d fsyncs for %d appends: group commit is not grouping", st.Fsyncs, st.Appends)
	}
	got := replayAll(t, w, Position{})
	if len(got) != goroutines*per {
		t.Fatalf("replayed %d entries", len(got))
	}
	mustClose(t, w)
}

func TestAppendErrors(t *testing.T) {
	w := mustOpen(t, memOpts(t, NewMemFS()))
	never := func(Position, error) { t.Error("done called for a rejected entry") }
	if _, err := w.Append(nil, never); !errors.Is(err, ErrEmptyEntry) {
		t.Fatalf("empty: %v", err)
	}
	if _, err := w.Append(make([]byte, MaxEntrySize+1), never); !errors.Is(err, ErrEntryTooLarge) {
		t.Fatalf("too large: %v", err)
	}
	if _, err := w.Append([]byte("x"), nil); err != nil { // nil done is allowed
		t.Fatal(err)
	}
	mustClose(t, w)
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := w.Append([]byte("x"), never); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if _, err := w.AppendSync([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("AppendSync after Close: %v", err)
	}
	if _, err := w.ReadAt(Position{Segment: 1, Offset: 20, Length: 1}, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("ReadAt after Close: %v", err)
	}
	if err := w.Replay(Position{}, func(Position, []byte) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Replay after Close: %v", err)
	}
}

func TestMaxEntrySizeRoundTrip(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("64 MiB entry: slow in -short and -race runs")
	}
	opts := memOpts(t, NewMemFS())
	opts.SegmentSize = 1 << 20
	w := mustOpen(t, opts)
	big := bytes.Repeat([]byte{0xAB}, MaxEntrySize)
	pos, err := w.AppendSync(big)
	if err != nil {
		t.Fatal(err)
	}
	pos2, err := w.AppendSync([]byte("after"))
	if err != nil {
		t.Fatal(err)
	}
	if pos2.Segment != pos.Segment+1 {
		t.Fatalf("entry after a huge one not in the next segment: %v then %v", pos, pos2)
	}
	mustClose(t, w)
	w = mustOpen(t, opts)
	defer mustClose(t, w)
	d, err := w.ReadAt(pos, nil)
	if err != nil || !bytes.Equal(d, big) {
		t.Fatalf("ReadAt huge: %v", err)
	}
}

func TestBackpressure(t *testing.T) {
	efs := NewErrorFS(nil)
	w := mustOpen(t, memOpts(t, efs))
	const limit, size, total = 64 << 10, 4 << 10, 40
	w.mu.Lock()
	w.maxPending = limit
	w.mu.Unlock()
	release, entered := make(chan struct{}), make(chan struct{}, 1)
	efs.SetInjector(blockingSync(release, entered))
	var accepted atomic.Int32
	var dones sync.WaitGroup
	finished := make(chan struct{})
	payload := make([]byte, size)
	go func() {
		defer close(finished)
		for range total {
			dones.Add(1)
			if _, err := w.Append(payload, func(_ Position, err error) {
				if err != nil {
					t.Error(err)
				}
				dones.Done()
			}); err != nil {
				t.Error(err)
				return
			}
			accepted.Add(1)
		}
	}()
	<-entered
	// One batch is being synced; the appender fills the next one up to the
	// limit and then blocks.
	frame := size + FrameHeaderSize
	pendingBytes := func() int {
		w.mu.Lock()
		defer w.mu.Unlock()
		return len(w.pending.buf)
	}
	deadline := time.Now().Add(10 * time.Second)
	for pendingBytes() <= limit-frame {
		if time.Now().After(deadline) {
			t.Fatalf("pending batch never filled: %d bytes", pendingBytes())
		}
		time.Sleep(time.Millisecond)
	}
	n1 := accepted.Load()
	time.Sleep(20 * time.Millisecond)
	if n2, p := accepted.Load(), pendingBytes(); n1 != n2 || n2 >= total || p > limit {
		t.Fatalf("appender not blocked while fsync is stuck: %d then %d entries accepted, %d bytes pending", n1, n2, p)
	}
	close(release)
	<-finished
	dones.Wait()
	if n := accepted.Load(); n != total {
		t.Fatalf("accepted %d", n)
	}
	mustClose(t, w)
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		want string // substring, "" for valid
	}{
		{Options{Dir: "/x"}, ""},
		{Options{Dir: "/x", SegmentSize: MinSegmentSize}, ""},
		{Options{}, "Options.Dir"},
		{Options{Dir: "/x", SegmentSize: -1}, "Options.SegmentSize"},
		{Options{Dir: "/x", SegmentSize: MinSegmentSize - 1}, "Options.SegmentSize"},
	} {
		err := tc.opts.Validate()
		if tc.want == "" {
			if err != nil {
				t.Errorf("%+v: unexpected error %v", tc.opts, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one naming %s", tc.opts, err, tc.want)
		}
		if _, oerr := Open(tc.opts); oerr == nil {
			t.Errorf("%+v: Open accepted invalid options", tc.opts)
		}
	}
}

func TestRemoveSegmentsBefore(t *testing.T) {
	fs := NewMemFS()
	opts := memOpts(t, fs)
	opts.SegmentSize = 1024
	w := mustOpen(t, opts)
	recs := appendN(t, w, 0, 200)
	segs := w.Segments()
	if len(segs) < 6 {
		t.Fatalf("segments %v", segs)
	}
	if err := w.RemoveSegmentsBefore(4); err != nil {
		t.Fatal(err)
	}
	if got := w.Segments(); got[0] != 4 || len(got) != len(segs)-3 {
		t.Fatalf("after removing before 4: %v", got)
	}
	if w.Stats().Segments != len(segs)-3 {
		t.Fatalf("stats %+v", w.Stats())
	}
	for s := uint64(1); s < 4; s++ {
		if _, err := fs.Open(segFile(testDir, s)); err == nil {
			t.Fatalf("segment %d still on disk", s)
		}
	}
	var kept []record
	for _, r := range recs {
		if r.pos.Segment < 4 {
			if _, err := w.ReadAt(r.pos, nil); !errors.Is(err, ErrSegmentNotFound) {
				t.Fatalf("ReadAt removed %v = %v", r.pos, err)
			}
		} else {
			kept = append(kept, r)
		}
	}
	checkRecords(t, replayAll(t, w, Position{}), kept)
	if err := w.Replay(recs[0].pos, func(Position, []byte) error { return nil }); !errors.Is(err, ErrSegmentNotFound) {
		t.Fatalf("Replay from removed segment = %v", err)
	}
	// The active segment is never removed.
	last := segs[len(segs)-1]
	if err := w.RemoveSegmentsBefore(last + 10); err != nil {
		t.Fatal(err)
	}
	if got := w.Segments(); len(got) != 1 || got[0] != last {
		t.Fatalf("after removing everything: %v", got)
	}
	more := appendN(t, w, 200, 50)
	mustClose(t, w)

	w = mustOpen(t, opts)
	defer mustClose(t, w)
	var want []record
	for _, r := range append(recs, more...) {
		if r.pos.Segment >= last {
			want = append(want, r)
		}
	}
	checkRecords(t, replayAll(t, w, Position{}), want)
}

func TestRemoveWhileReading(t *testing.T) {
	opts := memOpts(t, NewMemFS())
	opts.SegmentSize = 512
	w := mustOpen(t, opts)
	defer mustClose(t, w)
	recs := appendN(t, w, 0, 150)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r := recs[i%len(recs)]
				d, err := w.ReadAt(r.pos, buf)
				if err != nil {
					if !errors.Is(err, ErrSegmentNotFound) {
						t.Error(err)
						return
					}
					continue
				}
				if !bytes.Equal(d, r.data) {
					t.Errorf("ReadAt(%v) returned wrong data", r.pos)
					return
				}
				buf = d[:cap(d)]
			}
		}()
	}
	segs := w.Segments()
	for _, s := range segs {
		if err := w.RemoveSegmentsBefore(s); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Microsecond)
	}
	close(stop)
	wg.Wait()
}

func TestConcurrentReplayAndAppend(t *testing.T) {
	opts := memOpts(t, NewMemFS())
	opts.SegmentSize = 2048
	w := mustOpen(t, opts)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				if _, err := w.AppendSync(entry(g*1000 + i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			var prev Position
			err := w.Replay(Position{}, func(pos Position, data []byte) error {
				if prev != (Position{}) && pos.Segment == prev.Segment && pos.Offset != prev.End() {
					t.Errorf("replay gap: %v after %v", pos, prev)
				}
				prev = pos
				if !bytes.HasPrefix(data, []byte("entry-")) {
					t.Errorf("bad data at %v", pos)
				}
				return nil
			})
			if err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-readerDone
	if n := len(replayAll(t, w, Position{})); n != 800 {
		t.Fatalf("replayed %d, want 800", n)
	}
	mustClose(t, w)
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	opts := memOpts(t, NewMemFS())
	opts.Registerer = reg
	opts.SegmentSize = 1024
	w := mustOpen(t, opts)
	appendN(t, w, 0, 50)
	st := w.Stats()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		got[mf.GetName()] = mf
	}
	value := func(name string) float64 {
		mf := got[name]
		if mf == nil {
			t.Fatalf("metric %s missing (have %v)", name, got)
		}
		m := mf.GetMetric()[0]
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
		return -1
	}
	if v := value("strata_wal_appends_total"); v != 50 || st.Appends != 50 {
		t.Errorf("appends metric %v, stats %d", v, st.Appends)
	}
	if v := value("strata_wal_fsyncs_total"); v != float64(st.Fsyncs) || v < 50 {
		t.Errorf("fsyncs metric %v, stats %d", v, st.Fsyncs)
	}
	if v := value("strata_wal_fsync_duration_seconds"); v != float64(st.Fsyncs) {
		t.Errorf("fsync histogram count %v, want %d", v, st.Fsyncs)
	}
	if v := value("strata_wal_bytes_written_total"); v != float64(st.BytesWritten) || v == 0 {
		t.Errorf("bytes metric %v, stats %d", v, st.BytesWritten)
	}
	if v := value("strata_wal_segments"); v != float64(len(w.Segments())) || v < 2 {
		t.Errorf("segments gauge %v, segments %v", v, w.Segments())
	}
	value("strata_wal_torn_tail_truncations_total")
	value("strata_wal_flushes_total")
	// BytesWritten is exactly what is on disk.
	var onDisk uint64
	for _, s := range w.Segments() {
		onDisk += uint64(len(readFile(t, opts.FS, segFile(testDir, s))))
	}
	if onDisk != st.BytesWritten {
		t.Errorf("BytesWritten %d, files hold %d", st.BytesWritten, onDisk)
	}
	mustClose(t, w)
	// Close unregisters, so a new WAL can register again.
	w = mustOpen(t, opts)
	mustClose(t, w)
}
