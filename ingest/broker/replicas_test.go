package broker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strata-log/strata/meta/metatest"
)

// TestReplicatedTopicSurvivesLeaderLoss runs three brokers on one etcd: a
// topic with replication factor 3 acknowledges writes from a quorum of
// them, and when its leader's broker goes away another replica takes
// over with every acknowledged record.
func TestReplicatedTopicSurvivesLeaderLoss(t *testing.T) {
	store := metatest.Shared(t)
	brokers := []*testBroker{
		startTestBrokerID(t, 1, store, ""),
		startTestBrokerID(t, 2, store, ""),
		startTestBrokerID(t, 3, store, ""),
	}
	seeds := kgo.SeedBrokers(brokers[0].Addr().String(), brokers[1].Addr().String(), brokers[2].Addr().String())
	adm := brokers[0].admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, 1, 3, nil, "replicated")
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}
	st, _, err := store.PartitionState(ctx, resp.ID, 0)
	if err != nil || len(st.Replicas) != 3 {
		t.Fatalf("partition state %+v %v", st, err)
	}
	t.Logf("leader %d epoch %d replicas %v", st.Leader, st.Epoch, st.Replicas)

	cl := brokers[0].client(t, seeds, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DefaultProduceTopic("replicated"))
	produce := func(from, n int) {
		t.Helper()
		var recs []*kgo.Record
		for i := from; i < from+n; i++ {
			recs = append(recs, &kgo.Record{Value: []byte(fmt.Sprint(i))})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("produce %d-%d: %v", from, from+n, err)
		}
	}
	produce(0, 100)

	// The leader's broker goes away (its registration with it).
	var leader *testBroker
	for _, b := range brokers {
		if b.cfg.NodeID == st.Leader {
			leader = b
		}
	}
	leader.stop(t)
	produce(100, 100)
	after, _, err := store.PartitionState(ctx, resp.ID, 0)
	if err != nil || after.Leader == st.Leader || after.Epoch <= st.Epoch {
		t.Fatalf("after the leader left: %+v %v", after, err)
	}
	t.Logf("new leader %d epoch %d", after.Leader, after.Epoch)

	var survivor *testBroker
	for _, b := range brokers {
		if b.cfg.NodeID == after.Leader {
			survivor = b
		}
	}
	recs := consumeAll(t, survivor, "replicated", 200, seeds)
	seen := map[string]bool{}
	for _, r := range recs {
		if seen[string(r.Value)] {
			t.Fatalf("record %s read twice", r.Value)
		}
		seen[string(r.Value)] = true
	}
	for i := range 200 {
		if !seen[fmt.Sprint(i)] {
			t.Fatalf("acknowledged record %d lost in the failover", i)
		}
	}
}
