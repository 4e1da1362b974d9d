package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestGracefulRestart stops strata dev with SIGTERM (exit code 0), starts it
// again on the same data dir and finds every record, the topic and the
// group's committed offsets, then keeps producing where it left off.
func TestGracefulRestart(t *testing.T) {
	const (
		topic      = "graceful"
		group      = "graceful-grp"
		partitions = 2
		n          = 2000
	)
	dir := t.TempDir()
	srv := StartDev(t, dir)
	createTopic(t, admin(t, srv.Kafka), topic, partitions)

	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("v%d", i))}
	}
	prod := client(t, srv.Kafka, kgo.RequiredAcks(kgo.AllISRAcks()))
	if err := prod.ProduceSync(ctxFor(t, 30*time.Second), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	want := map[location]string{}
	for _, r := range recs {
		want[location{r.Partition, r.Offset}] = string(r.Value)
	}
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: topic, Partition: 0, At: 17, LeaderEpoch: -1, Metadata: "before restart"})
	offs.Add(kadm.Offset{Topic: topic, Partition: 1, At: 42, LeaderEpoch: -1})
	if resp, err := admin(t, srv.Kafka).CommitOffsets(ctxFor(t, 20*time.Second), group, offs); err != nil || resp.Error() != nil {
		t.Fatalf("commit offsets: %v %v", err, resp.Error())
	}

	took := srv.Stop() // fails the test unless the exit code is 0
	t.Logf("SIGTERM: %s exited in %s", srv.Name(), took.Round(time.Millisecond))
	if !strings.Contains(srv.Stderr(), "shutting down") {
		t.Errorf("%s: stderr does not log the shutdown", srv.Name())
	}

	srv = StartDev(t, dir)
	t.Logf("restarted in %s", srv.Ready.Round(time.Millisecond))
	// A clean shutdown revokes the broker's registration, so the restart
	// need not wait for its lease to expire.
	if strings.Contains(srv.Stderr(), "still registered") {
		t.Errorf("restart after SIGTERM waited for the old broker registration to expire: the clean shutdown did not revoke it")
	}

	got, end := consumeAll(t, srv.Kafka, topic)
	if len(end) != partitions {
		t.Fatalf("after restart %s has %d partitions, want %d", topic, len(end), partitions)
	}
	count := 0
	for p, rs := range got {
		for _, r := range rs {
			count++
			if w, ok := want[location{p, r.Offset}]; !ok || w != string(r.Value) {
				t.Fatalf("after restart %s/%d@%d = %q, want %q (present before: %v)", topic, p, r.Offset, r.Value, w, ok)
			}
		}
	}
	if count != n {
		t.Fatalf("after restart %s holds %d records, want %d", topic, count, n)
	}

	fetched, err := admin(t, srv.Kafka).FetchOffsets(ctxFor(t, 20*time.Second), group)
	if err == nil {
		err = fetched.Error()
	}
	if err != nil {
		t.Fatalf("fetch offsets after restart: %v", err)
	}
	offs.Each(func(w kadm.Offset) {
		if o, ok := fetched.Lookup(topic, w.Partition); !ok || o.At != w.At || o.Metadata != w.Metadata {
			t.Errorf("after restart group %s has %s/%d = %+v (present %v), want offset %d metadata %q", group, topic, w.Partition, o.Offset, ok, w.At, w.Metadata)
		}
	})

	// Producing continues at the old end offsets.
	more := make([]*kgo.Record, 10)
	for i := range more {
		more[i] = &kgo.Record{Topic: topic, Partition: int32(i % partitions), Value: []byte(fmt.Sprintf("after-%d", i))}
	}
	prod = client(t, srv.Kafka, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := prod.ProduceSync(ctxFor(t, 30*time.Second), more...).FirstErr(); err != nil {
		t.Fatalf("produce after restart: %v", err)
	}
	next := map[int32]int64{}
	for p, e := range end {
		next[p] = e
	}
	for _, r := range more {
		if r.Offset != next[r.Partition] {
			t.Errorf("after restart record %q went to %s/%d@%d, want offset %d", r.Value, topic, r.Partition, r.Offset, next[r.Partition])
		}
		next[r.Partition]++
	}

	took = srv.Stop()
	t.Logf("second SIGTERM: exited in %s", took.Round(time.Millisecond))
}
