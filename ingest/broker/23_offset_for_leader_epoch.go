package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(&api{key: 23, min: 0, max: 4, handle: handleOffsetForLeaderEpoch}) }

// handleOffsetForLeaderEpoch lets a consumer that saw leader epoch E learn
// where E ended on the current leader (KIP-101/KIP-320), to detect a log
// truncated under it.
func handleOffsetForLeaderEpoch(b *Broker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.OffsetForLeaderEpochRequest)
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetForLeaderEpochResponseTopic()
		st.Topic = rt.Topic
		t := b.topic(rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LeaderEpoch, sp.EndOffset = -1, -1
			l, err := b.leaderLog(t, rt.Topic, rp.Partition)
			if err == nil && r.version >= 2 && rp.CurrentLeaderEpoch >= 0 {
				err = checkLeaderEpoch(rp.CurrentLeaderEpoch, l.Epoch())
			}
			if err == nil {
				sp.LeaderEpoch, sp.EndOffset = l.EndOffsetForEpoch(rp.LeaderEpoch)
				if sp.EndOffset < 0 {
					sp.LeaderEpoch = -1
				}
			}
			if err == nil && sp.EndOffset == -1 && rp.LeaderEpoch < 0 {
				err = kerr.UnknownLeaderEpoch
			}
			sp.ErrorCode = errCode(err)
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
