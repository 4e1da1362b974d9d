package plan_test

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/strata-log/strata/compute/engine"
	"github.com/strata-log/strata/compute/plan"
	"github.com/strata-log/strata/compute/schema"
	"github.com/strata-log/strata/compute/sql"
)

type tables map[string]*plan.Source

func (c tables) Source(name string) (*plan.Source, bool) { s, ok := c[name]; return s, ok }

// TestTableAggregationPipeline plans GROUP BY over a table and runs it as
// the engine runs a persistent query's operators, over changelog batches:
// a key moving to another group leaves the old one (emptied: a deletion),
// a tombstone deletes its key's row, a row failing WHERE deletes it too,
// and a group failing HAVING is a deletion.
func TestTableAggregationPipeline(t *testing.T) {
	s, err := schema.New(schema.Column{Name: "ID", Type: schema.String, Key: true},
		schema.Column{Name: "REGION", Type: schema.String}, schema.Column{Name: "AMOUNT", Type: schema.Double})
	if err != nil {
		t.Fatal(err)
	}
	src := &plan.Source{Name: "ACCOUNTS", Kind: sql.Table, Topic: "accounts", Schema: s,
		KeyFormat: schema.Format{Kind: schema.Kafka}, ValueFormat: schema.Format{Kind: schema.JSON}}
	cat := tables{"ACCOUNTS": src}
	e, err := engine.NewClient(engine.Config{Brokers: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	run := func(stmt string, batches ...[]change) []string {
		t.Helper()
		st, err := sql.ParseStatement(stmt)
		if err != nil {
			t.Fatal(err)
		}
		q, err := plan.PlanQuery(st.(*sql.CreateAsSelect).Query, cat)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		p, err := e.NewPipeline(q, collectRows(&out))
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		for _, b := range batches {
			rec := changelog(plan.SourceSchema(src), b)
			err = p.Push(context.Background(), rec)
			rec.Release()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, "|")
		}
		return out
	}
	row := func(id, region string, amount float64) change { return change{id, region, amount, false} }
	tomb := func(id string) change { return change{id: id, deleted: true} }
	batch := func(rows ...change) []change { return rows }

	got := run("CREATE TABLE t AS SELECT region, COUNT(*) AS n, SUM(amount) AS s FROM accounts GROUP BY region;",
		batch(row("a", "east", 10), row("b", "east", 5), row("c", "west", 1)),
		batch(row("c", "east", 2), tomb("a")),
		batch(tomb("a"), tomb("b"), tomb("c")))
	want := []string{"east 2 15 false", "west 1 1 false", "|",
		"west (null) (null) true", "east 2 7 false", "|",
		"east (null) (null) true", "|"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	got = run("CREATE TABLE t AS SELECT region, COUNT(*) AS n FROM accounts WHERE amount > 1 GROUP BY region HAVING COUNT(*) > 1;",
		batch(row("a", "east", 10), row("b", "east", 5), row("c", "west", 1)),
		batch(row("b", "east", 0.5)),
		batch(row("b", "east", 3)))
	want = []string{"east 2 false", "|",
		"east 1 true", "|",
		"east 2 false", "|"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("with WHERE and HAVING:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// change is a row of the accounts table's changelog.
type change struct {
	id, region string
	amount     float64
	deleted    bool
}

// changelog builds a batch of a table's schema (pseudo columns, ID,
// REGION, AMOUNT, the Deleted flag); a deletion's values are NULL.
func changelog(s *arrow.Schema, rows []change) arrow.Record {
	b := array.NewRecordBuilder(memory.DefaultAllocator, s)
	defer b.Release()
	for _, r := range rows {
		for i := 0; i < schema.NumPseudoColumns; i++ {
			b.Field(i).AppendNull()
		}
		b.Field(3).(*array.StringBuilder).Append(r.id)
		if r.deleted {
			b.Field(4).AppendNull()
			b.Field(5).AppendNull()
		} else {
			b.Field(4).(*array.StringBuilder).Append(r.region)
			b.Field(5).(*array.Float64Builder).Append(r.amount)
		}
		b.Field(6).(*array.BooleanBuilder).Append(r.deleted)
	}
	return b.NewRecord()
}

// TestSessionRetractionsPipeline runs an aggregation over session windows
// with its retractions kept (Query.WithRetractions): a merge of two
// sessions retracts both (their key and bounds, a NULL count, Deleted
// true) before the merged session's row, also past HAVING.
func TestSessionRetractionsPipeline(t *testing.T) {
	s, err := schema.New(schema.Column{Name: "K", Type: schema.String})
	if err != nil {
		t.Fatal(err)
	}
	src := &plan.Source{Name: "CLICKS", Kind: sql.Stream, Topic: "clicks", Schema: s,
		KeyFormat: schema.Format{Kind: schema.None}, ValueFormat: schema.Format{Kind: schema.JSON}}
	e, err := engine.NewClient(engine.Config{Brokers: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	run := func(stmt string, times ...int64) []string {
		t.Helper()
		st, err := sql.ParseStatement(stmt)
		if err != nil {
			t.Fatal(err)
		}
		q, err := plan.PlanQuery(st.(*sql.Query), tables{"CLICKS": src})
		if err != nil {
			t.Fatal(err)
		}
		if q.Deleted || q.WithRetractions() == q {
			t.Fatalf("%s: deleted %v before WithRetractions", stmt, q.Deleted)
		}
		q = q.WithRetractions()
		if q.WithRetractions() != q || !q.Deleted || q.Output().NumFields() != len(q.Names)-1 {
			t.Fatalf("%s: WithRetractions: deleted %v, names %v", stmt, q.Deleted, q.Names)
		}
		var out []string
		p, err := e.NewPipeline(q, collectRows(&out))
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		for _, ms := range times {
			b := array.NewRecordBuilder(memory.DefaultAllocator, plan.SourceSchema(src))
			b.Field(schema.RowTimeIndex).(*array.TimestampBuilder).Append(arrow.Timestamp(ms))
			b.Field(schema.RowPartitionIndex).(*array.Int32Builder).Append(0)
			b.Field(schema.RowOffsetIndex).(*array.Int64Builder).Append(ms)
			b.Field(schema.NumPseudoColumns).(*array.StringBuilder).Append("k1")
			rec := b.NewRecord()
			b.Release()
			err := p.Push(context.Background(), rec)
			rec.Release()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, "|")
		}
		return out
	}
	got := run("SELECT k, WINDOWSTART AS ws, WINDOWEND AS we, COUNT(*) AS n FROM clicks WINDOW SESSION (20 SECONDS) GROUP BY k EMIT CHANGES;",
		0, 30000, 15000)
	want := []string{"k1 0 0 1 false", "|", "k1 30000 30000 1 false", "|",
		"k1 30000 30000 (null) true", "k1 0 0 (null) true", "k1 0 30000 3 false", "|"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	got = run("SELECT k, COUNT(*) AS n FROM clicks WINDOW SESSION (20 SECONDS) GROUP BY k HAVING COUNT(*) > 1 EMIT CHANGES;",
		0, 30000, 15000)
	want = []string{"|", "|", "k1 (null) true", "k1 (null) true", "k1 3 false", "|"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("with HAVING:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// collectRows is a pipeline's emit that appends each output row to out,
// its cells separated by spaces.
func collectRows(out *[]string) func(context.Context, arrow.Record) error {
	return func(_ context.Context, rec arrow.Record) error {
		for i := 0; i < int(rec.NumRows()); i++ {
			var cells []string
			for _, c := range rec.Columns() {
				cells = append(cells, c.ValueStr(i))
			}
			*out = append(*out, strings.Join(cells, " "))
		}
		return nil
	}
}
