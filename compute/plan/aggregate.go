package plan

import (
	"slices"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/strata-log/strata/compute/exec"
	"github.com/strata-log/strata/compute/expr"
	"github.com/strata-log/strata/compute/schema"
	"github.com/strata-log/strata/compute/sql"
)

// Names of the window bounds in a windowed aggregation's output.
const (
	WindowStart = "WINDOWSTART"
	WindowEnd   = "WINDOWEND"
)

// planAggregation plans GROUP BY: the aggregation's input projection, the
// aggregation, HAVING and the select list over its output.
func (out *Query) planAggregation(q *sql.Query, in *binder, calls []*sql.Call, src *Source) error {
	a := &Aggregation{Deleted: -1}
	if src.Kind == sql.Table && out.Join == nil {
		// ksqlDB aggregates a table's changelog, never in windows.
		if q.Window != nil {
			return errorf(q.Window, "WINDOW over table %s is not allowed: windowed aggregations need a stream, a table's aggregation is not windowed", src.Name)
		}
		if q.Emit == sql.EmitFinal {
			return errorf(q, "EMIT FINAL over table %s is not allowed: a table's aggregation emits changes (EMIT CHANGES)", src.Name)
		}
		a.Table = true
	}
	add := func(e expr.Expr, name string) int {
		a.Pre = append(a.Pre, e)
		a.PreNames = append(a.PreNames, name)
		return len(a.Pre) - 1
	}
	for i, f := range out.Input.Fields()[:schema.NumPseudoColumns] {
		add(expr.Column(i, f.Name, f.Type), f.Name)
	}
	a.Offset = schema.RowOffsetIndex
	a.Time = schema.RowTimeIndex
	if src.Timestamp != "" {
		c, err := in.sc.resolve(&sql.ColumnRef{Name: src.Timestamp})
		if err != nil {
			return err
		}
		a.Time = add(expr.Column(c.index, c.name, c.typ), "__TIME")
	}

	// The group keys: their output names are the column's name for a plain
	// column, else KSQL_COL_n as ksqlDB names them.
	keyCols := map[string]column{}
	keyNames := map[string]bool{}
	var outFields []arrow.Field
	for i, g := range q.GroupBy {
		e, err := in.bind(g)
		if err != nil {
			return err
		}
		name := ""
		if ref, ok := g.(*sql.ColumnRef); ok {
			name = ref.Name
		} else {
			name = "KSQL_COL_" + itoa(i)
		}
		a.Keys = append(a.Keys, add(e, name))
		keyCols[g.String()] = column{name: name, index: len(outFields), typ: e.Type()}
		keyNames[g.String()] = true
		outFields = append(outFields, arrow.Field{Name: name, Type: e.Type(), Nullable: true})
	}
	if w := q.Window; w != nil {
		a.Window = &Window{Kind: w.Kind, Size: w.Size.Duration}
		if w.Advance != nil {
			a.Window.Advance = w.Advance.Duration
		}
		if w.Grace != nil {
			a.Window.Grace, a.Window.HasGrace = w.Grace.Duration, true
		}
		for _, n := range []string{WindowStart, WindowEnd} {
			keyCols[n] = column{name: n, index: len(outFields), typ: arrow.FixedWidthTypes.Timestamp_ms}
			outFields = append(outFields, arrow.Field{Name: n, Type: arrow.FixedWidthTypes.Timestamp_ms, Nullable: true})
		}
	} else if q.Emit == sql.EmitFinal {
		return errorf(q, "EMIT FINAL needs a WINDOW")
	}

	aggCols := map[string]column{}
	for i, c := range calls {
		call := AggCall{Name: strings.ToUpper(c.Name), Arg: -1, Out: "KSQL_AGG_" + itoa(i)}
		var argType arrow.DataType
		switch {
		case c.Star:
			if call.Name != "COUNT" {
				return errorf(c, "%s(*) is not an aggregate: only COUNT(*) takes *", call.Name)
			}
		case len(c.Args) != 1:
			return errorf(c, "%s takes one argument, got %d", call.Name, len(c.Args))
		default:
			e, err := in.bind(c.Args[0])
			if err != nil {
				return err
			}
			argType = e.Type()
			call.Arg = add(e, "__ARG_"+itoa(i))
		}
		if c.Distinct {
			if call.Name != "COUNT" {
				return errorf(c, "DISTINCT is supported in COUNT(DISTINCT x) only")
			}
			call.Name = "COUNT_DISTINCT"
		}
		t, err := aggType(call.Name, argType)
		if err != nil {
			return errorf(c, "%v", err)
		}
		call.Type = t
		a.Calls = append(a.Calls, call)
		aggCols[c.String()] = column{name: call.Out, index: len(outFields), typ: t}
		outFields = append(outFields, arrow.Field{Name: call.Out, Type: t, Nullable: true})
	}
	if a.Table {
		if err := out.tableInputs(a, add, src); err != nil {
			return err
		}
	}
	a.Output = arrow.NewSchema(outFields, nil)
	out.Agg = a

	// HAVING and the select list see the group keys (by their expression or
	// their name), the window bounds and the aggregates.
	post := &binder{sc: &scope{}, bound: map[string]expr.Expr{}}
	for k, c := range keyCols {
		x := expr.Column(c.index, c.name, c.typ)
		if k == WindowStart || k == WindowEnd {
			// ksqlDB's window bounds are BIGINT epoch milliseconds.
			var err error
			if x, err = expr.Call("UNIX_TIMESTAMP", x); err != nil {
				return err
			}
			post.bound[k] = x
			continue
		}
		post.bound[k] = x
		post.sc.cols = append(post.sc.cols, column{name: c.name, index: c.index, typ: c.typ})
	}
	for k, c := range aggCols {
		post.bound[k] = expr.Column(c.index, c.name, c.typ)
	}
	if q.Having != nil {
		h, err := post.bind(q.Having)
		if err != nil {
			return groupByHint(err)
		}
		if h.Type().ID() != arrow.BOOL {
			return errorf(q.Having, "HAVING must be a BOOLEAN condition, not %s", expr.SQLType(h.Type()))
		}
		out.Having = h
	}
	if a.Window != nil {
		keyNames[WindowStart], keyNames[WindowEnd] = true, true
	}
	if err := out.project(q.Select, post, keyNames); err != nil {
		return groupByHint(err)
	}
	if a.Table {
		// The groups a change empties are the result's deletions.
		out.Project = append(out.Project, expr.Column(a.Output.NumFields(), exec.Deleted, arrow.FixedWidthTypes.Boolean))
		out.Names = append(out.Names, exec.Deleted)
		out.Deleted = true
	}
	return nil
}

// WithRetractions returns q, or, for an aggregation over session windows
// that emits changes, a copy of q whose Project ends with the exec.Deleted
// column the aggregation then emits (Deleted): its retractions of the
// sessions a merge replaced (their key and old bounds, NULL aggregates),
// which a sink writes as tombstones of their keys and a push query shows
// as tombstone rows, before the merged session's row. Without it the
// engine drops them. A pull query (each session once, at the end of its
// input) has none to show: call it for queries that emit changes.
func (q *Query) WithRetractions() *Query {
	if q.Agg == nil || q.Agg.Window == nil || q.Agg.Window.Kind != sql.Session || q.Emit == sql.EmitFinal || q.Deleted {
		return q
	}
	c := *q
	c.Project = append(slices.Clip(q.Project), expr.Column(q.Agg.Output.NumFields(), exec.Deleted, arrow.FixedWidthTypes.Boolean))
	c.Names = append(slices.Clip(q.Names), exec.Deleted)
	c.Deleted = true
	return &c
}

// tableInputs adds to the aggregation's input what aggregating a table's
// changelog needs: the table's primary key columns and its exec.Deleted
// column. WHERE moves into the latter: a row that fails it deletes its key
// from the filtered table, so it leaves its group instead of being skipped
// (which would keep the key's previous row in it).
func (out *Query) tableInputs(a *Aggregation, add func(expr.Expr, string) int, src *Source) error {
	for i := 0; i < src.Schema.NumKeys(); i++ {
		c := schema.NumPseudoColumns + i
		f := out.Input.Field(c)
		a.TableKeys = append(a.TableKeys, add(expr.Column(c, f.Name, f.Type), "__TKEY_"+itoa(i)))
	}
	if len(a.TableKeys) == 0 {
		return errorf(nil, "table %s has no PRIMARY KEY: its changelog cannot be aggregated", src.Name)
	}
	d := out.Input.NumFields() - 1
	if f := out.Input.Field(d); f.Name != exec.Deleted {
		return errorf(nil, "table %s: its batches lack the %s column", src.Name, exec.Deleted)
	}
	del := expr.Column(d, exec.Deleted, arrow.FixedWidthTypes.Boolean)
	if out.Where != nil {
		var err error
		if del, err = DeletedUnless(del, out.Where); err != nil {
			return err
		}
		out.Where = nil
	}
	a.Deleted = add(del, exec.Deleted)
	return nil
}

// DeletedUnless returns deleted OR NOT (cond IS TRUE): over a changelog,
// the rows that delete their key or fail cond (a NULL fails).
func DeletedUnless(deleted, cond expr.Expr) (expr.Expr, error) {
	f, err := expr.Literal(false, arrow.FixedWidthTypes.Boolean)
	if err != nil {
		return nil, err
	}
	holds, err := expr.Call("IFNULL", cond, f)
	if err != nil {
		return nil, err
	}
	fails, err := expr.Call("NOT", holds)
	if err != nil {
		return nil, err
	}
	return expr.Call("OR", deleted, fails)
}

// groupByHint explains an unresolved column after GROUP BY.
func groupByHint(err error) error {
	if pe, ok := err.(*Error); ok && strings.Contains(pe.Msg, "cannot be resolved") {
		pe.Msg = strings.SplitN(pe.Msg, ";", 2)[0] + ": after GROUP BY, a column must be a group key or inside an aggregate"
	}
	return err
}

// aggType is the output type of aggregate name over arg (nil for COUNT(*)).
func aggType(name string, arg arrow.DataType) (arrow.DataType, error) {
	switch name {
	case "COUNT", "COUNT_DISTINCT":
		return arrow.PrimitiveTypes.Int64, nil
	case "AVG":
		switch arg.ID() {
		case arrow.INT32, arrow.INT64, arrow.FLOAT64:
			return arrow.PrimitiveTypes.Float64, nil
		}
		return nil, errf("AVG needs an INT, BIGINT or DOUBLE argument, not %s", expr.SQLType(arg))
	case "SUM":
		// As ksqlDB: the argument's type (INT sums wrap like Java's).
		switch arg.ID() {
		case arrow.INT32, arrow.INT64, arrow.FLOAT64, arrow.DECIMAL128:
			return arg, nil
		}
		return nil, errf("SUM needs a numeric argument, not %s", expr.SQLType(arg))
	case "MIN", "MAX", "LATEST_BY_OFFSET", "EARLIEST_BY_OFFSET":
		return arg, nil
	case "COLLECT_LIST":
		return arrow.ListOf(arg), nil
	}
	return nil, errf("unknown aggregate %s", name)
}
