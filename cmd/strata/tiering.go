package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/strata-log/strata/cache"
	"github.com/strata-log/strata/ingest/broker"
	"github.com/strata-log/strata/ingest/partition"
	"github.com/strata-log/strata/meta"
	"github.com/strata-log/strata/tiering"
	"github.com/strata-log/strata/tiering/bucket"
)

// tierFlags tune tiering and the read cache.
type tierFlags struct {
	interval       time.Duration
	objectBytes    int64
	segmentMs      time.Duration
	segmentBytes   int64
	walMaxBytes    int64
	gcInterval     time.Duration
	gcGrace        time.Duration
	cacheMemory    int64
	cacheDisk      int64
	cacheDir       string
	cacheBlock     int64
	cacheReadAhead int
	typedColumns   bool
}

func (f *tierFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.DurationVar(&f.interval, "tier-interval", 250*time.Millisecond, "how often the tiering loop looks for data to seal into object storage")
	fs.Int64Var(&f.objectBytes, "tier-object-bytes", 32<<20, "seal once all partitions' untiered data reaches this size; also the most one object holds")
	fs.DurationVar(&f.segmentMs, "segment-ms", time.Duration(meta.ConfigInt64(nil, meta.ConfigSegmentMs))*time.Millisecond, "default of the topic config segment.ms: longest time acknowledged data stays only in the WAL")
	fs.Int64Var(&f.segmentBytes, "segment-bytes", meta.ConfigInt64(nil, meta.ConfigSegmentBytes), "default of the topic config segment.bytes: a partition's untiered bytes that trigger sealing")
	fs.Int64Var(&f.walMaxBytes, "wal-max-bytes", 8<<30, "when the WAL holds this much (tiering is behind, e.g. the object store is down), produce requests get a retriable error; 0: no limit")
	fs.DurationVar(&f.gcInterval, "gc-interval", 5*time.Minute, "how often objects no manifest names are collected")
	fs.DurationVar(&f.gcGrace, "gc-grace", 10*time.Minute, "age an unreferenced object must reach before it is deleted (longer than any upload and commit)")
	fs.Int64Var(&f.cacheMemory, "cache-memory-bytes", 256<<20, "memory for cached object-store ranges (cold reads)")
	fs.Int64Var(&f.cacheDisk, "cache-disk-bytes", 0, "local disk for cached object-store ranges; 0 disables the disk tier")
	fs.StringVar(&f.cacheDir, "cache-dir", "", "directory of the disk cache (default DATA-DIR/cache; wiped at start)")
	fs.Int64Var(&f.cacheBlock, "cache-block-bytes", 1<<20, "unit of caching: objects are read and cached in aligned blocks of this size")
	fs.IntVar(&f.cacheReadAhead, "cache-read-ahead", 4, "blocks fetched ahead of a sequential cold reader; -1 disables read-ahead")
	fs.BoolVar(&f.typedColumns, "tier-typed-columns", true, "write beside each segment the typed columns of the topics a SQL stream or table declares (docs/format/columns.md), so that SQL scans of the cold tier read columns instead of parsing values; costs a decode of those values when tiering")
}

func (f *tierFlags) validate(cmd *cobra.Command) error {
	bad := func(name, format string, args ...any) error {
		return fmt.Errorf("%s: %s", flagRef(cmd, name), fmt.Sprintf(format, args...))
	}
	switch {
	case f.interval < 10*time.Millisecond:
		return bad("tier-interval", "%s: must be at least 10ms", f.interval)
	case f.objectBytes < 1<<20:
		return bad("tier-object-bytes", "%d: must be at least 1 MiB", f.objectBytes)
	case f.segmentMs < time.Millisecond:
		return bad("segment-ms", "%s: must be at least 1ms", f.segmentMs)
	case f.segmentBytes < 14:
		return bad("segment-bytes", "%d: must be at least 14", f.segmentBytes)
	case f.walMaxBytes < 0:
		return bad("wal-max-bytes", "%d: must not be negative", f.walMaxBytes)
	case f.gcInterval < time.Second:
		return bad("gc-interval", "%s: must be at least 1s", f.gcInterval)
	case f.gcGrace < time.Second:
		return bad("gc-grace", "%s: must be at least 1s", f.gcGrace)
	case f.cacheMemory < 0:
		return bad("cache-memory-bytes", "%d: must not be negative", f.cacheMemory)
	case f.cacheDisk < 0:
		return bad("cache-disk-bytes", "%d: must not be negative", f.cacheDisk)
	case f.cacheBlock < 4<<10:
		return bad("cache-block-bytes", "%d: must be at least 4 KiB", f.cacheBlock)
	case f.cacheReadAhead < -1:
		return bad("cache-read-ahead", "%d: must be -1 (off) or more", f.cacheReadAhead)
	}
	return nil
}

// openCache puts the read cache in front of objects.
func (f *tierFlags) openCache(objects bucket.Bucket, dataDir string, reg prometheus.Registerer) (*cache.Bucket, error) {
	cfg := cache.Config{MemoryBytes: f.cacheMemory, BlockSize: f.cacheBlock, ReadAhead: f.cacheReadAhead}
	if f.cacheReadAhead == -1 {
		cfg.ReadAhead = cache.NoReadAhead
	}
	if f.cacheDisk > 0 {
		cfg.DiskBytes, cfg.DiskDir = f.cacheDisk, f.cacheDir
		if cfg.DiskDir == "" {
			cfg.DiskDir = filepath.Join(dataDir, "cache")
		}
	}
	c, err := cache.New(objects, cfg, reg)
	if err != nil {
		return nil, fmt.Errorf("read cache: %w", err)
	}
	return c, nil
}

func (f *tierFlags) tieringConfig(log *slog.Logger, reg prometheus.Registerer) tiering.Config {
	return tiering.Config{
		Interval: f.interval, ObjectBytes: f.objectBytes,
		SegmentMs: f.segmentMs, SegmentBytes: f.segmentBytes,
		GCInterval: f.gcInterval, GCGrace: f.gcGrace,
		Logger: log, Registerer: reg,
	}
}

// brokerSource shows a broker to the tiering loop; b is set once the
// broker exists (the broker needs the Tierer as its cold store first).
type brokerSource struct{ b *broker.Broker }

func (s *brokerSource) Partitions() []tiering.Partition {
	led := s.b.LedPartitions()
	out := make([]tiering.Partition, len(led))
	for i, p := range led {
		out[i] = tierPartition{p}
	}
	return out
}

func (s *brokerSource) Followed() []tiering.Partition {
	followed := s.b.FollowedPartitions()
	out := make([]tiering.Partition, len(followed))
	for i, p := range followed {
		out[i] = tierPartition{p}
	}
	return out
}

func (s *brokerSource) ActiveSegment() uint64 { return s.b.Partitions().ActiveSegment() }

func (s *brokerSource) ReleaseWAL(limit uint64) (uint64, error) {
	return s.b.Partitions().ReleaseWAL(limit)
}

// tierPartition adapts a partition log to tiering.Partition.
type tierPartition struct{ led broker.HeldPartition }

func (p tierPartition) ID() tiering.PartitionID { return tierID(p.led.Log.ID()) }

func (p tierPartition) Configs() map[string]string { return p.led.Configs }

func (p tierPartition) Status() tiering.Status {
	st := p.led.Log.TierStatus()
	return tiering.Status{
		LogStart: st.LogStart, HighWatermark: st.HighWatermark, Tiered: st.Tiered,
		UntieredBytes: st.UntieredBytes, Oldest: st.Oldest,
	}
}

func (p tierPartition) ReadUntiered(maxBytes int64) ([][]byte, int64, error) {
	return p.led.Log.ReadUntiered(maxBytes)
}

func (p tierPartition) SetTiered(tiered, logStart int64) { p.led.Log.SetTiered(tiered, logStart) }

func (p tierPartition) ReadColdBelow(offset int64) { p.led.Log.ReadColdBelow(offset) }

func (p tierPartition) Producers(end, expireBeforeMs int64) []meta.ProducerSnapshot {
	states := p.led.Log.Producers(end, expireBeforeMs)
	out := make([]meta.ProducerSnapshot, len(states))
	for i, st := range states {
		out[i] = meta.ProducerSnapshot{ID: st.ID, Epoch: st.Epoch, LastMs: st.LastMs}
		for _, b := range st.Batches {
			out[i].Batches = append(out[i].Batches, [4]int64{int64(b.FirstSeq), int64(b.LastSeq), b.Base, b.Last})
		}
	}
	return out
}

// coldStore adapts a Tierer to partition.Cold.
type coldStore struct{ t *tiering.Tierer }

func tierID(id partition.ID) tiering.PartitionID {
	return tiering.PartitionID{Topic: id.Topic, Partition: id.Partition}
}

func (c coldStore) Read(ctx context.Context, id partition.ID, offset int64, maxBytes int, minOne bool) ([]byte, error) {
	return c.t.Read(ctx, tierID(id), offset, maxBytes, minOne)
}

func (c coldStore) OffsetForTimestamp(ctx context.Context, id partition.ID, from, ts int64) (int64, int64, error) {
	return noOffset(c.t.OffsetForTimestamp(ctx, tierID(id), from, ts))
}

func (c coldStore) MaxTimestamp(ctx context.Context, id partition.ID, from int64) (int64, int64, error) {
	return noOffset(c.t.MaxTimestamp(ctx, tierID(id), from))
}

func noOffset(o, ts int64, err error) (int64, int64, error) {
	if errors.Is(err, tiering.ErrNoOffset) {
		err = partition.ErrNoOffset
	}
	return o, ts, err
}
