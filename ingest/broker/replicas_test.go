package broker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

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

// TestGroupsHaveOneCoordinator: every broker names the same coordinator
// for a group, the others refuse its membership requests, and a consumer
// group spread over clients seeded at different brokers works.
func TestGroupsHaveOneCoordinator(t *testing.T) {
	store := metatest.Shared(t)
	brokers := []*testBroker{
		startTestBrokerID(t, 1, store, ""),
		startTestBrokerID(t, 2, store, ""),
		startTestBrokerID(t, 3, store, ""),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	coordinator := int32(-1)
	for _, b := range brokers {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorKey = "g"
		resp, err := req.RequestWith(ctx, b.client(t))
		if err != nil || resp.ErrorCode != 0 {
			t.Fatalf("find coordinator at broker %d: %v %v", b.cfg.NodeID, err, resp)
		}
		if coordinator >= 0 && resp.NodeID != coordinator {
			t.Fatalf("broker %d names coordinator %d, another named %d", b.cfg.NodeID, resp.NodeID, coordinator)
		}
		coordinator = resp.NodeID
	}
	for _, b := range brokers {
		if b.cfg.NodeID == coordinator {
			continue
		}
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group, req.ProtocolType, req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = "g", "consumer", 10000, 10000
		req.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range"}}
		cl := b.client(t)
		resp, err := cl.Broker(int(b.cfg.NodeID)).RetriableRequest(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if code := resp.(*kmsg.JoinGroupResponse).ErrorCode; code != kerr.NotCoordinator.Code {
			t.Fatalf("join at broker %d (not the coordinator): error %d, want NOT_COORDINATOR", b.cfg.NodeID, code)
		}
	}

	adm := brokers[0].admin(t)
	if resp, err := adm.CreateTopic(ctx, 4, 3, nil, "grouped"); err != nil || resp.Err != nil {
		t.Fatal(err, resp.Err)
	}
	prod := brokers[0].client(t, kgo.DefaultProduceTopic("grouped"))
	for i := range 200 {
		if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	seen := make(chan string, 400)
	for _, b := range brokers[1:] {
		cl := b.client(t, kgo.ConsumerGroup("g"), kgo.ConsumeTopics("grouped"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		go func() {
			for ctx.Err() == nil {
				fs := cl.PollFetches(ctx)
				fs.EachRecord(func(r *kgo.Record) { seen <- string(r.Value) })
			}
		}()
	}
	got := map[string]bool{}
	for len(got) < 200 {
		select {
		case v := <-seen:
			got[v] = true
		case <-ctx.Done():
			t.Fatalf("the group consumed %d of 200 records", len(got))
		}
	}
}

// TestRegistersAgainAfterLosingItsLease: a broker whose lease expired (it
// was paused, or cut off from etcd) registers again by itself.
func TestRegistersAgainAfterLosingItsLease(t *testing.T) {
	store := metatest.Shared(t)
	b := startTestBrokerID(t, 4, store, "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	old := b.reg.Load().LeaseID()
	if _, err := store.Client().Revoke(ctx, old); err != nil {
		t.Fatal(err)
	}
	for {
		brokers, err := store.Brokers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(brokers) == 1 && brokers[0].ID == 4 && b.reg.Load().LeaseID() != old {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the broker did not register again: %+v", brokers)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !b.Ready() {
		t.Fatal("not ready after registering again")
	}
}
