// Package tiering moves a broker's acknowledged records from its
// write-ahead log into object storage and serves them back.
//
// A Tierer runs one loop per broker. Each round it looks at the partitions
// the broker leads (through Source, which the broker implements via an
// adapter in cmd: tiering never imports ingest) and, when some partition
// is due (its untiered data has reached segment.bytes or is older than
// segment.ms, or all partitions together have Config.ObjectBytes), it
// seals the untiered data of every partition, as many as fit, into one
// zstd Parquet object (package segment): request cost grows with bytes,
// not with the number of partitions. Then, in this order and never
// otherwise:
//
//  1. upload the object under segments/ (retried with backoff while the
//     store is down or slow);
//  2. commit each partition's new manifest in etcd, compared against the
//     revision it was read at (meta.Store.CommitManifests);
//  3. tell the partition its new tiered offset, then release WAL segments
//     that hold only tiered data.
//
// A crash between 1 and 2 leaves an object no manifest names, which the
// collector deletes after Config.GCGrace; a crash between 2 and 3 leaves
// data in both tiers, and recovery skips the WAL copy. Nothing is lost and
// nothing is served twice.
//
// The same round applies retention (retention.ms, retention.bytes: whole
// segments leave the manifest and the log start offset moves past them)
// and records log start offsets moved by DeleteRecords. Objects are
// deleted only by the collector, once no manifest names them: an object
// holds many partitions, and each partition lets go of it on its own.
//
// Reads: the Tierer implements the broker's cold store (Read,
// OffsetForTimestamp, MaxTimestamp) from its in-memory copy of the
// manifests, opening segments through the bucket it is given (the read
// cache in production) and keeping their footers in a bounded map.
package tiering

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-log/strata/meta"
)

// PartitionID names a partition: its topic's id and index.
type PartitionID struct {
	Topic     [16]byte
	Partition int32
}

func (id PartitionID) String() string { return fmt.Sprintf("%x/%d", id.Topic, id.Partition) }

// Status is a partition's tiering state as its log reports it.
type Status struct {
	LogStart      int64
	HighWatermark int64
	Tiered        int64 // offsets below are in object storage
	UntieredBytes int64 // acknowledged bytes from Tiered to HighWatermark
	Oldest        time.Time
}

// Partition is one partition the broker leads.
type Partition interface {
	ID() PartitionID
	// Configs are the topic's configs (meta.ConfigValue reads them).
	Configs() map[string]string
	Status() Status
	// ReadUntiered returns acknowledged batches from the tiered offset on,
	// up to maxBytes (at least one if any), and the offset after them.
	ReadUntiered(maxBytes int64) ([][]byte, int64, error)
	// SetTiered records a committed manifest: offsets below tiered are in
	// object storage and the log starts at logStart.
	SetTiered(tiered, logStart int64)
	// ReadColdBelow makes reads below offset use the tiered copy, which a
	// compaction rewrote, instead of the WAL's.
	ReadColdBelow(offset int64)
	// Producers returns the idempotent producers that wrote below end and
	// appended since expireBeforeMs, with their batches below end.
	Producers(end, expireBeforeMs int64) []meta.ProducerSnapshot
}

// Source is the broker, as the tiering loop sees it.
type Source interface {
	// Partitions lists the partitions the broker leads.
	Partitions() []Partition
	// Followed lists the partitions the broker follows: their leaders
	// tier them, and the loop only learns from the manifests what it may
	// release from its WAL.
	Followed() []Partition
	// ActiveSegment is the WAL segment appends go to now.
	ActiveSegment() uint64
	// ReleaseWAL removes WAL segments below limit that hold only tiered
	// data.
	ReleaseWAL(limit uint64) (uint64, error)
}

// Config configures a Tierer. Zero values take the defaults.
type Config struct {
	// Interval between rounds of the loop. Default 250ms.
	Interval time.Duration
	// ObjectBytes: a round seals once every partition's untiered data
	// together reaches this size, and an object holds at most about this
	// much input. Default 32 MiB.
	ObjectBytes int64
	// SegmentMs and SegmentBytes are the broker defaults of the topic
	// configs segment.ms and segment.bytes, for topics that do not set
	// them. Defaults: meta's topic config defaults.
	SegmentMs    time.Duration
	SegmentBytes int64
	// GCInterval between runs of the collector of unreferenced objects.
	// Default 5m.
	GCInterval time.Duration
	// GCGrace is how old an unreferenced object must be before it is
	// deleted: longer than any upload-to-commit takes. Commits of an
	// upload are abandoned after half of it. Default 10m.
	GCGrace time.Duration
	// ReaderCacheSize bounds the number of open segment footers kept for
	// cold reads. Default 1024.
	ReaderCacheSize int
	// ProducerExpiry: idempotent producers idle this long are no longer
	// kept in manifests (Kafka's producer.id.expiration.ms). Default 24h.
	ProducerExpiry time.Duration
	// FollowInterval is how often the manifests are reread from etcd, for
	// the partitions this broker follows (to release their WAL) and those
	// it came to lead. Default 2s.
	FollowInterval time.Duration

	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

func (c Config) withDefaults() Config {
	if c.Interval == 0 {
		c.Interval = 250 * time.Millisecond
	}
	if c.ObjectBytes == 0 {
		c.ObjectBytes = 32 << 20
	}
	if c.SegmentMs == 0 {
		c.SegmentMs = time.Duration(meta.ConfigInt64(nil, meta.ConfigSegmentMs)) * time.Millisecond
	}
	if c.SegmentBytes == 0 {
		c.SegmentBytes = meta.ConfigInt64(nil, meta.ConfigSegmentBytes)
	}
	if c.GCInterval == 0 {
		c.GCInterval = 5 * time.Minute
	}
	if c.GCGrace == 0 {
		c.GCGrace = 10 * time.Minute
	}
	if c.ReaderCacheSize == 0 {
		c.ReaderCacheSize = 1024
	}
	if c.ProducerExpiry == 0 {
		c.ProducerExpiry = 24 * time.Hour
	}
	if c.FollowInterval == 0 {
		c.FollowInterval = 2 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports the first invalid setting. Zero values stand for their
// defaults.
func (c Config) Validate() error {
	switch {
	case c.Interval < 0:
		return fmt.Errorf("tiering interval %s: must not be negative", c.Interval)
	case c.ObjectBytes < 0 || (c.ObjectBytes > 0 && c.ObjectBytes < 1<<20):
		return fmt.Errorf("tiering object bytes %d: must be at least 1 MiB", c.ObjectBytes)
	case c.SegmentMs < 0:
		return fmt.Errorf("segment ms %s: must not be negative", c.SegmentMs)
	case c.SegmentBytes < 0:
		return fmt.Errorf("segment bytes %d: must not be negative", c.SegmentBytes)
	case c.GCInterval < 0 || c.GCGrace < 0:
		return errors.New("gc interval and grace: must not be negative")
	case c.ReaderCacheSize < 0:
		return fmt.Errorf("reader cache size %d: must not be negative", c.ReaderCacheSize)
	}
	return nil
}

// segmentsPrefix is where tiered objects live in the bucket.
const segmentsPrefix = "segments/"

// manifestStore is what the Tierer needs of etcd.
type manifestStore interface {
	Manifests(ctx context.Context) ([]meta.PartitionManifest, error)
	Manifest(ctx context.Context, topicID [16]byte, partition int32) (meta.Manifest, error)
	CommitManifests(ctx context.Context, updates []meta.ManifestUpdate) ([]meta.Manifest, error)
}

var _ manifestStore = (*meta.Store)(nil)
