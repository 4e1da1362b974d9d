package expr

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"strconv"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/compute"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

func init() {
	register(&function{minArgs: 1, maxArgs: 1, bind: bindAbs}, "ABS")
	register(&function{minArgs: 1, maxArgs: 1, bind: bindCeilFloor(true)}, "CEIL", "CEILING")
	register(&function{minArgs: 1, maxArgs: 1, bind: bindCeilFloor(false)}, "FLOOR")
	register(&function{minArgs: 1, maxArgs: 2, bind: bindRound}, "ROUND")
	register(&function{minArgs: 1, maxArgs: 1, bind: bindDouble("sqrt_unchecked", nil)}, "SQRT")
	register(&function{minArgs: 1, maxArgs: 1, bind: bindDouble("ln_unchecked", nil)}, "LN")
	register(&function{minArgs: 1, maxArgs: 1, bind: bindDouble("", math.Exp)}, "EXP")
	register(&function{minArgs: 1, maxArgs: 2, bind: bindLog}, "LOG")
	register(&function{minArgs: 2, maxArgs: 2, bind: bindPower}, "POWER", "POW")
	register(&function{minArgs: 1, maxArgs: 1, bind: bindSign}, "SIGN")
	register(&function{minArgs: 1, maxArgs: -1, bind: bindExtreme("greater")}, "GREATEST")
	register(&function{minArgs: 1, maxArgs: -1, bind: bindExtreme("less")}, "LEAST")
}

func numericArg(name string, args []Expr) (arrow.DataType, error) {
	t := args[0].Type()
	if isNull(t) {
		return Int, nil
	}
	if !isNumeric(t) {
		return nil, typeErr(name, 1, args[0], "a numeric type")
	}
	return t, nil
}

// unaryKernel applies f over one array argument.
func unaryKernel(f func(mem memory.Allocator, a arrow.Array) arrow.Array) kernel {
	return arrays(func(ctx context.Context, a []arrow.Array, _ int) (arrow.Array, error) {
		return f(compute.GetAllocator(ctx), a[0]), nil
	})
}

// identity returns its argument (CEIL/FLOOR of an integer).
func identity(_ context.Context, a []compute.Datum, _ int) (compute.Datum, error) {
	return compute.NewDatum(a[0]), nil
}

// bindAbs: Java semantics, so ABS of the minimum INT/BIGINT wraps to itself.
func bindAbs(name string, args []Expr) (*call, error) {
	t, err := numericArg(name, args)
	if err != nil {
		return nil, err
	}
	if args, err = coerceAll(args, t); err != nil {
		return nil, err
	}
	c := &call{args: args, typ: t, kern: arrowKernel("abs_unchecked", nil)}
	if t.ID() == arrow.DECIMAL128 {
		c.kern = unaryKernel(func(mem memory.Allocator, a arrow.Array) arrow.Array {
			return map1(mem, a, t, func(v decimal128.Num) (decimal128.Num, bool) { return v.Abs(), true })
		})
	}
	return c, nil
}

// bindCeilFloor keeps the argument type; DECIMAL keeps its scale.
func bindCeilFloor(ceil bool) func(string, []Expr) (*call, error) {
	return func(name string, args []Expr) (*call, error) {
		t, err := numericArg(name, args)
		if err != nil {
			return nil, err
		}
		if args, err = coerceAll(args, t); err != nil {
			return nil, err
		}
		c := &call{args: args, typ: t, kern: identity}
		switch t.ID() {
		case arrow.FLOAT64:
			c.kern = arrowKernel(map[bool]string{true: "ceil", false: "floor"}[ceil], nil)
		case arrow.DECIMAL128:
			s := t.(*arrow.Decimal128Type).Scale
			c.kern = unaryKernel(func(mem memory.Allocator, a arrow.Array) arrow.Array {
				return map1(mem, a, t, func(v decimal128.Num) (decimal128.Num, bool) {
					d := pow10(s)
					q, r := new(big.Int).QuoRem(v.BigInt(), d, new(big.Int))
					if ceil && r.Sign() > 0 {
						q.Add(q, big.NewInt(1))
					} else if !ceil && r.Sign() < 0 {
						q.Sub(q, big.NewInt(1))
					}
					return decimal128.FromBigInt(q.Mul(q, d)), true
				})
			})
		}
		return c, nil
	}
}

// bindRound follows ksqlDB: ROUND(INT|BIGINT|DOUBLE) → BIGINT, ROUND(DOUBLE, n)
// → DOUBLE, ROUND(DECIMAL(p, s)) → DECIMAL(p-s, 0), ROUND(DECIMAL, n) keeps the
// type; ties round toward positive infinity (Java's Math.round: -1.5 → -1).
// ROUND(INT|BIGINT, n) widens to DECIMAL.
func bindRound(name string, args []Expr) (*call, error) {
	t, err := numericArg(name, args)
	if err != nil {
		return nil, err
	}
	if len(args) == 2 {
		if isIntegral(t) {
			t = asDecimal(t)
		}
		if args, err = checkArgs(name, args, t, Int); err != nil {
			return nil, err
		}
		c := &call{args: args, typ: t}
		if t.ID() == arrow.FLOAT64 {
			c.kern = arrays(func(ctx context.Context, a []arrow.Array, _ int) (arrow.Array, error) {
				return map2(compute.GetAllocator(ctx), a[0], a[1], t, func(v float64, n int32) (float64, bool) { return roundDouble(v, n), true }), nil
			})
		} else {
			d := t.(*arrow.Decimal128Type)
			c.kern = arrays(func(ctx context.Context, a []arrow.Array, _ int) (arrow.Array, error) {
				return map2(compute.GetAllocator(ctx), a[0], a[1], t, func(v decimal128.Num, n int32) (decimal128.Num, bool) {
					if n >= d.Scale {
						return v, true
					}
					r := rescaleBig(roundBig(v.BigInt(), d.Scale-n), 0, d.Scale-n)
					return fitDecimal(r, d.Precision)
				}), nil
			})
		}
		return c, nil
	}
	switch t.ID() {
	case arrow.INT32, arrow.INT64:
		args, err = coerceAll(args, BigInt)
		return &call{args: args, typ: BigInt, kern: identity}, err
	case arrow.FLOAT64:
		return &call{args: args, typ: BigInt, kern: unaryKernel(func(mem memory.Allocator, a arrow.Array) arrow.Array {
			return map1(mem, a, BigInt, func(v float64) (int64, bool) {
				f := math.Floor(v)
				if v-f >= 0.5 {
					f++
				}
				return javaInt[int64](f)
			})
		})}, nil
	}
	d := t.(*arrow.Decimal128Type)
	out := decimalType(max(d.Precision-d.Scale, 1), 0)
	return &call{args: args, typ: out, kern: unaryKernel(func(mem memory.Allocator, a arrow.Array) arrow.Array {
		return map1(mem, a, out, func(v decimal128.Num) (decimal128.Num, bool) {
			return fitDecimal(roundBig(v.BigInt(), d.Scale), out.Precision)
		})
	})}, nil
}

// roundBig divides v by 10^digits rounding ties toward positive infinity:
// floor((2v + 10^digits) / (2·10^digits)).
func roundBig(v *big.Int, digits int32) *big.Int {
	d := pow10(digits)
	num := new(big.Int).Lsh(v, 1)
	num.Add(num, d)
	den := new(big.Int).Lsh(d, 1)
	return num.Div(num, den) // Euclidean division floors for a positive divisor
}

// roundDouble is ksqlDB's ROUND(DOUBLE, n): BigDecimal.valueOf(v) rounded to n
// places, ties toward positive infinity.
func roundDouble(v float64, n int32) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) || n > 300 || n < -300 {
		return v
	}
	r, _ := new(big.Rat).SetString(strconv.FormatFloat(v, 'g', -1, 64))
	scale := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(n))), nil))
	if n >= 0 {
		r.Mul(r, scale)
	} else {
		r.Quo(r, scale)
	}
	r.Add(r, big.NewRat(1, 2))
	q := new(big.Int).Div(r.Num(), r.Denom()) // Euclidean division floors for a positive denominator
	out := new(big.Rat).SetInt(q)
	if n >= 0 {
		out.Quo(out, scale)
	} else {
		out.Mul(out, scale)
	}
	f, _ := out.Float64()
	return f
}

func abs(n int32) int32 {
	if n < 0 {
		return -n
	}
	return n
}

// bindDouble is a DOUBLE → DOUBLE function, via an arrow kernel or f.
func bindDouble(arrowName string, f func(float64) float64) func(string, []Expr) (*call, error) {
	return func(name string, args []Expr) (*call, error) {
		args, err := checkArgs(name, args, Double)
		if err != nil {
			return nil, err
		}
		c := &call{args: args, typ: Double, kern: arrowKernel(arrowName, nil)}
		if f != nil {
			c.kern = unaryKernel(func(mem memory.Allocator, a arrow.Array) arrow.Array {
				return map1(mem, a, Double, func(v float64) (float64, bool) { return f(v), true })
			})
		}
		return c, nil
	}
}

// bindLog is LOG(value) in base 10 and LOG(base, value).
func bindLog(name string, args []Expr) (*call, error) {
	if len(args) == 1 {
		return bindDouble("log10_unchecked", nil)(name, args)
	}
	args, err := checkArgs(name, args, Double)
	if err != nil {
		return nil, err
	}
	return &call{args: args, typ: Double, kern: arrays(func(ctx context.Context, a []arrow.Array, _ int) (arrow.Array, error) {
		return map2(compute.GetAllocator(ctx), a[0], a[1], Double, func(base, v float64) (float64, bool) {
			switch {
			case v == 0:
				return math.Inf(-1), true
			case v < 0 || base <= 0 || base == 1:
				return math.NaN(), true
			}
			return math.Log(v) / math.Log(base), true
		}), nil
	})}, nil
}

func bindPower(name string, args []Expr) (*call, error) {
	args, err := checkArgs(name, args, Double)
	if err != nil {
		return nil, err
	}
	return &call{args: args, typ: Double, kern: arrowKernel("power_unchecked", nil)}, nil
}

// bindSign returns INT -1, 0 or 1 (0 for NaN).
func bindSign(name string, args []Expr) (*call, error) {
	t, err := numericArg(name, args)
	if err != nil {
		return nil, err
	}
	if args, err = coerceAll(args, t); err != nil {
		return nil, err
	}
	sign := func(pos, neg bool) (int32, bool) {
		switch {
		case pos:
			return 1, true
		case neg:
			return -1, true
		}
		return 0, true
	}
	return &call{args: args, typ: Int, kern: unaryKernel(func(mem memory.Allocator, a arrow.Array) arrow.Array {
		switch t.ID() {
		case arrow.INT32:
			return map1(mem, a, Int, func(v int32) (int32, bool) { return sign(v > 0, v < 0) })
		case arrow.INT64:
			return map1(mem, a, Int, func(v int64) (int32, bool) { return sign(v > 0, v < 0) })
		case arrow.FLOAT64:
			return map1(mem, a, Int, func(v float64) (int32, bool) { return sign(v > 0, v < 0) })
		}
		return map1(mem, a, Int, func(v decimal128.Num) (int32, bool) { return int32(v.Sign()), true })
	})}, nil
}

// bindExtreme is GREATEST/LEAST: the largest (smallest) non-NULL argument,
// NULL only when all are NULL. Arguments widen to their common type.
func bindExtreme(cmp string) func(string, []Expr) (*call, error) {
	return func(name string, args []Expr) (*call, error) {
		args, err := comparands(name, args)
		if err != nil {
			return nil, err
		}
		if t := args[0].Type(); !isNumeric(t) && t.ID() != arrow.STRING && !isTemporal(t) {
			return nil, fmt.Errorf("function %s: cannot order values of type %s", name, SQLType(t))
		}
		t := args[0].Type()
		return &call{args: args, typ: t, kern: arrays(func(ctx context.Context, a []arrow.Array, n int) (arrow.Array, error) {
			acc := a[0]
			acc.Retain()
			defer func() { acc.Release() }()
			choice := make([]int32, n)
			for _, next := range a[1:] {
				better, err := compareDatums(ctx, cmp, compute.NewDatumWithoutOwning(next), compute.NewDatumWithoutOwning(acc), n)
				if err != nil {
					return nil, err
				}
				b := better.(*compute.ArrayDatum).MakeArray()
				better.Release()
				bb := b.(interface{ Value(int) bool })
				for i := range n {
					choice[i] = 0
					if next.IsValid(i) && (acc.IsNull(i) || b.IsValid(i) && bb.Value(i)) {
						choice[i] = 1
					}
				}
				b.Release()
				merged, err := choose(ctx, t, []arrow.Array{acc, next}, choice)
				if err != nil {
					return nil, err
				}
				acc.Release()
				acc = merged
			}
			acc.Retain()
			return acc, nil
		})}, nil
	}
}
