package broker

import (
	"cmp"
	"context"
	"hash/fnv"
	"net"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-log/strata/ingest/group"
	"github.com/strata-log/strata/meta"
)

// The classic consumer group APIs are served by the group coordinator
// (ingest/group); these registrations only route requests to it.
func init() {
	route := func(key, maxVersion int16, fn func(c *group.Coordinator, r *request) kmsg.Response) {
		register(&api{key: key, min: 0, max: maxVersion, handle: func(b *Broker, r *request) kmsg.Response {
			if groups := requestGroups(r.kreq); groups != nil {
				for _, g := range groups {
					if !b.coordinates(g) {
						return notCoordinator(r)
					}
				}
			}
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

// requestGroups returns the groups a request needs the coordinator of (nil
// for requests any broker serves: OffsetFetch reads etcd, ListGroups is
// per broker).
func requestGroups(req kmsg.Request) []string {
	switch req := req.(type) {
	case *kmsg.OffsetCommitRequest:
		return []string{req.Group}
	case *kmsg.JoinGroupRequest:
		return []string{req.Group}
	case *kmsg.HeartbeatRequest:
		return []string{req.Group}
	case *kmsg.LeaveGroupRequest:
		return []string{req.Group}
	case *kmsg.SyncGroupRequest:
		return []string{req.Group}
	case *kmsg.DescribeGroupsRequest:
		return req.Groups
	case *kmsg.DeleteGroupsRequest:
		return req.Groups
	case *kmsg.OffsetDeleteRequest:
		return []string{req.Group}
	}
	return nil
}

// coordinates reports whether this broker coordinates group: groups are
// spread over the live brokers by a hash of their name, so that every
// broker names the same coordinator. (Offsets live in etcd; membership is
// in the coordinator's memory, so a coordinator that moves starts its
// groups' membership afresh: members rejoin.)
func (b *Broker) coordinates(group string) bool {
	c, ok := b.coordinatorOf(group)
	return !ok || c.ID == b.cfg.NodeID
}

// coordinatorOf returns group's coordinator among the live brokers, and
// false if they cannot be listed.
func (b *Broker) coordinatorOf(group string) (meta.BrokerInfo, bool) {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	brokers, err := b.brokers(ctx)
	if err != nil || len(brokers) == 0 {
		return meta.BrokerInfo{}, false
	}
	sorted := slices.SortedFunc(slices.Values(brokers), func(a, c meta.BrokerInfo) int { return cmp.Compare(a.ID, c.ID) })
	h := fnv.New32a()
	h.Write([]byte(group))
	return sorted[h.Sum32()%uint32(len(sorted))], true
}

// notCoordinator answers a group request sent to the wrong broker with
// NOT_COORDINATOR everywhere the response has an error code, so the
// client looks the coordinator up again.
func notCoordinator(r *request) kmsg.Response {
	code := kerr.NotCoordinator.Code
	switch req := r.kreq.(type) {
	case *kmsg.OffsetCommitRequest:
		resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	case *kmsg.DescribeGroupsRequest:
		resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
		for _, g := range req.Groups {
			sg := kmsg.NewDescribeGroupsResponseGroup()
			sg.Group, sg.ErrorCode = g, code
			resp.Groups = append(resp.Groups, sg)
		}
		return resp
	case *kmsg.DeleteGroupsRequest:
		resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
		for _, g := range req.Groups {
			sg := kmsg.NewDeleteGroupsResponseGroup()
			sg.Group, sg.ErrorCode = g, code
			resp.Groups = append(resp.Groups, sg)
		}
		return resp
	}
	return errorResponse(r, kerr.NotCoordinator, "this broker does not coordinate the group: find its coordinator again")
}
