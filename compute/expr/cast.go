package expr

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/compute"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

const msPerDay = 86_400_000

// Cast converts e to typ with ksqlDB CAST semantics: numeric conversions
// truncate toward zero (DOUBLE → INT saturates like Java, BIGINT → INT wraps),
// DECIMAL results round HALF_UP and are NULL when they overflow the precision;
// VARCHAR parses (trimmed) numbers, 'true' (any case; anything else is false)
// and ISO-8601 temporals, yielding NULL when the text does not parse; any type
// but BYTES and the nested types renders to VARCHAR.
func Cast(e Expr, typ arrow.DataType) (Expr, error) {
	if typ == nil {
		return nil, fmt.Errorf("CAST(%s): missing target type", e)
	}
	from := e.Type()
	if arrow.TypeEqual(from, typ) {
		return e, nil
	}
	k, err := castKernel(from, typ)
	if err != nil {
		return nil, err
	}
	to := SQLType(typ)
	return fold(&call{name: "CAST", args: []Expr{e}, typ: typ, kern: k, render: func(a []string) string {
		return "CAST(" + a[0] + " AS " + to + ")"
	}})
}

func castKernel(from, to arrow.DataType) (kernel, error) {
	unary := func(f func(mem memory.Allocator, a arrow.Array) arrow.Array) kernel {
		return arrays(func(ctx context.Context, a []arrow.Array, _ int) (arrow.Array, error) {
			return f(compute.GetAllocator(ctx), a[0]), nil
		})
	}
	f, t := from.ID(), to.ID()
	switch {
	case f == arrow.NULL:
		return arrays(func(ctx context.Context, _ []arrow.Array, n int) (arrow.Array, error) {
			return array.MakeArrayOfNull(compute.GetAllocator(ctx), to, n), nil
		}), nil
	case t == arrow.STRING && f != arrow.BINARY && !isNested(from):
		return unary(func(mem memory.Allocator, a arrow.Array) arrow.Array { return formatAll(mem, a, formatter(from)) }), nil
	case f == arrow.STRING && t != arrow.BINARY && !isNested(to):
		p := parser(to)
		return unary(func(mem memory.Allocator, a arrow.Array) arrow.Array { return p(mem, a.(strArr)) }), nil
	case t == arrow.DECIMAL128:
		if c := toDecimal(from, to.(*arrow.Decimal128Type)); c != nil {
			return unary(c), nil
		}
	case f == arrow.DECIMAL128 && isNumeric(to):
		return unary(fromDecimal(from.(*arrow.Decimal128Type), to)), nil
	case f == arrow.FLOAT64 && isIntegral(to):
		if t == arrow.INT32 {
			return unary(func(mem memory.Allocator, a arrow.Array) arrow.Array { return map1(mem, a, to, javaInt[int32]) }), nil
		}
		return unary(func(mem memory.Allocator, a arrow.Array) arrow.Array { return map1(mem, a, to, javaInt[int64]) }), nil
	case isNumeric(from) && isNumeric(to):
		return arrowKernel("cast", compute.UnsafeCastOptions(to)), nil
	case f == arrow.TIMESTAMP && t == arrow.TIMESTAMP:
		return unary(func(_ memory.Allocator, a arrow.Array) arrow.Array { return reinterpret(a, to) }), nil
	case f == arrow.TIMESTAMP && t == arrow.DATE32:
		return unary(func(mem memory.Allocator, a arrow.Array) arrow.Array {
			return map1(mem, a, to, func(ms int64) (int32, bool) { return int32(floorDiv(ms, msPerDay)), true })
		}), nil
	case f == arrow.TIMESTAMP && t == arrow.TIME32:
		return unary(func(mem memory.Allocator, a arrow.Array) arrow.Array {
			return map1(mem, a, to, func(ms int64) (int32, bool) { return int32(ms - floorDiv(ms, msPerDay)*msPerDay), true })
		}), nil
	case f == arrow.DATE32 && t == arrow.TIMESTAMP:
		return unary(func(mem memory.Allocator, a arrow.Array) arrow.Array {
			return map1(mem, a, to, func(d int32) (int64, bool) { return int64(d) * msPerDay, true })
		}), nil
	case isNested(from) && compute.CanCast(from, to):
		return arrowKernel("cast", compute.SafeCastOptions(to)), nil
	}
	return nil, fmt.Errorf("cannot cast %s to %s", SQLType(from), SQLType(to))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// reinterpret shares a's buffers under another type of the same layout.
func reinterpret(a arrow.Array, to arrow.DataType) arrow.Array {
	d := a.Data()
	data := array.NewData(to, d.Len(), d.Buffers(), d.Children(), d.NullN(), d.Offset())
	defer data.Release()
	return array.MakeFromData(data)
}

// javaInt converts like Java's (int)/(long) cast of a double: truncation,
// saturation at the bounds, NaN → 0.
func javaInt[T int32 | int64](v float64) (T, bool) {
	var lo, hi int64 = math.MinInt64, math.MaxInt64
	var zero T
	if unsafe.Sizeof(zero) == 4 {
		lo, hi = math.MinInt32, math.MaxInt32
	}
	switch {
	case math.IsNaN(v):
		return 0, true
	case v <= float64(lo):
		return T(lo), true
	case v >= float64(hi):
		return T(hi), true
	}
	return T(v), true
}

func toDecimal(from arrow.DataType, to *arrow.Decimal128Type) func(memory.Allocator, arrow.Array) arrow.Array {
	switch from.ID() {
	case arrow.DECIMAL128:
		s := from.(*arrow.Decimal128Type).Scale
		return func(mem memory.Allocator, a arrow.Array) arrow.Array {
			return map1(mem, a, to, func(v decimal128.Num) (decimal128.Num, bool) {
				return fitDecimal(rescaleBig(v.BigInt(), s, to.Scale), to.Precision)
			})
		}
	case arrow.INT32:
		return func(mem memory.Allocator, a arrow.Array) arrow.Array {
			return map1(mem, a, to, func(v int32) (decimal128.Num, bool) { return intToDecimal(int64(v), to) })
		}
	case arrow.INT64:
		return func(mem memory.Allocator, a arrow.Array) arrow.Array {
			return map1(mem, a, to, func(v int64) (decimal128.Num, bool) { return intToDecimal(v, to) })
		}
	case arrow.FLOAT64:
		return func(mem memory.Allocator, a arrow.Array) arrow.Array {
			return map1(mem, a, to, func(v float64) (decimal128.Num, bool) { return floatToDecimal(v, to) })
		}
	}
	return nil
}

func intToDecimal(v int64, to *arrow.Decimal128Type) (decimal128.Num, bool) {
	b := big.NewInt(v)
	return fitDecimal(b.Mul(b, pow10(to.Scale)), to.Precision)
}

// floatToDecimal goes through the shortest decimal representation of v, as
// Java's BigDecimal.valueOf(double) does, then rounds HALF_UP.
func floatToDecimal(v float64, to *arrow.Decimal128Type) (decimal128.Num, bool) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return decimal128.Num{}, false
	}
	r, ok := new(big.Rat).SetString(strconv.FormatFloat(v, 'g', -1, 64))
	if !ok {
		return decimal128.Num{}, false
	}
	num := new(big.Int).Mul(r.Num(), pow10(to.Scale))
	return fitDecimal(divHalfUp(num, r.Denom()), to.Precision)
}

func fromDecimal(from *arrow.Decimal128Type, to arrow.DataType) func(memory.Allocator, arrow.Array) arrow.Array {
	s := from.Scale
	return func(mem memory.Allocator, a arrow.Array) arrow.Array {
		switch to.ID() {
		case arrow.FLOAT64:
			return map1(mem, a, to, func(v decimal128.Num) (float64, bool) { return v.ToFloat64(s), true })
		case arrow.INT32:
			return map1(mem, a, to, func(v decimal128.Num) (int32, bool) { return int32(truncDecimal(v, s)), true })
		}
		return map1(mem, a, to, func(v decimal128.Num) (int64, bool) { return truncDecimal(v, s), true })
	}
}

// truncDecimal drops the fraction and wraps to 64 bits like BigDecimal.longValue.
func truncDecimal(v decimal128.Num, scale int32) int64 {
	b := v.BigInt()
	b.Quo(b, pow10(scale))
	return int64(decimal128.FromBigInt(b).LowBits())
}

// formatter renders row i of an array of type t, appending to buf.
func formatter(t arrow.DataType) func(a arrow.Array, i int, buf []byte) []byte {
	switch t.ID() {
	case arrow.BOOL:
		return func(a arrow.Array, i int, buf []byte) []byte {
			return strconv.AppendBool(buf, a.(*array.Boolean).Value(i))
		}
	case arrow.INT32:
		return func(a arrow.Array, i int, buf []byte) []byte {
			return strconv.AppendInt(buf, int64(a.(*array.Int32).Value(i)), 10)
		}
	case arrow.INT64:
		return func(a arrow.Array, i int, buf []byte) []byte {
			return strconv.AppendInt(buf, a.(*array.Int64).Value(i), 10)
		}
	case arrow.FLOAT64:
		return func(a arrow.Array, i int, buf []byte) []byte {
			return append(buf, javaDouble(a.(*array.Float64).Value(i))...)
		}
	case arrow.DECIMAL128:
		s := t.(*arrow.Decimal128Type).Scale
		return func(a arrow.Array, i int, buf []byte) []byte {
			return append(buf, a.(*array.Decimal128).Value(i).ToString(s)...)
		}
	case arrow.TIMESTAMP:
		return func(a arrow.Array, i int, buf []byte) []byte {
			return append(buf, formatISOTimestamp(int64(a.(*array.Timestamp).Value(i)))...)
		}
	case arrow.DATE32:
		return func(a arrow.Array, i int, buf []byte) []byte {
			return append(buf, formatISODate(int32(a.(*array.Date32).Value(i)))...)
		}
	case arrow.TIME32:
		return func(a arrow.Array, i int, buf []byte) []byte {
			return append(buf, formatISOTime(int32(a.(*array.Time32).Value(i)))...)
		}
	}
	return nil
}

// formatAll renders every non-null row of a to VARCHAR.
func formatAll(mem memory.Allocator, a arrow.Array, f func(a arrow.Array, i int, buf []byte) []byte) arrow.Array {
	n := a.Len()
	out := newBinOut(mem, String, n, n*8)
	var buf []byte
	for i := range n {
		if a.IsNull(i) {
			out.b.AppendNull()
			continue
		}
		buf = f(a, i, buf[:0])
		out.b.Append(buf)
	}
	return out.finish()
}

// parser builds the VARCHAR → to conversion.
func parser(to arrow.DataType) func(memory.Allocator, strArr) arrow.Array {
	switch to.ID() {
	case arrow.BOOL:
		return func(mem memory.Allocator, s strArr) arrow.Array {
			out := newBoolOut(mem, s.Len(), nil, 0)
			out.valid, out.nulls = validity(mem, s.Len(), s)
			for i := range s.Len() {
				out.set(i, strings.EqualFold(s.Value(i), "true"))
			}
			return out.finish()
		}
	case arrow.INT32:
		return parseAll(to, func(v string) (int32, bool) {
			i, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
			return int32(i), err == nil
		})
	case arrow.INT64:
		return parseAll(to, func(v string) (int64, bool) {
			i, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return i, err == nil
		})
	case arrow.FLOAT64:
		return parseAll(to, func(v string) (float64, bool) {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f, err == nil
		})
	case arrow.DECIMAL128:
		d := to.(*arrow.Decimal128Type)
		return parseAll(to, func(v string) (decimal128.Num, bool) {
			r, ok := new(big.Rat).SetString(strings.TrimSpace(v))
			if !ok {
				return decimal128.Num{}, false
			}
			return fitDecimal(divHalfUp(new(big.Int).Mul(r.Num(), pow10(d.Scale)), r.Denom()), d.Precision)
		})
	case arrow.TIMESTAMP:
		return parseAll(to, parseISOTimestamp)
	case arrow.DATE32:
		return parseAll(to, func(v string) (int32, bool) { d, ok := parseISODate(v); return int32(d), ok })
	case arrow.TIME32:
		return parseAll(to, func(v string) (int32, bool) { t, ok := parseISOTime(v); return int32(t), ok })
	}
	return func(mem memory.Allocator, s strArr) arrow.Array { return array.MakeArrayOfNull(mem, to, s.Len()) }
}

func parseAll[R arrow.FixedWidthType](to arrow.DataType, f func(string) (R, bool)) func(memory.Allocator, strArr) arrow.Array {
	return func(mem memory.Allocator, s strArr) arrow.Array {
		return mapIdx(mem, s.Len(), to, []arrow.Array{s}, func(i int) (R, bool) {
			if s.IsNull(i) {
				var zero R
				return zero, true
			}
			return f(s.Value(i))
		})
	}
}

// javaDouble formats like Java's Double.toString.
func javaDouble(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	if a := math.Abs(f); a >= 1e-3 && a < 1e7 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'E', -1, 64)
	mant, exp, _ := strings.Cut(s, "E")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	e, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(e)
}
