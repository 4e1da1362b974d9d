package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-log/strata/meta"
)

func init() { register(&api{key: 19, min: 0, max: 7, handle: handleCreateTopics}) }

func handleCreateTopics(b *Broker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.CreateTopicsRequest)
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	ctx, cancel := context.WithTimeout(r.conn.ctx, adminTimeout)
	defer cancel()
	for _, rt := range req.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		configs := map[string]string{}
		for _, c := range rt.Configs {
			if c.Value != nil {
				configs[c.Name] = *c.Value
			}
		}
		partitions, rf := rt.NumPartitions, rt.ReplicationFactor
		if len(rt.ReplicaAssignment) > 0 {
			partitions, rf = int32(len(rt.ReplicaAssignment)), int16(len(rt.ReplicaAssignment[0].Replicas))
		}
		t, err := b.createTopic(ctx, rt.Topic, partitions, rf, configs, req.ValidateOnly)
		st.ErrorCode, st.ErrorMessage = errCode(err), errMessage(err)
		st.NumPartitions, st.ReplicationFactor = -1, -1
		if err == nil {
			st.TopicID = t.ID
			st.NumPartitions, st.ReplicationFactor = t.Partitions, t.ReplicationFactor
			for _, d := range meta.TopicConfigDefs() {
				c := kmsg.NewCreateTopicsResponseTopicConfig()
				c.Name = d.Name
				v := meta.ConfigValue(t.Configs, d.Name)
				c.Value = &v
				c.Source = configSource(t.Configs, d.Name)
				st.Configs = append(st.Configs, c)
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
