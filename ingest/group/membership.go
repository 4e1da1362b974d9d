package group

import (
	"bytes"
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// joinParams is a JoinGroup request, normalised across versions.
type joinParams struct {
	version          int16
	memberID         string
	instanceID       *string
	clientID         string
	clientHost       string
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	protocolType     string
	protocols        []kmsg.JoinGroupRequestProtocol
	reason           string
}

func newJoinParams(ctx context.Context, req *kmsg.JoinGroupRequest) *joinParams {
	ci := clientInfoFrom(ctx)
	p := &joinParams{
		version:        req.Version,
		memberID:       req.MemberID,
		clientID:       ci.clientID,
		clientHost:     ci.clientHost,
		sessionTimeout: ms(req.SessionTimeoutMillis),
		protocolType:   req.ProtocolType,
	}
	rt := req.RebalanceTimeoutMillis
	if req.Version == 0 || rt <= 0 {
		rt = req.SessionTimeoutMillis // v0 has no rebalance timeout
	}
	p.rebalanceTimeout = ms(rt)
	if req.Version >= 5 && req.InstanceID != nil {
		p.instanceID = strp(*req.InstanceID)
	}
	if req.Version >= 8 && req.Reason != nil {
		p.reason = *req.Reason
	}
	// Copy: the request's buffers may be reused once the handler returns.
	p.protocols = make([]kmsg.JoinGroupRequestProtocol, len(req.Protocols))
	for i, pr := range req.Protocols {
		p.protocols[i] = kmsg.JoinGroupRequestProtocol{Name: pr.Name, Metadata: bytes.Clone(pr.Metadata)}
	}
	return p
}

func (p *joinParams) newMember(id string) *member {
	return &member{
		id:               id,
		instanceID:       p.instanceID,
		clientID:         p.clientID,
		clientHost:       p.clientHost,
		sessionTimeout:   p.sessionTimeout,
		rebalanceTimeout: p.rebalanceTimeout,
		protocolType:     p.protocolType,
		protocols:        p.protocols,
	}
}

// update applies a known member's new JoinGroup to it.
func (p *joinParams) update(g *group, m *member) {
	g.setProtocols(m, p.protocols)
	m.sessionTimeout = p.sessionTimeout
	m.rebalanceTimeout = p.rebalanceTimeout
	m.protocolType = p.protocolType
	if p.clientID != "" || p.clientHost != "" {
		m.clientID, m.clientHost = p.clientID, p.clientHost
	}
}

// JoinGroup handles JoinGroup v0-v9. It blocks until the group's join
// phase completes (or answers at once: errors, MEMBER_ID_REQUIRED, a
// member already in the current generation), and returns early if ctx is
// done.
func (c *Coordinator) JoinGroup(ctx context.Context, req *kmsg.JoinGroupRequest) *kmsg.JoinGroupResponse {
	resp := kmsgJoinResp(req.Version)
	resp.MemberID = req.MemberID
	fail := func(e *kerr.Error) *kmsg.JoinGroupResponse {
		resp.ErrorCode = e.Code
		return resp
	}
	if req.Group == "" {
		return fail(kerr.InvalidGroupID)
	}
	if st := ms(req.SessionTimeoutMillis); st < c.cfg.MinSessionTimeout || st > c.cfg.MaxSessionTimeout {
		return fail(kerr.InvalidSessionTimeout)
	}
	p := newJoinParams(ctx, req)
	g, err := c.lockGroup(req.Group, req.MemberID == "")
	if err != nil {
		return fail(kerr.CoordinatorNotAvailable)
	}
	if g == nil {
		return fail(kerr.UnknownMemberID)
	}
	w := g.join(p, resp)
	if w == nil {
		g.maybeForget()
		g.mu.Unlock()
		return resp
	}
	g.mu.Unlock()
	select {
	case r := <-w.ch:
		return r
	case <-ctx.Done():
		return fail(kerr.RebalanceInProgress)
	case <-c.closeCh:
		select {
		case r := <-w.ch:
			return r
		default:
			return fail(kerr.CoordinatorNotAvailable)
		}
	}
}

// join handles a JoinGroup with g.mu held. It returns the waiter to block
// on, or nil if resp is the answer.
func (g *group) join(p *joinParams, resp *kmsg.JoinGroupResponse) *joinWaiter {
	fail := func(e *kerr.Error) *joinWaiter {
		resp.ErrorCode = e.Code
		return nil
	}
	if !g.supportsProtocols(p.protocolType, p.protocols) {
		if pm := g.pending[p.memberID]; pm != nil {
			// It cannot join: do not let it hold up rebalances.
			g.removePending(pm)
			g.maybeCompleteJoin()
		}
		return fail(kerr.InconsistentGroupProtocol)
	}

	if p.memberID == "" {
		if p.instanceID != nil {
			if oldID, ok := g.static[*p.instanceID]; ok {
				if old := g.members[oldID]; old != nil {
					return g.replaceStatic(old, p, resp)
				}
				delete(g.static, *p.instanceID)
			}
		}
		if g.full(true) {
			return fail(kerr.GroupMaxSizeReached)
		}
		prefix := p.clientID
		if p.instanceID != nil {
			prefix = *p.instanceID
		}
		m := p.newMember(newMemberID(prefix))
		if p.instanceID == nil && p.version >= 4 {
			// KIP-394: hand out the id; the member joins with it.
			g.addPending(m)
			resp.MemberID = m.id
			return fail(kerr.MemberIDRequired)
		}
		g.c.log.Info("new group member", "group", g.name, "member", m.id, "reason", p.reason)
		w := newJoinWaiter(p.version)
		g.addMemberAndRebalance(m, w)
		return w
	}

	if pm := g.pending[p.memberID]; pm != nil {
		g.removePending(pm)
		if g.full(false) {
			return fail(kerr.GroupMaxSizeReached)
		}
		m := p.newMember(p.memberID)
		g.c.log.Info("new group member", "group", g.name, "member", m.id, "reason", p.reason)
		w := newJoinWaiter(p.version)
		g.addMemberAndRebalance(m, w)
		return w
	}

	if p.instanceID != nil {
		sid, ok := g.static[*p.instanceID]
		if !ok {
			return fail(kerr.UnknownMemberID)
		}
		if sid != p.memberID {
			return fail(kerr.FencedInstanceID)
		}
	}
	m := g.members[p.memberID]
	if m == nil {
		return fail(kerr.UnknownMemberID)
	}
	rebalance := func() *joinWaiter {
		w := newJoinWaiter(p.version)
		g.updateMemberAndRebalance(m, p, w)
		return w
	}
	switch g.state {
	case statePreparingRebalance:
		return rebalance()
	case stateCompletingRebalance:
		if !m.matches(p.protocols) {
			return rebalance()
		}
		// The join response was lost: send it again.
		g.fillJoin(resp, m.id)
		g.resetSession(m)
		return nil
	case stateStable:
		if m.id == g.leader || !m.matches(p.protocols) {
			// A leader rejoins to have the group reassigned (e.g. on
			// a metadata change); a member with new metadata too.
			g.c.log.Info("group member rejoined", "group", g.name, "member", m.id, "reason", p.reason)
			return rebalance()
		}
		g.fillJoin(resp, m.id)
		g.resetSession(m)
		return nil
	}
	return fail(kerr.UnknownMemberID)
}

// replaceStatic handles a static member rejoining with its instance id and
// no member id (KIP-345): it gets a new member id, the old one is fenced
// and, if the group is Stable and its protocol would not change, there is
// no rebalance: the member keeps its assignment, which SyncGroup returns.
func (g *group) replaceStatic(m *member, p *joinParams, resp *kmsg.JoinGroupResponse) *joinWaiter {
	oldID := m.id
	oldLeader := g.leader
	newID := newMemberID(*p.instanceID)
	m.respondJoinErr(kerr.FencedInstanceID.Code)
	m.respondSyncErr(kerr.FencedInstanceID.Code)
	delete(g.members, oldID)
	m.id = newID
	g.members[newID] = m
	g.static[*p.instanceID] = newID
	if g.leader == oldID {
		g.leader = newID
	}
	if _, ok := g.pendingSync[oldID]; ok {
		delete(g.pendingSync, oldID)
		g.pendingSync[newID] = struct{}{}
	}
	p.update(g, m)
	g.resetSession(m)
	g.c.log.Info("static group member replaced", "group", g.name, "instance", *p.instanceID,
		"old_member", oldID, "member", newID, "state", g.state.String())

	w := newJoinWaiter(p.version)
	switch g.state {
	case stateStable:
		if g.selectProtocol() != g.protocol {
			m.joinWait = w
			g.prepareRebalance()
			return w
		}
		resp.ErrorCode = 0
		resp.Generation = g.generation
		resp.ProtocolType = strp(g.protocolType)
		resp.Protocol = strp(g.protocol)
		resp.MemberID = newID
		if p.version >= 9 {
			// KIP-814: a replaced leader learns it leads but must not
			// reassign.
			resp.LeaderID = g.leader
			if g.leader == newID {
				resp.SkipAssignment = true
				resp.Members = g.memberMetadata()
			}
		} else {
			// Older leaders would reassign on seeing themselves as
			// leader, and a Stable group would not relay it: report
			// the previous leader id.
			resp.LeaderID = oldLeader
		}
		return nil
	case stateCompletingRebalance:
		// The leader may be assigning for the old member id.
		m.joinWait = w
		g.prepareRebalance()
		return w
	default: // PreparingRebalance
		m.joinWait = w
		g.maybeCompleteJoin()
		return w
	}
}

// SyncGroup handles SyncGroup v0-v5. Followers block until the leader's
// SyncGroup brings the assignment (or the group rebalances again).
func (c *Coordinator) SyncGroup(ctx context.Context, req *kmsg.SyncGroupRequest) *kmsg.SyncGroupResponse {
	resp := kmsgSyncResp(req.Version)
	fail := func(e *kerr.Error) *kmsg.SyncGroupResponse {
		resp.ErrorCode = e.Code
		return resp
	}
	if req.Group == "" {
		return fail(kerr.InvalidGroupID)
	}
	g, err := c.lockGroup(req.Group, false)
	if err != nil {
		return fail(kerr.CoordinatorNotAvailable)
	}
	if g == nil {
		return fail(kerr.UnknownMemberID)
	}
	w := g.sync(req, resp)
	g.mu.Unlock()
	if w == nil {
		return resp
	}
	select {
	case r := <-w.ch:
		return r
	case <-ctx.Done():
		return fail(kerr.RebalanceInProgress)
	case <-c.closeCh:
		select {
		case r := <-w.ch:
			return r
		default:
			return fail(kerr.RebalanceInProgress)
		}
	}
}

// validateMember checks a request's member id, instance id and generation.
func (g *group) validateMember(memberID string, instanceID *string, generation int32) (*member, *kerr.Error) {
	if instanceID != nil {
		sid, ok := g.static[*instanceID]
		if !ok {
			return nil, kerr.UnknownMemberID
		}
		if sid != memberID {
			return nil, kerr.FencedInstanceID
		}
	}
	m := g.members[memberID]
	if m == nil {
		return nil, kerr.UnknownMemberID
	}
	if generation != g.generation {
		return m, kerr.IllegalGeneration
	}
	return m, nil
}

func (g *group) sync(req *kmsg.SyncGroupRequest, resp *kmsg.SyncGroupResponse) *syncWaiter {
	fail := func(e *kerr.Error) *syncWaiter {
		resp.ErrorCode = e.Code
		return nil
	}
	var instanceID *string
	if req.Version >= 3 {
		instanceID = req.InstanceID
	}
	m, kerrr := g.validateMember(req.MemberID, instanceID, req.Generation)
	if kerrr != nil {
		return fail(kerrr)
	}
	if req.Version >= 5 {
		if req.ProtocolType != nil && *req.ProtocolType != g.protocolType {
			return fail(kerr.InconsistentGroupProtocol)
		}
		if req.Protocol != nil && *req.Protocol != g.protocol {
			return fail(kerr.InconsistentGroupProtocol)
		}
	}
	switch g.state {
	case statePreparingRebalance:
		return fail(kerr.RebalanceInProgress)
	case stateCompletingRebalance:
		g.synced(m.id)
		m.respondSyncErr(kerr.RebalanceInProgress.Code) // superseded
		w := newSyncWaiter(req.Version)
		m.syncWait = w
		if m.id == g.leader {
			g.completeSync(req.GroupAssignment)
		}
		return w
	case stateStable:
		g.synced(m.id)
		g.resetSession(m)
		g.fillSync(resp, m)
		return nil
	}
	return fail(kerr.UnknownMemberID)
}

// completeSync applies the leader's assignment, makes the group Stable and
// answers every member waiting in SyncGroup.
func (g *group) completeSync(assignments []kmsg.SyncGroupRequestGroupAssignment) {
	for _, m := range g.members {
		m.assignment = nil
	}
	for _, a := range assignments {
		if m := g.members[a.MemberID]; m != nil {
			m.assignment = bytes.Clone(a.MemberAssignment)
		}
	}
	for _, m := range g.members {
		if m.assignment == nil {
			m.assignment = []byte{}
		}
	}
	g.state = stateStable
	g.c.log.Info("group stable", "group", g.name, "generation", g.generation, "members", len(g.members))
	for _, m := range g.members {
		if m.syncWait == nil {
			continue
		}
		resp := kmsgSyncResp(m.syncWait.version)
		g.fillSync(resp, m)
		m.respondSync(resp)
		g.resetSession(m)
	}
}

func (g *group) fillSync(resp *kmsg.SyncGroupResponse, m *member) {
	resp.ErrorCode = 0
	resp.ProtocolType = strp(g.protocolType)
	resp.Protocol = strp(g.protocol)
	resp.MemberAssignment = m.assignment
}

// Heartbeat handles Heartbeat v0-v4.
func (c *Coordinator) Heartbeat(ctx context.Context, req *kmsg.HeartbeatRequest) *kmsg.HeartbeatResponse {
	resp := kmsg.NewPtrHeartbeatResponse()
	resp.Version = req.Version
	if req.Group == "" {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return resp
	}
	g, err := c.lockGroup(req.Group, false)
	if err != nil {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp
	}
	if g == nil {
		resp.ErrorCode = kerr.UnknownMemberID.Code
		return resp
	}
	defer g.mu.Unlock()
	var instanceID *string
	if req.Version >= 3 {
		instanceID = req.InstanceID
	}
	m, kerrr := g.validateMember(req.MemberID, instanceID, req.Generation)
	if kerrr != nil {
		resp.ErrorCode = kerrr.Code
		return resp
	}
	switch g.state {
	case statePreparingRebalance:
		g.resetSession(m)
		resp.ErrorCode = kerr.RebalanceInProgress.Code
	case stateCompletingRebalance, stateStable:
		g.resetSession(m)
	default:
		resp.ErrorCode = kerr.UnknownMemberID.Code
	}
	return resp
}

// LeaveGroup handles LeaveGroup v0-v5 (v3+: a batch of members, each by
// member id or group instance id).
func (c *Coordinator) LeaveGroup(ctx context.Context, req *kmsg.LeaveGroupRequest) *kmsg.LeaveGroupResponse {
	resp := kmsg.NewPtrLeaveGroupResponse()
	resp.Version = req.Version
	leaving := req.Members
	if req.Version < 3 {
		leaving = []kmsg.LeaveGroupRequestMember{{MemberID: req.MemberID}}
	}
	codes := make([]int16, len(leaving))
	defer func() {
		if req.Version < 3 {
			if resp.ErrorCode == 0 {
				resp.ErrorCode = codes[0]
			}
			return
		}
		if resp.ErrorCode != 0 {
			return
		}
		for i, l := range leaving {
			rm := kmsg.NewLeaveGroupResponseMember()
			rm.MemberID = l.MemberID
			rm.InstanceID = l.InstanceID
			rm.ErrorCode = codes[i]
			resp.Members = append(resp.Members, rm)
		}
	}()
	if req.Group == "" {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return resp
	}
	g, err := c.lockGroup(req.Group, false)
	if err != nil {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp
	}
	if g == nil {
		for i := range codes {
			codes[i] = kerr.UnknownMemberID.Code
		}
		return resp
	}
	for i, l := range leaving {
		codes[i] = g.leave(l)
	}
	g.maybeForget()
	g.mu.Unlock()
	return resp
}

func (g *group) leave(l kmsg.LeaveGroupRequestMember) int16 {
	id := l.MemberID
	if l.InstanceID != nil {
		sid, ok := g.static[*l.InstanceID]
		if !ok {
			return kerr.UnknownMemberID.Code
		}
		if id != "" && id != sid {
			return kerr.FencedInstanceID.Code
		}
		id = sid
	}
	if pm := g.pending[id]; pm != nil {
		g.removePending(pm)
		g.maybeCompleteJoin()
		return 0
	}
	m := g.members[id]
	if m == nil {
		return kerr.UnknownMemberID.Code
	}
	reason := ""
	if l.Reason != nil {
		reason = *l.Reason
	}
	g.c.log.Info("group member left", "group", g.name, "member", id, "reason", reason)
	g.removeMemberAndUpdate(m)
	return 0
}
