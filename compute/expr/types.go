package expr

import (
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
)

// SQL types as Arrow types.
var (
	Boolean   arrow.DataType = arrow.FixedWidthTypes.Boolean
	Int       arrow.DataType = arrow.PrimitiveTypes.Int32
	BigInt    arrow.DataType = arrow.PrimitiveTypes.Int64
	Double    arrow.DataType = arrow.PrimitiveTypes.Float64
	String    arrow.DataType = arrow.BinaryTypes.String
	Bytes     arrow.DataType = arrow.BinaryTypes.Binary
	Timestamp arrow.DataType = &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}
	Date      arrow.DataType = arrow.FixedWidthTypes.Date32
	Time      arrow.DataType = arrow.FixedWidthTypes.Time32ms
	// Null is the type of an untyped NULL literal; it coerces to any type.
	Null arrow.DataType = arrow.Null
)

// maxPrecision is the largest DECIMAL precision (decimal128).
const maxPrecision = 38

// Decimal returns DECIMAL(precision, scale).
func Decimal(precision, scale int32) arrow.DataType {
	return &arrow.Decimal128Type{Precision: precision, Scale: scale}
}

// Array returns ARRAY<elem>.
func Array(elem arrow.DataType) arrow.DataType { return arrow.ListOf(elem) }

// Map returns MAP<key, value>.
func Map(key, value arrow.DataType) arrow.DataType { return arrow.MapOf(key, value) }

// Struct returns STRUCT<fields...>.
func Struct(fields ...arrow.Field) arrow.DataType { return arrow.StructOf(fields...) }

// SQLType renders an Arrow type with its SQL name, e.g. DECIMAL(10, 2) or ARRAY<VARCHAR>.
func SQLType(t arrow.DataType) string {
	switch t.ID() {
	case arrow.NULL:
		return "NULL"
	case arrow.BOOL:
		return "BOOLEAN"
	case arrow.INT32:
		return "INT"
	case arrow.INT64:
		return "BIGINT"
	case arrow.FLOAT64:
		return "DOUBLE"
	case arrow.DECIMAL128:
		d := t.(*arrow.Decimal128Type)
		return fmt.Sprintf("DECIMAL(%d, %d)", d.Precision, d.Scale)
	case arrow.STRING:
		return "VARCHAR"
	case arrow.BINARY:
		return "BYTES"
	case arrow.TIMESTAMP:
		return "TIMESTAMP"
	case arrow.DATE32:
		return "DATE"
	case arrow.TIME32:
		return "TIME"
	case arrow.LIST:
		return "ARRAY<" + SQLType(t.(*arrow.ListType).Elem()) + ">"
	case arrow.MAP:
		m := t.(*arrow.MapType)
		return "MAP<" + SQLType(m.KeyType()) + ", " + SQLType(m.ItemType()) + ">"
	case arrow.STRUCT:
		var b strings.Builder
		b.WriteString("STRUCT<")
		for i, f := range t.(*arrow.StructType).Fields() {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(f.Name + " " + SQLType(f.Type))
		}
		return b.String() + ">"
	}
	return t.String()
}

func isNumeric(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.INT32, arrow.INT64, arrow.FLOAT64, arrow.DECIMAL128:
		return true
	}
	return false
}

func isIntegral(t arrow.DataType) bool { return t.ID() == arrow.INT32 || t.ID() == arrow.INT64 }

func isNull(t arrow.DataType) bool { return t.ID() == arrow.NULL }

func isNested(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.LIST, arrow.MAP, arrow.STRUCT:
		return true
	}
	return false
}

// numericRank orders the implicit widening chain INT → BIGINT → DECIMAL → DOUBLE.
func numericRank(t arrow.DataType) int {
	switch t.ID() {
	case arrow.INT32:
		return 1
	case arrow.INT64:
		return 2
	case arrow.DECIMAL128:
		return 3
	case arrow.FLOAT64:
		return 4
	}
	return 0
}

// asDecimal returns the DECIMAL type an exact numeric widens to.
func asDecimal(t arrow.DataType) *arrow.Decimal128Type {
	switch t.ID() {
	case arrow.INT32:
		return &arrow.Decimal128Type{Precision: 10}
	case arrow.INT64:
		return &arrow.Decimal128Type{Precision: 19}
	}
	return t.(*arrow.Decimal128Type)
}

// decimalType builds DECIMAL(p, s), capping the precision at 38 and the scale at the precision.
func decimalType(p, s int32) *arrow.Decimal128Type {
	p = min(p, maxPrecision)
	return &arrow.Decimal128Type{Precision: p, Scale: min(s, p)}
}

// commonNumeric widens two numeric types to the smallest type holding both.
func commonNumeric(a, b arrow.DataType) arrow.DataType {
	ra, rb := numericRank(a), numericRank(b)
	switch {
	case ra == 4 || rb == 4:
		return Double
	case ra == 3 || rb == 3:
		da, db := asDecimal(a), asDecimal(b)
		s := max(da.Scale, db.Scale)
		return decimalType(max(da.Precision-da.Scale, db.Precision-db.Scale)+s, s)
	case ra == 2 || rb == 2:
		return BigInt
	}
	return Int
}

// commonType is the type two values are coerced to when they meet in a comparison,
// CASE, COALESCE or IN list; ok is false when the types are incompatible.
func commonType(a, b arrow.DataType) (arrow.DataType, bool) {
	switch {
	case isNull(a):
		return b, true
	case isNull(b):
		return a, true
	case isNumeric(a) && isNumeric(b):
		return commonNumeric(a, b), true
	case arrow.TypeEqual(a, b):
		return a, true
	case a.ID() == arrow.TIMESTAMP && b.ID() == arrow.TIMESTAMP:
		return a, true
	}
	return nil, false
}

// commonTypeOf folds commonType over several expressions.
func commonTypeOf(what string, args []Expr) (arrow.DataType, error) {
	t := args[0].Type()
	for _, a := range args[1:] {
		c, ok := commonType(t, a.Type())
		if !ok {
			return nil, fmt.Errorf("%s: incompatible types %s and %s", what, SQLType(t), SQLType(a.Type()))
		}
		t = c
	}
	return t, nil
}

// coerce casts e to t when its type differs (an implicit, widening cast).
func coerce(e Expr, t arrow.DataType) (Expr, error) {
	if arrow.TypeEqual(e.Type(), t) {
		return e, nil
	}
	return Cast(e, t)
}

func coerceAll(args []Expr, t arrow.DataType) ([]Expr, error) {
	out := make([]Expr, len(args))
	for i, a := range args {
		c, err := coerce(a, t)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}
