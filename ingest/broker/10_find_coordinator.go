package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(&api{key: 10, min: 0, max: 4, handle: handleFindCoordinator}) }

// handleFindCoordinator names a group's coordinator: the live broker its
// name hashes to (Broker.coordinatorOf), the same from every broker.
// Committed offsets live in etcd where every broker sees them; membership
// lives in the coordinator. Transaction coordinators do not exist yet and
// are refused clearly.
func handleFindCoordinator(b *Broker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.FindCoordinatorRequest)
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	keys := req.CoordinatorKeys
	if r.version < 4 {
		keys = []string{req.CoordinatorKey}
	}
	for _, key := range keys {
		c := kmsg.NewFindCoordinatorResponseCoordinator()
		c.Key, c.NodeID, c.Port = key, -1, -1
		switch req.CoordinatorType {
		case 0:
			c.NodeID, c.Host, c.Port = b.cfg.NodeID, b.advertised.host, b.advertised.port
			if bi, ok := b.coordinatorOf(key); ok {
				c.NodeID, c.Host, c.Port = bi.ID, bi.Host, bi.Port
			}
			if key == "" {
				c.ErrorCode = kerr.InvalidGroupID.Code
			}
		default:
			c.ErrorCode = kerr.UnsupportedVersion.Code
			msg := "transactions and share groups are not supported yet"
			c.ErrorMessage = &msg
		}
		resp.Coordinators = append(resp.Coordinators, c)
	}
	if r.version < 4 {
		c := resp.Coordinators[0]
		resp.ErrorCode, resp.ErrorMessage, resp.NodeID, resp.Host, resp.Port = c.ErrorCode, c.ErrorMessage, c.NodeID, c.Host, c.Port
		resp.Coordinators = nil
	}
	return resp
}
