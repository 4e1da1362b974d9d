package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/strata-log/strata/meta"
	"github.com/strata-log/strata/tiering/bucket/buckettest"
)

// TestStatelessBrokerReplaysFromObjectStore tiers everything a topic holds
// into MinIO, stops strata dev, deletes everything of its data dir but the
// embedded etcd (the WAL above all), starts it again and reads the whole
// topic back from the object store alone: every acknowledged record at its
// offset with its key, value, headers and timestamp, byte for byte. The
// restarted broker must also know the partitions' offsets (list offsets
// earliest, latest and by timestamp) and go on appending after them.
func TestStatelessBrokerReplaysFromObjectStore(t *testing.T) {
	const (
		topic      = "stateless"
		partitions = 3
		n          = 20000
	)
	m := buckettest.StartMinIO(t)
	m.CreateBucket(t, "stateless")
	dir := t.TempDir()
	// A fixed Kafka port, so that one producer client lives through the
	// restart.
	flags := append(s3Flags(m.Endpoint, m, "stateless"), "--segment-ms", "500ms", "--wal-segment-bytes", "1048576",
		"--kafka-addr", freeLoopbackAddr(t))
	srv := StartDev(t, dir, flags...)
	createTopic(t, admin(t, srv.Kafka), topic, partitions)

	gen := newRecordGen(1)
	recs := gen.records(topic, "a", n)
	for i, r := range recs {
		r.Partition = int32(i % partitions)
	}
	start := time.Now()
	prod := client(t, srv.Kafka, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produceAcked(t, prod, recs)
	t.Logf("produced %d records (%d bytes of keys and values) in %s", n, gen.bytes, time.Since(start).Round(time.Millisecond))

	start = time.Now()
	ms := waitTiered(t, srv, topic, 30*time.Second)
	checkManifests(t, ms, countByPartition(recs))
	t.Logf("tiered in %s: %s", time.Since(start).Round(time.Millisecond), describeManifests(ms))

	took := srv.Stop()
	t.Logf("SIGTERM: exited in %s", took.Round(time.Millisecond))
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var removed []string
	for _, e := range entries {
		if e.Name() == "etcd" {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
		removed = append(removed, e.Name())
	}
	if !slices.Contains(removed, "wal") {
		t.Fatalf("data dir %s held no wal directory to delete (entries %v): is the WAL elsewhere?", dir, removed)
	}
	t.Logf("deleted %v from the data dir, kept etcd", removed)

	srv = StartDev(t, dir, flags...)
	t.Logf("restarted without a WAL in %s", srv.Ready.Round(time.Millisecond))
	if segs := serverMetric(t, srv, "strata_wal_segments"); segs > 1 {
		t.Errorf("restarted broker has %v WAL segments, want at most 1 (the WAL was deleted)", segs)
	}
	adm := admin(t, srv.Kafka)
	first, end := offsets(t, adm, topic)
	want := countByPartition(recs)
	for p := range int32(partitions) {
		if first[p] != 0 || end[p] != want[p] {
			t.Errorf("after the stateless restart %s/%d lists offsets [%d, %d), want [0, %d)", topic, p, first[p], end[p], want[p])
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	cold := serverMetric(t, srv, "strata_tiering_cold_reads_total")
	start = time.Now()
	got, _ := consumeAll(t, srv.Kafka, topic)
	t.Logf("consumed %d records from the object store in %s", n, time.Since(start).Round(time.Millisecond))
	checkRecords(t, "stateless restart", got, recs)
	if after := serverMetric(t, srv, "strata_tiering_cold_reads_total"); after <= cold {
		t.Errorf("strata_tiering_cold_reads_total went from %v to %v while reading a topic that is only in the object store", cold, after)
	} else {
		t.Logf("cold reads: %v", after-cold)
	}
	checkTimestampLookups(t, adm, topic, recs, gen.rng)

	// The broker appends after what it recovered from the manifests, and
	// the idempotent producer from before the restart goes on with its
	// sequence numbers: its state came back from the manifests too (had it
	// not, the broker would have refused the sequence and the client would
	// have had to start over with a new producer id or epoch).
	more := make([]*kgo.Record, partitions)
	for p := range more {
		more[p] = &kgo.Record{Topic: topic, Partition: int32(p), Key: []byte(fmt.Sprintf("after-%d", p)), Value: []byte("after restart")}
	}
	produceAcked(t, prod, more)
	for _, r := range more {
		if r.Offset != want[r.Partition] {
			t.Errorf("after the stateless restart a record went to %s/%d@%d, want offset %d (the old end)", topic, r.Partition, r.Offset, want[r.Partition])
		}
		if r.ProducerID != recs[0].ProducerID || r.ProducerEpoch != recs[0].ProducerEpoch {
			t.Errorf("after the stateless restart the producer wrote as %d/%d, before as %d/%d: its state was lost",
				r.ProducerID, r.ProducerEpoch, recs[0].ProducerID, recs[0].ProducerEpoch)
		}
	}
}

// freeLoopbackAddr returns a loopback address with a port free right now.
func freeLoopbackAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestReplayAcrossTiers reads one partition log whose older part is only in
// the object store (tiered, its WAL segments released) and whose newer part
// is only in the WAL (not yet tiered): offsets 0..N-1 exactly once, in order,
// with the acknowledged contents. Then again after a clean restart.
func TestReplayAcrossTiers(t *testing.T) {
	const (
		topic      = "tiers"
		partitions = 3
		first      = 4000 // about 4 MiB: several 1 MiB WAL segments
		second     = 2000
	)
	m := buckettest.StartMinIO(t)
	m.CreateBucket(t, "tiers")
	dir := t.TempDir()
	flags := append(s3Flags(m.Endpoint, m, "tiers"), "--segment-ms", "3s", "--wal-segment-bytes", "1048576")
	srv := StartDev(t, dir, flags...)
	createTopic(t, admin(t, srv.Kafka), topic, partitions)
	prod := client(t, srv.Kafka, kgo.RequiredAcks(kgo.AllISRAcks()))

	gen := newRecordGen(2)
	recs := gen.records(topic, "old", first)
	produceAcked(t, prod, recs)
	segsBefore := serverMetric(t, srv, "strata_wal_segments")
	start := time.Now()
	ms := waitTiered(t, srv, topic, 30*time.Second)
	checkManifests(t, ms, countByPartition(recs))
	segsAfter := waitMetric(t, srv, "strata_wal_segments", "<=", 2, 20*time.Second)
	t.Logf("first %d records tiered in %s (%s); WAL segments %v -> %v", first, time.Since(start).Round(time.Millisecond), describeManifests(ms), segsBefore, segsAfter)
	if segsBefore <= segsAfter {
		t.Fatalf("the WAL held %v segments before tiering and %v after: no segment was released, so no read would be cold", segsBefore, segsAfter)
	}

	newer := gen.records(topic, "new", second)
	produceAcked(t, prod, newer)
	tieredEnd := manifestEnds(t, srv, topic)
	recs = append(recs, newer...)
	all := countByPartition(recs)
	hot := false
	for p, e := range all {
		if tieredEnd[p] < e {
			hot = true
		}
	}
	if !hot {
		t.Fatalf("the second batch was tiered before it could be read from the WAL (manifest ends %v, log ends %v): raise --segment-ms", tieredEnd, all)
	}
	cold := serverMetric(t, srv, "strata_tiering_cold_reads_total")
	got, _ := consumeAll(t, srv.Kafka, topic)
	checkRecords(t, "across tiers", got, recs)
	if after := serverMetric(t, srv, "strata_tiering_cold_reads_total"); after <= cold {
		t.Errorf("strata_tiering_cold_reads_total went from %v to %v while reading offsets whose WAL segments were released", cold, after)
	}
	t.Logf("read %d records across tiers (manifest ends %v when the read started, log ends %v)", len(recs), tieredEnd, all)

	took := srv.Stop()
	t.Logf("SIGTERM: exited in %s", took.Round(time.Millisecond))
	srv = StartDev(t, dir, flags...)
	got, end := consumeAll(t, srv.Kafka, topic)
	for p, e := range all {
		if end[p] != e {
			t.Errorf("after restart %s/%d ends at %d, want %d", topic, p, end[p], e)
		}
	}
	checkRecords(t, "across tiers after restart", got, recs)
}

// TestObjectStoreOutage cuts the broker off the object store (a proxy in
// front of MinIO stops accepting connections): producing goes on until the
// WAL reaches --wal-max-bytes, then fails with the retriable
// KAFKA_STORAGE_ERROR, while everything acknowledged stays readable. Once
// the store is back, tiering catches up, producing works again and the log
// holds every acknowledged record exactly once.
func TestObjectStoreOutage(t *testing.T) {
	const (
		topic      = "outage"
		partitions = 3
		walMax     = 4 << 20
	)
	m := buckettest.StartMinIO(t)
	m.CreateBucket(t, "outage")
	proxy := NewProxy(t, strings.TrimPrefix(m.Endpoint, "http://"))
	dir := t.TempDir()
	srv := StartDev(t, dir, append(s3Flags("http://"+proxy.Addr(), m, "outage"),
		"--segment-ms", "200ms", "--wal-max-bytes", strconv.Itoa(walMax), "--wal-segment-bytes", "1048576")...)
	createTopic(t, admin(t, srv.Kafka), topic, partitions)

	gen := newRecordGen(3)
	acked := gen.records(topic, "before", 300)
	produceAcked(t, client(t, srv.Kafka, kgo.RequiredAcks(kgo.AllISRAcks())), acked)
	waitTiered(t, srv, topic, 20*time.Second)
	tieredBefore := manifestEnds(t, srv, topic)

	proxy.Cut()
	outageStart := time.Now()
	t.Logf("object store cut off after %d records were tiered", len(acked))

	// An idempotent acks=all producer that gives up after a few retries, so
	// that the broker's refusal reaches us as the promise's error.
	limited := client(t, srv.Kafka, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordRetries(3))
	var refused []error
	refusedAfter := 0
	for round := 0; len(refused) == 0; round++ {
		if round == 64 || time.Since(outageStart) > 30*time.Second {
			t.Fatalf("produced %d rounds (%d records acknowledged, %s) with the object store down and --wal-max-bytes %d, and no produce was refused",
				round, len(acked), time.Since(outageStart).Round(time.Millisecond), walMax)
		}
		batch := gen.sizedRecords(topic, fmt.Sprintf("outage%d", round), 16, 16<<10)
		for _, res := range limited.ProduceSync(ctxFor(t, 30*time.Second), batch...) {
			if res.Err != nil {
				refused = append(refused, res.Err)
				continue
			}
			acked = append(acked, res.Record)
		}
		refusedAfter = round
	}
	storageErrs := 0
	for _, err := range refused {
		if errors.Is(err, kerr.KafkaStorageError) {
			storageErrs++
		} else {
			t.Errorf("produce with the WAL full failed with %v, want KAFKA_STORAGE_ERROR", err)
		}
	}
	if storageErrs == 0 {
		t.Fatalf("no refused produce carried KAFKA_STORAGE_ERROR: %v", refused[0])
	}
	if !kerr.IsRetriable(kerr.KafkaStorageError) {
		t.Fatal("KAFKA_STORAGE_ERROR is not retriable")
	}
	t.Logf("round %d: %d records refused with KAFKA_STORAGE_ERROR after %s of outage; %d acknowledged in all (first error: %v)",
		refusedAfter, storageErrs, time.Since(outageStart).Round(time.Millisecond), len(acked), refused[0])
	if full := serverMetric(t, srv, "strata_produce_wal_full_total"); full <= 0 {
		t.Errorf("strata_produce_wal_full_total = %v after produce was refused, want > 0", full)
	}
	got, end := consumeAll(t, srv.Kafka, topic)
	checkRecords(t, "during the outage", got, acked)
	t.Logf("every acknowledged record readable during the outage (end offsets %v)", end)
	// The tiering loop's upload fails (after the S3 client's own retries)
	// and is retried: proof that the store really was out of reach.
	waitMetric(t, srv, "strata_tiering_retries_total", ">=", 1, 30*time.Second)
	t.Logf("tiering retrying its upload after %s of outage", time.Since(outageStart).Round(time.Millisecond))
	if ends := manifestEnds(t, srv, topic); !maps.Equal(ends, tieredBefore) {
		t.Errorf("manifests moved from %v to %v while the object store was unreachable", tieredBefore, ends)
	}

	proxy.Heal()
	restored := time.Now()
	after := gen.records(topic, "after", 100)
	produceCtx := ctxFor(t, 60*time.Second)
	for i, res := range client(t, srv.Kafka, kgo.RequiredAcks(kgo.AllISRAcks())).ProduceSync(produceCtx, after...) {
		if res.Err != nil {
			t.Fatalf("record %d of %d produced after the object store came back failed after %s: %v",
				i, len(after), time.Since(restored).Round(time.Millisecond), res.Err)
		}
	}
	acked = append(acked, after...)
	t.Logf("producing succeeded %s after the object store came back", time.Since(restored).Round(time.Millisecond))

	ms := waitTiered(t, srv, topic, 60*time.Second)
	checkManifests(t, ms, countByPartition(acked))
	t.Logf("tiering caught up %s after the object store came back: %s", time.Since(restored).Round(time.Millisecond), describeManifests(ms))
	got, _ = consumeAll(t, srv.Kafka, topic)
	checkRecords(t, "after the outage", got, acked)
}

// s3Flags points strata dev at bucket on the MinIO server m, reached at
// endpoint (m's own, or a proxy in front of it).
func s3Flags(endpoint string, m *buckettest.MinIO, bucket string) []string {
	return []string{"--s3-endpoint", endpoint, "--s3-bucket", bucket,
		"--s3-access-key", m.AccessKey, "--s3-secret-key", m.SecretKey}
}

// recordGen makes records with distinct keys, random values (some nil,
// some empty), random headers and explicit, strictly increasing create
// timestamps.
type recordGen struct {
	rng   *rand.Rand
	next  int64 // next timestamp, ms
	bytes int
}

func newRecordGen(seed uint64) *recordGen {
	return &recordGen{
		rng:  rand.New(rand.NewPCG(seed, 0x5eed)),
		next: time.Now().Add(-time.Hour).UnixMilli(),
	}
}

// records makes n records of up to 2 KiB.
func (g *recordGen) records(topic, prefix string, n int) []*kgo.Record {
	return g.sizedRecords(topic, prefix, n, -1)
}

// sizedRecords makes n records with values of size bytes, or of random
// sizes up to 2 KiB (some nil) if size is negative.
func (g *recordGen) sizedRecords(topic, prefix string, n, size int) []*kgo.Record {
	out := make([]*kgo.Record, n)
	for i := range out {
		r := &kgo.Record{
			Topic:     topic,
			Key:       []byte(fmt.Sprintf("%s-%06d", prefix, i)),
			Timestamp: time.UnixMilli(g.next),
		}
		g.next += 1 + g.rng.Int64N(3)
		switch {
		case size >= 0:
			r.Value = g.bytesN(size)
		case g.rng.IntN(20) == 0:
			// nil: a tombstone, which must stay distinct from empty
		default:
			r.Value = g.bytesN(g.rng.IntN(2049))
		}
		for h := range g.rng.IntN(4) {
			hdr := kgo.RecordHeader{Key: fmt.Sprintf("h%d", h)}
			if g.rng.IntN(10) > 0 {
				hdr.Value = g.bytesN(g.rng.IntN(33))
			}
			r.Headers = append(r.Headers, hdr)
		}
		g.bytes += len(r.Key) + len(r.Value)
		out[i] = r
	}
	return out
}

func (g *recordGen) bytesN(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.rng.Uint32())
	}
	return b
}

// produceAcked produces recs and fails the test unless every one is
// acknowledged; franz-go fills in each record's partition and offset.
func produceAcked(t testing.TB, cl *kgo.Client, recs []*kgo.Record) {
	t.Helper()
	failed := 0
	var first error
	for _, res := range cl.ProduceSync(ctxFor(t, 60*time.Second), recs...) {
		if res.Err != nil {
			if failed == 0 {
				first = res.Err
			}
			failed++
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d records were not acknowledged: %v", failed, len(recs), first)
	}
}

func countByPartition(recs []*kgo.Record) map[int32]int64 {
	out := map[int32]int64{}
	for _, r := range recs {
		out[r.Partition]++
	}
	return out
}

// checkRecords compares what consumeAll read (gapless from 0, each offset
// once) with the acknowledged records: the same count, and at each
// acknowledged partition and offset the same key, value, headers and
// timestamp, nil and empty kept apart.
func checkRecords(t testing.TB, what string, got map[int32][]*kgo.Record, want []*kgo.Record) {
	t.Helper()
	byLoc := make(map[location]*kgo.Record, len(want))
	for _, w := range want {
		l := location{w.Partition, w.Offset}
		if prev, dup := byLoc[l]; dup {
			t.Fatalf("%s: records %q and %q were both acknowledged at %d@%d", what, prev.Key, w.Key, l.partition, l.offset)
		}
		byLoc[l] = w
	}
	n, bad := 0, 0
	report := func(format string, args ...any) {
		bad++
		if bad <= 10 {
			t.Errorf("%s: "+format, append([]any{what}, args...)...)
		}
	}
	for p, rs := range got {
		for _, r := range rs {
			n++
			w, ok := byLoc[location{p, r.Offset}]
			if !ok {
				report("%d@%d holds key %q, which was never acknowledged there", p, r.Offset, r.Key)
				continue
			}
			if d := recordDiff(w, r); d != "" {
				report("%d@%d (key %q): %s", p, r.Offset, w.Key, d)
			}
		}
	}
	if bad > 10 {
		t.Errorf("%s: %d records differ in all", what, bad)
	}
	if n != len(want) {
		t.Errorf("%s: read %d records, %d were acknowledged", what, n, len(want))
	}
	if t.Failed() {
		t.FailNow()
	}
}

// recordDiff says how got differs from want, or returns "".
func recordDiff(want, got *kgo.Record) string {
	var d []string
	if !sameBytes(want.Key, got.Key) {
		d = append(d, fmt.Sprintf("key %s, want %s", showBytes(got.Key), showBytes(want.Key)))
	}
	if !sameBytes(want.Value, got.Value) {
		d = append(d, fmt.Sprintf("value %s, want %s", showBytes(got.Value), showBytes(want.Value)))
	}
	if got.Timestamp.UnixMilli() != want.Timestamp.UnixMilli() {
		d = append(d, fmt.Sprintf("timestamp %d, want %d", got.Timestamp.UnixMilli(), want.Timestamp.UnixMilli()))
	}
	if got.Attrs.TimestampType() != 0 {
		d = append(d, fmt.Sprintf("timestamp type %d, want 0 (create time)", got.Attrs.TimestampType()))
	}
	sameHeaders := len(got.Headers) == len(want.Headers)
	for i := 0; sameHeaders && i < len(want.Headers); i++ {
		sameHeaders = got.Headers[i].Key == want.Headers[i].Key && sameBytes(want.Headers[i].Value, got.Headers[i].Value)
	}
	if !sameHeaders {
		d = append(d, fmt.Sprintf("headers %s, want %s", showHeaders(got.Headers), showHeaders(want.Headers)))
	}
	return strings.Join(d, "; ")
}

// sameBytes is bytes.Equal that tells nil (Kafka null) from empty.
func sameBytes(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

func showBytes(b []byte) string {
	switch {
	case b == nil:
		return "null"
	case len(b) > 16:
		return fmt.Sprintf("%d bytes %x…", len(b), b[:16])
	default:
		return fmt.Sprintf("%d bytes %x", len(b), b)
	}
}

func showHeaders(hs []kgo.RecordHeader) string {
	parts := make([]string, len(hs))
	for i, h := range hs {
		parts[i] = h.Key + "=" + showBytes(h.Value)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// checkTimestampLookups lists offsets by timestamp (the first offset whose
// timestamp is at or after it, else the end offset) for timestamps before,
// at, between and after the records' and compares with what recs say.
func checkTimestampLookups(t testing.TB, adm *kadm.Client, topic string, recs []*kgo.Record, rng *rand.Rand) {
	t.Helper()
	byPart := map[int32][]*kgo.Record{}
	lo, hi := recs[0].Timestamp.UnixMilli(), recs[0].Timestamp.UnixMilli()
	for _, r := range recs {
		byPart[r.Partition] = append(byPart[r.Partition], r)
		lo, hi = min(lo, r.Timestamp.UnixMilli()), max(hi, r.Timestamp.UnixMilli())
	}
	for _, rs := range byPart {
		sort.Slice(rs, func(i, j int) bool { return rs[i].Offset < rs[j].Offset })
	}
	targets := []int64{lo - 1000, lo, hi, hi + 1}
	for range 6 {
		ts := recs[rng.IntN(len(recs))].Timestamp.UnixMilli()
		targets = append(targets, ts, ts+1)
	}
	for _, ts := range targets {
		listed, err := adm.ListOffsetsAfterMilli(ctxFor(t, 20*time.Second), ts, topic)
		if err == nil {
			err = listed.Error()
		}
		if err != nil {
			t.Fatalf("list offsets of %s after %d: %v", topic, ts, err)
		}
		for p, rs := range byPart {
			wantOff, wantTs := int64(len(rs)), int64(-1)
			for _, r := range rs {
				if r.Timestamp.UnixMilli() >= ts {
					wantOff, wantTs = r.Offset, r.Timestamp.UnixMilli()
					break
				}
			}
			o, ok := listed.Lookup(topic, p)
			switch {
			case !ok:
				t.Errorf("list offsets after %d: %s/%d missing", ts, topic, p)
			case o.Offset != wantOff:
				t.Errorf("list offsets after %d: %s/%d = offset %d (timestamp %d), want %d (timestamp %d)", ts, topic, p, o.Offset, o.Timestamp, wantOff, wantTs)
			case wantTs >= 0 && o.Timestamp != wantTs:
				t.Errorf("list offsets after %d: %s/%d = offset %d with timestamp %d, want timestamp %d", ts, topic, p, o.Offset, o.Timestamp, wantTs)
			}
		}
	}
}

// manifestStore is a meta.Store on srv's embedded etcd.
func manifestStore(t testing.TB, srv *Server) *meta.Store {
	t.Helper()
	if srv.Etcd == "" {
		t.Fatalf("%s printed no etcd= address", srv.Name())
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{srv.Etcd}, DialTimeout: 10 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatalf("etcd client of %s: %v", srv.Etcd, err)
	}
	t.Cleanup(func() { cli.Close() })
	return meta.NewStore(cli, "")
}

func topicID(t testing.TB, adm *kadm.Client, topic string) [16]byte {
	t.Helper()
	td, err := adm.ListTopics(ctxFor(t, 20*time.Second), topic)
	if err == nil {
		err = td.Error()
	}
	if err != nil {
		t.Fatalf("describe topic %s: %v", topic, err)
	}
	return td[topic].ID
}

// topicManifests returns the manifests of topic's partitions.
func topicManifests(t testing.TB, store *meta.Store, id [16]byte) map[int32]meta.Manifest {
	t.Helper()
	all, err := store.Manifests(ctxFor(t, 20*time.Second))
	if err != nil {
		t.Fatalf("read manifests: %v", err)
	}
	out := map[int32]meta.Manifest{}
	for _, pm := range all {
		if pm.TopicID == id {
			out[pm.Partition] = pm.Manifest
		}
	}
	return out
}

// manifestEnds returns where each partition's tiered data ends.
func manifestEnds(t testing.TB, srv *Server, topic string) map[int32]int64 {
	t.Helper()
	out := map[int32]int64{}
	for p, m := range topicManifests(t, manifestStore(t, srv), topicID(t, admin(t, srv.Kafka), topic)) {
		out[p] = m.EndOffset()
	}
	return out
}

// waitTiered waits until the manifests of every partition of topic reach
// its current end offset, and returns them.
func waitTiered(t testing.TB, srv *Server, topic string, timeout time.Duration) map[int32]meta.Manifest {
	t.Helper()
	adm := admin(t, srv.Kafka)
	id := topicID(t, adm, topic)
	_, end := offsets(t, adm, topic)
	store := manifestStore(t, srv)
	deadline := time.Now().Add(timeout)
	for {
		ms := topicManifests(t, store, id)
		var behind []string
		for p, e := range end {
			if m := ms[p]; m.EndOffset() < e {
				behind = append(behind, fmt.Sprintf("%d: tiered to %d of %d", p, m.EndOffset(), e))
			}
		}
		if len(behind) == 0 {
			return ms
		}
		if time.Now().After(deadline) {
			sort.Strings(behind)
			t.Fatalf("%s: tiering did not catch up within %s: %s (strata_tiering_untiered_bytes %v)",
				topic, timeout, strings.Join(behind, ", "), serverMetric(t, srv, "strata_tiering_untiered_bytes"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkManifests checks that each partition's segments cover its offsets
// from 0 to want[p], without gaps, and count want[p] records in all.
func checkManifests(t testing.TB, ms map[int32]meta.Manifest, want map[int32]int64) {
	t.Helper()
	for p, n := range want {
		m := ms[p]
		if m.LogStart != 0 || m.EndOffset() != n {
			t.Errorf("manifest of partition %d: log start %d, end %d, want 0 and %d", p, m.LogStart, m.EndOffset(), n)
		}
		next, records := int64(0), int64(0)
		for i, s := range m.Segments {
			if s.FirstOffset != next {
				t.Errorf("manifest of partition %d: segment %d (%s) covers %d-%d, want it to start at %d", p, i, s.Object, s.FirstOffset, s.LastOffset, next)
			}
			next = s.LastOffset + 1
			records += s.Records
		}
		if records != n {
			t.Errorf("manifest of partition %d: segments hold %d records, want %d", p, records, n)
		}
	}
}

func describeManifests(ms map[int32]meta.Manifest) string {
	parts := make([]int32, 0, len(ms))
	for p := range ms {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	var b strings.Builder
	for _, p := range parts {
		m := ms[p]
		objects := map[string]bool{}
		for _, s := range m.Segments {
			objects[s.Object] = true
		}
		fmt.Fprintf(&b, "p%d: %d offsets in %d segments of %d objects; ", p, m.EndOffset(), len(m.Segments), len(objects))
	}
	return strings.TrimSuffix(b.String(), "; ")
}

// serverMetric is the sum of the samples of the metric name (all label
// sets) that srv exports on /metrics. The metric must be exported.
func serverMetric(t testing.TB, srv *Server, name string) float64 {
	t.Helper()
	if srv.HTTP == "" {
		t.Fatalf("%s has no HTTP listener", srv.Name())
	}
	code, body := httpGet(t, srv.HTTP+"/metrics")
	if code != 200 {
		t.Fatalf("GET %s/metrics: status %d", srv.HTTP, code)
	}
	sum, found := 0.0, false
	for _, line := range strings.Split(body, "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum += v
		found = true
	}
	if !found {
		t.Fatalf("%s does not export %s", srv.Name(), name)
	}
	return sum
}

// waitMetric waits until metric name compares (op: "<=" or ">=") with
// value and returns it.
func waitMetric(t testing.TB, srv *Server, name, op string, value float64, timeout time.Duration) float64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v := serverMetric(t, srv, name)
		if (op == "<=" && v <= value) || (op == ">=" && v >= value) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v after %s, want %s %v", name, v, timeout, op, value)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
