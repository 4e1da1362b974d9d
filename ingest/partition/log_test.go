package partition

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-log/strata/ingest/batch"
	"github.com/strata-log/strata/ingest/wal"
)

var (
	testTopic = [16]byte{1, 2, 3}
	ctx       = context.Background()
)

func openWAL(t *testing.T, fs wal.FS) *wal.WAL {
	t.Helper()
	w, err := wal.Open(wal.Options{Dir: "wal", FS: fs, SegmentSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// leader returns a Log that leads partition 0 with epoch 1.
func leader(t *testing.T, m *Manager) *Log {
	t.Helper()
	l := m.Open(ID{Topic: testTopic})
	if err := l.BecomeLeader(1, []int32{7}, 1); err != nil {
		t.Fatal(err)
	}
	return l
}

// makeBatch builds a valid v2 batch of n records with the given timestamps
// (one per record; nil means now) for producer pid at seq.
func makeBatch(pid int64, epoch int16, seq int32, n int, ts []int64) ([]byte, batch.Header) {
	first := time.Now().UnixMilli()
	if ts != nil {
		first = ts[0]
	}
	recs := make([]kmsg.Record, n)
	for i := range recs {
		recs[i] = kmsg.Record{OffsetDelta: int32(i), Value: []byte{byte(i)}}
		if ts != nil {
			recs[i].TimestampDelta64 = ts[i] - first
		}
	}
	raw, err := batch.Build(batch.Header{FirstTimestamp: first, ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq}, recs)
	if err != nil {
		panic(err)
	}
	h, err := batch.Parse(raw)
	if err != nil {
		panic(err)
	}
	return raw, h
}

func appendWait(t *testing.T, l *Log, pid int64, epoch int16, seq int32, n int, ts []int64) (*Pending, error) {
	t.Helper()
	raw, h := makeBatch(pid, epoch, seq, n, ts)
	p, err := l.Append(raw, h, AppendOptions{})
	if err != nil {
		return nil, err
	}
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("append not acknowledged")
	}
	return p, p.Err()
}

func TestAppendReadAcrossSegments(t *testing.T) {
	w := openWAL(t, wal.NewMemFS())
	defer w.Close()
	m := NewManager(w, nil, 7)
	l := leader(t, m)
	var want int64
	for i := range 100 {
		p, err := appendWait(t, l, -1, -1, -1, 1+i%4, nil)
		if err != nil {
			t.Fatal(err)
		}
		if p.BaseOffset != want {
			t.Fatalf("batch %d at offset %d, want %d", i, p.BaseOffset, want)
		}
		want += int64(1 + i%4)
	}
	if o := l.Offsets(); o.HighWatermark != want || o.LogEnd != want || o.LogStart != 0 {
		t.Fatalf("offsets %+v, want hw %d", o, want)
	}
	if len(w.Segments()) < 2 {
		t.Fatalf("expected several WAL segments, got %v", w.Segments())
	}
	// Every offset is readable, starting mid-batch, and batches come back
	// whole and in order.
	for off := int64(0); off < want; off++ {
		res, err := l.Read(ctx, off, 1, true)
		if err != nil {
			t.Fatalf("read %d: %v", off, err)
		}
		h, err := batch.ReadHeader(res.Batches)
		if err != nil {
			t.Fatal(err)
		}
		if h.BaseOffset > off || h.LastOffset() < off || h.PartitionLeaderEpoch != 1 {
			t.Fatalf("read %d returned batch [%d, %d] epoch %d", off, h.BaseOffset, h.LastOffset(), h.PartitionLeaderEpoch)
		}
		if h.Size() != len(res.Batches) {
			t.Fatalf("read %d with 1 byte limit returned %d bytes, want one batch of %d", off, len(res.Batches), h.Size())
		}
	}
	all, err := l.Read(ctx, 0, 1<<20, false)
	if err != nil {
		t.Fatal(err)
	}
	next, b := int64(0), all.Batches
	for len(b) > 0 {
		hdr := mustHeader(t, b)
		h, err := batch.Parse(b[:hdr.Size()])
		if err != nil {
			t.Fatalf("stored batch invalid: %v", err)
		}
		if h.BaseOffset != next {
			t.Fatalf("batch at %d, want %d", h.BaseOffset, next)
		}
		next = h.LastOffset() + 1
		b = b[h.Size():]
	}
	if next != want {
		t.Fatalf("read everything up to %d, want %d", next, want)
	}
	if res, err := l.Read(ctx, want, 100, true); err != nil || len(res.Batches) != 0 {
		t.Fatalf("read at the high watermark: %d bytes, %v", len(res.Batches), err)
	}
	if _, err := l.Read(ctx, want+1, 100, true); !errors.Is(err, kerr.OffsetOutOfRange) {
		t.Fatalf("read past the end: %v", err)
	}
}

func mustHeader(t *testing.T, b []byte) batch.Header {
	h, err := batch.ReadHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestNotLeaderRefusesAppends(t *testing.T) {
	w := openWAL(t, wal.NewMemFS())
	defer w.Close()
	l := NewManager(w, nil, 7).Open(ID{Topic: testTopic})
	raw, h := makeBatch(-1, -1, -1, 1, nil)
	if _, err := l.Append(raw, h, AppendOptions{}); !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Fatalf("append before BecomeLeader: %v", err)
	}
	if err := l.BecomeLeader(3, []int32{7}, 1); err != nil {
		t.Fatal(err)
	}
	if err := l.BecomeLeader(2, []int32{7}, 1); err == nil {
		t.Fatal("went back to an older epoch")
	}
}

func TestProducerSequences(t *testing.T) {
	w := openWAL(t, wal.NewMemFS())
	defer w.Close()
	l := leader(t, NewManager(w, nil, 7))
	const pid = 42
	for _, step := range []struct {
		epoch     int16
		seq       int32
		n         int
		wantErr   error
		wantBase  int64
		duplicate bool
	}{
		{0, 1, 1, kerr.OutOfOrderSequenceNumber, 0, false}, // must start at 0
		{0, 0, 3, nil, 0, false},
		{0, 3, 2, nil, 3, false},
		{0, 0, 3, nil, 0, true}, // retry of the first batch
		{0, 3, 2, nil, 3, true}, // retry of the second
		{0, 6, 1, kerr.OutOfOrderSequenceNumber, 0, false},
		{0, 5, 1, nil, 5, false},
		{1, 3, 1, kerr.OutOfOrderSequenceNumber, 0, false}, // new epoch restarts at 0
		{1, 0, 1, nil, 6, false},
		{0, 6, 1, kerr.InvalidProducerEpoch, 0, false}, // fenced
	} {
		p, err := appendWait(t, l, pid, step.epoch, step.seq, step.n, nil)
		if !errors.Is(err, step.wantErr) {
			t.Fatalf("epoch %d seq %d: err %v, want %v", step.epoch, step.seq, err, step.wantErr)
		}
		if err != nil {
			continue
		}
		if p.BaseOffset != step.wantBase || p.Duplicate != step.duplicate {
			t.Fatalf("epoch %d seq %d: base %d duplicate %v, want %d %v", step.epoch, step.seq, p.BaseOffset, p.Duplicate, step.wantBase, step.duplicate)
		}
	}
	if hw := l.Offsets().HighWatermark; hw != 7 {
		t.Fatalf("high watermark %d, want 7", hw)
	}
}

func TestRecoveryRebuildsEverything(t *testing.T) {
	fs := wal.NewMemFS()
	w := openWAL(t, fs)
	m := NewManager(w, nil, 7)
	l := leader(t, m)
	other := m.Open(ID{Topic: testTopic, Partition: 1})
	if err := other.BecomeLeader(1, []int32{7}, 1); err != nil {
		t.Fatal(err)
	}
	base := int64(1_700_000_000_000)
	for i := range 20 {
		ts := []int64{base + int64(i)*1000, base + int64(i)*1000 + 500}
		if _, err := appendWait(t, l, 9, 0, int32(i*2), 2, ts); err != nil {
			t.Fatal(err)
		}
		if _, err := appendWait(t, other, -1, -1, -1, 1, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.DeleteRecords(5); err != nil {
		t.Fatal(err)
	}
	before := l.Offsets()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	w2 := openWAL(t, fs)
	defer w2.Close()
	m2 := NewManager(w2, nil, 7)
	if err := m2.Recover(func(id ID) bool { return id.Partition == 0 }); err != nil {
		t.Fatal(err)
	}
	if m2.Log(ID{Topic: testTopic, Partition: 1}) != nil {
		t.Fatal("recovered a partition that keep refused")
	}
	l2 := m2.Log(ID{Topic: testTopic})
	if err := l2.BecomeLeader(2, []int32{7}, 1); err != nil {
		t.Fatal(err)
	}
	if got := l2.Offsets(); got != before {
		t.Fatalf("offsets after recovery %+v, want %+v", got, before)
	}
	// Producer state: a retry of the last batch is still a duplicate, and
	// the next sequence continues.
	if p, err := appendWait(t, l2, 9, 0, 38, 2, nil); err != nil || !p.Duplicate || p.BaseOffset != 38 {
		t.Fatalf("retry after recovery: %+v %v", p, err)
	}
	if p, err := appendWait(t, l2, 9, 0, 40, 1, nil); err != nil || p.BaseOffset != 40 {
		t.Fatalf("next after recovery: %+v %v", p, err)
	}
	// Epoch history: epoch 1 ended where epoch 2 began.
	if e, end := l2.EndOffsetForEpoch(1); e != 1 || end != 40 {
		t.Fatalf("end of epoch 1: %d %d, want 1 40", e, end)
	}
	if e, end := l2.EndOffsetForEpoch(2); e != 2 || end != 41 {
		t.Fatalf("end of epoch 2: %d %d, want 2 41", e, end)
	}
	if e, end := l2.EndOffsetForEpoch(0); e != -1 || end != -1 {
		t.Fatalf("unknown epoch 0: %d %d", e, end)
	}
	// Timestamps: the index answers by time after recovery.
	off, ts, err := l2.OffsetForTimestamp(ctx, base+3600)
	if err != nil || off != 8 || ts != base+4000 {
		t.Fatalf("offset for timestamp: %d %d %v, want 8 %d", off, ts, err, base+4000)
	}
	off, ts, err = l2.MaxTimestamp(ctx)
	if err != nil || ts < base+19500 {
		t.Fatalf("max timestamp: %d %d %v", off, ts, err)
	}
	if _, err := l2.Read(ctx, 4, 100, true); !errors.Is(err, kerr.OffsetOutOfRange) {
		t.Fatalf("read below the log start after recovery: %v", err)
	}
}

func TestWALFailureFailsAppends(t *testing.T) {
	efs := wal.NewErrorFS(wal.NewMemFS())
	w := openWAL(t, efs)
	defer w.Close()
	l := leader(t, NewManager(w, nil, 7))
	if _, err := appendWait(t, l, -1, -1, -1, 1, nil); err != nil {
		t.Fatal(err)
	}
	efs.SetInjector(wal.FailOn(wal.OpSync, errors.New("disk on fire")))
	if _, err := appendWait(t, l, -1, -1, -1, 1, nil); !errors.Is(err, kerr.KafkaStorageError) {
		t.Fatalf("append after fsync failure: %v, want KAFKA_STORAGE_ERROR", err)
	}
	if hw := l.Offsets().HighWatermark; hw != 1 {
		t.Fatalf("high watermark moved to %d past a failed fsync", hw)
	}
	if _, err := appendWait(t, l, -1, -1, -1, 1, nil); err == nil {
		t.Fatal("append accepted after the WAL failed")
	}
}

func TestChangedWakesOnAppend(t *testing.T) {
	w := openWAL(t, wal.NewMemFS())
	defer w.Close()
	l := leader(t, NewManager(w, nil, 7))
	ch := l.Changed()
	select {
	case <-ch:
		t.Fatal("changed before any append")
	default:
	}
	if _, err := appendWait(t, l, -1, -1, -1, 1, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	case <-time.After(time.Second):
		t.Fatal("Changed not closed after the high watermark moved")
	}
}
