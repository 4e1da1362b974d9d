package schema

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
)

// Arrow returns the Arrow type that holds values of t, or nil for the zero
// Type. All nested fields and elements are nullable; MAP keys are not.
func (t Type) Arrow() arrow.DataType {
	switch t.kind {
	case KindBoolean:
		return arrow.FixedWidthTypes.Boolean
	case KindInt:
		return arrow.PrimitiveTypes.Int32
	case KindBigInt:
		return arrow.PrimitiveTypes.Int64
	case KindDouble:
		return arrow.PrimitiveTypes.Float64
	case KindDecimal:
		return &arrow.Decimal128Type{Precision: int32(t.precision), Scale: int32(t.scale)}
	case KindString:
		return arrow.BinaryTypes.String
	case KindTimestamp:
		return arrow.FixedWidthTypes.Timestamp_ms
	case KindDate:
		return arrow.FixedWidthTypes.Date32
	case KindTime:
		return arrow.FixedWidthTypes.Time32ms
	case KindBytes:
		return arrow.BinaryTypes.Binary
	case KindArray:
		return arrow.ListOf(t.elem.Arrow())
	case KindMap:
		return arrow.MapOf(arrow.BinaryTypes.String, t.elem.Arrow())
	case KindStruct:
		fields := make([]arrow.Field, len(t.st.fields))
		for i, f := range t.st.fields {
			fields[i] = arrow.Field{Name: f.Name, Type: f.Type.Arrow(), Nullable: true}
		}
		return arrow.StructOf(fields...)
	}
	return nil
}

// FromArrow returns the SQL type whose Arrow type is dt: the inverse of
// Type.Arrow. Arrow types that Arrow never returns (other integer widths,
// other time units or zones, large or view layouts, …) are an error.
func FromArrow(dt arrow.DataType) (Type, error) {
	switch dt := dt.(type) {
	case *arrow.BooleanType:
		return Boolean, nil
	case *arrow.Int32Type:
		return Int, nil
	case *arrow.Int64Type:
		return BigInt, nil
	case *arrow.Float64Type:
		return Double, nil
	case *arrow.Decimal128Type:
		return Decimal(int(dt.Precision), int(dt.Scale))
	case *arrow.StringType:
		return String, nil
	case *arrow.TimestampType:
		if dt.Unit == arrow.Millisecond && dt.TimeZone == "UTC" {
			return Timestamp, nil
		}
	case *arrow.Date32Type:
		return Date, nil
	case *arrow.Time32Type:
		if dt.Unit == arrow.Millisecond {
			return Time, nil
		}
	case *arrow.BinaryType:
		return Bytes, nil
	case *arrow.MapType:
		value, err := FromArrow(dt.ItemType())
		if err != nil {
			return Type{}, err
		}
		if _, ok := dt.KeyType().(*arrow.StringType); !ok {
			return Type{}, fmt.Errorf("%w: MAP keys must be STRING, not Arrow %s", ErrInvalidType, dt.KeyType())
		}
		return Map(String, value)
	case *arrow.ListType:
		elem, err := FromArrow(dt.Elem())
		if err != nil {
			return Type{}, err
		}
		return Array(elem), nil
	case *arrow.StructType:
		fields := make([]Field, dt.NumFields())
		for i, f := range dt.Fields() {
			t, err := FromArrow(f.Type)
			if err != nil {
				return Type{}, fmt.Errorf("field %q: %w", f.Name, err)
			}
			fields[i] = Field{Name: f.Name, Type: t}
		}
		return Struct(fields...)
	}
	return Type{}, fmt.Errorf("%w: no SQL type for Arrow type %s", ErrInvalidType, dt)
}
