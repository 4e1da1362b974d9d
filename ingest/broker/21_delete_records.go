package broker

import "github.com/twmb/franz-go/pkg/kmsg"

func init() { register(&api{key: 21, min: 0, max: 2, handle: handleDeleteRecords}) }

func handleDeleteRecords(b *Broker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.DeleteRecordsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		t := b.topic(rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LowWatermark = -1
			l, err := b.leaderLog(t, rt.Topic, rp.Partition)
			if err == nil {
				sp.LowWatermark, err = l.DeleteRecords(rp.Offset)
			}
			sp.ErrorCode = errCode(err)
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
