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

// Background rewrites of tiered segments: merging runs of small segments
// and compacting topics with cleanup.policy=compact. A rewrite replaces
// runs of adjacent segments of one or more partitions by new refs
// covering exactly the same offsets, writes the batches into shared
// objects (one PUT for many partitions, as sealing does), commits the
// manifests against their revisions, and leaves the old objects to the
// collector. Rewrites run in the loop's goroutine, between rounds, one per
// call, so each manifest has one writer per broker.

// mergeMinRun is how many small adjacent segments of a partition wait to
// be merged. Merged segments merge again once mergeMinRun of them are
// adjacent, so a partition keeps about mergeMinRun small segments per
// size class, each class mergeMinRun times larger than the one below,
// until segments reach half of segment.bytes; every byte is rewritten
// once per class.
const mergeMinRun = 16

// Merging writes small runs of many partitions together into one shared
// object (one PUT for all of them), and a run that reaches half of
// segment.bytes into an object of its own: a partition's large segments
// are then its own objects, which retention deletes whole, while the
// shared ones hold only recent, small data on its way to being merged.

// rewriteJob is one partition's run of segments to rewrite.
type rewriteJob struct {
	id     PartitionID
	m      *meta.Manifest
	i, j   int                          // the run is m.Segments[i:j]
	filter func([]byte) ([]byte, error) // nil keeps every batch; a nil result drops one
	out    []meta.SegmentRef            // the run's new refs
}

// maintain runs at most one rewrite (or manifest reshape) and reports
// whether it did anything.
func (t *Tierer) maintain(ctx context.Context) (bool, error) {
	now := t.now()
	var merges []*rewriteJob
	var mergeBytes int64
	var own *rewriteJob // a run big enough for an object of its own
	for _, p := range t.src.Partitions() {
		id := p.ID()
		m := t.manifest(id)
		target := t.segmentBytes(p)
		if _, compacted := meta.CleanupPolicy(p.Configs()); compacted {
			if run, ok := t.compactionDue(id, m, p.Configs(), now); ok {
				return true, t.compactPartition(ctx, p, m, run, target, now)
			}
		}
		if nm, err := t.reshape(ctx, id, m, p.Configs(), now); nm != nil || err != nil {
			if err != nil {
				return true, fmt.Errorf("manifest pages of %s: %w", id, err)
			}
			return true, t.commitRewrites(ctx, []*rewriteJob{{id: id, m: nm}})
		}
		if own != nil || mergeBytes >= t.cfg.ObjectBytes {
			continue
		}
		if i, j, ok := mergeRun(m.Segments, target, mergeMinRun); ok {
			job := &rewriteJob{id: id, m: m, i: i, j: j}
			var size int64
			for _, s := range m.Segments[i:j] {
				size += s.Bytes
			}
			if size >= target/2 {
				own = job
				continue
			}
			merges = append(merges, job)
			mergeBytes += size
		}
	}
	target := t.cfg.ObjectBytes
	if own != nil {
		merges, target = []*rewriteJob{own}, math.MaxInt64
	}
	if len(merges) == 0 {
		return false, nil
	}
	if err := t.rewrite(ctx, merges, target); err != nil {
		return true, fmt.Errorf("merge segments of %d partitions: %w", len(merges), err)
	}
	t.m.merges.Add(float64(len(merges)))
	return true, t.commitRewrites(ctx, merges)
}

// segmentBytes is the partition's segment.bytes, or the broker default.
func (t *Tierer) segmentBytes(p Partition) int64 {
	if _, set := p.Configs()[meta.ConfigSegmentBytes]; set {
		return meta.ConfigInt64(p.Configs(), meta.ConfigSegmentBytes)
	}
	return t.cfg.SegmentBytes
}

// segmentMs is the topic's segment.ms, or the broker default.
func (t *Tierer) segmentMs(cfg map[string]string) time.Duration {
	if _, set := cfg[meta.ConfigSegmentMs]; set {
		return time.Duration(meta.ConfigInt64(cfg, meta.ConfigSegmentMs)) * time.Millisecond
	}
	return t.cfg.SegmentMs
}

// reshape folds the oldest refs of a partition into a page when its
// manifest has grown past maxRefs (on topics with retention, sparing the
// first pageFanout refs, which retention deletes from), and unfolds the
// first ref when it is a page retention would cut through. Compacted
// topics never fold: compaction rewrites their segments from the start.
// It returns nil if nothing applies.
func (t *Tierer) reshape(ctx context.Context, id PartitionID, m *meta.Manifest, cfg map[string]string, now time.Time) (*meta.Manifest, error) {
	del, compacted := meta.CleanupPolicy(cfg)
	if compacted {
		return nil, nil
	}
	retMs := meta.ConfigInt64(cfg, meta.ConfigRetentionMs)
	retBytes := meta.ConfigInt64(cfg, meta.ConfigRetentionBytes)
	retains := del && (retMs >= 0 || retBytes >= 0)
	spare := 0
	if retains {
		spare = pageFanout
	}
	if i, ok := foldRun(m.Segments, spare); ok {
		return t.fold(ctx, id, m, i)
	}
	if !retains || len(m.Segments) == 0 || m.Segments[0].Level == 0 {
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

// mergeRun finds the first run [i, j) of adjacent segments each smaller
// than half of target whose stored bytes together stay within target, and
// that is worth a merge: at least minRun segments, or two or more that
// together reach half of target. Pages never merge.
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

// rewrite reads each job's run, passes its batches through the job's
// filter, and writes them into new objects shared by the jobs, closing an
// object once it holds target bytes of input (a job's run is cut at a
// segment boundary then). It sets each job's out to refs covering the
// same offsets as its run; a part of a run whose batches were all
// dropped leaves a gap instead.
func (t *Tierer) rewrite(ctx context.Context, jobs []*rewriteJob, target int64) error {
	type chunk struct {
		job         *rewriteJob
		first, last int64
	}
	var parts []segment.PartitionData
	var chunks []chunk
	var size int64
	flush := func() error {
		if len(parts) == 0 {
			return nil
		}
		refs, err := t.writeObject(ctx, parts)
		if err != nil {
			return err
		}
		for k, c := range chunks {
			ref := refs[c.job.id]
			ref.FirstOffset, ref.LastOffset = c.first, c.last
			chunks[k].job.out = append(chunks[k].job.out, *ref)
		}
		parts, chunks, size = nil, nil, 0
		return nil
	}
	for _, job := range jobs {
		first := job.m.Segments[job.i].FirstOffset
		var pending [][]byte
		var pendingSize int64
		for k := job.i; k < job.j; k++ {
			s := &job.m.Segments[k]
			batches, err := t.segmentBatches(ctx, job.id, s)
			if err != nil {
				return err
			}
			for _, b := range batches {
				if job.filter != nil {
					if b, err = job.filter(b); err != nil {
						return fmt.Errorf("object %s: %w", s.Object, err)
					}
					if b == nil {
						continue
					}
				}
				pending = append(pending, b)
				pendingSize += int64(len(b))
			}
			if size+pendingSize < target && k < job.j-1 {
				continue
			}
			if len(pending) > 0 {
				parts = append(parts, segment.PartitionData{TopicID: job.id.Topic, Partition: job.id.Partition, Batches: pending})
				chunks = append(chunks, chunk{job, first, s.LastOffset})
			}
			first, pending, size, pendingSize = s.LastOffset+1, nil, size+pendingSize, 0
			if size >= target {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
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

// writeObject uploads parts as a new object and returns each
// partition's segment in it (offsets as stored), with the typed columns
// of its topic beside it when Columns makes them. The objects stay
// marked in flight until their manifests are committed.
func (t *Tierer) writeObject(ctx context.Context, parts []segment.PartitionData) (map[PartitionID]*meta.SegmentRef, error) {
	var buf bytes.Buffer
	footer, err := segment.WriteOptions(&buf, parts, segment.Options{MaxRowGroupBytes: rowGroupBytes})
	if err != nil {
		return nil, fmt.Errorf("write segment: %w", err)
	}
	name := newObjectName(segmentsPrefix, ".parquet", t.now())
	t.setInflight(name, true)
	if err := t.upload(ctx, name, buf.Bytes()); err != nil {
		t.setInflight(name, false)
		return nil, err
	}
	cols := t.writeColumns(ctx, name, parts)
	refs := make(map[PartitionID]*meta.SegmentRef, len(footer.Partitions))
	for _, p := range footer.Partitions {
		refs[PartitionID{p.TopicID, p.Partition}] = &meta.SegmentRef{
			Object: name, FirstOffset: p.FirstOffset, LastOffset: p.LastOffset,
			MinTimestamp: p.MinTimestamp, MaxTimestamp: p.MaxTimestamp,
			Records: p.Records, Bytes: p.StoredBytes, Columns: cols[p.TopicID],
		}
	}
	t.m.uploadBytes.Add(float64(buf.Len()))
	t.m.inputBytes.Add(float64(footer.InputBytes))
	t.log.Debug("uploaded segment", "object", name, "partitions", len(refs), "bytes", buf.Len(), "input", footer.InputBytes)
	return refs, nil
}

// commitRewrites replaces each job's run by its new refs (a job with no
// run, i == j == 0, commits its manifest as it is) and commits the
// manifests together. The objects they name are settled either way: the
// collector may take them once no manifest names them.
func (t *Tierer) commitRewrites(ctx context.Context, jobs []*rewriteJob) error {
	updates := make([]meta.ManifestUpdate, len(jobs))
	for k, job := range jobs {
		m := *job.m
		if job.j > job.i {
			m.Segments = slices.Concat(job.m.Segments[:job.i], job.out, job.m.Segments[job.j:])
		}
		updates[k] = meta.ManifestUpdate{TopicID: job.id.Topic, Partition: job.id.Partition, Manifest: m}
	}
	defer func() {
		for _, u := range updates {
			for _, s := range u.Manifest.Segments {
				t.setInflight(s.Object, false)
				t.setInflight(s.Columns, false)
			}
		}
	}()
	out, err := t.store.CommitManifests(ctx, updates)
	for k := range out {
		t.mu.Lock()
		t.manifests[jobs[k].id] = &out[k]
		t.mu.Unlock()
	}
	if err != nil {
		t.reload(ctx)
		return fmt.Errorf("commit rewritten manifests: %w", err)
	}
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
	if last, ok := t.compacted[id]; ok && now.Sub(last) < t.segmentMs(cfg) {
		return 0, false
	}
	return j, true
}

// compactPartition rewrites the partition's first j segments keeping the
// latest record of every key (Kafka's log compaction; offsets never
// change) and dropping tombstones older than delete.retention.ms.
func (t *Tierer) compactPartition(ctx context.Context, p Partition, m *meta.Manifest, j int, target int64, now time.Time) error {
	id, cfg := p.ID(), p.Configs()
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
	job := &rewriteJob{id: id, m: m, i: 0, j: j, filter: func(b []byte) ([]byte, error) {
		out, n, err := compact.Filter(b, keys, opts)
		if h, herr := batch.ReadHeader(b); err == nil && herr == nil {
			kept, dropped = kept+n, dropped+int(h.RecordCount)-n
		}
		return out, err
	}}
	if err := t.rewrite(ctx, []*rewriteJob{job}, target); err != nil {
		return fmt.Errorf("compact %s: %w", id, err)
	}
	cleaned := *m
	cleaned.Cleaned = m.Segments[j-1].LastOffset + 1
	job.m = &cleaned
	if err := t.commitRewrites(ctx, []*rewriteJob{job}); err != nil {
		return err
	}
	p.ReadColdBelow(cleaned.Cleaned)
	t.m.compactions.Inc()
	t.log.Info("compacted partition", "partition", id, "segments", j, "keys", keys.Len(), "kept", kept, "dropped", dropped)
	return nil
}
