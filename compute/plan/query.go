package plan

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/strata-log/strata/compute/exec"
	"github.com/strata-log/strata/compute/expr"
	"github.com/strata-log/strata/compute/schema"
	"github.com/strata-log/strata/compute/sql"
)

// Source is a stream or table of the catalog: a topic and how to decode it.
type Source struct {
	Name        string
	Kind        sql.SourceKind
	Topic       string
	Schema      *schema.Schema // declared columns, keys first
	KeyFormat   schema.Format
	ValueFormat schema.Format
	// Timestamp names the value column holding event time (WITH
	// TIMESTAMP='col'); "" means the record timestamp (ROWTIME).
	Timestamp string
}

// Catalog finds sources by name.
type Catalog interface {
	Source(name string) (*Source, bool)
}

// Query is a planned SELECT over one source: WHERE filters the source's
// batches; then either a projection, or an aggregation (a projection of its
// inputs, the windowed hash aggregation, HAVING, and the projection of the
// select list over the aggregation's output).
type Query struct {
	// Text is the planned query's SQL (sql.Query.String()): the same for
	// every plan of one statement.
	Text   string
	Source *Source
	Alias  string
	Join   *Join         // nil: no JOIN
	Input  *arrow.Schema // the source's batches, or the join's output
	Where  expr.Expr     // nil: every row
	Agg    *Aggregation  // nil: no GROUP BY
	Having expr.Expr     // over the aggregation's output; nil: every row
	// Project computes the output columns, over Input (or over the
	// aggregation's output).
	Project []expr.Expr
	Names   []string
	// Keys are the output columns that are the key of the result (the
	// GROUP BY columns, and WINDOWSTART/WINDOWEND of windowed ones).
	Keys []string
	// Deleted says that the last of Project is the exec.Deleted flag of a
	// changelog (a table's, a table-table join's, or the aggregation of a
	// table's): a true row retracts its key. It is not a column of the
	// result (see Output); sinks write a tombstone.
	Deleted bool
	Emit    sql.EmitKind
	Limit   int64 // -1: none
}

// Aggregation is the GROUP BY part of a query.
type Aggregation struct {
	// Pre computes the aggregation's input columns from the (filtered)
	// source batch: the pseudo columns, then the group keys, then the
	// arguments of the aggregates.
	Pre      []expr.Expr
	PreNames []string
	Keys     []int // columns of Pre that are the group keys
	Time     int   // column of Pre with the event time
	Offset   int   // column of Pre with ROWOFFSET
	Window   *Window
	Calls    []AggCall
	// Table says that the input is a table's changelog (GROUP BY over a
	// table, exec.AggregateConfig.Table): TableKeys are the columns of Pre
	// with the table's primary key, Deleted the column of Pre (named
	// exec.Deleted) that is true for a row deleting its key, which is also
	// where a row fails WHERE (the key leaves the filtered table). The
	// operator's output then ends with the exec.Deleted column, at index
	// Output.NumFields(): true for a group that became empty.
	Table     bool
	TableKeys []int
	Deleted   int
	// Output is the aggregation's output: Keys' columns, WINDOWSTART and
	// WINDOWEND if windowed, one column per call.
	Output *arrow.Schema
}

// Window is the WINDOW clause. Size is the session gap of SESSION
// windows; HasGrace tells a GRACE PERIOD of 0 from none (the default).
type Window struct {
	Kind                 sql.WindowKind
	Size, Advance, Grace time.Duration
	HasGrace             bool
}

// AggCall is one aggregate: Name over column Arg of Pre (-1 for COUNT(*)).
type AggCall struct {
	Name string
	Arg  int
	Out  string
	Type arrow.DataType // of its output
}

// Output returns the result's schema.
func (q *Query) Output() *arrow.Schema {
	n := len(q.Project)
	if q.Deleted {
		n--
	}
	fields := make([]arrow.Field, n)
	for i, e := range q.Project[:n] {
		fields[i] = arrow.Field{Name: q.Names[i], Type: e.Type(), Nullable: true}
	}
	return arrow.NewSchema(fields, nil)
}

// SourceSchema is the batch schema of a source: pseudo columns, keys,
// values, and for a table the exec.Deleted column (a tombstone).
func SourceSchema(src *Source) *arrow.Schema {
	s := src.Schema.Arrow()
	if src.Kind != sql.Table {
		return s
	}
	fields := append(slices.Clone(s.Fields()), arrow.Field{Name: exec.Deleted, Type: arrow.FixedWidthTypes.Boolean})
	return arrow.NewSchema(fields, nil)
}

// PlanQuery plans q against the catalog.
func PlanQuery(q *sql.Query, cat Catalog) (*Query, error) {
	if len(q.PartitionBy) > 0 {
		return nil, errorf(q.PartitionBy[0], "PARTITION BY is not supported yet")
	}
	src, ok := cat.Source(q.From.Name)
	if !ok {
		return nil, errorf(&q.From, "%s does not exist: create it with CREATE STREAM or CREATE TABLE (SHOW STREAMS lists them)", q.From.Name)
	}
	out := &Query{Text: q.String(), Source: src, Alias: q.From.Alias, Input: SourceSchema(src), Emit: q.Emit, Limit: -1}
	if out.Alias == "" {
		out.Alias = src.Name
	}
	if q.Limit != nil {
		out.Limit = *q.Limit
	}
	in := &binder{sc: scopeOf(out.Input, out.Alias)}
	if len(q.Joins) > 0 {
		j, input, sc, err := planJoin(q, src, out.Alias, cat)
		if err != nil {
			return nil, err
		}
		out.Join, out.Input, in.sc = j, input, sc
	}
	if q.Where != nil {
		w, err := in.bind(q.Where)
		if err != nil {
			return nil, err
		}
		if w.Type().ID() != arrow.BOOL {
			return nil, errorf(q.Where, "WHERE must be a BOOLEAN condition, not %s", expr.SQLType(w.Type()))
		}
		out.Where = w
	}
	calls := collectAggregates(q)
	if len(q.GroupBy) == 0 && len(calls) == 0 {
		if q.Window != nil {
			return nil, errorf(q.Window, "WINDOW needs GROUP BY")
		}
		if q.Having != nil {
			return nil, errorf(q.Having, "HAVING needs GROUP BY")
		}
		// A table's rows keep its primary key as their key.
		var keys map[string]bool
		if src.Kind == sql.Table && out.Join == nil {
			keys = map[string]bool{}
			for _, c := range src.Schema.Keys() {
				keys[(&sql.ColumnRef{Name: c.Name}).String()] = true
			}
		}
		if err := out.project(q.Select, in, keys); err != nil {
			return nil, err
		}
		out.keepDeleted(in.sc)
		return out, nil
	}
	if len(q.GroupBy) == 0 {
		return nil, errorf(calls[0], "aggregate %s needs GROUP BY (aggregating a whole stream into one row is not supported)", calls[0])
	}
	return out, out.planAggregation(q, in, calls, src)
}

// project binds the select list over sc. keys, when set, lists the
// expressions (by canonical SQL) that are the result's key columns.
func (out *Query) project(items []sql.SelectItem, b *binder, keys map[string]bool) error {
	unnamed := 0
	for _, it := range items {
		if it.Star {
			for _, c := range b.sc.cols {
				if it.Source != "" && !strings.EqualFold(it.Source, c.source) {
					continue
				}
				if schema.IsPseudoColumn(c.name) || c.name == exec.Deleted {
					continue // SELECT * leaves out ROWTIME and the other pseudo columns, as ksqlDB
				}
				name := c.name
				if b.sc.joined {
					name = c.source + "_" + c.name // ksqlDB's A_COL for the columns of a join
				}
				out.Project = append(out.Project, expr.Column(c.index, name, c.typ))
				out.Names = append(out.Names, name)
				if keys[(&sql.ColumnRef{Name: c.name}).String()] {
					out.Keys = append(out.Keys, name)
				}
			}
			continue
		}
		e, err := b.bind(it.Expr)
		if err != nil {
			return err
		}
		name := it.Alias
		if name == "" {
			if ref, ok := it.Expr.(*sql.ColumnRef); ok {
				name = ref.Name
			} else if fa, ok := it.Expr.(*sql.FieldAccess); ok {
				name = fa.Field
			} else {
				name = fmt.Sprintf("KSQL_COL_%d", unnamed)
				unnamed++
			}
		}
		for _, n := range out.Names {
			if n == name {
				return errorf(&it, "duplicate output column %s: give one an alias with AS", name)
			}
		}
		out.Project = append(out.Project, e)
		out.Names = append(out.Names, name)
		if keys[it.Expr.String()] {
			out.Keys = append(out.Keys, name)
		}
	}
	return nil
}

// keepDeleted carries the input's exec.Deleted column, if it has one, to
// the end of the projection (Query.Deleted).
func (out *Query) keepDeleted(sc *scope) {
	for _, c := range sc.cols {
		if c.name == exec.Deleted {
			out.Project = append(out.Project, expr.Column(c.index, c.name, c.typ))
			out.Names = append(out.Names, c.name)
			out.Deleted = true
			return
		}
	}
}

// collectAggregates lists the distinct aggregate calls of the select list
// and HAVING, in order of appearance.
func collectAggregates(q *sql.Query) []*sql.Call {
	var out []*sql.Call
	seen := map[string]bool{}
	var walk func(e sql.Expr)
	walk = func(e sql.Expr) {
		if e == nil {
			return
		}
		if c, ok := e.(*sql.Call); ok && isAggregate(c.Name) {
			if !seen[c.String()] {
				seen[c.String()] = true
				out = append(out, c)
			}
			return
		}
		for _, ch := range children(e) {
			walk(ch)
		}
	}
	for _, it := range q.Select {
		walk(it.Expr)
	}
	walk(q.Having)
	return out
}

// children lists an expression's direct subexpressions.
func children(e sql.Expr) []sql.Expr {
	switch e := e.(type) {
	case *sql.BinaryExpr:
		return []sql.Expr{e.Left, e.Right}
	case *sql.UnaryExpr:
		return []sql.Expr{e.X}
	case *sql.Call:
		return e.Args
	case *sql.Case:
		out := []sql.Expr{e.Operand, e.Else}
		for _, w := range e.Whens {
			out = append(out, w.Cond, w.Result)
		}
		return out
	case *sql.Cast:
		return []sql.Expr{e.X}
	case *sql.Subscript:
		return []sql.Expr{e.X, e.Index}
	case *sql.FieldAccess:
		return []sql.Expr{e.X}
	case *sql.Between:
		return []sql.Expr{e.X, e.Low, e.High}
	case *sql.InList:
		return append([]sql.Expr{e.X}, e.List...)
	case *sql.Like:
		return []sql.Expr{e.X, e.Pattern}
	case *sql.IsNull:
		return []sql.Expr{e.X}
	}
	return nil
}
