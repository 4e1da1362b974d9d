package meta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// ErrManifestConflict: a manifest changed since it was read (another
// uploader, or a leader that lost its leadership, committed meanwhile).
var ErrManifestConflict = errors.New("manifest changed since it was read")

// SegmentRef names the part of a tiered object that holds a range of one
// partition's offsets.
type SegmentRef struct {
	Object string `json:"object"` // object name in the bucket
	// Level is 0 for a segment (a Parquet object). A ref of level n > 0
	// names a manifest page: an object listing refs of lower levels that
	// together cover this ref's offsets (see tiering's pages.go and
	// docs/format/manifest.md); the counts and timestamps sum them up.
	Level        int   `json:"level,omitempty"`
	FirstOffset  int64 `json:"first"`
	LastOffset   int64 `json:"last"`
	MinTimestamp int64 `json:"minTs"`
	MaxTimestamp int64 `json:"maxTs"`
	Records      int64 `json:"records"`
	Bytes        int64 `json:"bytes"` // stored bytes of this partition in the object
	// Columns names the object of typed columns written beside a
	// segment's object for a topic whose values are declared (a SQL
	// stream or table; docs/format/columns.md), or is empty.
	Columns string `json:"columns,omitempty"`
}

// Manifest is one partition's record of its tiered data: the segments
// that hold its offsets, in offset order and without overlap. Only what
// a manifest names is served; an object no manifest names is garbage.
type Manifest struct {
	// LogStart is the partition's log start offset: retention and
	// DeleteRecords move it up; segments wholly below it are dropped.
	LogStart int64 `json:"logStart,omitempty"`
	// End is the offset after the last tiered one. It can pass the last
	// segment's end: compaction may empty the newest segment.
	End int64 `json:"end,omitempty"`
	// Cleaned is the offset below which compaction last ran (compacted
	// topics only).
	Cleaned int64 `json:"cleaned,omitempty"`
	// Producers are the idempotent producers that wrote below End, with
	// their last batches: the WAL that held those batches may be gone by
	// the next start, and a producer retrying across it must still be
	// recognised.
	Producers []ProducerSnapshot `json:"producers,omitempty"`
	Segments  []SegmentRef       `json:"segments"`
	// Revision is the etcd revision the manifest was read at (its key's
	// ModRevision; 0 when the partition has none yet). A commit succeeds
	// only if the manifest is still at that revision.
	Revision int64 `json:"-"`
}

// EndOffset is the offset after the last tiered one, at least LogStart:
// everything below it is in a segment, compacted away or deleted.
func (m *Manifest) EndOffset() int64 {
	end := max(m.LogStart, m.End)
	if n := len(m.Segments); n > 0 {
		end = max(end, m.Segments[n-1].LastOffset+1)
	}
	return end
}

// validate checks that the segments are ordered and do not overlap.
func (m *Manifest) validate() error {
	if m.LogStart < 0 {
		return fmt.Errorf("log start %d is negative", m.LogStart)
	}
	for i, s := range m.Segments {
		if s.Object == "" || s.LastOffset < s.FirstOffset {
			return fmt.Errorf("segment %d (%q, offsets %d-%d) is malformed", i, s.Object, s.FirstOffset, s.LastOffset)
		}
		if i > 0 && s.FirstOffset <= m.Segments[i-1].LastOffset {
			return fmt.Errorf("segment %d starts at %d, inside the previous one ending at %d", i, s.FirstOffset, m.Segments[i-1].LastOffset)
		}
	}
	return nil
}

func (s *Store) manifestsPrefix(topicID [16]byte) string {
	return s.prefix + "/manifests/" + topicIDHex(topicID) + "/"
}

func (s *Store) manifestKey(topicID [16]byte, partition int32) string {
	return s.manifestsPrefix(topicID) + strconv.Itoa(int(partition))
}

// Manifest reads a partition's manifest.
func (s *Store) Manifest(ctx context.Context, topicID [16]byte, partition int32) (Manifest, error) {
	resp, err := s.cli.Get(ctx, s.manifestKey(topicID, partition))
	if err != nil {
		return Manifest{}, fmt.Errorf("get manifest %s/%d: %w", topicIDHex(topicID), partition, err)
	}
	if len(resp.Kvs) == 0 {
		return Manifest{}, nil
	}
	var m Manifest
	if err := json.Unmarshal(resp.Kvs[0].Value, &m); err != nil {
		return Manifest{}, fmt.Errorf("decode manifest %s/%d: %w", topicIDHex(topicID), partition, err)
	}
	m.Revision = resp.Kvs[0].ModRevision
	return m, nil
}

// ProducerSnapshot is an idempotent producer's state on a partition.
type ProducerSnapshot struct {
	ID    int64 `json:"id"`
	Epoch int16 `json:"epoch"`
	// Batches are its last batches, oldest first: first sequence, last
	// sequence, base offset, last offset.
	Batches [][4]int64 `json:"batches"`
	LastMs  int64      `json:"lastMs"` // unix ms of its last append
}

// PartitionManifest is one partition's manifest, as Manifests lists them.
type PartitionManifest struct {
	TopicID   [16]byte
	Partition int32
	Manifest
}

// Manifests reads every partition's manifest, sorted by topic id and
// partition.
func (s *Store) Manifests(ctx context.Context) ([]PartitionManifest, error) {
	prefix := s.prefix + "/manifests/"
	resp, err := s.cli.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("list manifests: %w", err)
	}
	out := make([]PartitionManifest, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		key := strings.TrimPrefix(string(kv.Key), prefix)
		id, p, ok := parsePartitionKey(key)
		if !ok {
			return nil, fmt.Errorf("list manifests: malformed key %q", kv.Key)
		}
		pm := PartitionManifest{TopicID: id, Partition: p}
		if err := json.Unmarshal(kv.Value, &pm.Manifest); err != nil {
			return nil, fmt.Errorf("decode manifest %s: %w", key, err)
		}
		pm.Revision = kv.ModRevision
		out = append(out, pm)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].TopicID != out[j].TopicID {
			return string(out[i].TopicID[:]) < string(out[j].TopicID[:])
		}
		return out[i].Partition < out[j].Partition
	})
	return out, nil
}

// ManifestUpdate replaces one partition's manifest, read at
// Manifest.Revision.
type ManifestUpdate struct {
	TopicID   [16]byte
	Partition int32
	Manifest  Manifest
}

// maxManifestsPerTxn keeps a commit (up to two compares and a put per
// partition) within etcd's limit of operations per transaction.
const maxManifestsPerTxn = maxTxnOps / 3

// CommitManifests writes the updated manifests, each only if it is still
// at the revision it was read at (and, for a partition's first manifest,
// only if the partition exists: its topic was not deleted meanwhile);
// otherwise nothing of that transaction is written and the error wraps
// ErrManifestConflict. Up to 42 partitions
// commit atomically in one transaction; more are split into consecutive
// transactions, each atomic (a tiered object whose partitions commit in
// several transactions is safe: each partition's manifest is complete on
// its own). It returns the manifests with their new revisions.
func (s *Store) CommitManifests(ctx context.Context, updates []ManifestUpdate) ([]Manifest, error) {
	out := make([]Manifest, 0, len(updates))
	for len(updates) > 0 {
		n := min(len(updates), maxManifestsPerTxn)
		chunk := updates[:n]
		updates = updates[n:]
		var cmps []clientv3.Cmp
		var puts []clientv3.Op
		for _, u := range chunk {
			if err := u.Manifest.validate(); err != nil {
				return out, fmt.Errorf("manifest %s/%d: %w", topicIDHex(u.TopicID), u.Partition, err)
			}
			raw, err := json.Marshal(u.Manifest)
			if err != nil {
				return out, err
			}
			key := s.manifestKey(u.TopicID, u.Partition)
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "=", u.Manifest.Revision))
			if u.Manifest.Revision == 0 {
				// A first manifest needs its partition: a commit racing
				// with the topic's deletion must not leave one behind.
				cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(s.partitionKey(u.TopicID, u.Partition)), ">", 0))
			}
			puts = append(puts, clientv3.OpPut(key, string(raw)))
		}
		resp, err := s.cli.Txn(ctx).If(cmps...).Then(puts...).Commit()
		if err != nil {
			return out, fmt.Errorf("commit manifests: %w", err)
		}
		if !resp.Succeeded {
			return out, fmt.Errorf("commit manifests of %d partitions: %w", len(chunk), ErrManifestConflict)
		}
		for _, u := range chunk {
			m := u.Manifest
			m.Revision = resp.Header.Revision
			out = append(out, m)
		}
	}
	return out, nil
}
