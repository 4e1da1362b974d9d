package broker

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(&api{key: 20, min: 0, max: 6, handle: handleDeleteTopics}) }

func handleDeleteTopics(b *Broker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.DeleteTopicsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	ctx, cancel := context.WithTimeout(r.conn.ctx, adminTimeout)
	defer cancel()
	names := req.TopicNames
	var ids [][16]byte
	for _, t := range req.Topics { // v6+: by name or id
		if t.Topic != nil {
			names = append(names, *t.Topic)
		} else {
			ids = append(ids, t.TopicID)
		}
	}
	del := func(name string, id [16]byte) {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic, st.TopicID = &name, id
		err := b.meta.DeleteTopic(ctx, name)
		if err == nil {
			b.log.Info("deleted topic", "topic", name)
		}
		err = metaErr(err)
		st.ErrorCode = errCode(err)
		if r.version >= 5 {
			st.ErrorMessage = errMessage(err)
		}
		resp.Topics = append(resp.Topics, st)
	}
	for _, name := range names {
		var id [16]byte
		if t := b.topic(name); t != nil {
			id = t.ID
		}
		del(name, id)
	}
	for _, id := range ids {
		t := b.topicByID(id)
		if t == nil {
			st := kmsg.NewDeleteTopicsResponseTopic()
			st.TopicID = id
			st.ErrorCode = kerr.UnknownTopicID.Code
			msg := fmt.Sprintf("unknown topic id %x", id)
			st.ErrorMessage = &msg
			resp.Topics = append(resp.Topics, st)
			continue
		}
		del(t.Name, id)
	}
	if err := b.awaitTopics(ctx, func(c *topicCache) bool {
		for _, st := range resp.Topics {
			if st.ErrorCode == 0 && c.byID[st.TopicID] != nil {
				return false
			}
		}
		return true
	}); err != nil {
		b.log.Warn("deleted topics not yet gone", "err", err)
	}
	return resp
}
