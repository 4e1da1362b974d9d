package group

import (
	"context"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupAuthorizedOperations is the ACL operation bitfield of a group's
// operations (READ, DELETE, DESCRIBE), all allowed: there are no ACLs.
const groupAuthorizedOperations int32 = 1<<3 | 1<<6 | 1<<8

// hasOffsets reports whether the store holds offsets for group.
func (c *Coordinator) hasOffsets(ctx context.Context, group string) (bool, error) {
	if group == "" {
		return false, nil
	}
	offs, err := c.store.FetchOffsets(ctx, group)
	return len(offs) > 0, err
}

// DescribeGroups handles DescribeGroups v0-v5. A group known only by its
// committed offsets is Empty; an unknown group is Dead (error NONE, as
// Kafka before v6).
func (c *Coordinator) DescribeGroups(ctx context.Context, req *kmsg.DescribeGroupsRequest) *kmsg.DescribeGroupsResponse {
	resp := kmsg.NewPtrDescribeGroupsResponse()
	resp.Version = req.Version
	for _, name := range req.Groups {
		sg := kmsg.NewDescribeGroupsResponseGroup()
		sg.Group = name
		if req.Version >= 3 && req.IncludeAuthorizedOperations {
			sg.AuthorizedOperations = groupAuthorizedOperations
		}
		g, err := c.lockGroup(name, false)
		switch {
		case err != nil:
			sg.ErrorCode = kerr.CoordinatorNotAvailable.Code
		case g != nil:
			g.describe(&sg)
			g.mu.Unlock()
		default:
			ok, err := c.hasOffsets(ctx, name)
			switch {
			case err != nil:
				c.log.Warn("fetching group offsets failed", "group", name, "err", err)
				sg.ErrorCode = kerr.CoordinatorNotAvailable.Code
			case ok:
				sg.State = stateEmpty.String()
			default:
				sg.State = stateDead.String()
			}
		}
		resp.Groups = append(resp.Groups, sg)
	}
	return resp
}

// describe fills sg as Kafka's GroupMetadata.summary: member metadata and
// assignments only when Stable.
func (g *group) describe(sg *kmsg.DescribeGroupsResponseGroup) {
	sg.State = g.state.String()
	sg.ProtocolType = g.protocolType
	stable := g.state == stateStable
	if stable {
		sg.Protocol = g.protocol
	}
	for _, m := range g.sortedMembers() {
		sm := kmsg.NewDescribeGroupsResponseGroupMember()
		sm.MemberID = m.id
		sm.InstanceID = m.instanceID
		sm.ClientID = m.clientID
		sm.ClientHost = m.clientHost
		if stable {
			sm.ProtocolMetadata, _ = m.protocolMetadata(g.protocol)
			sm.MemberAssignment = m.assignment
		}
		sg.Members = append(sg.Members, sm)
	}
}

// ListGroups handles ListGroups v0-v5: the groups in memory plus the groups
// that only have committed offsets (Empty, no protocol type), filtered by
// StatesFilter (v4+) and TypesFilter (v5+), case-insensitively. Every group
// here is of type "classic".
func (c *Coordinator) ListGroups(ctx context.Context, req *kmsg.ListGroupsRequest) *kmsg.ListGroupsResponse {
	resp := kmsg.NewPtrListGroupsResponse()
	resp.Version = req.Version
	if c.isClosed() {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp
	}
	var states, types []string
	if req.Version >= 4 {
		states = req.StatesFilter
	}
	if req.Version >= 5 {
		types = req.TypesFilter
	}
	matches := func(filter []string, v string) bool {
		return len(filter) == 0 || slices.ContainsFunc(filter, func(f string) bool { return strings.EqualFold(f, v) })
	}
	if !matches(types, groupType) {
		return resp
	}

	seen := make(map[string]bool)
	add := func(name, protocolType, state string) {
		seen[name] = true
		if !matches(states, state) {
			return
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group = name
		lg.ProtocolType = protocolType
		lg.GroupState = state
		lg.GroupType = groupType
		resp.Groups = append(resp.Groups, lg)
	}
	for _, g := range c.snapshot() {
		g.mu.Lock()
		if g.state != stateDead {
			add(g.name, g.protocolType, g.state.String())
		}
		g.mu.Unlock()
	}
	stored, err := c.store.GroupsWithOffsets(ctx)
	if err != nil {
		c.log.Warn("listing groups with offsets failed", "err", err)
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
	}
	for _, name := range stored {
		if !seen[name] {
			add(name, "", stateEmpty.String())
		}
	}
	slices.SortFunc(resp.Groups, func(a, b kmsg.ListGroupsResponseGroup) int { return strings.Compare(a.Group, b.Group) })
	return resp
}

// DeleteGroups handles DeleteGroups v0-v2: an Empty group (or one known
// only by its offsets) is removed with its offsets; a group with members
// fails with NON_EMPTY_GROUP, an unknown one with GROUP_ID_NOT_FOUND.
func (c *Coordinator) DeleteGroups(ctx context.Context, req *kmsg.DeleteGroupsRequest) *kmsg.DeleteGroupsResponse {
	resp := kmsg.NewPtrDeleteGroupsResponse()
	resp.Version = req.Version
	for _, name := range req.Groups {
		rg := kmsg.NewDeleteGroupsResponseGroup()
		rg.Group = name
		rg.ErrorCode = c.deleteGroup(ctx, name)
		resp.Groups = append(resp.Groups, rg)
	}
	return resp
}

func (c *Coordinator) deleteGroup(ctx context.Context, name string) int16 {
	g, err := c.lockGroup(name, false)
	switch {
	case err != nil:
		return kerr.CoordinatorNotAvailable.Code
	case g == nil:
		ok, err := c.hasOffsets(ctx, name)
		if err != nil {
			c.log.Warn("fetching group offsets failed", "group", name, "err", err)
			return kerr.CoordinatorNotAvailable.Code
		}
		if !ok {
			return kerr.GroupIDNotFound.Code
		}
	default:
		if g.state != stateEmpty {
			g.mu.Unlock()
			return kerr.NonEmptyGroup.Code
		}
		// Dead from here: a concurrent join creates a new group.
		g.kill()
		c.forget(g)
		g.mu.Unlock()
	}
	if name == "" {
		return 0
	}
	if err := c.store.DeleteGroupOffsets(ctx, name); err != nil {
		c.log.Warn("deleting group offsets failed", "group", name, "err", err)
		return kerr.CoordinatorNotAvailable.Code
	}
	c.log.Info("group deleted", "group", name)
	return 0
}
