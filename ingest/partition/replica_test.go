package partition

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-log/strata/ingest/batch"
	"github.com/strata-log/strata/ingest/quorum"
	"github.com/strata-log/strata/ingest/wal"
)

// leaderBatch builds a batch as a leader stores it: at base, in epoch, of
// n records, for producer pid at seq (pid -1: none).
func leaderBatch(t *testing.T, base int64, epoch int32, n int, pid int64, seq int32) []byte {
	t.Helper()
	recs := make([]kmsg.Record, n)
	for i := range recs {
		recs[i] = kmsg.Record{OffsetDelta: int32(i), Value: []byte{byte(i)}}
	}
	b, err := batch.Build(batch.Header{BaseOffset: base, PartitionLeaderEpoch: epoch, FirstTimestamp: time.Now().UnixMilli(),
		ProducerID: pid, BaseSequence: seq}, recs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// replicate appends batches as a follower and waits until they are durable.
func replicate(t *testing.T, l *Log, epoch int32, batches ...[]byte) (int64, error) {
	t.Helper()
	done := make(chan int64, 1)
	err := l.AppendReplica(epoch, batches, func(end int64, err error) {
		if err != nil {
			t.Error(err)
		}
		done <- end
	})
	if err != nil {
		return 0, err
	}
	select {
	case end := <-done:
		return end, nil
	case <-time.After(10 * time.Second):
		t.Fatal("replicated batches not durable")
		return 0, nil
	}
}

func TestFollowerAppendsTruncatesAndFences(t *testing.T) {
	fs := wal.NewMemFS()
	w := openWAL(t, fs)
	l := NewManager(w, nil, 7).Open(ID{Topic: testTopic})

	// The leader of epoch 1 sends offsets 0-5, of epoch 2 offsets 6-8.
	if end, err := replicate(t, l, 1, leaderBatch(t, 0, 1, 3, 9, 0), leaderBatch(t, 3, 1, 3, 9, 3)); err != nil || end != 6 {
		t.Fatalf("replicate epoch 1: end %d, %v", end, err)
	}
	if end, err := replicate(t, l, 2, leaderBatch(t, 6, 2, 3, -1, -1)); err != nil || end != 9 {
		t.Fatalf("replicate epoch 2: end %d, %v", end, err)
	}
	want := quorum.LogEnd{Epochs: []quorum.EpochStart{{Epoch: 1, Start: 0}, {Epoch: 2, Start: 6}}, End: 9}
	if got := l.LogEnd(); got.End != want.End || len(got.Epochs) != 2 || got.Epochs[1] != want.Epochs[1] {
		t.Fatalf("LogEnd %+v, want %+v", got, want)
	}
	// A gap, an overlap and an older epoch are refused.
	if _, err := replicate(t, l, 2, leaderBatch(t, 10, 2, 1, -1, -1)); !errors.Is(err, kerr.OffsetOutOfRange) {
		t.Fatalf("gap: %v", err)
	}
	if _, err := replicate(t, l, 2, leaderBatch(t, 8, 2, 1, -1, -1)); !errors.Is(err, kerr.OffsetOutOfRange) {
		t.Fatalf("overlap: %v", err)
	}
	if _, err := replicate(t, l, 1, leaderBatch(t, 9, 1, 1, -1, -1)); !errors.Is(err, kerr.FencedLeaderEpoch) {
		t.Fatalf("a deposed leader's append: %v", err)
	}

	// A new leader of epoch 4 fences, and its log agrees only up to 6: the
	// follower truncates its epoch-2 tail. The follower knows offsets
	// below 3 are acknowledged and refuses to truncate them.
	end, err := l.Fence(4)
	if err != nil || end.End != 9 {
		t.Fatalf("fence: %+v %v", end, err)
	}
	if _, err := l.Fence(3); !errors.Is(err, kerr.FencedLeaderEpoch) {
		t.Fatalf("older fence: %v", err)
	}
	leaderLog := quorum.LogEnd{Epochs: []quorum.EpochStart{{Epoch: 1, Start: 0}, {Epoch: 3, Start: 6}}, End: 7}
	l.SetHighWatermark(3)
	if err := l.TruncateTo(2); !errors.Is(err, kerr.OffsetOutOfRange) {
		t.Fatalf("truncation below the high watermark: %v", err)
	}
	point := quorum.TruncationPoint(leaderLog, l.LogEnd())
	if point != 6 {
		t.Fatalf("truncation point %d, want 6", point)
	}
	if err := l.TruncateTo(point); err != nil {
		t.Fatal(err)
	}
	if end, err := replicate(t, l, 4, leaderBatch(t, 6, 3, 1, -1, -1), leaderBatch(t, 7, 4, 2, 9, 6)); err != nil || end != 9 {
		t.Fatalf("replicate after truncation: end %d, %v", end, err)
	}
	if got := l.LogEnd(); quorum.TruncationPoint(got, l.LogEnd()) != 9 || got.LastEpoch() != 4 {
		t.Fatalf("LogEnd after catching up %+v", got)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	// A restart replays the fence and the truncation: the same log.
	w2 := openWAL(t, fs)
	defer w2.Close()
	m2 := NewManager(w2, nil, 7)
	if err := m2.Recover(func(ID) bool { return true }); err != nil {
		t.Fatal(err)
	}
	l2 := m2.Log(ID{Topic: testTopic})
	if got := l2.LogEnd(); got.End != 9 || got.LastEpoch() != 4 || got.EpochAt(6) != 3 {
		t.Fatalf("LogEnd after restart %+v", got)
	}
	if l2.mu.fence.Epoch != 4 {
		t.Fatalf("fence after restart %d, want 4", l2.mu.fence.Epoch)
	}
	if err := l2.BecomeLeader(3, []int32{7}, 1); !errors.Is(err, kerr.FencedLeaderEpoch) {
		t.Fatalf("leading an epoch below the fence: %v", err)
	}
	// Leading epoch 5: the producer's state came through the follower path
	// (its batch at 7-8 was seq 6-7), so its next sequence continues.
	if err := l2.BecomeLeader(5, []int32{7}, 1); err != nil {
		t.Fatal(err)
	}
	if p, err := appendWait(t, l2, 9, 0, 6, 2, nil); err != nil || !p.Duplicate || p.BaseOffset != 7 {
		t.Fatalf("retry of the replicated batch: %+v %v", p, err)
	}
	if p, err := appendWait(t, l2, 9, 0, 8, 1, nil); err != nil || p.BaseOffset != 9 {
		t.Fatalf("next batch: %+v %v", p, err)
	}
}

func TestFenceEndsLeadership(t *testing.T) {
	l := leader(t, NewManager(openWAL(t, wal.NewMemFS()), nil, 7))
	// Appends wait for a quorum of two that never comes: a follower that
	// is not there.
	if err := l.BecomeLeader(2, []int32{7, 8}, 2); err != nil {
		t.Fatal(err)
	}
	raw, h := makeBatch(-1, -1, -1, 1, nil)
	p, err := l.Append(raw, h, AppendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Fence(3); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
		if !errors.Is(p.Err(), kerr.NotLeaderForPartition) {
			t.Fatalf("waiting append after the fence: %v", p.Err())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a waiting append outlived its leadership")
	}
	raw, h = makeBatch(-1, -1, -1, 1, nil)
	if _, err := l.Append(raw, h, AppendOptions{}); !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Fatalf("append after the fence: %v", err)
	}
}

// TestReadAcknowledgedBeforeLocalSync: with replication, followers can
// acknowledge a batch before the leader's own fsync ends; a consumer then
// reads it from memory instead of getting a storage error.
func TestReadAcknowledgedBeforeLocalSync(t *testing.T) {
	efs := wal.NewErrorFS(wal.NewMemFS())
	w := openWAL(t, efs)
	defer w.Close()
	l := NewManager(w, nil, 7).Open(ID{Topic: testTopic})
	if err := l.BecomeLeader(1, []int32{7, 8, 9}, 2); err != nil {
		t.Fatal(err)
	}
	defer l.OnAppend(func() {})() // a follower is replicating
	release := make(chan struct{})
	efs.SetInjector(func(op wal.Op, _ string) error {
		if op == wal.OpSync {
			<-release // the local fsync hangs until the end of the test
		}
		return nil
	})
	defer close(release)
	raw, h := makeBatch(-1, -1, -1, 3, nil)
	p, err := l.Append(raw, h, AppendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l.ReplicaDurable(8, 3)
	l.ReplicaDurable(9, 3)
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("not acknowledged by two followers")
	}
	res, err := l.Read(ctx, 0, 1<<20, true)
	if err != nil || len(res.Batches) == 0 || res.HighWatermark != 3 {
		t.Fatalf("read of a batch acknowledged before the local fsync: %d bytes, %+v, %v", len(res.Batches), res.Offsets, err)
	}
}

// TestReadAboveHighWatermark checks that offsets between the high
// watermark and the log end read as empty, not out of range: a new leader's
// high watermark can be behind the one its predecessor showed consumers
// until its epoch's first entry is acknowledged, and a consumer there must
// wait rather than reset its position.
func TestReadAboveHighWatermark(t *testing.T) {
	l := NewManager(openWAL(t, wal.NewMemFS()), nil, 7).Open(ID{Topic: testTopic})
	if _, err := replicate(t, l, 1, leaderBatch(t, 0, 1, 3, -1, -1), leaderBatch(t, 3, 1, 6, -1, -1)); err != nil {
		t.Fatal(err)
	}
	l.SetHighWatermark(3)
	ctx := t.Context()
	for _, off := range []int64{3, 5, 9} {
		res, err := l.Read(ctx, off, 1<<20, true)
		if err != nil || len(res.Batches) != 0 || res.HighWatermark != 3 || res.LogEnd != 9 {
			t.Fatalf("Read(%d) = %d bytes, %+v, %v; want nothing, high watermark 3, log end 9", off, len(res.Batches), res.Offsets, err)
		}
	}
	if res, err := l.Read(ctx, 0, 1<<20, true); err != nil || len(res.Batches) == 0 {
		t.Fatalf("Read(0) = %d bytes, %v", len(res.Batches), err)
	}
	if _, err := l.Read(ctx, 10, 1<<20, true); !errors.Is(err, kerr.OffsetOutOfRange) {
		t.Fatalf("Read past the log end: %v, want OFFSET_OUT_OF_RANGE", err)
	}
}
