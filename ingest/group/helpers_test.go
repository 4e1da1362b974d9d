package group

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-log/strata/meta"
	"github.com/strata-log/strata/meta/metatest"
)

func TestMain(m *testing.M) { os.Exit(metatest.Main(m)) }

// memStore is an in-memory OffsetStore, this package's own test seam.
type memStore struct {
	mu      sync.Mutex
	offs    map[string]map[string]map[int32]meta.GroupOffset
	commits int   // CommitOffsets calls
	fail    error // returned by every call when set
}

func newMemStore() *memStore {
	return &memStore{offs: make(map[string]map[string]map[int32]meta.GroupOffset)}
}

func (s *memStore) setFail(err error) {
	s.mu.Lock()
	s.fail = err
	s.mu.Unlock()
}

func (s *memStore) commitCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commits
}

func (s *memStore) CommitOffsets(_ context.Context, group string, offs []meta.GroupOffset) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commits++
	if s.fail != nil {
		return s.fail
	}
	if group == "" {
		return errors.New("empty group")
	}
	for _, o := range offs {
		if s.offs[group] == nil {
			s.offs[group] = make(map[string]map[int32]meta.GroupOffset)
		}
		if s.offs[group][o.Topic] == nil {
			s.offs[group][o.Topic] = make(map[int32]meta.GroupOffset)
		}
		s.offs[group][o.Topic][o.Partition] = o
	}
	return nil
}

func (s *memStore) FetchOffsets(_ context.Context, group string) ([]meta.GroupOffset, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	var out []meta.GroupOffset
	for _, ps := range s.offs[group] {
		for _, o := range ps {
			out = append(out, o)
		}
	}
	slices.SortFunc(out, func(a, b meta.GroupOffset) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
	return out, nil
}

func (s *memStore) DeleteOffsets(_ context.Context, group, topic string, partitions []int32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	for _, p := range partitions {
		delete(s.offs[group][topic], p)
	}
	if len(s.offs[group][topic]) == 0 {
		delete(s.offs[group], topic)
	}
	if len(s.offs[group]) == 0 {
		delete(s.offs, group)
	}
	return nil
}

func (s *memStore) DeleteGroupOffsets(_ context.Context, group string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	delete(s.offs, group)
	return nil
}

func (s *memStore) GroupsWithOffsets(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	var out []string
	for g := range s.offs {
		out = append(out, g)
	}
	slices.Sort(out)
	return out, nil
}

func testConfig() Config {
	return Config{
		MinSessionTimeout:     time.Millisecond,
		MaxSessionTimeout:     time.Minute,
		InitialRebalanceDelay: -1,
		Logger:                slog.New(slog.DiscardHandler),
	}
}

func newTestCoordinator(t *testing.T, cfg Config, st OffsetStore) *Coordinator {
	t.Helper()
	if st == nil {
		st = newMemStore()
	}
	c := New(cfg, st)
	t.Cleanup(c.Close)
	return c
}

func consumerMeta(topics ...string) []byte {
	m := kmsg.NewConsumerMemberMetadata()
	m.Topics = topics
	return m.AppendTo(nil)
}

func consumerAssignment(topic string, partitions ...int32) []byte {
	a := kmsg.NewConsumerMemberAssignment()
	at := kmsg.NewConsumerMemberAssignmentTopic()
	at.Topic = topic
	at.Partitions = partitions
	a.Topics = append(a.Topics, at)
	return a.AppendTo(nil)
}

func errName(code int16) string {
	if code == 0 {
		return "NONE"
	}
	return kerr.ErrorForCode(code).Error()
}

func wantCode(t *testing.T, what string, got int16, want *kerr.Error) {
	t.Helper()
	wantCode := int16(0)
	if want != nil {
		wantCode = want.Code
	}
	if got != wantCode {
		t.Fatalf("%s: error %s, want %s", what, errName(got), errName(wantCode))
	}
}

// tmember drives the coordinator like a group client.
type tmember struct {
	t         *testing.T
	c         *Coordinator
	group     string
	version   int16 // JoinGroup version
	id        string
	instance  *string
	gen       int32
	session   time.Duration
	rebalance time.Duration
	protocols []kmsg.JoinGroupRequestProtocol
	clientID  string
}

func newMember(t *testing.T, c *Coordinator, group string, topics ...string) *tmember {
	return &tmember{
		t: t, c: c, group: group, version: 9, gen: -1,
		session: 30 * time.Second, rebalance: 5 * time.Second,
		protocols: []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: consumerMeta(topics...)}},
		clientID:  "client",
	}
}

func (m *tmember) static(instance string) *tmember {
	m.instance = &instance
	return m
}

func (m *tmember) joinRequest() *kmsg.JoinGroupRequest {
	r := kmsg.NewPtrJoinGroupRequest()
	r.Version = m.version
	r.Group = m.group
	r.MemberID = m.id
	r.InstanceID = m.instance
	r.SessionTimeoutMillis = int32(m.session / time.Millisecond)
	r.RebalanceTimeoutMillis = int32(m.rebalance / time.Millisecond)
	r.ProtocolType = "consumer"
	r.Protocols = m.protocols
	return r
}

// joinOnce sends one JoinGroup with the member's current id.
func (m *tmember) joinOnce(ctx context.Context) *kmsg.JoinGroupResponse {
	ctx = WithClientInfo(ctx, m.clientID, "/127.0.0.1")
	resp := m.c.JoinGroup(ctx, m.joinRequest())
	if resp.Version != m.version {
		m.t.Errorf("JoinGroup response version %d, want %d", resp.Version, m.version)
	}
	if resp.ErrorCode == 0 || resp.ErrorCode == kerr.MemberIDRequired.Code {
		m.id = resp.MemberID
	}
	if resp.ErrorCode == 0 {
		m.gen = resp.Generation
	}
	return resp
}

// join joins, following MEMBER_ID_REQUIRED.
func (m *tmember) join(ctx context.Context) *kmsg.JoinGroupResponse {
	resp := m.joinOnce(ctx)
	if resp.ErrorCode == kerr.MemberIDRequired.Code {
		resp = m.joinOnce(ctx)
	}
	return resp
}

// mustJoin joins and fails the test on error. Safe from goroutines: it
// reports with Errorf.
func (m *tmember) mustJoin(ctx context.Context) *kmsg.JoinGroupResponse {
	resp := m.join(ctx)
	if resp.ErrorCode != 0 {
		m.t.Errorf("member %q join: %s", m.id, errName(resp.ErrorCode))
	}
	return resp
}

// goJoin joins in a goroutine.
func (m *tmember) goJoin(ctx context.Context) <-chan *kmsg.JoinGroupResponse {
	ch := make(chan *kmsg.JoinGroupResponse, 1)
	go func() { ch <- m.join(ctx) }()
	return ch
}

func (m *tmember) syncRequest(assign map[string][]byte) *kmsg.SyncGroupRequest {
	r := kmsg.NewPtrSyncGroupRequest()
	r.Version = 5
	r.Group = m.group
	r.Generation = m.gen
	r.MemberID = m.id
	r.InstanceID = m.instance
	r.ProtocolType = kmsg.StringPtr("consumer")
	r.Protocol = kmsg.StringPtr("range")
	for id, a := range assign {
		r.GroupAssignment = append(r.GroupAssignment, kmsg.SyncGroupRequestGroupAssignment{MemberID: id, MemberAssignment: a})
	}
	return r
}

func (m *tmember) sync(ctx context.Context, assign map[string][]byte) *kmsg.SyncGroupResponse {
	return m.c.SyncGroup(ctx, m.syncRequest(assign))
}

func (m *tmember) goSync(ctx context.Context, assign map[string][]byte) <-chan *kmsg.SyncGroupResponse {
	ch := make(chan *kmsg.SyncGroupResponse, 1)
	go func() { ch <- m.sync(ctx, assign) }()
	return ch
}

func (m *tmember) heartbeat() int16 {
	r := kmsg.NewPtrHeartbeatRequest()
	r.Version = 4
	r.Group = m.group
	r.Generation = m.gen
	r.MemberID = m.id
	r.InstanceID = m.instance
	return m.c.Heartbeat(context.Background(), r).ErrorCode
}

func (m *tmember) leave() int16 {
	r := kmsg.NewPtrLeaveGroupRequest()
	r.Version = 5
	r.Group = m.group
	r.Members = []kmsg.LeaveGroupRequestMember{{MemberID: m.id, InstanceID: m.instance}}
	resp := m.c.LeaveGroup(context.Background(), r)
	if resp.ErrorCode != 0 {
		return resp.ErrorCode
	}
	return resp.Members[0].ErrorCode
}

func (m *tmember) commit(topic string, partition int32, offset int64, metadata string) int16 {
	r := kmsg.NewPtrOffsetCommitRequest()
	r.Version = 9
	r.Group = m.group
	r.Generation = m.gen
	r.MemberID = m.id
	r.InstanceID = m.instance
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Partition = partition
	rp.Offset = offset
	rp.Metadata = &metadata
	rt.Partitions = append(rt.Partitions, rp)
	r.Topics = append(r.Topics, rt)
	return m.c.OffsetCommit(context.Background(), r).Topics[0].Partitions[0].ErrorCode
}

func recvJoin(t *testing.T, ch <-chan *kmsg.JoinGroupResponse) *kmsg.JoinGroupResponse {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("JoinGroup did not return")
		return nil
	}
}

func recvSync(t *testing.T, ch <-chan *kmsg.SyncGroupResponse) *kmsg.SyncGroupResponse {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("SyncGroup did not return")
		return nil
	}
}

// blocked asserts that nothing arrives on ch for a short while.
func blocked[T any](t *testing.T, what string, ch <-chan T) {
	t.Helper()
	select {
	case <-ch:
		t.Fatalf("%s returned, want it to block", what)
	case <-time.After(50 * time.Millisecond):
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func describe(t *testing.T, c *Coordinator, group string) kmsg.DescribeGroupsResponseGroup {
	t.Helper()
	r := kmsg.NewPtrDescribeGroupsRequest()
	r.Version = 5
	r.Groups = []string{group}
	resp := c.DescribeGroups(context.Background(), r)
	if len(resp.Groups) != 1 {
		t.Fatalf("DescribeGroups returned %d groups", len(resp.Groups))
	}
	return resp.Groups[0]
}

// stableGroup joins and syncs members (the first joiner leads), assigning
// partition i of topic "t" to member i, and returns the assignments.
func stableGroup(t *testing.T, ms ...*tmember) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	// Dynamic members first get their ids, so that the rebalance waits
	// for every one of them (MEMBER_ID_REQUIRED members block it).
	for _, m := range ms {
		if m.id == "" && m.instance == nil && m.version >= 4 {
			wantCode(t, "first join", m.joinOnce(ctx).ErrorCode, kerr.MemberIDRequired)
		}
	}
	chs := make([]<-chan *kmsg.JoinGroupResponse, len(ms))
	for i, m := range ms {
		chs[i] = m.goJoin(ctx)
	}
	var leader *tmember
	for i, m := range ms {
		r := recvJoin(t, chs[i])
		wantCode(t, "join", r.ErrorCode, nil)
		if r.LeaderID == m.id {
			leader = m
		}
	}
	if leader == nil {
		t.Fatal("no member got leadership")
	}
	assign := make(map[string][]byte)
	for i, m := range ms {
		assign[m.id] = consumerAssignment("t", int32(i))
	}
	syncs := make([]<-chan *kmsg.SyncGroupResponse, len(ms))
	for i, m := range ms {
		if m != leader {
			syncs[i] = m.goSync(ctx, nil)
		}
	}
	for i, m := range ms {
		if m == leader {
			syncs[i] = m.goSync(ctx, assign)
		}
	}
	for i, m := range ms {
		r := recvSync(t, syncs[i])
		wantCode(t, "sync", r.ErrorCode, nil)
		if string(r.MemberAssignment) != string(assign[m.id]) {
			t.Fatalf("member %d got assignment %x, want %x", i, r.MemberAssignment, assign[m.id])
		}
	}
	return assign
}
