package stream

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/strata-log/strata/compute/plan"
	"github.com/strata-log/strata/compute/schema"
	"github.com/strata-log/strata/compute/sql"
)

// Where returns the rows of s for which cond, a SQL expression over s's
// columns (ksqlDB dialect, see compute/expr), is TRUE.
func (s Stream) Where(cond string) Stream {
	op := fmt.Sprintf("Where(%q)", cond)
	return s.derive(op, func() (*node, []*node, error) {
		x, err := parseExpr(cond)
		if err != nil {
			return nil, nil, err
		}
		q := &sql.Query{Select: append(pseudoItems(), sql.SelectItem{Star: true}), From: relation(s.n.name), Where: x, Emit: sql.EmitChanges}
		n := s.n.next(kQuery)
		if err := n.plan(q, s.n); err != nil {
			return nil, nil, err
		}
		return n, []*node{s.n}, nil
	})
}

// Select returns s's rows projected onto items, each a SQL select item
// over s's columns: an expression with an optional alias ("AMOUNT * 1.1 AS
// WITH_TAX"), or * (all columns). The pseudo columns are kept. A plain key
// column stays a key column; the result is written in JSON.
func (s Stream) Select(items ...string) Stream {
	op := fmt.Sprintf("Select(%q)", items)
	return s.derive(op, func() (*node, []*node, error) {
		keys := map[string]bool{}
		for _, k := range s.n.keys {
			keys[k] = true
		}
		sel := pseudoItems()
		n := s.n.next(kQuery)
		n.keys = nil
		for _, text := range items {
			its, err := parseItems(text)
			if err != nil {
				return nil, nil, err
			}
			for _, it := range its {
				if it.Star {
					for _, f := range s.n.schema.Fields()[schema.NumPseudoColumns:] {
						if keys[f.Name] {
							n.keys = append(n.keys, f.Name)
						}
					}
					sel = append(sel, it)
					continue
				}
				name := it.Alias
				ref, plain := it.Expr.(*sql.ColumnRef)
				if name == "" && plain {
					name = ref.Name
				}
				if schema.IsPseudoColumn(name) {
					return nil, nil, fmt.Errorf("%s is kept as it is: select other columns, or give it an alias", name)
				}
				if plain && keys[ref.Name] && (ref.Source == "" || strings.EqualFold(ref.Source, s.n.name)) {
					n.keys = append(n.keys, name)
				}
				sel = append(sel, it)
			}
		}
		n.key, n.value = jsonFormats(n.keys)
		q := &sql.Query{Select: sel, From: relation(s.n.name), Emit: sql.EmitChanges}
		if err := n.plan(q, s.n); err != nil {
			return nil, nil, err
		}
		return n, []*node{s.n}, nil
	})
}

// GroupBy groups s's rows by the values of exprs, SQL expressions over its
// columns, for an aggregation.
func (s Stream) GroupBy(exprs ...string) GroupedStream {
	g := GroupedStream{s: s}
	if s.Err() != nil {
		return g
	}
	if len(exprs) == 0 {
		g.s = s.b.fail("GroupBy()", errors.New("no expressions to group by"))
		return g
	}
	for _, text := range exprs {
		x, err := parseExpr(text)
		if err != nil {
			g.s = s.b.fail(fmt.Sprintf("GroupBy(%q)", text), err)
			return g
		}
		g.by = append(g.by, x)
	}
	return g
}

// GroupedStream is a stream grouped for an aggregation, windowed or not.
type GroupedStream struct {
	s      Stream
	by     []sql.Expr
	window *Window
}

// WindowedBy returns g aggregated per window of w.
func (g GroupedStream) WindowedBy(w Window) GroupedStream {
	g.window = &w
	return g
}

// Aggregate returns the changelog of the aggregates of each group (and
// window), as ksqlDB's GROUP BY runs it (compute/exec.Aggregate): one row
// per group and window a batch changed (EMIT CHANGES), or per window once
// it closed (Window.EmitFinal). Its columns are the group keys (named after
// plain columns, KSQL_COL_<i> otherwise), WINDOWSTART and WINDOWEND (BIGINT
// epoch milliseconds) when windowed, all of them the key, then the
// aggregates; ROWTIME is the greatest ROWTIME of the group's rows, and
// ROWPARTITION and ROWOFFSET are those of its last row. It is written in
// JSON.
func (g GroupedStream) Aggregate(aggs ...Agg) Stream {
	s := g.s
	return s.derive("Aggregate", func() (*node, []*node, error) {
		if len(aggs) == 0 {
			return nil, nil, errors.New("no aggregates")
		}
		sel := []sql.SelectItem{
			{Expr: call("MAX", ref(schema.RowTime)), Alias: schema.RowTime},
			{Expr: call("LATEST_BY_OFFSET", ref(schema.RowPartition)), Alias: schema.RowPartition},
			{Expr: call("LATEST_BY_OFFSET", ref(schema.RowOffset)), Alias: schema.RowOffset},
		}
		for i, x := range g.by {
			name := fmt.Sprintf("KSQL_COL_%d", i)
			if r, ok := x.(*sql.ColumnRef); ok {
				name = r.Name
			}
			sel = append(sel, sql.SelectItem{Expr: x, Alias: name})
		}
		q := &sql.Query{From: relation(s.n.name), GroupBy: g.by, Emit: sql.EmitChanges}
		if w := g.window; w != nil {
			q.Window = &sql.Window{Kind: w.kind, Size: span(w.size)}
			if w.kind == sql.Hopping {
				adv := span(w.advance)
				q.Window.Advance = &adv
			}
			if w.grace != nil {
				gr := span(*w.grace)
				q.Window.Grace = &gr
			}
			if w.final {
				q.Emit = sql.EmitFinal
			}
			sel = append(sel, sql.SelectItem{Expr: ref(plan.WindowStart)}, sql.SelectItem{Expr: ref(plan.WindowEnd)})
		}
		for i, a := range aggs {
			c := &sql.Call{Name: a.fn, Star: a.arg == ""}
			if a.arg != "" {
				x, err := parseExpr(a.arg)
				if err != nil {
					return nil, nil, fmt.Errorf("%s(%q): %w", a.fn, a.arg, err)
				}
				c.Args = []sql.Expr{x}
			}
			sel = append(sel, sql.SelectItem{Expr: c, Alias: a.outName(i)})
		}
		q.Select = sel
		n := s.n.next(kQuery)
		if err := n.plan(q, s.n); err != nil {
			return nil, nil, err
		}
		n.keys = n.query.Keys
		n.key, n.value = jsonFormats(n.keys)
		n.desc = q.String()
		return n, []*node{s.n}, nil
	})
}

// Window is the window of an aggregation.
type Window struct {
	kind          sql.WindowKind
	size, advance time.Duration
	grace         *time.Duration
	final         bool
}

// Tumbling windows are [start, start+size), start a multiple of size.
func Tumbling(size time.Duration) Window { return Window{kind: sql.Tumbling, size: size} }

// Hopping windows are [start, start+size), start a multiple of advance.
func Hopping(size, advance time.Duration) Window {
	return Window{kind: sql.Hopping, size: size, advance: advance}
}

// Session windows span the event times of a key's rows, each at most gap
// after the previous one.
func Session(gap time.Duration) Window { return Window{kind: sql.Session, size: gap} }

// Grace returns w with a grace period: how long after its end a window
// still takes late rows (default 24 hours, as ksqlDB; 0 for none).
func (w Window) Grace(d time.Duration) Window {
	w.grace = &d
	return w
}

// EmitFinal returns w emitting each window's aggregates once, when it
// closes (its end plus the grace period has passed in stream time), rather
// than every change.
func (w Window) EmitFinal() Window {
	w.final = true
	return w
}

// Agg is an aggregate function over the rows of a group.
type Agg struct {
	fn, arg, name string
}

// Count counts rows (COUNT(*)); its column is COUNT.
func Count() Agg { return Agg{fn: "COUNT"} }

// Sum adds up x, a SQL expression. The column of an aggregate over a plain
// column X is named <FUNCTION>_X (SUM_X), else <FUNCTION>_<i>, i its
// position in Aggregate's arguments; As names it otherwise.
func Sum(x string) Agg { return Agg{fn: "SUM", arg: x} }

// Avg is the mean of x (DOUBLE).
func Avg(x string) Agg { return Agg{fn: "AVG", arg: x} }

// Min is the least value of x.
func Min(x string) Agg { return Agg{fn: "MIN", arg: x} }

// Max is the greatest value of x.
func Max(x string) Agg { return Agg{fn: "MAX", arg: x} }

// CountDistinct counts the distinct non-NULL values of x.
func CountDistinct(x string) Agg { return Agg{fn: "COUNT_DISTINCT", arg: x} }

// LatestByOffset is x of the last row.
func LatestByOffset(x string) Agg { return Agg{fn: "LATEST_BY_OFFSET", arg: x} }

// EarliestByOffset is x of the first row.
func EarliestByOffset(x string) Agg { return Agg{fn: "EARLIEST_BY_OFFSET", arg: x} }

// CollectList is the ARRAY of the values of x, in arrival order.
func CollectList(x string) Agg { return Agg{fn: "COLLECT_LIST", arg: x} }

// As returns a named name.
func (a Agg) As(name string) Agg {
	a.name = name
	return a
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (a Agg) outName(i int) string {
	switch {
	case a.name != "":
		return a.name
	case a.arg == "":
		return a.fn
	case identifier.MatchString(a.arg):
		return a.fn + "_" + strings.ToUpper(a.arg)
	}
	return fmt.Sprintf("%s_%d", a.fn, i)
}

// JoinWindow bounds a stream-stream join: rows join when their ROWTIMEs
// are at most the window apart.
type JoinWindow struct {
	within time.Duration
	grace  *time.Duration
}

// Within joins rows whose times differ by at most d.
func Within(d time.Duration) JoinWindow { return JoinWindow{within: d} }

// Grace returns w with a grace period: how long after the window a late
// row is still joined (default 24 hours, as ksqlDB). Rows of an outer join
// without a match are emitted once the window and the grace period passed.
func (w JoinWindow) Grace(d time.Duration) JoinWindow {
	w.grace = &d
	return w
}

// Join returns the rows of s and other whose columns are equal as on says
// ("ID = ORDER_ID", equalities of a column of each side joined by AND) and
// whose times are within w (compute/exec.StreamStreamJoin). Its columns are
// s's then other's, each prefixed with its stream's name and '_'
// (ORDERS_ID, PAYMENTS_ORDER_ID); ROWTIME is the later of the two rows';
// s's join columns are the key; it is written in JSON.
func (s Stream) Join(other Stream, w JoinWindow, on string) Stream {
	return s.join("Join", sql.InnerJoin, other, w, on)
}

// LeftJoin is Join that also returns the rows of s without a match, with
// NULLs for other's columns.
func (s Stream) LeftJoin(other Stream, w JoinWindow, on string) Stream {
	return s.join("LeftJoin", sql.LeftJoin, other, w, on)
}

// OuterJoin is Join that also returns the rows of either side without a
// match, with NULLs for the other side's columns.
func (s Stream) OuterJoin(other Stream, w JoinWindow, on string) Stream {
	return s.join("OuterJoin", sql.FullJoin, other, w, on)
}

func (s Stream) join(op string, typ sql.JoinType, other Stream, w JoinWindow, on string) Stream {
	op = fmt.Sprintf("%s(%q)", op, on)
	if err := s.Err(); err != nil {
		return s
	}
	if err := other.Err(); err != nil {
		return other
	}
	return s.derive(op, func() (*node, []*node, error) {
		switch {
		case other.b != s.b:
			return nil, nil, errors.New("the streams are of different builders")
		case strings.EqualFold(s.n.name, other.n.name):
			return nil, nil, fmt.Errorf("both streams are named %s: rename one with As", s.n.name)
		}
		x, err := parseExpr(on)
		if err != nil {
			return nil, nil, err
		}
		within := &sql.Within{Before: span(w.within), After: span(w.within)}
		if w.grace != nil {
			g := span(*w.grace)
			within.Grace = &g
		}
		q := &sql.Query{
			Select: append(pseudoItems(), sql.SelectItem{Star: true}),
			From:   relation(s.n.name),
			Joins:  []sql.Join{{Type: typ, Right: relation(other.n.name), Within: within, On: x}},
			Emit:   sql.EmitChanges,
		}
		n := s.n.next(kJoin)
		if err := n.plan(q, s.n, other.n); err != nil {
			return nil, nil, err
		}
		n.keys = nil
		cfg := n.query.Join.Config
		for _, k := range cfg.LeftKeys {
			n.keys = append(n.keys, cfg.LeftPrefix+cfg.Left.Field(k).Name)
		}
		n.key, n.value = jsonFormats(n.keys)
		n.desc = q.String()
		return n, []*node{s.n, other.n}, nil
	})
}

// plan plans q over the streams of inputs, each a catalog source named by
// its stream's name, and sets n's query and schema.
func (n *node) plan(q *sql.Query, inputs ...*node) error {
	cat := catalog{}
	for _, in := range inputs {
		src, err := in.catalogSource()
		if err != nil {
			return err
		}
		cat[in.name] = src
	}
	pq, err := plan.PlanQuery(q, cat)
	if err != nil {
		var pe *plan.Error
		if errors.As(err, &pe) {
			return errors.New(pe.Msg) // positions point into generated SQL
		}
		return err
	}
	n.query = pq
	n.schema = pq.Output()
	return nil
}

// catalog is the streams a query reads, by name.
type catalog map[string]*plan.Source

func (c catalog) Source(name string) (*plan.Source, bool) {
	s, ok := c[name]
	return s, ok
}

// catalogSource describes n's rows as a stream of the catalog. Its columns
// are all value columns, so that they keep their order in the batches.
func (n *node) catalogSource() (*plan.Source, error) {
	cols, err := n.columns(false)
	if err != nil {
		return nil, err
	}
	s, err := schema.New(cols...)
	if err != nil {
		return nil, err
	}
	return &plan.Source{Name: n.name, Kind: sql.Stream, Schema: s}, nil
}

func ref(name string) *sql.ColumnRef { return &sql.ColumnRef{Name: name} }

func call(name string, args ...sql.Expr) *sql.Call { return &sql.Call{Name: name, Args: args} }

func relation(name string) sql.Relation { return sql.Relation{Name: name} }

// pseudoItems select the pseudo columns.
func pseudoItems() []sql.SelectItem {
	return []sql.SelectItem{{Expr: ref(schema.RowTime)}, {Expr: ref(schema.RowPartition)}, {Expr: ref(schema.RowOffset)}}
}

// span is d as a SQL time span, in milliseconds.
func span(d time.Duration) sql.TimeSpan {
	ms := d.Milliseconds()
	return sql.TimeSpan{Value: ms, Unit: sql.Millisecond, Duration: time.Duration(ms) * time.Millisecond}
}

// parseExpr parses a SQL expression.
func parseExpr(text string) (sql.Expr, error) {
	return sql.ParseExpr(text)
}

// itemsTable is the FROM of the statement select items are parsed in.
const itemsTable = "STRATA_STREAM_ITEMS"

// parseItems parses a select list.
func parseItems(text string) ([]sql.SelectItem, error) {
	const prefix = "SELECT "
	st, err := sql.ParseStatement(prefix + text + " FROM " + itemsTable)
	if err != nil {
		var se *sql.Error
		if errors.As(err, &se) && se.Line == 1 && se.Col > len(prefix) {
			col, msg := se.Col-len(prefix), se.Msg
			if end := utf8.RuneCountInString(text) + 1; col >= end {
				col, msg = end, strings.Replace(msg, "found 'FROM'", "found end of input", 1)
			}
			return nil, &sql.Error{Line: 1, Col: col, Msg: msg}
		}
		return nil, err
	}
	q, ok := st.(*sql.Query)
	if !ok || q.From.Name != itemsTable || q.From.Alias != "" || len(q.Joins) > 0 || q.Where != nil ||
		q.GroupBy != nil || q.PartitionBy != nil || q.Having != nil || q.Window != nil || q.Emit != sql.EmitNone || q.Limit != nil {
		return nil, fmt.Errorf("%q is not a select list", text)
	}
	return q.Select, nil
}
