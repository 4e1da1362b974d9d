package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ---- latency histogram ----

// histogram is a log-bucketed latency histogram in the spirit of HDR
// histograms: values below 2^histSubBits ns are kept exactly, larger ones in
// buckets whose width is 1/64 of their value, so a reported percentile is
// at most ~1.6% above the true sample (and never outside [min, max]).
type histogram struct {
	counts   []uint64
	n        uint64
	min, max int64
	sum      float64
}

const (
	histSubBits = 7
	histSub     = 1 << histSubBits // exact values below this
	histHalf    = histSub / 2      // buckets per power of two above it
	histBuckets = histSub + (63-histSubBits)*histHalf
)

func newHistogram() *histogram { return &histogram{counts: make([]uint64, histBuckets)} }

func histIndex(v int64) int {
	if v < histSub {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - histSubBits
	mant := int(v >> shift) // in [histHalf, histSub)
	return histSub + (shift-1)*histHalf + mant - histHalf
}

// histUpper is the largest value that falls in bucket i.
func histUpper(i int) int64 {
	if i < histSub {
		return int64(i)
	}
	k := i - histSub
	shift := k/histHalf + 1
	mant := int64(k%histHalf + histHalf)
	return (mant+1)<<shift - 1
}

// Record adds one latency; negative values count as zero.
func (h *histogram) Record(d time.Duration) {
	v := max(int64(d), 0)
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.counts[histIndex(v)]++
	h.n++
	h.sum += float64(v)
}

// Count is how many values were recorded.
func (h *histogram) Count() uint64 { return h.n }

// Quantile returns the nearest-rank q-quantile (0 < q <= 1): the smallest
// recorded value such that at least q of all values are <= it, up to the
// bucket precision.
func (h *histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(max(histUpper(i), h.min), h.max))
		}
	}
	return time.Duration(h.max)
}

// Mean is the exact average of the recorded values.
func (h *histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}

// ---- bench core ----

// benchConfig is what a benchmark run needs; Client holds the connection
// options (seed brokers etc.).
type benchConfig struct {
	Client        []kgo.Opt
	Topic         string
	Partitions    int32 // used when the topic has to be created
	RecordSize    int
	Duration      time.Duration
	Rate          int // records/s, 0 = as fast as possible (produce)
	Acks          string
	Compression   string
	Idempotent    bool
	BatchMaxBytes int32 // 0 = franz-go's default
	FromBeginning bool  // consume: read existing records too
	Timeout       time.Duration
}

func (c benchConfig) validate() error {
	switch {
	case c.Topic == "":
		return errors.New("--topic is empty")
	case c.Partitions < 1:
		return fmt.Errorf("invalid --partitions %d: must be at least 1", c.Partitions)
	case c.RecordSize < 0:
		return fmt.Errorf("invalid --record-size %d", c.RecordSize)
	case c.Duration <= 0:
		return fmt.Errorf("invalid --duration %s: must be positive", c.Duration)
	case c.Rate < 0:
		return fmt.Errorf("invalid --rate %d: must be 0 (unlimited) or more", c.Rate)
	case c.BatchMaxBytes < 0:
		return fmt.Errorf("invalid --batch-max-bytes %d", c.BatchMaxBytes)
	}
	return nil
}

// latencySummary is in milliseconds.
type latencySummary struct {
	Count uint64  `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p99_9_ms"`
	Max   float64 `json:"max_ms"`
}

func summarize(h *histogram) latencySummary {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return latencySummary{
		Count: h.Count(),
		Mean:  ms(h.Mean()),
		P50:   ms(h.Quantile(0.50)),
		P99:   ms(h.Quantile(0.99)),
		P999:  ms(h.Quantile(0.999)),
		Max:   ms(time.Duration(h.max)),
	}
}

// benchResult is the outcome of one run.
type benchResult struct {
	Mode          string         `json:"mode"`
	Topic         string         `json:"topic"`
	Records       int64          `json:"records"`
	Bytes         int64          `json:"bytes"`
	Errors        int64          `json:"errors"`
	Seconds       float64        `json:"seconds"`
	RecordsPerSec float64        `json:"records_per_sec"`
	MBPerSec      float64        `json:"mb_per_sec"`
	LatencyKind   string         `json:"latency_kind"`
	Latency       latencySummary `json:"latency"`
	FirstError    string         `json:"first_error,omitempty"`
}

func (r *benchResult) finish(elapsed time.Duration) {
	r.Seconds = elapsed.Seconds()
	if r.Seconds > 0 {
		r.RecordsPerSec = float64(r.Records) / r.Seconds
		r.MBPerSec = float64(r.Bytes) / 1e6 / r.Seconds
	}
}

// ensureBenchTopic creates the topic with cfg.Partitions if it is missing.
func ensureBenchTopic(ctx context.Context, cl *kgo.Client, cfg benchConfig) error {
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, cfg.Partitions, -1, nil, cfg.Topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create topic %q: %s", cfg.Topic, kafkaErrString(err, resp.ErrMessage))
	}
	return nil
}

// benchValue is a record value of the given size: random letters, so
// compression has something to do but cannot make it vanish.
func benchValue(size int) []byte {
	v := make([]byte, size)
	for i := range v {
		v[i] = 'a' + byte(rand.IntN(26))
	}
	return v
}

// benchBufferBytes bounds the records waiting in the client during
// "bench produce".
const benchBufferBytes = 8 << 20

// runBenchProduce produces records of cfg.RecordSize for cfg.Duration (at
// cfg.Rate if set) and measures per-record latency from the Produce call to
// its acknowledgement.
func runBenchProduce(ctx context.Context, cfg benchConfig) (benchResult, error) {
	res := benchResult{Mode: "produce", Topic: cfg.Topic, LatencyKind: "produce call to acknowledgement"}
	if err := cfg.validate(); err != nil {
		return res, err
	}
	ps := producerSettings{acks: cfg.Acks, compression: cfg.Compression, idempotent: cfg.Idempotent}
	popts, err := ps.opts()
	if err != nil {
		return res, err
	}
	opts := append(append([]kgo.Opt{}, cfg.Client...), popts...)
	// A bounded buffer keeps a saturated run from queueing minutes of
	// records that would all have to drain after --duration.
	opts = append(opts, kgo.DefaultProduceTopic(cfg.Topic), kgo.MaxBufferedBytes(benchBufferBytes))
	if cfg.BatchMaxBytes > 0 {
		opts = append(opts, kgo.ProducerBatchMaxBytes(cfg.BatchMaxBytes))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return res, err
	}
	defer cl.Close()
	if err := ensureBenchTopic(ctx, cl, cfg); err != nil {
		return res, err
	}

	value := benchValue(cfg.RecordSize)
	hist := newHistogram()
	var mu sync.Mutex
	var firstErr error
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	var sent int64
	for ctx.Err() == nil {
		now := time.Now()
		if !now.Before(deadline) {
			break
		}
		if cfg.Rate > 0 {
			due := start.Add(time.Duration(float64(sent) / float64(cfg.Rate) * float64(time.Second)))
			if wait := due.Sub(now); wait > 0 {
				select {
				case <-time.After(min(wait, deadline.Sub(now))):
				case <-ctx.Done():
				}
				continue
			}
		}
		t0 := time.Now()
		cl.Produce(ctx, &kgo.Record{Topic: cfg.Topic, Value: value}, func(r *kgo.Record, err error) {
			lat := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.Errors++
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			res.Records++
			res.Bytes += int64(len(r.Value) + len(r.Key))
			hist.Record(lat)
		})
		sent++
	}
	flushCtx, cancel := context.WithTimeout(context.Background(), cfg.Timeout+5*time.Second)
	defer cancel()
	ferr := cl.Flush(flushCtx)
	elapsed := time.Since(start)

	mu.Lock()
	defer mu.Unlock()
	res.finish(elapsed)
	res.Latency = summarize(hist)
	if firstErr != nil {
		res.FirstError = kafkaErrString(firstErr, "")
	}
	if ferr != nil {
		return res, fmt.Errorf("flush: records still unacknowledged after %s", cfg.Timeout+5*time.Second)
	}
	if res.Records == 0 && res.Errors > 0 {
		return res, fmt.Errorf("every record failed; first error: %s", res.FirstError)
	}
	return res, nil
}

// runBenchConsume consumes cfg.Topic for cfg.Duration and measures
// end-to-end latency from each record's timestamp to its receipt. Run it
// alongside "bench produce" (without FromBeginning) for meaningful latency.
func runBenchConsume(ctx context.Context, cfg benchConfig) (benchResult, error) {
	res := benchResult{Mode: "consume", Topic: cfg.Topic, LatencyKind: "record timestamp to receipt"}
	if err := cfg.validate(); err != nil {
		return res, err
	}
	reset := kgo.NewOffset().AtEnd()
	if cfg.FromBeginning {
		reset = kgo.NewOffset().AtStart()
	}
	opts := append(append([]kgo.Opt{}, cfg.Client...),
		kgo.ConsumeTopics(cfg.Topic), kgo.ConsumeResetOffset(reset))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return res, err
	}
	defer cl.Close()
	if err := ensureBenchTopic(ctx, cl, cfg); err != nil {
		return res, err
	}

	hist := newHistogram()
	start := time.Now()
	runCtx, cancel := context.WithDeadline(ctx, start.Add(cfg.Duration))
	defer cancel()
	for {
		fetches := cl.PollFetches(runCtx)
		now := time.Now()
		fetches.EachError(func(_ string, _ int32, err error) {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return
			}
			res.Errors++
			if res.FirstError == "" {
				res.FirstError = kafkaErrString(err, "")
			}
		})
		fetches.EachRecord(func(r *kgo.Record) {
			res.Records++
			res.Bytes += int64(len(r.Value) + len(r.Key))
			hist.Record(now.Sub(r.Timestamp))
		})
		if runCtx.Err() != nil {
			break
		}
	}
	res.finish(time.Since(start))
	res.Latency = summarize(hist)
	return res, nil
}

// writeBenchResult prints res for people, or as one JSON object.
func writeBenchResult(w io.Writer, res benchResult, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		return enc.Encode(res)
	}
	fmt.Fprintf(w, "%s %s: %d records, %.2f MB in %.2fs, %d errors\n",
		res.Mode, res.Topic, res.Records, float64(res.Bytes)/1e6, res.Seconds, res.Errors)
	fmt.Fprintf(w, "throughput: %.1f records/s, %.2f MB/s\n", res.RecordsPerSec, res.MBPerSec)
	l := res.Latency
	if l.Count == 0 {
		fmt.Fprintf(w, "latency (%s): no samples\n", res.LatencyKind)
	} else {
		fmt.Fprintf(w, "latency (%s): p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max %.3f ms, mean %.3f ms\n",
			res.LatencyKind, l.P50, l.P99, l.P999, l.Max, l.Mean)
	}
	if res.FirstError != "" {
		fmt.Fprintf(w, "first error: %s\n", res.FirstError)
	}
	return nil
}

// ---- commands ----

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure produce and consume throughput and latency",
		Long: `Load-test a cluster with franz-go.

"bench produce" writes records as fast as possible (or at --rate) for
--duration, waits for the ones still in flight, and reports records/s, MB/s
(1 MB = 10^6 bytes) and the latency from each Produce call to its
acknowledgement (p50/p99/p99.9). As fast as possible saturates the producer,
so that latency includes waiting in the client's buffer (up to 8 MB); use
--rate to measure latency at a given load.

"bench consume" reads for --duration and reports records/s, MB/s and the
end-to-end latency from each record's timestamp to its receipt; run it next to
"bench produce" on the same topic to measure end-to-end latency.

"bench tiering" starts a Strata of its own and measures tiering and replay
from the object store (see "strata bench tiering --help").

Only run it against brokers you own.`,
		Example: `  strata bench produce --topic bench --partitions 6 --duration 30s
  strata bench produce --topic bench --rate 5000 --acks 1 --compression zstd --json
  strata bench consume --topic bench --duration 30s &  strata bench produce --topic bench --duration 30s`,
	}
	cmd.AddCommand(newBenchModeCmd("produce"), newBenchModeCmd("consume"), newBenchTieringCmd())
	cmd.AddCommand(newBenchSQLCmd())
	return cmd
}

func newBenchModeCmd(mode string) *cobra.Command {
	var (
		cfg    benchConfig
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:  mode,
		Args: cobra.NoArgs,
	}
	if mode == "produce" {
		cmd.Short = "Produce records for a while and report throughput and produce latency"
		cmd.Example = `  strata bench produce --topic bench --partitions 6 --record-size 1024 --duration 30s
  strata bench produce --topic bench --rate 10000 --acks all --compression lz4 --json`
	} else {
		cmd.Short = "Consume records for a while and report throughput and end-to-end latency"
		cmd.Example = `  strata bench consume --topic bench --duration 30s
  strata bench consume --topic bench --from-beginning --duration 10s --json`
	}
	cf := addClientFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&cfg.Topic, "topic", "strata-bench", "topic to use (created if missing)")
	f.Int32Var(&cfg.Partitions, "partitions", 3, "partitions when creating the topic")
	f.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to run")
	f.BoolVar(&asJSON, "json", false, "print the result as one JSON object")
	if mode == "produce" {
		f.IntVar(&cfg.RecordSize, "record-size", 1024, "value size of each record in bytes")
		f.IntVar(&cfg.Rate, "rate", 0, "records per second (0 = as fast as possible)")
		f.StringVar(&cfg.Acks, "acks", "all", "acknowledgements: all, 1 or 0")
		f.StringVar(&cfg.Compression, "compression", "none", "batch compression: none, gzip, snappy, lz4 or zstd")
		f.BoolVar(&cfg.Idempotent, "idempotent", true, "idempotent producer (turned off automatically for acks other than all)")
		f.Int32Var(&cfg.BatchMaxBytes, "batch-max-bytes", 0, "largest record batch in bytes (0 = franz-go default, 1 MB)")
	} else {
		f.BoolVar(&cfg.FromBeginning, "from-beginning", false, "also read the records already in the topic")
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		copts, err := cf.kgoOpts()
		if err != nil {
			return err
		}
		cfg.Client = copts
		cfg.Timeout = cf.timeout
		if mode == "produce" && cfg.Acks != "all" && cmd.Flags().Changed("idempotent") && cfg.Idempotent {
			return fmt.Errorf("--idempotent needs --acks all (got --acks %s)", cfg.Acks)
		}
		ctx, cancel := commandContext(cmd)
		defer cancel()
		var res benchResult
		if mode == "produce" {
			res, err = runBenchProduce(ctx, cfg)
		} else {
			res, err = runBenchConsume(ctx, cfg)
		}
		if err != nil && res.Seconds == 0 {
			return cf.wrap("bench "+mode+" on topic "+fmt.Sprintf("%q", cfg.Topic), err)
		}
		if werr := writeBenchResult(cmd.OutOrStdout(), res, asJSON); werr != nil {
			return werr
		}
		if err != nil {
			return fmt.Errorf("bench %s on topic %q: %w", mode, cfg.Topic, err)
		}
		return nil
	}
	return cmd
}
