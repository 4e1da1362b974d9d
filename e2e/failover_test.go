package e2e

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// clusterMember is a strata broker process of a test cluster.
type clusterMember struct {
	id   string
	args []string
	srv  *Server
}

// restart starts the member again with the same flags and data.
func (m *clusterMember) restart(t *testing.T) {
	t.Helper()
	m.srv = StartServer(t, Env(), m.args...)
}

// startCluster starts strata dev (broker 0, which also hosts etcd) and two
// strata broker processes on its etcd and object store, with short leases
// and fast tiering, and waits until all three are registered.
func startCluster(t *testing.T) (*Server, []*clusterMember) {
	t.Helper()
	dir := t.TempDir()
	common := []string{"--session-ttl", "2s", "--segment-ms", "1s", "--wal-segment-bytes", "1048576"}
	dev := StartDev(t, dir, append([]string{"--kafka-addr", freeLoopbackAddr(t)}, common...)...)
	var others []*clusterMember
	for _, id := range []string{"1", "2"} {
		m := &clusterMember{id: id, args: append([]string{"broker", "--id", id, "--etcd-endpoints", dev.Etcd,
			"--data-dir", filepath.Join(dir, "broker-"+id), "--object-store-dir", filepath.Join(dir, "objects"),
			"--kafka-addr", freeLoopbackAddr(t), "--http-addr", "127.0.0.1:0"}, common...)}
		m.restart(t)
		others = append(others, m)
	}
	// All three registered before any topic is made: topics get 3 replicas.
	adm := admin(t, dev.Kafka)
	deadline := time.Now().Add(20 * time.Second)
	for {
		md, err := adm.BrokerMetadata(ctxFor(t, 5*time.Second))
		if err == nil && len(md.Brokers) == 3 {
			return dev, others
		}
		if time.Now().After(deadline) {
			t.Fatalf("three brokers did not register: %v %v", md.Brokers, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestFailoverWorkload runs a three-broker cluster as three processes
// (strata dev, which also hosts etcd, and two strata broker processes on
// its etcd and object store) with topics of replication factor 3, and the
// queue workload while brokers are SIGKILLed and restarted in turn: the
// checker must find no lost, duplicated or reordered record.
func TestFailoverWorkload(t *testing.T) {
	dev, others := startCluster(t)
	adm := admin(t, dev.Kafka)

	h := NewHistory()
	kills := 0
	w := Workload{
		Brokers:    []string{dev.Kafka, others[0].srv.Kafka, others[1].srv.Kafka},
		Topic:      "failover",
		Partitions: 3,
		Producers:  2,
		Consumers:  2,
		Duration:   12 * time.Second,
		Rate:       1000,
		Logf:       t.Logf,
		Faults: func(ctx context.Context) {
			for _, m := range others {
				select {
				case <-ctx.Done():
					return
				case <-time.After(3 * time.Second):
				}
				m.srv.Kill()
				kills++
				t.Logf("SIGKILLed broker %s", m.id)
				select {
				case <-ctx.Done():
				case <-time.After(3 * time.Second):
				}
				m.restart(t)
				t.Logf("restarted broker %s in %s", m.id, m.srv.Ready.Round(time.Millisecond))
			}
		},
	}
	if err := w.Run(h); err != nil {
		t.Fatal(err)
	}
	r := Check(h)
	t.Logf("%v", r)
	if kills != 2 {
		t.Fatalf("%d brokers killed, want 2", kills)
	}
	if r.Acked == 0 || r.RecordsRead == 0 {
		t.Fatalf("%d records acked and %d read: the workload did not run", r.Acked, r.RecordsRead)
	}
	if !r.OK() {
		t.Errorf("the checker found %d anomalies", len(r.Anomalies))
	}
	// Every partition has three replicas and a leader; the partitions the
	// killed brokers led (1 and 2: the ring puts partition p's leader on
	// broker p) moved to a new epoch.
	topics, err := adm.ListTopics(ctxFor(t, 10*time.Second), "failover")
	if err != nil {
		t.Fatal(err)
	}
	topics.EachPartition(func(p kadm.PartitionDetail) {
		t.Logf("partition %d: leader %d epoch %d replicas %v", p.Partition, p.Leader, p.LeaderEpoch, p.Replicas)
		if len(p.Replicas) != 3 || p.Leader < 0 {
			t.Errorf("partition %d: replicas %v leader %d", p.Partition, p.Replicas, p.Leader)
		}
		if p.Partition > 0 && p.LeaderEpoch < 2 {
			t.Errorf("partition %d: epoch %d after its leader was killed, want a failover (2 or more)", p.Partition, p.LeaderEpoch)
		}
	})
}
