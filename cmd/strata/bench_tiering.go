package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strata-log/strata/meta"
)

// tierBench configures "strata bench tiering".
type tierBench struct {
	bytes      int64
	partitions int32
	recordSize int
	hotRate    int
	dataDir    string
	asJSON     bool
	server     serverFlags
}

// replayResult is one backfill of the cold topic.
type replayResult struct {
	Records     int64   `json:"records"`
	MB          float64 `json:"mb"`
	Seconds     float64 `json:"seconds"`
	MBPerSec    float64 `json:"mbPerSec"`
	RangeGets   float64 `json:"rangeGets"`
	CacheHits   float64 `json:"cacheHits"`
	CacheMisses float64 `json:"cacheMisses"`
}

type tierBenchResult struct {
	ProducedMB         float64        `json:"producedMB"`
	ProduceMBPerSec    float64        `json:"produceMBPerSec"`
	SealedMB           float64        `json:"sealedMB"`
	TieringSeconds     float64        `json:"tieringSeconds"` // from the end of produce until everything was tiered
	TieringBusySeconds float64        `json:"tieringBusySeconds"`
	TieringMBPerCore   float64        `json:"tieringMBPerSecPerCore"`
	Objects            float64        `json:"objectsUploaded"`
	PUTsPerGiB         float64        `json:"putsPerGiB"`
	StoredPerProduced  float64        `json:"storedPerProduced"`
	ColdEmptyCache     replayResult   `json:"coldEmptyCache"`
	ColdWarmCache      replayResult   `json:"coldWarmCache"`
	HotTail            benchResult    `json:"hotTail"`
	Settings           map[string]any `json:"settings"`
}

func newBenchTieringCmd() *cobra.Command {
	var tb tierBench
	cmd := &cobra.Command{
		Use:   "tiering",
		Short: "Measure tiering and cold replay on an in-process Strata",
		Long: `Start a Strata of its own (embedded etcd, one broker, the local-directory
object store or the S3 bucket given with --s3-*), then:

 1. produce --bytes to a topic as fast as possible (acks=all) and wait until
    all of it is tiered: produce MB/s, tiering MB/s per core (sealed bytes
    over the time the tiering loop was busy), objects uploaded, PUTs per GiB
    produced and bytes stored per byte produced;
 2. restart the broker, so that its read cache is empty, and replay the
    topic from offset 0, all of it from the object store: MB/s with an empty
    cache, then again with a warm one;
 3. all through the replays, produce to a second topic at --hot-rate and
    consume its tail: the hot tail's throughput and end-to-end latency next
    to the backfill.

MB are 10^6 bytes of record keys and values.`,
		Example: `  strata bench tiering
  strata bench tiering --bytes 2000000000 --partitions 12 --cache-memory-bytes 4294967296
  strata bench tiering --s3-endpoint http://127.0.0.1:9000 --s3-bucket bench --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := tb.validate(cmd); err != nil {
				return err
			}
			ctx, cancel := commandContext(cmd)
			defer cancel()
			res, err := runTierBench(ctx, cmd.ErrOrStderr(), &tb)
			if err != nil {
				return err
			}
			return writeTierBench(cmd.OutOrStdout(), res, tb.asJSON)
		},
	}
	f := cmd.Flags()
	f.Int64Var(&tb.bytes, "bytes", 512e6, "bytes of record values to produce and replay")
	f.Int32Var(&tb.partitions, "partitions", 6, "partitions of the benchmark topics")
	f.IntVar(&tb.recordSize, "record-size", 1024, "value size of each record in bytes")
	f.IntVar(&tb.hotRate, "hot-rate", 2000, "records per second produced to the hot topic during the replays")
	f.StringVar(&tb.dataDir, "data-dir", "", "directory for the benchmark's etcd, WAL and objects (default: a temporary directory, removed afterwards)")
	f.BoolVar(&tb.asJSON, "json", false, "print the result as one JSON object")
	tb.server.objects.register(cmd, true)
	f.Int64Var(&tb.server.tier.cacheMemory, "cache-memory-bytes", 1<<30, "read cache memory (the warm replay is warm if the topic fits)")
	f.DurationVar(&tb.server.tier.segmentMs, "segment-ms", time.Second, "segment.ms of the benchmark topics")
	return cmd
}

func (tb *tierBench) validate(cmd *cobra.Command) error {
	switch {
	case tb.bytes < 1e6:
		return fmt.Errorf("%s %d: must be at least 1000000", flagRef(cmd, "bytes"), tb.bytes)
	case tb.partitions < 1:
		return fmt.Errorf("%s %d: must be at least 1", flagRef(cmd, "partitions"), tb.partitions)
	case tb.recordSize < 1:
		return fmt.Errorf("%s %d: must be at least 1", flagRef(cmd, "record-size"), tb.recordSize)
	case tb.hotRate < 0:
		return fmt.Errorf("%s %d: must not be negative", flagRef(cmd, "hot-rate"), tb.hotRate)
	}
	return tb.server.objects.validate(cmd)
}

// serverFlags returns the settings of the benchmark's broker: the
// defaults of "strata dev", small WAL segments (so that tiered data leaves
// the WAL quickly), quieter logs, and the benchmark's own flags.
func (tb *tierBench) serverFlags(dir string) (*serverFlags, error) {
	f := &serverFlags{}
	defaults := &cobra.Command{}
	f.register(defaults, true)
	if err := defaults.ParseFlags(nil); err != nil {
		return nil, err
	}
	f.id, f.dataDir, f.kafkaAddr, f.httpAddr = 0, dir, "127.0.0.1:0", ""
	f.walSegmentBytes, f.logLevel = 4<<20, "warn"
	f.objects = tb.server.objects
	f.tier.segmentMs, f.tier.cacheMemory = tb.server.tier.segmentMs, tb.server.tier.cacheMemory
	return f, nil
}

// benchServer is the benchmark's Strata: embedded etcd and one server.
type benchServer struct {
	etcd  *meta.Embedded
	store *meta.Store
	s     *server
	addr  string
}

func startBenchServer(ctx context.Context, f *serverFlags, log *slog.Logger) (*benchServer, error) {
	etcd, err := meta.StartEmbedded(meta.EmbedConfig{Dir: filepath.Join(f.dataDir, "etcd"), ClientURL: "http://127.0.0.1:0", Logger: log})
	if err != nil {
		return nil, fmt.Errorf("embedded etcd: %w", err)
	}
	cli, err := etcd.Client()
	if err != nil {
		etcd.Close()
		return nil, err
	}
	store := meta.NewStore(cli, "")
	s, err := startServer(ctx, f, log, store)
	if err != nil {
		etcd.Close()
		return nil, err
	}
	go s.broker.Serve()
	return &benchServer{etcd: etcd, store: store, s: s, addr: s.broker.Addr().String()}, nil
}

func (b *benchServer) close() {
	b.s.close()
	// The etcd client goes before etcd: one left open keeps streams that
	// make etcd's shutdown wait 7s.
	b.store.Client().Close()
	b.etcd.Close()
}

// metric sums the samples of a counter or gauge in the server's registry
// whose labels include those given.
func (b *benchServer) metric(name string, labels ...string) float64 {
	return gatherSum(b.s.reg, name, labels...)
}

func gatherSum(reg prometheus.Gatherer, name string, labels ...string) float64 {
	families, err := reg.Gather()
	if err != nil {
		return 0
	}
	var sum float64
	for _, fam := range families {
		if fam.GetName() != name {
			continue
		}
	next:
		for _, m := range fam.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

func runTierBench(ctx context.Context, logOut io.Writer, tb *tierBench) (tierBenchResult, error) {
	res := tierBenchResult{Settings: map[string]any{
		"bytes": tb.bytes, "partitions": tb.partitions, "recordSize": tb.recordSize, "hotRate": tb.hotRate,
		"cacheMemoryBytes": tb.server.tier.cacheMemory, "segmentMs": tb.server.tier.segmentMs.String(),
	}}
	dir := tb.dataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "strata-bench-tiering-")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	f, err := tb.serverFlags(dir)
	if err != nil {
		return res, err
	}
	log := f.logger(logOut)
	srv, err := startBenchServer(ctx, f, log)
	if err != nil {
		return res, err
	}
	defer func() { srv.close() }()

	adm, err := newBenchAdmin(srv.addr)
	if err != nil {
		return res, err
	}
	for _, topic := range []string{"bench-cold", "bench-hot"} {
		segMs := fmt.Sprint(tb.server.tier.segmentMs.Milliseconds())
		resp, err := adm.CreateTopic(ctx, tb.partitions, 1, map[string]*string{meta.ConfigSegmentMs: &segMs}, topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			adm.Close()
			return res, fmt.Errorf("create %s: %w", topic, err)
		}
	}
	adm.Close()

	// 1. Produce, then wait until everything is tiered.
	fmt.Fprintf(logOut, "producing %d bytes...\n", tb.bytes)
	records, took, err := produceBytes(ctx, srv.addr, "bench-cold", tb.bytes, tb.recordSize)
	if err != nil {
		return res, err
	}
	produced := float64(records) * float64(tb.recordSize)
	res.ProducedMB = produced / 1e6
	res.ProduceMBPerSec = res.ProducedMB / took.Seconds()
	start := time.Now()
	for srv.metric("strata_tiering_sealed_bytes_total") < srv.metric("strata_produced_bytes_total") {
		if ctx.Err() != nil || time.Since(start) > 10*time.Minute {
			return res, errors.New("tiering did not catch up within 10 minutes")
		}
		time.Sleep(50 * time.Millisecond)
	}
	res.TieringSeconds = time.Since(start).Seconds()
	res.SealedMB = srv.metric("strata_tiering_sealed_bytes_total") / 1e6
	res.TieringBusySeconds = srv.metric("strata_tiering_busy_seconds_total")
	if res.TieringBusySeconds > 0 {
		res.TieringMBPerCore = res.SealedMB / res.TieringBusySeconds
	}
	res.Objects = srv.metric("strata_bucket_operations_total", "operation", "upload")
	res.PUTsPerGiB = res.Objects / (produced / (1 << 30))
	ms, err := srv.store.Manifests(ctx)
	if err != nil {
		return res, err
	}
	var stored int64
	for _, m := range ms {
		for _, r := range m.Segments {
			stored += r.Bytes
		}
	}
	res.StoredPerProduced = float64(stored) / srv.metric("strata_produced_bytes_total")

	// 2. Restart with an empty cache; replay twice while the hot tail runs.
	srv.close()
	if srv, err = startBenchServer(ctx, f, log); err != nil {
		return res, err
	}
	hotCtx, stopHot := context.WithCancel(ctx)
	var hot sync.WaitGroup
	var hotErr error
	hot.Add(2)
	go func() {
		defer hot.Done()
		cfg := benchConfig{Client: []kgo.Opt{kgo.SeedBrokers(srv.addr)}, Topic: "bench-hot", Partitions: tb.partitions,
			RecordSize: tb.recordSize, Duration: 24 * time.Hour, Rate: tb.hotRate, Acks: "all", Idempotent: true, Timeout: 10 * time.Second}
		if tb.hotRate > 0 {
			if _, err := runBenchProduce(hotCtx, cfg); err != nil && hotCtx.Err() == nil {
				hotErr = err
			}
		}
	}()
	go func() {
		defer hot.Done()
		cfg := benchConfig{Client: []kgo.Opt{kgo.SeedBrokers(srv.addr)}, Topic: "bench-hot", Partitions: tb.partitions,
			RecordSize: tb.recordSize, Duration: 24 * time.Hour, Timeout: 10 * time.Second}
		res.HotTail, _ = runBenchConsume(hotCtx, cfg)
	}()
	for i, r := range []*replayResult{&res.ColdEmptyCache, &res.ColdWarmCache} {
		fmt.Fprintf(logOut, "replay %d of 2...\n", i+1)
		gets, hits, misses := srv.metric("strata_bucket_operations_total", "operation", "get_range"), srv.metric("strata_cache_hits_total"), srv.metric("strata_cache_misses_total")
		if *r, err = replayTopic(ctx, srv.addr, "bench-cold", records); err != nil {
			stopHot()
			hot.Wait()
			return res, err
		}
		r.RangeGets = srv.metric("strata_bucket_operations_total", "operation", "get_range") - gets
		r.CacheHits = srv.metric("strata_cache_hits_total") - hits
		r.CacheMisses = srv.metric("strata_cache_misses_total") - misses
	}
	stopHot()
	hot.Wait()
	if hotErr != nil {
		return res, fmt.Errorf("hot topic producer: %w", hotErr)
	}
	return res, nil
}

func newBenchAdmin(addr string) (*kadm.Client, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return nil, err
	}
	return kadm.NewClient(cl), nil
}

// produceBytes produces records of size bytes to topic until total bytes
// of values are acknowledged, and returns how many records and how long.
func produceBytes(ctx context.Context, addr, topic string, total int64, size int) (int64, time.Duration, error) {
	// Uncompressed batches of distinct random-letter values: what is
	// sealed and stored is what was produced, not a codec's best case.
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DefaultProduceTopic(topic),
		kgo.MaxBufferedBytes(benchBufferBytes), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		return 0, 0, err
	}
	defer cl.Close()
	values := make([][]byte, 1024)
	for i := range values {
		values[i] = benchValue(size)
	}
	n := (total + int64(size) - 1) / int64(size)
	var failed atomic.Pointer[error]
	start := time.Now()
	for i := int64(0); i < n && ctx.Err() == nil && failed.Load() == nil; i++ {
		cl.Produce(ctx, &kgo.Record{Value: values[i%int64(len(values))]}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.CompareAndSwap(nil, &err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return 0, 0, err
	}
	if p := failed.Load(); p != nil {
		return 0, 0, fmt.Errorf("produce: %w", *p)
	}
	return n, time.Since(start), ctx.Err()
}

// replayTopic consumes topic from offset 0 until it has read records
// records.
func replayTopic(ctx context.Context, addr, topic string, records int64) (replayResult, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(64<<20))
	if err != nil {
		return replayResult{}, err
	}
	defer cl.Close()
	var r replayResult
	var bytes int64
	start := time.Now()
	for r.Records < records {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return r, fmt.Errorf("replay %s: %w", topic, ferr)
		}
		fs.EachRecord(func(rec *kgo.Record) {
			r.Records++
			bytes += int64(len(rec.Key) + len(rec.Value))
		})
	}
	r.Seconds = time.Since(start).Seconds()
	r.MB = float64(bytes) / 1e6
	r.MBPerSec = r.MB / r.Seconds
	return r, nil
}

func writeTierBench(w io.Writer, r tierBenchResult, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(r)
	}
	fmt.Fprintf(w, "produce (acks=all):         %.1f MB at %.1f MB/s\n", r.ProducedMB, r.ProduceMBPerSec)
	fmt.Fprintf(w, "tiering:                    %.1f MB sealed; caught up %.2fs after produce; loop busy %.2fs: %.1f MB/s per core\n",
		r.SealedMB, r.TieringSeconds, r.TieringBusySeconds, r.TieringMBPerCore)
	fmt.Fprintf(w, "object store:               %.0f uploads (sealing and merging), %.1f PUTs per GiB produced, %.3f bytes stored per byte produced\n",
		r.Objects, r.PUTsPerGiB, r.StoredPerProduced)
	for _, c := range []struct {
		name string
		r    replayResult
	}{{"replay from cold, empty cache", r.ColdEmptyCache}, {"replay from cold, warm cache ", r.ColdWarmCache}} {
		fmt.Fprintf(w, "%s: %.1f MB in %.2fs = %.1f MB/s (%.0f ranged GETs, cache %.0f hits / %.0f misses)\n",
			c.name, c.r.MB, c.r.Seconds, c.r.MBPerSec, c.r.RangeGets, c.r.CacheHits, c.r.CacheMisses)
	}
	h := r.HotTail
	fmt.Fprintf(w, "hot tail during the replays: %.2f MB/s, end-to-end latency p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms (%d records)\n",
		h.MBPerSec, h.Latency.P50, h.Latency.P99, h.Latency.P999, h.Records)
	return nil
}
