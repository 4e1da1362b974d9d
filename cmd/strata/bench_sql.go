package main

// "strata bench sql": pull queries of the SQL engine over millions of JSON
// events, read from the WAL (hot) and from the object store (cold).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/bits"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strata-log/strata/meta"
)

// sqlBenchTopic is the topic (and stream) the benchmark queries.
const sqlBenchTopic = "authorization_attempts"

// sqlBenchQueries are the measured statements: the seed's fraud query and
// a hopping-window aggregate.
var sqlBenchQueries = []struct{ name, sql string }{
	{"fraud", "SELECT card_number, count(*) FROM authorization_attempts WINDOW TUMBLING (SIZE 5 MINUTE) GROUP BY card_number HAVING count(*) > 3;"},
	{"hopping", "SELECT merchant, WINDOWSTART AS ws, COUNT(*) AS n, SUM(amount) AS total FROM authorization_attempts WINDOW HOPPING (SIZE 10 MINUTES, ADVANCE BY 5 MINUTES) GROUP BY merchant;"},
}

// sqlBenchBaseMs is the timestamp of the first event: 2026-01-01T00:00:00Z.
const sqlBenchBaseMs = 1767225600000

// sqlBenchGen makes the benchmark's events. Event i depends only on the
// seed and i, so producers make their share independently and a test can
// recompute what the queries must answer.
type sqlBenchGen struct {
	seed      uint64
	events    int64
	cards     int
	merchants int
	spanMs    int64
}

// sqlBenchEvent is one authorization attempt.
type sqlBenchEvent struct {
	card, merchant int
	cents          int64 // amount in cents: 0.00 to 999.99
	ts             int64 // record timestamp, ms
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// event returns event i (0 <= i < events). Timestamps grow with i, evenly
// over the span.
func (g *sqlBenchGen) event(i int64) sqlBenchEvent {
	h1 := splitmix64(splitmix64(g.seed) + uint64(i))
	h2 := splitmix64(h1)
	hi, lo := bits.Mul64(uint64(i), uint64(g.spanMs))
	off, _ := bits.Div64(hi, lo, uint64(g.events)) // i < events: no overflow
	return sqlBenchEvent{
		card:     int(h1 % uint64(g.cards)),
		merchant: int(h2 % uint64(g.merchants)),
		cents:    int64((h2 >> 32) % 100000),
		ts:       sqlBenchBaseMs + int64(off),
	}
}

// cardNumber is the card_number of card c: 16 digits.
func cardNumber(c int) string { return strconv.FormatInt(4000000000000000+int64(c), 10) }

// merchantName is the merchant of merchant m.
func merchantName(m int) string { return "merchant-" + strconv.Itoa(m) }

// appendValue appends e as the record value:
// {"card_number":"4000000000000042","amount":12.34,"merchant":"merchant-7"}.
func (e sqlBenchEvent) appendValue(dst []byte) []byte {
	dst = append(dst, `{"card_number":"`...)
	dst = strconv.AppendInt(dst, 4000000000000000+int64(e.card), 10)
	dst = append(dst, `","amount":`...)
	dst = strconv.AppendInt(dst, e.cents/100, 10)
	dst = append(dst, '.', byte('0'+e.cents%100/10), byte('0'+e.cents%10))
	dst = append(dst, `,"merchant":"merchant-`...)
	dst = strconv.AppendInt(dst, int64(e.merchant), 10)
	return append(dst, `"}`...)
}

// sqlBench configures "strata bench sql".
type sqlBench struct {
	events       int64
	cards        int
	merchants    int
	span         time.Duration
	partitions   int32
	producers    int
	seed         uint64
	phases       []string
	queryTimeout time.Duration
	dataDir      string
	asJSON       bool
	server       serverFlags
}

func (sb *sqlBench) gen() *sqlBenchGen {
	return &sqlBenchGen{seed: sb.seed, events: sb.events, cards: sb.cards, merchants: sb.merchants, spanMs: sb.span.Milliseconds()}
}

// sqlQueryResult is one query in one phase.
type sqlQueryResult struct {
	Phase        string  `json:"phase"` // hot, cold or cold-json
	Query        string  `json:"query"` // fraud or hopping
	SQL          string  `json:"sql"`
	Events       int64   `json:"events"`
	Seconds      float64 `json:"seconds"`
	EventsPerSec float64 `json:"eventsPerSec"`
	ResultRows   int     `json:"resultRows"`
	// Object-store reads during the query (cold phase): ranged GETs, and
	// blocks the read cache missed.
	RangeGets   float64 `json:"rangeGets"`
	CacheMisses float64 `json:"cacheMisses"`

	columns []sqlColumn
	rows    [][]json.RawMessage
}

type sqlBenchResult struct {
	Events              int64            `json:"events"`
	ProducedMB          float64          `json:"producedMB"` // record values, 10^6 bytes
	ProduceSeconds      float64          `json:"produceSeconds"`
	ProduceEventsPerSec float64          `json:"produceEventsPerSec"`
	TieringSeconds      float64          `json:"tieringSeconds,omitempty"`
	Objects             int              `json:"objects,omitempty"`  // objects the topic's manifests name
	StoredMB            float64          `json:"storedMB,omitempty"` // their bytes of this topic
	Queries             []sqlQueryResult `json:"queries"`
	// PhasesAgree is set when several phases ran: whether each query
	// gave the same rows in every phase (sums to 1e-9 relative).
	PhasesAgree *bool          `json:"phasesAgree,omitempty"`
	Settings    map[string]any `json:"settings"`
}

func newBenchSQLCmd() *cobra.Command {
	var sb sqlBench
	cmd := &cobra.Command{
		Use:   "sql",
		Short: "Measure SQL pull queries over the WAL and over the object store on an in-process Strata",
		Long: `Start a Strata of its own (embedded etcd, one broker with its SQL engine, the
local-directory object store or the S3 bucket given with --s3-*), then:

 1. create the topic authorization_attempts with --partitions and the stream
      authorization_attempts (card_number STRING, amount DOUBLE, merchant STRING)
    over it (JSON values), and produce --events events with several
    producers: --cards distinct card numbers, --merchants merchants, amounts
    of 0.00 to 999.99, record timestamps spread evenly over --span from
    2026-01-01T00:00:00Z. The events are a function of --seed alone;
 2. hot: while every event is still only in the WAL (the topic has a large
    segment.ms and segment.bytes and the broker a large tier-object-bytes),
    run the two pull queries below;
 3. cold: restart the broker, lower segment.ms and segment.bytes, wait until
    the manifests cover every event, and run the same queries, which now read
    only the object store, each on a freshly restarted broker (an empty read
    cache). Tiering wrote the stream's typed columns beside the segments
    (docs/format/columns.md), and the queries read them;
 4. cold-json: the same again, with the typed columns ignored
    (SET 'strata.scan.typed.columns'='false'): the scans decode the JSON
    values the segments hold.

The queries, sent to POST /sql as any client would:

  fraud:   SELECT card_number, count(*) FROM authorization_attempts
           WINDOW TUMBLING (SIZE 5 MINUTE) GROUP BY card_number HAVING count(*) > 3;
  hopping: SELECT merchant, WINDOWSTART AS ws, COUNT(*) AS n, SUM(amount) AS total
           FROM authorization_attempts
           WINDOW HOPPING (SIZE 10 MINUTES, ADVANCE BY 5 MINUTES) GROUP BY merchant;

Each reports events/s (events scanned over the query's wall time, from the
request to the last row) and its result rows; the answers of every phase
must agree. The benchmark is single-node, and with the local-directory
object store cold reads come from files the OS may still cache.

DuckDB over the same Parquet objects is measured by the e2e benchmark
BenchmarkSQLvsDuckDB (go test ./e2e -run '^$' -bench SQLvsDuckDB -benchtime 1x -v).`,
		Example: `  strata bench sql
  strata bench sql --events 1000000 --cards 10000 --json
  strata bench sql --phases cold --s3-endpoint http://127.0.0.1:9000 --s3-bucket bench`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := sb.validate(cmd); err != nil {
				return err
			}
			ctx, cancel := commandContext(cmd)
			defer cancel()
			res, err := runSQLBench(ctx, cmd.ErrOrStderr(), &sb)
			if err != nil {
				return err
			}
			return writeSQLBench(cmd.OutOrStdout(), res, sb.asJSON)
		},
	}
	f := cmd.Flags()
	f.Int64Var(&sb.events, "events", 10_000_000, "events to produce and query")
	f.IntVar(&sb.cards, "cards", 100_000, "distinct card numbers")
	f.IntVar(&sb.merchants, "merchants", 100, "distinct merchants")
	f.DurationVar(&sb.span, "span", 24*time.Hour, "event time the events' timestamps spread over")
	f.Int32Var(&sb.partitions, "partitions", 6, "partitions of the topic")
	f.IntVar(&sb.producers, "producers", 4, "concurrent producer clients")
	f.Uint64Var(&sb.seed, "seed", 1, "seed of the event generator (the same seed makes the same events)")
	f.StringSliceVar(&sb.phases, "phases", slices.Clone(sqlBenchPhases), "phases to run: hot, cold, cold-json, or several")
	f.DurationVar(&sb.queryTimeout, "query-timeout", 30*time.Minute, "longest a query may run")
	f.StringVar(&sb.dataDir, "data-dir", "", "directory for the benchmark's etcd, WAL and objects (default: a temporary directory, removed afterwards)")
	f.BoolVar(&sb.asJSON, "json", false, "print the result as one JSON object")
	sb.server.objects.register(cmd, true)
	f.Int64Var(&sb.server.tier.cacheMemory, "cache-memory-bytes", 256<<20, "read cache memory of the broker (cold phase)")
	f.BoolVar(&sb.server.tier.typedColumns, "tier-typed-columns", true, "write typed columns beside the segments (false: the cold phase decodes the JSON values too, and tiering does not decode them)")
	return cmd
}

// sqlBenchPhases are the phases of the benchmark, in the order they run.
var sqlBenchPhases = []string{"hot", "cold", "cold-json"}

// sqlBenchSegmentBytes is the topic's segment.bytes while it must stay in
// the WAL: the largest the config takes.
const sqlBenchSegmentBytes = math.MaxInt32

func (sb *sqlBench) validate(cmd *cobra.Command) error {
	switch {
	case sb.events < 1:
		return fmt.Errorf("%s %d: must be at least 1", flagRef(cmd, "events"), sb.events)
	case sb.cards < 1 || sb.cards > 1e12:
		return fmt.Errorf("%s %d: must be between 1 and 10^12", flagRef(cmd, "cards"), sb.cards)
	case sb.merchants < 1:
		return fmt.Errorf("%s %d: must be at least 1", flagRef(cmd, "merchants"), sb.merchants)
	case sb.span < time.Millisecond:
		return fmt.Errorf("%s %s: must be at least 1ms", flagRef(cmd, "span"), sb.span)
	case sb.partitions < 1:
		return fmt.Errorf("%s %d: must be at least 1", flagRef(cmd, "partitions"), sb.partitions)
	case sb.producers < 1 || sb.producers > 64:
		return fmt.Errorf("%s %d: must be between 1 and 64", flagRef(cmd, "producers"), sb.producers)
	case sb.queryTimeout <= 0:
		return fmt.Errorf("%s %s: must be positive", flagRef(cmd, "query-timeout"), sb.queryTimeout)
	case sb.server.tier.cacheMemory < 0:
		return fmt.Errorf("%s %d: must not be negative", flagRef(cmd, "cache-memory-bytes"), sb.server.tier.cacheMemory)
	}
	if len(sb.phases) == 0 {
		return fmt.Errorf("%s: name one or more of %s", flagRef(cmd, "phases"), strings.Join(sqlBenchPhases, ", "))
	}
	seen := map[string]bool{}
	for i, p := range sb.phases {
		p = strings.ToLower(strings.TrimSpace(p))
		if !slices.Contains(sqlBenchPhases, p) {
			return fmt.Errorf("%s %q: want one or more of %s (comma-separated)", flagRef(cmd, "phases"), sb.phases[i], strings.Join(sqlBenchPhases, ", "))
		}
		if seen[p] {
			return fmt.Errorf("%s: %s given twice", flagRef(cmd, "phases"), p)
		}
		seen[p] = true
		sb.phases[i] = p
	}
	return sb.server.objects.validate(cmd)
}

func (sb *sqlBench) runs(phase string) bool { return slices.Contains(sb.phases, phase) }

// serverFlags returns the settings of the benchmark's broker: the defaults
// of "strata dev", quieter logs, and the benchmark's object store and
// cache. hot keeps everything in the WAL: tiering seals only what a
// topic's segment.ms or segment.bytes make due, never because of the
// total untiered bytes.
func (sb *sqlBench) serverFlags(dir string, hot bool) (*serverFlags, error) {
	f := &serverFlags{}
	defaults := &cobra.Command{}
	f.register(defaults, true)
	if err := defaults.ParseFlags(nil); err != nil {
		return nil, err
	}
	f.id, f.dataDir, f.kafkaAddr, f.httpAddr = 0, dir, "127.0.0.1:0", ""
	f.logLevel = "warn"
	f.objects = sb.server.objects
	f.tier.cacheMemory, f.tier.typedColumns = sb.server.tier.cacheMemory, sb.server.tier.typedColumns
	if hot {
		f.tier.objectBytes = 1 << 50
	}
	return f, nil
}

// sqlBenchServer is the benchmark's Strata with its SQL engine serving
// POST /sql.
type sqlBenchServer struct {
	*benchServer
	http *http.Server
	sql  *sqlClient
}

func startSQLBenchServer(ctx context.Context, f *serverFlags, log *slog.Logger) (*sqlBenchServer, error) {
	b, err := startBenchServer(ctx, f, log)
	if err != nil {
		return nil, err
	}
	s := &sqlBenchServer{benchServer: b}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.close()
		return nil, err
	}
	s.http = &http.Server{Handler: httpHandler(b.s.broker, b.s.reg, b.s.sql), ReadHeaderTimeout: 10 * time.Second}
	go s.http.Serve(ln)
	if s.sql, err = newSQLClient(&cobra.Command{}, "http://"+ln.Addr().String(), 30*time.Second); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *sqlBenchServer) close() {
	if s == nil {
		return // a restart that failed
	}
	if s.http != nil {
		s.http.Close()
	}
	s.benchServer.close()
}

// sqlCollector keeps the rows of one answer.
type sqlCollector struct {
	columns []sqlColumn
	rows    [][]json.RawMessage
}

func (c *sqlCollector) header(h *sqlHeader) error { c.columns = h.Columns; return nil }
func (c *sqlCollector) row(vals []json.RawMessage, _ bool) error {
	c.rows = append(c.rows, vals)
	return nil
}
func (c *sqlCollector) done() error                               { return nil }
func (c *sqlCollector) status(*sqlStatus, []byte) error           { return nil }
func (c *sqlCollector) serverError(*sqlServerError, []byte) error { return nil }

// exec runs one statement with props and returns its answer.
func (s *sqlBenchServer) exec(ctx context.Context, stmt string, props map[string]string) (*sqlCollector, error) {
	resp, err := s.sql.post(ctx, stmt, props)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	c := &sqlCollector{}
	if err := readSQLResponse(resp.Body, c); err != nil {
		return nil, fmt.Errorf("%s: %w", stmt, err)
	}
	return c, nil
}

func runSQLBench(ctx context.Context, logOut io.Writer, sb *sqlBench) (sqlBenchResult, error) {
	res := sqlBenchResult{Events: sb.events, Settings: map[string]any{
		"events": sb.events, "cards": sb.cards, "merchants": sb.merchants, "span": sb.span.String(),
		"partitions": sb.partitions, "producers": sb.producers, "seed": sb.seed, "phases": sb.phases,
		"cacheMemoryBytes": sb.server.tier.cacheMemory,
	}}
	dir := sb.dataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "strata-bench-sql-")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	hotFlags, err := sb.serverFlags(dir, true)
	if err != nil {
		return res, err
	}
	coldFlags, err := sb.serverFlags(dir, false)
	if err != nil {
		return res, err
	}
	log := hotFlags.logger(logOut)
	srv, err := startSQLBenchServer(ctx, hotFlags, log)
	if err != nil {
		return res, err
	}
	defer func() { srv.close() }()

	// 1. The topic, kept in the WAL; the stream; the events.
	adm, err := newBenchAdmin(srv.addr)
	if err != nil {
		return res, err
	}
	defer func() {
		if adm != nil {
			adm.Close()
		}
	}()
	// restart starts the broker again with the cold settings: an empty
	// read cache.
	restart := func() error {
		srv.close()
		if srv, err = startSQLBenchServer(ctx, coldFlags, log); err != nil {
			return err
		}
		adm.Close()
		adm, err = newBenchAdmin(srv.addr)
		return err
	}
	segMs, segBytes := fmt.Sprint(int64(30*24*time.Hour/time.Millisecond)), fmt.Sprint(sqlBenchSegmentBytes)
	cr, err := adm.CreateTopic(ctx, sb.partitions, 1, map[string]*string{meta.ConfigSegmentMs: &segMs, meta.ConfigSegmentBytes: &segBytes}, sqlBenchTopic)
	if err == nil {
		err = cr.Err
	}
	if err != nil {
		return res, fmt.Errorf("create topic %s: %w", sqlBenchTopic, err)
	}
	if _, err := srv.exec(ctx, `CREATE STREAM authorization_attempts (card_number STRING, amount DOUBLE, merchant STRING)
		WITH (KAFKA_TOPIC='authorization_attempts', VALUE_FORMAT='JSON');`, nil); err != nil {
		return res, err
	}
	fmt.Fprintf(logOut, "producing %d events with %d producers...\n", sb.events, sb.producers)
	bytes, took, err := produceSQLBenchEvents(ctx, srv.addr, sb.gen(), sb.producers)
	if err != nil {
		return res, err
	}
	res.ProducedMB = float64(bytes) / 1e6
	res.ProduceSeconds = took.Seconds()
	res.ProduceEventsPerSec = float64(sb.events) / took.Seconds()
	topicID, ends, err := sqlBenchOffsets(ctx, adm, sb.events)
	if err != nil {
		return res, err
	}

	var hot []sqlQueryResult
	if sb.runs("hot") {
		tiered, err := tieredEvents(ctx, srv.store, topicID)
		if err != nil {
			return res, err
		}
		if tiered > 0 {
			return res, fmt.Errorf("%d of %d events were tiered before the hot phase (a partition above segment.bytes %d?): use more --partitions", tiered, sb.events, int64(sqlBenchSegmentBytes))
		}
		fmt.Fprintln(logOut, "hot queries (the WAL)...")
		if hot, err = runSQLBenchQueries(ctx, srv, "hot", sb); err != nil {
			return res, err
		}
		res.Queries = append(res.Queries, hot...)
	}
	if !sb.runs("cold") && !sb.runs("cold-json") {
		return res, nil
	}

	// 2. Tier everything with ordinary settings, then restart for an empty
	// read cache.
	if err := restart(); err != nil {
		return res, err
	}
	fmt.Fprintln(logOut, "tiering...")
	start := time.Now()
	one, small := "1000", "1024" // sealed every round; segments never small enough to merge
	alter := []kadm.AlterConfig{{Name: meta.ConfigSegmentMs, Value: &one}, {Name: meta.ConfigSegmentBytes, Value: &small}}
	if _, _, err := sqlBenchOffsets(ctx, adm, sb.events); err != nil { // the restarted broker leads again
		return res, err
	}
	ar, err := adm.AlterTopicConfigs(ctx, alter, sqlBenchTopic)
	if err == nil {
		for _, r := range ar {
			if r.Err != nil {
				err = fmt.Errorf("%w: %s", r.Err, r.ErrMessage)
			}
		}
	}
	if err != nil {
		return res, fmt.Errorf("alter the configs of %s: %w", sqlBenchTopic, err)
	}
	for {
		ms, err := srv.store.Manifests(ctx)
		if err != nil {
			return res, err
		}
		covered := map[int32]int64{}
		objects := map[string]bool{}
		var stored int64
		for _, m := range ms {
			if m.TopicID != topicID {
				continue
			}
			covered[m.Partition] = m.EndOffset()
			for _, r := range m.Segments {
				objects[r.Object] = true
				stored += r.Bytes
			}
		}
		behind := 0
		for p, e := range ends {
			if covered[p] < e {
				behind++
			}
		}
		if behind == 0 {
			res.Objects, res.StoredMB = len(objects), float64(stored)/1e6
			break
		}
		if ctx.Err() != nil || time.Since(start) > 30*time.Minute {
			return res, fmt.Errorf("tiering did not catch up within 30 minutes (%d partitions behind)", behind)
		}
		time.Sleep(100 * time.Millisecond)
	}
	res.TieringSeconds = time.Since(start).Seconds()

	// 3. Each cold query on a restarted broker (an empty read cache), over
	// the typed columns and over the JSON values.
	for _, phase := range []string{"cold", "cold-json"} {
		if !sb.runs(phase) {
			continue
		}
		var props map[string]string
		if phase == "cold-json" {
			props = map[string]string{"strata.scan.typed.columns": "false"}
		}
		for _, q := range sqlBenchQueries {
			if err := restart(); err != nil {
				return res, err
			}
			if _, _, err := sqlBenchOffsets(ctx, adm, sb.events); err != nil {
				return res, err
			}
			fmt.Fprintf(logOut, "%s %s query (the object store, empty read cache)...\n", phase, q.name)
			r, err := runSQLBenchQuery(ctx, srv, phase, q.name, q.sql, props, sb)
			if err != nil {
				return res, err
			}
			res.Queries = append(res.Queries, r)
		}
	}
	// Every phase must give the first's answers.
	if len(res.Queries) == len(sqlBenchQueries) {
		return res, nil
	}
	agree := true
	for _, r := range res.Queries[len(sqlBenchQueries):] {
		first := res.Queries[slices.IndexFunc(res.Queries, func(f sqlQueryResult) bool { return f.Query == r.Query })]
		if d := diffSQLAnswers(first, r); d != "" {
			agree = false
			fmt.Fprintf(logOut, "%s: the %s and %s answers differ: %s\n", r.Query, first.Phase, r.Phase, d)
		}
	}
	res.PhasesAgree = &agree
	if !agree {
		return res, errors.New("the phases' answers differ")
	}
	return res, nil
}

// sqlBenchOffsets waits (up to a minute, while a restarted broker takes
// its partitions back) until the topic's end offsets add up to events,
// and returns its id and end offsets.
func sqlBenchOffsets(ctx context.Context, adm *kadm.Client, events int64) ([16]byte, map[int32]int64, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		var id [16]byte
		ends := map[int32]int64{}
		var sum int64
		td, err := adm.ListTopics(ctx, sqlBenchTopic)
		if err == nil {
			err = td.Error()
		}
		var lo kadm.ListedOffsets
		if err == nil {
			id = td[sqlBenchTopic].ID
			lo, err = adm.ListEndOffsets(ctx, sqlBenchTopic)
		}
		if err == nil {
			err = lo.Error()
		}
		if err == nil {
			lo.Each(func(o kadm.ListedOffset) {
				ends[o.Partition] = o.Offset
				sum += o.Offset
			})
			if sum == events {
				return id, ends, nil
			}
			err = fmt.Errorf("its end offsets add up to %d, not %d events", sum, events)
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return id, nil, fmt.Errorf("topic %s: %w", sqlBenchTopic, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// tieredEvents counts the records of the topic its manifests cover.
func tieredEvents(ctx context.Context, store *meta.Store, topicID [16]byte) (int64, error) {
	ms, err := store.Manifests(ctx)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, m := range ms {
		if m.TopicID == topicID {
			n += m.EndOffset() - m.LogStart
		}
	}
	return n, nil
}

// produceSQLBenchEvents produces every event of g with producers clients,
// producer k taking the events k, k+producers, …, so that all of them move
// through event time together. It returns the value bytes produced and how
// long it took.
func produceSQLBenchEvents(ctx context.Context, addr string, g *sqlBenchGen, producers int) (int64, time.Duration, error) {
	var failed atomic.Pointer[error]
	var total atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for k := range producers {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(sqlBenchTopic),
			kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerBatchCompression(kgo.NoCompression()),
			kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(1<<20), kgo.MaxBufferedBytes(64<<20))
		if err != nil {
			return 0, 0, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cl.Close()
			var slab []byte
			var n int64
			fail := func(_ *kgo.Record, err error) {
				if err != nil {
					failed.CompareAndSwap(nil, &err)
				}
			}
			for i := int64(k); i < g.events && ctx.Err() == nil && failed.Load() == nil; i += int64(producers) {
				e := g.event(i)
				// Values are cut from slabs: the client keeps each until
				// its batch is acknowledged.
				if cap(slab)-len(slab) < 128 {
					slab = make([]byte, 0, 1<<20)
				}
				from := len(slab)
				slab = e.appendValue(slab)
				v := slab[from:len(slab):len(slab)]
				n += int64(len(v))
				cl.Produce(ctx, &kgo.Record{Value: v, Timestamp: time.UnixMilli(e.ts)}, fail)
			}
			if err := cl.Flush(ctx); err != nil {
				failed.CompareAndSwap(nil, &err)
			}
			total.Add(n)
		}()
	}
	wg.Wait()
	if p := failed.Load(); p != nil {
		return 0, 0, fmt.Errorf("produce: %w", *p)
	}
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	return total.Load(), time.Since(start), nil
}

// runSQLBenchQueries runs each query once and measures it.
func runSQLBenchQueries(ctx context.Context, srv *sqlBenchServer, phase string, sb *sqlBench) ([]sqlQueryResult, error) {
	var out []sqlQueryResult
	for _, q := range sqlBenchQueries {
		r, err := runSQLBenchQuery(ctx, srv, phase, q.name, q.sql, nil, sb)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// runSQLBenchQuery runs a query with props and measures it.
func runSQLBenchQuery(ctx context.Context, srv *sqlBenchServer, phase, name, stmt string, props map[string]string, sb *sqlBench) (sqlQueryResult, error) {
	gets, misses := srv.metric("strata_bucket_operations_total", "operation", "get_range"), srv.metric("strata_cache_misses_total")
	qctx, cancel := context.WithTimeout(ctx, sb.queryTimeout)
	defer cancel()
	start := time.Now()
	c, err := srv.exec(qctx, stmt, props)
	took := time.Since(start)
	if err != nil {
		if qctx.Err() != nil && ctx.Err() == nil {
			return sqlQueryResult{}, fmt.Errorf("%s query (%s): no answer within --query-timeout %s", name, phase, sb.queryTimeout)
		}
		return sqlQueryResult{}, fmt.Errorf("%s query (%s): %w", name, phase, err)
	}
	r := sqlQueryResult{Phase: phase, Query: name, SQL: stmt, Events: sb.events, Seconds: took.Seconds(),
		ResultRows: len(c.rows), columns: c.columns, rows: c.rows,
		RangeGets:   srv.metric("strata_bucket_operations_total", "operation", "get_range") - gets,
		CacheMisses: srv.metric("strata_cache_misses_total") - misses}
	r.EventsPerSec = float64(r.Events) / r.Seconds
	return r, nil
}

// diffSQLAnswers compares two answers as multisets of rows: DOUBLE columns
// to 1e-9 relative (sums may add in another order), the others exactly.
// It returns "" when they agree.
func diffSQLAnswers(a, b sqlQueryResult) string {
	if len(a.rows) != len(b.rows) {
		return fmt.Sprintf("%d rows vs %d", len(a.rows), len(b.rows))
	}
	type entry struct {
		key string
		num []float64
	}
	index := func(r sqlQueryResult) []entry {
		out := make([]entry, len(r.rows))
		for i, row := range r.rows {
			var key []string
			for j, v := range row {
				if j < len(r.columns) && baseType(r.columns[j].Type) == "DOUBLE" {
					f, _ := strconv.ParseFloat(string(v), 64)
					out[i].num = append(out[i].num, f)
					continue
				}
				key = append(key, string(v))
			}
			out[i].key = strings.Join(key, "\x00")
		}
		slices.SortFunc(out, func(x, y entry) int {
			if c := strings.Compare(x.key, y.key); c != 0 {
				return c
			}
			return slices.Compare(x.num, y.num)
		})
		return out
	}
	ea, eb := index(a), index(b)
	for i := range ea {
		if ea[i].key != eb[i].key || len(ea[i].num) != len(eb[i].num) {
			return fmt.Sprintf("row %q vs %q", ea[i].key, eb[i].key)
		}
		for j, x := range ea[i].num {
			y := eb[i].num[j]
			if math.Abs(x-y) > 1e-9*max(math.Abs(x), math.Abs(y), 1) {
				return fmt.Sprintf("row %q: %v vs %v", ea[i].key, x, y)
			}
		}
	}
	return ""
}

func writeSQLBench(w io.Writer, r sqlBenchResult, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(r)
	}
	fmt.Fprintf(w, "produce (acks=all):  %d events, %.1f MB of JSON values in %.2fs = %.0f events/s\n",
		r.Events, r.ProducedMB, r.ProduceSeconds, r.ProduceEventsPerSec)
	if r.TieringSeconds > 0 {
		fmt.Fprintf(w, "tiering:             %.2fs until the manifests covered every event: %d objects, %.1f MB stored\n",
			r.TieringSeconds, r.Objects, r.StoredMB)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "phase\tquery\tevents\tseconds\tevents/s\tresult rows\tranged GETs\tcache misses")
	for _, q := range r.Queries {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.2f\t%.0f\t%d\t%.0f\t%.0f\n", q.Phase, q.Query, q.Events, q.Seconds, q.EventsPerSec, q.ResultRows, q.RangeGets, q.CacheMisses)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.PhasesAgree != nil {
		if *r.PhasesAgree {
			fmt.Fprintln(w, "\nthe phases' answers agree")
		} else {
			fmt.Fprintln(w, "\nthe phases' answers DIFFER")
		}
	}
	return nil
}
