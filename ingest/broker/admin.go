package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/strata-log/strata/meta"
)

// adminTimeout bounds the etcd work of one admin request.
const adminTimeout = 10 * time.Second

// createTopic validates and creates a topic: partition leadership is
// assigned round-robin over the live brokers and written before the topic
// itself, so that every broker that sees the topic also sees its leaders.
func (b *Broker) createTopic(ctx context.Context, name string, partitions int32, rf int16, configs map[string]string, validateOnly bool) (meta.Topic, error) {
	if err := meta.ValidateTopicName(name); err != nil {
		return meta.Topic{}, fmt.Errorf("%v: %w", err, kerr.InvalidTopicException)
	}
	if name == offsetsTopic {
		return meta.Topic{}, fmt.Errorf("topic %q is internal: %w", name, kerr.TopicAlreadyExists)
	}
	if partitions == -1 {
		partitions = b.cfg.DefaultPartitions
	}
	if partitions < 1 {
		return meta.Topic{}, fmt.Errorf("topic %q: %d partitions: must be at least 1: %w", name, partitions, kerr.InvalidPartitions)
	}
	if err := meta.ValidateTopicConfigs(configs); err != nil {
		return meta.Topic{}, fmt.Errorf("topic %q: %v: %w", name, err, kerr.InvalidConfig)
	}
	if b.topic(name) != nil {
		return meta.Topic{}, fmt.Errorf("topic %q: %w", name, kerr.TopicAlreadyExists)
	}
	brokers, err := b.brokers(ctx)
	if err != nil || len(brokers) == 0 {
		return meta.Topic{}, fmt.Errorf("topic %q: no live brokers to lead it (%v): %w", name, err, kerr.BrokerNotAvailable)
	}
	if rf == -1 {
		rf = int16(min(int(b.cfg.DefaultReplicationFactor), len(brokers)))
	}
	if rf < 1 || int(rf) > len(brokers) {
		return meta.Topic{}, fmt.Errorf("topic %q: replication factor %d: must be between 1 and the %d live brokers: %w", name, rf, len(brokers), kerr.InvalidReplicationFactor)
	}
	t := meta.Topic{Name: name, ID: meta.NewTopicID(), Partitions: partitions, ReplicationFactor: rf, Configs: configs, CreatedMs: time.Now().UnixMilli()}
	if validateOnly {
		return t, nil
	}
	if err := b.assignPartitions(ctx, t, 0, brokers); err != nil {
		return meta.Topic{}, err
	}
	t, err = b.meta.CreateTopic(ctx, t)
	if errors.Is(err, meta.ErrTopicExists) {
		return meta.Topic{}, fmt.Errorf("topic %q: %w", name, kerr.TopicAlreadyExists)
	}
	if err != nil {
		return meta.Topic{}, fmt.Errorf("topic %q: %v: %w", name, err, kerr.KafkaStorageError)
	}
	if err := b.awaitTopics(ctx, func(c *topicCache) bool { return c.byID[t.ID] != nil }); err != nil {
		b.log.Warn("created topic not yet visible", "topic", name, "err", err)
	}
	b.log.Info("created topic", "topic", name, "partitions", partitions)
	return t, nil
}

// assignPartitions writes the leadership of t's partitions from first on:
// partition p's replicas are t.ReplicationFactor brokers in a ring from
// broker p (mod the live brokers), the first of them its leader.
func (b *Broker) assignPartitions(ctx context.Context, t meta.Topic, first int32, brokers []meta.BrokerInfo) error {
	rf := max(1, min(int(t.ReplicationFactor), len(brokers)))
	for p := first; p < t.Partitions; p++ {
		replicas := make([]int32, rf)
		for i := range replicas {
			replicas[i] = brokers[(int(p)+i)%len(brokers)].ID
		}
		leader := replicas[0]
		if _, err := b.meta.ClaimLeadership(ctx, t.ID, p, leader, replicas); err != nil {
			return fmt.Errorf("topic %q partition %d: assign leader: %v: %w", t.Name, p, err, kerr.KafkaStorageError)
		}
	}
	return nil
}

// metaErr maps a meta error to a Kafka one.
func metaErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, meta.ErrUnknownTopic):
		return fmt.Errorf("%v: %w", err, kerr.UnknownTopicOrPartition)
	case errors.Is(err, meta.ErrUnknownConfig):
		return fmt.Errorf("%v: %w", err, kerr.InvalidConfig)
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return err
	}
	return fmt.Errorf("%v: %w", err, kerr.KafkaStorageError)
}
