package group

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestSingleMemberJoinSync(t *testing.T) {
	c := newTestCoordinator(t, testConfig(), nil)
	ctx := context.Background()
	m := newMember(t, c, "g", "t1", "t2")

	// v4+: an unknown member first gets an id.
	r := m.joinOnce(ctx)
	wantCode(t, "first join", r.ErrorCode, kerr.MemberIDRequired)
	if !strings.HasPrefix(r.MemberID, "client-") {
		t.Fatalf("assigned member id %q, want client id prefix", r.MemberID)
	}
	// Not a member yet: heartbeats are refused.
	wantCode(t, "heartbeat before join", m.heartbeat(), kerr.UnknownMemberID)

	r = m.joinOnce(ctx)
	wantCode(t, "join", r.ErrorCode, nil)
	if r.Generation != 1 || r.LeaderID != m.id || r.MemberID != m.id {
		t.Fatalf("join: generation %d leader %q member %q, want 1, %q, %q", r.Generation, r.LeaderID, r.MemberID, m.id, m.id)
	}
	if r.Protocol == nil || *r.Protocol != "range" || r.ProtocolType == nil || *r.ProtocolType != "consumer" {
		t.Fatalf("join: protocol %v type %v", r.Protocol, r.ProtocolType)
	}
	if len(r.Members) != 1 || r.Members[0].MemberID != m.id {
		t.Fatalf("leader got members %+v", r.Members)
	}
	var md kmsg.ConsumerMemberMetadata
	if err := md.ReadFrom(r.Members[0].ProtocolMetadata); err != nil || !slices.Equal(md.Topics, []string{"t1", "t2"}) {
		t.Fatalf("leader got metadata topics %v (%v)", md.Topics, err)
	}
	if d := describe(t, c, "g"); d.State != "CompletingRebalance" {
		t.Fatalf("state %s after join, want CompletingRebalance", d.State)
	}

	assign := consumerAssignment("t1", 0, 1)
	s := m.sync(ctx, map[string][]byte{m.id: assign})
	wantCode(t, "sync", s.ErrorCode, nil)
	if string(s.MemberAssignment) != string(assign) || s.Protocol == nil || *s.Protocol != "range" {
		t.Fatalf("sync: assignment %x protocol %v", s.MemberAssignment, s.Protocol)
	}
	wantCode(t, "heartbeat", m.heartbeat(), nil)

	d := describe(t, c, "g")
	if d.State != "Stable" || d.Protocol != "range" || d.ProtocolType != "consumer" || len(d.Members) != 1 {
		t.Fatalf("describe: %+v", d)
	}
	dm := d.Members[0]
	if dm.MemberID != m.id || dm.ClientID != "client" || dm.ClientHost != "/127.0.0.1" ||
		string(dm.MemberAssignment) != string(assign) || string(dm.ProtocolMetadata) != string(consumerMeta("t1", "t2")) {
		t.Fatalf("describe member: %+v", dm)
	}

	// A follower-style rejoin with the same metadata by a non-leader would
	// not rebalance; the leader's rejoin does.
	r = m.join(ctx)
	wantCode(t, "leader rejoin", r.ErrorCode, nil)
	if r.Generation != 2 {
		t.Fatalf("leader rejoin generation %d, want 2", r.Generation)
	}
}

func TestOldVersionJoinHasNoMemberIDRequired(t *testing.T) {
	c := newTestCoordinator(t, testConfig(), nil)
	ctx := context.Background()
	for _, v := range []int16{0, 1, 3} {
		m := newMember(t, c, "g-old", "t")
		m.version = v
		if v == 0 {
			m.rebalance = 0
		}
		r := m.joinOnce(ctx)
		wantCode(t, "join", r.ErrorCode, nil)
		if r.MemberID == "" || r.LeaderID != r.MemberID {
			t.Fatalf("v%d: member %q leader %q", v, r.MemberID, r.LeaderID)
		}
		m.sync(ctx, map[string][]byte{m.id: []byte("a")})
		wantCode(t, "leave", m.leave(), nil)
	}
}

func TestThreeMembers(t *testing.T) {
	c := newTestCoordinator(t, testConfig(), nil)
	ms := []*tmember{
		newMember(t, c, "g3", "a"),
		newMember(t, c, "g3", "b"),
		newMember(t, c, "g3", "a", "b"),
	}
	ctx := context.Background()
	for _, m := range ms {
		wantCode(t, "first join", m.joinOnce(ctx).ErrorCode, kerr.MemberIDRequired)
	}
	chs := make([]<-chan *kmsg.JoinGroupResponse, len(ms))
	for i, m := range ms {
		chs[i] = m.goJoin(ctx)
		if i < len(ms)-1 {
			blocked(t, "join before all members joined", chs[i])
		}
	}
	var leader string
	nleaders := 0
	resps := make([]*kmsg.JoinGroupResponse, len(ms))
	for i := range ms {
		resps[i] = recvJoin(t, chs[i])
	}
	for i, m := range ms {
		r := resps[i]
		wantCode(t, "join", r.ErrorCode, nil)
		if r.Generation != 1 {
			t.Fatalf("generation %d", r.Generation)
		}
		if leader == "" {
			leader = r.LeaderID
		} else if r.LeaderID != leader {
			t.Fatalf("members disagree on the leader: %q vs %q", r.LeaderID, leader)
		}
		if r.LeaderID == m.id {
			nleaders++
			if len(r.Members) != 3 {
				t.Fatalf("leader got %d members", len(r.Members))
			}
			for _, jm := range r.Members {
				idx := slices.IndexFunc(ms, func(x *tmember) bool { return x.id == jm.MemberID })
				if idx < 0 || string(jm.ProtocolMetadata) != string(ms[idx].protocols[0].Metadata) {
					t.Fatalf("leader got bad member metadata %+v", jm)
				}
			}
		} else if len(r.Members) != 0 {
			t.Fatalf("follower got %d members", len(r.Members))
		}
	}
	if nleaders != 1 {
		t.Fatalf("%d leaders", nleaders)
	}

	// Followers sync first and wait for the leader.
	assign := map[string][]byte{}
	for i, m := range ms {
		assign[m.id] = consumerAssignment("t", int32(i))
	}
	syncs := make([]<-chan *kmsg.SyncGroupResponse, len(ms))
	for i, m := range ms {
		if m.id != leader {
			syncs[i] = m.goSync(ctx, nil)
		}
	}
	for i, m := range ms {
		if m.id != leader {
			blocked(t, "follower sync before the leader's", syncs[i])
		}
	}
	// Heartbeats during CompletingRebalance are fine.
	for _, m := range ms {
		wantCode(t, "heartbeat while completing", m.heartbeat(), nil)
	}
	for i, m := range ms {
		if m.id == leader {
			syncs[i] = m.goSync(ctx, assign)
		}
	}
	for i, m := range ms {
		r := recvSync(t, syncs[i])
		wantCode(t, "sync", r.ErrorCode, nil)
		if string(r.MemberAssignment) != string(assign[m.id]) {
			t.Fatalf("member %d: assignment %x, want %x", i, r.MemberAssignment, assign[m.id])
		}
	}
	d := describe(t, c, "g3")
	if d.State != "Stable" || len(d.Members) != 3 {
		t.Fatalf("describe: state %s, %d members", d.State, len(d.Members))
	}
}

func TestMemberJoiningTriggersRebalance(t *testing.T) {
	c := newTestCoordinator(t, testConfig(), nil)
	ctx := context.Background()
	a := newMember(t, c, "g", "t")
	stableGroup(t, a)
	if a.gen != 1 {
		t.Fatalf("generation %d", a.gen)
	}

	b := newMember(t, c, "g", "t")
	bch := b.goJoin(ctx)
	waitFor(t, "rebalance", func() bool { return describe(t, c, "g").State == "PreparingRebalance" })
	blocked(t, "new member's join while the old member has not rejoined", bch)

	// The existing member learns of the rebalance from its heartbeat, and
	// its commits are still accepted meanwhile (as Kafka).
	wantCode(t, "heartbeat", a.heartbeat(), kerr.RebalanceInProgress)
	wantCode(t, "commit during PreparingRebalance", a.commit("t", 0, 5, ""), nil)
	wantCode(t, "sync during PreparingRebalance", a.sync(ctx, nil).ErrorCode, kerr.RebalanceInProgress)

	ra := a.mustJoin(ctx)
	rb := recvJoin(t, bch)
	wantCode(t, "b join", rb.ErrorCode, nil)
	if ra.Generation != 2 || rb.Generation != 2 {
		t.Fatalf("generations %d, %d, want 2", ra.Generation, rb.Generation)
	}
	if ra.LeaderID != a.id || rb.LeaderID != a.id || len(ra.Members) != 2 || len(rb.Members) != 0 {
		t.Fatalf("leader %q/%q, members %d/%d", ra.LeaderID, rb.LeaderID, len(ra.Members), len(rb.Members))
	}
	// The old generation is over.
	old := *a
	old.gen = 1
	wantCode(t, "old generation heartbeat", old.heartbeat(), kerr.IllegalGeneration)
}

func TestSessionExpiryRemovesMember(t *testing.T) {
	c := newTestCoordinator(t, testConfig(), nil)
	ctx := context.Background()
	a := newMember(t, c, "g", "t")
	b := newMember(t, c, "g", "t")
	b.session = 150 * time.Millisecond
	stableGroup(t, a, b)

	// a heartbeats, b is silent: b's session expires and a is told to
	// rejoin.
	waitFor(t, "rebalance after b's session expiry", func() bool {
		code := a.heartbeat()
		if code != 0 && code != kerr.RebalanceInProgress.Code {
			t.Fatalf("heartbeat: %s", errName(code))
		}
		return code == kerr.RebalanceInProgress.Code
	})
	r := a.mustJoin(ctx)
	if r.Generation != 2 || len(r.Members) != 1 || r.Members[0].MemberID != a.id {
		t.Fatalf("after expiry: generation %d members %+v", r.Generation, r.Members)
	}
	wantCode(t, "expired member heartbeat", b.heartbeat(), kerr.UnknownMemberID)
	wantCode(t, "expired member sync", b.sync(ctx, nil).ErrorCode, kerr.UnknownMemberID)
}

func TestLeaveTriggersRebalance(t *testing.T) {
	c := newTestCoordinator(t, testConfig(), nil)
	ctx := context.Background()
	a := newMember(t, c, "g", "t")
	b := newMember(t, c, "g", "t")
	stableGroup(t, a, b)

	wantCode(t, "leave", b.leave(), nil)
	wantCode(t, "heartbeat after leave", a.heartbeat(), kerr.RebalanceInProgress)
	r := a.mustJoin(ctx)
	if r.Generation != 2 || len(r.Members) != 1 {
		t.Fatalf("generation %d, %d members", r.Generation, len(r.Members))
	}
	wantCode(t, "second leave", b.leave(), kerr.UnknownMemberID)

	// v0 leave: top-level error.
	a.sync(ctx, map[string][]byte{a.id: []byte("x")})
	lr := kmsg.NewPtrLeaveGroupRequest()
	lr.Group, lr.MemberID = "g", a.id
	resp := c.LeaveGroup(ctx, lr)
	wantCode(t, "v0 leave", resp.ErrorCode, nil)
	resp = c.LeaveGroup(ctx, lr)
	wantCode(t, "v0 leave again", resp.ErrorCode, kerr.UnknownMemberID)
	if d := describe(t, c, "g"); d.State != "Empty" || len(d.Members) != 0 {
		t.Fatalf("after everyone left: %+v", d)
	}
}

func TestLeaveWakesWaitingJoin(t *testing.T) {
	c := newTestCoordinator(t, testConfig(), nil)
	ctx := context.Background()
	a := newMember(t, c, "g", "t")
	b := newMember(t, c, "g", "t")
	stableGroup(t, a, b)

	// b rejoins (with new metadata) and waits for a; a leaves instead, so
	// the rebalance completes with b alone.
	b.protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: consumerMeta("t", "u")}}
	bch := b.goJoin(ctx)
	blocked(t, "join", bch)
	wantCode(t, "leave", a.leave(), nil)
	r := recvJoin(t, bch)
	wantCode(t, "join", r.ErrorCode, nil)
	if r.Generation != 2 || r.LeaderID != b.id || len(r.Members) != 1 {
		t.Fatalf("generation %d leader %q members %d", r.Generation, r.LeaderID, len(r.Members))
	}
}

func TestRebalanceTimeoutRemovesMembersThatDoNotRejoin(t *testing.T) {
	c := newTestCoordinator(t, testConfig(), nil)
	ctx := context.Background()
	a := newMember(t, c, "g", "t")
	b := newMember(t, c, "g", "t")
	a.rebalance, b.rebalance = 100*time.Millisecond, 100*time.Millisecond
	stableGroup(t, a, b)

	// a rejoins with new metadata, which rebalances; b never rejoins.
	a.protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: consumerMeta("t", "u")}}
	start := time.Now()
	r := a.mustJoin(ctx)
	if time.Since(start) < 80*time.Millisecond {
		t.Fatalf("join completed after %v, before the rebalance timeout", time.Since(start))
	}
	if r.Generation != 2 || len(r.Members) != 1 || r.Members[0].MemberID != a.id {
		t.Fatalf("generation %d members %+v", r.Generation, r.Members)
	}
	wantCode(t, "removed member heartbeat", b.heartbeat(), kerr.UnknownMemberID)
}

func TestPendingSyncExpiry(t *testing.T) {
	c := newTestCoordinator(t, testConfig(), nil)
	ctx := context.Background()
	a := newMember(t, c, "g", "t")
	b := newMember(t, c, "g", "t")
	a.rebalance, b.rebalance = 100*time.Millisecond, 100*time.Millisecond
	for _, m := range []*tmember{a, b} {
		wantCode(t, "first join", m.joinOnce(ctx).ErrorCode, kerr.MemberIDRequired)
	}
	ach, bch := a.goJoin(ctx), b.goJoin(ctx)
	ra, rb := recvJoin(t, ach), recvJoin(t, bch)
	leader, follower := a, b
	if ra.LeaderID != a.id {
		leader, follower = b, a
	}
	_ = rb
	// Only the leader syncs; the follower never does and is removed at
	// the rebalance timeout, which rebalances the group.
	s := leader.sync(ctx, map[string][]byte{leader.id: []byte("l"), follower.id: []byte("f")})
	wantCode(t, "leader sync", s.ErrorCode, nil)
	waitFor(t, "rebalance after pending sync expiry", func() bool {
		return leader.heartbeat() == kerr.RebalanceInProgress.Code
	})
	r := leader.mustJoin(ctx)
	if r.Generation != 2 || len(r.Members) != 1 {
		t.Fatalf("generation %d, %d members", r.Generation, len(r.Members))
	}
}

func TestRebalanceDuringCompletingFailsWaitingSync(t *testing.T) {
	c := newTestCoordinator(t, testConfig(), nil)
	ctx := context.Background()
	a := newMember(t, c, "g", "t")
	b := newMember(t, c, "g", "t")
	for _, m := range []*tmember{a, b} {
		wantCode(t, "first join", m.joinOnce(ctx).ErrorCode, kerr.MemberIDRequired)
	}
	ach, bch := a.goJoin(ctx), b.goJoin(ctx)
	ra := recvJoin(t, ach)
	recvJoin(t, bch)
	follower := b
	if ra.LeaderID != a.id {
		follower = a
	}
	sch := follower.goSync(ctx, nil)
	blocked(t, "follower sync", sch)
	// A new member arrives before the leader syncs.
	n := newMember(t, c, "g", "t")
	wantCode(t, "new member", n.joinOnce(ctx).ErrorCode, kerr.MemberIDRequired)
	nch := n.goJoin(ctx)
	wantCode(t, "waiting sync", recvSync(t, sch).ErrorCode, kerr.RebalanceInProgress)
	blocked(t, "new member join", nch)
}

func TestStaticMembership(t *testing.T) {
	cfg := testConfig()
	cfg.InitialRebalanceDelay = 200 * time.Millisecond
	c := newTestCoordinator(t, cfg, nil)
	ctx := context.Background()
	a := newMember(t, c, "g", "t").static("inst-a")
	b := newMember(t, c, "g", "t").static("inst-b")

	// Static members join at once (no MEMBER_ID_REQUIRED); the initial
	// delay gathers both into the first generation.
	assign := stableGroup(t, a, b)
	if a.gen != 1 || !strings.HasPrefix(a.id, "inst-a-") {
		t.Fatalf("generation %d member id %q", a.gen, a.id)
	}
	leader, follower := a, b
	if r := describe(t, c, "g"); r.State != "Stable" {
		t.Fatalf("state %s", r.State)
	}
	if g, _ := c.lockGroup("g", false); g != nil {
		if g.leader != a.id {
			leader, follower = b, a
		}
		g.mu.Unlock()
	}

	// The follower restarts: it rejoins with its instance id and no member
	// id. The group is Stable, so no rebalance: it gets a new member id,
	// the current generation, and its old assignment through SyncGroup.
	oldID := follower.id
	restarted := *follower
	restarted.id = ""
	r := restarted.joinOnce(ctx)
	wantCode(t, "static rejoin", r.ErrorCode, nil)
	if r.MemberID == oldID || r.Generation != 1 || r.LeaderID != leader.id || len(r.Members) != 0 {
		t.Fatalf("static rejoin: member %q (old %q) generation %d leader %q members %d",
			r.MemberID, oldID, r.Generation, r.LeaderID, len(r.Members))
	}
	s := restarted.sync(ctx, nil)
	wantCode(t, "static sync", s.ErrorCode, nil)
	if string(s.MemberAssignment) != string(assign[oldID]) {
		t.Fatalf("static member got assignment %x, want its old %x", s.MemberAssignment, assign[oldID])
	}
	wantCode(t, "leader heartbeat (no rebalance)", leader.heartbeat(), nil)
	wantCode(t, "restarted heartbeat", restarted.heartbeat(), nil)
	if d := describe(t, c, "g"); d.State != "Stable" || len(d.Members) != 2 {
		t.Fatalf("describe: %s, %d members", d.State, len(d.Members))
	}

	// The old incarnation is fenced.
	wantCode(t, "old member heartbeat", follower.heartbeat(), kerr.FencedInstanceID)
	wantCode(t, "old member sync", follower.sync(ctx, nil).ErrorCode, kerr.FencedInstanceID)
	wantCode(t, "old member commit", follower.commit("t", 0, 1, ""), kerr.FencedInstanceID)
	wantCode(t, "old member join", follower.joinOnce(ctx).ErrorCode, kerr.FencedInstanceID)

	// The leader restarts: with JoinGroup v9 it is told it leads but must
	// skip the assignment (KIP-814); still no rebalance.
	rl := *leader
	rl.id = ""
	r = rl.joinOnce(ctx)
	wantCode(t, "static leader rejoin", r.ErrorCode, nil)
	if !r.SkipAssignment || r.LeaderID != rl.id || len(r.Members) != 2 || r.Generation != 1 {
		t.Fatalf("leader rejoin: skip %v leader %q (self %q) members %d generation %d",
			r.SkipAssignment, r.LeaderID, rl.id, len(r.Members), r.Generation)
	}
	wantCode(t, "restarted heartbeat", restarted.heartbeat(), nil)

	// Leave by instance id only.
	lr := kmsg.NewPtrLeaveGroupRequest()
	lr.Version = 3
	lr.Group = "g"
	lr.Members = []kmsg.LeaveGroupRequestMember{{InstanceID: kmsg.StringPtr("inst-b")}, {InstanceID: kmsg.StringPtr("nope")}}
	resp := c.LeaveGroup(ctx, lr)
	if len(resp.Members) != 2 || resp.Members[0].ErrorCode != 0 || resp.Members[1].ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("batch leave: %+v", resp.Members)
	}
	if d := describe(t, c, "g"); d.State != "PreparingRebalance" || len(d.Members) != 1 {
		t.Fatalf("after leave: %s, %d members", d.State, len(d.Members))
	}
}

func TestStaticLeaderRejoinBeforeV9(t *testing.T) {
	cfg := testConfig()
	c := newTestCoordinator(t, cfg, nil)
	ctx := context.Background()
	a := newMember(t, c, "g", "t").static("inst-a")
	a.version = 5
	stableGroup(t, a)
	oldID := a.id
	re := *a
	re.id = ""
	r := re.joinOnce(ctx)
	wantCode(t, "rejoin", r.ErrorCode, nil)
	// Before v9 the previous leader id is reported so the client does not
	// reassign.
	if r.LeaderID != oldID || r.MemberID == oldID || len(r.Members) != 0 {
		t.Fatalf("leader %q (old %q) member %q members %d", r.LeaderID, oldID, r.MemberID, len(r.Members))
	}
}

func TestMemberIDRequiredFlow(t *testing.T) {
	c := newTestCoordinator(t, testConfig(), nil)
	ctx := context.Background()
	a := newMember(t, c, "g", "t")
	stableGroup(t, a)

	// A member that got MEMBER_ID_REQUIRED blocks the next rebalance
	// until it joins.
	b := newMember(t, c, "g", "t")
	wantCode(t, "first join", b.joinOnce(ctx).ErrorCode, kerr.MemberIDRequired)
	if d := describe(t, c, "g"); d.State != "Stable" || len(d.Members) != 1 {
		t.Fatalf("a pending member changed the group: %s, %d members", d.State, len(d.Members))
	}
	ach := a.goJoin(ctx) // leader rejoin starts a rebalance
	blocked(t, "rebalance with an outstanding member id", ach)
	rb := b.mustJoin(ctx)
	ra := recvJoin(t, ach)
	if ra.Generation != 2 || rb.Generation != 2 || len(ra.Members) != 2 {
		t.Fatalf("generations %d/%d, leader saw %d members", ra.Generation, rb.Generation, len(ra.Members))
	}

	// An unknown, non-empty member id is refused.
	x := newMember(t, c, "g", "t")
	x.id = "made-up"
	wantCode(t, "unknown member join", x.joinOnce(ctx).ErrorCode, kerr.UnknownMemberID)
	x.group = "no-such-group"
	wantCode(t, "unknown member join, unknown group", x.joinOnce(ctx).ErrorCode, kerr.UnknownMemberID)
}

func TestPendingMemberExpiresAndGroupIsForgotten(t *testing.T) {
	c := newTestCoordinator(t, testConfig(), nil)
	ctx := context.Background()
	m := newMember(t, c, "ghost", "t")
	m.session = 50 * time.Millisecond
	wantCode(t, "first join", m.joinOnce(ctx).ErrorCode, kerr.MemberIDRequired)
	waitFor(t, "pending member expiry", func() bool { return describe(t, c, "ghost").State == "Dead" })
	wantCode(t, "join with expired id", m.joinOnce(ctx).ErrorCode, kerr.UnknownMemberID)
}

func TestIllegalGenerationAndUnknownMember(t *testing.T) {
	c := newTestCoordinator(t, testConfig(), nil)
	ctx := context.Background()
	a := newMember(t, c, "g", "t")
	stableGroup(t, a)

	bad := *a
	bad.gen = 7
	wantCode(t, "heartbeat", bad.heartbeat(), kerr.IllegalGeneration)
	wantCode(t, "sync", bad.sync(ctx, nil).ErrorCode, kerr.IllegalGeneration)
	wantCode(t, "commit", bad.commit("t", 0, 1, ""), kerr.IllegalGeneration)

	unknown := *a
	unknown.id = "nobody"
	wantCode(t, "heartbeat", unknown.heartbeat(), kerr.UnknownMemberID)
	wantCode(t, "sync", unknown.sync(ctx, nil).ErrorCode, kerr.UnknownMemberID)
	wantCode(t, "commit", unknown.commit("t", 0, 1, ""), kerr.UnknownMemberID)
	wantCode(t, "leave", unknown.leave(), kerr.UnknownMemberID)

	nogroup := *a
	nogroup.group = "nope"
	wantCode(t, "heartbeat, no group", nogroup.heartbeat(), kerr.UnknownMemberID)
	wantCode(t, "sync, no group", nogroup.sync(ctx, nil).ErrorCode, kerr.UnknownMemberID)
	wantCode(t, "commit, no group (v9)", nogroup.commit("t", 0, 1, ""), kerr.GroupIDNotFound)

	// SyncGroup v5 protocol checks.
	sr := a.syncRequest(nil)
	sr.Protocol = kmsg.StringPtr("roundrobin")
	wantCode(t, "sync wrong protocol", c.SyncGroup(ctx, sr).ErrorCode, kerr.InconsistentGroupProtocol)
	sr = a.syncRequest(nil)
	sr.ProtocolType = kmsg.StringPtr("connect")
	wantCode(t, "sync wrong protocol type", c.SyncGroup(ctx, sr).ErrorCode, kerr.InconsistentGroupProtocol)
}

func TestJoinValidation(t *testing.T) {
	cfg := testConfig()
	cfg.MinSessionTimeout = 100 * time.Millisecond
	cfg.MaxSessionTimeout = 10 * time.Second
	cfg.MaxSize = 2
	c := newTestCoordinator(t, cfg, nil)
	ctx := context.Background()

	m := newMember(t, c, "", "t")
	wantCode(t, "empty group id", m.joinOnce(ctx).ErrorCode, kerr.InvalidGroupID)

	m = newMember(t, c, "g", "t")
	m.session = 50 * time.Millisecond
	wantCode(t, "short session", m.joinOnce(ctx).ErrorCode, kerr.InvalidSessionTimeout)
	m.session = 11 * time.Second
	wantCode(t, "long session", m.joinOnce(ctx).ErrorCode, kerr.InvalidSessionTimeout)

	m = newMember(t, c, "g", "t")
	m.session = time.Second
	m.protocols = nil
	wantCode(t, "no protocols", m.joinOnce(ctx).ErrorCode, kerr.InconsistentGroupProtocol)
	if d := describe(t, c, "g"); d.State != "Dead" {
		t.Fatalf("a failed first join left group state %s", d.State)
	}

	a, b := newMember(t, c, "g", "t"), newMember(t, c, "g", "t")
	a.session, b.session = time.Second, time.Second
	stableGroup(t, a, b)

	third := newMember(t, c, "g", "t")
	third.session = time.Second
	wantCode(t, "group full", third.joinOnce(ctx).ErrorCode, kerr.GroupMaxSizeReached)

	other := newMember(t, c, "g", "t")
	other.session = time.Second
	other.protocols = []kmsg.JoinGroupRequestProtocol{{Name: "roundrobin", Metadata: consumerMeta("t")}}
	wantCode(t, "no common protocol", other.joinOnce(ctx).ErrorCode, kerr.InconsistentGroupProtocol)
	r := other.joinRequest()
	r.ProtocolType = "connect"
	r.Protocols = a.protocols
	wantCode(t, "other protocol type", c.JoinGroup(ctx, r).ErrorCode, kerr.InconsistentGroupProtocol)
}

func TestProtocolSelectionByVotes(t *testing.T) {
	c := newTestCoordinator(t, testConfig(), nil)
	proto := func(names ...string) []kmsg.JoinGroupRequestProtocol {
		var ps []kmsg.JoinGroupRequestProtocol
		for _, n := range names {
			ps = append(ps, kmsg.JoinGroupRequestProtocol{Name: n, Metadata: []byte(n)})
		}
		return ps
	}
	a, b, d := newMember(t, c, "g", "t"), newMember(t, c, "g", "t"), newMember(t, c, "g", "t")
	a.protocols = proto("sticky", "range", "roundrobin")
	b.protocols = proto("roundrobin", "range")
	d.protocols = proto("roundrobin", "sticky", "range")
	// "sticky" is not supported by b; of range and roundrobin, roundrobin
	// has 2 first-choice votes, range 1 (a's first supported choice).
	ctx := context.Background()
	for _, m := range []*tmember{a, b, d} {
		wantCode(t, "first join", m.joinOnce(ctx).ErrorCode, kerr.MemberIDRequired)
	}
	chs := []<-chan *kmsg.JoinGroupResponse{a.goJoin(ctx), b.goJoin(ctx), d.goJoin(ctx)}
	for _, ch := range chs {
		r := recvJoin(t, ch)
		wantCode(t, "join", r.ErrorCode, nil)
		if *r.Protocol != "roundrobin" {
			t.Fatalf("selected %q, want roundrobin", *r.Protocol)
		}
		for _, jm := range r.Members {
			if string(jm.ProtocolMetadata) != "roundrobin" {
				t.Fatalf("leader got metadata %q of another protocol", jm.ProtocolMetadata)
			}
		}
	}
}

func TestInitialRebalanceDelay(t *testing.T) {
	cfg := testConfig()
	cfg.InitialRebalanceDelay = 150 * time.Millisecond
	c := newTestCoordinator(t, cfg, nil)
	ctx := context.Background()
	a, b := newMember(t, c, "g", "t"), newMember(t, c, "g", "t")
	wantCode(t, "a first join", a.joinOnce(ctx).ErrorCode, kerr.MemberIDRequired)
	start := time.Now()
	ach := a.goJoin(ctx)
	// b comes later but within the delay: both are in generation 1.
	time.Sleep(50 * time.Millisecond)
	wantCode(t, "b first join", b.joinOnce(ctx).ErrorCode, kerr.MemberIDRequired)
	rb := b.mustJoin(ctx)
	ra := recvJoin(t, ach)
	if el := time.Since(start); el < 140*time.Millisecond {
		t.Fatalf("first rebalance completed after %v, before the initial delay", el)
	}
	if ra.Generation != 1 || rb.Generation != 1 || ra.LeaderID != a.id || len(ra.Members) != 2 {
		t.Fatalf("generations %d/%d leader %q members %d", ra.Generation, rb.Generation, ra.LeaderID, len(ra.Members))
	}
}

func TestJoinCtxCancel(t *testing.T) {
	cfg := testConfig()
	cfg.InitialRebalanceDelay = time.Minute
	c := newTestCoordinator(t, cfg, nil)
	m := newMember(t, c, "g", "t")
	m.rebalance = time.Minute
	wantCode(t, "first join", m.joinOnce(context.Background()).ErrorCode, kerr.MemberIDRequired)
	ctx, cancel := context.WithCancel(context.Background())
	ch := m.goJoin(ctx)
	blocked(t, "join during the initial delay", ch)
	cancel()
	r := recvJoin(t, ch)
	if r.ErrorCode == 0 {
		t.Fatal("cancelled join returned success")
	}

	// SyncGroup honours ctx too.
	cfg.InitialRebalanceDelay = -1
	c2 := newTestCoordinator(t, cfg, nil)
	a, b := newMember(t, c2, "g", "t"), newMember(t, c2, "g", "t")
	for _, x := range []*tmember{a, b} {
		wantCode(t, "first join", x.joinOnce(context.Background()).ErrorCode, kerr.MemberIDRequired)
	}
	ach, bch := a.goJoin(context.Background()), b.goJoin(context.Background())
	ra := recvJoin(t, ach)
	recvJoin(t, bch)
	follower := b
	if ra.LeaderID != a.id {
		follower = a
	}
	sctx, scancel := context.WithCancel(context.Background())
	sch := follower.goSync(sctx, nil)
	blocked(t, "follower sync", sch)
	scancel()
	if r := recvSync(t, sch); r.ErrorCode == 0 {
		t.Fatal("cancelled sync returned success")
	}
}

func TestCloseFailsWaitersAndStops(t *testing.T) {
	cfg := testConfig()
	cfg.InitialRebalanceDelay = time.Minute
	st := newMemStore()
	c := New(cfg, st)
	m := newMember(t, c, "g", "t")
	m.rebalance = time.Minute
	wantCode(t, "first join", m.joinOnce(context.Background()).ErrorCode, kerr.MemberIDRequired)
	ch := m.goJoin(context.Background())
	blocked(t, "join", ch)
	c.Close()
	wantCode(t, "join after close", recvJoin(t, ch).ErrorCode, kerr.CoordinatorNotAvailable)
	c.Close() // idempotent

	n := newMember(t, c, "g2", "t")
	wantCode(t, "join", n.joinOnce(context.Background()).ErrorCode, kerr.CoordinatorNotAvailable)
	wantCode(t, "heartbeat", n.heartbeat(), kerr.CoordinatorNotAvailable)
	wantCode(t, "commit", n.commit("t", 0, 1, ""), kerr.CoordinatorNotAvailable)
	if st.commitCalls() != 0 {
		t.Fatal("commit reached the store after Close")
	}
}
