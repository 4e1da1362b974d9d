package meta

import (
	"context"
	"fmt"
	"math"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func (s *Store) producerIDKey() string { return s.prefix + "/producers/next-id" }

// AllocateProducerIDs reserves a block of n producer ids [first, first+n)
// that no other caller (of any Store on the same etcd and prefix) ever gets.
// Ids start at 0. The block is taken with a compare-and-swap on
// <p>/producers/next-id, retried on conflict until ctx is done.
func (s *Store) AllocateProducerIDs(ctx context.Context, n int64) (first int64, err error) {
	if n <= 0 {
		return 0, fmt.Errorf("allocate producer ids: block size must be positive, got %d", n)
	}
	key := s.producerIDKey()
	for attempt := 0; ; attempt++ {
		if err := retryBackoff(ctx, attempt); err != nil {
			return 0, fmt.Errorf("allocate producer ids: %w", err)
		}
		resp, err := s.cli.Get(ctx, key)
		if err != nil {
			return 0, fmt.Errorf("allocate producer ids: %w", err)
		}
		var next int64
		var cmp clientv3.Cmp
		if len(resp.Kvs) == 0 {
			cmp = clientv3.Compare(clientv3.CreateRevision(key), "=", 0)
		} else {
			next, err = strconv.ParseInt(string(resp.Kvs[0].Value), 10, 64)
			if err != nil || next < 0 {
				return 0, fmt.Errorf("allocate producer ids: bad value %q at %s", resp.Kvs[0].Value, key)
			}
			cmp = clientv3.Compare(clientv3.ModRevision(key), "=", resp.Kvs[0].ModRevision)
		}
		if next > math.MaxInt64-n {
			return 0, fmt.Errorf("allocate producer ids: producer id space exhausted")
		}
		tresp, err := s.cli.Txn(ctx).
			If(cmp).
			Then(clientv3.OpPut(key, strconv.FormatInt(next+n, 10))).
			Commit()
		if err != nil {
			return 0, fmt.Errorf("allocate producer ids: %w", err)
		}
		if tresp.Succeeded {
			return next, nil
		}
	}
}
