package expr

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/compute"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/arrow/scalar"
)

// checkedCtx returns a context whose allocator must be empty when the test ends.
func checkedCtx(t testing.TB) (context.Context, *memory.CheckedAllocator) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return compute.WithAllocator(context.Background(), mem), mem
}

// tv is a typed test value.
type tv struct {
	v     any
	t     arrow.DataType
	konst bool // passed as a literal even in the column variant
}

func konst(v tv) tv { v.konst = true; return v }

func lit(t testing.TB, v any, typ arrow.DataType) Expr {
	t.Helper()
	e, err := Literal(v, typ)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func mustCallT(t testing.TB, name string, args ...Expr) Expr {
	t.Helper()
	e, err := Call(name, args...)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return e
}

// record builds a batch whose columns hold the given values, one row each.
func record(t testing.TB, mem memory.Allocator, rows int, vals ...tv) (arrow.Record, []Expr) {
	t.Helper()
	fields := make([]arrow.Field, len(vals))
	cols := make([]arrow.Array, len(vals))
	exprs := make([]Expr, len(vals))
	for i, v := range vals {
		sc, err := toScalar(v.v, v.t)
		if err != nil {
			t.Fatal(err)
		}
		a, err := scalar.MakeArrayFromScalar(sc, rows, mem)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Release()
		cols[i] = a
		name := fmt.Sprintf("c%d", i)
		fields[i] = arrow.Field{Name: name, Type: v.t, Nullable: true}
		exprs[i] = Column(i, name, v.t)
		if v.konst {
			exprs[i] = lit(t, v.v, v.t)
		}
	}
	return array.NewRecord(arrow.NewSchema(fields, nil), cols, int64(rows)), exprs
}

// evalFn evaluates name(args) twice, over columns and over constants, and
// checks both agree; it returns the rendered result of the first row.
func evalFn(t *testing.T, name string, args ...tv) (string, error) {
	t.Helper()
	ctx, mem := checkedCtx(t)
	rec, cols := record(t, mem, 3, args...)
	defer rec.Release()
	e, err := Call(name, cols...)
	if err != nil {
		return "", err
	}
	got := evalShow(t, ctx, e, rec)
	lits := make([]Expr, len(args))
	for i, a := range args {
		lits[i] = lit(t, a.v, a.t)
	}
	c, err := Call(name, lits...)
	if err != nil {
		t.Fatalf("constant %s: %v", name, err)
	}
	if !arrow.TypeEqual(c.Type(), e.Type()) {
		t.Fatalf("%s: constant type %s, column type %s", name, SQLType(c.Type()), SQLType(e.Type()))
	}
	if cg := evalShow(t, ctx, c, rec); cg != got {
		t.Fatalf("%s: constant result %s, column result %s", e, cg, got)
	}
	return got, nil
}

// evalShow evaluates e and renders row 0, checking all rows agree.
func evalShow(t testing.TB, ctx context.Context, e Expr, rec arrow.Record) string {
	t.Helper()
	a, err := e.Eval(ctx, rec)
	if err != nil {
		t.Fatalf("%s: %v", e, err)
	}
	defer a.Release()
	if a.Len() != int(rec.NumRows()) {
		t.Fatalf("%s: %d rows, want %d", e, a.Len(), rec.NumRows())
	}
	if !arrow.TypeEqual(a.DataType(), e.Type()) {
		t.Fatalf("%s: result type %s, declared %s", e, a.DataType(), e.Type())
	}
	first := show(a, 0)
	for i := 1; i < a.Len(); i++ {
		if s := show(a, i); s != first {
			t.Fatalf("%s: row %d = %s, row 0 = %s", e, i, s, first)
		}
	}
	return first
}

// show renders one value for assertions.
func show(a arrow.Array, i int) string {
	if a.IsNull(i) {
		return "NULL"
	}
	switch a := a.(type) {
	case *array.String:
		return a.Value(i)
	case *array.Float64:
		return javaDouble(a.Value(i))
	case *array.Decimal128:
		return a.Value(i).ToString(a.DataType().(*arrow.Decimal128Type).Scale)
	case *array.Timestamp:
		return formatISOTimestamp(int64(a.Value(i)))
	case *array.Date32:
		return formatISODate(int32(a.Value(i)))
	case *array.Time32:
		return formatISOTime(int32(a.Value(i)))
	case *array.List:
		s, e := a.ValueOffsets(i)
		parts := []string{}
		for j := s; j < e; j++ {
			parts = append(parts, show(a.ListValues(), int(j)))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return a.ValueStr(i)
}
