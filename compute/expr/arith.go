package expr

import (
	"context"
	"fmt"
	"math"
	"math/big"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/compute"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
)

func init() {
	for _, op := range []string{"+", "-", "*", "/", "%"} {
		min := 2
		if op == "-" {
			min = 1
		}
		register(&function{minArgs: min, maxArgs: 2, bind: bindArith, render: renderArith}, op)
	}
}

func renderArith(name string, a []string) string {
	if len(a) == 1 {
		return "(-" + a[0] + ")"
	}
	return infix(name, a)
}

var unchecked = map[string]string{"+": "add_unchecked", "-": "subtract_unchecked", "*": "multiply_unchecked"}

func bindArith(op string, args []Expr) (*call, error) {
	if len(args) == 1 {
		return bindNegate(args[0])
	}
	l, r := args[0], args[1]
	lt, rt := l.Type(), r.Type()
	if isNull(lt) {
		lt = rt
	}
	if isNull(rt) {
		rt = lt
	}
	if op == "+" && lt.ID() == arrow.STRING && rt.ID() == arrow.STRING {
		return bindConcatOp(op, []Expr{l, r})
	}
	if !isNumeric(lt) || !isNumeric(rt) {
		return nil, fmt.Errorf("cannot apply %s to %s and %s", op, SQLType(l.Type()), SQLType(r.Type()))
	}
	if numericRank(lt) == 3 && numericRank(rt) < 4 || numericRank(rt) == 3 && numericRank(lt) < 4 {
		return bindDecimalArith(op, l, r)
	}
	t := commonNumeric(lt, rt)
	args, err := coerceAll(args, t)
	if err != nil {
		return nil, err
	}
	c := &call{args: args, typ: t}
	switch {
	case op == "/" && t.ID() == arrow.FLOAT64:
		c.kern = arrays(binaryNum(func(a, b float64) (float64, bool) { return a / b, true }))
	case op == "%" && t.ID() == arrow.FLOAT64:
		c.kern = arrays(binaryNum(func(a, b float64) (float64, bool) { return math.Mod(a, b), true }))
	case op == "/" && t.ID() == arrow.INT32:
		c.kern = arrays(binaryNum(intDiv[int32]))
	case op == "/":
		c.kern = arrays(binaryNum(intDiv[int64]))
	case op == "%" && t.ID() == arrow.INT32:
		c.kern = arrays(binaryNum(intMod[int32]))
	case op == "%":
		c.kern = arrays(binaryNum(intMod[int64]))
	default:
		c.kern = arrowKernel(unchecked[op], nil)
	}
	return c, nil
}

// intDiv divides like Java: truncating, MIN / -1 wraps; x / 0 is NULL.
func intDiv[T int32 | int64](a, b T) (T, bool) {
	if b == 0 {
		return 0, false
	}
	return a / b, true
}

// intMod is Java's remainder (sign of the dividend); x % 0 is NULL.
func intMod[T int32 | int64](a, b T) (T, bool) {
	if b == 0 {
		return 0, false
	}
	if b == -1 {
		return 0, true
	}
	return a % b, true
}

// binaryNum adapts a scalar function to an arrayKernel over two same-typed columns.
func binaryNum[T int32 | int64 | float64](f func(a, b T) (T, bool)) arrayKernel {
	return func(ctx context.Context, args []arrow.Array, _ int) (arrow.Array, error) {
		return map2(compute.GetAllocator(ctx), args[0], args[1], args[0].DataType(), f), nil
	}
}

func bindNegate(e Expr) (*call, error) {
	t := e.Type()
	c := &call{args: []Expr{e}, typ: t, render: nil}
	switch {
	case t.ID() == arrow.DECIMAL128:
		c.kern = arrays(func(ctx context.Context, a []arrow.Array, _ int) (arrow.Array, error) {
			return map1(compute.GetAllocator(ctx), a[0], t, func(v decimal128.Num) (decimal128.Num, bool) { return v.Negate(), true }), nil
		})
	case isNumeric(t):
		c.kern = arrowKernel("negate_unchecked", nil)
	default:
		return nil, fmt.Errorf("cannot negate %s", SQLType(t))
	}
	return c, nil
}

// decimalResult is ksqlDB's result type for DECIMAL arithmetic.
func decimalResult(op string, l, r *arrow.Decimal128Type) *arrow.Decimal128Type {
	p1, s1, p2, s2 := l.Precision, l.Scale, r.Precision, r.Scale
	switch op {
	case "+", "-":
		s := max(s1, s2)
		return decimalType(max(p1-s1, p2-s2)+s+1, s)
	case "*":
		return decimalType(p1+p2+1, s1+s2)
	case "/":
		s := max(6, s1+p2+1)
		return decimalType(p1-s1+s2+s, s)
	default: // %
		s := max(s1, s2)
		return decimalType(min(p1-s1, p2-s2)+s, s)
	}
}

func bindDecimalArith(op string, l, r Expr) (*call, error) {
	ld, rd := asDecimal(nonNull(l.Type(), r.Type())), asDecimal(nonNull(r.Type(), l.Type()))
	var err error
	if l, err = coerce(l, ld); err != nil {
		return nil, err
	}
	if r, err = coerce(r, rd); err != nil {
		return nil, err
	}
	out := decimalResult(op, ld, rd)
	f := decimalOp(op, ld.Scale, rd.Scale, out)
	return &call{args: []Expr{l, r}, typ: out, kern: arrays(func(ctx context.Context, a []arrow.Array, _ int) (arrow.Array, error) {
		return map2(compute.GetAllocator(ctx), a[0], a[1], out, f), nil
	})}, nil
}

func nonNull(t, other arrow.DataType) arrow.DataType {
	if isNull(t) {
		return other
	}
	return t
}

// decimalOp computes exactly and rounds HALF_UP to the result scale; results
// that overflow the result precision, and division or modulo by zero, are NULL.
func decimalOp(op string, s1, s2 int32, out *arrow.Decimal128Type) func(a, b decimal128.Num) (decimal128.Num, bool) {
	return func(a, b decimal128.Num) (decimal128.Num, bool) {
		if r, ok, done := decimalFast(op, a, b, s1, s2, out); done {
			return r, ok
		}
		x, y := a.BigInt(), b.BigInt()
		var v *big.Int
		scale := out.Scale
		switch op {
		case "+", "-":
			s := max(s1, s2)
			x.Mul(x, pow10(s-s1))
			y.Mul(y, pow10(s-s2))
			if op == "+" {
				v = x.Add(x, y)
			} else {
				v = x.Sub(x, y)
			}
			v = rescaleBig(v, s, scale)
		case "*":
			v = rescaleBig(x.Mul(x, y), s1+s2, scale)
		case "/":
			if y.Sign() == 0 {
				return decimal128.Num{}, false
			}
			// x/10^s1 / (y/10^s2) at scale S = x*10^(S-s1+s2) / y.
			if e := scale - s1 + s2; e >= 0 {
				x.Mul(x, pow10(e))
			} else {
				y.Mul(y, pow10(-e))
			}
			v = divHalfUp(x, y)
		default:
			if y.Sign() == 0 {
				return decimal128.Num{}, false
			}
			s := max(s1, s2)
			x.Mul(x, pow10(s-s1))
			y.Mul(y, pow10(s-s2))
			v = rescaleBig(x.Rem(x, y), s, scale)
		}
		return fitDecimal(v, out.Precision)
	}
}

// decimalFast handles + - * of operands below 2^63 in 128-bit arithmetic,
// which cannot overflow there; done is false when the big.Int path is needed.
func decimalFast(op string, a, b decimal128.Num, s1, s2 int32, out *arrow.Decimal128Type) (r decimal128.Num, ok, done bool) {
	small := func(n decimal128.Num) bool {
		hi, lo := n.HighBits(), n.LowBits()
		return hi == 0 && lo < 1<<63 || hi == -1 && lo >= 1<<63
	}
	if !small(a) || !small(b) {
		return r, false, false
	}
	switch {
	case op == "*" && s1+s2 == out.Scale:
		r = a.Mul(b)
	case (op == "+" || op == "-") && out.Scale-s1 <= 18 && out.Scale-s2 <= 18:
		a = a.Mul(decimal128.GetScaleMultiplier(int(out.Scale - s1)))
		b = b.Mul(decimal128.GetScaleMultiplier(int(out.Scale - s2)))
		if op == "+" {
			r = a.Add(b)
		} else {
			r = a.Sub(b)
		}
	default:
		return r, false, false
	}
	return r, r.FitsInPrecision(out.Precision), true
}

// fitDecimal converts v when it fits the precision.
func fitDecimal(v *big.Int, precision int32) (decimal128.Num, bool) {
	if new(big.Int).Abs(v).Cmp(pow10(precision)) >= 0 {
		return decimal128.Num{}, false
	}
	return decimal128.FromBigInt(v), true
}

// rescaleBig moves v from scale from to scale to, rounding HALF_UP.
func rescaleBig(v *big.Int, from, to int32) *big.Int {
	if to >= from {
		return v.Mul(v, pow10(to-from))
	}
	return divHalfUp(v, pow10(from-to))
}

// divHalfUp divides rounding half away from zero (BigDecimal HALF_UP).
func divHalfUp(x, y *big.Int) *big.Int {
	q, r := new(big.Int).QuoRem(x, y, new(big.Int))
	if r.Sign() != 0 {
		r.Abs(r).Lsh(r, 1)
		if r.Cmp(new(big.Int).Abs(y)) >= 0 {
			if x.Sign()*y.Sign() < 0 {
				q.Sub(q, big.NewInt(1))
			} else {
				q.Add(q, big.NewInt(1))
			}
		}
	}
	return q
}

var pow10s = func() []*big.Int {
	out := make([]*big.Int, 2*maxPrecision+2)
	for i := range out {
		out[i] = new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(i)), nil)
	}
	return out
}()

// pow10 returns 10^n; callers must not modify the result.
func pow10(n int32) *big.Int { return pow10s[n] }
