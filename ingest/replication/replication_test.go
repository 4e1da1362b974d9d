package replication

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-log/strata/ingest/batch"
	"github.com/strata-log/strata/ingest/partition"
	"github.com/strata-log/strata/ingest/wal"
)

var testID = partition.ID{Topic: [16]byte{7}, Partition: 0}

type broker struct {
	id  int32
	w   *wal.WAL
	m   *partition.Manager
	srv *Server
}

func newBroker(t *testing.T, id int32, addr string) *broker {
	t.Helper()
	w, err := wal.Open(wal.Options{Dir: "wal", FS: wal.NewMemFS(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	b := &broker{id: id, w: w, m: partition.NewManager(w, nil, id)}
	b.m.Open(testID)
	t.Cleanup(func() { w.Close() })
	b.listen(t, addr)
	return b
}

// listen starts (or restarts) the broker's replication server on addr
// ("" picks a port).
func (b *broker) listen(t *testing.T, addr string) {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	var err error
	for range 50 { // the old listener's port may take a moment to free
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	b.srv = NewServer(ln, b.id, b.m, slog.New(slog.DiscardHandler))
	go b.srv.Serve()
	srv := b.srv
	t.Cleanup(func() { srv.Close() })
}

func (b *broker) log() *partition.Log { return b.m.Log(testID) }

// produce appends a batch of n records on the leader and returns it.
func produce(t *testing.T, l *partition.Log, n int) *partition.Pending {
	t.Helper()
	recs := make([]kmsg.Record, n)
	for i := range recs {
		recs[i] = kmsg.Record{OffsetDelta: int32(i), Value: bytes.Repeat([]byte{byte(i)}, 100)}
	}
	raw, err := batch.Build(batch.Header{FirstTimestamp: time.Now().UnixMilli(), ProducerID: -1, BaseSequence: -1}, recs)
	if err != nil {
		t.Fatal(err)
	}
	h, err := batch.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	p, err := l.Append(raw, h, partition.AppendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func acked(p *partition.Pending, within time.Duration) bool {
	select {
	case <-p.Done():
		return p.Err() == nil
	case <-time.After(within):
		return false
	}
}

// sameLog checks that the follower's log holds the leader's batches,
// byte for byte, up to end.
func sameLog(t *testing.T, leader, follower *partition.Log, end int64) {
	t.Helper()
	// ReadReplica returns what it can read now: batches a log has not
	// synced yet come later.
	deadline := time.Now().Add(10 * time.Second)
	for {
		want, _, err := leader.ReadReplica(0, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := follower.ReadReplica(0, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		if follower.LogEnd().End >= end && len(got) >= len(want) {
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("batch %d differs", i)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("follower at %+v with %d readable batches, want end %d and the leader's %d batches (%+v)",
				follower.LogEnd(), len(got), end, len(want), leader.LogEnd())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestReplicateToAQuorum(t *testing.T) {
	leader := newBroker(t, 1, "")
	f2, f3 := newBroker(t, 2, ""), newBroker(t, 3, "")
	l := leader.log()
	if _, err := l.Fence(1); err != nil {
		t.Fatal(err)
	}
	if err := l.BecomeLeader(1, []int32{1, 2, 3}, 2); err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	for _, f := range []*broker{f2, f3} {
		addr := f.srv.Addr().String()
		p := NewPeer(1, f.id, func() (string, error) { return addr, nil }, 0, quiet)
		p.Track(l, 1)
		t.Cleanup(p.Close)
	}

	// With both followers, appends are acknowledged and copied exactly.
	for range 20 {
		if p := produce(t, l, 5); !acked(p, 10*time.Second) {
			t.Fatalf("append not acknowledged with all replicas up: %v", p.Err())
		}
	}
	sameLog(t, l, f2.log(), 100)
	sameLog(t, l, f3.log(), 100)
	if hw := f2.log().Offsets().HighWatermark; hw == 0 {
		t.Fatal("the follower never learned the high watermark")
	}

	// One follower down: a quorum of two still acknowledges.
	f3addr := f3.srv.Addr().String()
	f3.srv.Close()
	if p := produce(t, l, 5); !acked(p, 10*time.Second) {
		t.Fatal("append not acknowledged with one follower down")
	}
	// Both down: nothing is acknowledged.
	f2addr := f2.srv.Addr().String()
	f2.srv.Close()
	waiting := produce(t, l, 5)
	if acked(waiting, 500*time.Millisecond) {
		t.Fatal("append acknowledged by the leader alone")
	}
	if hw := l.Offsets().HighWatermark; hw != 105 {
		t.Fatalf("high watermark %d with no quorum, want 105", hw)
	}
	// A follower comes back: it catches up and the append completes.
	f2.listen(t, f2addr)
	if !acked(waiting, 10*time.Second) {
		t.Fatal("append not acknowledged after a follower came back")
	}
	f3.listen(t, f3addr)
	sameLog(t, l, f3.log(), 110)
}

func TestDivergentFollowerIsTruncated(t *testing.T) {
	leader := newBroker(t, 1, "")
	f := newBroker(t, 2, "")
	fl := f.log()
	// The follower holds an epoch-1 tail the new leader (epoch 2) never
	// had: offsets 0-2 agree, 3-5 do not.
	l := leader.log()
	mk := func(base int64, epoch int32, n int, fill byte) []byte {
		recs := make([]kmsg.Record, n)
		for i := range recs {
			recs[i] = kmsg.Record{OffsetDelta: int32(i), Value: []byte{fill}}
		}
		b, err := batch.Build(batch.Header{BaseOffset: base, PartitionLeaderEpoch: epoch, FirstTimestamp: 1, ProducerID: -1, BaseSequence: -1}, recs)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	common := mk(0, 1, 3, 'a')
	done := make(chan error, 2)
	if err := fl.AppendReplica(1, [][]byte{common, mk(3, 1, 3, 'x')}, func(_ int64, err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	if err := l.AppendReplica(1, [][]byte{common}, func(_ int64, err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Fence(2); err != nil {
		t.Fatal(err)
	}
	if err := l.BecomeLeader(2, []int32{1, 2}, 2); err != nil {
		t.Fatal(err)
	}
	addr := f.srv.Addr().String()
	p := NewPeer(1, 2, func() (string, error) { return addr, nil }, 0, slog.New(slog.DiscardHandler))
	p.Track(l, 2)
	t.Cleanup(p.Close)
	pend := produce(t, l, 4) // offsets 3-6 in epoch 2
	if !acked(pend, 10*time.Second) {
		t.Fatalf("append not acknowledged: %v", pend.Err())
	}
	sameLog(t, l, fl, 7)
	if got := fl.LogEnd(); got.EpochAt(3) != 2 || got.End != 7 {
		t.Fatalf("follower log after truncation %+v", got)
	}
	// The old leader of epoch 1, waking up, is fenced by the follower.
	if err := fl.AppendReplica(1, [][]byte{mk(7, 1, 1, 'z')}, nil); err == nil {
		t.Fatal("a deposed leader's append was accepted")
	}
}

func TestFrameRoundTripAndErrors(t *testing.T) {
	f := &frame{Type: frameAppend, Key: partitionKey{Topic: [16]byte{1}, Partition: 3}, Epoch: 4, HW: 99, Batches: [][]byte{{1, 2}, {3}}}
	raw := appendFrame(nil, f)
	got, _, err := readFrame(bytes.NewReader(raw), nil)
	if err != nil || got.Epoch != 4 || got.HW != 99 || len(got.Batches) != 2 || !bytes.Equal(got.Batches[1], []byte{3}) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	for _, bad := range [][]byte{
		{0, 0, 0, 0},                            // empty
		{0, 0, 0, 1, 99},                        // unknown type
		{0, 0, 0, 2, 3, 1},                      // truncated ack
		{0, 0, 0, 6, frameHello, 0, 0, 0, 1, 7}, // a trailing byte
		{0, 0, 0, 9, frameAppend, 0, 0, 0, 0},   // shorter than its length
		{0xff, 0, 0, 0, frameHello},             // over the size limit
	} {
		if _, _, err := readFrame(bytes.NewReader(bad), nil); !errors.Is(err, ErrFrame) {
			t.Errorf("frame %x: %v, want ErrFrame", bad, err)
		}
	}
}

func FuzzDecodeFrame(f *testing.F) {
	f.Add(appendFrame(nil, &frame{Type: frameAppend, Batches: [][]byte{{1}}})[4:])
	f.Add(appendFrame(nil, &frame{Type: frameReject, Code: 2})[4:])
	f.Fuzz(func(t *testing.T, body []byte) {
		fr, err := decodeFrame(body)
		if err != nil {
			return
		}
		again, err := decodeFrame(appendFrame(nil, fr)[4:])
		if err != nil || again.Type != fr.Type || len(again.Batches) != len(fr.Batches) {
			t.Fatalf("re-encoding %+v: %+v %v", fr, again, err)
		}
	})
}

// peersOf connects broker b to the others.
func peersOf(t *testing.T, b *broker, others ...*broker) map[int32]*Peer {
	t.Helper()
	out := map[int32]*Peer{}
	for _, o := range others {
		addr := o.srv.Addr().String()
		p := NewPeer(b.id, o.id, func() (string, error) { return addr, nil }, 0, slog.New(slog.DiscardHandler))
		t.Cleanup(p.Close)
		out[o.id] = p
	}
	return out
}

// lead runs Recover and Lead for b in epoch and waits until the epoch's
// first entry is acknowledged; it fails if b's log is not the source.
func lead(t *testing.T, b *broker, epoch int32, peers map[int32]*Peer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	src, logs, err := Recover(ctx, b.log(), epoch, b.id, []int32{1, 2, 3}, peers)
	if err != nil {
		t.Fatal(err)
	}
	if src != b.id {
		t.Fatalf("broker %d recovering epoch %d: source is %d (logs %+v)", b.id, epoch, src, logs)
	}
	p, err := Lead(b.log(), epoch, b.id, []int32{1, 2, 3}, peers)
	if err != nil {
		t.Fatal(err)
	}
	if !acked(p, 10*time.Second) {
		t.Fatalf("broker %d: the first entry of epoch %d was not acknowledged: %v", b.id, epoch, p.Err())
	}
}

func TestFailoverKeepsAcknowledged(t *testing.T) {
	a, b, c := newBroker(t, 1, ""), newBroker(t, 2, ""), newBroker(t, 3, "")
	addrs := map[int32]string{1: a.srv.Addr().String(), 2: b.srv.Addr().String(), 3: c.srv.Addr().String()}
	peersA := peersOf(t, a, b, c)
	lead(t, a, 1, peersA)

	// Acknowledged writes: some with everyone, some while B is away.
	var ackedEnd int64
	for i := range 20 {
		if i == 10 {
			b.srv.Close()
		}
		p := produce(t, a.log(), 5)
		if !acked(p, 10*time.Second) {
			t.Fatalf("write %d not acknowledged", i)
		}
		ackedEnd = p.BaseOffset + 5
	}
	want, _, err := a.log().ReadReplica(0, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	// A write no follower gets, then the leader dies.
	c.srv.Close()
	lost := produce(t, a.log(), 5)
	if acked(lost, 300*time.Millisecond) {
		t.Fatal("a write with no follower was acknowledged")
	}
	for _, p := range peersA {
		p.Close()
	}
	a.srv.Close()

	// B is appointed (epoch 2), but C's log holds more: C is the source.
	b.listen(t, addrs[2])
	c.listen(t, addrs[3])
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	peersB := peersOf(t, b, a, c)
	src, _, err := Recover(ctx, b.log(), 2, 2, []int32{1, 2, 3}, peersB)
	if err != nil || src != 3 {
		t.Fatalf("recovery of epoch 2 from broker 2: source %d, %v; want 3", src, err)
	}
	for _, p := range peersB {
		p.Untrack(testID)
	}
	// So B hands over: C leads epoch 3 with B's answer and its own.
	peersC := peersOf(t, c, a, b)
	lead(t, c, 3, peersC)

	// Every acknowledged write is in the new leader's log, byte for byte,
	// and B caught up with it.
	got, _, err := c.log().ReadReplica(0, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("acknowledged batch %d changed in the failover", i)
		}
	}
	if hw := c.log().Offsets().HighWatermark; hw < ackedEnd+1 {
		t.Fatalf("new leader's high watermark %d, want at least %d (acknowledged writes and the epoch's first entry)", hw, ackedEnd+1)
	}
	sameLog(t, c.log(), b.log(), ackedEnd+1)
	if p := produce(t, c.log(), 5); !acked(p, 10*time.Second) {
		t.Fatal("the new leader cannot write")
	}

	// The old leader comes back: its unacknowledged write is gone, it
	// follows epoch 3, and a write of its old epoch is refused.
	a.listen(t, addrs[1])
	sameLog(t, c.log(), a.log(), ackedEnd+6)
	if got := a.log().LogEnd(); got.EpochAt(lost.BaseOffset) != 3 {
		t.Fatalf("the old leader kept its unacknowledged write: %+v", got)
	}
	if err := b.log().AppendReplica(1, [][]byte{want[0]}, nil); err == nil {
		t.Fatal("a write of the old epoch was accepted")
	}
}
