package broker

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-log/strata/ingest/partition"
)

func init() { register(&api{key: 2, min: 0, max: 8, handle: handleListOffsets}) }

// Special ListOffsets timestamps.
const (
	listLatest       = -1
	listEarliest     = -2
	listMaxTimestamp = -3
)

func handleListOffsets(b *Broker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.ListOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		t := b.topic(rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.Timestamp, sp.Offset, sp.LeaderEpoch = -1, -1, -1
			l, err := b.leaderLog(t, rt.Topic, rp.Partition)
			if err == nil {
				sp.LeaderEpoch = l.Epoch()
				if rp.CurrentLeaderEpoch >= 0 && r.version >= 4 {
					err = checkLeaderEpoch(rp.CurrentLeaderEpoch, sp.LeaderEpoch)
				}
			}
			if err == nil {
				sp.Offset, sp.Timestamp, err = listOffset(r.conn.ctx, l, rp.Timestamp)
				if r.version == 0 && err == nil && rp.MaxNumOffsets > 0 {
					sp.OldStyleOffsets = []int64{sp.Offset}
				}
			}
			sp.ErrorCode = errCode(err)
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

func listOffset(ctx context.Context, l *partition.Log, ts int64) (offset, timestamp int64, err error) {
	off := l.Offsets()
	switch ts {
	case listLatest:
		return off.HighWatermark, -1, nil
	case listEarliest:
		return off.LogStart, -1, nil
	case listMaxTimestamp:
		offset, timestamp, err = l.MaxTimestamp(ctx)
	default:
		if ts < 0 {
			return -1, -1, kerr.InvalidRequest
		}
		offset, timestamp, err = l.OffsetForTimestamp(ctx, ts)
	}
	if errors.Is(err, partition.ErrNoOffset) {
		// No record at or after ts: Kafka answers offset -1.
		return -1, -1, nil
	}
	return offset, timestamp, err
}

// checkLeaderEpoch compares the epoch a client believes current with the
// partition's (KIP-320).
func checkLeaderEpoch(client, current int32) error {
	switch {
	case client < current:
		return kerr.FencedLeaderEpoch
	case client > current:
		return kerr.UnknownLeaderEpoch
	}
	return nil
}
