package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// sqlLine is one line of a POST /sql answer.
type sqlLine struct {
	Header *struct {
		QueryID string `json:"queryId"`
		Columns []struct {
			Name, Type string
		} `json:"columns"`
	} `json:"header"`
	Row       []any `json:"row"`
	Tombstone bool  `json:"tombstone"`
	Done      bool  `json:"done"`
	Status    *struct {
		Message string `json:"message"`
		QueryID string `json:"queryId"`
	} `json:"status"`
	Error *struct {
		Message      string `json:"message"`
		Line, Column int
	} `json:"error"`
}

// postSQL runs statements on the broker's HTTP address and returns the
// answer's lines and HTTP status; it stops reading after max rows (0: all).
func postSQL(t *testing.T, base, stmt string, props map[string]string, max int) ([]sqlLine, int) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"sql": stmt, "properties": props})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/sql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /sql %q: %v", stmt, err)
	}
	defer resp.Body.Close()
	var out []sqlLine
	rows := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var l sqlLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("POST /sql %q: bad line %q: %v", stmt, sc.Text(), err)
		}
		out = append(out, l)
		if l.Row != nil {
			rows++
			if max > 0 && rows >= max {
				break
			}
		}
	}
	return out, resp.StatusCode
}

// streamSQL runs a push query on the broker's HTTP address and sends the
// answer's lines on the channel it returns, until the test ends (which
// closes the connection, and so stops the query) or the answer does.
func streamSQL(t *testing.T, base, stmt string, props map[string]string) <-chan sqlLine {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"sql": stmt, "properties": props})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/sql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("POST /sql %q: %v", stmt, err)
	}
	out := make(chan sqlLine, 100)
	done := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		<-done
	})
	go func() {
		defer close(done)
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var l sqlLine
			if json.Unmarshal(sc.Bytes(), &l) != nil {
				return
			}
			select {
			case out <- l:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// nextRow returns the next row of a streamed answer, failing the test
// after d or when the answer ends or errs.
func nextRow(t *testing.T, lines <-chan sqlLine, d time.Duration) sqlLine {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("the push query's answer ended")
			}
			if l.Error != nil {
				t.Fatalf("the push query failed: %s", l.Error.Message)
			}
			if l.Row != nil {
				return l
			}
		case <-timeout:
			t.Fatalf("no row in %s", d)
		}
	}
}

func sqlRows(lines []sqlLine) [][]any {
	var out [][]any
	for _, l := range lines {
		if l.Row != nil {
			out = append(out, l.Row)
		}
	}
	return out
}

func sqlMustSucceed(t *testing.T, base, stmt string, props map[string]string) []sqlLine {
	t.Helper()
	lines, code := postSQL(t, base, stmt, props, 0)
	for _, l := range lines {
		if l.Error != nil {
			t.Fatalf("%s: %s", stmt, l.Error.Message)
		}
	}
	if code != http.StatusOK {
		t.Fatalf("%s: HTTP %d", stmt, code)
	}
	return lines
}

// TestSQLStatements drives the SQL endpoint of strata dev with the
// statements a user starts with: CREATE STREAM over a topic of JSON
// events, pull and push queries with filters and projections, a persistent
// CREATE STREAM … AS SELECT whose output topic a Kafka client reads,
// INSERT INTO … VALUES and INSERT INTO … SELECT, SHOW, DESCRIBE, EXPLAIN,
// errors that point into the statement, TERMINATE and DROP.
func TestSQLStatements(t *testing.T) {
	srv := StartDev(t, t.TempDir())
	base := srv.HTTP
	earliest := map[string]string{"auto.offset.reset": "earliest"}

	sqlMustSucceed(t, base, `CREATE STREAM pageviews (user_id STRING, page STRING, ms BIGINT)
		WITH (KAFKA_TOPIC='pageviews', VALUE_FORMAT='JSON', PARTITIONS=2);`, nil)
	prod := client(t, srv.Kafka)
	var recs []*kgo.Record
	for i := range 100 {
		recs = append(recs, &kgo.Record{Topic: "pageviews", Partition: int32(i % 2),
			Value: []byte(fmt.Sprintf(`{"user_id":"u%d","page":"/p/%d","ms":%d}`, i%5, i, i*10))})
	}
	recs = append(recs, &kgo.Record{Topic: "pageviews", Value: []byte(`not json`)})
	produceAcked(t, prod, recs)

	// A pull query reads the topic as it is.
	lines := sqlMustSucceed(t, base, `SELECT user_id, UCASE(page) AS page, ms * 2 AS doubled FROM pageviews WHERE user_id = 'u3' AND ms >= 500;`, nil)
	rows := sqlRows(lines)
	if len(rows) != 10 {
		t.Fatalf("pull query: %d rows, want 10: %v", len(rows), rows)
	}
	if h := lines[0].Header; h == nil || len(h.Columns) != 3 || h.Columns[2].Name != "DOUBLED" || h.Columns[2].Type != "BIGINT" {
		t.Fatalf("pull query header %+v", lines[0])
	}
	for _, r := range rows {
		if r[0] != "U3" && r[0] != "u3" || !strings.HasPrefix(r[1].(string), "/P/") || r[2].(float64) < 1000 {
			t.Fatalf("pull query row %v", r)
		}
	}

	// A push query from the beginning stops at its LIMIT, also when the
	// topic holds exactly that many matching rows.
	lines = sqlMustSucceed(t, base, `SELECT * FROM pageviews EMIT CHANGES LIMIT 7;`, earliest)
	if rows := sqlRows(lines); len(rows) != 7 || !lines[len(lines)-1].Done {
		t.Fatalf("push query with LIMIT: %d rows, last line %+v", len(rows), lines[len(lines)-1])
	}
	lines = sqlMustSucceed(t, base, `SELECT page FROM pageviews WHERE user_id = 'u0' AND ms < 100 EMIT CHANGES LIMIT 2;`, earliest)
	if rows := sqlRows(lines); len(rows) != 2 || !lines[len(lines)-1].Done {
		t.Fatalf("push query with LIMIT of exactly the matching rows: %d rows, last line %+v", len(rows), lines[len(lines)-1])
	}

	// A persistent query writes a topic that any Kafka client reads.
	lines = sqlMustSucceed(t, base, `CREATE STREAM u1_views AS SELECT page, ms FROM pageviews WHERE user_id = 'u1';`, earliest)
	if lines[0].Status == nil || !strings.HasPrefix(lines[0].Status.QueryID, "CSAS_U1_VIEWS_") {
		t.Fatalf("CSAS answered %+v", lines[0])
	}
	queryID := lines[0].Status.QueryID
	got := map[string]bool{}
	cons := client(t, srv.Kafka, kgo.ConsumeTopics("u1_views"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	readViews := func(want int) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); len(got) < want && time.Now().Before(deadline); {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			cons.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got[string(r.Value)] = true })
			cancel()
		}
		if len(got) != want {
			t.Fatalf("u1_views holds %d distinct records, want %d: %v", len(got), want, got)
		}
	}
	readViews(20)
	if !got[`{"PAGE":"/p/1","MS":10}`] {
		t.Fatalf("u1_views lacks /p/1: %v", got)
	}
	// A row inserted into the source flows through the running query; an
	// INSERT INTO … SELECT adds a second query writing the same stream.
	sqlMustSucceed(t, base, `INSERT INTO pageviews (user_id, page, ms) VALUES ('u1', '/inserted', 5000);`, nil)
	readViews(21)
	if !got[`{"PAGE":"/inserted","MS":5000}`] {
		t.Fatalf("the inserted row did not reach u1_views: %v", got)
	}
	lines = sqlMustSucceed(t, base, `INSERT INTO u1_views SELECT page, ms FROM pageviews WHERE user_id = 'u2';`, earliest)
	if lines[0].Status == nil || !strings.HasPrefix(lines[0].Status.QueryID, "INSERTQUERY_U1_VIEWS_") {
		t.Fatalf("INSERT INTO … SELECT answered %+v", lines[0])
	}
	readViews(41)

	lines = sqlMustSucceed(t, base, `PRINT 'u1_views' FROM BEGINNING INTERVAL 2 LIMIT 3;`, nil)
	if rows := sqlRows(lines); len(rows) != 3 || !strings.HasPrefix(fmt.Sprint(rows[0][4]), `{"PAGE":`) {
		t.Fatalf("PRINT: %v", rows)
	}
	lines = sqlMustSucceed(t, base, `SHOW STREAMS; SHOW QUERIES; DESCRIBE u1_views; EXPLAIN SELECT page FROM pageviews WHERE ms > 5; EXPLAIN `+queryID+`;`, nil)
	var names []string
	for _, r := range sqlRows(lines) {
		names = append(names, fmt.Sprint(r[0]))
	}
	joined := strings.Join(names, " ")
	for _, want := range []string{"PAGEVIEWS", "U1_VIEWS", queryID, "PAGE", "MS", "Scan: PAGEVIEWS"} {
		if !strings.Contains(joined, want) {
			t.Errorf("SHOW/DESCRIBE/EXPLAIN answer lacks %q: %s", want, joined)
		}
	}

	// The strata sql shell, non-interactive, against the same endpoint: two
	// streams, then the four pages of u4 below 200 ms.
	r := Run(t, 30*time.Second, Env(), "sql", "--server", base, "-e", "SHOW STREAMS; SELECT page FROM pageviews WHERE user_id = 'u4' AND ms < 200;")
	if r.Code != 0 || !strings.Contains(r.Stdout, "PAGEVIEWS") || !strings.Contains(r.Stdout, "/p/14") || !strings.Contains(r.Stdout, "(2 rows)") || !strings.Contains(r.Stdout, "(4 rows)") {
		t.Errorf("strata sql -e: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	r = Run(t, 30*time.Second, Env(), "sql", "--server", base, "--format", "json", "-e", "SELECT nope FROM pageviews;")
	if r.Code != 1 || !strings.Contains(r.Stderr, "line 1:8") {
		t.Errorf("strata sql with a bad statement: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}

	// Errors point at the statement's line and column.
	for _, tc := range []struct {
		stmt      string
		line, col int
		msg       string
	}{
		{"SELECT nope FROM pageviews;", 1, 8, "column NOPE cannot be resolved"},
		{"SELECT * FROM\n  nothere;", 2, 3, "NOTHERE does not exist"},
		{"SELECT * FROM pageviews WINDOW TUMBLING (SIZE 5 MINUTTE);", 1, 49, "MINUTTE"},
		{"DROP STREAM pageviews;", 1, 1, "used by query"},
	} {
		lines, code := postSQL(t, base, tc.stmt, nil, 0)
		if code != http.StatusBadRequest || len(lines) != 1 || lines[0].Error == nil {
			t.Fatalf("%s: HTTP %d %+v", tc.stmt, code, lines)
		}
		e := lines[0].Error
		if e.Line != tc.line || e.Column != tc.col || !strings.Contains(e.Message, tc.msg) {
			t.Errorf("%s: error %d:%d %q, want %d:%d containing %q", tc.stmt, e.Line, e.Column, e.Message, tc.line, tc.col, tc.msg)
		}
	}

	sqlMustSucceed(t, base, "TERMINATE "+queryID+"; TERMINATE ALL; DROP STREAM u1_views DELETE TOPIC; DROP STREAM pageviews;", nil)
	lines = sqlMustSucceed(t, base, "SHOW STREAMS; SHOW QUERIES;", nil)
	if rows := sqlRows(lines); len(rows) != 0 {
		t.Errorf("after TERMINATE and DROP: %v", rows)
	}
}

// TestSQLSeedFraudQuery runs the seed talk's statement as written, as a
// persistent query, on attempts spread over two tumbling windows; then
// kills strata dev, restarts it, and sends more attempts: the restarted
// query resumes from its checkpoint with its window state (a card whose
// count crosses the threshold only with the attempts from before the crash
// is reported) and does not report again what it reported before.
func TestSQLSeedFraudQuery(t *testing.T) {
	dir := t.TempDir()
	kafkaAddr := freeLoopbackAddr(t)
	srv := StartDev(t, dir, "--kafka-addr", kafkaAddr)
	sqlMustSucceed(t, srv.HTTP, `CREATE STREAM authorization_attempts (card_number STRING, amount DOUBLE)
		WITH (KAFKA_TOPIC='authorization_attempts', PARTITIONS=2, VALUE_FORMAT='JSON');`, nil)
	seed := `CREATE STREAM possible_fraud AS SELECT card_number, count(*) FROM authorization_attempts
WINDOW TUMBLING (SIZE 5 MINUTE) GROUP BY card_number HAVING count(*) > 3;`
	lines := sqlMustSucceed(t, srv.HTTP, seed, map[string]string{"auto.offset.reset": "earliest"})
	if lines[0].Status == nil || lines[0].Status.QueryID == "" {
		t.Fatalf("the seed statement answered %+v", lines[0])
	}

	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	attempt := func(card string, at time.Duration) *kgo.Record {
		return &kgo.Record{Topic: "authorization_attempts", Timestamp: t0.Add(at),
			Value: []byte(fmt.Sprintf(`{"card_number":%q,"amount":12.5}`, card))}
	}
	var first []*kgo.Record
	for i := range 5 {
		first = append(first, attempt("c1", time.Duration(i)*time.Second)) // 5 in the first window: fraud
	}
	for i := range 2 {
		first = append(first, attempt("c2", time.Duration(i)*time.Second)) // 2: not yet
	}
	first = append(first, attempt("c3", time.Minute), attempt("c3", 2*time.Minute), // 2 and 2 in two windows: never
		attempt("c3", 6*time.Minute), attempt("c3", 7*time.Minute))
	produceAcked(t, client(t, srv.Kafka), first)

	// read collects the latest count per card the output topic holds.
	latest := map[string]float64{}
	reports := map[string]int{}
	cons := client(t, srv.Kafka, kgo.ConsumeTopics("possible_fraud"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	read := func(d time.Duration, until func() bool) {
		t.Helper()
		for deadline := time.Now().Add(d); !until() && time.Now().Before(deadline); {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			cons.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				var card string
				var v map[string]float64
				if err := json.Unmarshal(r.Key, &card); err != nil {
					t.Errorf("key %q: %v", r.Key, err)
				}
				if err := json.Unmarshal(r.Value, &v); err != nil {
					t.Errorf("value %q: %v", r.Value, err)
				}
				latest[card] = v["KSQL_COL_0"]
				reports[card]++
			})
			cancel()
		}
	}
	read(30*time.Second, func() bool { return latest["c1"] == 5 })
	if latest["c1"] != 5 || len(latest) != 1 {
		t.Fatalf("possible_fraud after the first attempts: %v, want c1 at 5 only", latest)
	}
	before := reports["c1"]

	// Let a checkpoint pass, crash, restart, and send three more attempts
	// of c2 in the first window.
	time.Sleep(7 * time.Second)
	srv.Kill()
	srv = StartDev(t, dir, "--kafka-addr", kafkaAddr)
	produceAcked(t, client(t, srv.Kafka), []*kgo.Record{attempt("c2", 10*time.Second), attempt("c2", 11*time.Second), attempt("c2", 12*time.Second)})
	read(30*time.Second, func() bool { return latest["c2"] == 5 })
	if latest["c2"] != 5 {
		t.Fatalf("possible_fraud after the restart: %v, want c2 at 5 (2 attempts before the crash, 3 after)", latest)
	}
	read(3*time.Second, func() bool { return false })
	if reports["c1"] != before || latest["c3"] != 0 {
		t.Fatalf("after the restart c1 was reported %d times (before: %d) and c3 at %v: the query did not resume from its checkpoint", reports["c1"], before, latest["c3"])
	}
}

// TestSQLQueryFailover runs a persistent aggregation on a three-broker
// cluster, SIGKILLs the broker that runs it, and checks that another broker
// takes the query over from its checkpoint: the counts go on from where they
// were, neither restarting from zero nor counting twice.
func TestSQLQueryFailover(t *testing.T) {
	c := startNetCluster(t)
	base := c.members[0].srv.HTTP
	sqlMustSucceed(t, base, `CREATE STREAM clicks (user_id STRING) WITH (KAFKA_TOPIC='clicks', PARTITIONS=3, VALUE_FORMAT='JSON');`, nil)
	lines := sqlMustSucceed(t, base, `CREATE TABLE clicks_per_user AS SELECT user_id, COUNT(*) AS n FROM clicks GROUP BY user_id;`,
		map[string]string{"auto.offset.reset": "earliest"})
	queryID := lines[0].Status.QueryID

	seeds := kgo.SeedBrokers(c.brokers()...)
	prod := client(t, c.brokers()[0], seeds, kgo.RequiredAcks(kgo.AllISRAcks()))
	click := func(n int) {
		t.Helper()
		var recs []*kgo.Record
		for i := range n {
			recs = append(recs, &kgo.Record{Topic: "clicks", Value: []byte(fmt.Sprintf(`{"user_id":"u%d"}`, i%3))})
		}
		produceAcked(t, prod, recs)
	}
	counts := map[string]float64{}
	cons := client(t, c.brokers()[0], seeds, kgo.ConsumeTopics("clicks_per_user"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	waitCounts := func(want float64) {
		t.Helper()
		done := func() bool { return counts["u0"] == want && counts["u1"] == want && counts["u2"] == want }
		for deadline := time.Now().Add(60 * time.Second); !done() && time.Now().Before(deadline); {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			cons.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				var user string
				var v map[string]float64
				if json.Unmarshal(r.Key, &user) == nil && json.Unmarshal(r.Value, &v) == nil {
					counts[user] = v["N"]
				}
			})
			cancel()
		}
		if !done() {
			t.Fatalf("clicks_per_user holds %v, want %v for u0, u1 and u2", counts, want)
		}
	}
	click(30)
	waitCounts(10)

	time.Sleep(7 * time.Second) // a checkpoint
	c.members[0].srv.Kill()
	killed := time.Now()
	click(30)
	waitCounts(20)
	t.Logf("after broker 0 was killed the counts reached 20 in %s", time.Since(killed).Round(time.Millisecond))

	// SHOW QUERIES names the owners of the query's tasks: brokers 1 and 2
	// only, once each task of broker 0 moved (each as its successor's
	// reconcile claims it).
	var rows [][]any
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		rows = sqlRows(sqlMustSucceed(t, c.members[1].srv.HTTP, "SHOW QUERIES;", nil))
		if len(rows) == 1 && rows[0][0] == queryID && !slices.Contains(ownerBrokers(rows[0][2]), "0") || time.Now().After(deadline) {
			break
		}
	}
	if len(rows) != 1 || rows[0][0] != queryID || slices.Contains(ownerBrokers(rows[0][2]), "0") {
		t.Fatalf("SHOW QUERIES after the failover: %v, want %s owned by brokers 1 and 2", rows, queryID)
	}
}

// TestSQLJoinQueryRestart runs a persistent stream-table join, crashes
// strata dev and restarts it: the restarted query resumes both inputs from
// its checkpoint with the table it had joined so far, so the events after
// the crash are enriched and those before are not written again.
func TestSQLJoinQueryRestart(t *testing.T) {
	dir := t.TempDir()
	kafkaAddr := freeLoopbackAddr(t)
	srv := StartDev(t, dir, "--kafka-addr", kafkaAddr)
	sqlMustSucceed(t, srv.HTTP, `CREATE STREAM orders (id BIGINT, merchant STRING) WITH (KAFKA_TOPIC='orders', PARTITIONS=2, VALUE_FORMAT='JSON');
		CREATE TABLE merchants (name STRING PRIMARY KEY, category STRING) WITH (KAFKA_TOPIC='merchants', PARTITIONS=1, VALUE_FORMAT='JSON');`, nil)
	prod := client(t, srv.Kafka)
	produceAcked(t, prod, []*kgo.Record{
		{Topic: "merchants", Key: []byte("ACME"), Value: []byte(`{"category":"tools"}`)},
		{Topic: "merchants", Key: []byte("Globex"), Value: []byte(`{"category":"energy"}`)},
	})
	sqlMustSucceed(t, srv.HTTP, `CREATE STREAM enriched AS SELECT o.id AS id, m.category AS category FROM orders o JOIN merchants m ON o.merchant = m.name;`,
		map[string]string{"auto.offset.reset": "earliest"})
	order := func(id int, merchant string) *kgo.Record {
		return &kgo.Record{Topic: "orders", Value: []byte(fmt.Sprintf(`{"id":%d,"merchant":%q}`, id, merchant))}
	}
	produceAcked(t, prod, []*kgo.Record{order(1, "ACME"), order(2, "Globex"), order(3, "Nobody")})

	got := map[string]int{}
	cons := client(t, srv.Kafka, kgo.ConsumeTopics("enriched"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	read := func(d time.Duration, n int) {
		t.Helper()
		total := func() (s int) {
			for _, c := range got {
				s += c
			}
			return s
		}
		for deadline := time.Now().Add(d); total() < n && time.Now().Before(deadline); {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			cons.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got[string(r.Value)]++ })
			cancel()
		}
	}
	read(30*time.Second, 2)
	if got[`{"ID":1,"CATEGORY":"tools"}`] != 1 || got[`{"ID":2,"CATEGORY":"energy"}`] != 1 {
		t.Fatalf("enriched before the crash: %v", got)
	}

	time.Sleep(7 * time.Second) // a checkpoint
	srv.Kill()
	srv = StartDev(t, dir, "--kafka-addr", kafkaAddr)
	produceAcked(t, client(t, srv.Kafka), []*kgo.Record{order(4, "Globex"), order(5, "ACME")})
	read(30*time.Second, 4)
	read(2*time.Second, 100)
	want := map[string]int{`{"ID":1,"CATEGORY":"tools"}`: 1, `{"ID":2,"CATEGORY":"energy"}`: 1,
		`{"ID":4,"CATEGORY":"energy"}`: 1, `{"ID":5,"CATEGORY":"tools"}`: 1}
	if !maps.Equal(got, want) {
		t.Fatalf("enriched after the restart: %v, want each of %v once", got, want)
	}
}

// TestSQLTablePull checks that a pull query over a table answers its
// current rows: the last value of each key, deleted keys left out.
func TestSQLTablePull(t *testing.T) {
	srv := StartDev(t, t.TempDir())
	sqlMustSucceed(t, srv.HTTP, `CREATE TABLE users (id STRING PRIMARY KEY, name STRING, visits INT) WITH (KAFKA_TOPIC='users', PARTITIONS=2, VALUE_FORMAT='JSON');`, nil)
	user := func(id, v string) *kgo.Record {
		r := &kgo.Record{Topic: "users", Key: []byte(id)}
		if v != "" {
			r.Value = []byte(v)
		}
		return r
	}
	produceAcked(t, client(t, srv.Kafka), []*kgo.Record{
		user("a", `{"name":"Ann","visits":1}`), user("b", `{"name":"Bob","visits":1}`), user("c", `{"name":"Cy","visits":1}`),
		user("a", `{"name":"Ann","visits":2}`), user("b", ""), user("a", `{"name":"Ann","visits":3}`),
	})
	rows := sqlRows(sqlMustSucceed(t, srv.HTTP, "SELECT id, name, visits FROM users;", nil))
	got := map[string]string{}
	for _, r := range rows {
		got[fmt.Sprint(r[0])] = fmt.Sprint(r[1:])
	}
	want := map[string]string{"a": "[Ann 3]", "c": "[Cy 1]"}
	if !maps.Equal(got, want) || len(rows) != 2 {
		t.Fatalf("users: %v, want %v", rows, want)
	}
	if rows := sqlRows(sqlMustSucceed(t, srv.HTTP, "SELECT id FROM users WHERE visits > 1;", nil)); len(rows) != 1 || rows[0][0] != "a" {
		t.Fatalf("users with visits > 1: %v", rows)
	}

	// A table made from a table carries its deletions as tombstones.
	sqlMustSucceed(t, srv.HTTP, "CREATE TABLE names AS SELECT id, name FROM users;", map[string]string{"auto.offset.reset": "earliest"})
	last := map[string][]byte{}
	cons := client(t, srv.Kafka, kgo.ConsumeTopics("names"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	for deadline := time.Now().Add(30 * time.Second); len(last) < 3 && time.Now().Before(deadline); {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		cons.PollFetches(ctx).EachRecord(func(r *kgo.Record) { last[string(r.Key)] = r.Value })
		cancel()
	}
	if v, ok := last[`"b"`]; !ok || v != nil || string(last[`"a"`]) != `{"NAME":"Ann"}` {
		t.Fatalf("names: %q, want b's tombstone and a's name", last)
	}
}

// TestSQLTableAggregation aggregates a table's changelog: a persistent
// CREATE TABLE … AS SELECT … GROUP BY over a table whose rows move between
// groups and get deleted writes each group's current value, and a
// tombstone for a group that became empty; a push query shows the same
// changes (an emptied group as a tombstone row); a pull query answers the
// current groups only.
func TestSQLTableAggregation(t *testing.T) {
	srv := StartDev(t, t.TempDir())
	earliest := map[string]string{"auto.offset.reset": "earliest"}
	sqlMustSucceed(t, srv.HTTP, `CREATE TABLE accts (id STRING PRIMARY KEY, region STRING, amount DOUBLE) WITH (KAFKA_TOPIC='accts', PARTITIONS=2, VALUE_FORMAT='JSON');`, nil)
	prod := client(t, srv.Kafka)
	acct := func(id, v string) *kgo.Record {
		r := &kgo.Record{Topic: "accts", Key: []byte(id)}
		if v != "" {
			r.Value = []byte(v)
		}
		return r
	}
	produceAcked(t, prod, []*kgo.Record{
		acct("a", `{"region":"east","amount":10}`), acct("b", `{"region":"east","amount":5}`),
		acct("c", `{"region":"west","amount":1}`), acct("d", `{"region":"south","amount":7}`),
	})
	lines := sqlMustSucceed(t, srv.HTTP, `CREATE TABLE t_counts AS SELECT region, COUNT(*) AS n, SUM(amount) AS s FROM accts GROUP BY region;`, earliest)
	if lines[0].Status == nil || !strings.HasPrefix(lines[0].Status.QueryID, "CTAS_T_COUNTS_") {
		t.Fatalf("CTAS answered %+v", lines[0])
	}

	// last holds the sink topic's last value of each key (nil: a tombstone).
	last := map[string]*string{}
	cons := client(t, srv.Kafka, kgo.ConsumeTopics("t_counts"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	read := func(want map[string]*string) {
		t.Helper()
		same := func() bool {
			return maps.EqualFunc(last, want, func(a, b *string) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) })
		}
		for deadline := time.Now().Add(30 * time.Second); !same() && time.Now().Before(deadline); {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			cons.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				if r.Value == nil {
					last[string(r.Key)] = nil
				} else {
					v := string(r.Value)
					last[string(r.Key)] = &v
				}
			})
			cancel()
		}
		if !same() {
			show := map[string]string{}
			for k, v := range last {
				show[k] = "<tombstone>"
				if v != nil {
					show[k] = *v
				}
			}
			t.Fatalf("t_counts holds %v", show)
		}
	}
	val := func(s string) *string { return &s }
	read(map[string]*string{`"east"`: val(`{"N":2,"S":15}`), `"west"`: val(`{"N":1,"S":1}`), `"south"`: val(`{"N":1,"S":7}`)})

	// A push query over the same aggregation, from the start: the current
	// groups, then the changes as they come.
	push := streamSQL(t, srv.HTTP, `SELECT region, COUNT(*) AS n FROM accts GROUP BY region EMIT CHANGES;`, earliest)
	seen := map[string]string{}
	for len(seen) < 3 || seen["east"] != "2" {
		r := nextRow(t, push, 30*time.Second)
		seen[fmt.Sprint(r.Row[0])] = fmt.Sprint(r.Row[1])
	}

	// c moves from west to east (west becomes empty), d is deleted (south
	// becomes empty), a moves from east to north.
	produceAcked(t, prod, []*kgo.Record{acct("c", `{"region":"east","amount":2}`), acct("d", ""), acct("a", `{"region":"north","amount":4}`)})
	read(map[string]*string{`"east"`: val(`{"N":2,"S":7}`), `"west"`: nil, `"south"`: nil, `"north"`: val(`{"N":1,"S":4}`)})

	tombs := map[string]bool{}
	for len(tombs) < 2 {
		r := nextRow(t, push, 30*time.Second)
		if r.Tombstone {
			if r.Row[1] != nil {
				t.Errorf("tombstone row %v: want its count NULL", r.Row)
			}
			tombs[fmt.Sprint(r.Row[0])] = true
		}
	}
	if !tombs["west"] || !tombs["south"] {
		t.Errorf("the push query's tombstones: %v, want west and south", tombs)
	}

	// A pull query answers the current groups.
	rows := sqlRows(sqlMustSucceed(t, srv.HTTP, `SELECT region, COUNT(*) AS n, SUM(amount) AS s FROM accts GROUP BY region;`, nil))
	got := map[string]string{}
	for _, r := range rows {
		got[fmt.Sprint(r[0])] = fmt.Sprint(r[1:])
	}
	if want := map[string]string{"east": "[2 7]", "north": "[1 4]"}; !maps.Equal(got, want) || len(rows) != 2 {
		t.Errorf("pull query: %v, want %v", rows, want)
	}

	// Windows and EMIT FINAL need a stream.
	for stmt, want := range map[string]string{
		"SELECT region, COUNT(*) FROM accts WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY region EMIT CHANGES;": "WINDOW over table ACCTS is not allowed",
		"SELECT region, COUNT(*) FROM accts GROUP BY region EMIT FINAL;":                                   "EMIT FINAL over table ACCTS is not allowed",
	} {
		lines, code := postSQL(t, srv.HTTP, stmt, nil, 0)
		if code != http.StatusBadRequest || len(lines) != 1 || lines[0].Error == nil || !strings.Contains(lines[0].Error.Message, want) {
			t.Errorf("%s: HTTP %d %+v, want an error %q", stmt, code, lines, want)
		}
	}
}

// TestSQLLateRecords runs a persistent windowed aggregation with no grace
// period and sends it a record whose window has closed: SHOW QUERIES shows
// the query's late record and /metrics counts it
// (strata_sql_late_records_total), with the records that did not decode
// (strata_sql_decode_errors_total).
func TestSQLLateRecords(t *testing.T) {
	srv := StartDev(t, t.TempDir())
	sqlMustSucceed(t, srv.HTTP, `CREATE STREAM clicks (user_id STRING) WITH (KAFKA_TOPIC='clicks', PARTITIONS=1, VALUE_FORMAT='JSON');`, nil)
	lines := sqlMustSucceed(t, srv.HTTP, `CREATE TABLE clicks_per_minute AS SELECT user_id, COUNT(*) AS n FROM clicks
		WINDOW TUMBLING (SIZE 1 MINUTE, GRACE PERIOD 0 SECONDS) GROUP BY user_id;`, map[string]string{"auto.offset.reset": "earliest"})
	queryID := lines[0].Status.QueryID
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	click := func(at time.Duration) *kgo.Record {
		return &kgo.Record{Topic: "clicks", Timestamp: t0.Add(at), Value: []byte(`{"user_id":"u1"}`)}
	}
	// The third click's window closed when the second came.
	produceAcked(t, client(t, srv.Kafka), []*kgo.Record{click(0), click(2 * time.Minute), click(10 * time.Second),
		{Topic: "clicks", Value: []byte(`not json`)}})

	var row []any
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		lines := sqlMustSucceed(t, srv.HTTP, "SHOW QUERIES;", nil)
		if h := lines[0].Header; h == nil || len(h.Columns) != 5 || h.Columns[4].Name != "Late Records" {
			t.Fatalf("SHOW QUERIES header %+v", lines[0])
		}
		if rows := sqlRows(lines); len(rows) == 1 {
			row = rows[0]
			if row[4] == float64(1) {
				break
			}
		}
	}
	if row == nil || row[0] != queryID || row[4] != float64(1) {
		t.Fatalf("SHOW QUERIES: %v, want %s with 1 late record", row, queryID)
	}

	resp, err := http.Get(srv.HTTP + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var late, decode string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		switch l := sc.Text(); {
		case strings.HasPrefix(l, "strata_sql_late_records_total{"):
			late = l
		case strings.HasPrefix(l, "strata_sql_decode_errors_total "):
			decode = l
		}
	}
	if want := `strata_sql_late_records_total{query="` + queryID + `"} 1`; late != want {
		t.Errorf("/metrics: %q, want %q", late, want)
	}
	if decode != "strata_sql_decode_errors_total 1" {
		t.Errorf("/metrics: %q, want strata_sql_decode_errors_total 1", decode)
	}
}

// TestSQLSessionRetractions runs a push query over session windows: when a
// record bridges two sessions, the query shows the two sessions it merged
// as tombstone rows (their key and bounds, the count NULL) and then the
// merged session.
func TestSQLSessionRetractions(t *testing.T) {
	srv := StartDev(t, t.TempDir())
	sqlMustSucceed(t, srv.HTTP, `CREATE STREAM taps (k STRING) WITH (KAFKA_TOPIC='taps', PARTITIONS=1, VALUE_FORMAT='JSON');`, nil)
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tap := func(at time.Duration) *kgo.Record {
		return &kgo.Record{Topic: "taps", Timestamp: t0.Add(at), Value: []byte(`{"k":"k1"}`)}
	}
	prod := client(t, srv.Kafka)
	produceAcked(t, prod, []*kgo.Record{tap(0), tap(30 * time.Second)})
	push := streamSQL(t, srv.HTTP, `SELECT k, WINDOWSTART AS ws, WINDOWEND AS we, COUNT(*) AS n FROM taps WINDOW SESSION (20 SECONDS) GROUP BY k EMIT CHANGES;`,
		map[string]string{"auto.offset.reset": "earliest"})
	ms := func(d time.Duration) float64 { return float64(t0.Add(d).UnixMilli()) }
	render := func(l sqlLine) string { return fmt.Sprintf("%v tombstone=%v", l.Row, l.Tombstone) }
	for _, want := range []string{fmt.Sprintf("[k1 %v %v 1] tombstone=false", ms(0), ms(0)), fmt.Sprintf("[k1 %v %v 1] tombstone=false", ms(30*time.Second), ms(30*time.Second))} {
		if got := render(nextRow(t, push, 30*time.Second)); got != want {
			t.Fatalf("push query row %s, want %s", got, want)
		}
	}
	// A persistent query writes the merged-away sessions' tombstones.
	sqlMustSucceed(t, srv.HTTP, `CREATE TABLE tap_sessions AS SELECT k, COUNT(*) AS n FROM taps WINDOW SESSION (20 SECONDS) GROUP BY k EMIT CHANGES;`,
		map[string]string{"auto.offset.reset": "earliest"})
	sink := func() (tombstones int, values []string) {
		recs, _ := consumeAll(t, srv.Kafka, "tap_sessions")
		for _, r := range recs[0] {
			if r.Value == nil {
				tombstones++
			} else {
				values = append(values, string(r.Value))
			}
		}
		return tombstones, values
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if _, values := sink(); len(values) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("tap_sessions did not get the two sessions")
		}
	}
	produceAcked(t, prod, []*kgo.Record{tap(15 * time.Second)})
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		tombstones, values := sink()
		if tombstones == 2 && len(values) == 3 && values[2] == `{"N":3}` {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tap_sessions after the merge: %d tombstones, values %q; want 2 tombstones, then {\"N\":3}", tombstones, values)
		}
	}
	got := map[string]bool{}
	for range 3 {
		got[render(nextRow(t, push, 30*time.Second))] = true
	}
	for _, want := range []string{
		fmt.Sprintf("[k1 %v %v <nil>] tombstone=true", ms(0), ms(0)),
		fmt.Sprintf("[k1 %v %v <nil>] tombstone=true", ms(30*time.Second), ms(30*time.Second)),
		fmt.Sprintf("[k1 %v %v 3] tombstone=false", ms(0), ms(30*time.Second)),
	} {
		if !got[want] {
			t.Errorf("after the merge the push query showed %v, want %s among them", got, want)
		}
	}
}
