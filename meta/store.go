package meta

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// DefaultPrefix is the key prefix used when NewStore is given "".
const DefaultPrefix = "/strata"

// maxTxnOps is etcd's default limit on operations in one transaction
// (--max-txn-ops). Multi-key writes are chunked to stay within it.
const maxTxnOps = 128

// Sentinel errors. Errors returned by Store wrap these (test with errors.Is)
// and add context.
var (
	// ErrTopicExists: CreateTopic on a name that already exists.
	ErrTopicExists = errors.New("topic already exists")
	// ErrUnknownTopic: the named topic does not exist.
	ErrUnknownTopic = errors.New("unknown topic")
	// ErrBrokerIDInUse: another live registration holds the broker id.
	ErrBrokerIDInUse = errors.New("broker id already registered")
	// ErrUnknownConfig: a topic config name Strata does not understand.
	ErrUnknownConfig = errors.New("unknown topic config")
	// ErrInvalidConfig: a topic config value that fails validation.
	ErrInvalidConfig = errors.New("invalid topic config")
	// ErrInvalidTopicName: a topic name that breaks Kafka's naming rules.
	ErrInvalidTopicName = errors.New("invalid topic name")
	// ErrInvalidTopic: a topic definition that is not acceptable (partition
	// count, attempts to change the name or id in UpdateTopic, ...).
	ErrInvalidTopic = errors.New("invalid topic")
	// ErrInvalidGroupID: an empty consumer group id.
	ErrInvalidGroupID = errors.New("invalid group id")
)

// Store reads and writes Strata's metadata in etcd. It is safe for
// concurrent use. Every method takes a context; callers set timeouts.
type Store struct {
	cli    *clientv3.Client
	prefix string
}

// NewStore returns a Store using cli with every key under prefix. An empty
// prefix means DefaultPrefix ("/strata"); a trailing '/' is dropped.
func NewStore(cli *clientv3.Client, prefix string) *Store {
	prefix = strings.TrimRight(prefix, "/")
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &Store{cli: cli, prefix: prefix}
}

// Client returns the etcd client the Store uses.
func (s *Store) Client() *clientv3.Client { return s.cli }

// Prefix returns the key prefix the Store uses (without a trailing '/').
func (s *Store) Prefix() string { return s.prefix }

func (s *Store) clusterIDKey() string { return s.prefix + "/cluster/id" }

// ClusterID returns the cluster id, creating it atomically if absent. Every
// caller, on every Store over the same etcd and prefix, gets the same id.
func (s *Store) ClusterID(ctx context.Context) (string, error) {
	key := s.clusterIDKey()
	// Fast path: it almost always exists.
	resp, err := s.cli.Get(ctx, key)
	if err != nil {
		return "", fmt.Errorf("get cluster id: %w", err)
	}
	if len(resp.Kvs) > 0 {
		return string(resp.Kvs[0].Value), nil
	}
	id := newClusterID()
	tresp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, id)).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return "", fmt.Errorf("create cluster id: %w", err)
	}
	if tresp.Succeeded {
		return id, nil
	}
	kvs := tresp.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return "", fmt.Errorf("create cluster id: key vanished concurrently")
	}
	return string(kvs[0].Value), nil
}

// newClusterID returns 16 random bytes as 22 chars of unpadded base64url.
func newClusterID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// retryBackoff sleeps briefly (with jitter, growing with attempt) before a
// compare-and-swap retry, or returns ctx's error if ctx ends first.
func retryBackoff(ctx context.Context, attempt int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if attempt == 0 {
		return nil
	}
	maxD := time.Millisecond << min(attempt, 6) // up to 64ms
	d := time.Duration(mrand.Int64N(int64(maxD)) + 1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// sleepCtx sleeps for d or until ctx is done, reporting whether it slept
// the whole time.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// commitChunked runs ops in consecutive transactions of at most maxTxnOps.
func (s *Store) commitChunked(ctx context.Context, ops []clientv3.Op) error {
	for len(ops) > 0 {
		n := min(len(ops), maxTxnOps)
		if _, err := s.cli.Txn(ctx).Then(ops[:n]...).Commit(); err != nil {
			return err
		}
		ops = ops[n:]
	}
	return nil
}
