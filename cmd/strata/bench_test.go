package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

func TestHistogramExactSmallValues(t *testing.T) {
	h := newHistogram()
	// 1..100 ns in shuffled order: values below 128 are kept exactly.
	for i := 0; i < 100; i++ {
		h.Record(time.Duration((i*37)%100 + 1))
	}
	for q, want := range map[float64]time.Duration{
		0.01: 1, 0.5: 50, 0.9: 90, 0.99: 99, 0.999: 100, 1: 100, 0: 1,
	} {
		if got := h.Quantile(q); got != want {
			t.Errorf("Quantile(%v) = %d, want %d", q, got, want)
		}
	}
	if h.Count() != 100 || h.Mean() != 50 { // 50.5 truncated
		t.Errorf("count %d mean %d", h.Count(), h.Mean())
	}
}

func TestHistogramNearestRank(t *testing.T) {
	// 1000 samples: 990 at 10ns, 9 at 20ns, 1 at 120ns.
	h := newHistogram()
	for i := 0; i < 990; i++ {
		h.Record(10)
	}
	for i := 0; i < 9; i++ {
		h.Record(20)
	}
	h.Record(120)
	if p50, p99, p999, max := h.Quantile(0.5), h.Quantile(0.99), h.Quantile(0.999), h.Quantile(1); p50 != 10 || p99 != 10 || p999 != 20 || max != 120 {
		t.Errorf("p50 %d p99 %d p99.9 %d max %d; want 10 10 20 120", p50, p99, p999, max)
	}
}

func TestHistogramClampsToMinMax(t *testing.T) {
	// A single repeated large value is reported exactly, not as its bucket's
	// upper edge.
	h := newHistogram()
	for i := 0; i < 10; i++ {
		h.Record(5 * time.Millisecond)
	}
	for _, q := range []float64{0.5, 0.99, 0.999} {
		if got := h.Quantile(q); got != 5*time.Millisecond {
			t.Errorf("Quantile(%v) = %s, want 5ms", q, got)
		}
	}
	h.Record(-time.Second) // clock skew: counts as 0
	if h.Quantile(0.01) != 0 || h.Count() != 11 {
		t.Errorf("negative sample: p1 %s count %d", h.Quantile(0.01), h.Count())
	}
}

func TestHistogramPrecision(t *testing.T) {
	// 1µs..1000µs: every percentile is within 1/64 above the exact one.
	h := newHistogram()
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	for q, exact := range map[float64]time.Duration{0.5: 500 * time.Microsecond, 0.99: 990 * time.Microsecond, 0.999: 999 * time.Microsecond} {
		got := h.Quantile(q)
		if got < exact || float64(got-exact) > float64(exact)/64 {
			t.Errorf("Quantile(%v) = %s, exact %s", q, got, exact)
		}
	}
	if h.Quantile(1) != time.Millisecond {
		t.Errorf("max = %s", h.Quantile(1))
	}
}

func TestHistogramBuckets(t *testing.T) {
	prev := -1
	for _, v := range []int64{0, 1, 127, 128, 129, 255, 256, 1000, 1 << 20, 123456789, 1 << 40, math.MaxInt64} {
		i := histIndex(v)
		if i < prev || i >= histBuckets {
			t.Fatalf("histIndex(%d) = %d (prev %d, buckets %d)", v, i, prev, histBuckets)
		}
		prev = i
		up := histUpper(i)
		if up < v || (v >= histSub && float64(up-v) > float64(v)/64) {
			t.Errorf("value %d: bucket %d upper %d", v, i, up)
		}
		if i > 0 && histUpper(i-1) >= v {
			t.Errorf("value %d also fits bucket %d", v, i-1)
		}
	}
	// Consecutive buckets tile the number line.
	for i := 1; i < histBuckets; i++ {
		if histIndex(histUpper(i-1)+1) != i {
			t.Fatalf("bucket %d does not start right after bucket %d", i, i-1)
		}
	}
	if h := newHistogram(); h.Quantile(0.5) != 0 || h.Mean() != 0 {
		t.Error("empty histogram should report 0")
	}
}

func TestBenchConfigValidate(t *testing.T) {
	ok := benchConfig{Topic: "b", Partitions: 1, RecordSize: 10, Duration: time.Second}
	if err := ok.validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mut func(*benchConfig)
		err string
	}{
		{func(c *benchConfig) { c.Topic = "" }, "--topic is empty"},
		{func(c *benchConfig) { c.Partitions = 0 }, "invalid --partitions 0"},
		{func(c *benchConfig) { c.RecordSize = -1 }, "invalid --record-size -1"},
		{func(c *benchConfig) { c.Duration = 0 }, "invalid --duration 0s"},
		{func(c *benchConfig) { c.Rate = -3 }, "invalid --rate -3"},
		{func(c *benchConfig) { c.BatchMaxBytes = -1 }, "invalid --batch-max-bytes -1"},
	} {
		c := ok
		tc.mut(&c)
		if err := c.validate(); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("error = %v, want %q", err, tc.err)
		}
		// The bench functions check too, before any network traffic.
		if _, err := runBenchProduce(context.Background(), c); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("runBenchProduce error = %v, want %q", err, tc.err)
		}
		if _, err := runBenchConsume(context.Background(), c); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("runBenchConsume error = %v, want %q", err, tc.err)
		}
	}
	c := ok
	c.Acks = "2"
	if _, err := runBenchProduce(context.Background(), c); err == nil || !strings.Contains(err.Error(), `invalid --acks "2"`) {
		t.Errorf("bad acks: %v", err)
	}
}

func TestBenchValue(t *testing.T) {
	v := benchValue(1024)
	if len(v) != 1024 {
		t.Fatalf("len %d", len(v))
	}
	for _, b := range v {
		if b < 'a' || b > 'z' {
			t.Fatalf("byte %q", b)
		}
	}
	if len(benchValue(0)) != 0 {
		t.Error("size 0")
	}
}

func TestWriteBenchResult(t *testing.T) {
	h := newHistogram()
	for i := 1; i <= 100; i++ {
		h.Record(time.Duration(i) * 10 * time.Microsecond)
	}
	res := benchResult{Mode: "produce", Topic: "bench", Records: 20000, Bytes: 20_480_000, LatencyKind: "produce call to acknowledgement", Latency: summarize(h)}
	res.finish(2 * time.Second)
	if res.RecordsPerSec != 10000 || res.MBPerSec != 10.24 {
		t.Errorf("rates: %v records/s, %v MB/s", res.RecordsPerSec, res.MBPerSec)
	}
	var buf bytes.Buffer
	if err := writeBenchResult(&buf, res, false); err != nil {
		t.Fatal(err)
	}
	want := `produce bench: 20000 records, 20.48 MB in 2.00s, 0 errors
throughput: 10000.0 records/s, 10.24 MB/s
latency (produce call to acknowledgement): p50 0.504 ms, p99 0.991 ms, p99.9 1.000 ms, max 1.000 ms, mean 0.505 ms
`
	if buf.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", buf.String(), want)
	}

	buf.Reset()
	if err := writeBenchResult(&buf, res, true); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, buf.String())
	}
	lat := back["latency"].(map[string]any)
	if back["records"].(float64) != 20000 || back["mb_per_sec"].(float64) != 10.24 || lat["p99_9_ms"].(float64) != 1 || lat["count"].(float64) != 100 {
		t.Errorf("JSON: %s", buf.String())
	}

	buf.Reset()
	empty := benchResult{Mode: "consume", Topic: "b", LatencyKind: "record timestamp to receipt", FirstError: "boom"}
	_ = writeBenchResult(&buf, empty, false)
	if !strings.Contains(buf.String(), "latency (record timestamp to receipt): no samples\n") || !strings.HasSuffix(buf.String(), "first error: boom\n") {
		t.Errorf("empty result:\n%s", buf.String())
	}
}

func TestBenchFlagErrors(t *testing.T) {
	clearStrataEnv(t)
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"bench", "produce", "--acks", "1", "--idempotent"}, "--idempotent needs --acks all"},
		{[]string{"bench", "produce", "--duration", "0s"}, "invalid --duration 0s"},
		{[]string{"bench", "produce", "--compression", "rar"}, `invalid --compression "rar"`},
		{[]string{"bench", "consume", "--partitions", "0"}, "invalid --partitions 0"},
		{[]string{"bench", "consume", "--brokers", "nohost"}, `invalid --brokers address "nohost"`},
	} {
		_, _, err := runCLI(t, "", tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%v: error = %v, want containing %q", tc.args, err, tc.err)
		}
	}
}

func TestBenchTiering(t *testing.T) {
	clearStrataEnv(t)
	stdout, _, err := runCLI(t, "", "bench", "tiering", "--bytes", "3000000", "--partitions", "2", "--hot-rate", "200",
		"--segment-ms", "200ms", "--data-dir", t.TempDir(), "--json")
	if err != nil {
		t.Fatal(err)
	}
	var res tierBenchResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("%v in %q", err, stdout)
	}
	if res.ProducedMB < 3 || res.SealedMB < res.ProducedMB || res.Objects < 1 || res.PUTsPerGiB <= 0 || res.StoredPerProduced <= 0 {
		t.Fatalf("produce and tiering figures: %+v", res)
	}
	for name, r := range map[string]replayResult{"empty cache": res.ColdEmptyCache, "warm cache": res.ColdWarmCache} {
		if r.Records != int64(math.Ceil(3e6/1024)) || r.MBPerSec <= 0 {
			t.Errorf("replay with %s: %+v", name, r)
		}
	}
	if res.ColdEmptyCache.CacheMisses == 0 {
		t.Errorf("the first replay missed the cache nowhere: was it read from the WAL? %+v", res.ColdEmptyCache)
	}
	if res.HotTail.Records == 0 {
		t.Errorf("the hot tail consumer read nothing: %+v", res.HotTail)
	}
	for _, args := range [][]string{{"--bytes", "10"}, {"--partitions", "0"}, {"--hot-rate", "-1"}} {
		if _, _, err := runCLI(t, "", append([]string{"bench", "tiering"}, args...)...); err == nil || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("bench tiering %v: error %v, want one naming %s", args, err, args[0])
		}
	}
}
