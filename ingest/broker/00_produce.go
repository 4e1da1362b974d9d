package broker

import (
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-log/strata/ingest/batch"
	"github.com/strata-log/strata/ingest/partition"
)

// Produce is advertised from v0 although only record batches (magic v2,
// sent with v3+) are accepted: librdkafka decides which compression codecs
// a broker supports from the presence of old Produce versions, and would
// otherwise silently stop compressing (Apache Kafka 4 does the same,
// KAFKA-18659). A v0-v2 request's old-format message sets are refused per
// partition with UNSUPPORTED_FOR_MESSAGE_FORMAT.
func init() { register(&api{key: 0, min: 0, max: 12, start: startProduce}) }

// startProduce appends each partition's batch, in request order on the
// connection, and returns the wait for acknowledgement: unless acks=0, the
// response is sent once every append is durable on a quorum or the
// request's timeout passes.
func startProduce(b *Broker, r *request) func() kmsg.Response {
	req := r.kreq.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	if req.TransactionID != nil {
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
				msg := "transactions are not supported yet"
				sp.ErrorMessage = &msg
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return func() kmsg.Response { return resp }
	}
	// waiting names an append by its place in the response (indices, not
	// pointers: the response's slices grow while it is built).
	type waiting struct {
		topic, partition int
		p                *partition.Pending
	}
	var waits []waiting
	for _, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		t := b.topic(rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = -1, -1, -1
			p, err := b.produce(t, rt.Topic, rp.Partition, rp.Records)
			if err != nil {
				sp.ErrorCode = errCode(err)
				if r.version >= 8 {
					sp.ErrorMessage = errMessage(err)
				}
				if sp.ErrorCode == kerr.UnknownServerError.Code || sp.ErrorCode == kerr.KafkaStorageError.Code {
					b.log.Error("produce failed", "topic", rt.Topic, "partition", rp.Partition, "err", err)
				}
			} else {
				sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = p.BaseOffset, p.LogAppendTime, p.LogStartOffset
			}
			st.Partitions = append(st.Partitions, sp)
			if p != nil {
				waits = append(waits, waiting{len(resp.Topics), len(st.Partitions) - 1, p})
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	if req.Acks == 0 {
		return func() kmsg.Response { return nil }
	}
	return func() kmsg.Response {
		timeout := time.NewTimer(time.Duration(max(req.TimeoutMillis, 0)) * time.Millisecond)
		defer timeout.Stop()
		expired := false
		for _, w := range waits {
			if !expired {
				select {
				case <-w.p.Done():
				case <-timeout.C:
					expired = true
				case <-r.conn.ctx.Done():
					return nil
				}
			}
			sp := &resp.Topics[w.topic].Partitions[w.partition]
			select {
			case <-w.p.Done():
				if err := w.p.Err(); err != nil {
					sp.ErrorCode = errCode(err)
					sp.BaseOffset = -1
				}
			default:
				sp.ErrorCode = kerr.RequestTimedOut.Code
				sp.BaseOffset = -1
			}
		}
		return resp
	}
}

// produce validates one partition's records and appends them.
func (b *Broker) produce(t *topicInfo, topic string, p int32, records []byte) (*partition.Pending, error) {
	if t == nil {
		return nil, fmt.Errorf("topic %q: %w", topic, kerr.UnknownTopicOrPartition)
	}
	if p < 0 || p >= t.Partitions {
		return nil, fmt.Errorf("topic %q has no partition %d: %w", topic, p, kerr.UnknownTopicOrPartition)
	}
	l := b.localLog(t, p)
	if l == nil {
		return nil, fmt.Errorf("broker %d does not lead %s/%d: %w", b.cfg.NodeID, topic, p, kerr.NotLeaderForPartition)
	}
	if err := b.checkWALRoom(); err != nil {
		return nil, err
	}
	if int64(len(records)) > t.maxMessageBytes {
		return nil, fmt.Errorf("batch of %d bytes is over max.message.bytes %d: %w", len(records), t.maxMessageBytes, kerr.MessageTooLarge)
	}
	h, err := batch.Parse(records)
	if err != nil {
		switch {
		case errors.Is(err, batch.ErrUnsupportedCodec):
			return nil, fmt.Errorf("%v: %w", err, kerr.UnsupportedCompressionType)
		case errors.Is(err, batch.ErrUnsupportedMagic):
			return nil, fmt.Errorf("%v: %w", err, kerr.UnsupportedForMessageFormat)
		case h.Size() == len(records) && h.Magic == 2:
			return nil, fmt.Errorf("%v: %w", err, kerr.CorruptMessage)
		default:
			return nil, fmt.Errorf("%v: %w", err, kerr.InvalidRecord)
		}
	}
	pend, err := l.Append(records, h, t.appendOpts)
	if err == nil && !pend.Duplicate {
		b.metrics.producedBytes.Add(float64(len(records)))
		b.metrics.producedRecs.Add(float64(h.RecordCount))
	}
	return pend, err
}

// checkWALRoom refuses appends with a retriable error while the WAL holds
// Config.WALMaxBytes or more: tiering is behind (the object store is down
// or slow) and the disk must not fill up. Producers retry; appends resume
// once tiering catches up and releases WAL segments.
func (b *Broker) checkWALRoom() error {
	if b.cfg.WALMaxBytes <= 0 {
		return nil
	}
	size := b.wal.Size()
	if size < b.cfg.WALMaxBytes {
		return nil
	}
	b.metrics.walFull.Inc()
	if now := time.Now().UnixNano(); now-b.walFullLogged.Load() > int64(10*time.Second) {
		b.walFullLogged.Store(now)
		b.log.Warn("refusing produce requests: the WAL is full until tiering catches up (is the object store reachable?)",
			"wal_bytes", size, "wal_max_bytes", b.cfg.WALMaxBytes)
	}
	return fmt.Errorf("the WAL holds %d bytes, the limit is %d, until tiering catches up: %w", size, b.cfg.WALMaxBytes, kerr.KafkaStorageError)
}
