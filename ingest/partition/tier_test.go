package partition

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/strata-log/strata/ingest/batch"
	"github.com/strata-log/strata/ingest/wal"
)

// memCold is a Cold store holding copies of uploaded batches.
type memCold struct {
	mu      sync.Mutex
	batches map[ID][][]byte
	reads   int
}

func (c *memCold) upload(id ID, bs [][]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.batches == nil {
		c.batches = map[ID][][]byte{}
	}
	for _, b := range bs {
		c.batches[id] = append(c.batches[id], bytes.Clone(b))
	}
}

func (c *memCold) Read(_ context.Context, id ID, offset int64, maxBytes int, minOne bool) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads++
	var out []byte
	for _, b := range c.batches[id] {
		h, _ := batch.ReadHeader(b)
		if h.LastOffset() < offset {
			continue
		}
		if len(out)+len(b) > maxBytes && !(minOne && len(out) == 0) {
			break
		}
		out = append(out, b...)
	}
	return out, nil
}

func (c *memCold) OffsetForTimestamp(context.Context, ID, int64, int64) (int64, int64, error) {
	return -1, -1, ErrNoOffset
}

func (c *memCold) MaxTimestamp(context.Context, ID, int64) (int64, int64, error) {
	return -1, -1, ErrNoOffset
}

// readOffsets reads the log from offset 0 in small reads and returns the
// base offset of every batch, failing on a gap.
func readOffsets(t *testing.T, l *Log) []int64 {
	t.Helper()
	var bases []int64
	next := int64(0)
	for {
		res, err := l.Read(ctx, next, 1, true)
		if err != nil {
			t.Fatalf("read %d: %v", next, err)
		}
		if len(res.Batches) == 0 {
			return bases
		}
		h, err := batch.ReadHeader(res.Batches)
		if err != nil || h.BaseOffset != next {
			t.Fatalf("read %d: batch at %d (%v)", next, h.BaseOffset, err)
		}
		bases = append(bases, h.BaseOffset)
		next = h.LastOffset() + 1
	}
}

func TestTieringReleasesWALAndReadsCold(t *testing.T) {
	fs := wal.NewMemFS()
	w := openWAL(t, fs)
	cold := &memCold{}
	m := NewManager(w, cold, 7)
	l := leader(t, m)
	var sizes []int64
	for range 60 {
		raw, _ := makeBatch(-1, -1, -1, 2, nil)
		sizes = append(sizes, int64(len(raw)))
		if _, err := appendWait(t, l, -1, -1, -1, 2, nil); err != nil {
			t.Fatal(err)
		}
	}
	st := l.TierStatus()
	var total int64
	for _, s := range sizes {
		total += s
	}
	if st.Tiered != 0 || st.UntieredBytes != total || st.Oldest.IsZero() || st.HighWatermark != 120 {
		t.Fatalf("status %+v, want %d untiered bytes", st, total)
	}

	// Tier the first 40 batches in two pieces, as the tiering loop does.
	active := m.ActiveSegment()
	var end int64
	for end < 80 {
		bs, e, err := l.ReadUntiered(int64(20 * sizes[0]))
		if err != nil || len(bs) == 0 {
			t.Fatalf("ReadUntiered: %d batches, %v", len(bs), err)
		}
		if len(bs) != 20 || e != end+40 {
			t.Fatalf("ReadUntiered from %d: %d batches to %d, want 20 to %d", end, len(bs), e, end+40)
		}
		cold.upload(l.ID(), bs)
		l.SetTiered(e, 0)
		end = e
	}
	if st := l.TierStatus(); st.Tiered != 80 || st.UntieredBytes != total-total*2/3 {
		t.Fatalf("after tiering 80 offsets: %+v", st)
	}
	before := len(w.Segments())
	first, err := m.ReleaseWAL(active)
	if err != nil {
		t.Fatal(err)
	}
	if after := len(w.Segments()); after >= before || w.Segments()[0] != first {
		t.Fatalf("segments %d -> %v, first kept %d", before, w.Segments(), first)
	}
	// One gapless log across the tiers, cold below the WAL's first batch.
	bases := readOffsets(t, l)
	if len(bases) != 60 || bases[59] != 118 {
		t.Fatalf("read %d batches, last at %v", len(bases), bases[len(bases)-1])
	}
	if cold.reads == 0 {
		t.Fatal("no cold reads after the WAL was released")
	}
	// Untiered data is never released, whatever the limit.
	if _, err := m.ReleaseWAL(^uint64(0)); err != nil {
		t.Fatal(err)
	}
	if got := readOffsets(t, l); len(got) != 60 {
		t.Fatalf("read %d batches after a release with no limit", len(got))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	// Restart: the manifest says 80 offsets are tiered; replay skips them
	// and the log reads the same.
	w2 := openWAL(t, fs)
	defer w2.Close()
	m2 := NewManager(w2, cold, 7)
	m2.Restore(map[ID]Tiered{l.ID(): {End: 80}})
	if err := m2.Recover(func(ID) bool { return true }); err != nil {
		t.Fatal(err)
	}
	l2 := m2.Log(l.ID())
	if err := l2.BecomeLeader(2, []int32{7}, 1); err != nil {
		t.Fatal(err)
	}
	if o := l2.Offsets(); o.LogStart != 0 || o.HighWatermark != 120 {
		t.Fatalf("offsets after recovery %+v", o)
	}
	if st := l2.TierStatus(); st.Tiered != 80 || st.UntieredBytes != total-total*2/3 {
		t.Fatalf("status after recovery %+v", st)
	}
	if got := readOffsets(t, l2); len(got) != 60 {
		t.Fatalf("read %d batches after recovery", len(got))
	}

	// A broker whose WAL is gone (a new machine) serves everything cold
	// that was tiered, and continues the log at the tiered end.
	m3 := NewManager(openWAL(t, wal.NewMemFS()), cold, 7)
	m3.Restore(map[ID]Tiered{l.ID(): {End: 80, LogStart: 10}})
	l3 := m3.Open(l.ID())
	if err := l3.BecomeLeader(3, []int32{7}, 1); err != nil {
		t.Fatal(err)
	}
	if o := l3.Offsets(); o.LogStart != 10 || o.HighWatermark != 80 {
		t.Fatalf("offsets on an empty WAL %+v", o)
	}
	if p, err := appendWait(t, l3, -1, -1, -1, 1, nil); err != nil || p.BaseOffset != 80 {
		t.Fatalf("append on an empty WAL: %+v %v", p, err)
	}
	if _, err := l3.Read(ctx, 5, 100, true); !errors.Is(err, kerr.OffsetOutOfRange) {
		t.Fatalf("read below the restored log start: %v", err)
	}
	if res, err := l3.Read(ctx, 10, 1<<20, true); err != nil || len(res.Batches) == 0 {
		t.Fatalf("cold read: %v", err)
	}
}

func TestTieredReadWithoutColdStore(t *testing.T) {
	m := NewManager(openWAL(t, wal.NewMemFS()), nil, 7)
	m.Restore(map[ID]Tiered{{Topic: testTopic}: {End: 50}})
	l := leader(t, m)
	if _, err := l.Read(ctx, 0, 100, true); !errors.Is(err, kerr.KafkaStorageError) {
		t.Fatalf("read of tiered data with no cold store: %v, want KAFKA_STORAGE_ERROR", err)
	}
}

func TestReplayRefusesABatchStraddlingTheTieredEnd(t *testing.T) {
	fs := wal.NewMemFS()
	w := openWAL(t, fs)
	l := leader(t, NewManager(w, nil, 7))
	for range 3 {
		if _, err := appendWait(t, l, -1, -1, -1, 4, nil); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	w2 := openWAL(t, fs)
	defer w2.Close()
	m := NewManager(w2, nil, 7)
	m.Restore(map[ID]Tiered{l.ID(): {End: 6}}) // inside the second batch
	if err := m.Recover(func(ID) bool { return true }); err == nil {
		t.Fatal("recovery accepted a tiered end inside a batch")
	}
}

func TestProducerStateSurvivesReleasedWAL(t *testing.T) {
	fs := wal.NewMemFS()
	w := openWAL(t, fs)
	cold := &memCold{}
	m := NewManager(w, cold, 7)
	l := leader(t, m)
	for i := range 30 {
		if _, err := appendWait(t, l, 9, 0, int32(2*i), 2, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Enough other writes that the producer's batches are all in older
	// WAL segments.
	for range 100 {
		if _, err := appendWait(t, l, -1, -1, -1, 1, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Everything is tiered and the WAL released, as the tiering loop does;
	// the manifest keeps the producer's state.
	active := m.ActiveSegment()
	bs, end, err := l.ReadUntiered(1 << 20)
	if err != nil || end != 160 {
		t.Fatalf("ReadUntiered: end %d, %v", end, err)
	}
	cold.upload(l.ID(), bs)
	l.SetTiered(end, 0)
	producers := l.Producers(end, 0)
	if len(producers) != 1 || producers[0].ID != 9 || len(producers[0].Batches) != producerWindow || producers[0].Batches[4].Last != 59 {
		t.Fatalf("producers %+v", producers)
	}
	if got := l.Producers(end, time.Now().Add(time.Hour).UnixMilli()); len(got) != 0 {
		t.Fatalf("an idle producer was kept past its expiry: %+v", got)
	}
	if _, err := m.ReleaseWAL(active); err != nil {
		t.Fatal(err)
	}
	w.Close()

	for _, withState := range []bool{false, true} {
		w2 := openWAL(t, fs)
		m2 := NewManager(w2, cold, 7)
		tiered := Tiered{End: end}
		if withState {
			tiered.Producers = producers
		}
		m2.Restore(map[ID]Tiered{l.ID(): tiered})
		if err := m2.Recover(func(ID) bool { return true }); err != nil {
			t.Fatal(err)
		}
		l2 := m2.Log(l.ID())
		if err := l2.BecomeLeader(2, []int32{7}, 1); err != nil {
			t.Fatal(err)
		}
		if !withState {
			// Without the manifest's state the producer would be refused:
			// this is what the state is for.
			if _, err := appendWait(t, l2, 9, 0, 60, 1, nil); !errors.Is(err, kerr.OutOfOrderSequenceNumber) {
				t.Fatalf("append without producer state: %v", err)
			}
			w2.Close()
			continue
		}
		// Retries of the last batches are recognised; the next one goes on.
		for _, retry := range []int32{52, 58} {
			if p, err := appendWait(t, l2, 9, 0, retry, 2, nil); err != nil || !p.Duplicate || p.BaseOffset != int64(retry) {
				t.Fatalf("retry of seq %d after restart: %+v %v", retry, p, err)
			}
		}
		if p, err := appendWait(t, l2, 9, 0, 60, 1, nil); err != nil || p.Duplicate || p.BaseOffset != 160 {
			t.Fatalf("next batch after restart: %+v %v", p, err)
		}
		w2.Close()
	}
}
