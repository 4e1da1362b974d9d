package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// location is where a record landed.
type location struct {
	partition int32
	offset    int64
}

// ackLog records what a producer sent and what the broker acknowledged.
type ackLog struct {
	mu     sync.Mutex
	sent   map[string]bool     // every value handed to the client
	acked  map[string]location // values whose produce promise returned nil
	failed map[string]error    // values whose promise returned an error
}

func newAckLog() *ackLog {
	return &ackLog{sent: map[string]bool{}, acked: map[string]location{}, failed: map[string]error{}}
}

// produceUntil produces records with unique values into topic as fast as the
// client allows, until ctx ends. It returns when every promise has run.
func produceUntil(ctx context.Context, cl *kgo.Client, topic string, cycle int, log *ackLog) {
	var wg sync.WaitGroup
	for i := 0; ctx.Err() == nil; i++ {
		v := fmt.Sprintf("c%d-%09d", cycle, i)
		log.mu.Lock()
		log.sent[v] = true
		log.mu.Unlock()
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Topic: topic, Key: []byte(v), Value: []byte(v)}, func(r *kgo.Record, err error) {
			defer wg.Done()
			log.mu.Lock()
			defer log.mu.Unlock()
			if err != nil {
				log.failed[v] = err
				return
			}
			log.acked[v] = location{r.Partition, r.Offset}
		})
	}
	wg.Wait()
}

// TestCrashKeepsAcknowledged SIGKILLs strata dev while an idempotent acks=all
// producer is writing, restarts it on the same data dir and checks that every
// acknowledged record survived exactly once, at the offset it was
// acknowledged with, with gapless offsets, and that committed group offsets
// survived too. It does so three times on the same data.
func TestCrashKeepsAcknowledged(t *testing.T) {
	const (
		topic      = "crash"
		group      = "crash-grp"
		partitions = 3
		cycles     = 3
		produceFor = time.Second
	)
	dir := t.TempDir()
	// Tier fast and in small WAL segments, so that the kills also land
	// between uploading, committing manifests and releasing the WAL.
	flags := []string{"--segment-ms", "300ms", "--wal-segment-bytes", "1048576"}
	srv := StartDev(t, dir, flags...)
	createTopic(t, admin(t, srv.Kafka), topic, partitions)

	log := newAckLog()
	var committed kadm.Offsets
	for cycle := 1; cycle <= cycles; cycle++ {
		log.mu.Lock()
		ackedBefore, sentBefore := len(log.acked), len(log.sent)
		log.mu.Unlock()
		// A producer on its own client, so that closing it after the kill
		// does not disturb the clients of the checks.
		prod, err := kgo.NewClient(
			kgo.SeedBrokers(srv.Kafka),
			kgo.RequiredAcks(kgo.AllISRAcks()), // idempotence is on by default and needs acks=all
			kgo.DefaultProduceTopic(topic),
			kgo.MaxBufferedRecords(20000),
		)
		if err != nil {
			t.Fatal(err)
		}
		prodCtx, stopProducing := context.WithCancel(context.Background())
		produced := make(chan struct{})
		go func() {
			defer close(produced)
			produceUntil(prodCtx, prod, topic, cycle, log)
		}()
		var closed atomic.Bool
		t.Cleanup(func() {
			stopProducing()
			if !closed.Load() {
				prod.Close()
			}
		})

		// Commit a group offset while producing; it must outlive the crash.
		offs := kadm.Offsets{}
		for p := range int32(partitions) {
			offs.Add(kadm.Offset{Topic: topic, Partition: p, At: int64(cycle*1000) + int64(p), LeaderEpoch: -1, Metadata: fmt.Sprintf("cycle %d", cycle)})
		}
		resp, err := admin(t, srv.Kafka).CommitOffsets(ctxFor(t, 20*time.Second), group, offs)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			t.Fatalf("cycle %d: commit offsets of %s: %v", cycle, group, err)
		}
		committed = offs

		time.Sleep(produceFor)
		log.mu.Lock()
		ackedBeforeKill, sentBeforeKill := len(log.acked), len(log.sent)
		log.mu.Unlock()
		select {
		case <-produced:
			t.Fatalf("cycle %d: the producer stopped before the kill", cycle)
		default:
		}
		srv.Kill()
		// Keep producing into the dead broker for a moment, then give up on
		// whatever is still buffered or in flight.
		time.Sleep(200 * time.Millisecond)
		stopProducing()
		closeDone := make(chan struct{})
		go func() { prod.Close(); close(closeDone) }()
		select {
		case <-closeDone:
			closed.Store(true)
		case <-time.After(20 * time.Second):
			t.Fatalf("cycle %d: producer client did not close within 20s", cycle)
		}
		select {
		case <-produced:
		case <-time.After(20 * time.Second):
			t.Fatalf("cycle %d: produce promises still pending 20s after closing the client", cycle)
		}
		t.Logf("cycle %d: killed %s after %d records of this cycle were acknowledged (of %d sent)",
			cycle, srv.Name(), ackedBeforeKill-ackedBefore, sentBeforeKill-sentBefore)

		srv, err = TryStartDev(t, dir, flags...)
		if err != nil {
			if strings.Contains(srv.Stderr(), "duplicate metrics collector registration attempted") {
				t.Fatalf("BUG: cycle %d: strata dev panics when restarted after SIGKILL: broker.New fails with ErrBrokerIDInUse "+
					"(the etcd lease of the killed broker is still live), startBroker retries broker.New with the same "+
					"prometheus.Registerer, and the retry's MustRegister panics (duplicate metrics collector registration). "+
					"The embedded etcd renews the old lease on every start, so the data dir can never be started again: %v", cycle, err)
			}
			t.Fatalf("cycle %d: restart after SIGKILL: %v", cycle, err)
		}
		t.Logf("cycle %d: restarted in %s", cycle, srv.Ready.Round(time.Millisecond))
		checkAcknowledged(t, srv.Kafka, topic, cycle, log)

		got, err := admin(t, srv.Kafka).FetchOffsets(ctxFor(t, 20*time.Second), group)
		if err == nil {
			err = got.Error()
		}
		if err != nil {
			t.Fatalf("cycle %d: fetch offsets of %s after restart: %v", cycle, group, err)
		}
		committed.Each(func(want kadm.Offset) {
			o, ok := got.Lookup(want.Topic, want.Partition)
			if !ok || o.At != want.At || o.Metadata != want.Metadata {
				t.Errorf("cycle %d: after restart group %s has %s/%d = %+v (present %v), want offset %d metadata %q",
					cycle, group, want.Topic, want.Partition, o.Offset, ok, want.At, want.Metadata)
			}
		})
		if t.Failed() {
			return
		}
	}
	// The kills did land while data was being tiered: objects exist.
	objs, err := os.ReadDir(filepath.Join(dir, "objects", "segments"))
	if err != nil || len(objs) == 0 {
		t.Fatalf("no tiered objects after the crash cycles (%v): tiering never ran, so the test did not cover it", err)
	}
	t.Logf("%d tiered objects", len(objs))
}

// checkAcknowledged reads all of topic and compares it with log.
func checkAcknowledged(t *testing.T, addr, topic string, cycle int, log *ackLog) {
	t.Helper()
	recs, end := consumeAll(t, addr, topic) // also checks offsets are gapless from 0
	log.mu.Lock()
	defer log.mu.Unlock()

	found := map[string][]location{}
	total := 0
	for p, rs := range recs {
		for _, r := range rs {
			v := string(r.Value)
			found[v] = append(found[v], location{p, r.Offset})
			total++
			if !log.sent[v] {
				t.Errorf("cycle %d: %s/%d@%d holds %q, which was never produced", cycle, topic, p, r.Offset, v)
			}
		}
	}
	dups := 0
	for v, locs := range found {
		if len(locs) > 1 {
			dups++
			if dups <= 10 {
				_, acked := log.acked[v]
				t.Errorf("cycle %d: value %q (acknowledged: %v) is stored %d times: %v", cycle, v, acked, len(locs), locs)
			}
		}
	}
	if dups > 10 {
		t.Errorf("cycle %d: %d values are stored more than once", cycle, dups)
	}
	lost := 0
	for v, at := range log.acked {
		locs := found[v]
		switch {
		case len(locs) == 0:
			lost++
			if lost <= 10 {
				t.Errorf("cycle %d: acknowledged record %q (%s/%d@%d) is missing after the crash", cycle, v, topic, at.partition, at.offset)
			}
		case locs[0] != at:
			t.Errorf("cycle %d: acknowledged record %q was acknowledged at %s/%d@%d but is stored at %v", cycle, v, topic, at.partition, at.offset, locs)
		}
	}
	if lost > 10 {
		t.Errorf("cycle %d: %d acknowledged records are missing", cycle, lost)
	}
	unackedPresent := 0
	for v := range found {
		if _, ok := log.acked[v]; !ok {
			unackedPresent++
		}
	}
	failedBy := map[string]int{}
	for _, err := range log.failed {
		key := err.Error()
		switch {
		case errors.Is(err, context.Canceled):
			key = "context canceled"
		case errors.Is(err, kgo.ErrClientClosed):
			key = "client closed"
		}
		failedBy[key]++
	}
	t.Logf("cycle %d: sent %d, acked %d, found %d (end offsets %v), unacked-but-present %d, missing acked %d, duplicated %d; failed promises by error: %v",
		cycle, len(log.sent), len(log.acked), total, end, unackedPresent, lost, dups, failedBy)
	if len(log.acked) == 0 {
		t.Fatalf("cycle %d: nothing was acknowledged, so nothing was tested", cycle)
	}
}
