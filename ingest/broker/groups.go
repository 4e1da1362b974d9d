package broker

import (
	"context"
	"net"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-log/strata/ingest/group"
)

// The classic consumer group APIs are served by the group coordinator
// (ingest/group); these registrations only route requests to it.
func init() {
	route := func(key, maxVersion int16, fn func(c *group.Coordinator, r *request) kmsg.Response) {
		register(&api{key: key, min: 0, max: maxVersion, handle: func(b *Broker, r *request) kmsg.Response {
			return fn(b.groups, r)
		}})
	}
	ctx := func(r *request) context.Context {
		host, _, _ := net.SplitHostPort(r.conn.nc.RemoteAddr().String())
		return group.WithClientInfo(r.conn.ctx, r.client, "/"+host)
	}
	route(8, group.OffsetCommitMaxVersion, func(c *group.Coordinator, r *request) kmsg.Response {
		return c.OffsetCommit(ctx(r), r.kreq.(*kmsg.OffsetCommitRequest))
	})
	route(9, group.OffsetFetchMaxVersion, func(c *group.Coordinator, r *request) kmsg.Response {
		return c.OffsetFetch(ctx(r), r.kreq.(*kmsg.OffsetFetchRequest))
	})
	route(11, group.JoinGroupMaxVersion, func(c *group.Coordinator, r *request) kmsg.Response {
		return c.JoinGroup(ctx(r), r.kreq.(*kmsg.JoinGroupRequest))
	})
	route(12, group.HeartbeatMaxVersion, func(c *group.Coordinator, r *request) kmsg.Response {
		return c.Heartbeat(ctx(r), r.kreq.(*kmsg.HeartbeatRequest))
	})
	route(13, group.LeaveGroupMaxVersion, func(c *group.Coordinator, r *request) kmsg.Response {
		return c.LeaveGroup(ctx(r), r.kreq.(*kmsg.LeaveGroupRequest))
	})
	route(14, group.SyncGroupMaxVersion, func(c *group.Coordinator, r *request) kmsg.Response {
		return c.SyncGroup(ctx(r), r.kreq.(*kmsg.SyncGroupRequest))
	})
	route(15, group.DescribeGroupsMaxVersion, func(c *group.Coordinator, r *request) kmsg.Response {
		return c.DescribeGroups(ctx(r), r.kreq.(*kmsg.DescribeGroupsRequest))
	})
	route(16, group.ListGroupsMaxVersion, func(c *group.Coordinator, r *request) kmsg.Response {
		return c.ListGroups(ctx(r), r.kreq.(*kmsg.ListGroupsRequest))
	})
	route(42, group.DeleteGroupsMaxVersion, func(c *group.Coordinator, r *request) kmsg.Response {
		return c.DeleteGroups(ctx(r), r.kreq.(*kmsg.DeleteGroupsRequest))
	})
	route(47, group.OffsetDeleteMaxVersion, func(c *group.Coordinator, r *request) kmsg.Response {
		return c.OffsetDelete(ctx(r), r.kreq.(*kmsg.OffsetDeleteRequest))
	})
}
