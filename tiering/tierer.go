package tiering

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-log/strata/meta"
	"github.com/strata-log/strata/tiering/bucket"
	"github.com/strata-log/strata/tiering/segment"
)

// Tierer seals, uploads and serves a broker's tiered data. Create it with
// New, start its loop with Run.
type Tierer struct {
	cfg    Config
	log    *slog.Logger
	src    Source
	store  manifestStore
	bucket bucket.Bucket
	m      *metrics
	now    func() time.Time

	// mu guards manifests: immutable snapshots, replaced on commit. The
	// loop is their only writer; cold reads take a snapshot.
	mu        sync.RWMutex
	manifests map[PartitionID]*meta.Manifest

	readers readerCache
	pages   pageCache
	columns atomic.Pointer[columnsHolder]

	// inflight names uploaded objects whose commit is not settled; the
	// collector leaves them alone.
	inflightMu sync.Mutex
	inflight   map[string]bool

	compactMu sync.Mutex
	compacted map[PartitionID]time.Time // when each partition was last compacted
}

// New returns a Tierer for src's partitions, keeping manifests in store
// and objects in b. It loads every manifest from etcd.
func New(ctx context.Context, cfg Config, src Source, store manifestStore, b bucket.Bucket) (*Tierer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	t := &Tierer{
		cfg: cfg, log: cfg.Logger.With("component", "tiering"), src: src, store: store, bucket: b, m: m,
		now: time.Now, manifests: map[PartitionID]*meta.Manifest{}, inflight: map[string]bool{},
		compacted: map[PartitionID]time.Time{},
	}
	t.readers.init(cfg.ReaderCacheSize)
	all, err := store.Manifests(ctx)
	if err != nil {
		return nil, fmt.Errorf("tiering: %w", err)
	}
	for i := range all {
		pm := &all[i]
		t.manifests[PartitionID{pm.TopicID, pm.Partition}] = &pm.Manifest
	}
	return t, nil
}

// Close unregisters the metrics.
func (t *Tierer) Close() { t.m.unregister() }

// manifest returns the partition's current manifest (never nil; do not
// modify it).
func (t *Tierer) manifest(id PartitionID) *meta.Manifest {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if m := t.manifests[id]; m != nil {
		return m
	}
	return &meta.Manifest{}
}

// Run runs the tiering loop and the collector until ctx ends.
func (t *Tierer) Run(ctx context.Context) {
	tick := time.NewTicker(t.cfg.Interval)
	defer tick.Stop()
	lastGC, lastFollow := t.now(), t.now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		start := time.Now()
		if err := t.Round(ctx, false); err != nil && ctx.Err() == nil {
			t.log.Warn("tiering round failed; retrying", "err", err)
		}
		if _, err := t.maintain(ctx); err != nil && ctx.Err() == nil {
			t.log.Warn("merging or compacting tiered segments failed; retrying", "err", err)
		}
		if t.now().Sub(lastFollow) >= t.cfg.FollowInterval {
			lastFollow = t.now()
			if err := t.Follow(ctx); err != nil && ctx.Err() == nil {
				t.log.Warn("rereading manifests failed", "err", err)
			}
		}
		t.m.busy.Add(time.Since(start).Seconds())
		if t.now().Sub(lastGC) >= t.cfg.GCInterval {
			lastGC = t.now()
			if _, err := t.CollectGarbage(ctx); err != nil && ctx.Err() == nil {
				t.log.Warn("collecting unreferenced objects failed", "err", err)
			}
		}
	}
}

// candidate is a partition with something for this round.
type candidate struct {
	p   Partition
	id  PartitionID
	st  Status
	due bool
}

// Round runs one round of the loop: seal and upload if anything is due
// (everything untiered when force is set), apply retention and log start
// changes, commit manifests and release the WAL. Run calls it every
// Config.Interval; tests and shutdown call it directly.
func (t *Tierer) Round(ctx context.Context, force bool) error {
	active := t.src.ActiveSegment() // before any state is read: see Source.ReleaseWAL
	now := t.now()
	var cands []candidate
	var total int64
	due := false
	for _, p := range t.src.Partitions() {
		c := candidate{p: p, id: p.ID(), st: p.Status()}
		if c.st.UntieredBytes > 0 {
			c.due = force || c.st.UntieredBytes >= t.segmentBytes(p) || now.Sub(c.st.Oldest) >= t.segmentMs(p.Configs())
			due = due || c.due
			total += c.st.UntieredBytes
		}
		cands = append(cands, c)
	}
	t.m.untiered.Set(float64(total))
	if total >= t.cfg.ObjectBytes {
		due = true
	}

	// Partitions whose data goes into this round's object: the due ones
	// first, then the oldest data, until the object is full.
	var sealed []candidate
	if due {
		for _, c := range cands {
			if c.st.UntieredBytes > 0 {
				sealed = append(sealed, c)
			}
		}
		sort.SliceStable(sealed, func(i, j int) bool {
			if sealed[i].due != sealed[j].due {
				return sealed[i].due
			}
			return sealed[i].st.Oldest.Before(sealed[j].st.Oldest)
		})
	}
	refs, err := t.seal(ctx, sealed)
	if err != nil {
		return err
	}

	var updates []meta.ManifestUpdate
	var parts []Partition
	for _, c := range cands {
		old := t.manifest(c.id)
		m := t.nextManifest(old, c, refs[c.id], now)
		if m == nil {
			continue
		}
		updates = append(updates, meta.ManifestUpdate{TopicID: c.id.Topic, Partition: c.id.Partition, Manifest: *m})
		parts = append(parts, c.p)
	}
	var objects []string
	for _, r := range refs {
		if len(objects) == 0 {
			objects = append(objects, r.Object)
		}
		if r.Columns != "" && !slices.Contains(objects, r.Columns) {
			objects = append(objects, r.Columns)
		}
	}
	if err := t.commit(ctx, updates, parts, objects); err != nil {
		return err
	}
	if _, err := t.src.ReleaseWAL(active); err != nil {
		return fmt.Errorf("release wal: %w", err)
	}
	return nil
}

// nextManifest returns what the partition's manifest becomes this round
// (new segment, log start from the log, retention), or nil if it does not
// change.
func (t *Tierer) nextManifest(old *meta.Manifest, c candidate, ref *meta.SegmentRef, now time.Time) *meta.Manifest {
	m := &meta.Manifest{LogStart: max(old.LogStart, c.st.LogStart), End: old.EndOffset(), Segments: old.Segments, Revision: old.Revision}
	m.Producers = old.Producers
	if ref != nil {
		m.Segments = append(slices.Clip(m.Segments), *ref)
		m.End = max(m.End, ref.LastOffset+1)
		m.Producers = c.p.Producers(m.End, now.Add(-t.cfg.ProducerExpiry).UnixMilli())
	}
	m.LogStart = max(m.LogStart, t.retentionStart(m, c, now))
	// Segments wholly below the log start leave the manifest.
	i := sort.Search(len(m.Segments), func(i int) bool { return m.Segments[i].LastOffset >= m.LogStart })
	m.Segments = m.Segments[i:]
	if ref == nil && m.LogStart == old.LogStart && len(m.Segments) == len(old.Segments) {
		return nil
	}
	return m
}

// retentionStart returns the log start offset the topic's retention.ms
// and retention.bytes allow, deleting whole segments from the front (0 if
// none expire). Only topics with the delete cleanup policy expire data.
func (t *Tierer) retentionStart(m *meta.Manifest, c candidate, now time.Time) int64 {
	cfg := c.p.Configs()
	if del, _ := meta.CleanupPolicy(cfg); !del {
		return 0
	}
	retMs := meta.ConfigInt64(cfg, meta.ConfigRetentionMs)
	retBytes := meta.ConfigInt64(cfg, meta.ConfigRetentionBytes)
	size := c.st.UntieredBytes
	for _, s := range m.Segments {
		size += s.Bytes
	}
	var start int64
	for _, s := range m.Segments {
		expired := retMs >= 0 && s.MaxTimestamp < now.UnixMilli()-retMs
		tooBig := retBytes >= 0 && size-s.Bytes >= retBytes
		if !expired && !tooBig {
			break
		}
		size -= s.Bytes
		start = s.LastOffset + 1
	}
	return start
}

// seal writes the untiered data of cands (in order, until the object is
// full) into one object and uploads it. It returns each sealed
// partition's new segment.
func (t *Tierer) seal(ctx context.Context, cands []candidate) (map[PartitionID]*meta.SegmentRef, error) {
	if len(cands) == 0 {
		return nil, nil
	}
	var parts []segment.PartitionData
	var budget = t.cfg.ObjectBytes
	for _, c := range cands {
		if budget <= 0 {
			break
		}
		batches, _, err := c.p.ReadUntiered(budget)
		if err != nil {
			return nil, fmt.Errorf("partition %s: read untiered: %w", c.id, err)
		}
		if len(batches) == 0 {
			continue
		}
		for _, b := range batches {
			budget -= int64(len(b))
		}
		parts = append(parts, segment.PartitionData{TopicID: c.id.Topic, Partition: c.id.Partition, Batches: batches})
	}
	if len(parts) == 0 {
		return nil, nil
	}
	start := t.now()
	refs, err := t.writeObject(ctx, parts)
	if err != nil {
		return nil, err
	}
	t.m.uploads.Inc()
	t.m.uploadSeconds.Observe(t.now().Sub(start).Seconds())
	return refs, nil
}

// rowGroupBytes caps the record bytes of a row group: a cold read decodes
// a whole row group, so they stay small enough for a fetch.
const rowGroupBytes = 1 << 20

// newObjectName names a new object under prefix: time first, so names
// sort by age, then randomness so that no two uploads collide.
func newObjectName(prefix, ext string, now time.Time) string {
	var r [8]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("%s%s-%s%s", prefix, now.UTC().Format("20060102T150405.000Z"), hex.EncodeToString(r[:]), ext)
}

// upload stores data as name, retrying with backoff until it succeeds or
// ctx ends: an object store that is down or answering SlowDown delays
// tiering, and the WAL holds the data meanwhile.
func (t *Tierer) upload(ctx context.Context, name string, data []byte) error {
	return t.retry(ctx, "upload "+name, func(ctx context.Context) error {
		return t.bucket.Upload(ctx, name, bytes.NewReader(data))
	})
}

// retry calls fn until it succeeds, ctx ends, or the error is permanent,
// backing off from 100ms to 10s between attempts.
func (t *Tierer) retry(ctx context.Context, what string, fn func(context.Context) error) error {
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || errors.Is(err, bucket.ErrInvalidName) || errors.Is(err, meta.ErrManifestConflict) {
			return fmt.Errorf("%s: %w", what, err)
		}
		t.m.retries.Inc()
		if attempt == 1 || attempt%10 == 0 {
			t.log.Warn("tiering: retrying", "op", what, "attempt", attempt, "err", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last error: %v)", what, ctx.Err(), err)
		case <-time.After(wait):
		}
		wait = min(2*wait, 10*time.Second)
	}
}

func (t *Tierer) setInflight(name string, on bool) {
	if name == "" {
		return
	}
	t.inflightMu.Lock()
	defer t.inflightMu.Unlock()
	if on {
		t.inflight[name] = true
	} else {
		delete(t.inflight, name)
	}
}

// commit writes the updated manifests and tells their partitions.
// objects are this round's uploaded objects (a segment and its typed
// columns, or none): if their manifests cannot be committed within half
// of GCGrace, the round gives up and the objects are left for the
// collector; the data is still in the WAL and goes into the next round's
// object.
func (t *Tierer) commit(ctx context.Context, updates []meta.ManifestUpdate, parts []Partition, objects []string) error {
	defer func() {
		for _, o := range objects {
			t.setInflight(o, false)
		}
	}()
	if len(updates) == 0 {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, t.cfg.GCGrace/2)
	defer cancel()
	var done []meta.Manifest
	err := t.retry(cctx, "commit manifests", func(ctx context.Context) error {
		out, err := t.store.CommitManifests(ctx, updates[len(done):])
		done = append(done, out...)
		return err
	})
	for i, m := range done {
		u := updates[i]
		id := PartitionID{u.TopicID, u.Partition}
		mm := m
		t.mu.Lock()
		t.manifests[id] = &mm
		t.mu.Unlock()
		parts[i].SetTiered(mm.EndOffset(), mm.LogStart)
	}
	t.m.commits.Add(float64(len(done)))
	if err != nil {
		if errors.Is(err, meta.ErrManifestConflict) {
			// Someone else changed a manifest: reread them all before the
			// next round.
			t.reload(ctx)
		}
		return fmt.Errorf("commit manifests (%d of %d committed): %w", len(done), len(updates), err)
	}
	return nil
}

// Follow rereads the manifests from etcd when this broker follows any
// partition (their leaders commit them; a partition it comes to lead keeps
// the manifests last reread while it followed), tells the followed
// partitions what is tiered, and releases the WAL segments that then hold
// only tiered data.
func (t *Tierer) Follow(ctx context.Context) error {
	followed := t.src.Followed()
	if len(followed) == 0 {
		// Nothing to learn: a partition this broker comes to lead was
		// followed (and its manifest reread) until then.
		return nil
	}
	active := t.src.ActiveSegment()
	if err := t.reloadErr(ctx); err != nil {
		return err
	}
	for _, p := range followed {
		m := t.manifest(p.ID())
		if m.Revision != 0 {
			p.SetTiered(m.EndOffset(), m.LogStart)
		}
	}
	_, err := t.src.ReleaseWAL(active)
	return err
}

// reload rereads every manifest from etcd.
func (t *Tierer) reload(ctx context.Context) {
	if err := t.reloadErr(ctx); err != nil {
		t.log.Warn("tiering: reload manifests", "err", err)
	}
}

func (t *Tierer) reloadErr(ctx context.Context) error {
	all, err := t.store.Manifests(ctx)
	if err != nil {
		return err
	}
	fresh := make(map[PartitionID]*meta.Manifest, len(all))
	for i := range all {
		fresh[PartitionID{all[i].TopicID, all[i].Partition}] = &all[i].Manifest
	}
	t.mu.Lock()
	t.manifests = fresh
	t.mu.Unlock()
	return nil
}

// CollectGarbage deletes objects under segments/ and pages/ that no
// manifest names, directly or through its pages, and that are older than
// GCGrace, and returns how many it deleted.
func (t *Tierer) CollectGarbage(ctx context.Context) (int, error) {
	all, err := t.store.Manifests(ctx)
	if err != nil {
		return 0, err
	}
	live := map[string]bool{}
	for _, pm := range all {
		if err := t.liveObjects(ctx, pm.Segments, live); err != nil {
			return 0, err
		}
	}
	var orphans []string
	for _, prefix := range []string{segmentsPrefix, pagePrefix} {
		err = t.bucket.Iter(ctx, prefix, func(name string) error {
			if !live[name] {
				orphans = append(orphans, name)
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("list objects: %w", err)
		}
	}
	deleted := 0
	for _, name := range orphans {
		t.inflightMu.Lock()
		busy := t.inflight[name]
		t.inflightMu.Unlock()
		if busy {
			continue
		}
		attrs, err := t.bucket.Attributes(ctx, name)
		if bucket.IsNotFound(err) {
			continue
		}
		if err != nil {
			return deleted, err
		}
		if t.now().Sub(attrs.LastModified) < t.cfg.GCGrace {
			continue
		}
		if err := t.bucket.Delete(ctx, name); err != nil && !bucket.IsNotFound(err) {
			return deleted, err
		}
		t.readers.forget(name)
		deleted++
		t.m.gcDeleted.Inc()
	}
	if deleted > 0 {
		t.log.Info("deleted unreferenced objects", "count", deleted)
	}
	return deleted, nil
}
