package expr

import (
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
