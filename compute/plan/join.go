package plan

import (
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/strata-log/strata/compute/exec"
	"github.com/strata-log/strata/compute/expr"
	"github.com/strata-log/strata/compute/schema"
	"github.com/strata-log/strata/compute/sql"
)

// JoinKind says which inputs of a join are streams and which tables.
type JoinKind int

// The joins ksqlDB has: a table may join only on its primary key.
const (
	StreamStream JoinKind = iota
	StreamTable
	TableTable
)

// Join is a query's JOIN: the right source joined to the FROM source on
// equal key columns.
type Join struct {
	Right      *Source
	RightAlias string
	Kind       JoinKind
	Config     exec.JoinConfig // Left and Right are the two sources' batch schemas
}

// planJoin plans q's join of src (aliased alias) and returns the scope of
// the join's output: the pseudo columns, then each side's columns named by
// their alias and original name.
func planJoin(q *sql.Query, src *Source, alias string, cat Catalog) (*Join, *arrow.Schema, *scope, error) {
	if len(q.Joins) > 1 {
		return nil, nil, nil, errorf(&q.Joins[1], "only one JOIN per query is supported yet")
	}
	j := q.Joins[0]
	right, ok := cat.Source(j.Right.Name)
	if !ok {
		return nil, nil, nil, errorf(&j.Right, "%s does not exist", j.Right.Name)
	}
	ralias := j.Right.Alias
	if ralias == "" {
		ralias = right.Name
	}
	if strings.EqualFold(ralias, alias) {
		return nil, nil, nil, errorf(&j.Right, "both sides of the join are called %s: give one an alias", alias)
	}
	out := &Join{Right: right, RightAlias: ralias}
	switch {
	case src.Kind == sql.Stream && right.Kind == sql.Stream:
		out.Kind = StreamStream
		if j.Within == nil {
			return nil, nil, nil, errorf(&j, "a stream-stream join needs WITHIN, e.g. WITHIN 10 MINUTES")
		}
	case src.Kind == sql.Stream && right.Kind == sql.Table:
		out.Kind = StreamTable
	case src.Kind == sql.Table && right.Kind == sql.Table:
		out.Kind = TableTable
	default:
		return nil, nil, nil, errorf(&j, "a table cannot be joined to a stream: put the stream first (FROM stream JOIN table)")
	}
	if out.Kind != StreamStream && j.Within != nil {
		return nil, nil, nil, errorf(j.Within, "WITHIN is for stream-stream joins only")
	}
	c := &out.Config
	c.Left, c.Right = SourceSchema(src), SourceSchema(right)
	c.LeftPrefix, c.RightPrefix = alias+"_", ralias+"_"
	c.LeftTime, c.RightTime = schema.RowTimeIndex, schema.RowTimeIndex
	switch j.Type {
	case sql.InnerJoin:
		c.Type = exec.InnerJoin
	case sql.LeftJoin:
		c.Type = exec.LeftJoin
	case sql.RightJoin:
		c.Type = exec.RightJoin
	case sql.FullJoin:
		c.Type = exec.FullOuterJoin
	}
	if out.Kind == StreamTable && c.Type != exec.InnerJoin && c.Type != exec.LeftJoin {
		return nil, nil, nil, errorf(&j, "a stream-table join is INNER or LEFT, not %s", j.Type)
	}
	if w := j.Within; w != nil {
		c.Before, c.After = w.Before.Duration, w.After.Duration
		if w.Grace != nil {
			c.Grace = w.Grace.Duration
		} else {
			c.Grace = 24 * time.Hour // ksqlDB's default grace
		}
	}
	ls, rs := scopeOf(c.Left, alias), scopeOf(c.Right, ralias)
	if err := joinKeys(j.On, ls, rs, c); err != nil {
		return nil, nil, nil, err
	}
	if out.Kind != StreamStream {
		// A table joins on its whole primary key.
		if err := onPrimaryKey(&j, right, rs, c.RightKeys); err != nil {
			return nil, nil, nil, err
		}
		if out.Kind == TableTable {
			if err := onPrimaryKey(&j, src, ls, c.LeftKeys); err != nil {
				return nil, nil, nil, err
			}
		}
	}

	// The output layout (exec's): pseudo columns, left columns, right
	// columns (prefixed), and __DELETED for table-table joins.
	var fields []arrow.Field
	sc := &scope{joined: true}
	add := func(f arrow.Field, source, name string) {
		sc.cols = append(sc.cols, column{source: source, name: name, index: len(fields), typ: f.Type})
		fields = append(fields, f)
	}
	for _, f := range c.Left.Fields()[:schema.NumPseudoColumns] {
		add(f, "", f.Name)
	}
	for side, s := range []*arrow.Schema{c.Left, c.Right} {
		a, prefix := alias, c.LeftPrefix
		if side == 1 {
			a, prefix = ralias, c.RightPrefix
		}
		for _, f := range s.Fields()[schema.NumPseudoColumns:] {
			if f.Name == exec.Deleted {
				continue
			}
			add(arrow.Field{Name: prefix + f.Name, Type: f.Type, Nullable: true}, a, f.Name)
		}
	}
	if out.Kind == TableTable {
		add(arrow.Field{Name: exec.Deleted, Type: arrow.FixedWidthTypes.Boolean, Nullable: true}, "", exec.Deleted)
	}
	return out, arrow.NewSchema(fields, nil), sc, nil
}

// joinKeys reads ON: equalities between a left and a right column, joined
// by AND.
func joinKeys(on sql.Expr, ls, rs *scope, c *exec.JoinConfig) error {
	switch e := on.(type) {
	case *sql.BinaryExpr:
		if e.Op == sql.OpAnd {
			if err := joinKeys(e.Left, ls, rs, c); err != nil {
				return err
			}
			return joinKeys(e.Right, ls, rs, c)
		}
		if e.Op == sql.OpEq {
			l, lok := e.Left.(*sql.ColumnRef)
			r, rok := e.Right.(*sql.ColumnRef)
			if lok && rok {
				lc, lerr := ls.resolve(l)
				rc, rerr := rs.resolve(r)
				if lerr != nil || rerr != nil { // written the other way round
					lc, lerr = ls.resolve(r)
					rc, rerr = rs.resolve(l)
				}
				if lerr != nil || rerr != nil {
					return errorf(e, "ON %s must compare a column of each side", e)
				}
				if !arrow.TypeEqual(lc.typ, rc.typ) {
					return errorf(e, "ON %s compares %s with %s: cast one side", e, expr.SQLType(lc.typ), expr.SQLType(rc.typ))
				}
				c.LeftKeys = append(c.LeftKeys, lc.index)
				c.RightKeys = append(c.RightKeys, rc.index)
				return nil
			}
		}
	}
	return errorf(on, "ON must be equalities of columns joined by AND, e.g. a.id = b.id; not %s", on)
}

// onPrimaryKey checks that a table side joins on exactly its key columns.
func onPrimaryKey(j *sql.Join, t *Source, sc *scope, keys []int) error {
	want := map[int]bool{}
	for i := 0; i < t.Schema.NumKeys(); i++ {
		want[schema.NumPseudoColumns+i] = true
	}
	got := map[int]bool{}
	for _, k := range keys {
		got[k] = true
	}
	if len(got) != len(want) {
		return errorf(j, "table %s must be joined on its PRIMARY KEY", t.Name)
	}
	for k := range got {
		if !want[k] {
			return errorf(j, "table %s must be joined on its PRIMARY KEY, not on %s", t.Name, sc.cols[k].name)
		}
	}
	return nil
}
