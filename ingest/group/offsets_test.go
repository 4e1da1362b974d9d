package group

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type commitPart struct {
	topic     string
	partition int32
	offset    int64
	epoch     int32
	metadata  *string
}

func commitReq(version int16, group string, gen int32, member string, parts ...commitPart) *kmsg.OffsetCommitRequest {
	r := kmsg.NewPtrOffsetCommitRequest()
	r.Version = version
	r.Group = group
	r.Generation = gen
	r.MemberID = member
	for _, p := range parts {
		i := len(r.Topics) - 1
		if i < 0 || r.Topics[i].Topic != p.topic {
			rt := kmsg.NewOffsetCommitRequestTopic()
			rt.Topic = p.topic
			r.Topics = append(r.Topics, rt)
			i++
		}
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition = p.partition
		rp.Offset = p.offset
		rp.LeaderEpoch = p.epoch
		rp.Metadata = p.metadata
		r.Topics[i].Partitions = append(r.Topics[i].Partitions, rp)
	}
	return r
}

// commitCodes flattens a commit response to "topic/partition" -> code.
func commitCodes(resp *kmsg.OffsetCommitResponse) map[string]int16 {
	out := map[string]int16{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			out[fmt.Sprintf("%s/%d", t.Topic, p.Partition)] = p.ErrorCode
		}
	}
	return out
}

func fetchV7(c *Coordinator, group string, topics map[string][]int32) *kmsg.OffsetFetchResponse {
	r := kmsg.NewPtrOffsetFetchRequest()
	r.Version = 7
	r.Group = group
	if topics != nil {
		r.Topics = []kmsg.OffsetFetchRequestTopic{}
		for t, ps := range topics {
			r.Topics = append(r.Topics, kmsg.OffsetFetchRequestTopic{Topic: t, Partitions: ps})
		}
	}
	return c.OffsetFetch(context.Background(), r)
}

type fetched struct {
	offset int64
	epoch  int32
	meta   string
}

func fetchedV7(t *testing.T, resp *kmsg.OffsetFetchResponse) map[string]fetched {
	t.Helper()
	wantCode(t, "fetch", resp.ErrorCode, nil)
	out := map[string]fetched{}
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			wantCode(t, "fetch partition", p.ErrorCode, nil)
			md := ""
			if p.Metadata != nil {
				md = *p.Metadata
			}
			out[fmt.Sprintf("%s/%d", rt.Topic, p.Partition)] = fetched{p.Offset, p.LeaderEpoch, md}
		}
	}
	return out
}

func TestOffsetCommitFetchRoundTrip(t *testing.T) {
	st := newMemStore()
	cfg := testConfig()
	cfg.PartitionExists = func(topic string, p int32) bool { return topic != "gone" && p < 4 }
	c := newTestCoordinator(t, cfg, st)
	ctx := context.Background()

	// A simple (generation -1) commit to a group nobody joined.
	resp := c.OffsetCommit(ctx, commitReq(9, "g", -1, "",
		commitPart{"t1", 0, 10, 3, kmsg.StringPtr("m0")},
		commitPart{"t1", 1, 11, 3, nil},
		commitPart{"t1", 9, 1, -1, nil}, // no such partition
		commitPart{"gone", 0, 1, -1, nil},
		commitPart{"t2", 2, 22, -1, kmsg.StringPtr("two")},
	))
	want := map[string]int16{"t1/0": 0, "t1/1": 0, "t1/9": kerr.UnknownTopicOrPartition.Code, "gone/0": kerr.UnknownTopicOrPartition.Code, "t2/2": 0}
	got := commitCodes(resp)
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("commit %s: %s, want %s", k, errName(got[k]), errName(v))
		}
	}
	if st.commitCalls() != 1 {
		t.Fatalf("%d store calls for one request", st.commitCalls())
	}

	f := fetchedV7(t, fetchV7(c, "g", map[string][]int32{"t1": {0, 1, 2}, "t2": {2}}))
	wantF := map[string]fetched{
		"t1/0": {10, 3, "m0"}, "t1/1": {11, 3, ""}, "t1/2": {-1, -1, ""}, "t2/2": {22, -1, "two"},
	}
	for k, v := range wantF {
		if f[k] != v {
			t.Fatalf("fetch %s: %+v, want %+v", k, f[k], v)
		}
	}
	// Null topics: everything committed.
	all := fetchedV7(t, fetchV7(c, "g", nil))
	if len(all) != 3 || all["t1/0"] != wantF["t1/0"] || all["t2/2"] != wantF["t2/2"] {
		t.Fatalf("fetch all: %+v", all)
	}

	// v8+ form: several groups at once.
	r8 := kmsg.NewPtrOffsetFetchRequest()
	r8.Version = 9
	r8.RequireStable = true
	g1 := kmsg.NewOffsetFetchRequestGroup()
	g1.Group = "g"
	g1.Topics = []kmsg.OffsetFetchRequestGroupTopic{{Topic: "t1", Partitions: []int32{0}}}
	g2 := kmsg.NewOffsetFetchRequestGroup()
	g2.Group = "other"
	r8.Groups = []kmsg.OffsetFetchRequestGroup{g1, g2}
	resp8 := c.OffsetFetch(ctx, r8)
	if len(resp8.Groups) != 2 || resp8.Groups[0].ErrorCode != 0 || len(resp8.Groups[0].Topics) != 1 ||
		resp8.Groups[0].Topics[0].Partitions[0].Offset != 10 || *resp8.Groups[0].Topics[0].Partitions[0].Metadata != "m0" ||
		len(resp8.Groups[1].Topics) != 0 {
		t.Fatalf("v9 fetch: %+v", resp8.Groups)
	}

	// v1 fetch: no leader epoch, per-partition errors.
	r1 := kmsg.NewPtrOffsetFetchRequest()
	r1.Version = 1
	r1.Group = "g"
	r1.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "t2", Partitions: []int32{2}}}
	resp1 := c.OffsetFetch(ctx, r1)
	if resp1.Topics[0].Partitions[0].Offset != 22 || resp1.Version != 1 {
		t.Fatalf("v1 fetch: %+v", resp1.Topics)
	}

	// v0 commit: no generation; epochs are unknown.
	c.OffsetCommit(ctx, commitReq(0, "g", 99, "ignored", commitPart{"t3", 0, 5, 9, nil}))
	if f := fetchedV7(t, fetchV7(c, "g", map[string][]int32{"t3": {0}})); f["t3/0"] != (fetched{5, -1, ""}) {
		t.Fatalf("v0 commit fetched as %+v", f["t3/0"])
	}

	// Metadata too large.
	big := string(make([]byte, DefaultOffsetMetadataMaxBytes+1))
	resp = c.OffsetCommit(ctx, commitReq(9, "g", -1, "", commitPart{"t1", 0, 1, -1, &big}))
	wantCode(t, "large metadata", resp.Topics[0].Partitions[0].ErrorCode, kerr.OffsetMetadataTooLarge)

	// Empty group id.
	resp = c.OffsetCommit(ctx, commitReq(9, "", -1, "", commitPart{"t1", 0, 1, -1, nil}))
	wantCode(t, "empty group", resp.Topics[0].Partitions[0].ErrorCode, kerr.InvalidGroupID)
}

func TestOffsetCommitGroupChecks(t *testing.T) {
	st := newMemStore()
	c := newTestCoordinator(t, testConfig(), st)
	ctx := context.Background()
	a := newMember(t, c, "g", "t")
	stableGroup(t, a)

	wantCode(t, "member commit", a.commit("t", 0, 42, "meta"), nil)
	if f := fetchedV7(t, fetchV7(c, "g", map[string][]int32{"t": {0}})); f["t/0"] != (fetched{42, -1, "meta"}) {
		t.Fatalf("fetched %+v", f["t/0"])
	}

	// A simple commit to a group with members is refused.
	resp := c.OffsetCommit(ctx, commitReq(9, "g", -1, "", commitPart{"t", 0, 1, -1, nil}))
	wantCode(t, "simple commit to active group", resp.Topics[0].Partitions[0].ErrorCode, kerr.UnknownMemberID)
	resp = c.OffsetCommit(ctx, commitReq(9, "g", -1, a.id, commitPart{"t", 0, 1, -1, nil}))
	wantCode(t, "generation -1 with member id", resp.Topics[0].Partitions[0].ErrorCode, kerr.IllegalGeneration)
	// Pre-v9, an unknown group with a generation is ILLEGAL_GENERATION.
	resp = c.OffsetCommit(ctx, commitReq(8, "nope", 3, "m", commitPart{"t", 0, 1, -1, nil}))
	wantCode(t, "v8 commit to unknown group", resp.Topics[0].Partitions[0].ErrorCode, kerr.IllegalGeneration)

	// During CompletingRebalance commits are refused.
	a.protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: consumerMeta("t", "u")}}
	a.mustJoin(ctx)
	wantCode(t, "commit while completing", a.commit("t", 0, 1, ""), kerr.RebalanceInProgress)
	a.sync(ctx, map[string][]byte{a.id: []byte("x")})

	// After everyone left, simple commits work again.
	wantCode(t, "leave", a.leave(), nil)
	resp = c.OffsetCommit(ctx, commitReq(9, "g", -1, "", commitPart{"t", 0, 7, -1, nil}))
	wantCode(t, "simple commit to empty group", resp.Topics[0].Partitions[0].ErrorCode, nil)

	// Store failure: retriable error.
	st.setFail(errors.New("etcd down"))
	resp = c.OffsetCommit(ctx, commitReq(9, "g", -1, "", commitPart{"t", 0, 8, -1, nil}))
	wantCode(t, "store failure", resp.Topics[0].Partitions[0].ErrorCode, kerr.CoordinatorNotAvailable)
	wantCode(t, "fetch with store failure", fetchV7(c, "g", nil).ErrorCode, kerr.CoordinatorNotAvailable)
	st.setFail(nil)
	if f := fetchedV7(t, fetchV7(c, "g", map[string][]int32{"t": {0}})); f["t/0"].offset != 7 {
		t.Fatalf("fetched %+v after a failed commit", f["t/0"])
	}
}

func TestOffsetDelete(t *testing.T) {
	st := newMemStore()
	c := newTestCoordinator(t, testConfig(), st)
	ctx := context.Background()
	a := newMember(t, c, "g", "sub")
	stableGroup(t, a)
	wantCode(t, "commit", a.commit("sub", 0, 1, ""), nil)
	wantCode(t, "commit", a.commit("free", 0, 2, ""), nil)

	del := func(group string, topics ...string) *kmsg.OffsetDeleteResponse {
		r := kmsg.NewPtrOffsetDeleteRequest()
		r.Group = group
		for _, tp := range topics {
			r.Topics = append(r.Topics, kmsg.OffsetDeleteRequestTopic{Topic: tp, Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}})
		}
		return c.OffsetDelete(ctx, r)
	}
	resp := del("g", "sub", "free")
	wantCode(t, "delete", resp.ErrorCode, nil)
	wantCode(t, "subscribed topic", resp.Topics[0].Partitions[0].ErrorCode, kerr.GroupSubscribedToTopic)
	wantCode(t, "unsubscribed topic", resp.Topics[1].Partitions[0].ErrorCode, nil)
	f := fetchedV7(t, fetchV7(c, "g", nil))
	if _, ok := f["free/0"]; ok || f["sub/0"].offset != 1 {
		t.Fatalf("after delete: %+v", f)
	}

	// Once the group is empty everything can go.
	wantCode(t, "leave", a.leave(), nil)
	resp = del("g", "sub")
	wantCode(t, "delete from empty group", resp.Topics[0].Partitions[0].ErrorCode, nil)
	if f := fetchedV7(t, fetchV7(c, "g", nil)); len(f) != 0 {
		t.Fatalf("after delete: %+v", f)
	}

	wantCode(t, "unknown group", del("nope", "t").ErrorCode, kerr.GroupIDNotFound)
	wantCode(t, "empty group id", del("", "t").ErrorCode, kerr.InvalidGroupID)

	// A group known only by its offsets.
	c.OffsetCommit(ctx, commitReq(9, "stored", -1, "", commitPart{"t", 0, 1, -1, nil}))
	resp = del("stored", "t")
	wantCode(t, "stored-only group", resp.ErrorCode, nil)
	wantCode(t, "stored-only group partition", resp.Topics[0].Partitions[0].ErrorCode, nil)

	// Non-consumer groups with members: nothing can be deleted.
	m := newMember(t, c, "conn", "t")
	m.protocols = []kmsg.JoinGroupRequestProtocol{{Name: "default", Metadata: []byte("x")}}
	jr := m.joinRequest()
	jr.ProtocolType = "connect"
	jresp := c.JoinGroup(ctx, jr)
	wantCode(t, "connect join", jresp.ErrorCode, kerr.MemberIDRequired)
	jr.MemberID = jresp.MemberID
	wantCode(t, "connect join", c.JoinGroup(ctx, jr).ErrorCode, nil)
	wantCode(t, "non-consumer group", del("conn", "t").ErrorCode, kerr.NonEmptyGroup)
}

func TestDeleteGroups(t *testing.T) {
	st := newMemStore()
	c := newTestCoordinator(t, testConfig(), st)
	ctx := context.Background()
	a := newMember(t, c, "g", "t")
	stableGroup(t, a)
	wantCode(t, "commit", a.commit("t", 0, 1, ""), nil)
	c.OffsetCommit(ctx, commitReq(9, "stored", -1, "", commitPart{"t", 0, 1, -1, nil}))

	dr := kmsg.NewPtrDeleteGroupsRequest()
	dr.Version = 2
	dr.Groups = []string{"g", "stored", "nope"}
	resp := c.DeleteGroups(ctx, dr)
	if len(resp.Groups) != 3 {
		t.Fatalf("%d results", len(resp.Groups))
	}
	wantCode(t, "non-empty group", resp.Groups[0].ErrorCode, kerr.NonEmptyGroup)
	wantCode(t, "stored-only group", resp.Groups[1].ErrorCode, nil)
	wantCode(t, "unknown group", resp.Groups[2].ErrorCode, kerr.GroupIDNotFound)
	if f := fetchedV7(t, fetchV7(c, "stored", nil)); len(f) != 0 {
		t.Fatalf("offsets left after delete: %+v", f)
	}
	if f := fetchedV7(t, fetchV7(c, "g", nil)); len(f) != 1 {
		t.Fatalf("offsets of the non-empty group: %+v", f)
	}

	wantCode(t, "leave", a.leave(), nil)
	dr.Groups = []string{"g"}
	resp = c.DeleteGroups(ctx, dr)
	wantCode(t, "emptied group", resp.Groups[0].ErrorCode, nil)
	if d := describe(t, c, "g"); d.State != "Dead" {
		t.Fatalf("deleted group is %s", d.State)
	}
	if f := fetchedV7(t, fetchV7(c, "g", nil)); len(f) != 0 {
		t.Fatalf("offsets left after delete: %+v", f)
	}
	// The name can be used again.
	b := newMember(t, c, "g", "t")
	stableGroup(t, b)
	if b.gen != 1 {
		t.Fatalf("recreated group generation %d", b.gen)
	}
}

func TestListAndDescribeGroups(t *testing.T) {
	st := newMemStore()
	c := newTestCoordinator(t, testConfig(), st)
	ctx := context.Background()
	a := newMember(t, c, "stable", "t")
	stableGroup(t, a)
	b := newMember(t, c, "emptied", "t")
	stableGroup(t, b)
	wantCode(t, "leave", b.leave(), nil)
	c.OffsetCommit(ctx, commitReq(9, "stored", -1, "", commitPart{"t", 0, 1, -1, nil}))
	wantCode(t, "commit", a.commit("t", 0, 1, ""), nil) // "stable" is in memory and in the store

	list := func(version int16, states, types []string) map[string]kmsg.ListGroupsResponseGroup {
		r := kmsg.NewPtrListGroupsRequest()
		r.Version = version
		r.StatesFilter = states
		r.TypesFilter = types
		resp := c.ListGroups(ctx, r)
		wantCode(t, "list", resp.ErrorCode, nil)
		out := map[string]kmsg.ListGroupsResponseGroup{}
		for _, g := range resp.Groups {
			if _, dup := out[g.Group]; dup {
				t.Fatalf("group %q listed twice", g.Group)
			}
			out[g.Group] = g
		}
		return out
	}
	all := list(5, nil, nil)
	if len(all) != 3 {
		t.Fatalf("listed %v", all)
	}
	if g := all["stable"]; g.GroupState != "Stable" || g.ProtocolType != "consumer" || g.GroupType != "classic" {
		t.Fatalf("stable: %+v", g)
	}
	if g := all["emptied"]; g.GroupState != "Empty" || g.ProtocolType != "consumer" {
		t.Fatalf("emptied: %+v", g)
	}
	if g := all["stored"]; g.GroupState != "Empty" || g.ProtocolType != "" {
		t.Fatalf("stored: %+v", g)
	}
	if empty := list(4, []string{"empty"}, nil); len(empty) != 2 || empty["stable"].Group != "" {
		t.Fatalf("Empty filter: %v", empty)
	}
	if stable := list(5, []string{"Stable"}, []string{"classic"}); len(stable) != 1 {
		t.Fatalf("Stable filter: %v", stable)
	}
	if none := list(5, nil, []string{"consumer"}); len(none) != 0 {
		t.Fatalf("consumer type filter: %v", none)
	}
	if v0 := list(0, []string{"Stable"}, nil); len(v0) != 3 {
		t.Fatalf("v0 ignores filters: %v", v0)
	}

	dr := kmsg.NewPtrDescribeGroupsRequest()
	dr.Version = 5
	dr.Groups = []string{"stable", "emptied", "stored", "nope"}
	dr.IncludeAuthorizedOperations = true
	resp := c.DescribeGroups(ctx, dr)
	states := []string{"Stable", "Empty", "Empty", "Dead"}
	for i, g := range resp.Groups {
		wantCode(t, "describe "+g.Group, g.ErrorCode, nil)
		if g.Group != dr.Groups[i] || g.State != states[i] || g.AuthorizedOperations != groupAuthorizedOperations {
			t.Fatalf("describe %d: %+v", i, g)
		}
	}
	if m := resp.Groups[0].Members; len(m) != 1 || m[0].MemberID != a.id || len(m[0].MemberAssignment) == 0 {
		t.Fatalf("stable members: %+v", m)
	}
	if len(resp.Groups[1].Members) != 0 || resp.Groups[1].ProtocolType != "consumer" {
		t.Fatalf("emptied: %+v", resp.Groups[1])
	}

	// Store failures are retriable errors.
	st.setFail(errors.New("down"))
	r := kmsg.NewPtrListGroupsRequest()
	wantCode(t, "list with store down", c.ListGroups(ctx, r).ErrorCode, kerr.CoordinatorNotAvailable)
}
