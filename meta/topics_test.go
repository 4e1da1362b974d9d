package meta_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-log/strata/meta"
	"github.com/strata-log/strata/meta/metatest"
)

func TestCreateAndGetTopic(t *testing.T) {
	st := metatest.Shared(t)
	ctx := testCtx(t)

	before := time.Now().UnixMilli()
	cfgs := map[string]string{"retention.ms": "60000", "cleanup.policy": "compact"}
	created, err := st.CreateTopic(ctx, meta.Topic{Name: "orders", Partitions: 6, ReplicationFactor: 1, Configs: cfgs})
	if err != nil {
		t.Fatal(err)
	}
	cfgs["retention.ms"] = "1" // the caller's map is not the store's
	if created.ID == ([16]byte{}) {
		t.Fatal("CreateTopic left a zero ID")
	}
	if v := created.ID[6] >> 4; v != 4 {
		t.Errorf("topic id version nibble = %d, want 4", v)
	}
	if created.CreatedMs < before || created.CreatedMs > time.Now().UnixMilli() {
		t.Errorf("CreatedMs = %d, not between %d and now", created.CreatedMs, before)
	}
	if len(created.IDString()) != 22 {
		t.Errorf("IDString() = %q, want 22 chars", created.IDString())
	}

	got, err := st.Topic(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "orders" || got.ID != created.ID || got.Partitions != 6 || got.ReplicationFactor != 1 ||
		got.CreatedMs != created.CreatedMs || len(got.Configs) != 2 ||
		got.Configs["retention.ms"] != "60000" || got.Configs["cleanup.policy"] != "compact" {
		t.Fatalf("Topic() = %+v, want %+v", got, created)
	}

	// Duplicate name, even with a different shape.
	_, err = st.CreateTopic(ctx, meta.Topic{Name: "orders", Partitions: 1})
	if !errors.Is(err, meta.ErrTopicExists) {
		t.Fatalf("duplicate CreateTopic err = %v, want ErrTopicExists", err)
	}
	if err != nil && err.Error() != `create topic "orders": topic already exists` {
		t.Errorf("duplicate CreateTopic message = %q", err)
	}

	// An explicit ID and CreatedMs are kept; empty configs read back as nil.
	id := meta.NewTopicID()
	explicit, err := st.CreateTopic(ctx, meta.Topic{Name: "explicit", ID: id, Partitions: 1, CreatedMs: 1234, Configs: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	got, err = st.Topic(ctx, "explicit")
	if err != nil || got.ID != id || got.CreatedMs != 1234 || got.Configs != nil || explicit.ID != id {
		t.Fatalf("explicit topic = %+v, %v", got, err)
	}

	// Replication factor <= 0 (Kafka's "broker default") is stored as 1.
	for i, rf := range []int16{0, -1} {
		tp, err := st.CreateTopic(ctx, meta.Topic{Name: fmt.Sprintf("rf%d", i), Partitions: 1, ReplicationFactor: rf})
		if err != nil || tp.ReplicationFactor != 1 {
			t.Fatalf("CreateTopic with RF %d = %+v, %v", rf, tp, err)
		}
		if got, _ := st.Topic(ctx, tp.Name); got.ReplicationFactor != 1 {
			t.Fatalf("stored RF = %d", got.ReplicationFactor)
		}
	}

	for _, name := range []string{"missing", "", "a/b", ".."} {
		if _, err := st.Topic(ctx, name); !errors.Is(err, meta.ErrUnknownTopic) {
			t.Errorf("Topic(%q) err = %v, want ErrUnknownTopic", name, err)
		}
	}
}

func TestCreateTopicValidation(t *testing.T) {
	st := metatest.Shared(t)
	ctx := testCtx(t)
	cases := []struct {
		topic meta.Topic
		want  error
	}{
		{meta.Topic{Name: "", Partitions: 1}, meta.ErrInvalidTopicName},
		{meta.Topic{Name: "has space", Partitions: 1}, meta.ErrInvalidTopicName},
		{meta.Topic{Name: "a/b", Partitions: 1}, meta.ErrInvalidTopicName},
		{meta.Topic{Name: "zero-partitions", Partitions: 0}, meta.ErrInvalidTopic},
		{meta.Topic{Name: "neg-partitions", Partitions: -1}, meta.ErrInvalidTopic},
		{meta.Topic{Name: "bad-config", Partitions: 1, Configs: map[string]string{"retention.ms": "-2"}}, meta.ErrInvalidConfig},
		{meta.Topic{Name: "unknown-config", Partitions: 1, Configs: map[string]string{"no.such.config": "1"}}, meta.ErrUnknownConfig},
	}
	for _, c := range cases {
		if _, err := st.CreateTopic(ctx, c.topic); !errors.Is(err, c.want) {
			t.Errorf("CreateTopic(%+v) err = %v, want %v", c.topic, err, c.want)
		}
	}
	topics, err := st.Topics(ctx)
	if err != nil || len(topics) != 0 {
		t.Fatalf("invalid creates left topics: %v, %v", topicNames(topics), err)
	}
}

func TestTopicsSorted(t *testing.T) {
	st := metatest.Shared(t)
	ctx := testCtx(t)
	if ts, err := st.Topics(ctx); err != nil || len(ts) != 0 {
		t.Fatalf("Topics on empty store = %v, %v", ts, err)
	}
	for _, n := range []string{"zeta", "alpha", "Mid", "beta.1", "beta-0"} {
		if _, err := st.CreateTopic(ctx, meta.Topic{Name: n, Partitions: 1}); err != nil {
			t.Fatal(err)
		}
	}
	ts, err := st.Topics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Mid", "alpha", "beta-0", "beta.1", "zeta"}
	if got := topicNames(ts); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Topics() = %v, want %v", got, want)
	}
	ids := map[[16]byte]bool{}
	for _, tp := range ts {
		ids[tp.ID] = true
	}
	if len(ids) != len(ts) {
		t.Fatal("topics share an id")
	}
}

func TestUpdateTopic(t *testing.T) {
	st := metatest.Shared(t)
	ctx := testCtx(t)
	created, err := st.CreateTopic(ctx, meta.Topic{Name: "t", Partitions: 2, Configs: map[string]string{"retention.ms": "1000"}})
	if err != nil {
		t.Fatal(err)
	}

	updated, err := st.UpdateTopic(ctx, "t", func(tp *meta.Topic) error {
		tp.Partitions = 5
		tp.Configs["segment.bytes"] = "1048576"
		delete(tp.Configs, "retention.ms")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.Topic(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range []meta.Topic{updated, got} {
		if tp.Partitions != 5 || len(tp.Configs) != 1 || tp.Configs["segment.bytes"] != "1048576" || tp.ID != created.ID || tp.CreatedMs != created.CreatedMs {
			t.Fatalf("after update: %+v", tp)
		}
	}

	// Removing every config stores nil.
	got, err = st.UpdateTopic(ctx, "t", func(tp *meta.Topic) error { tp.Configs = map[string]string{}; return nil })
	if err != nil || got.Configs != nil {
		t.Fatalf("clearing configs: %+v, %v", got, err)
	}
	// Configs starting nil can be set (fn gets a nil map then).
	got, err = st.UpdateTopic(ctx, "t", func(tp *meta.Topic) error {
		tp.Configs = map[string]string{"max.message.bytes": "2048"}
		return nil
	})
	if err != nil || got.Configs["max.message.bytes"] != "2048" {
		t.Fatalf("setting configs: %+v, %v", got, err)
	}

	boom := errors.New("boom")
	_, err = st.UpdateTopic(ctx, "t", func(tp *meta.Topic) error {
		tp.Partitions = 100
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("fn error not returned: %v", err)
	}
	rejected := []struct {
		name string
		fn   func(*meta.Topic)
		want error
	}{
		{"rename", func(tp *meta.Topic) { tp.Name = "u" }, meta.ErrInvalidTopic},
		{"new id", func(tp *meta.Topic) { tp.ID = meta.NewTopicID() }, meta.ErrInvalidTopic},
		{"fewer partitions", func(tp *meta.Topic) { tp.Partitions = 4 }, meta.ErrInvalidTopic},
		{"zero replication factor", func(tp *meta.Topic) { tp.ReplicationFactor = 0 }, meta.ErrInvalidTopic},
		{"bad config", func(tp *meta.Topic) { tp.Configs["cleanup.policy"] = "forever" }, meta.ErrInvalidConfig},
		{"unknown config", func(tp *meta.Topic) { tp.Configs["foo"] = "bar" }, meta.ErrUnknownConfig},
	}
	for _, r := range rejected {
		if _, err := st.UpdateTopic(ctx, "t", func(tp *meta.Topic) error { r.fn(tp); return nil }); !errors.Is(err, r.want) {
			t.Errorf("%s: err = %v, want %v", r.name, err, r.want)
		}
	}
	got, err = st.Topic(ctx, "t")
	if err != nil || got.Partitions != 5 || len(got.Configs) != 1 || got.Configs["max.message.bytes"] != "2048" {
		t.Fatalf("aborted updates changed the topic: %+v, %v", got, err)
	}

	if _, err := st.UpdateTopic(ctx, "nope", func(*meta.Topic) error { return nil }); !errors.Is(err, meta.ErrUnknownTopic) {
		t.Fatalf("UpdateTopic on missing topic: %v", err)
	}
}

// A write that lands between UpdateTopic's read and its transaction makes
// the transaction fail its ModRevision compare; UpdateTopic must re-read
// (keeping the other write) and call fn again.
func TestUpdateTopicConflictRetries(t *testing.T) {
	st := metatest.Shared(t)
	ctx := testCtx(t)
	if _, err := st.CreateTopic(ctx, meta.Topic{Name: "t", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	calls := 0
	got, err := st.UpdateTopic(ctx, "t", func(tp *meta.Topic) error {
		calls++
		if calls == 1 {
			// Interfering writer, after our read.
			if _, err := st.UpdateTopic(ctx, "t", func(o *meta.Topic) error {
				o.Configs = map[string]string{"retention.bytes": "77"}
				return nil
			}); err != nil {
				return err
			}
		}
		if tp.Configs == nil {
			tp.Configs = map[string]string{}
		}
		tp.Configs["retention.ms"] = "5"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 2 {
		t.Fatalf("fn called %d times, want 2 (one conflict)", calls)
	}
	if got.Configs["retention.bytes"] != "77" || got.Configs["retention.ms"] != "5" {
		t.Fatalf("lost update: %+v", got.Configs)
	}
}

func TestUpdateTopicConcurrentNoLostUpdate(t *testing.T) {
	st := metatest.Shared(t)
	ctx := testCtx(t)
	if _, err := st.CreateTopic(ctx, meta.Topic{Name: "counter", Partitions: 1, Configs: map[string]string{"retention.ms": "0"}}); err != nil {
		t.Fatal(err)
	}
	const workers, each = 6, 10
	var calls atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		cli := sharedClient(t)
		s := meta.NewStore(cli, st.Prefix())
		wg.Go(func() {
			for range each {
				_, err := s.UpdateTopic(ctx, "counter", func(tp *meta.Topic) error {
					calls.Add(1)
					n, err := strconv.Atoi(tp.Configs["retention.ms"])
					if err != nil {
						return err
					}
					tp.Configs["retention.ms"] = strconv.Itoa(n + 1)
					tp.Partitions++
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	got, err := st.Topic(ctx, "counter")
	if err != nil {
		t.Fatal(err)
	}
	if got.Configs["retention.ms"] != strconv.Itoa(workers*each) || got.Partitions != 1+workers*each {
		t.Fatalf("after %d concurrent increments: retention.ms=%s partitions=%d", workers*each, got.Configs["retention.ms"], got.Partitions)
	}
	t.Logf("%d updates took %d fn calls", workers*each, calls.Load())
}

func TestDeleteTopic(t *testing.T) {
	st := metatest.Shared(t)
	ctx := testCtx(t)
	doomed, err := st.CreateTopic(ctx, meta.Topic{Name: "doomed", Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	keep, err := st.CreateTopic(ctx, meta.Topic{Name: "keep", Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(2) {
		if _, err := st.ClaimLeadership(ctx, doomed.ID, p, 1, []int32{1}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.ClaimLeadership(ctx, keep.ID, 0, 1, nil); err != nil {
		t.Fatal(err)
	}
	// g1 has offsets for both topics, g2 only for the doomed one. A topic
	// whose name extends "doomed" must not be affected.
	must(t, st.CommitOffsets(ctx, "g1", []meta.GroupOffset{{Topic: "doomed", Partition: 0, Offset: 5}, {Topic: "doomed", Partition: 1, Offset: 6}, {Topic: "keep", Partition: 0, Offset: 7}}))
	must(t, st.CommitOffsets(ctx, "g2", []meta.GroupOffset{{Topic: "doomed", Partition: 0, Offset: 1}}))
	must(t, st.CommitOffsets(ctx, "g3", []meta.GroupOffset{{Topic: "doomed2", Partition: 0, Offset: 9}}))

	if err := st.DeleteTopic(ctx, "doomed"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Topic(ctx, "doomed"); !errors.Is(err, meta.ErrUnknownTopic) {
		t.Fatalf("deleted topic still readable: %v", err)
	}
	if ts, _ := st.Topics(ctx); fmt.Sprint(topicNames(ts)) != "[keep]" {
		t.Fatalf("topics after delete = %v", topicNames(ts))
	}
	if states, err := st.PartitionStates(ctx, doomed.ID); err != nil || len(states) != 0 {
		t.Fatalf("partition states of deleted topic = %v, %v", states, err)
	}
	if _, ok, err := st.PartitionState(ctx, keep.ID, 0); err != nil || !ok {
		t.Fatalf("other topic's partition state gone: %v %v", ok, err)
	}
	offs, err := st.FetchOffsets(ctx, "g1")
	if err != nil || len(offs) != 1 || offs[0].Topic != "keep" || offs[0].Offset != 7 {
		t.Fatalf("g1 offsets after delete = %+v, %v", offs, err)
	}
	if offs, err := st.FetchOffsets(ctx, "g2"); err != nil || len(offs) != 0 {
		t.Fatalf("g2 offsets after delete = %+v, %v", offs, err)
	}
	if offs, err := st.FetchOffsets(ctx, "g3"); err != nil || len(offs) != 1 {
		t.Fatalf("g3 offsets (topic doomed2) after delete = %+v, %v", offs, err)
	}
	if groups, err := st.GroupsWithOffsets(ctx); err != nil || fmt.Sprint(groups) != "[g1 g3]" {
		t.Fatalf("groups after delete = %v, %v", groups, err)
	}

	if err := st.DeleteTopic(ctx, "doomed"); !errors.Is(err, meta.ErrUnknownTopic) {
		t.Fatalf("second delete err = %v", err)
	}
	again, err := st.CreateTopic(ctx, meta.Topic{Name: "doomed", Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	if again.ID == doomed.ID {
		t.Fatal("re-created topic reused the old id")
	}
	if _, ok, _ := st.PartitionState(ctx, again.ID, 0); ok {
		t.Fatal("re-created topic inherited partition state")
	}
}

func TestDeleteTopicManyGroups(t *testing.T) {
	st := metatest.Shared(t)
	ctx := testCtx(t)
	if _, err := st.CreateTopic(ctx, meta.Topic{Name: "popular", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	const groups = 300 // more than one transaction's worth (128 ops)
	for i := range groups {
		must(t, st.CommitOffsets(ctx, fmt.Sprintf("g%03d", i), []meta.GroupOffset{{Topic: "popular", Partition: 0, Offset: int64(i)}}))
	}
	if gs, err := st.GroupsWithOffsets(ctx); err != nil || len(gs) != groups {
		t.Fatalf("GroupsWithOffsets = %d groups, %v", len(gs), err)
	}
	if err := st.DeleteTopic(ctx, "popular"); err != nil {
		t.Fatal(err)
	}
	if gs, err := st.GroupsWithOffsets(ctx); err != nil || len(gs) != 0 {
		t.Fatalf("after delete GroupsWithOffsets = %d groups (%v), %v", len(gs), gs[:min(len(gs), 5)], err)
	}
}

func TestWatchTopics(t *testing.T) {
	st := metatest.Shared(t)
	ctx := testCtx(t)
	if _, err := st.CreateTopic(ctx, meta.Topic{Name: "pre", Partitions: 1}); err != nil {
		t.Fatal(err)
	}

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	seen := newCollect[[]meta.Topic]()
	done := make(chan error, 1)
	go func() { done <- st.WatchTopics(wctx, seen.add) }()

	seen.waitFor(t, "initial set", namesAre("pre"))
	a, err := st.CreateTopic(ctx, meta.Topic{Name: "a", Partitions: 3})
	if err != nil {
		t.Fatal(err)
	}
	got := seen.waitFor(t, "create of a", namesAre("a", "pre"))
	if got[0].ID != a.ID || got[0].Partitions != 3 {
		t.Fatalf("watched topic a = %+v, want %+v", got[0], a)
	}
	if _, err := st.UpdateTopic(ctx, "a", func(tp *meta.Topic) error {
		tp.Configs = map[string]string{"retention.ms": "123"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	seen.waitFor(t, "config change of a", func(ts []meta.Topic) bool {
		return len(ts) == 2 && ts[0].Configs["retention.ms"] == "123"
	})
	must(t, st.DeleteTopic(ctx, "pre"))
	seen.waitFor(t, "delete of pre", namesAre("a"))
	must(t, st.DeleteTopic(ctx, "a"))
	seen.waitFor(t, "delete of a", namesAre())

	// Topics of another prefix are not reported.
	other := metatest.Shared(t)
	if _, err := other.CreateTopic(ctx, meta.Topic{Name: "elsewhere", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateTopic(ctx, meta.Topic{Name: "b", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	seen.waitFor(t, "create of b", namesAre("b"))

	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("WatchTopics returned %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WatchTopics did not return after cancel")
	}
	seen.mu.Lock()
	defer seen.mu.Unlock()
	for i, ts := range seen.seen {
		if len(ts) > 0 && ts[0].Name == "elsewhere" {
			t.Fatalf("call %d reported another prefix's topic", i)
		}
	}
}

func TestWatchTopicsFailsFastWithoutEtcd(t *testing.T) {
	e := metatest.NewEmbedded(t)
	st := meta.NewStore(metatest.NewClient(t, e), "")
	e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := st.WatchTopics(ctx, func([]meta.Topic) { t.Error("fn called without etcd") })
	if err == nil {
		t.Fatal("WatchTopics without etcd returned nil")
	}
}

// WatchTopics keeps going across an etcd restart (the client reconnects and
// the watch is re-established or the set re-listed), and the data survives.
func TestWatchTopicsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	e, err := meta.StartEmbedded(meta.EmbedConfig{Dir: dir, ClientURL: "http://127.0.0.1:0", UnsafeNoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	clientURL, peerURL := e.ClientURL(), e.PeerURL()
	cli, err := e.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	st := meta.NewStore(cli, "")
	ctx := testCtx(t)
	if _, err := st.CreateTopic(ctx, meta.Topic{Name: "before", Partitions: 1}); err != nil {
		t.Fatal(err)
	}

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	seen := newCollect[[]meta.Topic]()
	done := make(chan error, 1)
	go func() { done <- st.WatchTopics(wctx, seen.add) }()
	seen.waitFor(t, "initial set", namesAre("before"))

	e.Close()
	e2, err := meta.StartEmbedded(meta.EmbedConfig{Dir: dir, ClientURL: clientURL, PeerURL: peerURL, UnsafeNoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()

	if _, err := st.CreateTopic(ctx, meta.Topic{Name: "after", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	seen.waitFor(t, "topic created after restart", namesAre("after", "before"))
	cancel()
	<-done
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
