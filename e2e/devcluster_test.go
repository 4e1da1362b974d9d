package e2e

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestDevBrokers runs "strata dev --brokers 3" as a user trying failover
// would: SIGKILL one of its child brokers (by the pid it logged), and the
// partition that broker led moves to another broker; producing and
// consuming to the end with the strata CLI go on; strata dev starts the
// killed broker again.
func TestDevBrokers(t *testing.T) {
	const topic = "dev3"
	srv := StartDev(t, t.TempDir(), "--brokers", "3")
	if len(srv.Brokers) != 3 {
		t.Fatalf("ready line lists brokers %v, want 3", srv.Brokers)
	}
	resp, err := admin(t, srv.Kafka).CreateTopic(ctxFor(t, 20*time.Second), 3, -1, nil, topic) // the default factor, 3
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}
	prod := client(t, srv.Kafka, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produce := func(from, n int) {
		t.Helper()
		var recs []*kgo.Record
		for i := from; i < from+n; i++ {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i % 3), Value: []byte(fmt.Sprintf("v%d", i))})
		}
		produceAcked(t, prod, recs)
	}
	consumeCount := func() int {
		t.Helper()
		r := Run(t, time.Minute, Env(), "consume", topic, "--brokers", strings.Join(srv.Brokers, ","), "--from-beginning")
		if r.Code != 0 || r.TimedOut {
			t.Fatalf("strata consume: exit %d (timed out: %v): %s", r.Code, r.TimedOut, r.Stderr)
		}
		return strings.Count(r.Stdout, "\n")
	}
	produce(0, 300)
	if n := consumeCount(); n != 300 {
		t.Fatalf("consumed %d records, want 300", n)
	}

	m := regexp.MustCompile(`msg="started broker" broker=1 pid=(\d+)`).FindStringSubmatch(srv.Stderr())
	if m == nil {
		t.Fatalf("strata dev logged no pid for broker 1:\n%s", srv.Stderr())
	}
	pid, _ := strconv.Atoi(m[1])
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	for {
		l, _, err := leaders(ctxFor(t, 5*time.Second), []string{srv.Kafka}, topic)
		if err == nil && l[1] >= 0 && l[1] != 1 {
			t.Logf("partition 1 moved from broker 1 to broker %d %s after the SIGKILL", l[1], time.Since(killed).Round(time.Millisecond))
			break
		}
		if time.Since(killed) > 20*time.Second {
			t.Fatalf("partition 1 still led by broker 1 %s after it was killed: %v %v", time.Since(killed), l, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Partition 1's log now ends with the new leader's first entry, a
	// control batch: consuming to the end must still end.
	if n := consumeCount(); n != 300 {
		t.Fatalf("consumed %d records after the failover, want 300", n)
	}
	produce(300, 300)
	if n := consumeCount(); n != 600 {
		t.Fatalf("consumed %d records after the failover, want 600", n)
	}
	for deadline := time.Now().Add(30 * time.Second); strings.Count(srv.Stderr(), `msg="started broker" broker=1 `) < 2; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("strata dev did not start broker 1 again:\n%s", srv.Stderr())
		}
	}
	if !strings.Contains(srv.Stderr(), `exit="signal killed"`) {
		t.Errorf("strata dev did not log how broker 1 exited")
	}
}
