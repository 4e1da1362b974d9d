package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Environment variables of BenchmarkCompareReplicated (they also apply to
// the Strata part of TestCompareHarness).
const (
	// compareBrokersEnv is the number of Strata brokers: 1 (default) runs
	// "strata dev" with replication factor 1; N > 1 runs
	// "strata dev --brokers N" with replication factor N.
	compareBrokersEnv = "STRATA_COMPARE_BROKERS"
	// compareDurationEnv is the length of each measured phase (default 10s).
	compareDurationEnv = "STRATA_COMPARE_DURATION"
	// compareRateEnv is the fixed rate of the latency phase in values per
	// second (default 5000).
	compareRateEnv = "STRATA_COMPARE_RATE"
)

type compareConfig struct {
	brokers  int
	duration time.Duration
	rate     int
}

func compareConfigFromEnv(t testing.TB) compareConfig {
	t.Helper()
	cfg := compareConfig{brokers: 1, duration: 10 * time.Second, rate: 5000}
	if v := os.Getenv(compareBrokersEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a number of brokers >= 1", compareBrokersEnv, v)
		}
		cfg.brokers = n
	}
	if v := os.Getenv(compareDurationEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("%s=%q: want a positive duration such as 10s", compareDurationEnv, v)
		}
		cfg.duration = d
	}
	if v := os.Getenv(compareRateEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want values per second >= 1", compareRateEnv, v)
		}
		cfg.rate = n
	}
	return cfg
}

// compareStartStrata starts the Strata topology cfg asks for and returns
// it as a compareSystem.
func compareStartStrata(t testing.TB, cfg compareConfig) *strataCompareSystem {
	t.Helper()
	if cfg.brokers == 1 {
		srv := StartDev(t, t.TempDir())
		return &strataCompareSystem{Addr: srv.Kafka, RF: 1, Topology: "dev-1broker-rf1"}
	}
	// The harness logs the stderr of a failed start.
	srv, err := TryStartDev(t, t.TempDir(), "--brokers", strconv.Itoa(cfg.brokers))
	if err != nil {
		t.Fatalf("strata dev --brokers %d (%s=%d): %v", cfg.brokers, compareBrokersEnv, cfg.brokers, err)
	}
	return &strataCompareSystem{Addr: srv.Kafka, RF: int16(cfg.brokers),
		Topology: fmt.Sprintf("dev-%dbrokers-rf%d", cfg.brokers, cfg.brokers)}
}

// compareRow is one system's line of the side-by-side table.
type compareRow struct {
	system     string
	saturation *compareResult
	rate       *compareResult
}

// BenchmarkCompareReplicated measures, with the same workload, a
// three-node NATS JetStream cluster with R3 file-backed streams (one
// stream of 6 subjects, and 6 streams of one subject) and the Strata
// topology $STRATA_COMPARE_BROKERS selects, with acks=all: saturation
// throughput with a bounded number of publishes in flight, then
// publish-to-acknowledgement and end-to-end latency at a fixed rate with a
// consumer running. Values are 1 KiB of random bytes, round-robin over 6
// partitions. Each sub-benchmark runs one measured phase whatever b.N is:
// run it with -benchtime 1x.
//
//	go test ./e2e -run '^$' -bench CompareReplicated -benchtime 1x -v
func BenchmarkCompareReplicated(b *testing.B) {
	cfg := compareConfigFromEnv(b)
	var rows []*compareRow
	run := 0
	bench := func(b *testing.B, sys compareSystem, prefix string) {
		row := &compareRow{system: sys.Name()}
		rows = append(rows, row)
		b.Run(prefix+"/saturation", func(b *testing.B) {
			run++
			ctx, cancel := context.WithTimeout(context.Background(), cfg.duration+5*time.Minute)
			defer cancel()
			res, err := compareRun(ctx, sys, fmt.Sprintf("sat-%d", run), compareWorkload{Duration: cfg.duration, Warmup: 1000})
			if err != nil {
				b.Fatal(err)
			}
			row.saturation = &res
			b.ReportMetric(res.MBPerSec, "MB/s")
			b.ReportMetric(res.MsgsPerSec, "msgs/s")
			// Latency at saturation is mostly waiting for the in-flight
			// window: it is in the log line, not in the metrics.
			b.Logf("%s saturation: %s", sys.Name(), compareDescribe(res))
		})
		b.Run(fmt.Sprintf("%s/rate%d", prefix, cfg.rate), func(b *testing.B) {
			run++
			ctx, cancel := context.WithTimeout(context.Background(), cfg.duration+5*time.Minute)
			defer cancel()
			res, err := compareRun(ctx, sys, fmt.Sprintf("rate-%d", run),
				compareWorkload{Duration: cfg.duration, Rate: cfg.rate, Warmup: 1000, Consume: true})
			if err != nil {
				b.Fatal(err)
			}
			row.rate = &res
			b.ReportMetric(res.MsgsPerSec, "msgs/s")
			b.ReportMetric(compareMs(res.Publish.P50), "p50-ms")
			b.ReportMetric(compareMs(res.Publish.P99), "p99-ms")
			b.ReportMetric(compareMs(res.Publish.P999), "p999-ms")
			b.ReportMetric(compareMs(res.E2E.P50), "e2e-p50-ms")
			b.ReportMetric(compareMs(res.E2E.P99), "e2e-p99-ms")
			b.ReportMetric(compareMs(res.E2E.P999), "e2e-p999-ms")
			b.Logf("%s at %d/s: %s", sys.Name(), cfg.rate, compareDescribe(res))
		})
	}

	b.Run("nats-r3", func(b *testing.B) {
		c := natsStartCluster(b, 3)
		for _, streams := range []int{1, comparePartitions} {
			sys := &natsCompareSystem{Cluster: c, Streams: streams, Replicas: 3}
			bench(b, sys, strings.TrimPrefix(sys.Name(), "nats-r3/"))
		}
		c.Stop()
	})
	b.Run("strata", func(b *testing.B) {
		sys := compareStartStrata(b, cfg)
		bench(b, sys, sys.Topology)
	})
	b.Log("\n" + compareTable(rows, cfg))
}

func compareMs(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func compareDescribe(r compareResult) string {
	s := fmt.Sprintf("%d sent, %d acked, %d errors in %s: %.1f MB/s, %.0f msgs/s; publish→ack p50 %.2f p99 %.2f p99.9 %.2f max %.2f ms",
		r.Sent, r.Acked, r.Errors, r.Elapsed.Round(time.Millisecond), r.MBPerSec, r.MsgsPerSec,
		compareMs(r.Publish.P50), compareMs(r.Publish.P99), compareMs(r.Publish.P999), compareMs(r.Publish.Max))
	if r.Workload.Consume {
		s += fmt.Sprintf("; %d consumed, publish→receipt p50 %.2f p99 %.2f p99.9 %.2f max %.2f ms",
			r.Consumed, compareMs(r.E2E.P50), compareMs(r.E2E.P99), compareMs(r.E2E.P999), compareMs(r.E2E.Max))
	}
	if r.FirstErr != nil {
		s += fmt.Sprintf("; first error: %v", r.FirstErr)
	}
	return s
}

// compareTable is the side-by-side table of rows.
func compareTable(rows []*compareRow, cfg compareConfig) string {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "1 KiB random values over %d partitions, %d in flight; saturation %s; latency at %d/s for %s with a consumer (ms)\n",
		comparePartitions, compareMaxInFlight, cfg.duration, cfg.rate, cfg.duration)
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\tsat MB/s\tsat msgs/s\tp50\tp99\tp99.9\te2e p50\te2e p99\te2e p99.9\terrors\t")
	for _, r := range rows {
		if r.saturation == nil && r.rate == nil {
			continue // filtered out by -bench, skipped or failed
		}
		sat, rate := "-\t-", "-\t-\t-\t-\t-\t-"
		errs := int64(0)
		if s := r.saturation; s != nil {
			sat = fmt.Sprintf("%.1f\t%.0f", s.MBPerSec, s.MsgsPerSec)
			errs += s.Errors
		}
		if l := r.rate; l != nil {
			rate = fmt.Sprintf("%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f",
				compareMs(l.Publish.P50), compareMs(l.Publish.P99), compareMs(l.Publish.P999),
				compareMs(l.E2E.P50), compareMs(l.E2E.P99), compareMs(l.E2E.P999))
			errs += l.Errors
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t\n", r.system, sat, rate, errs)
	}
	tw.Flush()
	buf.WriteString("Strata acknowledges acks=all after an fsync of its WAL; nats-server 2.9 after a quorum holds the message unsynced (it fsyncs every 2 minutes).\n")
	return buf.String()
}

// compareCheck fails t unless res is a clean run: every value
// acknowledged, every acknowledged value consumed, a latency sample each.
func compareCheck(t testing.TB, res compareResult) {
	t.Helper()
	t.Logf("%s: %s", res.System, compareDescribe(res))
	if res.Sent == 0 || res.Acked != res.Sent || res.Errors != 0 {
		t.Errorf("%s: %d sent, %d acknowledged, %d errors (first: %v); want all acknowledged", res.System, res.Sent, res.Acked, res.Errors, res.FirstErr)
	}
	if res.Publish.Count != int(res.Acked) {
		t.Errorf("%s: %d publish latency samples for %d acknowledged values", res.System, res.Publish.Count, res.Acked)
	}
	if res.Workload.Consume && (res.Consumed != res.Acked || res.E2E.Count != int(res.Consumed)) {
		t.Errorf("%s: consumed %d (%d samples) of %d acknowledged values", res.System, res.Consumed, res.E2E.Count, res.Acked)
	}
}

// TestCompareHarness checks the comparison harness quickly: a three-node
// JetStream cluster takes and serves an R3 stream, and the workload runner
// of BenchmarkCompareReplicated works on NATS and on Strata.
func TestCompareHarness(t *testing.T) {
	w := compareWorkload{Duration: 300 * time.Millisecond, Rate: 1000, Warmup: 50, Consume: true}

	t.Run("nats-r3", func(t *testing.T) {
		c := natsStartCluster(t, 3)
		ctx := ctxFor(t, 60*time.Second)
		js, err := jetstream.New(c.Connect(t, "compare-harness"))
		if err != nil {
			t.Fatal(err)
		}
		const stream, n = "HARNESS", 100
		st, err := natsCreateStream(ctx, js, stream, []string{"harness.>"}, 3)
		if err != nil {
			t.Fatal(err)
		}
		var want [][]byte
		for i := range n {
			data := fmt.Appendf(nil, "value-%d", i)
			want = append(want, data)
			ack, err := js.Publish(ctx, fmt.Sprintf("harness.%d", i%comparePartitions), data)
			if err != nil {
				t.Fatalf("publish #%d: %v", i, err)
			}
			if ack.Stream != stream || ack.Sequence != uint64(i+1) {
				t.Fatalf("publish #%d acknowledged as %s/%d, want %s/%d", i, ack.Stream, ack.Sequence, stream, i+1)
			}
		}
		cons, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "harness", AckPolicy: jetstream.AckExplicitPolicy})
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for got < n && ctx.Err() == nil {
			batch, err := cons.Fetch(n-got, jetstream.FetchMaxWait(5*time.Second))
			if err != nil {
				t.Fatalf("fetch: %v", err)
			}
			for m := range batch.Messages() {
				if !bytes.Equal(m.Data(), want[got]) {
					t.Fatalf("message #%d is %q, want %q", got, m.Data(), want[got])
				}
				if err := m.DoubleAck(ctx); err != nil {
					t.Fatalf("ack message #%d: %v", got, err)
				}
				got++
			}
			if err := batch.Error(); err != nil {
				t.Fatalf("fetch: %v", err)
			}
		}
		if got != n {
			t.Fatalf("consumed %d of %d messages", got, n)
		}
		ci, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ci.AckFloor.Stream != n || ci.NumAckPending != 0 || ci.NumPending != 0 {
			t.Errorf("consumer: ack floor %d, %d pending acks, %d pending, want %d, 0, 0", ci.AckFloor.Stream, ci.NumAckPending, ci.NumPending, n)
		}
		info, err := natsWaitStreamCurrent(ctx, st, 3)
		if err != nil {
			t.Fatal(err)
		}
		if info.Config.Replicas != 3 || len(info.Cluster.Replicas) != 2 || info.State.Msgs != n {
			t.Errorf("stream: R%d, leader %s and %d followers, %d messages; want R3, a leader and 2 current followers, %d messages",
				info.Config.Replicas, info.Cluster.Leader, len(info.Cluster.Replicas), info.State.Msgs, n)
		}
		t.Logf("stream %s: leader %s, followers current: %s", stream, info.Cluster.Leader, natsDescribePeers(info))

		for _, streams := range []int{1, comparePartitions} {
			res, err := compareRun(ctx, &natsCompareSystem{Cluster: c, Streams: streams, Replicas: 3}, fmt.Sprintf("harness-%d", streams), w)
			if err != nil {
				t.Fatal(err)
			}
			compareCheck(t, res)
		}
		c.Stop()
	})

	t.Run("strata", func(t *testing.T) {
		sys := compareStartStrata(t, compareConfigFromEnv(t))
		res, err := compareRun(ctxFor(t, 60*time.Second), sys, "harness", w)
		if err != nil {
			t.Fatal(err)
		}
		compareCheck(t, res)
	})
}

func natsDescribePeers(info *jetstream.StreamInfo) string {
	var ps []string
	for _, p := range info.Cluster.Replicas {
		ps = append(ps, fmt.Sprintf("%s=%v", p.Name, p.Current))
	}
	return strings.Join(ps, " ")
}
