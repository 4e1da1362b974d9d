package meta

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Topic is a topic's metadata, stored as JSON at <p>/topics/<name>.
type Topic struct {
	Name string
	// ID is random (UUID version 4 layout) and never all zero. It is fixed
	// at creation; a re-created topic of the same name gets a new ID.
	ID         [16]byte
	Partitions int32
	// ReplicationFactor: CreateTopic stores values <= 0 (Kafka's -1, "broker
	// default") as 1.
	ReplicationFactor int16
	// Configs holds only explicitly set topic configs; see ConfigValue and
	// ConfigInt64 for effective values.
	Configs   map[string]string
	CreatedMs int64
}

// IDString returns the topic id in Kafka's textual form (22 characters of
// unpadded base64url), as Kafka tools print it.
func (t Topic) IDString() string { return TopicIDString(t.ID) }

// TopicIDString formats a topic id as Kafka does (unpadded base64url).
func TopicIDString(id [16]byte) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// Clone returns a deep copy of t.
func (t Topic) Clone() Topic {
	t.Configs = maps.Clone(t.Configs)
	return t
}

// topicJSON is Topic's stored form.
type topicJSON struct {
	Name              string            `json:"name"`
	ID                string            `json:"id"` // 32 lowercase hex chars
	Partitions        int32             `json:"partitions"`
	ReplicationFactor int16             `json:"replicationFactor"`
	Configs           map[string]string `json:"configs,omitempty"`
	CreatedMs         int64             `json:"createdMs"`
}

func encodeTopic(t Topic) ([]byte, error) {
	return json.Marshal(topicJSON{
		Name:              t.Name,
		ID:                hex.EncodeToString(t.ID[:]),
		Partitions:        t.Partitions,
		ReplicationFactor: t.ReplicationFactor,
		Configs:           t.Configs,
		CreatedMs:         t.CreatedMs,
	})
}

func decodeTopic(b []byte) (Topic, error) {
	var j topicJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return Topic{}, err
	}
	t := Topic{
		Name:              j.Name,
		Partitions:        j.Partitions,
		ReplicationFactor: j.ReplicationFactor,
		Configs:           j.Configs,
		CreatedMs:         j.CreatedMs,
	}
	if n, err := hex.Decode(t.ID[:], []byte(j.ID)); err != nil || n != 16 {
		return Topic{}, fmt.Errorf("bad topic id %q", j.ID)
	}
	if len(t.Configs) == 0 {
		t.Configs = nil
	}
	return t, nil
}

func (s *Store) topicsPrefix() string        { return s.prefix + "/topics/" }
func (s *Store) topicKey(name string) string { return s.topicsPrefix() + name }
func topicIDHex(id [16]byte) string          { return hex.EncodeToString(id[:]) }

func parseTopicID(s string) ([16]byte, error) {
	var id [16]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("malformed topic id %q", s)
	}
	copy(id[:], b)
	return id, nil
}
func (s *Store) partitionsPrefix(id [16]byte) string {
	return s.prefix + "/partitions/" + topicIDHex(id) + "/"
}

// NewTopicID returns a random topic id: UUID version 4 layout, never zero.
func NewTopicID() [16]byte {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		panic(err)
	}
	id[6] = id[6]&0x0f | 0x40 // version 4
	id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
	return id
}

func validateTopic(t Topic) error {
	if err := ValidateTopicName(t.Name); err != nil {
		return err
	}
	if t.Partitions < 1 {
		return fmt.Errorf("%w: partitions must be at least 1, got %d", ErrInvalidTopic, t.Partitions)
	}
	if t.ID == ([16]byte{}) {
		return fmt.Errorf("%w: zero topic id", ErrInvalidTopic)
	}
	if t.ReplicationFactor < 1 {
		return fmt.Errorf("%w: replication factor must be at least 1, got %d", ErrInvalidTopic, t.ReplicationFactor)
	}
	return ValidateTopicConfigs(t.Configs)
}

// CreateTopic creates a topic. A zero ID is replaced by a random one, a zero
// CreatedMs by the current time, a ReplicationFactor <= 0 by 1, and empty
// Configs by nil; the stored topic
// is returned. It fails with an error wrapping ErrTopicExists if the name is
// taken, ErrInvalidTopicName, ErrInvalidTopic (partitions < 1),
// ErrUnknownConfig or ErrInvalidConfig.
func (s *Store) CreateTopic(ctx context.Context, t Topic) (Topic, error) {
	t = t.Clone()
	if t.ID == ([16]byte{}) {
		t.ID = NewTopicID()
	}
	if t.CreatedMs == 0 {
		t.CreatedMs = time.Now().UnixMilli()
	}
	if t.ReplicationFactor <= 0 {
		t.ReplicationFactor = 1
	}
	if len(t.Configs) == 0 {
		t.Configs = nil
	}
	if err := validateTopic(t); err != nil {
		return Topic{}, fmt.Errorf("create topic %q: %w", t.Name, err)
	}
	val, err := encodeTopic(t)
	if err != nil {
		return Topic{}, fmt.Errorf("create topic %q: %w", t.Name, err)
	}
	key := s.topicKey(t.Name)
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(val))).
		Commit()
	if err != nil {
		return Topic{}, fmt.Errorf("create topic %q: %w", t.Name, err)
	}
	if !resp.Succeeded {
		return Topic{}, fmt.Errorf("create topic %q: %w", t.Name, ErrTopicExists)
	}
	return t.Clone(), nil
}

// Topic returns the named topic, or an error wrapping ErrUnknownTopic.
func (s *Store) Topic(ctx context.Context, name string) (Topic, error) {
	t, _, err := s.getTopic(ctx, name)
	if err != nil {
		return Topic{}, fmt.Errorf("get topic %q: %w", name, err)
	}
	return t, nil
}

// getTopic returns the topic and its key's ModRevision. Errors carry no
// context; callers add it.
func (s *Store) getTopic(ctx context.Context, name string) (Topic, int64, error) {
	if err := ValidateTopicName(name); err != nil {
		// An invalid name cannot exist; also keeps '/' out of key paths.
		return Topic{}, 0, ErrUnknownTopic
	}
	resp, err := s.cli.Get(ctx, s.topicKey(name))
	if err != nil {
		return Topic{}, 0, err
	}
	if len(resp.Kvs) == 0 {
		return Topic{}, 0, ErrUnknownTopic
	}
	t, err := decodeTopic(resp.Kvs[0].Value)
	if err != nil {
		return Topic{}, 0, fmt.Errorf("decode: %w", err)
	}
	return t, resp.Kvs[0].ModRevision, nil
}

// Topics returns every topic, sorted by name.
func (s *Store) Topics(ctx context.Context) ([]Topic, error) {
	m, _, err := s.listTopics(ctx)
	if err != nil {
		return nil, err
	}
	return sortedTopics(m), nil
}

// listTopics returns all topics by name and the revision of the read.
func (s *Store) listTopics(ctx context.Context) (map[string]Topic, int64, error) {
	resp, err := s.cli.Get(ctx, s.topicsPrefix(), clientv3.WithPrefix())
	if err != nil {
		return nil, 0, fmt.Errorf("list topics: %w", err)
	}
	m := make(map[string]Topic, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		t, err := decodeTopic(kv.Value)
		if err != nil {
			return nil, 0, fmt.Errorf("list topics: decode %s: %w", kv.Key, err)
		}
		m[t.Name] = t
	}
	return m, resp.Header.Revision, nil
}

// sortedTopics returns deep copies of m's topics sorted by name.
func sortedTopics(m map[string]Topic) []Topic {
	out := make([]Topic, 0, len(m))
	for _, t := range m {
		out = append(out, t.Clone())
	}
	slices.SortFunc(out, func(a, b Topic) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// UpdateTopic applies fn to the current topic and stores the result if the
// topic did not change in between (compared by ModRevision); on a conflict it
// re-reads and calls fn again, until ctx is done. fn gets a private deep copy.
// An error from fn aborts the update and is returned wrapped. fn may change
// Partitions (not decrease them), ReplicationFactor and Configs; changing
// Name or ID, or an invalid result, fails with ErrInvalidTopic,
// ErrUnknownConfig or ErrInvalidConfig. A missing topic yields ErrUnknownTopic.
func (s *Store) UpdateTopic(ctx context.Context, name string, fn func(*Topic) error) (Topic, error) {
	for attempt := 0; ; attempt++ {
		if err := retryBackoff(ctx, attempt); err != nil {
			return Topic{}, fmt.Errorf("update topic %q: %w", name, err)
		}
		cur, rev, err := s.getTopic(ctx, name)
		if err != nil {
			return Topic{}, fmt.Errorf("update topic %q: %w", name, err)
		}
		next := cur.Clone()
		if err := fn(&next); err != nil {
			return Topic{}, fmt.Errorf("update topic %q: %w", name, err)
		}
		if len(next.Configs) == 0 {
			next.Configs = nil
		}
		switch {
		case next.Name != cur.Name:
			return Topic{}, fmt.Errorf("update topic %q: %w: name cannot change", name, ErrInvalidTopic)
		case next.ID != cur.ID:
			return Topic{}, fmt.Errorf("update topic %q: %w: id cannot change", name, ErrInvalidTopic)
		case next.Partitions < cur.Partitions:
			return Topic{}, fmt.Errorf("update topic %q: %w: partitions cannot decrease from %d to %d", name, ErrInvalidTopic, cur.Partitions, next.Partitions)
		}
		if err := validateTopic(next); err != nil {
			return Topic{}, fmt.Errorf("update topic %q: %w", name, err)
		}
		val, err := encodeTopic(next)
		if err != nil {
			return Topic{}, fmt.Errorf("update topic %q: %w", name, err)
		}
		key := s.topicKey(name)
		resp, err := s.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
			Then(clientv3.OpPut(key, string(val))).
			Commit()
		if err != nil {
			return Topic{}, fmt.Errorf("update topic %q: %w", name, err)
		}
		if resp.Succeeded {
			return next.Clone(), nil
		}
	}
}

// DeleteTopic deletes a topic, its partition states and every consumer
// group's committed offsets for it. The topic key, its partition states and
// the offsets of up to 126 groups go in one transaction (guarded by the
// topic key's ModRevision); offsets of further groups follow in more
// transactions. A missing topic yields ErrUnknownTopic.
//
// Offsets committed for the topic concurrently with its deletion may
// survive it; group coordinators should check that a topic exists before
// committing offsets for it.
func (s *Store) DeleteTopic(ctx context.Context, name string) error {
	for attempt := 0; ; attempt++ {
		if err := retryBackoff(ctx, attempt); err != nil {
			return fmt.Errorf("delete topic %q: %w", name, err)
		}
		t, rev, err := s.getTopic(ctx, name)
		if err != nil {
			return fmt.Errorf("delete topic %q: %w", name, err)
		}
		groups, err := s.groupsWithTopicOffsets(ctx, name)
		if err != nil {
			return fmt.Errorf("delete topic %q: %w", name, err)
		}
		ops := []clientv3.Op{
			clientv3.OpDelete(s.topicKey(name)),
			clientv3.OpDelete(s.partitionsPrefix(t.ID), clientv3.WithPrefix()),
			clientv3.OpDelete(s.manifestsPrefix(t.ID), clientv3.WithPrefix()),
		}
		for _, g := range groups {
			ops = append(ops, clientv3.OpDelete(s.groupTopicOffsetsPrefix(g, name), clientv3.WithPrefix()))
		}
		n := min(len(ops), maxTxnOps)
		key := s.topicKey(name)
		resp, err := s.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
			Then(ops[:n]...).
			Commit()
		if err != nil {
			return fmt.Errorf("delete topic %q: %w", name, err)
		}
		if !resp.Succeeded {
			continue // changed (or deleted) concurrently: look again
		}
		if err := s.commitChunked(ctx, ops[n:]); err != nil {
			return fmt.Errorf("delete topic %q: delete group offsets: %w", name, err)
		}
		return nil
	}
}

// WatchTopics calls fn with the full set of topics (sorted by name) once at
// start and again after every change, until ctx is done; then it returns
// ctx.Err(). It blocks: run it in its own goroutine. Calls to fn are
// sequential and each gets fresh copies it may keep. A failure of the
// initial listing is returned; after that, lost watches (compaction,
// disconnects, leader loss) are handled by listing again and calling fn with
// the re-listed set.
func (s *Store) WatchTopics(ctx context.Context, fn func(topics []Topic)) error {
	first := true
	failures := 0
	for {
		topics, rev, err := s.listTopics(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if first {
				return fmt.Errorf("watch topics: %w", err)
			}
			failures++
			if !sleepCtx(ctx, min(time.Duration(failures)*100*time.Millisecond, 2*time.Second)) {
				return ctx.Err()
			}
			continue
		}
		first = false
		fn(sortedTopics(topics))

		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		wch := s.cli.Watch(wctx, s.topicsPrefix(), clientv3.WithPrefix(), clientv3.WithRev(rev+1))
		for wr := range wch {
			if wr.Err() != nil || wr.Canceled {
				break
			}
			if len(wr.Events) == 0 {
				continue // progress notification
			}
			failures = 0
			for _, ev := range wr.Events {
				name := strings.TrimPrefix(string(ev.Kv.Key), s.topicsPrefix())
				if ev.Type == mvccpb.DELETE {
					delete(topics, name)
					continue
				}
				t, err := decodeTopic(ev.Kv.Value)
				if err != nil {
					delete(topics, name) // unreadable: treat as absent
					continue
				}
				topics[name] = t
			}
			fn(sortedTopics(topics))
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
