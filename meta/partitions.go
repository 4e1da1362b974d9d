package meta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// PartitionState is a partition's leadership, stored as JSON at
// <p>/partitions/<topicID hex>/<partition>.
type PartitionState struct {
	Leader   int32   `json:"leader"`
	Epoch    int32   `json:"epoch"`
	Replicas []int32 `json:"replicas"`
}

func (s *Store) partitionKey(topicID [16]byte, partition int32) string {
	return s.partitionsPrefix(topicID) + strconv.Itoa(int(partition))
}

// PartitionState returns a partition's state; ok is false if it has none
// (no broker ever claimed leadership).
func (s *Store) PartitionState(ctx context.Context, topicID [16]byte, partition int32) (st PartitionState, ok bool, err error) {
	st, _, ok, err = s.getPartitionState(ctx, topicID, partition)
	if err != nil {
		return PartitionState{}, false, fmt.Errorf("get partition %s/%d: %w", topicIDHex(topicID), partition, err)
	}
	return st, ok, nil
}

func (s *Store) getPartitionState(ctx context.Context, topicID [16]byte, partition int32) (PartitionState, int64, bool, error) {
	resp, err := s.cli.Get(ctx, s.partitionKey(topicID, partition))
	if err != nil {
		return PartitionState{}, 0, false, err
	}
	if len(resp.Kvs) == 0 {
		return PartitionState{}, 0, false, nil
	}
	var st PartitionState
	if err := json.Unmarshal(resp.Kvs[0].Value, &st); err != nil {
		return PartitionState{}, 0, false, fmt.Errorf("decode: %w", err)
	}
	return st, resp.Kvs[0].ModRevision, true, nil
}

// PartitionStates returns the state of every partition of the topic that
// has one, by partition.
func (s *Store) PartitionStates(ctx context.Context, topicID [16]byte) (map[int32]PartitionState, error) {
	prefix := s.partitionsPrefix(topicID)
	resp, err := s.cli.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("list partitions of %s: %w", topicIDHex(topicID), err)
	}
	out := make(map[int32]PartitionState, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		p, err := strconv.ParseInt(strings.TrimPrefix(string(kv.Key), prefix), 10, 32)
		if err != nil {
			continue // not a partition key
		}
		var st PartitionState
		if err := json.Unmarshal(kv.Value, &st); err != nil {
			return nil, fmt.Errorf("list partitions of %s: decode %s: %w", topicIDHex(topicID), kv.Key, err)
		}
		out[int32(p)] = st
	}
	return out, nil
}

// ClaimLeadership makes broker the partition's leader with a new epoch: the
// previous epoch + 1, or 0 if the partition had no state. replicas replaces
// the replica list; nil keeps the previous list (or [broker] if there was
// none). The write compares the previous ModRevision and is retried on
// conflict until ctx is done, so concurrent claims each get a distinct
// epoch and the last writer wins. It returns the state written.
func (s *Store) ClaimLeadership(ctx context.Context, topicID [16]byte, partition int32, broker int32, replicas []int32) (PartitionState, error) {
	if partition < 0 || broker < 0 {
		return PartitionState{}, fmt.Errorf("claim leadership of %s/%d by broker %d: negative partition or broker id", topicIDHex(topicID), partition, broker)
	}
	key := s.partitionKey(topicID, partition)
	for attempt := 0; ; attempt++ {
		if err := retryBackoff(ctx, attempt); err != nil {
			return PartitionState{}, fmt.Errorf("claim leadership of %s/%d: %w", topicIDHex(topicID), partition, err)
		}
		prev, rev, ok, err := s.getPartitionState(ctx, topicID, partition)
		if err != nil {
			return PartitionState{}, fmt.Errorf("claim leadership of %s/%d: %w", topicIDHex(topicID), partition, err)
		}
		next := PartitionState{Leader: broker, Replicas: slices.Clone(replicas)}
		var cmp clientv3.Cmp
		if ok {
			next.Epoch = prev.Epoch + 1
			if next.Replicas == nil {
				next.Replicas = prev.Replicas
			}
			cmp = clientv3.Compare(clientv3.ModRevision(key), "=", rev)
		} else {
			cmp = clientv3.Compare(clientv3.CreateRevision(key), "=", 0)
		}
		if next.Replicas == nil {
			next.Replicas = []int32{broker}
		}
		val, err := json.Marshal(next)
		if err != nil {
			return PartitionState{}, err
		}
		resp, err := s.cli.Txn(ctx).If(cmp).Then(clientv3.OpPut(key, string(val))).Commit()
		if err != nil {
			return PartitionState{}, fmt.Errorf("claim leadership of %s/%d: %w", topicIDHex(topicID), partition, err)
		}
		if resp.Succeeded {
			return next, nil
		}
	}
}

// ErrEpochMoved is returned by AppointLeader when the partition's epoch is
// no longer the one the caller saw: someone else appointed a leader first.
var ErrEpochMoved = errors.New("partition epoch moved")

// AppointLeader makes broker the partition's leader with epoch seen+1, only
// if the partition is still at epoch seen: of several brokers that saw the
// same leader fail and race to replace it, exactly one wins; the others
// get ErrEpochMoved. The replica list is kept. It returns the state
// written.
func (s *Store) AppointLeader(ctx context.Context, topicID [16]byte, partition int32, seen int32, broker int32) (PartitionState, error) {
	key := s.partitionKey(topicID, partition)
	prev, rev, ok, err := s.getPartitionState(ctx, topicID, partition)
	if err != nil {
		return PartitionState{}, fmt.Errorf("appoint leader of %s/%d: %w", topicIDHex(topicID), partition, err)
	}
	if !ok || prev.Epoch != seen {
		return prev, fmt.Errorf("appoint leader of %s/%d after epoch %d: %w", topicIDHex(topicID), partition, seen, ErrEpochMoved)
	}
	if !slices.Contains(prev.Replicas, broker) {
		return prev, fmt.Errorf("appoint leader of %s/%d: broker %d is not one of its replicas %v", topicIDHex(topicID), partition, broker, prev.Replicas)
	}
	next := PartitionState{Leader: broker, Epoch: seen + 1, Replicas: prev.Replicas}
	val, err := json.Marshal(next)
	if err != nil {
		return PartitionState{}, err
	}
	resp, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).Then(clientv3.OpPut(key, string(val))).Commit()
	if err != nil {
		return PartitionState{}, fmt.Errorf("appoint leader of %s/%d: %w", topicIDHex(topicID), partition, err)
	}
	if !resp.Succeeded {
		return prev, fmt.Errorf("appoint leader of %s/%d after epoch %d: %w", topicIDHex(topicID), partition, seen, ErrEpochMoved)
	}
	return next, nil
}

// PartitionChange is a partition's state after a change (Deleted when its
// key went away with its topic).
type PartitionChange struct {
	TopicID   [16]byte
	Partition int32
	State     PartitionState
	Deleted   bool
}

// WatchPartitions calls fn with every change of any partition's state
// (leader, epoch, replicas) from now on, in revision order, until ctx ends;
// it reconnects after failures (changes made meanwhile are delivered
// then, as the current state of each changed partition).
func (s *Store) WatchPartitions(ctx context.Context, fn func(PartitionChange)) error {
	prefix := s.prefix + "/partitions/"
	resp, err := s.cli.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return fmt.Errorf("watch partitions: %w", err)
	}
	rev := resp.Header.Revision
	failures := 0
	for {
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		wch := s.cli.Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1))
		for wr := range wch {
			if wr.CompactRevision != 0 {
				// Changes were compacted away while disconnected: deliver
				// every partition's current state instead.
				if r, err := s.replayPartitions(ctx, prefix, fn); err == nil {
					rev = r
				}
				break
			}
			if wr.Err() != nil || wr.Canceled {
				break
			}
			failures = 0
			for _, ev := range wr.Events {
				rev = ev.Kv.ModRevision
				if c, ok := decodePartitionKV(prefix, ev.Kv.Key, ev.Kv.Value, ev.Type == clientv3.EventTypeDelete); ok {
					fn(c)
				}
			}
		}
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		failures++
		if !sleepCtx(ctx, min(time.Duration(failures)*100*time.Millisecond, 2*time.Second)) {
			return ctx.Err()
		}
	}
}

// replayPartitions calls fn with every partition's current state and
// returns the revision read at.
func (s *Store) replayPartitions(ctx context.Context, prefix string, fn func(PartitionChange)) (int64, error) {
	resp, err := s.cli.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return 0, err
	}
	for _, kv := range resp.Kvs {
		if c, ok := decodePartitionKV(prefix, kv.Key, kv.Value, false); ok {
			fn(c)
		}
	}
	return resp.Header.Revision, nil
}

// decodePartitionKV decodes a partition key and its value; malformed ones
// are skipped.
func decodePartitionKV(prefix string, key, value []byte, deleted bool) (PartitionChange, bool) {
	id, p, ok := parsePartitionKey(strings.TrimPrefix(string(key), prefix))
	if !ok {
		return PartitionChange{}, false
	}
	c := PartitionChange{TopicID: id, Partition: p, Deleted: deleted}
	if !deleted && json.Unmarshal(value, &c.State) != nil {
		return PartitionChange{}, false
	}
	return c, true
}

// parsePartitionKey parses "<topic id hex>/<partition>", the tail of the
// partition and manifest keys.
func parsePartitionKey(key string) ([16]byte, int32, bool) {
	topic, part, ok := strings.Cut(key, "/")
	id, err := parseTopicID(topic)
	p, perr := strconv.ParseInt(part, 10, 32)
	if !ok || err != nil || perr != nil {
		return id, 0, false
	}
	return id, int32(p), true
}
