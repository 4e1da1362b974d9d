package meta_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/strata-log/strata/meta"
	"github.com/strata-log/strata/meta/metatest"
)

func TestClaimLeadership(t *testing.T) {
	st := metatest.Shared(t)
	ctx := testCtx(t)
	id := meta.NewTopicID()

	if _, ok, err := st.PartitionState(ctx, id, 0); err != nil || ok {
		t.Fatalf("state before any claim: ok=%v err=%v", ok, err)
	}
	s0, err := st.ClaimLeadership(ctx, id, 0, 1, []int32{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	if s0.Leader != 1 || s0.Epoch != 0 || fmt.Sprint(s0.Replicas) != "[1 2 3]" {
		t.Fatalf("first claim = %+v", s0)
	}
	s1, err := st.ClaimLeadership(ctx, id, 0, 2, nil) // nil keeps replicas
	if err != nil {
		t.Fatal(err)
	}
	if s1.Leader != 2 || s1.Epoch != 1 || fmt.Sprint(s1.Replicas) != "[1 2 3]" {
		t.Fatalf("second claim = %+v", s1)
	}
	s2, err := st.ClaimLeadership(ctx, id, 0, 3, []int32{3})
	if err != nil {
		t.Fatal(err)
	}
	if s2.Epoch != 2 || fmt.Sprint(s2.Replicas) != "[3]" {
		t.Fatalf("third claim = %+v", s2)
	}
	got, ok, err := st.PartitionState(ctx, id, 0)
	if err != nil || !ok || got.Leader != 3 || got.Epoch != 2 || fmt.Sprint(got.Replicas) != "[3]" {
		t.Fatalf("PartitionState = %+v %v %v", got, ok, err)
	}

	// Another partition and another topic are independent.
	if s, err := st.ClaimLeadership(ctx, id, 5, 9, nil); err != nil || s.Epoch != 0 || fmt.Sprint(s.Replicas) != "[9]" {
		t.Fatalf("claim of partition 5 = %+v, %v", s, err)
	}
	if s, err := st.ClaimLeadership(ctx, meta.NewTopicID(), 0, 1, nil); err != nil || s.Epoch != 0 {
		t.Fatalf("claim on another topic = %+v, %v", s, err)
	}
	if _, err := st.ClaimLeadership(ctx, id, -1, 1, nil); err == nil {
		t.Fatal("negative partition accepted")
	}
	states, err := st.PartitionStates(ctx, id)
	if err != nil || len(states) != 2 || states[0].Epoch != 2 || states[5].Leader != 9 {
		t.Fatalf("PartitionStates = %+v, %v", states, err)
	}
}

func TestClaimLeadershipConcurrentEpochsDistinct(t *testing.T) {
	st := metatest.Shared(t)
	ctx := testCtx(t)
	id := meta.NewTopicID()
	const brokers, each = 5, 8
	var mu sync.Mutex
	var epochs []int32
	var wg sync.WaitGroup
	for b := range int32(brokers) {
		s := meta.NewStore(sharedClient(t), st.Prefix())
		wg.Go(func() {
			for range each {
				ps, err := s.ClaimLeadership(ctx, id, 0, b, nil)
				if err != nil {
					t.Error(err)
					return
				}
				if ps.Leader != b {
					t.Errorf("claim by %d returned leader %d", b, ps.Leader)
				}
				mu.Lock()
				epochs = append(epochs, ps.Epoch)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(epochs)
	for i, e := range epochs {
		if e != int32(i) {
			t.Fatalf("epochs handed out = %v, want 0..%d each once", epochs, brokers*each-1)
		}
	}
	final, _, err := st.PartitionState(ctx, id, 0)
	if err != nil || final.Epoch != brokers*each-1 {
		t.Fatalf("final state = %+v, %v", final, err)
	}
}

func TestOffsetsRoundTrip(t *testing.T) {
	st := metatest.Shared(t)
	ctx := testCtx(t)
	groups := []string{"plain", "with/slash", "spaces and %percent", "ünïcode", "..", "offsets"}
	for i, g := range groups {
		offs := []meta.GroupOffset{
			{Topic: "b", Partition: 10, Offset: 100 + int64(i), LeaderEpoch: 3, Metadata: "meta for " + g, CommitTimeMs: 1111},
			{Topic: "b", Partition: 2, Offset: 20, LeaderEpoch: -1},
			{Topic: "a", Partition: 0, Offset: 0, LeaderEpoch: 0, Metadata: `{"json":"ok"}`, CommitTimeMs: 2222},
		}
		must(t, st.CommitOffsets(ctx, g, offs))
	}
	for i, g := range groups {
		got, err := st.FetchOffsets(ctx, g)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 {
			t.Fatalf("group %q: %+v", g, got)
		}
		if got[0] != (meta.GroupOffset{Topic: "a", Partition: 0, Offset: 0, LeaderEpoch: 0, Metadata: `{"json":"ok"}`, CommitTimeMs: 2222}) {
			t.Errorf("group %q [0] = %+v", g, got[0])
		}
		if got[1].Topic != "b" || got[1].Partition != 2 || got[1].Offset != 20 || got[1].LeaderEpoch != -1 || got[1].CommitTimeMs == 0 {
			t.Errorf("group %q [1] = %+v (commit time should default to now)", g, got[1])
		}
		if got[2] != (meta.GroupOffset{Topic: "b", Partition: 10, Offset: 100 + int64(i), LeaderEpoch: 3, Metadata: "meta for " + g, CommitTimeMs: 1111}) {
			t.Errorf("group %q [2] = %+v", g, got[2])
		}
	}
	gs, err := st.GroupsWithOffsets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Sorted(slices.Values(groups))
	if !slices.Equal(gs, want) {
		t.Fatalf("GroupsWithOffsets = %q, want %q", gs, want)
	}

	// Overwrite one offset.
	must(t, st.CommitOffsets(ctx, "plain", []meta.GroupOffset{{Topic: "b", Partition: 2, Offset: 21, Metadata: "new"}}))
	got, _ := st.FetchOffsets(ctx, "plain")
	if got[1].Offset != 21 || got[1].Metadata != "new" {
		t.Fatalf("after overwrite: %+v", got[1])
	}

	// Delete specific partitions, then a whole topic, then the group.
	must(t, st.DeleteOffsets(ctx, "with/slash", "b", []int32{10, 99}))
	got, _ = st.FetchOffsets(ctx, "with/slash")
	if len(got) != 2 || got[0].Topic != "a" || got[1].Partition != 2 {
		t.Fatalf("after DeleteOffsets b/10: %+v", got)
	}
	must(t, st.DeleteOffsets(ctx, "with/slash", "b", nil))
	got, _ = st.FetchOffsets(ctx, "with/slash")
	if len(got) != 1 || got[0].Topic != "a" {
		t.Fatalf("after DeleteOffsets b/*: %+v", got)
	}
	must(t, st.DeleteGroupOffsets(ctx, "with/slash"))
	if got, err := st.FetchOffsets(ctx, "with/slash"); err != nil || len(got) != 0 {
		t.Fatalf("after DeleteGroupOffsets: %+v, %v", got, err)
	}
	// Other groups untouched, including one whose escaped name could be a prefix.
	if got, _ := st.FetchOffsets(ctx, "plain"); len(got) != 3 {
		t.Fatalf("plain after deleting another group: %+v", got)
	}
	gs, _ = st.GroupsWithOffsets(ctx)
	if slices.Contains(gs, "with/slash") || len(gs) != len(groups)-1 {
		t.Fatalf("GroupsWithOffsets after delete = %q", gs)
	}
	if got, err := st.FetchOffsets(ctx, "never-committed"); err != nil || len(got) != 0 {
		t.Fatalf("unknown group: %+v, %v", got, err)
	}
}

func TestOffsetsValidation(t *testing.T) {
	st := metatest.Shared(t)
	ctx := testCtx(t)
	if err := st.CommitOffsets(ctx, "", []meta.GroupOffset{{Topic: "a"}}); !errors.Is(err, meta.ErrInvalidGroupID) {
		t.Errorf("empty group: %v", err)
	}
	if _, err := st.FetchOffsets(ctx, ""); !errors.Is(err, meta.ErrInvalidGroupID) {
		t.Errorf("fetch empty group: %v", err)
	}
	if err := st.CommitOffsets(ctx, "g", []meta.GroupOffset{{Topic: "ok"}, {Topic: "bad/topic"}}); !errors.Is(err, meta.ErrInvalidTopicName) {
		t.Errorf("bad topic: %v", err)
	}
	if err := st.CommitOffsets(ctx, "g", []meta.GroupOffset{{Topic: "ok", Partition: -1}}); err == nil {
		t.Error("negative partition accepted")
	}
	if got, _ := st.FetchOffsets(ctx, "g"); len(got) != 0 {
		t.Fatalf("rejected commits stored offsets: %+v", got)
	}
	if err := st.CommitOffsets(ctx, "g", nil); err != nil {
		t.Errorf("empty commit: %v", err)
	}
}

func TestCommitManyOffsets(t *testing.T) {
	st := metatest.Shared(t)
	ctx := testCtx(t)
	var offs []meta.GroupOffset
	for p := range int32(300) { // beyond etcd's 128 ops per transaction
		offs = append(offs, meta.GroupOffset{Topic: "wide", Partition: p, Offset: int64(p) * 10})
	}
	must(t, st.CommitOffsets(ctx, "g", offs))
	got, err := st.FetchOffsets(ctx, "g")
	if err != nil || len(got) != 300 {
		t.Fatalf("fetched %d offsets, %v", len(got), err)
	}
	for i, o := range got {
		if o.Partition != int32(i) || o.Offset != int64(i)*10 {
			t.Fatalf("offset %d = %+v (not sorted numerically?)", i, o)
		}
	}
	parts := make([]int32, 200)
	for i := range parts {
		parts[i] = int32(i)
	}
	must(t, st.DeleteOffsets(ctx, "g", "wide", parts))
	if got, _ := st.FetchOffsets(ctx, "g"); len(got) != 100 || got[0].Partition != 200 {
		t.Fatalf("after deleting 200: %d left", len(got))
	}
}

func TestAllocateProducerIDsNoOverlap(t *testing.T) {
	st := metatest.Shared(t)
	ctx := testCtx(t)
	if _, err := st.AllocateProducerIDs(ctx, 0); err == nil {
		t.Fatal("n=0 accepted")
	}
	if _, err := st.AllocateProducerIDs(ctx, -5); err == nil {
		t.Fatal("n<0 accepted")
	}
	first, err := st.AllocateProducerIDs(ctx, 1000)
	if err != nil || first != 0 {
		t.Fatalf("first block starts at %d, %v; want 0", first, err)
	}

	type block struct{ first, n int64 }
	var mu sync.Mutex
	blocks := []block{{0, 1000}}
	var wg sync.WaitGroup
	for range 6 {
		s := meta.NewStore(sharedClient(t), st.Prefix())
		wg.Go(func() {
			for range 15 {
				n := rand.Int64N(500) + 1
				f, err := s.AllocateProducerIDs(ctx, n)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				blocks = append(blocks, block{f, n})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.SortFunc(blocks, func(a, b block) int { return int(a.first - b.first) })
	next := int64(0)
	for _, b := range blocks {
		if b.first != next {
			t.Fatalf("block [%d,%d) follows %d: overlap or gap", b.first, b.first+b.n, next)
		}
		next = b.first + b.n
	}
	if f, err := st.AllocateProducerIDs(ctx, 1); err != nil || f != next {
		t.Fatalf("next block = %d, %v; want %d", f, err, next)
	}
}

func TestAppointLeaderOneWinner(t *testing.T) {
	s := metatest.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id := meta.NewTopicID()
	st, err := s.ClaimLeadership(ctx, id, 0, 1, []int32{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	// Brokers 2 and 3 both saw leader 1 of epoch st.Epoch fail.
	results := make(chan error, 2)
	for _, b := range []int32{2, 3} {
		go func() {
			_, err := s.AppointLeader(ctx, id, 0, st.Epoch, b)
			results <- err
		}()
	}
	wins := 0
	for range 2 {
		err := <-results
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, meta.ErrEpochMoved):
			t.Fatalf("losing appointment: %v, want ErrEpochMoved", err)
		}
	}
	now, ok, err := s.PartitionState(ctx, id, 0)
	if wins != 1 || err != nil || !ok || now.Epoch != st.Epoch+1 || (now.Leader != 2 && now.Leader != 3) {
		t.Fatalf("%d winners; state %+v %v", wins, now, err)
	}
	if _, err := s.AppointLeader(ctx, id, 0, now.Epoch, 9); err == nil || errors.Is(err, meta.ErrEpochMoved) {
		t.Fatalf("appointing a broker outside the replicas: %v", err)
	}
}
