package expr

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/compute"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

var comparisons = map[string]string{
	"=": "equal", "!=": "not_equal", "<>": "not_equal",
	"<": "less", "<=": "less_equal", ">": "greater", ">=": "greater_equal",
}

func init() {
	for op := range comparisons {
		register(&function{minArgs: 2, maxArgs: 2, bind: bindCompare, render: infix}, op)
	}
	register(&function{minArgs: 3, maxArgs: 3, bind: bindBetween, render: func(_ string, a []string) string {
		return "(" + a[0] + " BETWEEN " + a[1] + " AND " + a[2] + ")"
	}}, "BETWEEN")
	register(&function{minArgs: 2, maxArgs: -1, bind: bindIn, render: func(_ string, a []string) string {
		return "(" + a[0] + " IN (" + strings.Join(a[1:], ", ") + "))"
	}}, "IN")
}

// comparands coerces the operands of a comparison to a common type. A
// VARCHAR compared with a TIMESTAMP, DATE or TIME is parsed as ISO-8601.
func comparands(op string, args []Expr) ([]Expr, error) {
	t := args[0].Type()
	for _, a := range args[1:] {
		at := a.Type()
		c, ok := commonType(t, at)
		switch {
		case ok:
		case isTemporal(t) && at.ID() == arrow.STRING:
			c, ok = t, true
		case isTemporal(at) && t.ID() == arrow.STRING:
			c, ok = at, true
		}
		if !ok {
			return nil, fmt.Errorf("cannot compare %s with %s", SQLType(t), SQLType(at))
		}
		t = c
	}
	if isNull(t) {
		t = Boolean
	}
	ordered := op != "=" && op != "!=" && op != "<>" && op != "IN"
	switch {
	case isNested(t):
		return nil, fmt.Errorf("cannot compare values of type %s", SQLType(t))
	case ordered && t.ID() == arrow.BOOL:
		return nil, fmt.Errorf("operator %s is not defined for BOOLEAN", op)
	}
	return coerceAll(args, t)
}

func isTemporal(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.TIMESTAMP, arrow.DATE32, arrow.TIME32:
		return true
	}
	return false
}

func bindCompare(op string, args []Expr) (*call, error) {
	args, err := comparands(op, args)
	if err != nil {
		return nil, err
	}
	fn := comparisons[op]
	return &call{args: args, typ: Boolean, kern: func(ctx context.Context, a []compute.Datum, n int) (compute.Datum, error) {
		return compareDatums(ctx, fn, a[0], a[1], n)
	}}, nil
}

// compareDatums runs the arrow comparison fn ("equal", "less" …) on two
// datums of the same type. DECIMAL is compared here: arrow v17's decimal
// comparison kernels overrun their 32-value batch buffer.
func compareDatums(ctx context.Context, fn string, l, r compute.Datum, n int) (compute.Datum, error) {
	if l.(compute.ArrayLikeDatum).Type().ID() != arrow.DECIMAL128 {
		return compute.CallFunction(ctx, fn, nil, l, r)
	}
	return rowKernel(func(mem memory.Allocator, a []arg, n int) arrow.Array {
		x, y := decGetter(a[0]), decGetter(a[1])
		return boolResult(mem, n, func(i int) (bool, bool) {
			u, ok1 := x(i)
			v, ok2 := y(i)
			c := u.Cmp(v)
			switch fn {
			case "equal":
				return c == 0, ok1 && ok2
			case "not_equal":
				return c != 0, ok1 && ok2
			case "less":
				return c < 0, ok1 && ok2
			case "less_equal":
				return c <= 0, ok1 && ok2
			case "greater":
				return c > 0, ok1 && ok2
			}
			return c >= 0, ok1 && ok2
		})
	})(ctx, []compute.Datum{l, r}, n)
}

func bindBetween(_ string, args []Expr) (*call, error) {
	args, err := comparands("BETWEEN", args)
	if err != nil {
		return nil, err
	}
	return &call{args: args, typ: Boolean, kern: func(ctx context.Context, a []compute.Datum, n int) (compute.Datum, error) {
		ge, err := compareDatums(ctx, "greater_equal", a[0], a[1], n)
		if err != nil {
			return nil, err
		}
		defer ge.Release()
		le, err := compareDatums(ctx, "less_equal", a[0], a[2], n)
		if err != nil {
			return nil, err
		}
		defer le.Release()
		return compute.CallFunction(ctx, "and_kleene", nil, ge, le)
	}}, nil
}

// bindIn implements x IN (v1, …) as x = v1 OR x = v2 …, so a NULL in the list
// makes a non-matching row NULL as in standard SQL.
func bindIn(_ string, args []Expr) (*call, error) {
	args, err := comparands("IN", args)
	if err != nil {
		return nil, err
	}
	return &call{args: args, typ: Boolean, kern: func(ctx context.Context, a []compute.Datum, n int) (compute.Datum, error) {
		var acc compute.Datum
		for _, v := range a[1:] {
			eq, err := compareDatums(ctx, "equal", a[0], v, n)
			if err != nil {
				return nil, err
			}
			if acc == nil {
				acc = eq
				continue
			}
			next, err := compute.CallFunction(ctx, "or_kleene", nil, acc, eq)
			acc.Release()
			eq.Release()
			if err != nil {
				return nil, err
			}
			acc = next
		}
		return acc, nil
	}}, nil
}
