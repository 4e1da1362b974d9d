package tiering

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kmsg"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/strata-log/strata/ingest/batch"
	"github.com/strata-log/strata/meta"
	"github.com/strata-log/strata/meta/metatest"
	"github.com/strata-log/strata/tiering/bucket"
)

func TestMain(m *testing.M) { os.Exit(metatest.Main(m)) }

// testLog is a partition log for the tiering loop: acknowledged batches
// and the offsets the loop moves.
type testLog struct {
	id      PartitionID
	configs map[string]string

	mu       sync.Mutex
	batches  [][]byte // every batch, in offset order
	appended []time.Time
	next     int64
	tiered   int64
	logStart int64
}

func newTestLog(topic byte, p int32, configs map[string]string) *testLog {
	return &testLog{id: PartitionID{Topic: [16]byte{topic}, Partition: p}, configs: configs}
}

// append adds a batch of n records with timestamps ts, ts+1, ...
func (l *testLog) append(t testing.TB, n int, ts int64, at time.Time) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	recs := make([]kmsg.Record, n)
	for i := range recs {
		recs[i] = kmsg.Record{OffsetDelta: int32(i), TimestampDelta64: int64(i),
			Key: fmt.Appendf(nil, "k%d", l.next+int64(i)), Value: bytes.Repeat([]byte{byte(i)}, 100)}
	}
	b, err := batch.Build(batch.Header{BaseOffset: l.next, FirstTimestamp: ts, ProducerID: -1, BaseSequence: -1}, recs)
	if err != nil {
		t.Fatal(err)
	}
	l.batches = append(l.batches, b)
	l.appended = append(l.appended, at)
	l.next += int64(n)
}

func (l *testLog) ID() PartitionID            { return l.id }
func (l *testLog) Configs() map[string]string { return l.configs }

func (l *testLog) firstUntiered() int {
	return sort.Search(len(l.batches), func(i int) bool {
		h, _ := batch.ReadHeader(l.batches[i])
		return h.BaseOffset >= l.tiered
	})
}

func (l *testLog) Status() Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := Status{LogStart: l.logStart, HighWatermark: l.next, Tiered: l.tiered}
	i := l.firstUntiered()
	for j := i; j < len(l.batches); j++ {
		st.UntieredBytes += int64(len(l.batches[j]))
	}
	if i < len(l.batches) {
		st.Oldest = l.appended[i]
	}
	return st
}

func (l *testLog) ReadUntiered(maxBytes int64) ([][]byte, int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out [][]byte
	end, size := l.tiered, int64(0)
	for _, b := range l.batches[l.firstUntiered():] {
		if len(out) > 0 && size+int64(len(b)) > maxBytes {
			break
		}
		h, _ := batch.ReadHeader(b)
		out, size, end = append(out, b), size+int64(len(b)), h.LastOffset()+1
	}
	return out, end, nil
}

func (l *testLog) SetTiered(tiered, logStart int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tiered = max(l.tiered, tiered)
	l.logStart = max(l.logStart, logStart)
}

func (l *testLog) Producers(end, expireBeforeMs int64) []meta.ProducerSnapshot { return nil }
func (l *testLog) ReadColdBelow(offset int64)                                  {}

type testSource struct {
	logs     []*testLog
	followed []*testLog
	active   atomic.Uint64
	released atomic.Uint64
}

func (s *testSource) Partitions() []Partition {
	out := make([]Partition, len(s.logs))
	for i, l := range s.logs {
		out[i] = l
	}
	return out
}
func (s *testSource) Followed() []Partition {
	out := make([]Partition, len(s.followed))
	for i, l := range s.followed {
		out[i] = l
	}
	return out
}
func (s *testSource) ActiveSegment() uint64 { return s.active.Load() }
func (s *testSource) ReleaseWAL(limit uint64) (uint64, error) {
	s.released.Store(limit)
	return limit, nil
}

// flakyBucket fails the next n uploads, then behaves.
type flakyBucket struct {
	bucket.Bucket
	failUploads atomic.Int32
	uploads     atomic.Int32
}

func (f *flakyBucket) Upload(ctx context.Context, name string, r io.Reader) error {
	if f.failUploads.Add(-1) >= 0 {
		return errors.New("503 SlowDown: please reduce your request rate")
	}
	f.uploads.Add(1)
	return f.Bucket.Upload(ctx, name, r)
}

type fixture struct {
	t      *testing.T
	ctx    context.Context
	store  *meta.Store
	bucket *flakyBucket
	src    *testSource
	tierer *Tierer
	clock  time.Time
}

func newFixture(t *testing.T, cfg Config, logs ...*testLog) *fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	f := &fixture{t: t, ctx: ctx, store: metatest.Shared(t), bucket: &flakyBucket{Bucket: bucket.NewMemory()},
		src: &testSource{logs: logs}, clock: time.Now()}
	f.src.active.Store(7)
	for _, l := range logs {
		if _, err := f.store.ClaimLeadership(ctx, l.id.Topic, l.id.Partition, 1, []int32{1}); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	f.tierer, err = New(ctx, cfg, f.src, f.store, f.bucket)
	if err != nil {
		t.Fatal(err)
	}
	f.tierer.now = func() time.Time { return f.clock }
	t.Cleanup(f.tierer.Close)
	return f
}

func (f *fixture) round(force bool) {
	f.t.Helper()
	if err := f.tierer.Round(f.ctx, force); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) objects() []string {
	var names []string
	if err := f.bucket.Iter(f.ctx, segmentsPrefix, func(n string) error { names = append(names, n); return nil }); err != nil {
		f.t.Fatal(err)
	}
	return names
}

// readAll reads a partition from offset through the cold path in reads of
// maxBytes and returns the base offsets of the batches, checking that the
// reads continue one another.
func (f *fixture) readAll(id PartitionID, from int64, maxBytes int) []int64 {
	f.t.Helper()
	var bases []int64
	next := from
	for range 10000 {
		b, err := f.tierer.Read(f.ctx, id, next, maxBytes, true)
		if err != nil {
			f.t.Fatal(err)
		}
		if len(b) == 0 {
			return bases
		}
		for len(b) > 0 {
			h, err := batch.Parse(b[:min(len(b), int(batch.HeaderSize))])
			if err != nil && h.Size() == 0 {
				f.t.Fatalf("bad batch at %d: %v", next, err)
			}
			if h.LastOffset() < next {
				f.t.Fatalf("read from %d returned batch %d-%d", next, h.BaseOffset, h.LastOffset())
			}
			if h.BaseOffset > next {
				f.t.Fatalf("gap: read from %d returned batch starting at %d", next, h.BaseOffset)
			}
			bases = append(bases, h.BaseOffset)
			next = h.LastOffset() + 1
			b = b[h.Size():]
		}
	}
	f.t.Fatal("read did not finish")
	return nil
}

func TestRoundSealsAllPartitionsIntoOneObject(t *testing.T) {
	now := time.Now()
	logs := []*testLog{
		newTestLog(1, 0, map[string]string{meta.ConfigSegmentMs: "1000"}),
		newTestLog(1, 1, nil),
		newTestLog(2, 0, nil),
	}
	f := newFixture(t, Config{SegmentMs: time.Hour}, logs...)
	f.clock = now // starting the shared etcd may take a while
	for _, l := range logs {
		for j := range 5 {
			l.append(t, 10, now.UnixMilli()+int64(100*j), now)
		}
	}
	// Nothing is due yet: no upload.
	f.round(false)
	if n := len(f.objects()); n != 0 {
		t.Fatalf("%d objects before anything was due", n)
	}
	// Topic 1 partition 0 comes due (segment.ms 1s): every partition with
	// untiered data goes into the same object.
	f.clock = now.Add(2 * time.Second)
	f.round(false)
	objs := f.objects()
	if len(objs) != 1 {
		t.Fatalf("objects %v, want one", objs)
	}
	for _, l := range logs {
		st := l.Status()
		if st.Tiered != 50 || st.UntieredBytes != 0 {
			t.Errorf("%s: status %+v after the round, want all 50 offsets tiered", l.id, st)
		}
		m, err := f.store.Manifest(f.ctx, l.id.Topic, l.id.Partition)
		if err != nil || len(m.Segments) != 1 || m.Segments[0].Object != objs[0] || m.EndOffset() != 50 || m.Segments[0].Records != 50 {
			t.Errorf("%s: manifest %+v %v", l.id, m, err)
		}
	}
	if got := f.src.released.Load(); got != 7 {
		t.Fatalf("ReleaseWAL(%d), want the active segment read before the round (7)", got)
	}
	// Reads come back gapless in small and large pieces.
	for _, maxBytes := range []int{1, 2000, 1 << 20} {
		if bases := f.readAll(logs[1].id, 0, maxBytes); len(bases) != 5 || bases[4] != 40 {
			t.Fatalf("maxBytes %d: batches at %v", maxBytes, bases)
		}
	}
	if bases := f.readAll(logs[1].id, 25, 1); len(bases) != 3 || bases[0] != 20 {
		t.Fatalf("read from 25: batches at %v, want 20, 30, 40", bases)
	}
}

func TestReadSpansObjects(t *testing.T) {
	now := time.Now()
	l := newTestLog(1, 0, nil)
	f := newFixture(t, Config{}, l)
	// Three rounds, three objects of 40 offsets each (4 batches of 10).
	for r := range 3 {
		for j := range 4 {
			l.append(t, 10, now.UnixMilli()+int64(1000*r+10*j), now)
		}
		f.round(true)
	}
	if n := len(f.objects()); n != 3 {
		t.Fatalf("%d objects, want 3", n)
	}
	for _, maxBytes := range []int{1, 1500, 3000, 5000, 1 << 20} {
		bases := f.readAll(l.id, 0, maxBytes)
		if len(bases) != 12 {
			t.Fatalf("maxBytes %d: %d batches %v, want 12", maxBytes, len(bases), bases)
		}
		for i, b := range bases {
			if b != int64(10*i) {
				t.Fatalf("maxBytes %d: batch %d at %d", maxBytes, i, b)
			}
		}
	}
	// Timestamps: the first record at or after a time, across objects.
	base := now.UnixMilli()
	for _, tc := range []struct{ from, ts, want int64 }{
		{0, base, 0}, {0, base + 5, 5}, {0, base + 1000, 40}, {0, base + 2035, 115}, {50, base, 50}, {0, base + 5000, -1},
	} {
		off, _, err := f.tierer.OffsetForTimestamp(f.ctx, l.id, tc.from, tc.ts)
		if tc.want < 0 {
			if !errors.Is(err, ErrNoOffset) {
				t.Errorf("OffsetForTimestamp(from %d, ts %d) = %d, %v; want ErrNoOffset", tc.from, tc.ts-base, off, err)
			}
			continue
		}
		if err != nil || off != tc.want {
			t.Errorf("OffsetForTimestamp(from %d, ts +%d) = %d, %v; want %d", tc.from, tc.ts-base, off, err, tc.want)
		}
	}
	off, ts, err := f.tierer.MaxTimestamp(f.ctx, l.id, 0)
	if err != nil || off != 119 || ts != base+2039 {
		t.Fatalf("MaxTimestamp = %d, %d, %v; want 119 at +2039", off, ts-base, err)
	}
}

func TestUploadRetriesUntilTheStoreAnswers(t *testing.T) {
	l := newTestLog(1, 0, nil)
	f := newFixture(t, Config{}, l)
	l.append(t, 10, time.Now().UnixMilli(), time.Now())
	f.bucket.failUploads.Store(3)
	f.round(true)
	if st := l.Status(); st.Tiered != 10 {
		t.Fatalf("tiered %d after the store recovered, want 10", st.Tiered)
	}
	if got := f.bucket.uploads.Load(); got != 1 {
		t.Fatalf("%d successful uploads, want 1", got)
	}
	if got := testutil.ToFloat64(f.tierer.m.retries); got != 3 {
		t.Fatalf("retries %v, want 3", got)
	}
}

func TestRetentionAndCollection(t *testing.T) {
	now := time.Now()
	timed := newTestLog(1, 0, map[string]string{meta.ConfigRetentionMs: "100000"})
	sized := newTestLog(1, 1, map[string]string{meta.ConfigRetentionBytes: "4000"})
	compacted := newTestLog(1, 2, map[string]string{meta.ConfigRetentionMs: "100000", meta.ConfigCleanupPolicy: "compact"})
	f := newFixture(t, Config{GCGrace: 5 * time.Minute}, timed, sized, compacted)
	// Three objects, the records of round r timestamped r minutes apart.
	for r := range 3 {
		for _, l := range []*testLog{timed, sized, compacted} {
			l.append(t, 10, now.Add(time.Duration(r-2)*time.Minute).UnixMilli(), now)
		}
		f.round(true)
	}
	objs := f.objects()
	// 90 s later, the first object's records (2 min old then) are past
	// retention.ms; the second's (1 min) too; the third's are not.
	f.clock = now.Add(90 * time.Second)
	f.round(false)
	if st := timed.Status(); st.LogStart != 20 {
		t.Fatalf("retention.ms: log start %d, want 20", st.LogStart)
	}
	// Each object holds about 2 KB of this partition; 4000 bytes keep the
	// last two.
	m, _ := f.store.Manifest(f.ctx, sized.id.Topic, sized.id.Partition)
	if len(m.Segments) != 2 || m.LogStart != 10 {
		t.Fatalf("retention.bytes: manifest %+v, want the last two segments from 10", m)
	}
	if st := compacted.Status(); st.LogStart != 0 {
		t.Fatalf("a compact-only topic lost data to retention: log start %d", st.LogStart)
	}
	if _, err := f.tierer.Read(f.ctx, timed.id, 25, 1<<20, true); err != nil {
		t.Fatal(err)
	}

	// The first object is still named by the compacted partition: nothing
	// to collect. Delete that partition's manifest (as a topic deletion
	// does): the first two objects are garbage, but younger than the grace.
	if n, err := f.tierer.CollectGarbage(f.ctx); err != nil || n != 0 {
		t.Fatalf("collected %d, %v; want 0", n, err)
	}
	if _, err := f.store.Client().Delete(f.ctx, f.store.Prefix()+"/manifests/", clientv3.WithPrefix()); err != nil {
		t.Fatal(err)
	}
	if n, err := f.tierer.CollectGarbage(f.ctx); err != nil || n != 0 {
		t.Fatalf("collected %d young objects, %v", n, err)
	}
	f.clock = time.Now().Add(10 * time.Minute)
	if n, err := f.tierer.CollectGarbage(f.ctx); err != nil || n != len(objs) {
		t.Fatalf("collected %d, %v; want all %d", n, err, len(objs))
	}
	if left := f.objects(); len(left) != 0 {
		t.Fatalf("objects left: %v", left)
	}
}

func TestConflictingCommitReloads(t *testing.T) {
	l := newTestLog(1, 0, nil)
	f := newFixture(t, Config{}, l)
	l.append(t, 10, time.Now().UnixMilli(), time.Now())
	// Another writer (a new leader, say) commits first.
	_, err := f.store.CommitManifests(f.ctx, []meta.ManifestUpdate{{TopicID: l.id.Topic, Partition: l.id.Partition,
		Manifest: meta.Manifest{Segments: []meta.SegmentRef{{Object: "segments/other", FirstOffset: 0, LastOffset: 4}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.tierer.Round(f.ctx, true); !errors.Is(err, meta.ErrManifestConflict) {
		t.Fatalf("round = %v, want a manifest conflict", err)
	}
	if st := l.Status(); st.Tiered != 0 {
		t.Fatalf("tiered %d after a failed commit", st.Tiered)
	}
	if m := f.tierer.manifest(l.id); len(m.Segments) != 1 || m.Segments[0].Object != "segments/other" {
		t.Fatalf("manifest not reloaded: %+v", m)
	}
}

// appendKeyed adds a batch of records with the given keys and values (a
// nil value is a tombstone), timestamped ts.
func (l *testLog) appendKeyed(t testing.TB, ts int64, kv ...[]byte) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var recs []kmsg.Record
	for i := 0; i < len(kv); i += 2 {
		recs = append(recs, kmsg.Record{OffsetDelta: int32(i / 2), Key: kv[i], Value: kv[i+1]})
	}
	b, err := batch.Build(batch.Header{BaseOffset: l.next, FirstTimestamp: ts, ProducerID: -1, BaseSequence: -1}, recs)
	if err != nil {
		t.Fatal(err)
	}
	l.batches = append(l.batches, b)
	l.appended = append(l.appended, time.Now())
	l.next += int64(len(recs))
}

// records reads every tiered record of the partition: offset → key=value.
func (f *fixture) records(id PartitionID) map[int64]string {
	f.t.Helper()
	out := map[int64]string{}
	next := int64(0)
	for range 1000 {
		b, err := f.tierer.Read(f.ctx, id, next, 1<<20, true)
		if err != nil {
			f.t.Fatal(err)
		}
		if len(b) == 0 {
			return out
		}
		for len(b) > 0 {
			h, err := batch.ReadHeader(b)
			if err != nil {
				f.t.Fatal(err)
			}
			_, recs, err := batch.Records(b[:h.Size()], 1<<20)
			if err != nil {
				f.t.Fatal(err)
			}
			for _, r := range recs {
				v := "<nil>"
				if r.Value != nil {
					v = string(r.Value)
				}
				out[h.BaseOffset+int64(r.OffsetDelta)] = string(r.Key) + "=" + v
			}
			next = h.LastOffset() + 1
			b = b[h.Size():]
		}
	}
	f.t.Fatal("read did not finish")
	return nil
}

func TestMergeSmallSegments(t *testing.T) {
	cfg := map[string]string{meta.ConfigSegmentBytes: "1000000"}
	logs := []*testLog{newTestLog(1, 0, cfg), newTestLog(1, 1, cfg), newTestLog(2, 0, cfg)}
	f := newFixture(t, Config{}, logs...)
	now := time.Now()
	const rounds = mergeMinRun + 3
	for r := range rounds {
		for _, l := range logs {
			l.append(t, 5, now.UnixMilli()+int64(r), now)
		}
		f.round(true)
	}
	before := map[PartitionID]map[int64]string{}
	for _, l := range logs {
		before[l.id] = f.records(l.id)
	}
	uploads := f.bucket.uploads.Load()
	if did, err := f.tierer.maintain(f.ctx); err != nil || !did {
		t.Fatalf("maintain = %v, %v; want a merge", did, err)
	}
	// One object for the three partitions' merged runs.
	if got := f.bucket.uploads.Load() - uploads; got != 1 {
		t.Fatalf("the merge uploaded %d objects, want 1", got)
	}
	var object string
	for _, l := range logs {
		m := f.tierer.manifest(l.id)
		if len(m.Segments) != 1 || m.Segments[0].FirstOffset != 0 || m.Segments[0].LastOffset != 5*rounds-1 || m.Segments[0].Records != 5*rounds {
			t.Fatalf("%s after the merge: %+v", l.id, m.Segments)
		}
		if object != "" && m.Segments[0].Object != object {
			t.Fatalf("merged into several objects: %s and %s", object, m.Segments[0].Object)
		}
		object = m.Segments[0].Object
		if after := f.records(l.id); fmt.Sprint(after) != fmt.Sprint(before[l.id]) {
			t.Fatalf("%s: records changed by the merge", l.id)
		}
	}
	if did, err := f.tierer.maintain(f.ctx); err != nil || did {
		t.Fatalf("second maintain = %v, %v; want nothing to do", did, err)
	}
	// The replaced objects are garbage now.
	f.clock = time.Now().Add(time.Hour)
	if n, err := f.tierer.CollectGarbage(f.ctx); err != nil || n != rounds {
		t.Fatalf("collected %d, %v; want the %d merged objects", n, err, rounds)
	}
	for _, l := range logs {
		if after := f.records(l.id); len(after) != 5*rounds {
			t.Fatalf("%s: %d records after collection, want %d", l.id, len(after), 5*rounds)
		}
	}
}

func TestMergeRunPolicy(t *testing.T) {
	seg := func(bytes int64) meta.SegmentRef { return meta.SegmentRef{Bytes: bytes} }
	segs := []meta.SegmentRef{seg(600), seg(10), seg(10), seg(700), seg(10), seg(10), seg(10), seg(10)}
	if _, _, ok := mergeRun(segs, 1000, 5); ok {
		t.Fatal("merged runs shorter than the minimum")
	}
	if i, j, ok := mergeRun(segs, 1000, 4); !ok || i != 4 || j != 8 {
		t.Fatalf("mergeRun = %d, %d, %v; want the last four", i, j, ok)
	}
	if i, j, ok := mergeRun([]meta.SegmentRef{seg(300), seg(300), seg(300)}, 1000, 16); !ok || i != 0 || j != 3 {
		t.Fatalf("mergeRun of segments reaching half the target = %d, %d, %v", i, j, ok)
	}
	if i, j, ok := mergeRun([]meta.SegmentRef{seg(400), seg(400), seg(400)}, 1000, 16); !ok || i != 0 || j != 2 {
		t.Fatalf("mergeRun capped at the target = %d, %d, %v", i, j, ok)
	}
}

func TestCompactedTopic(t *testing.T) {
	l := newTestLog(1, 0, map[string]string{
		meta.ConfigCleanupPolicy: "compact", meta.ConfigDeleteRetentionMs: "60000", meta.ConfigSegmentMs: "1",
	})
	f := newFixture(t, Config{}, l)
	old := time.Now().Add(-time.Hour).UnixMilli()
	recent := time.Now().UnixMilli()
	b := func(s string) []byte { return []byte(s) }
	l.appendKeyed(t, old, b("a"), b("a1"), b("b"), b("b1"), b("c"), b("c1")) // 0-2
	f.round(true)
	l.appendKeyed(t, old, b("a"), b("a2"), b("d"), b("d1"), nil, b("nokey")) // 3-5
	f.round(true)
	l.appendKeyed(t, old, b("b"), nil, b("c"), b("c2")) // 6-7: b deleted long ago
	f.round(true)
	l.appendKeyed(t, recent, b("a"), b("a3"), b("d"), nil) // 8-9: d deleted just now
	f.round(true)
	f.clock = time.Now()
	if did, err := f.tierer.maintain(f.ctx); err != nil || !did {
		t.Fatalf("maintain = %v, %v; want a compaction", did, err)
	}
	want := map[int64]string{5: "=nokey", 7: "c=c2", 8: "a=a3", 9: "d=<nil>"}
	if got := f.records(l.id); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after compaction:\n got %v\nwant %v", got, want)
	}
	m := f.tierer.manifest(l.id)
	if m.EndOffset() != 10 || m.Cleaned != 10 || m.Segments[0].FirstOffset != 0 || m.Segments[len(m.Segments)-1].LastOffset != 9 {
		t.Fatalf("manifest after compaction: %+v", m)
	}
	// Nothing new is dirty: no second compaction.
	f.clock = time.Now().Add(time.Minute)
	if did, err := f.tierer.maintain(f.ctx); err != nil || did {
		t.Fatalf("maintain with nothing dirty = %v, %v", did, err)
	}
}

func TestManifestPagesStayBoundedAndExpire(t *testing.T) {
	// segment.bytes 14: no segment counts as small, so nothing merges and
	// every round's segment stays a ref of its own.
	cfg := map[string]string{meta.ConfigSegmentBytes: "14"}
	l := newTestLog(1, 0, cfg)
	f := newFixture(t, Config{}, l)
	base := time.Now().Add(-time.Hour)
	const rounds = maxRefs + 44
	for r := range rounds {
		l.append(t, 2, base.Add(time.Duration(r)*time.Second).UnixMilli(), time.Now())
		f.round(true)
	}
	before := f.records(l.id)
	if did, err := f.tierer.maintain(f.ctx); err != nil || !did {
		t.Fatalf("maintain = %v, %v; want a fold", did, err)
	}
	m := f.tierer.manifest(l.id)
	if len(m.Segments) != rounds-pageFanout+1 || m.Segments[0].Level != 1 || m.Segments[0].Records != 2*pageFanout ||
		m.Segments[0].LastOffset != 2*pageFanout-1 || m.EndOffset() != 2*rounds {
		t.Fatalf("after folding: %d refs, first %+v", len(m.Segments), m.Segments[0])
	}
	if did, err := f.tierer.maintain(f.ctx); err != nil || did {
		t.Fatalf("maintain of a bounded manifest = %v, %v", did, err)
	}
	// Reads, timestamps and the collector see through the page.
	f.tierer.pages = pageCache{} // read the page from the bucket
	if after := f.records(l.id); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("records changed by folding: %d before, %d after", len(before), len(after))
	}
	if off, _, err := f.tierer.OffsetForTimestamp(f.ctx, l.id, 0, base.Add(10*time.Second).UnixMilli()); err != nil || off != 20 {
		t.Fatalf("OffsetForTimestamp into the page = %d, %v; want 20", off, err)
	}
	if off, _, err := f.tierer.MaxTimestamp(f.ctx, l.id, 0); err != nil || off != 2*rounds-1 {
		t.Fatalf("MaxTimestamp = %d, %v", off, err)
	}
	f.clock = time.Now().Add(time.Hour)
	if n, err := f.tierer.CollectGarbage(f.ctx); err != nil || n != 0 {
		t.Fatalf("collected %d, %v from a paged manifest; want 0", n, err)
	}

	// Retention that cuts through the page unfolds it, then expires the
	// first 50 segments one by one.
	cfg[meta.ConfigRetentionMs] = fmt.Sprint(time.Since(base.Add(50 * time.Second)).Milliseconds())
	f.clock = time.Now()
	if did, err := f.tierer.maintain(f.ctx); err != nil || !did {
		t.Fatalf("maintain = %v, %v; want an unfold", did, err)
	}
	f.round(false)
	if st := l.Status(); st.LogStart != 100 {
		t.Fatalf("log start %d after retention, want 100", st.LogStart)
	}
	if m := f.tierer.manifest(l.id); m.Segments[0].Level != 0 || m.Segments[0].FirstOffset != 100 || len(m.Segments) != rounds-50 {
		t.Fatalf("after retention: %d refs, first %+v", len(m.Segments), m.Segments[0])
	}
	f.clock = time.Now().Add(time.Hour)
	if n, err := f.tierer.CollectGarbage(f.ctx); err != nil || n != 51 {
		t.Fatalf("collected %d, %v; want 50 segments and the page", n, err)
	}
}

// flakyStore fails manifest commits while down is set, as an unreachable
// etcd does.
type flakyStore struct {
	*meta.Store
	down atomic.Bool
}

func (s *flakyStore) CommitManifests(ctx context.Context, u []meta.ManifestUpdate) ([]meta.Manifest, error) {
	if s.down.Load() {
		return nil, errors.New("etcdserver: request timed out")
	}
	return s.Store.CommitManifests(ctx, u)
}

func TestUnreachableEtcdDuringCommit(t *testing.T) {
	l := newTestLog(1, 0, nil)
	f := newFixture(t, Config{GCGrace: 2 * time.Second}, l)
	store := &flakyStore{Store: f.store}
	f.tierer.store = store
	l.append(t, 10, time.Now().UnixMilli(), time.Now())

	// etcd stays down longer than the commit is allowed to take (half the
	// grace): the round gives up, the data stays in the WAL, and the
	// uploaded object is left to the collector.
	store.down.Store(true)
	start := time.Now()
	if err := f.tierer.Round(f.ctx, true); err == nil {
		t.Fatal("round succeeded with etcd down")
	}
	if d := time.Since(start); d < time.Second || d > 10*time.Second {
		t.Fatalf("round gave up after %s, want about a second", d)
	}
	if st := l.Status(); st.Tiered != 0 {
		t.Fatalf("tiered %d without a committed manifest", st.Tiered)
	}
	if n := len(f.objects()); n != 1 {
		t.Fatalf("%d objects after the failed round, want the one uploaded", n)
	}

	// etcd is back while the next round retries: it commits; the manifest
	// names one object, not two, and the first is garbage.
	go func() {
		time.Sleep(300 * time.Millisecond)
		store.down.Store(false)
	}()
	f.round(true)
	m, err := f.store.Manifest(f.ctx, l.id.Topic, l.id.Partition)
	if err != nil || len(m.Segments) != 1 || m.EndOffset() != 10 {
		t.Fatalf("manifest %+v, %v", m, err)
	}
	if st := l.Status(); st.Tiered != 10 {
		t.Fatalf("tiered %d, want 10", st.Tiered)
	}
	f.clock = time.Now().Add(time.Minute)
	if n, err := f.tierer.CollectGarbage(f.ctx); err != nil || n != 1 {
		t.Fatalf("collected %d, %v; want the abandoned upload", n, err)
	}
	if got := f.records(l.id); len(got) != 10 {
		t.Fatalf("%d records readable, want 10", len(got))
	}
}

func TestRestartMidUpload(t *testing.T) {
	// A broker uploads an object and dies before committing: a new Tierer
	// (the restarted broker) re-seals the data from the WAL into a new
	// object; the manifest names only that one.
	l := newTestLog(1, 0, nil)
	f := newFixture(t, Config{GCGrace: time.Minute}, l)
	l.append(t, 10, time.Now().UnixMilli(), time.Now())
	if err := f.bucket.Upload(f.ctx, newObjectName(segmentsPrefix, ".parquet", time.Now()), bytes.NewReader([]byte("half-done upload"))); err != nil {
		t.Fatal(err)
	}
	restarted, err := New(f.ctx, Config{GCGrace: time.Minute}, f.src, f.store, f.bucket)
	if err != nil {
		t.Fatal(err)
	}
	defer restarted.Close()
	if err := restarted.Round(f.ctx, true); err != nil {
		t.Fatal(err)
	}
	m, err := f.store.Manifest(f.ctx, l.id.Topic, l.id.Partition)
	if err != nil || len(m.Segments) != 1 || m.EndOffset() != 10 {
		t.Fatalf("manifest %+v, %v", m, err)
	}
	restarted.now = func() time.Time { return time.Now().Add(time.Hour) }
	if n, err := restarted.CollectGarbage(f.ctx); err != nil || n != 1 {
		t.Fatalf("collected %d, %v; want the half-done upload", n, err)
	}
	if n := len(f.objects()); n != 1 {
		t.Fatalf("%d objects left, want 1", n)
	}
}

func TestFoldingSparesTheRetentionFront(t *testing.T) {
	l := newTestLog(1, 0, map[string]string{meta.ConfigSegmentBytes: "14", meta.ConfigRetentionMs: "86400000"})
	f := newFixture(t, Config{}, l)
	for r := range maxRefs + 10 {
		l.append(t, 1, time.Now().UnixMilli()+int64(r), time.Now())
		f.round(true)
	}
	if did, err := f.tierer.maintain(f.ctx); err != nil || !did {
		t.Fatalf("maintain = %v, %v; want a fold", did, err)
	}
	m := f.tierer.manifest(l.id)
	if len(m.Segments) != maxRefs+10-pageFanout+1 || m.Segments[0].Level != 0 || m.Segments[pageFanout-1].Level != 0 || m.Segments[pageFanout].Level != 1 {
		t.Fatalf("after folding a topic with retention: %d refs, levels at 0, %d, %d: %d %d %d", len(m.Segments),
			pageFanout-1, pageFanout, m.Segments[0].Level, m.Segments[pageFanout-1].Level, m.Segments[pageFanout].Level)
	}
	// Nothing expired: retention leaves the page alone.
	if did, err := f.tierer.maintain(f.ctx); err != nil || did {
		t.Fatalf("second maintain = %v, %v", did, err)
	}
	if got := f.records(l.id); len(got) != maxRefs+10 {
		t.Fatalf("%d records readable, want %d", len(got), maxRefs+10)
	}
}

func TestLargeMergesGetObjectsOfTheirOwn(t *testing.T) {
	cfg := map[string]string{}
	logs := []*testLog{newTestLog(1, 0, cfg), newTestLog(1, 1, cfg)}
	f := newFixture(t, Config{}, logs...)
	for r := range 2 {
		for _, l := range logs {
			l.append(t, 20, time.Now().UnixMilli()+int64(r), time.Now())
		}
		f.round(true)
	}
	// segment.bytes three times a segment: two segments of a partition
	// reach half of it, a run worth an object of its own.
	stored := f.tierer.manifest(logs[0].id).Segments[0].Bytes
	cfg[meta.ConfigSegmentBytes] = fmt.Sprint(3 * stored)
	for i := range logs {
		uploads := f.bucket.uploads.Load()
		if did, err := f.tierer.maintain(f.ctx); err != nil || !did {
			t.Fatalf("maintain %d = %v, %v", i, did, err)
		}
		if n := f.bucket.uploads.Load() - uploads; n != 1 {
			t.Fatalf("maintain %d uploaded %d objects, want 1", i, n)
		}
	}
	objects := map[string]bool{}
	for _, l := range logs {
		m := f.tierer.manifest(l.id)
		if len(m.Segments) != 1 || m.Segments[0].Records != 40 {
			t.Fatalf("%s: %+v", l.id, m.Segments)
		}
		objects[m.Segments[0].Object] = true
	}
	if len(objects) != 2 {
		t.Fatalf("large merges share objects: %v", objects)
	}
}

func TestFollowLearnsTieredOffsetsFromManifests(t *testing.T) {
	follower := newTestLog(1, 0, nil)
	f := newFixture(t, Config{})
	f.src.followed = []*testLog{follower}
	for range 3 {
		follower.append(t, 10, time.Now().UnixMilli(), time.Now())
	}
	// The leader (another broker) tiers 20 offsets.
	if _, err := f.store.ClaimLeadership(f.ctx, follower.id.Topic, follower.id.Partition, 2, []int32{1, 2}); err != nil {
		t.Fatal(err)
	}
	_, err := f.store.CommitManifests(f.ctx, []meta.ManifestUpdate{{TopicID: follower.id.Topic, Partition: follower.id.Partition,
		Manifest: meta.Manifest{End: 20, Segments: []meta.SegmentRef{{Object: "segments/x", FirstOffset: 0, LastOffset: 19}}}}})
	if err != nil {
		t.Fatal(err)
	}
	f.src.active.Store(9)
	if err := f.tierer.Follow(f.ctx); err != nil {
		t.Fatal(err)
	}
	if st := follower.Status(); st.Tiered != 20 {
		t.Fatalf("follower tiered %d after Follow, want 20", st.Tiered)
	}
	if got := f.src.released.Load(); got != 9 {
		t.Fatalf("ReleaseWAL(%d), want the active segment 9", got)
	}
	if m := f.tierer.manifest(follower.id); m.EndOffset() != 20 {
		t.Fatalf("manifest not reloaded: %+v", m)
	}
}
