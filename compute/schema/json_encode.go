package schema

import (
	"encoding/base64"
	"math"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// appendJSONValue appends value i of a as JSON: NULL as null, DECIMAL as a
// number with its scale, TIMESTAMP, DATE and TIME as integers, BYTES as a
// base64 string, DOUBLE NaN and infinities as the strings "NaN", "Infinity"
// and "-Infinity", STRUCTs as objects keyed by field name.
func appendJSONValue(dst []byte, a arrow.Array, i int) []byte {
	if a.IsNull(i) {
		return append(dst, "null"...)
	}
	switch a := a.(type) {
	case *array.String:
		return appendJSONString(dst, a.Value(i))
	case *array.Binary:
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, a.Value(i))
		return append(dst, '"')
	case *array.Float64:
		if f := a.Value(i); math.IsNaN(f) || math.IsInf(f, 0) {
			dst = append(dst, '"')
			dst = appendFloat(dst, f)
			return append(dst, '"')
		}
	case *array.List:
		start, end := a.ValueOffsets(i)
		values := a.ListValues()
		dst = append(dst, '[')
		for k := start; k < end; k++ {
			if k > start {
				dst = append(dst, ',')
			}
			dst = appendJSONValue(dst, values, int(k))
		}
		return append(dst, ']')
	case *array.Map:
		start, end := a.ValueOffsets(i)
		keys, items := a.Keys().(*array.String), a.Items()
		dst = append(dst, '{')
		for k := int(start); k < int(end); k++ {
			if k > int(start) {
				dst = append(dst, ',')
			}
			dst = appendJSONValue(dst, keys, k)
			dst = append(dst, ':')
			dst = appendJSONValue(dst, items, k)
		}
		return append(dst, '}')
	case *array.Struct:
		st := a.DataType().(*arrow.StructType)
		dst = append(dst, '{')
		for k := range a.NumField() {
			if k > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, st.Field(k).Name)
			dst = append(dst, ':')
			dst = appendJSONValue(dst, a.Field(k), i)
		}
		return append(dst, '}')
	}
	return appendScalarText(dst, a, i)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			if c < 0x20 {
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			} else {
				dst = append(dst, `\ufffd`...)
			}
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
