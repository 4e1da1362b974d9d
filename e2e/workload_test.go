package e2e

import (
	"context"
	"testing"
	"time"
)

// TestWorkloadCheckerSingleBroker runs the queue workload against strata
// dev for 10s, SIGKILLs the broker twice while it runs (restarting it each
// time on the same data dir and address) and requires the checker to find
// no anomaly in the whole history.
func TestWorkloadCheckerSingleBroker(t *testing.T) {
	const kills = 2
	dir := t.TempDir()
	// A fixed Kafka address, so the clients reconnect after each restart.
	// Tier fast and in small WAL segments, so the kills also land while
	// data is tiered.
	flags := []string{"--kafka-addr", freeLoopbackAddr(t), "--segment-ms", "300ms", "--wal-segment-bytes", "1048576"}
	srv := StartDev(t, dir, flags...)

	h := NewHistory()
	killed := 0
	w := Workload{
		Brokers:    []string{srv.Kafka},
		Topic:      "workload",
		Partitions: 3,
		Producers:  3,
		Consumers:  2,
		Duration:   10 * time.Second,
		Rate:       3000,
		Logf:       t.Logf,
		Faults: func(ctx context.Context) {
			for killed < kills {
				select {
				case <-ctx.Done():
					return
				case <-time.After(3 * time.Second):
				}
				srv.Kill()
				killed++
				srv = StartDev(t, dir, flags...)
				t.Logf("kill %d: SIGKILLed the broker and restarted it in %s", killed, srv.Ready.Round(time.Millisecond))
			}
		},
	}
	start := time.Now()
	if err := w.Run(h); err != nil {
		t.Fatal(err)
	}
	ran := time.Since(start)
	checked := time.Now()
	r := Check(h)
	t.Logf("workload ran %s, checked in %s: %v", ran.Round(time.Millisecond), time.Since(checked).Round(time.Millisecond), r)
	if killed != kills {
		t.Errorf("the broker was killed %d times, want %d", killed, kills)
	}
	if r.Acked == 0 || r.RecordsRead == 0 {
		t.Errorf("%d records acked and %d read: the workload did not exercise the broker", r.Acked, r.RecordsRead)
	}
	if !r.OK() {
		t.Errorf("the checker found %d anomalies", len(r.Anomalies))
	}
}
