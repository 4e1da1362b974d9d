package tiering

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/strata-log/strata/ingest/batch"
	"github.com/strata-log/strata/meta"
	"github.com/strata-log/strata/tiering/compact"
	"github.com/strata-log/strata/tiering/segment"
)

// Background rewrites of a partition's tiered segments: merging small
// segments into per-partition objects of about segment.bytes, and
// compacting topics with cleanup.policy=compact. Both replace a run of
// adjacent segments by new ones covering exactly the same offsets, commit
// the manifest against its revision, and leave the old objects to the
// collector. They run in the loop's goroutine, between rounds, one
// rewrite per call, so a partition's manifest has one writer per broker.

// mergeMinRun is how many small adjacent segments wait to be merged. A
// merge costs a PUT per partition; sealing costs one per broker, so
// merges must be rarer: with the 1-minute segment.ms default an idle-ish
// partition merges every 16 minutes, and merged segments merge again once
// 16 of them are adjacent, so a partition's small segments stay few (about
// 16 per size class) while large ones hold segment.bytes each.
const mergeMinRun = 16

// maintain runs at most one merge or compaction, choosing the first
// partition that needs one. It reports whether it did anything.
func (t *Tierer) maintain(ctx context.Context) (bool, error) {
	now := t.now()
	for _, p := range t.src.Partitions() {
		id := p.ID()
		m := t.manifest(id)
		target := t.segmentBytes(p)
		if _, compacted := meta.CleanupPolicy(p.Configs()); compacted {
			if run, ok := t.compactionDue(id, m, p.Configs(), now); ok {
				return true, t.compactPartition(ctx, id, m, run, p.Configs(), target, now)
			}
		}
		if nm, err := t.reshape(ctx, id, m, p.Configs(), now); nm != nil || err != nil {
			if err != nil {
				return true, fmt.Errorf("manifest pages of %s: %w", id, err)
			}
			return true, t.commitRewrite(ctx, id, nm)
		}
		if i, j, ok := mergeRun(m.Segments, target, mergeMinRun); ok {
			nm, err := t.rewrite(ctx, id, m, i, j, nil, target)
			if err != nil {
				return true, fmt.Errorf("merge %d segments of %s: %w", j-i, id, err)
			}
			t.m.merges.Inc()
			return true, t.commitRewrite(ctx, id, nm)
		}
	}
	return false, nil
}

// reshape folds the oldest refs of a partition that keeps data forever
// into a page when its manifest has grown past maxRefs, and unfolds the
// first page of a partition with retention when retention would cut
// through it. It returns nil if neither applies.
func (t *Tierer) reshape(ctx context.Context, id PartitionID, m *meta.Manifest, cfg map[string]string, now time.Time) (*meta.Manifest, error) {
	del, compacted := meta.CleanupPolicy(cfg)
	retMs := meta.ConfigInt64(cfg, meta.ConfigRetentionMs)
	retBytes := meta.ConfigInt64(cfg, meta.ConfigRetentionBytes)
	forever := !compacted && (!del || (retMs < 0 && retBytes < 0))
	if forever {
		if i, ok := foldRun(m.Segments); ok {
			return t.fold(ctx, id, m, i)
		}
		return nil, nil
	}
	if len(m.Segments) == 0 || m.Segments[0].Level == 0 || !del {
		return nil, nil
	}
	var size int64
	for _, s := range m.Segments {
		size += s.Bytes
	}
	first := &m.Segments[0]
	if (retMs >= 0 && first.MinTimestamp < now.UnixMilli()-retMs) || (retBytes >= 0 && size > retBytes) {
		return t.unfold(ctx, m)
	}
	return nil, nil
}

// segmentBytes is the partition's segment.bytes, or the broker default.
func (t *Tierer) segmentBytes(p Partition) int64 {
	if _, set := p.Configs()[meta.ConfigSegmentBytes]; set {
		return meta.ConfigInt64(p.Configs(), meta.ConfigSegmentBytes)
	}
	return t.cfg.SegmentBytes
}

// mergeRun finds the first run [i, j) of adjacent segments each smaller
// than half of target whose stored bytes together stay within target, and
// that is worth a merge: at least minRun segments, or two or more that
// together reach half of target.
func mergeRun(segs []meta.SegmentRef, target int64, minRun int) (int, int, bool) {
	small := func(s *meta.SegmentRef) bool { return s.Level == 0 && s.Bytes < target/2 }
	for i := 0; i < len(segs); {
		if !small(&segs[i]) {
			i++
			continue
		}
		j, sum := i, int64(0)
		for j < len(segs) && small(&segs[j]) && sum+segs[j].Bytes <= target {
			sum += segs[j].Bytes
			j++
		}
		if j-i >= minRun || (j-i >= 2 && sum >= target/2) {
			return i, j, true
		}
		i = j
	}
	return 0, 0, false
}

// rewrite replaces m.Segments[i:j] of partition id by per-partition
// objects holding their batches passed through filter (nil keeps every
// batch; a nil result drops one), closing an object once it holds target
// bytes of input. The new segments cover the same offsets as the old
// ones: a segment whose batches were all dropped leaves a gap instead. It
// returns the new manifest, not yet committed.
func (t *Tierer) rewrite(ctx context.Context, id PartitionID, m *meta.Manifest, i, j int, filter func([]byte) ([]byte, error), target int64) (*meta.Manifest, error) {
	var out []meta.SegmentRef
	var pending [][]byte
	var size int64
	first := m.Segments[i].FirstOffset
	flush := func(last int64) error {
		defer func() { pending, size, first = nil, 0, last+1 }()
		if len(pending) == 0 {
			return nil
		}
		ref, err := t.writeObject(ctx, id, pending)
		if err != nil {
			return err
		}
		ref.FirstOffset, ref.LastOffset = first, last
		out = append(out, ref)
		return nil
	}
	for k := i; k < j; k++ {
		s := &m.Segments[k]
		batches, err := t.segmentBatches(ctx, id, s)
		if err != nil {
			return nil, err
		}
		for _, b := range batches {
			if filter != nil {
				if b, err = filter(b); err != nil {
					return nil, fmt.Errorf("object %s: %w", s.Object, err)
				}
				if b == nil {
					continue
				}
			}
			pending = append(pending, b)
			size += int64(len(b))
		}
		if size >= target || k == j-1 {
			if err := flush(s.LastOffset); err != nil {
				return nil, err
			}
		}
	}
	nm := *m
	nm.Segments = slices.Concat(m.Segments[:i], out, m.Segments[j:])
	return &nm, nil
}

// segmentBatches returns every batch of the partition in segment s.
func (t *Tierer) segmentBatches(ctx context.Context, id PartitionID, s *meta.SegmentRef) ([][]byte, error) {
	r, err := t.readers.open(ctx, t.bucket, s.Object)
	if err != nil {
		return nil, err
	}
	batches, err := r.ReadBatches(id.Topic, id.Partition, s.FirstOffset, 0)
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", s.Object, err)
	}
	return batches, nil
}

// writeObject uploads batches of one partition as a new object and
// returns its segment (offsets as stored).
func (t *Tierer) writeObject(ctx context.Context, id PartitionID, batches [][]byte) (meta.SegmentRef, error) {
	var buf bytes.Buffer
	footer, err := segment.WriteOptions(&buf, []segment.PartitionData{{TopicID: id.Topic, Partition: id.Partition, Batches: batches}},
		segment.Options{MaxRowGroupBytes: rowGroupBytes})
	if err != nil {
		return meta.SegmentRef{}, fmt.Errorf("write segment: %w", err)
	}
	name := newObjectName(segmentsPrefix, ".parquet", t.now())
	t.setInflight(name, true)
	if err := t.upload(ctx, name, buf.Bytes()); err != nil {
		t.setInflight(name, false)
		return meta.SegmentRef{}, err
	}
	t.m.rewriteBytes.Add(float64(buf.Len()))
	p := footer.Partitions[0]
	return meta.SegmentRef{Object: name, FirstOffset: p.FirstOffset, LastOffset: p.LastOffset,
		MinTimestamp: p.MinTimestamp, MaxTimestamp: p.MaxTimestamp, Records: p.Records, Bytes: p.StoredBytes}, nil
}

// commitRewrite commits a rewritten manifest. The objects it names were
// marked in flight by writeObject; they are settled either way.
func (t *Tierer) commitRewrite(ctx context.Context, id PartitionID, m *meta.Manifest) error {
	defer func() {
		for _, s := range m.Segments {
			t.setInflight(s.Object, false)
		}
	}()
	out, err := t.store.CommitManifests(ctx, []meta.ManifestUpdate{{TopicID: id.Topic, Partition: id.Partition, Manifest: *m}})
	if err != nil {
		t.reload(ctx)
		return fmt.Errorf("commit rewritten manifest of %s: %w", id, err)
	}
	t.mu.Lock()
	t.manifests[id] = &out[0]
	t.mu.Unlock()
	return nil
}

// compactionDue returns the run of segments to compact: from the first
// segment to the last one whose records are all older than
// min.compaction.lag.ms, if the part of it written since the last
// compaction (the dirty part) is at least half of it, as Kafka's
// min.cleanable.dirty.ratio default; and at most once per segment.ms.
func (t *Tierer) compactionDue(id PartitionID, m *meta.Manifest, cfg map[string]string, now time.Time) (int, bool) {
	lag := meta.ConfigInt64(cfg, meta.ConfigMinCompactionLagMs)
	j := 0
	for j < len(m.Segments) && m.Segments[j].Level == 0 && m.Segments[j].MaxTimestamp <= now.UnixMilli()-lag {
		j++
	}
	if j == 0 {
		return 0, false
	}
	var clean, dirty int64
	for _, s := range m.Segments[:j] {
		if s.FirstOffset < m.Cleaned {
			clean += s.Bytes
		} else {
			dirty += s.Bytes
		}
	}
	if dirty == 0 || dirty < clean {
		return 0, false
	}
	t.compactMu.Lock()
	defer t.compactMu.Unlock()
	if last, ok := t.compacted[id]; ok && now.Sub(last) < t.cfg.SegmentMs {
		return 0, false
	}
	return j, true
}

// compactPartition rewrites the partition's first j segments keeping the
// latest record of every key (Kafka's log compaction; offsets never
// change) and dropping tombstones older than delete.retention.ms.
func (t *Tierer) compactPartition(ctx context.Context, id PartitionID, m *meta.Manifest, j int, cfg map[string]string, target int64, now time.Time) error {
	t.compactMu.Lock()
	t.compacted[id] = now
	t.compactMu.Unlock()
	keys := compact.NewOffsetMap(0)
	for k := range j {
		batches, err := t.segmentBatches(ctx, id, &m.Segments[k])
		if err != nil {
			return fmt.Errorf("compact %s: %w", id, err)
		}
		for _, b := range batches {
			if err := keys.Add(b); err != nil {
				return fmt.Errorf("compact %s: object %s: %w", id, m.Segments[k].Object, err)
			}
		}
	}
	opts := compact.FilterOptions{TombstoneCutoff: math.MinInt64}
	if d := meta.ConfigInt64(cfg, meta.ConfigDeleteRetentionMs); d >= 0 {
		opts.TombstoneCutoff = now.UnixMilli() - d
	}
	var kept, dropped int
	nm, err := t.rewrite(ctx, id, m, 0, j, func(b []byte) ([]byte, error) {
		out, n, err := compact.Filter(b, keys, opts)
		if h, herr := batch.ReadHeader(b); err == nil && herr == nil {
			kept, dropped = kept+n, dropped+int(h.RecordCount)-n
		}
		return out, err
	}, target)
	if err != nil {
		return fmt.Errorf("compact %s: %w", id, err)
	}
	nm.Cleaned = m.Segments[j-1].LastOffset + 1
	if err := t.commitRewrite(ctx, id, nm); err != nil {
		return err
	}
	t.m.compactions.Inc()
	t.log.Info("compacted partition", "partition", id, "segments", j, "keys", keys.Len(), "kept", kept, "dropped", dropped)
	return nil
}
