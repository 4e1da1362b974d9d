package e2e

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // the "duckdb" database/sql driver: the oracle
	"github.com/twmb/franz-go/pkg/kgo"
)

// oracleEvent is a row of the oracle's random data.
type oracleEvent struct {
	ID   int64   `json:"id"`
	Card *string `json:"card"`
	// CardNumber repeats Card for the seed's authorization_attempts stream.
	CardNumber *string  `json:"card_number"`
	Amount     *float64 `json:"amount"`
	Merchant   *string  `json:"merchant"`
	Qty        *int32   `json:"qty"`
	TS         int64    `json:"ts"`
}

// oracleEvents makes n events over a few hours of event time, mostly in
// order, with NULLs in every nullable column.
func oracleEvents(seed uint64, n int) []oracleEvent {
	rng := rand.New(rand.NewPCG(seed, 7))
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	maybe := func() bool { return rng.IntN(20) != 0 }
	out := make([]oracleEvent, n)
	for i := range out {
		e := oracleEvent{ID: int64(i), TS: base + int64(i)*2000 + rng.Int64N(60000)}
		if maybe() {
			s := fmt.Sprintf("card-%02d", rng.IntN(25))
			e.Card, e.CardNumber = &s, &s
		}
		if maybe() {
			a := math.Round(rng.Float64()*20000) / 100
			e.Amount = &a
		}
		if maybe() {
			m := []string{"ACME", "Globex", "Initech", "Umbrella", "acme corp"}[rng.IntN(5)]
			e.Merchant = &m
		}
		if maybe() {
			q := int32(rng.IntN(10) - 2)
			e.Qty = &q
		}
		out[i] = e
	}
	return out
}

// oracleCase is a question asked of Strata (ksql) and of DuckDB (duck)
// over the same rows.
type oracleCase struct {
	name, ksql, duck string
}

// oracleCases are the statement shapes checked against DuckDB. Where
// ksqlDB's semantics differ from standard SQL, the DuckDB side spells
// ksqlDB's out: GROUP BY drops NULL keys, SUM of only NULLs is 0.
var oracleCases = []oracleCase{
	{"projection",
		"SELECT id, card, amount * 2 AS a2, qty + 1 AS q1 FROM events;",
		"SELECT id, card, amount * 2, qty + 1 FROM events"},
	{"filter",
		"SELECT id, merchant FROM events WHERE amount > 50.5 AND merchant = 'ACME' OR qty < 0;",
		"SELECT id, merchant FROM events WHERE amount > 50.5 AND merchant = 'ACME' OR qty < 0"},
	{"null tests",
		"SELECT id FROM events WHERE card IS NULL OR (amount IS NOT NULL AND qty IS NULL);",
		"SELECT id FROM events WHERE card IS NULL OR (amount IS NOT NULL AND qty IS NULL)"},
	{"between in like",
		"SELECT id, qty FROM events WHERE qty BETWEEN 1 AND 4 AND merchant IN ('ACME', 'Globex') AND card LIKE 'card-1%';",
		"SELECT id, qty FROM events WHERE qty BETWEEN 1 AND 4 AND merchant IN ('ACME', 'Globex') AND card LIKE 'card-1%'"},
	{"case cast",
		"SELECT id, CASE WHEN amount > 100 THEN 'big' WHEN amount > 10 THEN 'mid' ELSE 'small' END AS size, CAST(qty AS DOUBLE) / 2 AS half FROM events;",
		"SELECT id, CASE WHEN amount > 100 THEN 'big' WHEN amount > 10 THEN 'mid' ELSE 'small' END, CAST(qty AS DOUBLE) / 2 FROM events"},
	{"string functions",
		"SELECT id, UCASE(merchant) AS u, LCASE(merchant) AS l, LEN(merchant) AS n, SUBSTRING(card, 6, 2) AS s, CONCAT(card, '/', merchant) AS c FROM events WHERE merchant IS NOT NULL AND card IS NOT NULL;",
		"SELECT id, upper(merchant), lower(merchant), length(merchant), substring(card, 6, 2), concat(card, '/', merchant) FROM events WHERE merchant IS NOT NULL AND card IS NOT NULL"},
	{"math and nulls",
		"SELECT id, ABS(qty) AS a, FLOOR(amount) AS f, CEIL(amount) AS c, COALESCE(qty, -100) AS q, IFNULL(card, 'none') AS k FROM events;",
		"SELECT id, abs(qty), floor(amount), ceil(amount), coalesce(qty, -100), ifnull(card, 'none') FROM events"},
	{"group by",
		"SELECT card, COUNT(*) AS n, SUM(qty) AS s, MIN(amount) AS lo, MAX(amount) AS hi, COUNT(qty) AS nq, AVG(amount) AS av FROM events GROUP BY card;",
		"SELECT card, count(*), coalesce(sum(qty), 0), min(amount), max(amount), count(qty), avg(amount) FROM events WHERE card IS NOT NULL GROUP BY card"},
	{"group by expression having",
		"SELECT UCASE(merchant) AS m, COUNT(*) AS n, COUNT_DISTINCT(card) AS cards FROM events WHERE qty > 0 GROUP BY UCASE(merchant) HAVING COUNT(*) > 10;",
		"SELECT upper(merchant), count(*), count(DISTINCT card) FROM events WHERE qty > 0 AND merchant IS NOT NULL GROUP BY upper(merchant) HAVING count(*) > 10"},
	{"seed fraud query",
		"SELECT card_number, count(*) FROM authorization_attempts WINDOW TUMBLING (SIZE 5 MINUTE) GROUP BY card_number HAVING count(*) > 3;",
		"SELECT card, count(*) FROM events WHERE card IS NOT NULL GROUP BY card, ts // 300000 HAVING count(*) > 3"},
	{"tumbling window bounds",
		"SELECT card_number, WINDOWSTART AS ws, WINDOWEND AS we, count(*) AS attempts, MAX(amount) AS top FROM authorization_attempts WINDOW TUMBLING (SIZE 5 MINUTES) GROUP BY card_number;",
		"SELECT card, (ts // 300000) * 300000, (ts // 300000) * 300000 + 300000, count(*), max(amount) FROM events WHERE card IS NOT NULL GROUP BY card, ts // 300000"},
	{"hopping window",
		"SELECT card, WINDOWSTART AS ws, COUNT(*) AS n, SUM(amount) AS total FROM events WINDOW HOPPING (SIZE 10 MINUTES, ADVANCE BY 5 MINUTES) GROUP BY card;",
		"SELECT card, ws, count(*), coalesce(sum(amount), 0) FROM (SELECT card, amount, unnest([(ts // 300000) * 300000, (ts // 300000) * 300000 - 300000]) AS ws FROM events WHERE card IS NOT NULL) GROUP BY card, ws"},
	{"session window",
		"SELECT merchant, WINDOWSTART AS ws, WINDOWEND AS we, COUNT(*) AS n FROM events WINDOW SESSION (20 SECONDS) GROUP BY merchant;",
		`SELECT merchant, min(ts), max(ts), count(*) FROM (
			SELECT merchant, ts, sum(CASE WHEN ts - prev > 20000 THEN 1 ELSE 0 END) OVER (PARTITION BY merchant ORDER BY ts ROWS UNBOUNDED PRECEDING) AS session
			FROM (SELECT merchant, ts, lag(ts, 1, ts) OVER (PARTITION BY merchant ORDER BY ts) AS prev FROM events WHERE merchant IS NOT NULL))
		GROUP BY merchant, session`},
	{"stream-stream join",
		"SELECT e.id, p.pid, p.paid FROM events e JOIN payments p WITHIN 1 MINUTE ON e.card = p.card;",
		"SELECT e.id, p.pid, p.paid FROM events e JOIN payments p ON e.card = p.card AND p.ts BETWEEN e.ts - 60000 AND e.ts + 60000"},
	{"stream-stream left join before after",
		"SELECT e.id, p.pid FROM events e LEFT JOIN payments p WITHIN (10 SECONDS, 1 MINUTE) ON e.card = p.card WHERE e.qty > 5;",
		"SELECT e.id, p.pid FROM events e LEFT JOIN payments p ON e.card = p.card AND p.ts BETWEEN e.ts - 10000 AND e.ts + 60000 WHERE e.qty > 5"},
	{"stream-stream full join",
		"SELECT e.id, p.pid FROM events e FULL OUTER JOIN payments p WITHIN 30 SECONDS ON e.card = p.card;",
		"SELECT e.id, p.pid FROM events e FULL OUTER JOIN payments p ON e.card = p.card AND p.ts BETWEEN e.ts - 30000 AND e.ts + 30000"},
	{"stream-table join",
		"SELECT e.id, e.merchant, m.category FROM events e LEFT JOIN merchants m ON e.merchant = m.name;",
		"SELECT e.id, e.merchant, m.category FROM events e LEFT JOIN merchants m ON e.merchant = m.name"},
	{"join then aggregate",
		"SELECT m.category, COUNT(*) AS n, SUM(e.amount) AS total FROM events e JOIN merchants m ON e.merchant = m.name GROUP BY m.category;",
		"SELECT m.category, count(*), coalesce(sum(e.amount), 0) FROM events e JOIN merchants m ON e.merchant = m.name WHERE m.category IS NOT NULL GROUP BY m.category"},
	{"GROUP BY over a table",
		"SELECT region, COUNT(*) AS n, SUM(qty) AS s, COUNT(amount) AS na, AVG(amount) AS av, MIN(amount) AS lo, MAX(amount) AS hi FROM accounts GROUP BY region;",
		"SELECT region, count(*), coalesce(sum(qty), 0), count(amount), coalesce(avg(amount), 0), min(amount), max(amount) FROM accounts WHERE region IS NOT NULL GROUP BY region"},
	{"GROUP BY over a table where having",
		"SELECT UCASE(region) AS r, COUNT(*) AS n, COUNT_DISTINCT(qty) AS q FROM accounts WHERE amount > 40 GROUP BY UCASE(region) HAVING COUNT(*) > 2;",
		"SELECT upper(region), count(*), count(DISTINCT qty) FROM accounts WHERE region IS NOT NULL AND amount > 40 GROUP BY upper(region) HAVING count(*) > 2"},
	{"integer arithmetic",
		"SELECT id, qty * 3 - 1 AS a, qty % 3 AS m, id / 7 AS d FROM events WHERE qty IS NOT NULL;",
		"SELECT id, qty * 3 - 1, qty % 3, id // 7 FROM events WHERE qty IS NOT NULL"},
}

// TestOracleDuckDB generates random events into a topic, asks Strata's SQL
// endpoint each question of oracleCases as a pull query, asks DuckDB the
// same question over the same rows, and compares the answers as multisets
// of rows (doubles to 9 significant digits).
func TestOracleDuckDB(t *testing.T) {
	srv := StartDev(t, t.TempDir())
	sqlMustSucceed(t, srv.HTTP, `CREATE STREAM events (id BIGINT, card STRING, amount DOUBLE, merchant STRING, qty INT, ts BIGINT)
		WITH (KAFKA_TOPIC='events', PARTITIONS=3, VALUE_FORMAT='JSON');
		CREATE STREAM authorization_attempts (card_number STRING, amount DOUBLE) WITH (KAFKA_TOPIC='events', VALUE_FORMAT='JSON');`, nil)
	events := oracleEvents(1, 3000)
	var recs []*kgo.Record
	for _, e := range events {
		b, _ := json.Marshal(e)
		recs = append(recs, &kgo.Record{Topic: "events", Value: b, Timestamp: time.UnixMilli(e.TS)})
	}
	produceAcked(t, client(t, srv.Kafka), recs)

	// Payments, for stream-stream joins, and a table of merchants (a keyed
	// topic), for stream-table joins.
	sqlMustSucceed(t, srv.HTTP, `CREATE STREAM payments (pid BIGINT, card STRING, paid DOUBLE) WITH (KAFKA_TOPIC='payments', PARTITIONS=2, VALUE_FORMAT='JSON');
		CREATE TABLE merchants (name STRING PRIMARY KEY, category STRING) WITH (KAFKA_TOPIC='merchants', PARTITIONS=1, VALUE_FORMAT='JSON');`, nil)
	payments := oraclePayments(2, 1000, events)
	recs = recs[:0]
	for _, p := range payments {
		b, _ := json.Marshal(p)
		recs = append(recs, &kgo.Record{Topic: "payments", Value: b, Timestamp: time.UnixMilli(p.TS)})
	}
	merchants := map[string]string{"ACME": "tools", "Globex": "energy", "Initech": "software", "acme corp": "tools"}
	for name, cat := range merchants {
		recs = append(recs, &kgo.Record{Topic: "merchants", Key: []byte(name), Value: []byte(fmt.Sprintf(`{"category":%q}`, cat))})
	}
	produceAcked(t, client(t, srv.Kafka), recs)

	// A table of accounts whose changelog updates and deletes keys, for
	// GROUP BY over a table: DuckDB gets the table's final rows.
	sqlMustSucceed(t, srv.HTTP, `CREATE TABLE accounts (id STRING PRIMARY KEY, region STRING, amount DOUBLE, qty INT)
		WITH (KAFKA_TOPIC='accounts', PARTITIONS=2, VALUE_FORMAT='JSON');`, nil)
	changes := oracleAccounts(3, 1500)
	recs = recs[:0]
	final := map[string]*oracleAccount{}
	var ids []string
	for _, c := range changes {
		r := &kgo.Record{Topic: "accounts", Key: []byte(c.ID)}
		if c.Row != nil {
			r.Value, _ = json.Marshal(c.Row)
		}
		recs = append(recs, r)
		if _, ok := final[c.ID]; !ok {
			ids = append(ids, c.ID)
		}
		final[c.ID] = c.Row
	}
	produceAcked(t, client(t, srv.Kafka), recs)

	db := oracleDuckDB(t, events)
	oracleExec(t, db, `CREATE TABLE accounts (id VARCHAR, region VARCHAR, amount DOUBLE, qty INTEGER)`)
	live := 0
	for _, id := range ids {
		if a := final[id]; a != nil {
			oracleExec(t, db, `INSERT INTO accounts VALUES (?, ?, ?, ?)`, id, a.Region, a.Amount, a.Qty)
			live++
		}
	}
	t.Logf("accounts: %d changes of %d keys, %d of them live at the end", len(changes), len(ids), live)
	oracleExec(t, db, `CREATE TABLE payments (pid BIGINT, card VARCHAR, paid DOUBLE, ts BIGINT)`)
	for _, p := range payments {
		oracleExec(t, db, `INSERT INTO payments VALUES (?, ?, ?, ?)`, p.PID, p.Card, p.Paid, p.TS)
	}
	oracleExec(t, db, `CREATE TABLE merchants (name VARCHAR, category VARCHAR)`)
	for name, cat := range merchants {
		oracleExec(t, db, `INSERT INTO merchants VALUES (?, ?)`, name, cat)
	}
	askOracle(t, db, srv.HTTP, oracleCases)
}

// askOracle asks each case of Strata at base and of DuckDB in db, in a
// subtest, and fails it unless both give the same rows, and some.
func askOracle(t *testing.T, db *sql.DB, base string, cases []oracleCase) {
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			want := duckRows(t, db, c.duck)
			got := strataRows(t, base, c.ksql)
			if len(want) == 0 {
				t.Fatalf("DuckDB answered no rows: the case checks nothing")
			}
			if d := diffRows(got, want); d != "" {
				t.Fatalf("%s\nStrata and DuckDB differ (%d vs %d rows):\n%s", c.ksql, len(got), len(want), d)
			}
			t.Logf("%d rows agree", len(got))
		})
	}
}

// oracleDuckDB loads events into an in-memory DuckDB table "events".
func oracleDuckDB(t *testing.T, events []oracleEvent) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE events (id BIGINT, card VARCHAR, amount DOUBLE, merchant VARCHAR, qty INTEGER, ts BIGINT)`); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	st, err := tx.Prepare(`INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)`)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if _, err := st.Exec(e.ID, e.Card, e.Amount, e.Merchant, e.Qty, e.TS); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return db
}

// duckRows runs q on DuckDB and renders each row.
func duckRows(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	return duckQuery(t, db, q, renderRow)
}

// duckQuery asks q of db and renders each row with render.
func duckQuery(tb testing.TB, db *sql.DB, q string, render func([]any) string) []string {
	tb.Helper()
	rows, err := db.Query(q)
	if err != nil {
		tb.Fatalf("DuckDB %s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			tb.Fatal(err)
		}
		out = append(out, render(vals))
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// strataRows runs q on Strata's SQL endpoint and renders each row.
func strataRows(t *testing.T, base, q string) []string {
	t.Helper()
	var out []string
	for _, r := range sqlRows(sqlMustSucceed(t, base, q, nil)) {
		out = append(out, renderRow(r))
	}
	return out
}

// renderRow renders values the same way whichever side they come from:
// numbers as numbers (9 significant digits), NULL as NULL.
func renderRow(vals []any) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		switch v := v.(type) {
		case nil:
			parts[i] = "NULL"
		case float64:
			parts[i] = renderNumber(v)
		case float32:
			parts[i] = renderNumber(float64(v))
		case int64:
			parts[i] = renderNumber(float64(v))
		case int32:
			parts[i] = renderNumber(float64(v))
		case int:
			parts[i] = renderNumber(float64(v))
		case json.Number:
			f, _ := v.Float64()
			parts[i] = renderNumber(f)
		default:
			parts[i] = fmt.Sprint(v)
		}
	}
	return strings.Join(parts, " | ")
}

func renderNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return fmt.Sprintf("%d", int64(f))
	}
	return fmt.Sprintf("%.9g", f)
}

// diffRows compares two multisets of rendered rows and describes up to ten
// differences ("" when equal).
func diffRows(got, want []string) string {
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	var d []string
	i, j := 0, 0
	for (i < len(g) || j < len(w)) && len(d) < 10 {
		switch {
		case j >= len(w) || (i < len(g) && g[i] < w[j]):
			d = append(d, "  only Strata: "+g[i])
			i++
		case i >= len(g) || w[j] < g[i]:
			d = append(d, "  only DuckDB: "+w[j])
			j++
		default:
			i++
			j++
		}
	}
	return strings.Join(d, "\n")
}

// oraclePayment is a row of the payments stream.
type oraclePayment struct {
	PID  int64    `json:"pid"`
	Card *string  `json:"card"`
	Paid *float64 `json:"paid"`
	TS   int64    `json:"ts"`
}

// oraclePayments makes n payments of the events' cards, near the events'
// times.
func oraclePayments(seed uint64, n int, events []oracleEvent) []oraclePayment {
	rng := rand.New(rand.NewPCG(seed, 9))
	out := make([]oraclePayment, n)
	for i := range out {
		e := events[rng.IntN(len(events))]
		p := oraclePayment{PID: int64(i), TS: e.TS + rng.Int64N(240000) - 120000}
		if rng.IntN(20) != 0 {
			c := fmt.Sprintf("card-%02d", rng.IntN(25))
			p.Card = &c
		}
		if rng.IntN(10) != 0 {
			v := math.Round(rng.Float64()*10000) / 100
			p.Paid = &v
		}
		out[i] = p
	}
	return out
}

func oracleExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("DuckDB %s: %v", q, err)
	}
}

// oracleAccount is a row of the accounts table (its value).
type oracleAccount struct {
	Region *string  `json:"region"`
	Amount *float64 `json:"amount"`
	Qty    *int32   `json:"qty"`
}

// oracleChange is a change of the accounts table: a key's new row, or its
// deletion (a tombstone) when Row is nil.
type oracleChange struct {
	ID  string
	Row *oracleAccount
}

// oracleAccounts makes n changes of 60 keys: new rows that move keys
// between regions, with NULLs, and about one in eight a deletion (also of
// keys without a row).
func oracleAccounts(seed uint64, n int) []oracleChange {
	rng := rand.New(rand.NewPCG(seed, 11))
	out := make([]oracleChange, n)
	for i := range out {
		c := oracleChange{ID: fmt.Sprintf("acct-%02d", rng.IntN(60))}
		if rng.IntN(8) != 0 {
			a := &oracleAccount{}
			if rng.IntN(15) != 0 {
				r := []string{"north", "south", "east", "west", "North"}[rng.IntN(5)]
				a.Region = &r
			}
			if rng.IntN(10) != 0 {
				v := math.Round(rng.Float64()*10000) / 100
				a.Amount = &v
			}
			if rng.IntN(10) != 0 {
				q := int32(rng.IntN(7))
				a.Qty = &q
			}
			c.Row = a
		}
		out[i] = c
	}
	return out
}
