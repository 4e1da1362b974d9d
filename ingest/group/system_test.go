package group

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-log/strata/meta/metatest"
)

// runClient behaves like a group client (join, sync, heartbeat, commit,
// rejoin on REBALANCE_IN_PROGRESS, reset on UNKNOWN_MEMBER_ID) until stop
// is closed; then it leaves, unless crash is set.
func runClient(m *tmember, partitions int32, stop <-chan struct{}, crash bool) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-stop
		cancel()
	}()
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	defer func() {
		if !crash && m.id != "" {
			m.leave()
		}
	}()
	for !stopped() {
		r := m.join(ctx)
		switch r.ErrorCode {
		case 0:
		case kerr.UnknownMemberID.Code, kerr.FencedInstanceID.Code:
			m.id = ""
			continue
		default:
			time.Sleep(5 * time.Millisecond)
			continue
		}
		var assign map[string][]byte
		if r.LeaderID == m.id && !r.SkipAssignment {
			ids := make([]string, 0, len(r.Members))
			for _, jm := range r.Members {
				ids = append(ids, jm.MemberID)
			}
			slices.Sort(ids)
			per := make(map[string][]int32)
			for p := range partitions {
				id := ids[int(p)%len(ids)]
				per[id] = append(per[id], p)
			}
			assign = make(map[string][]byte)
			for _, id := range ids {
				assign[id] = consumerAssignment("t", per[id]...)
			}
		}
		s := m.sync(ctx, assign)
		if s.ErrorCode != 0 {
			if s.ErrorCode == kerr.UnknownMemberID.Code || s.ErrorCode == kerr.FencedInstanceID.Code {
				m.id = ""
			}
			continue
		}
		var owned kmsg.ConsumerMemberAssignment
		_ = owned.ReadFrom(s.MemberAssignment)
	heartbeats:
		for {
			select {
			case <-stop:
				return
			case <-time.After(15 * time.Millisecond):
			}
			for _, t := range owned.Topics {
				for _, p := range t.Partitions {
					m.commit(t.Topic, p, int64(m.gen), "")
				}
			}
			switch code := m.heartbeat(); code {
			case 0:
			case kerr.UnknownMemberID.Code, kerr.FencedInstanceID.Code:
				m.id = ""
				break heartbeats
			default:
				break heartbeats
			}
		}
	}
}

func TestClientsChurnConverge(t *testing.T) {
	cfg := testConfig()
	cfg.InitialRebalanceDelay = 30 * time.Millisecond
	c := newTestCoordinator(t, cfg, nil)
	const partitions = 12

	type client struct {
		stop chan struct{}
		done chan struct{}
	}
	start := func(i int, crash bool) *client {
		m := newMember(t, c, "churn", "t")
		m.clientID = fmt.Sprintf("c%d", i)
		m.session, m.rebalance = 300*time.Millisecond, 400*time.Millisecond
		if i%2 == 1 {
			m.static(fmt.Sprintf("inst-%d", i))
		}
		if i == 4 {
			m.version = 3 // an old client among new ones
		}
		cl := &client{make(chan struct{}), make(chan struct{})}
		go func() {
			defer close(cl.done)
			runClient(m, partitions, cl.stop, crash)
		}()
		return cl
	}
	stopClient := func(cl *client) {
		close(cl.stop)
		<-cl.done
	}

	var clients []*client
	for i := range 3 {
		clients = append(clients, start(i, false))
	}
	time.Sleep(200 * time.Millisecond)
	clients = append(clients, start(3, false), start(4, true))
	time.Sleep(300 * time.Millisecond)
	stopClient(clients[0]) // leaves
	stopClient(clients[4]) // crashes: its session expires
	remaining := clients[1:4]
	defer func() {
		for _, cl := range remaining {
			stopClient(cl)
		}
	}()

	// The group settles with the three remaining members, each partition
	// assigned exactly once.
	waitFor(t, "the group to settle", func() bool {
		d := describe(t, c, "churn")
		if d.State != "Stable" || len(d.Members) != 3 {
			return false
		}
		seen := make(map[int32]int)
		for _, m := range d.Members {
			var a kmsg.ConsumerMemberAssignment
			if err := a.ReadFrom(m.MemberAssignment); err != nil {
				return false
			}
			for _, at := range a.Topics {
				for _, p := range at.Partitions {
					seen[p]++
				}
			}
		}
		if len(seen) != partitions {
			return false
		}
		for _, n := range seen {
			if n != 1 {
				t.Fatalf("partition assigned %d times: %v", n, seen)
			}
		}
		return true
	})
}

// TestOffsetsPersistInEtcd uses the real store: commits made through one
// coordinator are served by a new one (a broker restart), where the group
// exists only through its offsets.
func TestOffsetsPersistInEtcd(t *testing.T) {
	st := metatest.Shared(t)
	cfg := testConfig()
	ctx := context.Background()

	c1 := New(cfg, st)
	a := newMember(t, c1, "persist", "orders")
	stableGroup(t, a)
	wantCode(t, "commit", a.commit("orders", 0, 100, "cursor-a"), nil)
	resp := c1.OffsetCommit(ctx, commitReq(9, "persist", a.gen, a.id,
		commitPart{"orders", 1, 200, 7, kmsg.StringPtr("")},
		commitPart{"payments", 3, 300, -1, nil}))
	for _, tp := range resp.Topics {
		for _, p := range tp.Partitions {
			wantCode(t, "commit", p.ErrorCode, nil)
		}
	}
	c1.Close()

	c2 := newTestCoordinator(t, cfg, st)
	f := fetchedV7(t, fetchV7(c2, "persist", map[string][]int32{"orders": {0, 1, 2}, "payments": {3}}))
	want := map[string]fetched{
		"orders/0": {100, -1, "cursor-a"}, "orders/1": {200, 7, ""}, "orders/2": {-1, -1, ""}, "payments/3": {300, -1, ""},
	}
	for k, v := range want {
		if f[k] != v {
			t.Fatalf("after restart %s: %+v, want %+v", k, f[k], v)
		}
	}

	lr := kmsg.NewPtrListGroupsRequest()
	lr.Version = 5
	groups := c2.ListGroups(ctx, lr).Groups
	if len(groups) != 1 || groups[0].Group != "persist" || groups[0].GroupState != "Empty" {
		t.Fatalf("listed after restart: %+v", groups)
	}
	if d := describe(t, c2, "persist"); d.State != "Empty" {
		t.Fatalf("described as %s after restart", d.State)
	}

	// The old member is unknown to the new coordinator: it must rejoin.
	a.c = c2
	wantCode(t, "old member heartbeat", a.heartbeat(), kerr.UnknownMemberID)
	wantCode(t, "old member commit", a.commit("orders", 0, 101, ""), kerr.GroupIDNotFound)
	a.id, a.gen = "", -1
	stableGroup(t, a)
	wantCode(t, "commit after rejoin", a.commit("orders", 0, 101, ""), nil)

	// OffsetDelete and DeleteGroups go to etcd too.
	dr := kmsg.NewPtrOffsetDeleteRequest()
	dr.Group = "persist"
	dr.Topics = []kmsg.OffsetDeleteRequestTopic{
		{Topic: "payments", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 3}}},
		{Topic: "orders", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 1}}},
	}
	dresp := c2.OffsetDelete(ctx, dr)
	wantCode(t, "delete payments", dresp.Topics[0].Partitions[0].ErrorCode, nil)
	wantCode(t, "delete subscribed orders", dresp.Topics[1].Partitions[0].ErrorCode, kerr.GroupSubscribedToTopic)
	wantCode(t, "leave", a.leave(), nil)
	gr := kmsg.NewPtrDeleteGroupsRequest()
	gr.Groups = []string{"persist"}
	wantCode(t, "delete group", c2.DeleteGroups(ctx, gr).Groups[0].ErrorCode, nil)
	offs, err := st.FetchOffsets(ctx, "persist")
	if err != nil || len(offs) != 0 {
		t.Fatalf("offsets in etcd after DeleteGroups: %v %v", offs, err)
	}
}

// roundTrip encodes resp and decodes it at the same version.
func roundTrip(t *testing.T, what string, reqVersion int16, resp kmsg.Response) {
	t.Helper()
	if resp.GetVersion() != reqVersion {
		t.Fatalf("%s: response version %d, request version %d", what, resp.GetVersion(), reqVersion)
	}
	b := resp.AppendTo(nil)
	back := kmsg.ResponseForKey(resp.Key())
	back.SetVersion(reqVersion)
	if err := back.ReadFrom(b); err != nil {
		t.Fatalf("%s v%d: response does not decode: %v", what, reqVersion, err)
	}
}

func TestEveryVersionServed(t *testing.T) {
	c := newTestCoordinator(t, testConfig(), nil)
	ctx := context.Background()
	for v := int16(0); v <= JoinGroupMaxVersion; v++ {
		group := fmt.Sprintf("enc-%d", v)
		m := newMember(t, c, group, "t")
		m.version = v
		jr := m.joinOnce(ctx)
		roundTrip(t, "JoinGroup", v, jr)
		if jr.ErrorCode == kerr.MemberIDRequired.Code {
			jr = m.joinOnce(ctx)
			roundTrip(t, "JoinGroup", v, jr)
		}
		wantCode(t, fmt.Sprintf("JoinGroup v%d", v), jr.ErrorCode, nil)

		sv := min(v, SyncGroupMaxVersion)
		sr := m.syncRequest(map[string][]byte{m.id: []byte("a")})
		sr.Version = sv
		sresp := c.SyncGroup(ctx, sr)
		roundTrip(t, "SyncGroup", sv, sresp)
		wantCode(t, fmt.Sprintf("SyncGroup v%d", sv), sresp.ErrorCode, nil)

		hv := min(v, HeartbeatMaxVersion)
		hr := kmsg.NewPtrHeartbeatRequest()
		hr.Version, hr.Group, hr.Generation, hr.MemberID = hv, group, m.gen, m.id
		hresp := c.Heartbeat(ctx, hr)
		roundTrip(t, "Heartbeat", hv, hresp)
		wantCode(t, fmt.Sprintf("Heartbeat v%d", hv), hresp.ErrorCode, nil)

		lv := min(v, LeaveGroupMaxVersion)
		lr := kmsg.NewPtrLeaveGroupRequest()
		lr.Version, lr.Group, lr.MemberID = lv, group, m.id
		lr.Members = []kmsg.LeaveGroupRequestMember{{MemberID: m.id}}
		lresp := c.LeaveGroup(ctx, lr)
		roundTrip(t, "LeaveGroup", lv, lresp)
		if lresp.ErrorCode != 0 || (lv >= 3 && lresp.Members[0].ErrorCode != 0) {
			t.Fatalf("LeaveGroup v%d: %+v", lv, lresp)
		}
	}
	for v := int16(0); v <= OffsetCommitMaxVersion; v++ {
		cr := c.OffsetCommit(ctx, commitReq(v, "enc", -1, "", commitPart{"t", 0, int64(v), -1, kmsg.StringPtr("x")}))
		roundTrip(t, "OffsetCommit", v, cr)
		wantCode(t, fmt.Sprintf("OffsetCommit v%d", v), cr.Topics[0].Partitions[0].ErrorCode, nil)
	}
	for v := int16(0); v <= OffsetFetchMaxVersion; v++ {
		fr := kmsg.NewPtrOffsetFetchRequest()
		fr.Version = v
		fr.Group = "enc"
		fr.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "t", Partitions: []int32{0}}}
		g := kmsg.NewOffsetFetchRequestGroup()
		g.Group = "enc"
		g.Topics = []kmsg.OffsetFetchRequestGroupTopic{{Topic: "t", Partitions: []int32{0}}}
		fr.Groups = []kmsg.OffsetFetchRequestGroup{g}
		fresp := c.OffsetFetch(ctx, fr)
		roundTrip(t, "OffsetFetch", v, fresp)
		var off int64
		if v >= 8 {
			off = fresp.Groups[0].Topics[0].Partitions[0].Offset
		} else {
			off = fresp.Topics[0].Partitions[0].Offset
		}
		if off != int64(OffsetCommitMaxVersion) {
			t.Fatalf("OffsetFetch v%d: offset %d", v, off)
		}
	}
	for v := int16(0); v <= DescribeGroupsMaxVersion; v++ {
		dr := kmsg.NewPtrDescribeGroupsRequest()
		dr.Version = v
		dr.Groups = []string{"enc", "enc-0", "none"}
		roundTrip(t, "DescribeGroups", v, c.DescribeGroups(ctx, dr))
	}
	for v := int16(0); v <= ListGroupsMaxVersion; v++ {
		lr := kmsg.NewPtrListGroupsRequest()
		lr.Version = v
		lresp := c.ListGroups(ctx, lr)
		roundTrip(t, "ListGroups", v, lresp)
		if len(lresp.Groups) != int(JoinGroupMaxVersion)+2 {
			t.Fatalf("ListGroups v%d: %d groups", v, len(lresp.Groups))
		}
	}
	odr := kmsg.NewPtrOffsetDeleteRequest()
	odr.Group = "enc"
	odr.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}}}
	roundTrip(t, "OffsetDelete", 0, c.OffsetDelete(ctx, odr))
	for v := int16(0); v <= DeleteGroupsMaxVersion; v++ {
		dr := kmsg.NewPtrDeleteGroupsRequest()
		dr.Version = v
		dr.Groups = []string{fmt.Sprintf("enc-%d", v)}
		dresp := c.DeleteGroups(ctx, dr)
		roundTrip(t, "DeleteGroups", v, dresp)
		wantCode(t, fmt.Sprintf("DeleteGroups v%d", v), dresp.Groups[0].ErrorCode, nil)
	}
}

// ownGoroutines returns the stacks of goroutines running this package's
// coordinator code.
func ownGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "ingest/group.(*Coordinator)") || strings.Contains(g, "ingest/group.(*group)") {
			out = append(out, g)
		}
	}
	return out
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	cfg := testConfig()
	c := New(cfg, newMemStore())
	ctx := context.Background()

	// A stable group with session timers, a group mid-rebalance with a
	// blocked join, a pending member id, and a waiting follower sync.
	a := newMember(t, c, "g1", "t")
	stableGroup(t, a)
	b, b2 := newMember(t, c, "g2", "t"), newMember(t, c, "g2", "t")
	stableGroup(t, b, b2)
	b.protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: consumerMeta("t", "u")}}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		b.join(ctx)
	}()
	p := newMember(t, c, "g3", "t")
	wantCode(t, "pending", p.joinOnce(ctx).ErrorCode, kerr.MemberIDRequired)
	waitFor(t, "the blocked join", func() bool { return len(ownGoroutines()) > 0 })

	c.Close()
	wg.Wait()
	waitFor(t, "coordinator goroutines to end", func() bool { return len(ownGoroutines()) == 0 })
}
