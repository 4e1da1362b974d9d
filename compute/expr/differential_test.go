package expr

import (
	"fmt"
	"math/big"
	"math/rand"
	"strconv"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// row is one input row for the reference evaluator; nil is NULL.
type row struct {
	a, b any // int32
	c    any // int64
	d    any // float64
	e    any // decimal128.Num, scale 2
	p, q any // bool
}

func randomBatch(rng *rand.Rand, mem memory.Allocator, n int) (arrow.Record, []row) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "a", Type: Int, Nullable: true}, {Name: "b", Type: Int, Nullable: true},
		{Name: "c", Type: BigInt, Nullable: true}, {Name: "d", Type: Double, Nullable: true},
		{Name: "e", Type: Decimal(10, 2), Nullable: true},
		{Name: "p", Type: Boolean, Nullable: true}, {Name: "q", Type: Boolean, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	rows := make([]row, n)
	null := func() bool { return rng.Intn(5) == 0 }
	for i := range rows {
		r := &rows[i]
		ints := []int32{0, 1, -1, 7, -7, 2147483647, -2147483648, int32(rng.Intn(200) - 100)}
		for _, f := range []struct {
			dst *any
			col int
		}{{&r.a, 0}, {&r.b, 1}} {
			if null() {
				b.Field(f.col).AppendNull()
				continue
			}
			v := ints[rng.Intn(len(ints))]
			*f.dst = v
			b.Field(f.col).(*array.Int32Builder).Append(v)
		}
		if null() {
			b.Field(2).AppendNull()
		} else {
			v := []int64{0, 3, -9223372036854775808, 9223372036854775807, rng.Int63n(1e6) - 5e5}[rng.Intn(5)]
			r.c = v
			b.Field(2).(*array.Int64Builder).Append(v)
		}
		if null() {
			b.Field(3).AppendNull()
		} else {
			v := []float64{0, -0.5, 2.25, 1e300, float64(rng.Intn(1000)) / 8}[rng.Intn(5)]
			r.d = v
			b.Field(3).(*array.Float64Builder).Append(v)
		}
		if null() {
			b.Field(4).AppendNull()
		} else {
			v := decimal128.FromI64(rng.Int63n(2e6) - 1e6)
			r.e = v
			b.Field(4).(*array.Decimal128Builder).Append(v)
		}
		for _, f := range []struct {
			dst *any
			col int
		}{{&r.p, 5}, {&r.q, 6}} {
			if null() {
				b.Field(f.col).AppendNull()
				continue
			}
			v := rng.Intn(2) == 0
			*f.dst = v
			b.Field(f.col).(*array.BooleanBuilder).Append(v)
		}
	}
	return b.NewRecord(), rows
}

// Reference semantics, one row at a time.

func i32op(f func(x, y int32) (int32, bool)) func(x, y any) any {
	return func(x, y any) any {
		if x == nil || y == nil {
			return nil
		}
		if v, ok := f(x.(int32), y.(int32)); ok {
			return v
		}
		return nil
	}
}

func asBig(v any) *big.Rat {
	switch v := v.(type) {
	case int32:
		return new(big.Rat).SetInt64(int64(v))
	case int64:
		return new(big.Rat).SetInt64(v)
	case decimal128.Num:
		return new(big.Rat).SetFrac(v.BigInt(), big.NewInt(100))
	}
	panic(v)
}

func cmpRef(x, y any, want func(int) bool) any {
	if x == nil || y == nil {
		return nil
	}
	var c int
	switch x := x.(type) {
	case float64:
		y := y.(float64)
		switch {
		case x < y:
			c = -1
		case x > y:
			c = 1
		}
	default:
		c = asBig(x).Cmp(asBig(y))
	}
	return want(c)
}

func and3(x, y any) any {
	switch {
	case x == false || y == false:
		return false
	case x == nil || y == nil:
		return nil
	}
	return true
}

func or3(x, y any) any {
	switch {
	case x == true || y == true:
		return true
	case x == nil || y == nil:
		return nil
	}
	return false
}

func render(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case bool:
		return strconv.FormatBool(v)
	case int32:
		return strconv.Itoa(int(v))
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return javaDouble(v)
	case *big.Rat:
		return v.FloatString(2)
	}
	return fmt.Sprint(v)
}

func TestDifferential(t *testing.T) {
	cols := map[string]Expr{
		"a": Column(0, "a", Int), "b": Column(1, "b", Int), "c": Column(2, "c", BigInt),
		"d": Column(3, "d", Double), "e": Column(4, "e", Decimal(10, 2)),
		"p": Column(5, "p", Boolean), "q": Column(6, "q", Boolean),
	}
	c := func(name string, args ...Expr) Expr { return mustCallT(t, name, args...) }
	zero := lit(t, 0, Int)
	caseExpr, err := Case([]When{
		{Cond: c(">", cols["a"], cols["b"]), Then: cols["a"]},
		{Cond: cols["p"], Then: cols["c"]},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	caseElse, err := Case([]When{{Cond: c("AND", cols["p"], cols["q"]), Then: cols["d"]}}, c("*", cols["d"], lit(t, 2.0, Double)))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		e   Expr
		ref func(r row) any
	}{
		{c("+", cols["a"], cols["b"]), func(r row) any { return i32op(func(x, y int32) (int32, bool) { return x + y, true })(r.a, r.b) }},
		{c("-", cols["a"], cols["b"]), func(r row) any { return i32op(func(x, y int32) (int32, bool) { return x - y, true })(r.a, r.b) }},
		{c("*", cols["a"], cols["b"]), func(r row) any { return i32op(func(x, y int32) (int32, bool) { return x * y, true })(r.a, r.b) }},
		{c("/", cols["a"], cols["b"]), func(r row) any {
			return i32op(func(x, y int32) (int32, bool) {
				if y == 0 {
					return 0, false
				}
				return x / y, true
			})(r.a, r.b)
		}},
		{c("%", cols["a"], cols["b"]), func(r row) any {
			return i32op(func(x, y int32) (int32, bool) {
				if y == 0 {
					return 0, false
				}
				return x % y, true
			})(r.a, r.b)
		}},
		{c("-", cols["a"]), func(r row) any {
			if r.a == nil {
				return nil
			}
			return -r.a.(int32)
		}},
		{c("+", cols["a"], cols["c"]), func(r row) any {
			if r.a == nil || r.c == nil {
				return nil
			}
			return int64(r.a.(int32)) + r.c.(int64)
		}},
		{c("*", cols["d"], cols["a"]), func(r row) any {
			if r.d == nil || r.a == nil {
				return nil
			}
			return r.d.(float64) * float64(r.a.(int32))
		}},
		{c("+", cols["e"], cols["a"]), func(r row) any {
			if r.e == nil || r.a == nil {
				return nil
			}
			return new(big.Rat).Add(asBig(r.e), asBig(r.a))
		}},
		{c("*", cols["e"], lit(t, "1.5", Decimal(2, 1))), func(r row) any {
			if r.e == nil {
				return nil
			}
			// DECIMAL(10,2) * DECIMAL(2,1) has scale 3.
			return new(big.Rat).Mul(asBig(r.e), big.NewRat(3, 2)).FloatString(3)
		}},
		{c("<", cols["a"], cols["b"]), func(r row) any { return cmpRef(r.a, r.b, func(c int) bool { return c < 0 }) }},
		{c(">=", cols["c"], cols["a"]), func(r row) any { return cmpRef(r.c, r.a, func(c int) bool { return c >= 0 }) }},
		{c("=", cols["e"], cols["a"]), func(r row) any { return cmpRef(r.e, r.a, func(c int) bool { return c == 0 }) }},
		{c("<>", cols["d"], lit(t, 2.25, Double)), func(r row) any { return cmpRef(r.d, 2.25, func(c int) bool { return c != 0 }) }},
		{c("AND", cols["p"], cols["q"]), func(r row) any { return and3(r.p, r.q) }},
		{c("OR", cols["p"], cols["q"]), func(r row) any { return or3(r.p, r.q) }},
		{c("NOT", cols["p"]), func(r row) any {
			if r.p == nil {
				return nil
			}
			return !r.p.(bool)
		}},
		{c("OR", c("AND", c("<", cols["a"], cols["b"]), cols["p"]), c("NOT", cols["q"])), func(r row) any {
			var nq any
			if r.q != nil {
				nq = !r.q.(bool)
			}
			return or3(and3(cmpRef(r.a, r.b, func(c int) bool { return c < 0 }), r.p), nq)
		}},
		{c("IS NULL", cols["a"]), func(r row) any { return r.a == nil }},
		{caseExpr, func(r row) any {
			if v := cmpRef(r.a, r.b, func(c int) bool { return c > 0 }); v == true {
				return int64(r.a.(int32))
			}
			if r.p == true {
				return r.c
			}
			return nil
		}},
		{caseElse, func(r row) any {
			if and3(r.p, r.q) == true {
				return r.d
			}
			if r.d == nil {
				return nil
			}
			return r.d.(float64) * 2
		}},
		{c("COALESCE", cols["a"], cols["b"], zero), func(r row) any {
			for _, v := range []any{r.a, r.b} {
				if v != nil {
					return v
				}
			}
			return int32(0)
		}},
		{c("COALESCE", cols["c"], cols["a"]), func(r row) any {
			if r.c != nil {
				return r.c
			}
			if r.a != nil {
				return int64(r.a.(int32))
			}
			return nil
		}},
	}
	ctx, mem := checkedCtx(t)
	rng := rand.New(rand.NewSource(1))
	for iter := range 40 {
		n := 1 + rng.Intn(300)
		rec, rows := randomBatch(rng, mem, n)
		batch := rec
		if iter%2 == 1 && n > 4 { // exercise non-zero array offsets
			batch = rec.NewSlice(2, int64(n-1))
			rows = rows[2 : n-1]
		}
		for _, tc := range cases {
			out, err := tc.e.Eval(ctx, batch)
			if err != nil {
				t.Fatalf("%s: %v", tc.e, err)
			}
			for i, r := range rows {
				got, want := show(out, i), render(tc.ref(r))
				if got != want {
					t.Fatalf("%s row %d (%+v): got %s, want %s", tc.e, i, r, got, want)
				}
			}
			out.Release()
		}
		if batch != rec {
			batch.Release()
		}
		rec.Release()
	}
}
