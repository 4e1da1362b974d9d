package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(&api{key: 10, min: 0, max: 4, handle: handleFindCoordinator}) }

// handleFindCoordinator names this broker as the coordinator of every
// group: group membership is held by the broker a client asks, and
// committed offsets live in etcd where every broker sees them.
// Transaction coordinators do not exist yet and are refused clearly.
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
