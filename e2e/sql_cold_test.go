package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestSQLColdScan asks DuckDB's questions of data most of which is in the
// tiered log and the rest in the WAL. Tiering writes typed columns for the
// events stream (the declared source of its topic with the most columns),
// so queries over it read them; authorization_attempts, over the same
// topic but with a column events lacks, reads the segments' raw JSON; the
// accounts table's typed columns carry its tombstones. None of these
// reads goes through Fetch's cold path: the scans open the objects.
func TestSQLColdScan(t *testing.T) {
	const cold, hot = 12000, 2000
	srv := StartDev(t, t.TempDir(), "--segment-ms", "2s", "--wal-segment-bytes", "1048576")
	sqlMustSucceed(t, srv.HTTP, `CREATE STREAM events (id BIGINT, card STRING, amount DOUBLE, merchant STRING, qty INT, ts BIGINT)
		WITH (KAFKA_TOPIC='events', PARTITIONS=3, VALUE_FORMAT='JSON');
		CREATE STREAM authorization_attempts (card_number STRING, amount DOUBLE) WITH (KAFKA_TOPIC='events', VALUE_FORMAT='JSON');
		CREATE TABLE accounts (id STRING PRIMARY KEY, region STRING, amount DOUBLE) WITH (KAFKA_TOPIC='accounts', PARTITIONS=2, VALUE_FORMAT='JSON');`, nil)
	events := oracleEvents(5, cold+hot)
	produce := func(evs []oracleEvent) {
		var recs []*kgo.Record
		for _, e := range evs {
			b, _ := json.Marshal(e)
			recs = append(recs, &kgo.Record{Topic: "events", Value: b, Timestamp: time.UnixMilli(e.TS)})
		}
		produceAcked(t, client(t, srv.Kafka), recs)
	}
	// In six rounds, each tiered before the next: segments of about 80
	// minutes of event time each, which a WHERE on ROWTIME can skip.
	for i := 0; i < 6; i++ {
		produce(events[i*cold/6 : (i+1)*cold/6])
		waitTiered(t, srv, "events", 60*time.Second)
	}

	// Accounts: updates and deletes of 300 keys.
	rng := rand.New(rand.NewPCG(9, 9))
	type account struct {
		Region string  `json:"region"`
		Amount float64 `json:"amount"`
	}
	final := map[string]*account{}
	var recs []*kgo.Record
	for i := 0; i < 3000; i++ {
		id := fmt.Sprintf("acct-%03d", rng.IntN(300))
		r := &kgo.Record{Topic: "accounts", Key: []byte(id)}
		if rng.IntN(6) == 0 {
			final[id] = nil
		} else {
			a := &account{Region: []string{"north", "south", "east", "west"}[rng.IntN(4)], Amount: float64(rng.IntN(100000)) / 100}
			r.Value, _ = json.Marshal(a)
			final[id] = a
		}
		recs = append(recs, r)
	}
	produceAcked(t, client(t, srv.Kafka), recs)

	for _, topic := range []string{"events", "accounts"} {
		ms := waitTiered(t, srv, topic, 60*time.Second)
		typed := 0
		for _, m := range ms {
			for _, s := range m.Segments {
				if s.Columns != "" {
					typed++
				}
			}
		}
		if typed == 0 {
			t.Fatalf("no segment of %s has typed columns (%s)", topic, describeManifests(ms))
		}
		t.Logf("%s: %d segments with typed columns", topic, typed)
	}
	waitMetric(t, srv, "strata_wal_segments", "<=", 2, 30*time.Second)
	produce(events[cold:]) // these stay in the WAL

	db := oracleDuckDB(t, events)
	oracleExec(t, db, `CREATE TABLE accounts (id VARCHAR, region VARCHAR, amount DOUBLE)`)
	for id, a := range final {
		if a != nil {
			oracleExec(t, db, `INSERT INTO accounts VALUES (?, ?, ?)`, id, a.Region, a.Amount)
		}
	}
	cases := []oracleCase{{"table rows", "SELECT id, region, amount FROM accounts;", "SELECT id, region, amount FROM accounts"}}
	for _, c := range oracleCases {
		switch c.name {
		case "projection", "filter", "group by", "seed fraud query", "hopping window", "session window":
			cases = append(cases, c)
		}
	}
	coldReads := serverMetric(t, srv, "strata_tiering_cold_reads_total")
	metric := func(columns string) float64 {
		return serverMetric(t, srv, `strata_sql_cold_rows_total{columns="`+columns+`"}`)
	}
	typed0, values0 := metric("typed"), metric("values")
	askOracle(t, db, srv.HTTP, cases)
	// events and accounts read typed columns; authorization_attempts (the
	// seed fraud query) decoded the values.
	typed, values := metric("typed")-typed0, metric("values")-values0
	if typed < cold || values < cold {
		t.Errorf("cold scans read %v rows from typed columns and decoded %v, want at least %d of each", typed, values, cold)
	}
	t.Logf("cold scans: %v rows from typed columns, %v decoded", typed, values)
	// A WHERE on ROWTIME: the scan reads only the row groups whose
	// timestamps meet it (an hour of the events' eight).
	from, to := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC), time.Date(2026, 11, 1, 4, 0, 0, 0, time.UTC)
	read0 := metric("typed") + metric("values")
	want := duckRows(t, db, fmt.Sprintf("SELECT id, card FROM events WHERE ts >= %d AND ts < %d", from.UnixMilli(), to.UnixMilli()))
	got := strataRows(t, srv.HTTP, fmt.Sprintf("SELECT id, card FROM events WHERE ROWTIME >= '%s' AND ROWTIME < '%s';",
		from.Format("2006-01-02T15:04:05"), to.Format("2006-01-02T15:04:05")))
	if len(want) == 0 {
		t.Fatal("DuckDB answered no rows for the hour")
	}
	if d := diffRows(got, want); d != "" {
		t.Errorf("WHERE on ROWTIME: Strata and DuckDB differ (%d vs %d rows):\n%s", len(got), len(want), d)
	}
	if read := metric("typed") + metric("values") - read0; read >= cold/2 {
		t.Errorf("WHERE on ROWTIME: the scan read %v cold rows for %d in the hour: it skipped no row groups", read, len(want))
	} else {
		t.Logf("WHERE on ROWTIME: %d rows, %v read from the cold tier", len(got), read)
	}
	if after := serverMetric(t, srv, "strata_tiering_cold_reads_total"); after != coldReads {
		t.Errorf("strata_tiering_cold_reads_total went from %v to %v: the scans read the tiered log through Fetch", coldReads, after)
	}
}
