package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCleanupAcrossTiers runs compaction, retention and DeleteRecords on
// tiered data in a real broker (the local-directory object store), and
// checks what consumers see, also after a restart.
func TestCleanupAcrossTiers(t *testing.T) {
	dir := t.TempDir()
	srv := StartDev(t, dir, "--segment-ms", "200ms")
	adm := admin(t, srv.Kafka)
	create := func(topic string, configs map[string]string) {
		t.Helper()
		cfg := map[string]*string{}
		for k, v := range configs {
			cfg[k] = kadm.StringPtr(v)
		}
		resp, err := adm.CreateTopic(ctxFor(t, 20*time.Second), 1, 1, cfg, topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			t.Fatalf("create %s: %v", topic, err)
		}
	}
	create("compacted", map[string]string{"cleanup.policy": "compact", "segment.ms": "200", "delete.retention.ms": "0"})
	create("retained", map[string]string{"retention.ms": "60000", "segment.ms": "200"})
	create("trimmed", nil)
	prod := client(t, srv.Kafka, kgo.RequiredAcks(kgo.AllISRAcks()))

	// Compacted: ten rounds of the same ten keys, each round in its own
	// segment; key 3 is deleted in the last round.
	latest := map[string]string{}
	for round := range 10 {
		var recs []*kgo.Record
		for k := range 10 {
			key, value := fmt.Sprintf("k%d", k), fmt.Sprintf("v%d.%d", k, round)
			r := &kgo.Record{Topic: "compacted", Key: []byte(key), Value: []byte(value)}
			if round == 9 && k == 3 {
				r.Value, value = nil, ""
			}
			recs = append(recs, r)
			latest[key] = value
		}
		produceAcked(t, prod, recs)
		waitTiered(t, srv, "compacted", 30*time.Second)
	}
	// Retained: records an hour old expire as soon as they are tiered;
	// fresh ones stay.
	old := time.Now().Add(-time.Hour)
	var stale []*kgo.Record
	for i := range 50 {
		stale = append(stale, &kgo.Record{Topic: "retained", Value: []byte(fmt.Sprint(i)), Timestamp: old})
	}
	produceAcked(t, prod, stale)
	// Trimmed: DeleteRecords on tiered data.
	var trim []*kgo.Record
	for i := range 100 {
		trim = append(trim, &kgo.Record{Topic: "trimmed", Value: []byte(fmt.Sprint(i))})
	}
	produceAcked(t, prod, trim)
	waitTiered(t, srv, "trimmed", 30*time.Second)
	del := kadm.Offsets{}
	del.Add(kadm.Offset{Topic: "trimmed", Partition: 0, At: 60})
	if resp, err := adm.DeleteRecords(ctxFor(t, 20*time.Second), del); err != nil || resp.Error() != nil {
		t.Fatalf("delete records: %v %v", err, resp.Error())
	}

	// Compaction runs when half the log is new since the last one: wait
	// until it has covered everything.
	store, id := manifestStore(t, srv), topicID(t, adm, "compacted")
	deadline := time.Now().Add(30 * time.Second)
	for {
		m, err := store.Manifest(ctxFor(t, 10*time.Second), id, 0)
		if err != nil {
			t.Fatal(err)
		}
		if m.Cleaned == 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("compaction covered offsets below %d within 30s, want 100", m.Cleaned)
		}
		time.Sleep(100 * time.Millisecond)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		start, end := offsets(t, adm, "retained")
		if start[0] == 50 && end[0] == 50 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("retained: offsets [%d, %d) after retention, want [50, 50)", start[0], end[0])
		}
		time.Sleep(100 * time.Millisecond)
	}

	check := func(when string) {
		t.Helper()
		got := consumeRange(t, srv.Kafka, "compacted")
		seen := map[string]string{}
		for _, r := range got {
			seen[string(r.Key)] = string(r.Value)
			if r.Offset < 90 && r.Offset%10 != 3 && string(r.Value) != latest[string(r.Key)] {
				t.Errorf("%s: compacted kept %s=%s at %d, not the latest value %s", when, r.Key, r.Value, r.Offset, latest[string(r.Key)])
			}
		}
		// One record per live key; the tombstone of k3 is gone too
		// (delete.retention.ms=0).
		if _, ok := seen["k3"]; len(got) != 9 || len(seen) != 9 || ok {
			t.Errorf("%s: compacted topic has %d records over keys %v, want the 9 live keys once", when, len(got), seen)
		}
		for k, v := range latest {
			if seen[k] != v {
				t.Errorf("%s: key %s reads %q, want the latest value %q", when, k, seen[k], v)
			}
		}
		start, end := offsets(t, adm, "trimmed")
		if start[0] != 60 || end[0] != 100 {
			t.Errorf("%s: trimmed offsets [%d, %d), want [60, 100)", when, start[0], end[0])
		}
		trimmed := consumeRange(t, srv.Kafka, "trimmed")
		if n := len(trimmed); n != 40 || trimmed[0].Offset != 60 {
			t.Errorf("%s: trimmed reads %d records, want 40 from offset 60", when, n)
		}
	}
	check("before restart")

	// After a restart the broker knows all of it from the manifests.
	srv.Stop()
	srv = StartDev(t, dir, "--segment-ms", "200ms")
	adm = admin(t, srv.Kafka)
	check("after restart")
	if start, end := offsets(t, adm, "retained"); start[0] != 50 || end[0] != 50 {
		t.Errorf("retained after restart: [%d, %d), want [50, 50)", start[0], end[0])
	}
	fresh := []*kgo.Record{{Topic: "retained", Value: []byte("fresh")}}
	produceAcked(t, client(t, srv.Kafka, kgo.RequiredAcks(kgo.AllISRAcks())), fresh)
	if fresh[0].Offset != 50 {
		t.Errorf("a fresh record on the expired topic went to offset %d, want 50", fresh[0].Offset)
	}
}

// consumeRange reads partition 0 of topic from its start offset up to its
// end offset, allowing gaps (compaction), and checks that offsets
// increase.
func consumeRange(t testing.TB, addr, topic string) []*kgo.Record {
	t.Helper()
	start, end := offsets(t, admin(t, addr), topic)
	cl := client(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(start[0])}}))
	ctx := ctxFor(t, 30*time.Second)
	var got []*kgo.Record
	for len(got) == 0 || got[len(got)-1].Offset < end[0]-1 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s: read up to offset %d of [%d, %d): %v", topic, len(got), start[0], end[0], ctx.Err())
		}
		fs.EachError(func(tp string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", tp, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if n := len(got); n > 0 && r.Offset <= got[n-1].Offset {
				t.Fatalf("%s: offset %d after %d", topic, r.Offset, got[n-1].Offset)
			}
			got = append(got, r)
		})
	}
	return got
}
