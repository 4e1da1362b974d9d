package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(&api{key: 60, min: 0, max: 1, handle: handleDescribeCluster}) }

func handleDescribeCluster(b *Broker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.DescribeClusterRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	ctx, cancel := context.WithTimeout(r.conn.ctx, adminTimeout)
	defer cancel()
	brokers, err := b.brokers(ctx)
	if err != nil {
		b.log.Warn("describe cluster: list brokers", "err", err)
	}
	resp.ClusterID = b.clusterID
	resp.ControllerID = controllerID(brokers, b)
	for _, mb := range metadataBrokers(brokers, b) {
		db := kmsg.NewDescribeClusterResponseBroker()
		db.NodeID, db.Host, db.Port, db.Rack = mb.NodeID, mb.Host, mb.Port, mb.Rack
		resp.Brokers = append(resp.Brokers, db)
	}
	return resp
}
