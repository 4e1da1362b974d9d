package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strata-log/strata/meta"
	"github.com/strata-log/strata/tiering/bucket/buckettest"
)

// netCluster is three strata broker processes whose every link goes
// through a Proxy, so that a test can partition the network: one proxy per
// ordered pair of brokers in front of the replication listener (broker i
// dials broker j through repl[i][j], --replication-peer), and one proxy
// per broker in front of etcd (embedded in the test process) and of MinIO.
// The Kafka listeners are reached directly.
type netCluster struct {
	members []*clusterMember
	etcd    []*Proxy
	s3      []*Proxy
	repl    [][]*Proxy
}

// startNetCluster starts a netCluster and waits until its brokers are
// registered. Their WALs use --wal-volatile-writes, so that a SIGKILL
// also loses the writes a broker had not fsynced.
func startNetCluster(t *testing.T) *netCluster {
	t.Helper()
	const n = 3
	dir := t.TempDir()
	etcd, err := meta.StartEmbedded(meta.EmbedConfig{Dir: filepath.Join(dir, "etcd"), ClientURL: "http://127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { etcd.Close() })
	m := buckettest.StartMinIO(t)
	m.CreateBucket(t, "netsplit")

	c := &netCluster{repl: make([][]*Proxy, n)}
	replAddr := make([]string, n)
	for i := range n {
		replAddr[i] = freeLoopbackAddr(t)
		c.etcd = append(c.etcd, NewProxy(t, strings.TrimPrefix(etcd.ClientURL(), "http://")))
		c.s3 = append(c.s3, NewProxy(t, strings.TrimPrefix(m.Endpoint, "http://")))
	}
	for i := range n {
		c.repl[i] = make([]*Proxy, n)
		for j := range n {
			if i != j {
				c.repl[i][j] = NewProxy(t, replAddr[j])
			}
		}
	}
	for i := range n {
		id := strconv.Itoa(i)
		args := []string{"broker", "--id", id, "--etcd-endpoints", "http://" + c.etcd[i].Addr(),
			"--data-dir", filepath.Join(dir, "broker-"+id), "--kafka-addr", freeLoopbackAddr(t), "--http-addr", "127.0.0.1:0",
			"--replication-addr", replAddr[i], "--session-ttl", "2s", "--segment-ms", "1s", "--wal-segment-bytes", "1048576",
			"--wal-volatile-writes"}
		args = append(args, s3Flags("http://"+c.s3[i].Addr(), m, "netsplit")...)
		for j := range n {
			if i != j {
				args = append(args, "--replication-peer", fmt.Sprintf("%d=%s", j, c.repl[i][j].Addr()))
			}
		}
		mem := &clusterMember{id: id, args: args}
		mem.restart(t)
		c.members = append(c.members, mem)
	}
	waitRegistered(t, c.members[0].srv.Kafka, etcd.ClientURL(), n)
	return c
}

// brokers lists every broker's Kafka address.
func (c *netCluster) brokers() []string {
	var out []string
	for _, m := range c.members {
		out = append(out, m.srv.Kafka)
	}
	return out
}

// replication returns the proxies carrying broker i's replication traffic
// in both directions.
func (c *netCluster) replication(i int) []*Proxy {
	var out []*Proxy
	for j := range c.repl {
		if j != i {
			out = append(out, c.repl[i][j], c.repl[j][i])
		}
	}
	return out
}

// blackhole partitions the links of ps for d (or until ctx ends), then
// heals them.
func blackhole(ctx context.Context, d time.Duration, ps ...*Proxy) {
	for _, p := range ps {
		p.Blackhole()
	}
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
	for _, p := range ps {
		p.Heal()
	}
}

// leaders returns each partition's leader and epoch, asking the brokers in
// turn until one answers.
func leaders(ctx context.Context, brokers []string, topic string) (map[int32]int32, map[int32]int32, error) {
	var err error
	for _, b := range brokers {
		cl, cerr := kgo.NewClient(kgo.SeedBrokers(b))
		if cerr != nil {
			err = cerr
			continue
		}
		var td kadm.TopicDetails
		td, err = kadm.NewClient(cl).ListTopics(ctx, topic)
		cl.Close()
		if err != nil {
			continue
		}
		leader, epoch := map[int32]int32{}, map[int32]int32{}
		td.EachPartition(func(p kadm.PartitionDetail) {
			leader[p.Partition], epoch[p.Partition] = p.Leader, p.LeaderEpoch
		})
		if len(leader) > 0 {
			return leader, epoch, nil
		}
		err = fmt.Errorf("no partitions of %s", topic)
	}
	return nil, nil, err
}

// TestNetworkPartitions runs the queue workload on a netCluster with topics
// of replication factor 3 while the network fails in turn:
//
//  1. the leader of partition 0 is cut off from both other brokers (but
//     not from etcd): it cannot commit, resigns after a session TTL, and
//     the other two elect a leader among themselves;
//  2. the leader of partition 1 is cut off from etcd (but not from its
//     followers): its lease expires, a follower takes over and fences the
//     old epoch on the replicas, so the old leader cannot acknowledge;
//  3. a broker is cut off from MinIO: its tiering retries while it goes on
//     acknowledging from its WAL;
//  4. a broker is cut off from everything at once;
//  5. a broker is SIGKILLed, losing its un-fsynced WAL writes, and
//     restarted.
//
// The checker must find no lost, duplicated or reordered record, and the
// first two faults must each have moved a leadership.
func TestNetworkPartitions(t *testing.T) {
	c := startNetCluster(t)
	const topic = "netsplit"
	h := NewHistory()
	var moved []string
	var faults []string
	var resigned bool
	w := Workload{
		Brokers:    c.brokers(),
		Topic:      topic,
		Partitions: 3,
		Producers:  2,
		Consumers:  2,
		Duration:   36 * time.Second,
		Rate:       800,
		Logf:       t.Logf,
		Faults: func(ctx context.Context) {
			pause := func(d time.Duration) bool {
				select {
				case <-ctx.Done():
					return false
				case <-time.After(d):
					return true
				}
			}
			leaderOf := func(p int32) (int32, int32) {
				lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				l, e, err := leaders(lctx, c.brokers(), topic)
				if err != nil || l[p] < 0 || int(l[p]) >= len(c.members) {
					t.Errorf("leader of partition %d: %v %v", p, l, err)
					return -1, -1
				}
				return l[p], e[p]
			}
			// moves waits until partition p has a leader other than old in an
			// epoch after epoch, and records it.
			moves := func(what string, p, old, epoch int32) {
				for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline) && ctx.Err() == nil; time.Sleep(200 * time.Millisecond) {
					lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
					l, e, err := leaders(lctx, c.brokers(), topic)
					cancel()
					if err == nil && l[p] != old && l[p] >= 0 && e[p] > epoch {
						moved = append(moved, fmt.Sprintf("%s: partition %d from broker %d (epoch %d) to broker %d (epoch %d)", what, p, old, epoch, l[p], e[p]))
						return
					}
				}
			}
			if !pause(3 * time.Second) {
				return
			}
			// 1. The leader of partition 0 loses its followers.
			if l, e := leaderOf(0); l >= 0 {
				done := make(chan struct{})
				go func() { defer close(done); blackhole(ctx, 5*time.Second, c.replication(int(l))...) }()
				moves("leader cut off from its followers", 0, l, e)
				<-done
				// Read now: the SIGKILL at the end starts broker 0 with a new log.
				for _, m := range c.members {
					resigned = resigned || strings.Contains(m.srv.Stderr(), "resigned leadership")
				}
				faults = append(faults, fmt.Sprintf("broker %d cut off from the other brokers", l))
			}
			if !pause(2 * time.Second) {
				return
			}
			// 2. The leader of partition 1 loses etcd.
			if l, e := leaderOf(1); l >= 0 {
				done := make(chan struct{})
				go func() { defer close(done); blackhole(ctx, 5*time.Second, c.etcd[l]) }()
				moves("leader cut off from etcd", 1, l, e)
				<-done
				faults = append(faults, fmt.Sprintf("broker %d cut off from etcd", l))
			}
			if !pause(2 * time.Second) {
				return
			}
			// 3. A broker loses the object store.
			blackhole(ctx, 3*time.Second, c.s3[2])
			faults = append(faults, "broker 2 cut off from MinIO")
			if !pause(2 * time.Second) {
				return
			}
			// 4. A broker loses everything.
			blackhole(ctx, 3*time.Second, append(c.replication(1), c.etcd[1], c.s3[1])...)
			faults = append(faults, "broker 1 cut off from everything")
			if !pause(2 * time.Second) {
				return
			}
			// 5. A broker crashes, losing its un-fsynced WAL writes.
			c.members[0].srv.Kill()
			pause(time.Second)
			c.members[0].restart(t)
			faults = append(faults, "broker 0 SIGKILLed (un-fsynced WAL writes lost) and restarted")
		},
	}
	if err := w.Run(h); err != nil {
		t.Fatal(err)
	}
	r := Check(h)
	for _, f := range faults {
		t.Logf("fault: %s", f)
	}
	for _, m := range moved {
		t.Logf("moved: %s", m)
	}
	t.Logf("%v", r)
	if len(faults) != 5 {
		t.Errorf("%d of 5 faults injected", len(faults))
	}
	if r.Acked == 0 || r.RecordsRead == 0 {
		t.Fatalf("%d records acked and %d read: the workload did not run", r.Acked, r.RecordsRead)
	}
	if !r.OK() {
		t.Errorf("the checker found %d anomalies", len(r.Anomalies))
	}
	if !slices.ContainsFunc(moved, func(s string) bool { return strings.HasPrefix(s, "leader cut off from its followers") }) {
		t.Errorf("partition 0's leadership did not move while its leader was cut off from its followers")
	}
	if !slices.ContainsFunc(moved, func(s string) bool { return strings.HasPrefix(s, "leader cut off from etcd") }) {
		t.Errorf("partition 1's leadership did not move while its leader was cut off from etcd")
	}
	if !resigned {
		t.Errorf("no broker logged that it resigned a leadership it could not commit")
	}
}
