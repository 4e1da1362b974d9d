package schema

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// errInvalidUTF8 reports a STRING that is not valid UTF-8.
var errInvalidUTF8 = errors.New("invalid UTF-8 in STRING")

// textCell decodes text (a JSON string's content, a JSON number, a
// DELIMITED field) as a value of type t. text, which the cell may point
// into, must stay unchanged until the row is appended.
func (r *row) textCell(t *Type, text []byte) (cell, error) {
	s := unsafeString(text)
	c := cell{valid: true}
	switch t.kind {
	case KindBoolean:
		switch {
		case len(s) == 4 && asciiEqualFold(s, "true"):
			c.bits = 1
		case len(s) == 5 && asciiEqualFold(s, "false"):
		default:
			return cell{}, conversionError(s, t, nil)
		}
	case KindInt, KindBigInt, KindTimestamp, KindDate, KindTime:
		v, err := parseTemporalOrInt(s, t.kind)
		if err != nil {
			return cell{}, conversionError(s, t, err)
		}
		c.bits = uint64(v)
	case KindDouble:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil && !(errors.Is(err, strconv.ErrRange) && !math.IsInf(f, 0)) {
			return cell{}, conversionError(s, t, nil)
		}
		c.bits = math.Float64bits(f)
	case KindDecimal:
		n, ok := parseNumeral(s, false)
		if !ok {
			return cell{}, conversionError(s, t, nil)
		}
		d, err := n.toDecimal(int(t.precision), int(t.scale))
		if err != nil {
			return cell{}, conversionError(s, t, err)
		}
		c.dec = d
	case KindString:
		if !utf8.Valid(text) {
			return cell{}, errInvalidUTF8
		}
		c.bytes = text
	case KindBytes:
		start := len(r.buf)
		var err error
		if r.buf, err = base64.StdEncoding.AppendDecode(r.buf, text); err != nil {
			return cell{}, conversionError(s, t, err)
		}
		c.bytes = r.buf[start:]
	default:
		return cell{}, fmt.Errorf("cannot convert a string to %s", t)
	}
	return c, nil
}

// parseTemporalOrInt parses an INT, a BIGINT or a TIMESTAMP, DATE or TIME as
// the integer that Arrow stores (epoch ms, epoch days, ms since midnight),
// given as a numeral or, for the temporal kinds, in ISO-8601.
func parseTemporalOrInt(s string, k Kind) (int64, error) {
	lo, hi := int64(math.MinInt32), int64(math.MaxInt32)
	switch k {
	case KindBigInt, KindTimestamp:
		lo, hi = math.MinInt64, math.MaxInt64
	case KindTime:
		lo, hi = 0, msPerDay-1
	}
	if v, ok := parseSmallInt(s); ok {
		if v < lo || v > hi {
			return 0, errOverflow
		}
		return v, nil
	}
	if n, ok := parseNumeral(s, false); ok {
		return n.toInt(lo, hi)
	}
	var v int64
	ok := false
	switch k {
	case KindTimestamp:
		v, ok = parseTimestamp(s)
	case KindDate:
		v, ok = parseDate(s)
	case KindTime:
		v, ok = parseTimeOfDay(s)
	}
	if !ok {
		return 0, errors.New("invalid syntax")
	}
	return v, nil
}

func conversionError(s string, t *Type, err error) error {
	const max = 40
	if len(s) > max {
		s = s[:max] + "…"
	}
	if err == nil {
		return fmt.Errorf("cannot convert %q to %s", s, t)
	}
	return fmt.Errorf("cannot convert %q to %s: %w", s, t, err)
}

// asciiEqualFold reports whether s equals the lower-case ASCII word lower,
// ignoring case.
func asciiEqualFold(s, lower string) bool {
	for i := range len(lower) {
		if s[i]|0x20 != lower[i] {
			return false
		}
	}
	return true
}

// unsafeString returns b as a string without copying; b must not change
// while the string is in use.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// appendScalarText appends the text of value i of a, a non-null primitive
// other than STRING and BYTES, as JSON and DELIMITED write it.
func appendScalarText(dst []byte, a arrow.Array, i int) []byte {
	switch a := a.(type) {
	case *array.Boolean:
		return strconv.AppendBool(dst, a.Value(i))
	case *array.Int32:
		return strconv.AppendInt(dst, int64(a.Value(i)), 10)
	case *array.Int64:
		return strconv.AppendInt(dst, a.Value(i), 10)
	case *array.Float64:
		return appendFloat(dst, a.Value(i))
	case *array.Decimal128:
		return appendDecimal(dst, a.Value(i), int(a.DataType().(*arrow.Decimal128Type).Scale))
	case *array.Timestamp:
		return strconv.AppendInt(dst, int64(a.Value(i)), 10)
	case *array.Date32:
		return strconv.AppendInt(dst, int64(a.Value(i)), 10)
	case *array.Time32:
		return strconv.AppendInt(dst, int64(a.Value(i)), 10)
	}
	panic("schema: no text form for Arrow type " + a.DataType().String())
}
