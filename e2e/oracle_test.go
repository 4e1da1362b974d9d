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
	ID       int64    `json:"id"`
	Card     *string  `json:"card"`
	Amount   *float64 `json:"amount"`
	Merchant *string  `json:"merchant"`
	Qty      *int32   `json:"qty"`
	TS       int64    `json:"ts"`
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
			e.Card = &s
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

// oracleCases are the statement shapes checked against DuckDB.
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
		WITH (KAFKA_TOPIC='events', PARTITIONS=3, VALUE_FORMAT='JSON');`, nil)
	events := oracleEvents(1, 3000)
	var recs []*kgo.Record
	for _, e := range events {
		b, _ := json.Marshal(e)
		recs = append(recs, &kgo.Record{Topic: "events", Value: b, Timestamp: time.UnixMilli(e.TS)})
	}
	produceAcked(t, client(t, srv.Kafka), recs)

	db := oracleDuckDB(t, events)
	for _, c := range oracleCases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			want := duckRows(t, db, c.duck)
			got := strataRows(t, srv.HTTP, c.ksql)
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
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("DuckDB %s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, renderRow(vals))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
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
