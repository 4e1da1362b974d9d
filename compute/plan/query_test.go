package plan

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/strata-log/strata/compute/exec"
	"github.com/strata-log/strata/compute/schema"
	"github.com/strata-log/strata/compute/sql"
)

type catalog map[string]*Source

func (c catalog) Source(name string) (*Source, bool) { s, ok := c[name]; return s, ok }

func testCatalog(t *testing.T) catalog {
	t.Helper()
	s, err := schema.New(
		schema.Column{Name: "CARD_NUMBER", Type: schema.String},
		schema.Column{Name: "AMOUNT", Type: schema.Double},
		schema.Column{Name: "MERCHANT", Type: schema.String},
	)
	if err != nil {
		t.Fatal(err)
	}
	return catalog{"AUTHORIZATION_ATTEMPTS": {Name: "AUTHORIZATION_ATTEMPTS", Kind: sql.Stream, Topic: "authorization_attempts",
		Schema: s, KeyFormat: schema.Format{Kind: schema.None}, ValueFormat: schema.Format{Kind: schema.JSON}}}
}

func plan(t *testing.T, cat catalog, src string) (*Query, error) {
	t.Helper()
	st, err := sql.ParseStatement(src)
	if err != nil {
		t.Fatalf("parse %q: %v", src, err)
	}
	q, ok := st.(*sql.Query)
	if !ok {
		q = st.(*sql.CreateAsSelect).Query
	}
	return PlanQuery(q, cat)
}

func TestPlanSeedQuery(t *testing.T) {
	q, err := plan(t, testCatalog(t), `CREATE STREAM possible_fraud AS SELECT card_number, count(*) FROM authorization_attempts
WINDOW TUMBLING (SIZE 5 MINUTE) GROUP BY card_number HAVING count(*) > 3;`)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(q.Names, ","); got != "CARD_NUMBER,KSQL_COL_0" {
		t.Errorf("output columns %s", got)
	}
	if got := strings.Join(q.Keys, ","); got != "CARD_NUMBER" {
		t.Errorf("keys %s", got)
	}
	a := q.Agg
	if a == nil || a.Window == nil || a.Window.Size.Minutes() != 5 || len(a.Calls) != 1 || a.Calls[0].Name != "COUNT" || a.Calls[0].Arg != -1 {
		t.Fatalf("aggregation %+v", a)
	}
	if q.Having == nil || !strings.Contains(q.Having.String(), ">") {
		t.Errorf("having %v", q.Having)
	}
	if got := a.Output.String(); !strings.Contains(got, "WINDOWSTART") || !strings.Contains(got, "KSQL_AGG_0") {
		t.Errorf("aggregation output %s", got)
	}
}

func TestPlanProjection(t *testing.T) {
	q, err := plan(t, testCatalog(t), `SELECT *, amount * 2 AS double_amount, UCASE(merchant) FROM authorization_attempts a WHERE a.amount > 10 EMIT CHANGES LIMIT 3;`)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(q.Names, ","); got != "CARD_NUMBER,AMOUNT,MERCHANT,DOUBLE_AMOUNT,KSQL_COL_0" {
		t.Errorf("output columns %s", got)
	}
	if q.Where == nil || q.Limit != 3 || q.Emit != sql.EmitChanges {
		t.Errorf("where %v limit %d emit %v", q.Where, q.Limit, q.Emit)
	}
}

func TestPlanErrors(t *testing.T) {
	cat := testCatalog(t)
	for _, tc := range []struct{ sql, want string }{
		{"SELECT * FROM nothere;", "line 1:15: NOTHERE does not exist"},
		{"SELECT nope FROM authorization_attempts;", "line 1:8: column NOPE cannot be resolved"},
		{"SELECT merchant, count(*) FROM authorization_attempts GROUP BY card_number;", "line 1:8: column MERCHANT cannot be resolved: after GROUP BY"},
		{"SELECT * FROM authorization_attempts WHERE amount;", "WHERE must be a BOOLEAN condition, not DOUBLE"},
		{"SELECT count(*) FROM authorization_attempts;", "needs GROUP BY"},
		{"SELECT card_number FROM authorization_attempts WHERE count(*) > 1;", "aggregate COUNT is not allowed here"},
		{"SELECT card_number, sum(merchant) FROM authorization_attempts GROUP BY card_number;", "SUM needs a numeric argument, not VARCHAR"},
		{"SELECT card_number, card_number FROM authorization_attempts;", "duplicate output column CARD_NUMBER"},
	} {
		_, err := plan(t, cat, tc.sql)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.sql, err, tc.want)
		}
	}
}

func TestPlanTableKeepsItsKey(t *testing.T) {
	s, err := schema.New(schema.Column{Name: "ID", Type: schema.String, Key: true}, schema.Column{Name: "NAME", Type: schema.String})
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog{"USERS": {Name: "USERS", Kind: sql.Table, Topic: "users", Schema: s,
		KeyFormat: schema.Format{Kind: schema.Kafka}, ValueFormat: schema.Format{Kind: schema.JSON}}}
	for _, q := range []string{"SELECT * FROM users;", "SELECT id, UCASE(name) AS n FROM users;"} {
		p, err := plan(t, cat, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Keys) != 1 || p.Keys[0] != "ID" || !p.Deleted || p.Output().NumFields() != len(p.Names)-1 {
			t.Errorf("%s: keys %v, deleted %v, output %v", q, p.Keys, p.Deleted, p.Output())
		}
	}
}

func accountsCatalog(t *testing.T) catalog {
	t.Helper()
	s, err := schema.New(schema.Column{Name: "ID", Type: schema.String, Key: true},
		schema.Column{Name: "REGION", Type: schema.String}, schema.Column{Name: "AMOUNT", Type: schema.Double})
	if err != nil {
		t.Fatal(err)
	}
	cat := testCatalog(t)
	cat["ACCOUNTS"] = &Source{Name: "ACCOUNTS", Kind: sql.Table, Topic: "accounts", Schema: s,
		KeyFormat: schema.Format{Kind: schema.Kafka}, ValueFormat: schema.Format{Kind: schema.JSON}}
	return cat
}

func TestPlanTableAggregation(t *testing.T) {
	cat := accountsCatalog(t)
	q, err := plan(t, cat, `CREATE TABLE t_counts AS SELECT region, COUNT(*) AS n, SUM(amount) AS s FROM accounts
WHERE amount > 0 GROUP BY region HAVING COUNT(*) > 1;`)
	if err != nil {
		t.Fatal(err)
	}
	a := q.Agg
	if a == nil || !a.Table || len(a.TableKeys) != 1 || a.Deleted < 0 {
		t.Fatalf("aggregation %+v", a)
	}
	if got := a.Pre[a.TableKeys[0]].String(); got != "ID" {
		t.Errorf("table key %s, want ID", got)
	}
	if a.PreNames[a.Deleted] != exec.Deleted || a.Pre[a.Deleted].Type().ID() != arrow.BOOL {
		t.Errorf("deleted column %s %s", a.PreNames[a.Deleted], a.Pre[a.Deleted].Type())
	}
	// WHERE deletes the rows that fail it, rather than skipping them.
	if q.Where != nil || !strings.Contains(a.Pre[a.Deleted].String(), "AMOUNT > 0") {
		t.Errorf("where %v, deleted %s", q.Where, a.Pre[a.Deleted])
	}
	if !q.Deleted || q.Names[len(q.Names)-1] != exec.Deleted || q.Having == nil {
		t.Errorf("deleted %v, names %v, having %v", q.Deleted, q.Names, q.Having)
	}
	if got := q.Output().String(); strings.Contains(got, exec.Deleted) || q.Output().NumFields() != 3 {
		t.Errorf("output %s", got)
	}
	if got := strings.Join(q.Keys, ","); got != "REGION" {
		t.Errorf("keys %s", got)
	}
	// The operator takes the plan's configuration.
	cfg := exec.AggregateConfig{Input: preSchema(a), Keys: a.Keys, Time: a.Time, Table: true, TableKeys: a.TableKeys}
	for _, c := range a.Calls {
		cfg.Aggs = append(cfg.Aggs, exec.AggFunc{Name: c.Name, Arg: c.Arg, OutName: c.Out})
	}
	agg, err := exec.NewAggregate(cfg, func(context.Context, arrow.Record) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer agg.Close()
	if s := agg.Schema(); s.NumFields() != a.Output.NumFields()+1 || s.Field(s.NumFields()-1).Name != exec.Deleted {
		t.Errorf("operator output %s, plan %s", s, a.Output)
	}

	// A stream's aggregation is not a table's.
	if q, err := plan(t, cat, "SELECT merchant, COUNT(*) FROM authorization_attempts GROUP BY merchant;"); err != nil || q.Agg.Table || q.Deleted {
		t.Errorf("stream aggregation: %v, table %v", err, q != nil && q.Agg.Table)
	}
	for _, tc := range []struct{ sql, want string }{
		{"SELECT region, COUNT(*) FROM accounts WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY region;", "line 1:39: WINDOW over table ACCOUNTS is not allowed"},
		{"SELECT region, COUNT(*) FROM accounts GROUP BY region EMIT FINAL;", "EMIT FINAL over table ACCOUNTS is not allowed"},
	} {
		if _, err := plan(t, cat, tc.sql); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.sql, err, tc.want)
		}
	}
}

// preSchema is the schema of an aggregation's input batches.
func preSchema(a *Aggregation) *arrow.Schema {
	fields := make([]arrow.Field, len(a.Pre))
	for i, x := range a.Pre {
		fields[i] = arrow.Field{Name: a.PreNames[i], Type: x.Type(), Nullable: true}
	}
	return arrow.NewSchema(fields, nil)
}
