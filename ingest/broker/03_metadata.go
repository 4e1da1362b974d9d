package broker

import (
	"context"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-log/strata/meta"
)

func init() { register(&api{key: 3, min: 0, max: 12, handle: handleMetadata}) }

func handleMetadata(b *Broker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.MetadataRequest)
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	ctx, cancel := context.WithTimeout(r.conn.ctx, adminTimeout)
	defer cancel()

	brokers, err := b.brokers(ctx)
	if err != nil {
		b.log.Warn("metadata: list brokers", "err", err)
	}
	resp.Brokers = metadataBrokers(brokers, b)
	resp.ClusterID = &b.clusterID
	resp.ControllerID = controllerID(brokers, b)

	autoCreate := b.cfg.AutoCreateTopics && (req.Version < 4 || req.AllowAutoTopicCreation)
	if req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0) {
		all := b.allTopics()
		names := make([]string, 0, len(all))
		for name := range all {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			resp.Topics = append(resp.Topics, metadataTopic(all[name]))
		}
		resp.Topics = append(resp.Topics, offsetsMetadataTopic(b))
		return resp
	}
	for _, rt := range req.Topics {
		var t *topicInfo
		switch {
		case rt.Topic != nil && *rt.Topic == offsetsTopic || rt.Topic == nil && rt.TopicID == offsetsTopicID:
			resp.Topics = append(resp.Topics, offsetsMetadataTopic(b))
			continue
		case rt.Topic != nil:
			t = b.topic(*rt.Topic)
			if t == nil && autoCreate {
				if _, err := b.createTopic(ctx, *rt.Topic, -1, -1, nil, false); err != nil && errCode(err) != kerr.TopicAlreadyExists.Code {
					st := kmsg.NewMetadataResponseTopic()
					st.Topic = rt.Topic
					st.ErrorCode = errCode(err)
					resp.Topics = append(resp.Topics, st)
					continue
				}
				t = b.topic(*rt.Topic)
			}
		default:
			t = b.topicByID(rt.TopicID)
		}
		if t == nil {
			st := kmsg.NewMetadataResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			st.ErrorCode = kerr.UnknownTopicOrPartition.Code
			if rt.Topic == nil {
				st.ErrorCode = kerr.UnknownTopicID.Code
			}
			resp.Topics = append(resp.Topics, st)
			continue
		}
		resp.Topics = append(resp.Topics, metadataTopic(t))
	}
	return resp
}

func metadataBrokers(brokers []meta.BrokerInfo, b *Broker) []kmsg.MetadataResponseBroker {
	if len(brokers) == 0 { // etcd unreachable: at least name ourselves
		brokers = []meta.BrokerInfo{{ID: b.cfg.NodeID, Host: b.advertised.host, Port: b.advertised.port, Rack: b.cfg.Rack}}
	}
	out := make([]kmsg.MetadataResponseBroker, 0, len(brokers))
	for _, bi := range brokers {
		mb := kmsg.NewMetadataResponseBroker()
		mb.NodeID, mb.Host, mb.Port = bi.ID, bi.Host, bi.Port
		if bi.Rack != "" {
			rack := bi.Rack
			mb.Rack = &rack
		}
		out = append(out, mb)
	}
	return out
}

// controllerID names the broker admin requests go to. Every Strata broker
// can serve them (etcd is the controller), so the lowest live id is as good
// as any and stable.
func controllerID(brokers []meta.BrokerInfo, b *Broker) int32 {
	if len(brokers) == 0 {
		return b.cfg.NodeID
	}
	return brokers[0].ID
}

func metadataTopic(t *topicInfo) kmsg.MetadataResponseTopic {
	st := kmsg.NewMetadataResponseTopic()
	name := t.Name
	st.Topic, st.TopicID = &name, t.ID
	for p := int32(0); p < t.Partitions; p++ {
		sp := kmsg.NewMetadataResponseTopicPartition()
		sp.Partition = p
		ps := t.parts[p]
		sp.Leader, sp.LeaderEpoch = ps.Leader, ps.Epoch
		sp.Replicas, sp.ISR = ps.Replicas, ps.Replicas
		if ps.Leader < 0 {
			sp.ErrorCode = kerr.LeaderNotAvailable.Code
			sp.Replicas, sp.ISR = []int32{}, []int32{}
		}
		st.Partitions = append(st.Partitions, sp)
	}
	return st
}

// offsetsTopic is Kafka's internal topic of committed offsets. Strata keeps
// offsets in etcd and has no such topic, but clients and tools expect the
// name to exist, to be internal and to be taken: Metadata reports it as an
// internal topic with one partition led by the answering broker (the
// coordinator of every group), and CreateTopics refuses the name.
const offsetsTopic = "__consumer_offsets"

// offsetsTopicID is a fixed id for offsetsTopic.
var offsetsTopicID = [16]byte{'s', 't', 'r', 'a', 't', 'a', '-', 'o', 'f', 'f', 's', 'e', 't', 's', 0, 1}

func offsetsMetadataTopic(b *Broker) kmsg.MetadataResponseTopic {
	st := kmsg.NewMetadataResponseTopic()
	name := offsetsTopic
	st.Topic, st.TopicID, st.IsInternal = &name, offsetsTopicID, true
	sp := kmsg.NewMetadataResponseTopicPartition()
	sp.Leader, sp.LeaderEpoch = b.cfg.NodeID, 0
	sp.Replicas, sp.ISR = []int32{b.cfg.NodeID}, []int32{b.cfg.NodeID}
	st.Partitions = append(st.Partitions, sp)
	return st
}
