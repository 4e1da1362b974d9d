package meta

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// GroupOffset is one committed consumer group offset. Stored as JSON
// {"offset","leaderEpoch","metadata","commitTimeMs"} at
// <p>/groups/<group>/offsets/<topic>/<partition>.
type GroupOffset struct {
	Topic        string
	Partition    int32
	Offset       int64
	LeaderEpoch  int32 // -1 when unknown, as in Kafka
	Metadata     string
	CommitTimeMs int64
}

type offsetJSON struct {
	Offset       int64  `json:"offset"`
	LeaderEpoch  int32  `json:"leaderEpoch"`
	Metadata     string `json:"metadata"`
	CommitTimeMs int64  `json:"commitTimeMs"`
}

func (s *Store) groupsPrefix() string { return s.prefix + "/groups/" }

func (s *Store) groupOffsetsPrefix(group string) string {
	return s.groupsPrefix() + url.PathEscape(group) + "/offsets/"
}

func (s *Store) groupTopicOffsetsPrefix(group, topic string) string {
	return s.groupOffsetsPrefix(group) + topic + "/"
}

func (s *Store) offsetKey(group, topic string, partition int32) string {
	return s.groupTopicOffsetsPrefix(group, topic) + strconv.Itoa(int(partition))
}

func validateGroup(group string) error {
	if group == "" {
		return fmt.Errorf("%w: empty", ErrInvalidGroupID)
	}
	return nil
}

// CommitOffsets stores the group's offsets, in one transaction (or, beyond
// 128 offsets, in consecutive transactions of 128). A zero CommitTimeMs is
// set to the current time. Topic names must be valid; partitions >= 0.
func (s *Store) CommitOffsets(ctx context.Context, group string, offs []GroupOffset) error {
	if err := validateGroup(group); err != nil {
		return fmt.Errorf("commit offsets for group %q: %w", group, err)
	}
	now := time.Now().UnixMilli()
	ops := make([]clientv3.Op, 0, len(offs))
	for _, o := range offs {
		if err := ValidateTopicName(o.Topic); err != nil {
			return fmt.Errorf("commit offsets for group %q: %w", group, err)
		}
		if o.Partition < 0 {
			return fmt.Errorf("commit offsets for group %q: negative partition %d of %q", group, o.Partition, o.Topic)
		}
		if o.CommitTimeMs == 0 {
			o.CommitTimeMs = now
		}
		val, err := json.Marshal(offsetJSON{Offset: o.Offset, LeaderEpoch: o.LeaderEpoch, Metadata: o.Metadata, CommitTimeMs: o.CommitTimeMs})
		if err != nil {
			return fmt.Errorf("commit offsets for group %q: %w", group, err)
		}
		ops = append(ops, clientv3.OpPut(s.offsetKey(group, o.Topic, o.Partition), string(val)))
	}
	if err := s.commitChunked(ctx, ops); err != nil {
		return fmt.Errorf("commit offsets for group %q: %w", group, err)
	}
	return nil
}

// FetchOffsets returns all of the group's committed offsets, sorted by topic
// then partition. A group without offsets yields an empty slice.
func (s *Store) FetchOffsets(ctx context.Context, group string) ([]GroupOffset, error) {
	if err := validateGroup(group); err != nil {
		return nil, fmt.Errorf("fetch offsets for group %q: %w", group, err)
	}
	prefix := s.groupOffsetsPrefix(group)
	resp, err := s.cli.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("fetch offsets for group %q: %w", group, err)
	}
	out := make([]GroupOffset, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		topic, part, ok := strings.Cut(strings.TrimPrefix(string(kv.Key), prefix), "/")
		if !ok {
			continue
		}
		p, err := strconv.ParseInt(part, 10, 32)
		if err != nil {
			continue
		}
		var j offsetJSON
		if err := json.Unmarshal(kv.Value, &j); err != nil {
			return nil, fmt.Errorf("fetch offsets for group %q: decode %s: %w", group, kv.Key, err)
		}
		out = append(out, GroupOffset{
			Topic: topic, Partition: int32(p),
			Offset: j.Offset, LeaderEpoch: j.LeaderEpoch, Metadata: j.Metadata, CommitTimeMs: j.CommitTimeMs,
		})
	}
	slices.SortFunc(out, func(a, b GroupOffset) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return out, nil
}

// DeleteOffsets deletes the group's offsets for the given partitions of
// topic, in one transaction (chunked beyond 128 partitions). Empty
// partitions deletes all of the group's offsets for topic. Deleting offsets
// that do not exist is not an error.
func (s *Store) DeleteOffsets(ctx context.Context, group string, topic string, partitions []int32) error {
	if err := validateGroup(group); err != nil {
		return fmt.Errorf("delete offsets for group %q: %w", group, err)
	}
	if err := ValidateTopicName(topic); err != nil {
		return fmt.Errorf("delete offsets for group %q: %w", group, err)
	}
	var ops []clientv3.Op
	if len(partitions) == 0 {
		ops = append(ops, clientv3.OpDelete(s.groupTopicOffsetsPrefix(group, topic), clientv3.WithPrefix()))
	}
	for _, p := range partitions {
		ops = append(ops, clientv3.OpDelete(s.offsetKey(group, topic, p)))
	}
	if err := s.commitChunked(ctx, ops); err != nil {
		return fmt.Errorf("delete offsets for group %q topic %q: %w", group, topic, err)
	}
	return nil
}

// DeleteGroupOffsets deletes all of the group's committed offsets.
func (s *Store) DeleteGroupOffsets(ctx context.Context, group string) error {
	if err := validateGroup(group); err != nil {
		return fmt.Errorf("delete offsets of group %q: %w", group, err)
	}
	if _, err := s.cli.Delete(ctx, s.groupOffsetsPrefix(group), clientv3.WithPrefix()); err != nil {
		return fmt.Errorf("delete offsets of group %q: %w", group, err)
	}
	return nil
}

// GroupsWithOffsets returns the ids of every group with committed offsets,
// sorted. It reads keys only.
func (s *Store) GroupsWithOffsets(ctx context.Context) ([]string, error) {
	var groups []string
	err := s.scanOffsetKeys(ctx, func(group, _ string) {
		if len(groups) == 0 || groups[len(groups)-1] != group {
			groups = append(groups, group)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("list groups with offsets: %w", err)
	}
	slices.Sort(groups)
	return slices.Compact(groups), nil
}

// groupsWithTopicOffsets returns the groups holding offsets for topic.
func (s *Store) groupsWithTopicOffsets(ctx context.Context, topic string) ([]string, error) {
	var groups []string
	err := s.scanOffsetKeys(ctx, func(group, t string) {
		if t == topic && (len(groups) == 0 || groups[len(groups)-1] != group) {
			groups = append(groups, group)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("list groups with offsets: %w", err)
	}
	slices.Sort(groups)
	return slices.Compact(groups), nil
}

// scanOffsetKeys calls fn(group, topic) for every offset key (keys-only
// range over <p>/groups/), in key order.
func (s *Store) scanOffsetKeys(ctx context.Context, fn func(group, topic string)) error {
	prefix := s.groupsPrefix()
	resp, err := s.cli.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return err
	}
	for _, kv := range resp.Kvs {
		esc, rest, ok := strings.Cut(strings.TrimPrefix(string(kv.Key), prefix), "/")
		if !ok {
			continue
		}
		rest, ok = strings.CutPrefix(rest, "offsets/")
		if !ok {
			continue
		}
		topic, _, ok := strings.Cut(rest, "/")
		if !ok {
			continue
		}
		group, err := url.PathUnescape(esc)
		if err != nil {
			continue
		}
		fn(group, topic)
	}
	return nil
}
