package meta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

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
