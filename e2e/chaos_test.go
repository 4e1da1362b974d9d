//go:build chaos

package e2e

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestChaos runs the queue workload on a netCluster (three strata broker
// processes, every link through a proxy, WAL writes lost unless fsynced)
// for STRATA_CHAOS_DURATION (default 2m) while faults chosen by a seeded
// random source (STRATA_CHAOS_SEED, logged; set it to replay a run) hit
// it: SIGKILL and restart of one broker or of all, SIGSTOP longer than the
// lease and SIGCONT, a broker cut off from the other brokers, from etcd,
// from MinIO, or from everything. The checker must find no anomaly.
//
//	STRATA_CHAOS_DURATION=10m go test -tags chaos -run TestChaos -timeout 30m ./e2e/
func TestChaos(t *testing.T) {
	duration := 2 * time.Minute
	if v := os.Getenv("STRATA_CHAOS_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("STRATA_CHAOS_DURATION=%q: %v", v, err)
		}
		duration = d
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("STRATA_CHAOS_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("STRATA_CHAOS_SEED=%q: %v", v, err)
		}
		seed = s
	}
	t.Logf("chaos for %s with STRATA_CHAOS_SEED=%d", duration, seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	c := startNetCluster(t)
	h := NewHistory()
	faults := 0
	w := Workload{
		Brokers:    c.brokers(),
		Topic:      "chaos",
		Partitions: 6,
		Producers:  3,
		Consumers:  2,
		Duration:   duration,
		Rate:       1000,
		Logf:       t.Logf,
		Faults: func(ctx context.Context) {
			for {
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Duration(1000+rng.IntN(3000)) * time.Millisecond):
				}
				i := rng.IntN(len(c.members))
				m := c.members[i]
				long := time.Duration(2500+rng.IntN(3000)) * time.Millisecond
				faults++
				switch k := rng.IntN(12); {
				case k == 0:
					for _, o := range c.members {
						o.srv.Kill()
					}
					time.Sleep(time.Duration(500+rng.IntN(2000)) * time.Millisecond)
					for _, o := range c.members {
						o.restart(t)
					}
					t.Logf("fault %d: SIGKILLed every broker, restarted them", faults)
				case k < 4:
					m.srv.Kill()
					time.Sleep(time.Duration(500+rng.IntN(4000)) * time.Millisecond)
					m.restart(t)
					t.Logf("fault %d: SIGKILLed broker %s, restarted", faults, m.id)
				case k < 6:
					m.srv.Pause()
					time.Sleep(long)
					m.srv.Resume()
					t.Logf("fault %d: paused broker %s past its lease, resumed", faults, m.id)
				case k < 8:
					blackhole(ctx, long, c.replication(i)...)
					t.Logf("fault %d: cut broker %s off from the other brokers for %s", faults, m.id, long)
				case k < 10:
					blackhole(ctx, long, c.etcd[i])
					t.Logf("fault %d: cut broker %s off from etcd for %s", faults, m.id, long)
				case k < 11:
					blackhole(ctx, long, c.s3[i])
					t.Logf("fault %d: cut broker %s off from MinIO for %s", faults, m.id, long)
				default:
					blackhole(ctx, long, append(c.replication(i), c.etcd[i], c.s3[i])...)
					t.Logf("fault %d: cut broker %s off from everything for %s", faults, m.id, long)
				}
			}
		},
	}
	if err := w.Run(h); err != nil {
		t.Fatal(err)
	}
	r := Check(h)
	t.Logf("%d faults; %v", faults, r)
	if r.Acked == 0 || r.RecordsRead == 0 {
		t.Fatalf("%d records acked and %d read: the workload did not run", r.Acked, r.RecordsRead)
	}
	if !r.OK() {
		t.Errorf("the checker found %d anomalies (replay with STRATA_CHAOS_SEED=%d)", len(r.Anomalies), seed)
	}
}
