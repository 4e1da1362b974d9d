package broker

import (
	"context"
	"math"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(&api{key: 22, min: 0, max: 4, handle: handleInitProducerID}) }

// producerIDs hands out producer ids from blocks reserved in etcd, so that
// InitProducerId costs an etcd round trip once per block, not per call.
type producerIDs struct {
	b    *Broker
	mu   sync.Mutex
	next int64
	end  int64
}

func (p *producerIDs) allocate(ctx context.Context) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next == p.end {
		first, err := p.b.meta.AllocateProducerIDs(ctx, p.b.cfg.ProducerIDBlock)
		if err != nil {
			return -1, err
		}
		p.next, p.end = first, first+p.b.cfg.ProducerIDBlock
	}
	id := p.next
	p.next++
	return id, nil
}

// handleInitProducerID gives an idempotent producer its id and epoch. A
// producer that presents its current id and epoch (KIP-360, v3+) gets the
// epoch bumped, which resets its sequences; transactional ids are refused
// until transactions are implemented.
func handleInitProducerID(b *Broker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.InitProducerIDRequest)
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		b.log.Info("refusing transactional producer: transactions are not supported yet", "transactional_id", *req.TransactionalID, "client", r.client)
		return resp
	}
	if req.ProducerID >= 0 && req.ProducerEpoch >= 0 && req.ProducerEpoch < math.MaxInt16-1 {
		resp.ProducerID, resp.ProducerEpoch = req.ProducerID, req.ProducerEpoch+1
		return resp
	}
	ctx, cancel := context.WithTimeout(r.conn.ctx, adminTimeout)
	defer cancel()
	id, err := b.pids.allocate(ctx)
	if err != nil {
		b.log.Warn("allocate producer id", "err", err)
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return resp
}
