package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
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

// testCluster is three broker processes: strata dev (broker 0, which
// also hosts etcd, on a fixed port so the others find it again after a
// restart) and two strata broker processes on its etcd and object store,
// with short leases and fast tiering. Every Kafka address is fixed, so
// clients reconnect after restarts.
type testCluster struct {
	dir      string
	devFlags []string
	dev      *Server
	others   []*clusterMember
}

// startCluster starts a testCluster and waits until all three brokers are
// registered.
func startCluster(t *testing.T) *testCluster {
	t.Helper()
	c := &testCluster{dir: t.TempDir()}
	common := []string{"--session-ttl", "2s", "--segment-ms", "1s", "--wal-segment-bytes", "1048576", "--wal-volatile-writes"}
	c.devFlags = append([]string{"--kafka-addr", freeLoopbackAddr(t), "--etcd-listen", "http://" + freeLoopbackAddr(t)}, common...)
	c.restartDev(t)
	for _, id := range []string{"1", "2"} {
		m := &clusterMember{id: id, args: append([]string{"broker", "--id", id, "--etcd-endpoints", c.dev.Etcd,
			"--data-dir", filepath.Join(c.dir, "broker-"+id), "--object-store-dir", filepath.Join(c.dir, "objects"),
			"--kafka-addr", freeLoopbackAddr(t), "--http-addr", "127.0.0.1:0"}, common...)}
		m.restart(t)
		c.others = append(c.others, m)
	}
	waitRegistered(t, c.dev.Kafka, c.dev.Etcd, 3)
	return c
}

// restartDev starts (again) the strata dev process.
func (c *testCluster) restartDev(t *testing.T) {
	t.Helper()
	c.dev = StartDev(t, c.dir, c.devFlags...)
}

// brokers lists every broker's Kafka address.
func (c *testCluster) brokers() []string {
	out := []string{c.dev.Kafka}
	for _, m := range c.others {
		out = append(out, m.srv.Kafka)
	}
	return out
}

// waitRegistered waits until the broker at addr reports n brokers. If
// they do not all appear, it fails with what etcd (at etcdURL) holds under
// the brokers prefix and the leases of those keys, to tell a registration
// that expired from one never made.
func waitRegistered(t *testing.T, addr, etcdURL string, n int) {
	t.Helper()
	// A Metadata request each time: kadm's BrokerMetadata answers from
	// the client's cached broker list, which a first answer given from
	// the broker's one-second cache (before the last broker registered)
	// would keep for minutes.
	cl := client(t, addr)
	start := time.Now()
	deadline := start.Add(30 * time.Second)
	for {
		md, err := cl.Request(ctxFor(t, 5*time.Second), kmsg.NewPtrMetadataRequest())
		var brokers []kmsg.MetadataResponseBroker
		if err == nil {
			brokers = md.(*kmsg.MetadataResponse).Brokers
		}
		if err == nil && len(brokers) == n {
			if took := time.Since(start); took > 5*time.Second {
				t.Logf("%d brokers registered after %s", n, took.Round(time.Millisecond))
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d brokers did not register: %v %v; etcd holds %s", n, brokers, err, etcdBrokers(t, etcdURL))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// etcdBrokers describes the broker keys in etcd and their leases.
func etcdBrokers(t *testing.T, etcdURL string) string {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{etcdURL}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return fmt.Sprintf("(no etcd client: %v)", err)
	}
	defer cli.Close()
	ctx := ctxFor(t, 5*time.Second)
	resp, err := cli.Get(ctx, "", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return fmt.Sprintf("(list keys: %v)", err)
	}
	var out []string
	for _, kv := range resp.Kvs {
		if !strings.Contains(string(kv.Key), "/brokers/") {
			continue
		}
		ttl := int64(-1)
		if kv.Lease != 0 {
			if l, err := cli.TimeToLive(ctx, clientv3.LeaseID(kv.Lease)); err == nil {
				ttl = l.TTL
			}
		}
		out = append(out, fmt.Sprintf("%s (lease %x, ttl %ds)", kv.Key, kv.Lease, ttl))
	}
	return fmt.Sprintf("%d broker keys at revision %d: %v", len(out), resp.Header.Revision, out)
}

// TestFailoverWorkload runs a three-broker cluster as three processes
// (strata dev, which also hosts etcd, and two strata broker processes on
// its etcd and object store) with topics of replication factor 3, and the
// queue workload while brokers are SIGKILLed and restarted in turn: the
// checker must find no lost, duplicated or reordered record.
func TestFailoverWorkload(t *testing.T) {
	c := startCluster(t)
	adm := admin(t, c.dev.Kafka)
	others := c.others

	h := NewHistory()
	kills := 0
	w := Workload{
		Brokers:    c.brokers(),
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
				if m.id == "2" {
					// Its WAL's tail is damaged as a crash mid-write leaves
					// it: recovery truncates it and the leader refills it.
					t.Logf("broker 2: %s", damageWALTail(t, filepath.Join(c.dir, "broker-2", "wal")))
				}
				select {
				case <-ctx.Done():
				case <-time.After(3 * time.Second):
				}
				m.restart(t)
				t.Logf("restarted broker %s in %s", m.id, m.srv.Ready.Round(time.Millisecond))
				if m.id == "2" && !strings.Contains(m.srv.Stderr(), "torn_tails=1") {
					t.Errorf("broker 2 did not truncate its damaged WAL tail; its log:\n%s", m.srv.Stderr())
				}
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

// damageWALTail flips a byte in the last frame of the newest segment of
// the WAL in dir (a torn or bit-flipped tail) and says what it did.
func damageWALTail(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var last string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".wal") && e.Name() > last {
			last = e.Name()
		}
	}
	if last == "" {
		t.Fatalf("no WAL segment in %s", dir)
	}
	path := filepath.Join(dir, last)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) <= 20+8 {
		return fmt.Sprintf("%s holds no frame to damage", last)
	}
	i := len(b) - 1 - len(b)%7 // a byte of the last frame (its payload or CRC)
	b[i] ^= 0x5a
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("flipped byte %d of %d in %s", i, len(b), last)
}
