package expr

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/compute"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/arrow/scalar"
)

// Expr is a bound, type-checked expression evaluated a batch at a time.
type Expr interface {
	// Type is the result type, known at bind time.
	Type() arrow.DataType
	// Eval evaluates the expression over batch. The result has batch.NumRows()
	// rows and the caller releases it. Allocations use the allocator carried
	// by ctx (compute.WithAllocator), defaulting to memory.DefaultAllocator.
	Eval(ctx context.Context, batch arrow.Record) (arrow.Array, error)
	// String renders the expression in SQL syntax for EXPLAIN.
	String() string
}

// datumEvaler is implemented by this package's nodes: evaluation may yield a
// scalar (for literals and constant sub-expressions) instead of an array.
type datumEvaler interface {
	evalDatum(ctx context.Context, batch arrow.Record) (compute.Datum, error)
}

// evalArg evaluates e to a datum the caller releases.
func evalArg(ctx context.Context, e Expr, batch arrow.Record) (compute.Datum, error) {
	if d, ok := e.(datumEvaler); ok {
		return d.evalDatum(ctx, batch)
	}
	a, err := e.Eval(ctx, batch)
	if err != nil {
		return nil, err
	}
	return datumOf(a), nil
}

// evalArray evaluates e to an array of batch.NumRows() rows.
func evalArray(ctx context.Context, e Expr, batch arrow.Record) (arrow.Array, error) {
	d, err := evalArg(ctx, e, batch)
	if err != nil {
		return nil, err
	}
	defer d.Release()
	return materialize(ctx, d, int(batch.NumRows()))
}

// column reads a column of the input batch.
type column struct {
	index int
	name  string
	typ   arrow.DataType
}

// Column references the batch column at index, which must have type typ.
func Column(index int, name string, typ arrow.DataType) Expr {
	return &column{index: index, name: name, typ: typ}
}

func (c *column) Type() arrow.DataType { return c.typ }

func (c *column) String() string {
	if c.name == "" {
		return fmt.Sprintf("$%d", c.index)
	}
	return c.name
}

func (c *column) Eval(_ context.Context, batch arrow.Record) (arrow.Array, error) {
	if c.index < 0 || c.index >= int(batch.NumCols()) {
		return nil, fmt.Errorf("column %s: index %d out of range for a batch of %d columns", c, c.index, batch.NumCols())
	}
	col := batch.Column(c.index)
	if !arrow.TypeEqual(col.DataType(), c.typ) {
		return nil, fmt.Errorf("column %s: batch has type %s, expression expects %s", c, SQLType(col.DataType()), SQLType(c.typ))
	}
	col.Retain()
	return col, nil
}

// literal is a constant; it evaluates to a scalar that kernels broadcast.
type literal struct {
	sc scalar.Scalar
}

// Literal returns a constant of type typ. value may be nil (a typed NULL), an
// arrow scalar.Scalar of that type, or a Go value: bool; int, int32, int64;
// float64; string (also for DECIMAL, TIMESTAMP, DATE and TIME in ISO-8601);
// []byte; decimal128.Num (unscaled); time.Time; time.Duration for TIME. Nested
// types only take NULL.
func Literal(value any, typ arrow.DataType) (Expr, error) {
	sc, err := toScalar(value, typ)
	if err != nil {
		return nil, err
	}
	return &literal{sc: sc}, nil
}

func (l *literal) Type() arrow.DataType { return l.sc.DataType() }
func (l *literal) String() string       { return renderScalar(l.sc) }

func (l *literal) evalDatum(context.Context, arrow.Record) (compute.Datum, error) {
	return compute.NewDatum(l.sc), nil
}

func (l *literal) Eval(ctx context.Context, batch arrow.Record) (arrow.Array, error) {
	return evalArray(ctx, l, batch)
}

func isLiteral(e Expr) bool { _, ok := e.(*literal); return ok }

// literalString returns the value of a non-null VARCHAR literal.
func literalString(e Expr) (string, bool) {
	if l, ok := e.(*literal); ok && l.sc.IsValid() {
		if s, ok := l.sc.(*scalar.String); ok {
			return string(s.Value.Bytes()), true
		}
	}
	return "", false
}

// call is a bound function or operator application.
type call struct {
	name   string
	args   []Expr
	typ    arrow.DataType
	kern   kernel
	render func(args []string) string
}

func (c *call) Type() arrow.DataType { return c.typ }

func (c *call) String() string {
	args := make([]string, len(c.args))
	for i, a := range c.args {
		args[i] = a.String()
	}
	if c.render != nil {
		return c.render(args)
	}
	return c.name + "(" + strings.Join(args, ", ") + ")"
}

func (c *call) evalDatum(ctx context.Context, batch arrow.Record) (compute.Datum, error) {
	args := make([]compute.Datum, len(c.args))
	defer releaseAll(args)
	for i, a := range c.args {
		d, err := evalArg(ctx, a, batch)
		if err != nil {
			return nil, err
		}
		args[i] = d
	}
	out, err := c.kern(ctx, args, int(batch.NumRows()))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.name, err)
	}
	return out, nil
}

func (c *call) Eval(ctx context.Context, batch arrow.Record) (arrow.Array, error) {
	return evalArray(ctx, c, batch)
}

// fold evaluates a call whose arguments are all literals once, at bind time.
func fold(c *call) (Expr, error) {
	if isNested(c.typ) {
		return c, nil
	}
	for _, a := range c.args {
		if !isLiteral(a) {
			return c, nil
		}
	}
	ctx := compute.WithAllocator(context.Background(), memory.DefaultAllocator)
	one := emptyRecord(1)
	defer one.Release()
	arr, err := c.Eval(ctx, one)
	if err != nil {
		return nil, err
	}
	defer arr.Release()
	sc, err := scalar.GetScalar(arr, 0)
	if err != nil {
		return nil, err
	}
	return &literal{sc: sc}, nil
}
