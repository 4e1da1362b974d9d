package e2e

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // the "duckdb" database/sql driver
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strata-log/strata/meta"
)

// sqlBenchEventsEnv sets the number of events of BenchmarkSQLvsDuckDB
// (default 1,000,000).
const sqlBenchEventsEnv = "STRATA_SQLBENCH_EVENTS"

// The workload of BenchmarkSQLvsDuckDB, as "strata bench sql --events N
// --cards N/100" makes it with its other flags at their defaults: the same
// events, so the same answers. One card per 100 events keeps the share of
// fraud windows the same at every size (at 10M events: the 100,000 cards
// of the command's defaults).
const (
	sqlBenchTopic      = "authorization_attempts"
	sqlBenchCardEvents = 100 // events per card
	sqlBenchMerchants  = 100
	sqlBenchSpanMs     = 24 * 60 * 60 * 1000
	sqlBenchPartitions = 6
	sqlBenchProducers  = 4
	sqlBenchSeed       = 1
	sqlBenchBaseMs     = 1767225600000 // 2026-01-01T00:00:00Z
)

// sqlBenchCases are the questions asked of Strata (a pull query over the
// stream) and of DuckDB (the same question over the segment objects,
// whose JSON values it parses itself, windows computed from the timestamp
// column as in oracleCases).
var sqlBenchCases = []struct{ name, ksql, duck string }{
	{"fraud",
		"SELECT card_number, count(*) FROM authorization_attempts WINDOW TUMBLING (SIZE 5 MINUTE) GROUP BY card_number HAVING count(*) > 3;",
		`SELECT card_number, count(*) FROM attempts WHERE card_number IS NOT NULL
			GROUP BY card_number, ts // 300000 HAVING count(*) > 3`},
	{"hopping",
		"SELECT merchant, WINDOWSTART AS ws, COUNT(*) AS n, SUM(amount) AS total FROM authorization_attempts WINDOW HOPPING (SIZE 10 MINUTES, ADVANCE BY 5 MINUTES) GROUP BY merchant;",
		`SELECT merchant, ws, count(*), coalesce(sum(amount), 0) FROM (
			SELECT merchant, amount, unnest([(ts // 300000) * 300000, (ts // 300000) * 300000 - 300000]) AS ws
			FROM attempts WHERE merchant IS NOT NULL)
		GROUP BY merchant, ws`},
}

// sqlBenchSplitmix is splitmix64's mixing step.
func sqlBenchSplitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// sqlBenchCards is the number of cards of n events.
func sqlBenchCards(n int64) uint64 { return uint64(max(1, n/sqlBenchCardEvents)) }

// sqlBenchValue returns event i of n as a record value and its timestamp
// (ms): a card of sqlBenchCards(n), a merchant of sqlBenchMerchants, an
// amount of 0.00 to 999.99, timestamps evenly over a day.
func sqlBenchValue(dst []byte, i, n int64) ([]byte, int64) {
	h1 := sqlBenchSplitmix(sqlBenchSplitmix(sqlBenchSeed) + uint64(i))
	h2 := sqlBenchSplitmix(h1)
	hi, lo := bits.Mul64(uint64(i), sqlBenchSpanMs)
	off, _ := bits.Div64(hi, lo, uint64(n))
	cents := int64((h2 >> 32) % 100000)
	dst = append(dst, `{"card_number":"`...)
	dst = strconv.AppendInt(dst, 4000000000000000+int64(h1%sqlBenchCards(n)), 10)
	dst = append(dst, `","amount":`...)
	dst = strconv.AppendInt(dst, cents/100, 10)
	dst = append(dst, '.', byte('0'+cents%100/10), byte('0'+cents%10))
	dst = append(dst, `,"merchant":"merchant-`...)
	dst = strconv.AppendInt(dst, int64(h2%sqlBenchMerchants), 10)
	return append(dst, `"}`...), sqlBenchBaseMs + int64(off)
}

// sqlBenchProduce produces the n events with sqlBenchProducers clients,
// producer k taking events k, k+sqlBenchProducers, …
func sqlBenchProduce(tb testing.TB, addr string, n int64) time.Duration {
	tb.Helper()
	ctx := ctxFor(tb, 30*time.Minute)
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	start := time.Now()
	for k := range sqlBenchProducers {
		cl := client(tb, addr, kgo.DefaultProduceTopic(sqlBenchTopic), kgo.RequiredAcks(kgo.AllISRAcks()),
			kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerLinger(5*time.Millisecond),
			kgo.MaxBufferedRecords(1<<20), kgo.MaxBufferedBytes(64<<20))
		wg.Add(1)
		go func() {
			defer wg.Done()
			fail := func(_ *kgo.Record, err error) {
				if err != nil {
					failed.CompareAndSwap(nil, &err)
				}
			}
			var slab []byte
			for i := int64(k); i < n && failed.Load() == nil; i += sqlBenchProducers {
				if cap(slab)-len(slab) < 128 {
					slab = make([]byte, 0, 1<<20)
				}
				from := len(slab)
				var ts int64
				slab, ts = sqlBenchValue(slab, i, n)
				cl.Produce(ctx, &kgo.Record{Value: slab[from:len(slab):len(slab)], Timestamp: time.UnixMilli(ts)}, fail)
			}
			if err := cl.Flush(ctx); err != nil {
				failed.CompareAndSwap(nil, &err)
			}
		}()
	}
	wg.Wait()
	if p := failed.Load(); p != nil {
		tb.Fatalf("produce: %v", *p)
	}
	return time.Since(start)
}

// sqlBenchStrata runs a pull query on base with props and renders its
// rows.
func sqlBenchStrata(tb testing.TB, base, stmt string, props map[string]string) []string {
	tb.Helper()
	body, _ := json.Marshal(map[string]any{"sql": stmt, "properties": props})
	req, _ := http.NewRequestWithContext(ctxFor(tb, 30*time.Minute), http.MethodPost, base+"/sql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("POST /sql %q: %v", stmt, err)
	}
	defer resp.Body.Close()
	var out []string
	done := false
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var l sqlLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			tb.Fatalf("POST /sql %q: bad line %q: %v", stmt, sc.Text(), err)
		}
		switch {
		case l.Error != nil:
			tb.Fatalf("%s: %s", stmt, l.Error.Message)
		case l.Row != nil:
			out = append(out, sqlBenchRender(l.Row))
		case l.Done:
			done = true
		}
	}
	if err := sc.Err(); err != nil || !done || resp.StatusCode != http.StatusOK {
		tb.Fatalf("%s: HTTP %d, read error %v, done line %v", stmt, resp.StatusCode, err, done)
	}
	return out
}

// sqlBenchDuck asks q of a new in-memory DuckDB (nothing cached from an
// earlier query) over the given objects, and renders its rows: segments,
// whose JSON values it parses itself, or (typed) the typed columns tiering
// wrote beside them.
func sqlBenchDuck(tb testing.TB, files []string, typed bool, topicID [16]byte, q string) []string {
	tb.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	list := "['" + strings.Join(files, "', '") + "']"
	view := fmt.Sprintf(`CREATE VIEW attempts AS SELECT "timestamp" AS ts,
			json_extract_string(decode(value), '$.card_number') AS card_number,
			CAST(json_extract(decode(value), '$.amount') AS DOUBLE) AS amount,
			json_extract_string(decode(value), '$.merchant') AS merchant
		FROM read_parquet(%s) WHERE topic_id = from_hex('%s')`, list, hex.EncodeToString(topicID[:]))
	if typed {
		view = fmt.Sprintf(`CREATE VIEW attempts AS SELECT epoch_ms(ROWTIME) AS ts, card_number, amount, merchant
			FROM read_parquet(%s)`, list)
	}
	if _, err := db.Exec(view); err != nil {
		tb.Fatalf("DuckDB %s: %v", view, err)
	}
	return duckQuery(tb, db, q, sqlBenchRender)
}

// sqlBenchRender renders a row alike from either side: every number with
// two decimals (the amounts are whole cents, so sums added in another
// order still round to the same text), NULL as NULL.
func sqlBenchRender(vals []any) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		switch v := v.(type) {
		case nil:
			parts[i] = "NULL"
		case float64:
			parts[i] = fmt.Sprintf("%.2f", v)
		case int64:
			parts[i] = fmt.Sprintf("%d.00", v)
		case int32:
			parts[i] = fmt.Sprintf("%d.00", v)
		default:
			parts[i] = fmt.Sprint(v)
		}
	}
	return strings.Join(parts, " | ")
}

// BenchmarkSQLvsDuckDB asks Strata and DuckDB the same questions over the
// same Parquet objects: the seed's fraud query and a hopping-window
// aggregate over $STRATA_SQLBENCH_EVENTS JSON events (default 1,000,000;
// the workload of "strata bench sql", one card per 100 events). It
// produces them to "strata dev" (local-directory object store), waits
// until everything is tiered, and then asks each query twice, in each of
// the two forms the cold tier holds the events in:
//
//   - typed columns (docs/format/columns.md): Strata's scan reads them, and
//     DuckDB reads the same objects with read_parquet;
//   - JSON values: Strata's scan ignores the typed columns (the property
//     strata.scan.typed.columns=false) and parses the segments' values, and
//     DuckDB reads the segments, parsing card_number, amount and merchant
//     out of the value column with its JSON functions.
//
// Before each Strata query it restarts strata dev (an empty read cache:
// the pull query reads the object store); each DuckDB query gets a fresh
// in-memory database with its default threads. Both answers must be the
// same rows. It reports seconds and events/s of each, and the ratio
// (Strata's time over DuckDB's).
//
// It runs only when asked, once whatever b.N is:
//
//	go test ./e2e -run '^$' -bench SQLvsDuckDB -benchtime 1x -v
//	STRATA_SQLBENCH_EVENTS=10000000 go test ./e2e -run '^$' -bench SQLvsDuckDB -benchtime 1x -timeout 60m -v
func BenchmarkSQLvsDuckDB(b *testing.B) {
	events := int64(1_000_000)
	if v := os.Getenv(sqlBenchEventsEnv); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			b.Fatalf("%s=%q: want a number of events >= 1", sqlBenchEventsEnv, v)
		}
		events = n
	}
	dir := b.TempDir()
	srv := StartDev(b, dir)
	adm := admin(b, srv.Kafka)
	// Kept in the WAL while produced (strata dev seals 32 MiB objects as
	// the data comes, tier-object-bytes); then sealed at once, and never
	// merged: segments are never below half of segment.bytes.
	dayMs, maxBytes := "86400000", strconv.Itoa(math.MaxInt32)
	cr, err := adm.CreateTopic(ctxFor(b, 20*time.Second), sqlBenchPartitions, 1,
		map[string]*string{meta.ConfigSegmentMs: &dayMs, meta.ConfigSegmentBytes: &maxBytes}, sqlBenchTopic)
	if err == nil {
		err = cr.Err
	}
	if err != nil {
		b.Fatalf("create topic %s: %v", sqlBenchTopic, err)
	}
	lines, code := sqlBenchPost(b, srv.HTTP, `CREATE STREAM authorization_attempts (card_number STRING, amount DOUBLE, merchant STRING)
		WITH (KAFKA_TOPIC='authorization_attempts', VALUE_FORMAT='JSON');`)
	if code != http.StatusOK || len(lines) != 1 || lines[0].Status == nil {
		b.Fatalf("CREATE STREAM: HTTP %d %+v", code, lines)
	}
	took := sqlBenchProduce(b, srv.Kafka, events)
	b.Logf("produced %d events in %s (%.0f events/s)", events, took.Round(time.Millisecond), float64(events)/took.Seconds())

	one, small := "1000", "1024"
	ar, err := adm.AlterTopicConfigs(ctxFor(b, 20*time.Second),
		[]kadm.AlterConfig{{Name: meta.ConfigSegmentMs, Value: &one}, {Name: meta.ConfigSegmentBytes, Value: &small}}, sqlBenchTopic)
	if err == nil {
		for _, r := range ar {
			if r.Err != nil {
				err = r.Err
			}
		}
	}
	if err != nil {
		b.Fatalf("alter the configs of %s: %v", sqlBenchTopic, err)
	}
	start := time.Now()
	ms := waitTiered(b, srv, sqlBenchTopic, 30*time.Minute)
	b.Logf("tiered %s after the produce: %s", time.Since(start).Round(time.Millisecond), describeManifests(ms))
	id := topicID(b, adm, sqlBenchTopic)
	all, err := filepath.Glob(filepath.Join(dir, "objects", "segments", "*.parquet"))
	if err != nil {
		b.Fatal(err)
	}
	var segments, columns []string
	for _, f := range all {
		if strings.HasSuffix(f, ".columns.parquet") {
			columns = append(columns, f)
		} else {
			segments = append(segments, f)
		}
	}

	// The objects hold every event once: no merge left an older copy.
	db, err := sql.Open("duckdb", "")
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		files []string
		q     string
	}{
		{segments, `SELECT count(*) FROM read_parquet(%s) WHERE topic_id = from_hex('` + hex.EncodeToString(id[:]) + `')`},
		{columns, `SELECT count(*) FROM read_parquet(%s)`},
	} {
		if len(c.files) == 0 {
			b.Fatalf("no objects for %s", c.q)
		}
		var stored int64
		q := fmt.Sprintf(c.q, "['"+strings.Join(c.files, "', '")+"']")
		if err := db.QueryRow(q).Scan(&stored); err != nil {
			b.Fatalf("DuckDB %s: %v", q, err)
		}
		if stored != events {
			b.Fatalf("%s: %d rows, want %d: objects no manifest names?", q, stored, events)
		}
	}
	db.Close()

	type result struct {
		query, engine string
		seconds       float64
		rows          int
	}
	var results []result
	for _, c := range sqlBenchCases {
		for _, typed := range []bool{true, false} {
			form, props := "typed columns", map[string]string(nil)
			files := columns
			if !typed {
				form, props, files = "JSON values", map[string]string{"strata.scan.typed.columns": "false"}, segments
			}
			srv.Stop()
			srv = StartDev(b, dir)
			if _, end := offsets(b, admin(b, srv.Kafka), sqlBenchTopic); len(end) != sqlBenchPartitions {
				b.Fatalf("after the restart %s lists %d partitions", sqlBenchTopic, len(end))
			}
			misses0 := serverMetric(b, srv, "strata_cache_misses_total")
			t0 := time.Now()
			got := sqlBenchStrata(b, srv.HTTP, c.ksql, props)
			strataS := time.Since(t0).Seconds()
			if misses := serverMetric(b, srv, "strata_cache_misses_total") - misses0; misses == 0 {
				b.Errorf("%s: the pull query missed the read cache nowhere: did it read the object store?", c.name)
			}

			t0 = time.Now()
			want := sqlBenchDuck(b, files, typed, id, c.duck)
			duckS := time.Since(t0).Seconds()

			if len(want) == 0 {
				b.Errorf("%s: DuckDB answered no rows: the comparison checks nothing", c.name)
			}
			if d := diffRows(got, want); d != "" {
				b.Errorf("%s (%s): Strata and DuckDB differ (%d vs %d rows):\n%s", c.name, form, len(got), len(want), d)
			}
			results = append(results, result{c.name, "strata (cold, " + form + ")", strataS, len(got)}, result{c.name, "duckdb (" + form + ")", duckS, len(want)})
			tag := c.name
			if !typed {
				tag += "-json"
			}
			b.ReportMetric(strataS, tag+"-strata-s")
			b.ReportMetric(duckS, tag+"-duckdb-s")
			b.ReportMetric(float64(events)/strataS, tag+"-strata-events/s")
			b.ReportMetric(float64(events)/duckS, tag+"-duckdb-events/s")
			b.ReportMetric(strataS/duckS, tag+"-strata/duckdb")
		}
	}

	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "query\tengine\tevents\tseconds\tevents/s\tresult rows\tStrata time / DuckDB time\n")
	for i, r := range results {
		ratio := ""
		if i%2 == 1 {
			ratio = fmt.Sprintf("%.2f", results[i-1].seconds/r.seconds)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.2f\t%.0f\t%d\t%s\n", r.query, r.engine, events, r.seconds, float64(events)/r.seconds, r.rows, ratio)
	}
	tw.Flush()
	b.Logf("%d events, %d cards, %d partitions, %d CPUs (DuckDB threads: its default, one per CPU)\n%s", events, sqlBenchCards(events), sqlBenchPartitions, runtime.NumCPU(), buf.String())
}

// sqlBenchPost runs statements on base and returns the answer's lines and
// HTTP status.
func sqlBenchPost(tb testing.TB, base, stmt string) ([]sqlLine, int) {
	tb.Helper()
	body, _ := json.Marshal(map[string]any{"sql": stmt})
	req, _ := http.NewRequestWithContext(ctxFor(tb, time.Minute), http.MethodPost, base+"/sql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("POST /sql %q: %v", stmt, err)
	}
	defer resp.Body.Close()
	var out []sqlLine
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var l sqlLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			tb.Fatalf("POST /sql %q: bad line %q: %v", stmt, sc.Text(), err)
		}
		out = append(out, l)
	}
	return out, resp.StatusCode
}
