package broker

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-log/strata/ingest/partition"
)

// Fetch is advertised from v0 for the same librdkafka feature detection as
// Produce; every version serves the stored v2 record batches.
func init() { register(&api{key: 1, min: 0, max: 12, handle: handleFetch}) }

// handleFetch serves reads below the high watermark, long-polling up to
// MaxWaitMillis until MinBytes are available. Byte limits follow KIP-74:
// per-partition and total limits, except that the first batch found is
// always returned whole so that a consumer can never get stuck on a batch
// larger than its limits. Fetch sessions are not kept: every response
// carries session id 0, so clients send full fetches.
func handleFetch(b *Broker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.FetchRequest)
	wait := time.Duration(max(req.MaxWaitMillis, 0)) * time.Millisecond
	deadline := time.Now().Add(wait)
	for {
		resp, size, changed := b.fetchOnce(r.conn.ctx, req)
		remaining := time.Until(deadline)
		if size >= int(req.MinBytes) || remaining <= 0 || len(changed) == 0 || resp.ErrorCode != 0 {
			return resp
		}
		if !waitAny(r.conn.ctx, changed, remaining) {
			if r.conn.ctx.Err() != nil {
				return nil
			}
			return resp // nothing changed while waiting
		}
	}
}

// fetchOnce reads every requested partition once. It returns the response,
// the bytes it holds, and the channels to wait on if that is not enough
// (taken before reading, so no change in between is missed). A partition
// with an error makes the fetch return at once.
func (b *Broker) fetchOnce(ctx context.Context, req *kmsg.FetchRequest) (*kmsg.FetchResponse, int, []<-chan struct{}) {
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	total := int(req.MaxBytes)
	if req.Version < 3 || total <= 0 {
		total = 1 << 30
	}
	size, hasErr := 0, false
	var changed []<-chan struct{}
	for _, rt := range req.Topics {
		st := kmsg.NewFetchResponseTopic()
		st.Topic = rt.Topic
		t := b.topic(rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
			l, err := b.leaderLog(t, rt.Topic, rp.Partition)
			if err == nil {
				changed = append(changed, l.Changed())
				limit := min(int(rp.PartitionMaxBytes), total-size)
				var res partition.ReadResult
				res, err = l.Read(ctx, rp.FetchOffset, max(limit, 0), size == 0)
				sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = res.HighWatermark, res.HighWatermark, res.LogStart
				sp.RecordBatches = res.Batches
				size += len(res.Batches)
			}
			if sp.RecordBatches == nil {
				// Empty, never null: librdkafka refuses a null record set
				// ("invalid MessageSetSize -1").
				sp.RecordBatches = []byte{}
			}
			if err != nil {
				sp.ErrorCode = errCode(err)
				hasErr = true
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if hasErr {
		changed = nil
	}
	return resp, size, changed
}

// leaderLog returns the log of a partition this broker leads, or the Kafka
// error a client should act on.
func (b *Broker) leaderLog(t *topicInfo, topic string, p int32) (*partition.Log, error) {
	if t == nil || p < 0 || p >= t.Partitions {
		return nil, fmt.Errorf("%s/%d: %w", topic, p, kerr.UnknownTopicOrPartition)
	}
	l := b.localLog(t, p)
	if l == nil {
		if t.parts[p].Leader < 0 {
			return nil, fmt.Errorf("%s/%d: %w", topic, p, kerr.LeaderNotAvailable)
		}
		return nil, fmt.Errorf("%s/%d: %w", topic, p, kerr.NotLeaderForPartition)
	}
	return l, nil
}

// waitAny waits until one of the channels closes (true), or the wait or
// ctx ends (false).
func waitAny(ctx context.Context, changed []<-chan struct{}, d time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	woke := make(chan struct{}, 1)
	for _, ch := range changed {
		go func() {
			select {
			case <-ch:
				select {
				case woke <- struct{}{}:
				default:
				}
			case <-ctx.Done():
			}
		}()
	}
	select {
	case <-woke:
		return true
	case <-ctx.Done():
		return false
	}
}
