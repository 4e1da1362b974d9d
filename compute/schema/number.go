package schema

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"

	"github.com/apache/arrow/go/v17/arrow/decimal128"
)

// numeral is a decimal numeral ±intPart.fracPart×10^exp, kept as text so that
// integers and DECIMALs convert exactly.
type numeral struct {
	neg           bool
	intPart, frac string
	exp           int
}

// maxExp bounds exponents; beyond it every nonzero numeral over- or
// underflows any column type, and sums of exponents and lengths stay small.
const maxExp = 1 << 30

// parseNumeral parses [+-]digits[.digits][(e|E)[+-]digits]. In strict mode
// it follows the JSON number grammar: no '+', no leading zeros, digits on
// both sides of the point; otherwise those are allowed, as long as a digit
// appears before the exponent.
func parseNumeral(s string, strict bool) (n numeral, ok bool) {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+' && !strict) {
		n.neg = s[i] == '-'
		i++
	}
	start := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	n.intPart = s[start:i]
	if strict && (len(n.intPart) == 0 || len(n.intPart) > 1 && n.intPart[0] == '0') {
		return n, false
	}
	if i < len(s) && s[i] == '.' {
		i++
		start = i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		n.frac = s[start:i]
		if strict && len(n.frac) == 0 {
			return n, false
		}
	}
	if len(n.intPart)+len(n.frac) == 0 {
		return n, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		neg := false
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			neg = s[i] == '-'
			i++
		}
		if i == len(s) {
			return n, false
		}
		for ; i < len(s) && isDigit(s[i]); i++ {
			if n.exp < maxExp {
				n.exp = n.exp*10 + int(s[i]-'0')
			}
		}
		if neg {
			n.exp = -n.exp
		}
	}
	return n, i == len(s)
}

// parseSmallInt parses -?[0-9]{1,18}, the integers that cannot overflow an
// int64: a fast path for the common case of parseNumeral and toInt.
func parseSmallInt(s string) (int64, bool) {
	digits := s
	if len(s) > 0 && s[0] == '-' {
		digits = s[1:]
	}
	if len(digits) == 0 || len(digits) > 18 {
		return 0, false
	}
	var v int64
	for i := range len(digits) {
		c := digits[i]
		if !isDigit(c) {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if len(digits) < len(s) {
		v = -v
	}
	return v, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func (n numeral) digit(i int) byte {
	if i < len(n.intPart) {
		return n.intPart[i]
	}
	return n.frac[i-len(n.intPart)]
}

// u128 is an unsigned 128-bit integer.
type u128 struct{ hi, lo uint64 }

var pow10 = func() (p [MaxDecimalPrecision + 1]u128) {
	p[0] = u128{lo: 1}
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1].mulAdd(10, 0)
	}
	return p
}()

func (a u128) mulAdd(m, add uint64) u128 {
	hi, lo := bits.Mul64(a.lo, m)
	lo, carry := bits.Add64(lo, add, 0)
	return u128{hi: a.hi*m + hi + carry, lo: lo}
}

func (a u128) less(b u128) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

// errOverflow reports a number too large for its column type.
var errOverflow = errors.New("out of range")

// shift returns the magnitude of n×10^scale with the fraction cut off, the
// first digit cut off ('0' if none) and whether any digit cut off is nonzero.
// It fails with errOverflow once the magnitude reaches 10^38.
func (n numeral) shift(scale int) (m u128, round byte, inexact bool, err error) {
	total := len(n.intPart) + len(n.frac)
	keep := total + n.exp - len(n.frac) + scale // digits left of the point
	round = '0'
	for i := range total {
		d := n.digit(i)
		switch {
		case i < keep:
			if !m.less(pow10[MaxDecimalPrecision-1]) {
				return m, round, inexact, errOverflow
			}
			m = m.mulAdd(10, uint64(d-'0'))
		case i == keep:
			round = d
			inexact = inexact || d != '0'
		default:
			inexact = inexact || d != '0'
		}
	}
	if m == (u128{}) {
		return m, round, inexact, nil
	}
	for range keep - total {
		if !m.less(pow10[MaxDecimalPrecision-1]) {
			return m, round, inexact, errOverflow
		}
		m = m.mulAdd(10, 0)
	}
	return m, round, inexact, nil
}

// toInt converts n to an integer in [min, max]; fractions are an error.
func (n numeral) toInt(min, max int64) (int64, error) {
	m, _, inexact, err := n.shift(0)
	switch {
	case err != nil:
		return 0, err
	case inexact:
		return 0, errors.New("not an integer")
	case m.hi != 0 || m.lo > uint64(math.MaxInt64)+1:
		return 0, errOverflow
	}
	v := int64(m.lo) // wraps to MinInt64 for 2^63
	if n.neg {
		v = -v
	} else if v < 0 {
		return 0, errOverflow
	}
	if v < min || v > max {
		return 0, errOverflow
	}
	return v, nil
}

// toDecimal converts n to a DECIMAL(precision, scale), rounding half away
// from zero to the scale.
func (n numeral) toDecimal(precision, scale int) (decimal128.Num, error) {
	m, round, _, err := n.shift(scale)
	if err != nil {
		return decimal128.Num{}, err
	}
	if round >= '5' {
		m = m.mulAdd(1, 1)
	}
	if !m.less(pow10[precision]) {
		return decimal128.Num{}, fmt.Errorf("%w: needs more than %d digits", errOverflow, precision)
	}
	d := decimal128.New(int64(m.hi), m.lo)
	if n.neg {
		d = d.Negate()
	}
	return d, nil
}

// appendDecimal appends d with scale digits after the point.
func appendDecimal(dst []byte, d decimal128.Num, scale int) []byte {
	if d.Sign() < 0 {
		dst = append(dst, '-')
		d = d.Negate()
	}
	var buf [MaxDecimalPrecision + 2]byte
	i := len(buf)
	m := u128{hi: uint64(d.HighBits()), lo: d.LowBits()}
	for digits := 0; digits <= scale || m != (u128{}); digits++ {
		if digits == scale && scale > 0 {
			i--
			buf[i] = '.'
		}
		var r uint64
		m.hi, r = bits.Div64(0, m.hi, 10)
		m.lo, r = bits.Div64(r, m.lo, 10)
		i--
		buf[i] = byte('0' + r)
	}
	return append(dst, buf[i:]...)
}

// appendFloat appends f the way encoding/json writes numbers; NaN and
// infinities, which JSON numbers cannot hold, as NaN, Infinity, -Infinity.
func appendFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(dst, f, format, -1, 64)
}
