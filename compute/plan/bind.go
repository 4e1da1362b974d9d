package plan

import (
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/strata-log/strata/compute/expr"
	"github.com/strata-log/strata/compute/schema"
	"github.com/strata-log/strata/compute/sql"
)

// Error is a planning error pointing into the statement.
type Error struct {
	Pos sql.Pos
	Msg string
}

func (e *Error) Error() string {
	if e.Pos.Line == 0 {
		return e.Msg
	}
	return fmt.Sprintf("line %d:%d: %s", e.Pos.Line, e.Pos.Col, e.Msg)
}

func errorf(n sql.Node, format string, args ...any) error {
	var p sql.Pos
	if n != nil {
		p = n.Position()
	}
	return &Error{Pos: p, Msg: fmt.Sprintf(format, args...)}
}

// column is a column visible to expressions: its batch index, its name and
// the alias of the source it comes from ("" when it has none).
type column struct {
	source string
	name   string
	index  int
	typ    arrow.DataType
}

// scope is the set of columns an expression may name.
type scope struct {
	cols   []column
	joined bool // the columns of a join's two sides
}

// scopeOf returns the columns of a batch schema, from a source with the
// given alias.
func scopeOf(s *arrow.Schema, alias string) *scope {
	sc := &scope{}
	for i, f := range s.Fields() {
		sc.cols = append(sc.cols, column{source: alias, name: f.Name, index: i, typ: f.Type})
	}
	return sc
}

// resolve finds the column ref names.
func (sc *scope) resolve(ref *sql.ColumnRef) (column, error) {
	var found []column
	for _, c := range sc.cols {
		if c.name == ref.Name && (ref.Source == "" || strings.EqualFold(ref.Source, c.source)) {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return column{}, errorf(ref, "column %s cannot be resolved; known columns: %s", ref, sc.names())
	default:
		return column{}, errorf(ref, "column %s is ambiguous: qualify it with its source", ref)
	}
}

func (sc *scope) names() string {
	var out []string
	for _, c := range sc.cols {
		out = append(out, c.name)
	}
	return strings.Join(out, ", ")
}

// binder turns parsed expressions into vectorized ones over a scope.
// Aggregate calls are not expressions here: after GROUP BY, bound maps the
// canonical SQL of aggregates and group keys to what computes them from
// the aggregation's output.
type binder struct {
	sc    *scope
	bound map[string]expr.Expr
}

var binaryCalls = map[sql.BinaryOp]string{
	sql.OpOr: "OR", sql.OpAnd: "AND", sql.OpEq: "=", sql.OpNe: "!=", sql.OpLt: "<", sql.OpLe: "<=",
	sql.OpGt: ">", sql.OpGe: ">=", sql.OpConcat: "||", sql.OpAdd: "+", sql.OpSub: "-", sql.OpMul: "*",
	sql.OpDiv: "/", sql.OpMod: "%",
}

func (b *binder) bind(e sql.Expr) (expr.Expr, error) {
	if x, ok := b.bound[e.String()]; ok {
		return x, nil
	}
	wrap := func(out expr.Expr, err error) (expr.Expr, error) {
		if err != nil {
			var pe *Error
			if asPlanError(err, &pe) {
				return nil, err
			}
			return nil, errorf(e, "%s: %v", e, err)
		}
		return out, nil
	}
	switch e := e.(type) {
	case *sql.ColumnRef:
		c, err := b.sc.resolve(e)
		if err != nil {
			return nil, err
		}
		return expr.Column(c.index, c.name, c.typ), nil
	case *sql.Literal:
		return wrap(literal(e))
	case *sql.BinaryExpr:
		l, err := b.bind(e.Left)
		if err != nil {
			return nil, err
		}
		r, err := b.bind(e.Right)
		if err != nil {
			return nil, err
		}
		switch e.Op {
		case sql.OpIsDistinctFrom, sql.OpIsNotDistinctFrom:
			return nil, errorf(e, "IS [NOT] DISTINCT FROM is not supported yet")
		}
		return wrap(expr.Call(binaryCalls[e.Op], l, r))
	case *sql.UnaryExpr:
		x, err := b.bind(e.X)
		if err != nil {
			return nil, err
		}
		switch e.Op {
		case sql.OpNot:
			return wrap(expr.Call("NOT", x))
		case sql.OpNeg:
			return wrap(expr.Call("-", x))
		}
		return x, nil
	case *sql.Call:
		if isAggregate(e.Name) {
			return nil, errorf(e, "aggregate %s is not allowed here (only in the SELECT list and HAVING of a GROUP BY query)", e.Name)
		}
		args, err := b.bindAll(e.Args)
		if err != nil {
			return nil, err
		}
		return wrap(expr.Call(e.Name, args...))
	case *sql.Case:
		var whens []expr.When
		var operand expr.Expr
		if e.Operand != nil {
			var err error
			if operand, err = b.bind(e.Operand); err != nil {
				return nil, err
			}
		}
		for _, w := range e.Whens {
			cond, err := b.bind(w.Cond)
			if err != nil {
				return nil, err
			}
			if operand != nil {
				if cond, err = expr.Call("=", operand, cond); err != nil {
					return nil, errorf(w.Cond, "%v", err)
				}
			}
			then, err := b.bind(w.Result)
			if err != nil {
				return nil, err
			}
			whens = append(whens, expr.When{Cond: cond, Then: then})
		}
		var els expr.Expr
		if e.Else != nil {
			var err error
			if els, err = b.bind(e.Else); err != nil {
				return nil, err
			}
		}
		return wrap(expr.Case(whens, els))
	case *sql.Cast:
		x, err := b.bind(e.X)
		if err != nil {
			return nil, err
		}
		t, err := ArrowType(e.Type)
		if err != nil {
			return nil, errorf(&e.Type, "%v", err)
		}
		return wrap(expr.Cast(x, t))
	case *sql.Subscript:
		x, err := b.bind(e.X)
		if err != nil {
			return nil, err
		}
		i, err := b.bind(e.Index)
		if err != nil {
			return nil, err
		}
		return wrap(expr.Subscript(x, i))
	case *sql.FieldAccess:
		x, err := b.bind(e.X)
		if err != nil {
			return nil, err
		}
		return wrap(expr.Field(x, e.Field))
	case *sql.Between:
		args, err := b.bindAll([]sql.Expr{e.X, e.Low, e.High})
		if err != nil {
			return nil, err
		}
		return b.negate(e, e.Not, "BETWEEN", args)
	case *sql.InList:
		args, err := b.bindAll(append([]sql.Expr{e.X}, e.List...))
		if err != nil {
			return nil, err
		}
		return b.negate(e, e.Not, "IN", args)
	case *sql.Like:
		args, err := b.bindAll([]sql.Expr{e.X, e.Pattern})
		if err != nil {
			return nil, err
		}
		if e.Escape != "" {
			esc, err := expr.Literal(e.Escape, arrow.BinaryTypes.String)
			if err != nil {
				return nil, errorf(e, "%v", err)
			}
			args = append(args, esc)
		}
		return b.negate(e, e.Not, "LIKE", args)
	case *sql.IsNull:
		x, err := b.bind(e.X)
		if err != nil {
			return nil, err
		}
		if e.Not {
			return wrap(expr.Call("IS NOT NULL", x))
		}
		return wrap(expr.Call("IS NULL", x))
	}
	return nil, errorf(e, "%s is not supported yet", e)
}

// negate calls op on args, then NOT if not is set.
func (b *binder) negate(n sql.Node, not bool, op string, args []expr.Expr) (expr.Expr, error) {
	x, err := expr.Call(op, args...)
	if err == nil && not {
		x, err = expr.Call("NOT", x)
	}
	if err != nil {
		return nil, errorf(n, "%s: %v", n, err)
	}
	return x, nil
}

func (b *binder) bindAll(es []sql.Expr) ([]expr.Expr, error) {
	out := make([]expr.Expr, 0, len(es))
	for _, e := range es {
		x, err := b.bind(e)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

func asPlanError(err error, target **Error) bool {
	pe, ok := err.(*Error)
	if ok {
		*target = pe
	}
	return ok
}

// literal binds a constant.
func literal(l *sql.Literal) (expr.Expr, error) {
	switch l.Kind {
	case sql.StringLit:
		return expr.Literal(l.Text, arrow.BinaryTypes.String)
	case sql.IntegerLit:
		var v int64
		if _, err := fmt.Sscan(l.Text, &v); err != nil {
			return nil, fmt.Errorf("integer %s out of range", l.Text)
		}
		if v >= -1<<31 && v < 1<<31 {
			return expr.Literal(int32(v), arrow.PrimitiveTypes.Int32)
		}
		return expr.Literal(v, arrow.PrimitiveTypes.Int64)
	case sql.DecimalLit:
		return expr.Literal(l.Text, decimalOf(l.Text))
	case sql.DoubleLit:
		var v float64
		if _, err := fmt.Sscan(l.Text, &v); err != nil {
			return nil, fmt.Errorf("bad number %s", l.Text)
		}
		return expr.Literal(v, arrow.PrimitiveTypes.Float64)
	case sql.BooleanLit:
		return expr.Literal(strings.EqualFold(l.Text, "TRUE"), arrow.FixedWidthTypes.Boolean)
	}
	return expr.Literal(nil, expr.Null)
}

// decimalOf is the DECIMAL type of a literal's text, as ksqlDB types it.
func decimalOf(text string) arrow.DataType {
	digits := strings.TrimLeft(strings.ReplaceAll(strings.TrimLeft(text, "+-"), ".", ""), "0")
	scale := 0
	if i := strings.IndexByte(text, '.'); i >= 0 {
		scale = len(text) - i - 1
	}
	prec := max(len(digits), scale, 1)
	return expr.Decimal(int32(prec), int32(scale))
}

// ArrowType maps a declared SQL type to its Arrow type.
func ArrowType(t sql.Type) (arrow.DataType, error) {
	st, err := SchemaType(t)
	if err != nil {
		return nil, err
	}
	return st.Arrow(), nil
}

// SchemaType maps a declared SQL type to the schema package's.
func SchemaType(t sql.Type) (schema.Type, error) {
	switch t.Kind {
	case sql.TypeBoolean:
		return schema.Boolean, nil
	case sql.TypeInt:
		return schema.Int, nil
	case sql.TypeBigInt:
		return schema.BigInt, nil
	case sql.TypeDouble:
		return schema.Double, nil
	case sql.TypeDecimal:
		return schema.Decimal(t.Params[0], t.Params[1])
	case sql.TypeString:
		return schema.String, nil
	case sql.TypeTimestamp:
		return schema.Timestamp, nil
	case sql.TypeDate:
		return schema.Date, nil
	case sql.TypeTime:
		return schema.Time, nil
	case sql.TypeBytes:
		return schema.Bytes, nil
	case sql.TypeArray:
		e, err := SchemaType(t.Children[0])
		if err != nil {
			return schema.Type{}, err
		}
		return schema.Array(e), nil
	case sql.TypeMap:
		k, err := SchemaType(t.Children[0])
		if err != nil {
			return schema.Type{}, err
		}
		v, err := SchemaType(t.Children[1])
		if err != nil {
			return schema.Type{}, err
		}
		return schema.Map(k, v)
	case sql.TypeStruct:
		var fields []schema.Field
		for i, c := range t.Children {
			ft, err := SchemaType(c)
			if err != nil {
				return schema.Type{}, err
			}
			fields = append(fields, schema.Field{Name: t.Names[i], Type: ft})
		}
		return schema.Struct(fields...)
	}
	return schema.Type{}, fmt.Errorf("type %s is not supported", t.Kind)
}

func errf(format string, args ...any) error { return fmt.Errorf(format, args...) }

func itoa(i int) string { return fmt.Sprint(i) }

// ExprBinder binds expressions that name no column (INSERT … VALUES).
type ExprBinder struct{ b *binder }

// Binder returns an ExprBinder over no columns.
func Binder() ExprBinder { return ExprBinder{&binder{sc: &scope{}}} }

// Bind binds e.
func (b ExprBinder) Bind(e sql.Expr) (expr.Expr, error) { return b.b.bind(e) }
