package broker

import (
	"context"
	"fmt"
	"maps"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-log/strata/meta"
)

// configSource tells whether a topic config was set on the topic or is the
// default.
func configSource(set map[string]string, name string) int8 {
	if _, ok := set[name]; ok {
		return int8(kmsg.ConfigSourceDynamicTopicConfig)
	}
	return int8(kmsg.ConfigSourceDefaultConfig)
}

func configType(t string) kmsg.ConfigType {
	switch t {
	case "long":
		return kmsg.ConfigTypeLong
	case "int":
		return kmsg.ConfigTypeInt
	case "boolean":
		return kmsg.ConfigTypeBoolean
	case "double":
		return kmsg.ConfigTypeDouble
	case "list":
		return kmsg.ConfigTypeList
	}
	return kmsg.ConfigTypeString
}

// alterTopicConfigs applies fn to a copy of the topic's configs, validates
// the result and stores it in etcd (unless validateOnly).
func (b *Broker) alterTopicConfigs(ctx context.Context, name string, validateOnly bool, fn func(configs map[string]string) error) error {
	if b.topic(name) == nil {
		return fmt.Errorf("topic %q: %w", name, kerr.UnknownTopicOrPartition)
	}
	apply := func(t *meta.Topic) error {
		configs := maps.Clone(t.Configs)
		if configs == nil {
			configs = map[string]string{}
		}
		if err := fn(configs); err != nil {
			return err
		}
		if err := meta.ValidateTopicConfigs(configs); err != nil {
			return fmt.Errorf("topic %q: %v: %w", name, err, kerr.InvalidConfig)
		}
		t.Configs = configs
		return nil
	}
	if validateOnly {
		t, err := b.meta.Topic(ctx, name)
		if err != nil {
			return metaErr(err)
		}
		return apply(&t)
	}
	t, err := b.meta.UpdateTopic(ctx, name, apply)
	if err != nil {
		return metaErr(err)
	}
	b.log.Info("altered topic configs", "topic", name)
	return b.awaitTopics(ctx, func(c *topicCache) bool {
		ct := c.byID[t.ID]
		return ct == nil || maps.Equal(ct.Configs, t.Configs)
	})
}

func init() { register(&api{key: 32, min: 0, max: 4, handle: handleDescribeConfigs}) }

func handleDescribeConfigs(b *Broker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.DescribeConfigsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, rr := range req.Resources {
		sr := kmsg.NewDescribeConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			t := b.topic(rr.ResourceName)
			if t == nil {
				sr.ErrorCode = kerr.UnknownTopicOrPartition.Code
				break
			}
			want := map[string]bool{}
			for _, n := range rr.ConfigNames {
				want[n] = true
			}
			for _, d := range meta.TopicConfigDefs() {
				if len(want) > 0 && !want[d.Name] {
					continue
				}
				c := kmsg.NewDescribeConfigsResponseResourceConfig()
				c.Name = d.Name
				v := meta.ConfigValue(t.Configs, d.Name)
				c.Value = &v
				c.Source = kmsg.ConfigSource(configSource(t.Configs, d.Name))
				c.IsDefault = c.Source == kmsg.ConfigSourceDefaultConfig
				c.ConfigType = configType(d.Type)
				if req.IncludeDocumentation {
					doc := d.Doc
					c.Documentation = &doc
				}
				if req.IncludeSynonyms && !c.IsDefault {
					syn := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
					syn.Name, syn.Value, syn.Source = d.Name, c.Value, c.Source
					c.ConfigSynonyms = append(c.ConfigSynonyms, syn)
				}
				sr.Configs = append(sr.Configs, c)
			}
		case kmsg.ConfigResourceTypeBroker, kmsg.ConfigResourceTypeBrokerLogger:
			// Strata's broker settings are flags, not dynamic configs:
			// there is nothing to describe.
		default:
			sr.ErrorCode = kerr.InvalidRequest.Code
			msg := fmt.Sprintf("config resource type %d is not supported", rr.ResourceType)
			sr.ErrorMessage = &msg
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return resp
}

func init() { register(&api{key: 33, min: 0, max: 2, handle: handleAlterConfigs}) }

// handleAlterConfigs replaces a topic's whole config set (the legacy API).
func handleAlterConfigs(b *Broker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.AlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	ctx, cancel := context.WithTimeout(r.conn.ctx, adminTimeout)
	defer cancel()
	for _, rr := range req.Resources {
		sr := kmsg.NewAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		var err error
		if rr.ResourceType != kmsg.ConfigResourceTypeTopic {
			err = fmt.Errorf("only topic configs can be altered: %w", kerr.InvalidRequest)
		} else {
			err = b.alterTopicConfigs(ctx, rr.ResourceName, req.ValidateOnly, func(configs map[string]string) error {
				clear(configs)
				for _, c := range rr.Configs {
					if c.Value != nil {
						configs[c.Name] = *c.Value
					}
				}
				return nil
			})
		}
		sr.ErrorCode, sr.ErrorMessage = errCode(err), errMessage(err)
		resp.Resources = append(resp.Resources, sr)
	}
	return resp
}

func init() { register(&api{key: 44, min: 0, max: 1, handle: handleIncrementalAlterConfigs}) }

func handleIncrementalAlterConfigs(b *Broker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.IncrementalAlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	ctx, cancel := context.WithTimeout(r.conn.ctx, adminTimeout)
	defer cancel()
	for _, rr := range req.Resources {
		sr := kmsg.NewIncrementalAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		var err error
		if rr.ResourceType != kmsg.ConfigResourceTypeTopic {
			err = fmt.Errorf("only topic configs can be altered: %w", kerr.InvalidRequest)
		} else {
			err = b.alterTopicConfigs(ctx, rr.ResourceName, req.ValidateOnly, func(configs map[string]string) error {
				for _, c := range rr.Configs {
					switch c.Op {
					case kmsg.IncrementalAlterConfigOpSet:
						if c.Value == nil {
							return fmt.Errorf("config %q: set without a value: %w", c.Name, kerr.InvalidConfig)
						}
						configs[c.Name] = *c.Value
					case kmsg.IncrementalAlterConfigOpDelete:
						delete(configs, c.Name)
					default:
						return fmt.Errorf("config %q: operation %v is not supported (only set and delete): %w", c.Name, c.Op, kerr.InvalidConfig)
					}
				}
				return nil
			})
		}
		sr.ErrorCode, sr.ErrorMessage = errCode(err), errMessage(err)
		resp.Resources = append(resp.Resources, sr)
	}
	return resp
}

func init() { register(&api{key: 37, min: 0, max: 3, handle: handleCreatePartitions}) }

// handleCreatePartitions grows topics: the new partitions' leaders are
// assigned before the topic's count is raised.
func handleCreatePartitions(b *Broker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.CreatePartitionsRequest)
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	ctx, cancel := context.WithTimeout(r.conn.ctx, adminTimeout)
	defer cancel()
	for _, rt := range req.Topics {
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		err := b.createPartitions(ctx, rt.Topic, rt.Count, req.ValidateOnly)
		st.ErrorCode, st.ErrorMessage = errCode(err), errMessage(err)
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

func (b *Broker) createPartitions(ctx context.Context, name string, count int32, validateOnly bool) error {
	t := b.topic(name)
	if t == nil {
		return fmt.Errorf("topic %q: %w", name, kerr.UnknownTopicOrPartition)
	}
	if count <= t.Partitions {
		return fmt.Errorf("topic %q has %d partitions; the new count %d must be larger: %w", name, t.Partitions, count, kerr.InvalidPartitions)
	}
	if validateOnly {
		return nil
	}
	brokers, err := b.brokers(ctx)
	if err != nil || len(brokers) == 0 {
		return fmt.Errorf("topic %q: no live brokers (%v): %w", name, err, kerr.BrokerNotAvailable)
	}
	grown := t.Topic
	grown.Partitions = count
	if err := b.assignPartitions(ctx, grown, t.Partitions, brokers); err != nil {
		return err
	}
	updated, err := b.meta.UpdateTopic(ctx, name, func(mt *meta.Topic) error {
		if mt.ID != t.ID {
			return fmt.Errorf("topic %q was re-created: %w", name, kerr.UnknownTopicOrPartition)
		}
		if count <= mt.Partitions {
			return fmt.Errorf("topic %q already has %d partitions: %w", name, mt.Partitions, kerr.InvalidPartitions)
		}
		mt.Partitions = count
		return nil
	})
	if err != nil {
		return metaErr(err)
	}
	b.log.Info("added partitions", "topic", name, "partitions", count)
	return b.awaitTopics(ctx, func(c *topicCache) bool {
		ct := c.byID[updated.ID]
		return ct == nil || ct.Partitions >= count
	})
}
