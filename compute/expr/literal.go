package expr

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/arrow/scalar"
)

// toScalar converts a Go value to a scalar of type typ.
func toScalar(value any, typ arrow.DataType) (scalar.Scalar, error) {
	if typ == nil {
		return nil, fmt.Errorf("literal %v: missing type", value)
	}
	if value == nil {
		return scalar.MakeNullScalar(typ), nil
	}
	if sc, ok := value.(scalar.Scalar); ok {
		if !arrow.TypeEqual(sc.DataType(), typ) {
			return nil, fmt.Errorf("literal %s has type %s, not %s", sc, SQLType(sc.DataType()), SQLType(typ))
		}
		return sc, nil
	}
	bad := fmt.Errorf("literal %#v (%T) is not a valid %s", value, value, SQLType(typ))
	switch typ.ID() {
	case arrow.BOOL:
		if v, ok := value.(bool); ok {
			return scalar.NewBooleanScalar(v), nil
		}
	case arrow.INT32:
		if v, ok := asInt64(value); ok && v >= math.MinInt32 && v <= math.MaxInt32 {
			return scalar.NewInt32Scalar(int32(v)), nil
		}
	case arrow.INT64:
		if v, ok := asInt64(value); ok {
			return scalar.NewInt64Scalar(v), nil
		}
	case arrow.FLOAT64:
		switch v := value.(type) {
		case float64:
			return scalar.NewFloat64Scalar(v), nil
		case float32:
			return scalar.NewFloat64Scalar(float64(v)), nil
		}
		if v, ok := asInt64(value); ok {
			return scalar.NewFloat64Scalar(float64(v)), nil
		}
	case arrow.DECIMAL128:
		d := typ.(*arrow.Decimal128Type)
		var (
			n   decimal128.Num
			err error
		)
		switch v := value.(type) {
		case decimal128.Num:
			n = v
		case string:
			n, err = decimal128.FromString(strings.TrimSpace(v), d.Precision, d.Scale)
		case float64:
			n, err = decimal128.FromFloat64(v, d.Precision, d.Scale)
		default:
			i, ok := asInt64(value)
			if !ok {
				return nil, bad
			}
			n, err = decimal128.FromI64(i).Rescale(0, d.Scale)
		}
		if err != nil || !n.FitsInPrecision(d.Precision) {
			return nil, bad
		}
		return scalar.NewDecimal128Scalar(n, typ), nil
	case arrow.STRING:
		if v, ok := value.(string); ok {
			return scalar.NewStringScalar(v), nil
		}
	case arrow.BINARY:
		switch v := value.(type) {
		case []byte:
			return scalar.NewBinaryScalar(memory.NewBufferBytes(v), typ), nil
		case string:
			return scalar.NewBinaryScalar(memory.NewBufferBytes([]byte(v)), typ), nil
		}
	case arrow.TIMESTAMP:
		switch v := value.(type) {
		case time.Time:
			return scalar.NewTimestampScalar(arrow.Timestamp(v.UnixMilli()), typ), nil
		case string:
			if ms, ok := parseISOTimestamp(v); ok {
				return scalar.NewTimestampScalar(arrow.Timestamp(ms), typ), nil
			}
		default:
			if ms, ok := asInt64(value); ok {
				return scalar.NewTimestampScalar(arrow.Timestamp(ms), typ), nil
			}
		}
	case arrow.DATE32:
		switch v := value.(type) {
		case time.Time:
			return scalar.NewDate32Scalar(arrow.Date32FromTime(v)), nil
		case string:
			if d, ok := parseISODate(v); ok {
				return scalar.NewDate32Scalar(d), nil
			}
		default:
			if d, ok := asInt64(value); ok {
				return scalar.NewDate32Scalar(arrow.Date32(d)), nil
			}
		}
	case arrow.TIME32:
		switch v := value.(type) {
		case time.Duration:
			return scalar.NewTime32Scalar(arrow.Time32(v.Milliseconds()), typ), nil
		case string:
			if t, ok := parseISOTime(v); ok {
				return scalar.NewTime32Scalar(t, typ), nil
			}
		default:
			if ms, ok := asInt64(value); ok {
				return scalar.NewTime32Scalar(arrow.Time32(ms), typ), nil
			}
		}
	}
	return nil, bad
}

func asInt64(v any) (int64, bool) {
	switch v := v.(type) {
	case int:
		return int64(v), true
	case int32:
		return int64(v), true
	case int64:
		return v, true
	}
	return 0, false
}

// renderScalar renders a literal in SQL syntax.
func renderScalar(sc scalar.Scalar) string {
	if !sc.IsValid() {
		if isNull(sc.DataType()) {
			return "NULL"
		}
		return "CAST(NULL AS " + SQLType(sc.DataType()) + ")"
	}
	switch v := sc.(type) {
	case *scalar.String:
		return quote(string(v.Value.Bytes()))
	case *scalar.Binary:
		return fmt.Sprintf("X'%X'", v.Value.Bytes())
	case *scalar.Float64:
		return javaDouble(v.Value)
	case *scalar.Decimal128:
		return v.Value.ToString(v.Type.(*arrow.Decimal128Type).Scale)
	case *scalar.Int32:
		return strconv.FormatInt(int64(v.Value), 10)
	case *scalar.Int64:
		return strconv.FormatInt(v.Value, 10)
	case *scalar.Timestamp:
		return "TIMESTAMP " + quote(formatISOTimestamp(int64(v.Value)))
	case *scalar.Date32:
		return "DATE " + quote(formatISODate(int32(v.Value)))
	case *scalar.Time32:
		return "TIME " + quote(formatISOTime(int32(v.Value)))
	}
	return sc.String()
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// emptyRecord is a batch of n rows and no columns, used to evaluate constants.
func emptyRecord(n int) arrow.Record {
	return array.NewRecord(arrow.NewSchema(nil, nil), nil, int64(n))
}
