package expr

import (
	"math"
	"slices"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

// foreign is an expression of another package.
type foreign struct{ Expr }

func TestColumns(t *testing.T) {
	a := Column(0, "A", arrow.PrimitiveTypes.Int64)
	b := Column(3, "B", arrow.PrimitiveTypes.Int64)
	st := Column(5, "S", arrow.StructOf(arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Int64, Nullable: true}))
	x, err := Field(st, "x")
	if err != nil {
		t.Fatal(err)
	}
	sum := mustCallT(t, "+", a, x)
	gt := mustCallT(t, ">", b, lit(t, int64(1), BigInt))
	c, err := Case([]When{{Cond: gt, Then: sum}}, Column(7, "E", arrow.PrimitiveTypes.Int64))
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	if !Columns(c, func(i int) { got = append(got, i) }) {
		t.Fatal("Columns gave up on this package's expressions")
	}
	slices.Sort(got)
	if want := []int{0, 3, 5, 7}; !slices.Equal(got, want) {
		t.Errorf("columns %v, want %v", got, want)
	}
	got = nil
	if Columns(mustCallT(t, "+", a, foreign{b}), func(i int) { got = append(got, i) }) || got != nil {
		t.Errorf("an expression of another package: reported %v, want false and nothing", got)
	}
}

func TestRange(t *testing.T) {
	rt := Column(0, "ROWTIME", Timestamp)
	off := Column(2, "ROWOFFSET", arrow.PrimitiveTypes.Int64)
	other := Column(3, "X", arrow.PrimitiveTypes.Int64)
	jan1 := int64(1767225600000) // 2026-01-01T00:00:00Z
	call := func(op string, args ...Expr) Expr { return mustCallT(t, op, args...) }
	lit := func(v any, typ arrow.DataType) Expr { return lit(t, v, typ) }
	for _, c := range []struct {
		name   string
		e      Expr
		col    int
		lo, hi int64
	}{
		{"timestamp from a string", call(">=", rt, lit("2026-01-01T00:00:00", String)), 0, jan1, math.MaxInt64},
		{"mirrored and strict", call("<", lit("2026-01-01T00:00:00", String), rt), 0, jan1 + 1, math.MaxInt64},
		{"and of both sides", call("AND", call(">", off, lit(int64(10), BigInt)), call("<=", off, lit(int64(20), BigInt)), call("=", other, lit(int64(5), BigInt))), 2, 11, 20},
		{"between", call("BETWEEN", off, lit(int64(3), BigInt), lit(int64(7), BigInt)), 2, 3, 7},
		{"equal", call("=", off, lit(int64(4), BigInt)), 2, 4, 4},
		{"or bounds nothing", call("OR", call(">", off, lit(int64(10), BigInt)), call("<", off, lit(int64(2), BigInt))), 2, math.MinInt64, math.MaxInt64},
		{"another column", call(">", other, lit(int64(10), BigInt)), 2, math.MinInt64, math.MaxInt64},
		{"null constant", call(">", off, lit(nil, BigInt)), 2, math.MinInt64, math.MaxInt64},
	} {
		lo, hi := Range(c.e, c.col)
		if lo != c.lo || hi != c.hi {
			t.Errorf("%s: %s gives [%d, %d], want [%d, %d]", c.name, c.e, lo, hi, c.lo, c.hi)
		}
	}
}
