package broker

import (
	"context"
	"fmt"
	"time"

	"github.com/strata-log/strata/ingest/partition"
	"github.com/strata-log/strata/meta"
)

// topicCache is an immutable snapshot of the topics in etcd and of the
// partitions' leadership, swapped atomically on every change.
type topicCache struct {
	byName map[string]*topicInfo
	byID   map[[16]byte]*topicInfo
}

type topicInfo struct {
	meta.Topic
	parts []meta.PartitionState // by partition index

	// Configs the produce path reads, parsed once per cache rebuild.
	maxMessageBytes int64
	appendOpts      partition.AppendOptions
}

func newTopicInfo(t meta.Topic) *topicInfo {
	return &topicInfo{
		Topic:           t,
		maxMessageBytes: meta.ConfigInt64(t.Configs, "max.message.bytes"),
		appendOpts:      partition.AppendOptions{LogAppendTime: meta.ConfigValue(t.Configs, "message.timestamp.type") == "LogAppendTime"},
	}
}

func (t *topicInfo) partID(p int32) partition.ID { return partition.ID{Topic: t.ID, Partition: p} }

func (b *Broker) topic(name string) *topicInfo {
	if c := b.topics.Load(); c != nil {
		return c.byName[name]
	}
	return nil
}

func (b *Broker) topicByID(id [16]byte) *topicInfo {
	if c := b.topics.Load(); c != nil {
		return c.byID[id]
	}
	return nil
}

func (b *Broker) allTopics() map[string]*topicInfo {
	if c := b.topics.Load(); c != nil {
		return c.byName
	}
	return nil
}

// partitionExists tells the group coordinator whether a committed offset
// names a real partition.
func (b *Broker) partitionExists(topic string, p int32) bool {
	t := b.topic(topic)
	return t != nil && p >= 0 && p < t.Partitions
}

// localLog returns the local log of a partition this broker leads.
func (b *Broker) localLog(t *topicInfo, p int32) *partition.Log {
	if p < 0 || p >= int32(len(t.parts)) || t.parts[p].Leader != b.cfg.NodeID {
		return nil
	}
	return b.parts.Log(t.partID(p))
}

// watchTopics follows topic changes in etcd until the broker closes.
func (b *Broker) watchTopics() {
	for b.ctx.Err() == nil {
		err := b.meta.WatchTopics(b.ctx, func(topics []meta.Topic) {
			if err := b.applyTopics(b.ctx, topics); err != nil && b.ctx.Err() == nil {
				b.log.Error("apply topic change", "err", err)
			}
		})
		if b.ctx.Err() != nil {
			return
		}
		b.log.Warn("topic watch ended; retrying", "err", err)
		select {
		case <-time.After(time.Second):
		case <-b.ctx.Done():
		}
	}
}

// awaitTopics waits until the topic cache satisfies done: admin requests
// call it so that their own change is visible when they answer. Only the
// etcd watch (and the start, before it) writes the cache, in revision
// order, so a snapshot never replaces a newer one.
func (b *Broker) awaitTopics(ctx context.Context, done func(c *topicCache) bool) error {
	for {
		b.topicsMu.Lock()
		c, changed := b.topics.Load(), b.topicsChanged
		b.topicsMu.Unlock()
		if c != nil && done(c) {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("waiting for the topic change to reach this broker: %w", ctx.Err())
		}
	}
}

// applyTopics rebuilds the topic cache from the full topic list: it loads
// the leadership of new partitions, takes the leadership of partitions
// assigned to this broker, and drops the logs of deleted topics.
func (b *Broker) applyTopics(ctx context.Context, topics []meta.Topic) error {
	b.topicsMu.Lock()
	defer b.topicsMu.Unlock()
	old := b.topics.Load()
	next := &topicCache{byName: map[string]*topicInfo{}, byID: map[[16]byte]*topicInfo{}}
	var firstErr error
	for _, t := range topics {
		info := newTopicInfo(t)
		var prev *topicInfo
		if old != nil {
			prev = old.byID[t.ID]
		}
		for p := int32(0); p < t.Partitions; p++ {
			if prev != nil && p < int32(len(prev.parts)) && prev.parts[p].Leader >= 0 {
				info.parts = append(info.parts, prev.parts[p])
				continue
			}
			st, err := b.loadPartition(ctx, t, p)
			if err != nil && firstErr == nil {
				firstErr = err
			}
			info.parts = append(info.parts, st)
		}
		next.byName[t.Name] = info
		next.byID[t.ID] = info
	}
	if old != nil {
		for id, t := range old.byID {
			if next.byID[id] == nil {
				for p := int32(0); p < t.Partitions; p++ {
					b.parts.Drop(t.partID(p))
				}
			}
		}
	}
	b.topics.Store(next)
	if b.topicsChanged != nil {
		close(b.topicsChanged)
	}
	b.topicsChanged = make(chan struct{})
	return firstErr
}

// loadPartition reads a partition's leadership and, when it is assigned to
// this broker, claims it under a new epoch and opens its log. A partition
// that cannot be loaded is reported with leader -1 (LEADER_NOT_AVAILABLE)
// and retried on the next change.
func (b *Broker) loadPartition(ctx context.Context, t meta.Topic, p int32) (meta.PartitionState, error) {
	unavailable := meta.PartitionState{Leader: -1, Epoch: -1}
	st, ok, err := b.meta.PartitionState(ctx, t.ID, p)
	if err != nil {
		return unavailable, fmt.Errorf("topic %q partition %d: %w", t.Name, p, err)
	}
	if !ok {
		return unavailable, nil
	}
	if len(st.Replicas) > 1 {
		// Replicated: a leader starts a new epoch for this run of the
		// broker and takes over through the partition watch; followers
		// open their log.
		if st.Leader == b.cfg.NodeID {
			if next, err := b.meta.AppointLeader(ctx, t.ID, p, st.Epoch, b.cfg.NodeID); err == nil {
				st = next
			}
		}
		b.applyPartition(t, p, st)
		return st, nil
	}
	if st.Leader != b.cfg.NodeID {
		return st, nil
	}
	st, err = b.meta.ClaimLeadership(ctx, t.ID, p, b.cfg.NodeID, st.Replicas)
	if err != nil {
		return unavailable, fmt.Errorf("topic %q partition %d: claim leadership: %w", t.Name, p, err)
	}
	l := b.parts.Open(partition.ID{Topic: t.ID, Partition: p})
	if err := l.BecomeLeader(st.Epoch, []int32{b.cfg.NodeID}, 1); err != nil {
		return unavailable, err
	}
	return st, nil
}
