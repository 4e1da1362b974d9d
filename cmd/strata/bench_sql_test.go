package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSQLBenchGen(t *testing.T) {
	g := &sqlBenchGen{seed: 3, events: 1000, cards: 7, merchants: 3, spanMs: 10 * 60 * 1000}
	again := *g
	cards, merchants := map[int]bool{}, map[int]bool{}
	prev := int64(0)
	for i := range g.events {
		e := g.event(i)
		if e != again.event(i) {
			t.Fatalf("event %d differs between two calls", i)
		}
		if e.card < 0 || e.card >= g.cards || e.merchant < 0 || e.merchant >= g.merchants || e.cents < 0 || e.cents >= 100000 {
			t.Fatalf("event %d out of range: %+v", i, e)
		}
		if e.ts < prev || e.ts < sqlBenchBaseMs || e.ts >= sqlBenchBaseMs+g.spanMs {
			t.Fatalf("event %d at %d: timestamps must grow within the span", i, e.ts)
		}
		prev = e.ts
		cards[e.card], merchants[e.merchant] = true, true
		var v struct {
			Card     string  `json:"card_number"`
			Amount   float64 `json:"amount"`
			Merchant string  `json:"merchant"`
		}
		raw := e.appendValue(nil)
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("event %d: %s: %v", i, raw, err)
		}
		if v.Card != cardNumber(e.card) || len(v.Card) != 16 || v.Merchant != merchantName(e.merchant) || fmt.Sprintf("%.2f", v.Amount) != fmt.Sprintf("%d.%02d", e.cents/100, e.cents%100) {
			t.Fatalf("event %d: %s decodes to %+v, from %+v", i, raw, v, e)
		}
	}
	if len(cards) != g.cards || len(merchants) != g.merchants {
		t.Errorf("%d cards and %d merchants used, want %d and %d", len(cards), len(merchants), g.cards, g.merchants)
	}
	if other := (&sqlBenchGen{seed: 4, events: 1000, cards: 7, merchants: 3, spanMs: 1}); other.event(5) == g.event(5) && other.event(6) == g.event(6) {
		t.Error("another seed makes the same events")
	}
	if e := (&sqlBenchGen{seed: 1, events: 1e10, cards: 1, merchants: 1, spanMs: 1e12}).event(1e10 - 1); e.ts != sqlBenchBaseMs+1e12-100 {
		t.Errorf("the last of 10^10 events over 10^12 ms is at %d", e.ts-sqlBenchBaseMs)
	}
}

// sqlBenchExpected computes what the two queries answer over g's events,
// one string per row: the fraud query's "card|count" and the hopping
// query's "merchant|windowstart|count|total".
func sqlBenchExpected(g *sqlBenchGen) (fraud, hopping []string) {
	const window = 5 * 60 * 1000
	type cardWindow struct {
		card int
		w    int64
	}
	type merchantWindow struct {
		merchant int
		ws       int64
	}
	counts := map[cardWindow]int{}
	type agg struct{ n, cents int64 }
	hops := map[merchantWindow]agg{}
	for i := range g.events {
		e := g.event(i)
		counts[cardWindow{e.card, e.ts / window}]++
		start := e.ts / window * window
		for _, ws := range []int64{start, start - window} {
			a := hops[merchantWindow{e.merchant, ws}]
			a.n++
			a.cents += e.cents
			hops[merchantWindow{e.merchant, ws}] = a
		}
	}
	for k, n := range counts {
		if n > 3 {
			fraud = append(fraud, fmt.Sprintf("%s|%d", cardNumber(k.card), n))
		}
	}
	for k, a := range hops {
		hopping = append(hopping, fmt.Sprintf("%s|%d|%d|%d.%02d", merchantName(k.merchant), k.ws, a.n, a.cents/100, a.cents%100))
	}
	slices.Sort(fraud)
	slices.Sort(hopping)
	return fraud, hopping
}

// renderSQLBenchRows renders an answer's rows as sqlBenchExpected does
// (doubles with two decimals).
func renderSQLBenchRows(t *testing.T, r sqlQueryResult) []string {
	t.Helper()
	var out []string
	for _, row := range r.rows {
		parts := make([]string, len(row))
		for i, v := range row {
			var x any
			if err := json.Unmarshal(v, &x); err != nil {
				t.Fatalf("%s: value %s: %v", r.Query, v, err)
			}
			switch x := x.(type) {
			case float64:
				if baseType(r.columns[i].Type) == "DOUBLE" {
					parts[i] = fmt.Sprintf("%.2f", x)
				} else {
					parts[i] = fmt.Sprintf("%d", int64(x))
				}
			default:
				parts[i] = fmt.Sprint(x)
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	slices.Sort(out)
	return out
}

// TestBenchSQL runs "strata bench sql" end to end with tiny numbers and
// checks the answers against the ones computed from the same generator.
func TestBenchSQL(t *testing.T) {
	clearStrataEnv(t)
	// An hour of events over 50 cards: about 3.3 attempts per card and
	// window, so some windows pass the fraud threshold and some do not.
	args := []string{"bench", "sql", "--events", "2000", "--cards", "50", "--merchants", "5", "--span", "1h",
		"--partitions", "2", "--producers", "3", "--seed", "7", "--cache-memory-bytes", "16777216", "--data-dir", t.TempDir()}
	stdout, _, err := runCLI(t, "", append(args, "--json")...)
	if err != nil {
		t.Fatal(err)
	}
	var res sqlBenchResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("%v in %q", err, stdout)
	}
	g := &sqlBenchGen{seed: 7, events: 2000, cards: 50, merchants: 5, spanMs: time.Hour.Milliseconds()}
	fraud, hopping := sqlBenchExpected(g)
	if len(fraud) == 0 || len(fraud) == 50*12 {
		t.Fatalf("the workload makes %d fraud rows: the test checks little", len(fraud))
	}
	if res.Events != 2000 || res.ProducedMB <= 0 || res.Objects < 1 || res.TieringSeconds <= 0 || res.PhasesAgree == nil || !*res.PhasesAgree {
		t.Fatalf("result: %+v", res)
	}
	if len(res.Queries) != 6 {
		t.Fatalf("%d query results, want 6: %+v", len(res.Queries), res.Queries)
	}
	for i, q := range res.Queries {
		phase, name := sqlBenchPhases[i/2], sqlBenchQueries[i%2].name
		want := map[string]int{"fraud": len(fraud), "hopping": len(hopping)}[name]
		if q.Phase != phase || q.Query != name || q.Events != 2000 || q.Seconds <= 0 || q.EventsPerSec <= 0 || q.ResultRows != want {
			t.Errorf("query %d: %+v, want %s %s with %d rows", i, q, phase, name, want)
		}
		if phase == "hot" && (q.RangeGets != 0 || q.CacheMisses != 0) {
			t.Errorf("hot %s read the object store: %+v", name, q)
		}
		if phase != "hot" && q.CacheMisses == 0 {
			t.Errorf("cold %s missed the read cache nowhere: was it read from the WAL? %+v", name, q)
		}
	}

	// The rows themselves, cold: the same generator, run directly.
	sb := &sqlBench{events: 2000, cards: 50, merchants: 5, span: time.Hour, partitions: 2, producers: 3, seed: 7,
		phases: []string{"cold"}, queryTimeout: time.Minute, dataDir: t.TempDir()}
	sb.server.tier.cacheMemory, sb.server.tier.typedColumns = 16<<20, true
	res, err = runSQLBench(context.Background(), io.Discard, sb)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Queries) != 2 || res.PhasesAgree != nil {
		t.Fatalf("--phases cold: %+v", res)
	}
	for i, want := range [][]string{fraud, hopping} {
		if got := renderSQLBenchRows(t, res.Queries[i]); !slices.Equal(got, want) {
			t.Errorf("%s: %d rows, want %d\n got %.5q…\nwant %.5q…", res.Queries[i].Query, len(got), len(want), got, want)
		}
	}
}

func TestBenchSQLFlagErrors(t *testing.T) {
	clearStrataEnv(t)
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"--events", "0"}, "--events 0: must be at least 1"},
		{[]string{"--cards", "0"}, "--cards 0"},
		{[]string{"--merchants", "-1"}, "--merchants -1"},
		{[]string{"--span", "0s"}, "--span 0s: must be at least 1ms"},
		{[]string{"--partitions", "0"}, "--partitions 0"},
		{[]string{"--producers", "0"}, "--producers 0: must be between 1 and 64"},
		{[]string{"--phases", "warm"}, `--phases "warm": want one or more of hot, cold, cold-json`},
		{[]string{"--phases", "hot,hot"}, "--phases: hot given twice"},
		{[]string{"--query-timeout", "0s"}, "--query-timeout 0s"},
		{[]string{"--cache-memory-bytes", "-1"}, "--cache-memory-bytes -1"},
		{[]string{"--s3-endpoint", "http://127.0.0.1:9"}, "--s3-bucket: required"},
	} {
		_, _, err := runCLI(t, "", append([]string{"bench", "sql"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%v: error = %v, want containing %q", tc.args, err, tc.err)
		}
	}
}

func TestWriteSQLBench(t *testing.T) {
	agree := true
	r := sqlBenchResult{Events: 1000, ProducedMB: 0.07, ProduceSeconds: 0.5, ProduceEventsPerSec: 2000, TieringSeconds: 1.5, Objects: 2, StoredMB: 0.03,
		PhasesAgree: &agree, Queries: []sqlQueryResult{
			{Phase: "hot", Query: "fraud", Events: 1000, Seconds: 0.25, EventsPerSec: 4000, ResultRows: 12},
			{Phase: "cold", Query: "hopping", Events: 1000, Seconds: 2, EventsPerSec: 500, ResultRows: 300, RangeGets: 3, CacheMisses: 2},
		}}
	var buf bytes.Buffer
	if err := writeSQLBench(&buf, r, false); err != nil {
		t.Fatal(err)
	}
	want := `produce (acks=all):  1000 events, 0.1 MB of JSON values in 0.50s = 2000 events/s
tiering:             1.50s until the manifests covered every event: 2 objects, 0.0 MB stored

phase  query    events  seconds  events/s  result rows  ranged GETs  cache misses
hot    fraud    1000    0.25     4000      12           0            0
cold   hopping  1000    2.00     500       300          3            2

the phases' answers agree
`
	if buf.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", buf.String(), want)
	}
	buf.Reset()
	if err := writeSQLBench(&buf, r, true); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, buf.String())
	}
	qs := back["queries"].([]any)
	if back["phasesAgree"] != true || len(qs) != 2 || qs[1].(map[string]any)["eventsPerSec"].(float64) != 500 || qs[0].(map[string]any)["resultRows"].(float64) != 12 {
		t.Errorf("JSON: %s", buf.String())
	}
}

func TestDiffSQLAnswers(t *testing.T) {
	cols := []sqlColumn{{"MERCHANT", "STRING"}, {"N", "BIGINT"}, {"TOTAL", "DOUBLE"}}
	row := func(vals ...string) []json.RawMessage {
		out := make([]json.RawMessage, len(vals))
		for i, v := range vals {
			out[i] = json.RawMessage(v)
		}
		return out
	}
	a := sqlQueryResult{columns: cols, rows: [][]json.RawMessage{row(`"m1"`, "2", "0.3"), row(`"m2"`, "1", "5")}}
	b := sqlQueryResult{columns: cols, rows: [][]json.RawMessage{row(`"m2"`, "1", "5"), row(`"m1"`, "2", "0.30000000000000004")}}
	if d := diffSQLAnswers(a, b); d != "" {
		t.Errorf("same rows in another order, sums added in another order: %s", d)
	}
	b.rows[0] = row(`"m2"`, "2", "5")
	if d := diffSQLAnswers(a, b); d == "" {
		t.Error("different counts agree")
	}
	b.rows[0] = row(`"m2"`, "1", "5.001")
	if d := diffSQLAnswers(a, b); d == "" {
		t.Error("different sums agree")
	}
	if d := diffSQLAnswers(a, sqlQueryResult{columns: cols}); !strings.Contains(d, "2 rows vs 0") {
		t.Errorf("missing rows: %q", d)
	}
}
