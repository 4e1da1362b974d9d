package group

import (
	"bytes"
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type groupState int8

const (
	stateEmpty groupState = iota
	statePreparingRebalance
	stateCompletingRebalance
	stateStable
	stateDead
)

func (s groupState) String() string {
	switch s {
	case stateEmpty:
		return "Empty"
	case statePreparingRebalance:
		return "PreparingRebalance"
	case stateCompletingRebalance:
		return "CompletingRebalance"
	case stateStable:
		return "Stable"
	case stateDead:
		return "Dead"
	}
	return "Unknown"
}

// groupType is the ListGroups/DescribeGroups type of every group here.
const groupType = "classic"

// group is one classic group. Every field is guarded by mu.
type group struct {
	c    *Coordinator
	name string

	mu sync.Mutex

	state        groupState
	protocolType string // kept once the group empties, as Kafka
	protocol     string // selected protocol; "" unless CompletingRebalance or Stable
	generation   int32
	leader       string

	members   map[string]*member
	pending   map[string]*member // dynamic members told MEMBER_ID_REQUIRED, not yet joined
	static    map[string]string  // group instance id -> member id
	supported map[string]int     // protocol name -> number of members supporting it
	joinSeq   uint64             // orders members by first join

	// PreparingRebalance: the join timer completes the join phase at the
	// rebalance timeout (or ends an initial delay).
	joinTimer      *time.Timer
	joinTimerSeq   uint64
	initialDelay   bool // in Kafka's InitialDelayedJoin: do not complete early
	newMemberAdded bool // a member joined during the initial delay

	// After a join completes, members that have not sent SyncGroup by the
	// rebalance timeout are removed.
	pendingSync  map[string]struct{}
	syncTimer    *time.Timer
	syncTimerSeq uint64
}

// member is a group member. Guarded by its group's mu.
type member struct {
	id         string
	instanceID *string
	clientID   string
	clientHost string
	order      uint64

	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	protocolType     string
	protocols        []kmsg.JoinGroupRequestProtocol

	assignment []byte

	// joinWait is set while the member is "awaiting join" (has joined
	// the current rebalance and waits for its response); syncWait while
	// it waits for the leader's SyncGroup. A waiter whose request's ctx
	// ended stays: as in Kafka the member still counts as joined and the
	// response is dropped.
	joinWait *joinWaiter
	syncWait *syncWaiter

	sessTimer *time.Timer
	sessSeq   uint64
}

type joinWaiter struct {
	version int16
	ch      chan *kmsg.JoinGroupResponse // capacity 1, sent to once
}

type syncWaiter struct {
	version int16
	ch      chan *kmsg.SyncGroupResponse // capacity 1, sent to once
}

func newJoinWaiter(version int16) *joinWaiter {
	return &joinWaiter{version, make(chan *kmsg.JoinGroupResponse, 1)}
}

func newSyncWaiter(version int16) *syncWaiter {
	return &syncWaiter{version, make(chan *kmsg.SyncGroupResponse, 1)}
}

func newGroup(c *Coordinator, name string) *group {
	return &group{
		c:         c,
		name:      name,
		members:   make(map[string]*member),
		pending:   make(map[string]*member),
		static:    make(map[string]string),
		supported: make(map[string]int),
	}
}

// ---- timers ----

// afterFunc runs fn after d with g.mu held, unless the group is Dead by
// then. fn must check that it is still current (sequence numbers).
func (g *group) afterFunc(d time.Duration, fn func()) *time.Timer {
	g.c.timers.Add(1)
	return time.AfterFunc(d, func() {
		defer g.c.timers.Done()
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.state == stateDead {
			return
		}
		fn()
	})
}

// stopTimer stops *t (if set) and clears it.
func (g *group) stopTimer(t **time.Timer) {
	if *t == nil {
		return
	}
	if (*t).Stop() {
		g.c.timers.Done()
	}
	*t = nil
}

// resetSession (re)starts m's session timer. On expiry the member is
// removed, unless it is blocked in JoinGroup or SyncGroup (Kafka keeps
// such members alive; the rebalance and pending-sync timeouts bound that).
func (g *group) resetSession(m *member) {
	g.stopTimer(&m.sessTimer)
	m.sessSeq++
	seq := m.sessSeq
	m.sessTimer = g.afterFunc(m.sessionTimeout, func() {
		if g.members[m.id] != m || m.sessSeq != seq {
			return
		}
		m.sessTimer = nil
		if m.joinWait != nil || m.syncWait != nil {
			g.resetSession(m)
			return
		}
		g.c.log.Info("group member session expired", "group", g.name, "member", m.id, "generation", g.generation)
		g.removeMemberAndUpdate(m)
	})
}

// addPending records a dynamic member id handed out with
// MEMBER_ID_REQUIRED; it is forgotten if the member does not rejoin within
// its session timeout.
func (g *group) addPending(m *member) {
	g.pending[m.id] = m
	m.sessSeq++
	seq := m.sessSeq
	m.sessTimer = g.afterFunc(m.sessionTimeout, func() {
		if g.pending[m.id] != m || m.sessSeq != seq {
			return
		}
		m.sessTimer = nil
		delete(g.pending, m.id)
		g.maybeCompleteJoin()
		g.maybeForget()
	})
}

func (g *group) removePending(m *member) {
	delete(g.pending, m.id)
	g.stopTimer(&m.sessTimer)
	m.sessSeq++
}

// ---- membership ----

func (m *member) protocolMetadata(name string) ([]byte, bool) {
	for _, p := range m.protocols {
		if p.Name == name {
			return p.Metadata, true
		}
	}
	return nil, false
}

// matches reports whether protocols are the member's current ones.
func (m *member) matches(protocols []kmsg.JoinGroupRequestProtocol) bool {
	return slices.EqualFunc(m.protocols, protocols, func(a, b kmsg.JoinGroupRequestProtocol) bool {
		return a.Name == b.Name && bytes.Equal(a.Metadata, b.Metadata)
	})
}

// supportsProtocols reports whether a member with these protocols may be in
// the group: the first member sets the protocol type; later ones must
// share it and support a protocol every current member supports.
func (g *group) supportsProtocols(protocolType string, protocols []kmsg.JoinGroupRequestProtocol) bool {
	if len(g.members) == 0 {
		return protocolType != "" && len(protocols) > 0
	}
	if protocolType != g.protocolType {
		return false
	}
	for _, p := range protocols {
		if g.supported[p.Name] == len(g.members) {
			return true
		}
	}
	return false
}

// full reports whether a new member may not join. withPending counts the
// members told MEMBER_ID_REQUIRED too.
func (g *group) full(withPending bool) bool {
	if g.c.cfg.MaxSize <= 0 {
		return false
	}
	n := len(g.members)
	if withPending {
		n += len(g.pending)
	}
	return n >= g.c.cfg.MaxSize
}

func (g *group) setProtocols(m *member, protocols []kmsg.JoinGroupRequestProtocol) {
	for _, p := range m.protocols {
		g.supported[p.Name]--
	}
	m.protocols = protocols
	for _, p := range m.protocols {
		g.supported[p.Name]++
	}
}

// sortedMembers returns the members in join order.
func (g *group) sortedMembers() []*member {
	ms := make([]*member, 0, len(g.members))
	for _, m := range g.members {
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b *member) int { return cmp.Compare(a.order, b.order) })
	return ms
}

// addMemberAndRebalance adds m, awaiting join with w, and rebalances.
func (g *group) addMemberAndRebalance(m *member, w *joinWaiter) {
	if len(g.members) == 0 {
		g.protocolType = m.protocolType
	}
	g.joinSeq++
	m.order = g.joinSeq
	g.members[m.id] = m
	protocols := m.protocols
	m.protocols = nil
	g.setProtocols(m, protocols)
	if m.instanceID != nil {
		g.static[*m.instanceID] = m.id
	}
	if g.leader == "" {
		g.leader = m.id
	}
	m.joinWait = w
	if g.state == statePreparingRebalance && g.initialDelay {
		g.newMemberAdded = true
	}
	g.resetSession(m)
	g.maybePrepareRebalance()
}

// updateMemberAndRebalance records a known member's new JoinGroup and
// rebalances (or, mid-rebalance, checks whether the join is complete).
func (g *group) updateMemberAndRebalance(m *member, p *joinParams, w *joinWaiter) {
	p.update(g, m)
	if m.joinWait != nil {
		// A second JoinGroup for the same member supersedes the first.
		m.respondJoinErr(kerr.RebalanceInProgress.Code)
	}
	m.joinWait = w
	g.maybePrepareRebalance()
}

// removeMember removes m without rebalancing.
func (g *group) removeMember(m *member) {
	for _, p := range m.protocols {
		g.supported[p.Name]--
		if g.supported[p.Name] <= 0 {
			delete(g.supported, p.Name)
		}
	}
	delete(g.members, m.id)
	if m.instanceID != nil && g.static[*m.instanceID] == m.id {
		delete(g.static, *m.instanceID)
	}
	g.stopTimer(&m.sessTimer)
	m.sessSeq++
	delete(g.pendingSync, m.id)
	if g.leader == m.id {
		g.leader = ""
		if ms := g.sortedMembers(); len(ms) > 0 {
			g.leader = ms[0].id
		}
	}
}

// removeMemberAndUpdate removes m (failing its waiting requests with
// UNKNOWN_MEMBER_ID) and rebalances as its state requires.
func (g *group) removeMemberAndUpdate(m *member) {
	m.respondJoinErr(kerr.UnknownMemberID.Code)
	m.respondSyncErr(kerr.UnknownMemberID.Code)
	g.removeMember(m)
	switch g.state {
	case stateStable, stateCompletingRebalance:
		g.prepareRebalance()
	case statePreparingRebalance:
		g.maybeCompleteJoin()
	}
}

// ---- rebalance ----

func (g *group) maxRebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

func (g *group) maybePrepareRebalance() {
	switch g.state {
	case stateEmpty, stateStable, stateCompletingRebalance:
		g.prepareRebalance()
	case statePreparingRebalance:
		g.maybeCompleteJoin()
	}
}

// prepareRebalance moves the group to PreparingRebalance: members must
// rejoin within the rebalance timeout.
func (g *group) prepareRebalance() {
	if g.state == stateCompletingRebalance {
		// The leader's assignment for this generation will not come:
		// members waiting in SyncGroup must rejoin.
		for _, m := range g.members {
			m.assignment = nil
			m.respondSyncErr(kerr.RebalanceInProgress.Code)
		}
	}
	g.clearPendingSync()
	wasEmpty := g.state == stateEmpty
	g.state = statePreparingRebalance
	g.stopTimer(&g.joinTimer)
	g.joinTimerSeq++
	rt := g.maxRebalanceTimeout()
	if delay := g.c.cfg.InitialRebalanceDelay; wasEmpty && delay > 0 {
		g.initialDelay = true
		g.newMemberAdded = false
		g.scheduleInitialJoin(min(delay, rt), max(rt-delay, 0))
		return
	}
	g.initialDelay = false
	seq := g.joinTimerSeq
	g.joinTimer = g.afterFunc(rt, func() {
		if g.joinTimerSeq != seq {
			return
		}
		g.joinTimer = nil
		g.completeJoin()
	})
	g.maybeCompleteJoin()
}

// scheduleInitialJoin is Kafka's InitialDelayedJoin: wait delay; if members
// joined meanwhile and time remains, wait again; then complete the join.
func (g *group) scheduleInitialJoin(delay, remaining time.Duration) {
	seq := g.joinTimerSeq
	g.joinTimer = g.afterFunc(delay, func() {
		if g.joinTimerSeq != seq {
			return
		}
		g.joinTimer = nil
		if g.newMemberAdded && remaining > 0 {
			g.newMemberAdded = false
			d := min(g.c.cfg.InitialRebalanceDelay, remaining)
			g.scheduleInitialJoin(d, remaining-d)
			return
		}
		g.completeJoin()
	})
}

// maybeCompleteJoin completes the join phase once every member has
// rejoined and no MEMBER_ID_REQUIRED member is outstanding.
func (g *group) maybeCompleteJoin() {
	if g.state != statePreparingRebalance || g.initialDelay {
		return
	}
	if len(g.pending) > 0 {
		return
	}
	for _, m := range g.members {
		if m.joinWait == nil {
			return
		}
	}
	g.completeJoin()
}

// completeJoin ends the join phase: members that did not rejoin are
// removed, the generation advances, a protocol is selected and every
// joined member gets its JoinGroup response (the leader with the members'
// metadata).
func (g *group) completeJoin() {
	g.stopTimer(&g.joinTimer)
	g.joinTimerSeq++
	g.initialDelay = false
	g.newMemberAdded = false

	for _, m := range g.sortedMembers() {
		if m.joinWait == nil {
			g.c.log.Info("removing group member that did not rejoin", "group", g.name, "member", m.id)
			g.removeMember(m)
		}
	}
	g.generation++
	if g.generation < 0 {
		g.generation = 1
	}
	if len(g.members) == 0 {
		g.state = stateEmpty
		g.protocol = ""
		g.leader = ""
		g.c.log.Info("group is empty", "group", g.name, "generation", g.generation)
		return
	}
	if _, ok := g.members[g.leader]; !ok {
		g.leader = g.sortedMembers()[0].id
	}
	g.protocol = g.selectProtocol()
	g.state = stateCompletingRebalance
	g.c.log.Info("group join complete", "group", g.name, "generation", g.generation,
		"protocol", g.protocol, "members", len(g.members), "leader", g.leader)

	g.stopTimer(&g.syncTimer)
	g.pendingSync = make(map[string]struct{}, len(g.members))
	for _, m := range g.sortedMembers() {
		g.pendingSync[m.id] = struct{}{}
		resp := kmsgJoinResp(m.joinWait.version)
		g.fillJoin(resp, m.id)
		m.respondJoin(resp)
		g.resetSession(m)
	}
	g.syncTimerSeq++
	seq, gen := g.syncTimerSeq, g.generation
	g.syncTimer = g.afterFunc(g.maxRebalanceTimeout(), func() {
		if g.syncTimerSeq != seq || g.generation != gen {
			return
		}
		g.syncTimer = nil
		g.expirePendingSync()
	})
}

// expirePendingSync removes the members that got their JoinGroup response
// but did not send SyncGroup within the rebalance timeout, and rebalances.
func (g *group) expirePendingSync() {
	if len(g.pendingSync) == 0 || (g.state != stateCompletingRebalance && g.state != stateStable) {
		return
	}
	for id := range g.pendingSync {
		if m := g.members[id]; m != nil {
			g.c.log.Info("removing group member that did not sync", "group", g.name, "member", id, "generation", g.generation)
			m.respondJoinErr(kerr.UnknownMemberID.Code)
			g.removeMember(m)
		}
	}
	g.clearPendingSync()
	g.prepareRebalance()
}

func (g *group) clearPendingSync() {
	g.pendingSync = nil
	g.stopTimer(&g.syncTimer)
	g.syncTimerSeq++
}

// synced notes that member id sent SyncGroup.
func (g *group) synced(id string) {
	delete(g.pendingSync, id)
	if len(g.pendingSync) == 0 {
		g.stopTimer(&g.syncTimer)
	}
}

// selectProtocol returns the protocol supported by every member that gets
// the most votes, each member voting for its most preferred one. Ties go
// to the leader's preference order.
func (g *group) selectProtocol() string {
	n := len(g.members)
	votes := make(map[string]int)
	for _, m := range g.members {
		for _, p := range m.protocols {
			if g.supported[p.Name] == n {
				votes[p.Name]++
				break
			}
		}
	}
	var order []kmsg.JoinGroupRequestProtocol
	if l := g.members[g.leader]; l != nil {
		order = l.protocols
	}
	for _, m := range g.sortedMembers() {
		order = append(order, m.protocols...)
	}
	best, bestVotes := "", 0
	for _, p := range order {
		if v := votes[p.Name]; v > bestVotes {
			best, bestVotes = p.Name, v
		}
	}
	if best == "" && len(order) > 0 {
		best = order[0].Name // unreachable: joins are checked by supportsProtocols
	}
	return best
}

// fillJoin fills a successful JoinGroup response for member id with the
// current generation; the leader also gets the members' metadata.
func (g *group) fillJoin(resp *kmsg.JoinGroupResponse, id string) {
	resp.ErrorCode = 0
	resp.Generation = g.generation
	resp.ProtocolType = strp(g.protocolType)
	resp.Protocol = strp(g.protocol)
	resp.LeaderID = g.leader
	resp.MemberID = id
	if id == g.leader {
		resp.Members = g.memberMetadata()
	}
}

func (g *group) memberMetadata() []kmsg.JoinGroupResponseMember {
	ms := g.sortedMembers()
	out := make([]kmsg.JoinGroupResponseMember, 0, len(ms))
	for _, m := range ms {
		jm := kmsg.NewJoinGroupResponseMember()
		jm.MemberID = m.id
		jm.InstanceID = m.instanceID
		jm.ProtocolMetadata, _ = m.protocolMetadata(g.protocol)
		out = append(out, jm)
	}
	return out
}

// ---- replies ----

func (m *member) respondJoin(resp *kmsg.JoinGroupResponse) {
	w := m.joinWait
	if w == nil {
		return
	}
	m.joinWait = nil
	resp.Version = w.version
	select {
	case w.ch <- resp:
	default:
	}
}

func (m *member) respondJoinErr(code int16) {
	if m.joinWait == nil {
		return
	}
	resp := kmsgJoinResp(m.joinWait.version)
	resp.ErrorCode = code
	resp.MemberID = m.id
	m.respondJoin(resp)
}

func (m *member) respondSync(resp *kmsg.SyncGroupResponse) {
	w := m.syncWait
	if w == nil {
		return
	}
	m.syncWait = nil
	resp.Version = w.version
	select {
	case w.ch <- resp:
	default:
	}
}

func (m *member) respondSyncErr(code int16) {
	if m.syncWait == nil {
		return
	}
	resp := kmsgSyncResp(m.syncWait.version)
	resp.ErrorCode = code
	m.respondSync(resp)
}

// ---- lifecycle ----

// shutdown marks the group Dead on Close: waiting joins fail with
// COORDINATOR_NOT_AVAILABLE, waiting syncs with REBALANCE_IN_PROGRESS, and
// every timer stops.
func (g *group) shutdown() {
	for _, m := range g.members {
		m.respondJoinErr(kerr.CoordinatorNotAvailable.Code)
		m.respondSyncErr(kerr.RebalanceInProgress.Code)
	}
	g.kill()
}

// kill marks the group Dead and stops its timers.
func (g *group) kill() {
	for _, m := range g.members {
		g.stopTimer(&m.sessTimer)
	}
	for _, m := range g.pending {
		g.stopTimer(&m.sessTimer)
	}
	g.stopTimer(&g.joinTimer)
	g.stopTimer(&g.syncTimer)
	g.state = stateDead
}

// maybeForget drops a group that never had a generation and has nobody in
// it (a first join that failed validation, or MEMBER_ID_REQUIRED members
// that never came back), so it does not linger in ListGroups.
func (g *group) maybeForget() {
	if g.state == stateEmpty && g.generation == 0 && len(g.members) == 0 && len(g.pending) == 0 {
		g.kill()
		g.c.forget(g)
	}
}

// consumerSubscriptions returns the topics the members subscribe to, per
// their "consumer" protocol metadata; all is set if some metadata cannot
// be parsed (then every topic counts as subscribed, as in Kafka).
func (g *group) consumerSubscriptions() (topics map[string]struct{}, all bool) {
	topics = make(map[string]struct{})
	for _, m := range g.members {
		md, ok := m.protocolMetadata(g.protocol)
		if !ok && len(m.protocols) > 0 {
			md, ok = m.protocols[0].Metadata, true
		}
		if !ok {
			return nil, true
		}
		var cmm kmsg.ConsumerMemberMetadata
		if err := cmm.ReadFrom(md); err != nil {
			return nil, true
		}
		for _, t := range cmm.Topics {
			topics[t] = struct{}{}
		}
	}
	return topics, false
}
