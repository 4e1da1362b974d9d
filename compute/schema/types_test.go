package schema

import (
	"errors"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

func TestTypeStringAndArrow(t *testing.T) {
	dec := must(Decimal(10, 2))
	mp := must(Map(String, Array(Int)))
	st := must(Struct(Field{"a", Int}, Field{"b`c", mp}, Field{"D", Timestamp}))
	for _, tc := range []struct {
		t     Type
		str   string
		arrow arrow.DataType
	}{
		{Boolean, "BOOLEAN", arrow.FixedWidthTypes.Boolean},
		{Int, "INT", arrow.PrimitiveTypes.Int32},
		{BigInt, "BIGINT", arrow.PrimitiveTypes.Int64},
		{Double, "DOUBLE", arrow.PrimitiveTypes.Float64},
		{dec, "DECIMAL(10, 2)", &arrow.Decimal128Type{Precision: 10, Scale: 2}},
		{String, "STRING", arrow.BinaryTypes.String},
		{Timestamp, "TIMESTAMP", &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}},
		{Date, "DATE", arrow.FixedWidthTypes.Date32},
		{Time, "TIME", arrow.FixedWidthTypes.Time32ms},
		{Bytes, "BYTES", arrow.BinaryTypes.Binary},
		{Array(String), "ARRAY<STRING>", arrow.ListOf(arrow.BinaryTypes.String)},
		{mp, "MAP<STRING, ARRAY<INT>>", arrow.MapOf(arrow.BinaryTypes.String, arrow.ListOf(arrow.PrimitiveTypes.Int32))},
		{st, "STRUCT<`a` INT, `b``c` MAP<STRING, ARRAY<INT>>, `D` TIMESTAMP>", arrow.StructOf(
			arrow.Field{Name: "a", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
			arrow.Field{Name: "b`c", Type: mp.Arrow(), Nullable: true},
			arrow.Field{Name: "D", Type: arrow.FixedWidthTypes.Timestamp_ms, Nullable: true})},
	} {
		if got := tc.t.String(); got != tc.str {
			t.Errorf("String() = %q, want %q", got, tc.str)
		}
		if got := tc.t.Arrow(); !arrow.TypeEqual(got, tc.arrow) {
			t.Errorf("%s: Arrow() = %s, want %s", tc.str, got, tc.arrow)
		}
		back, err := FromArrow(tc.t.Arrow())
		if err != nil || !back.Equal(tc.t) {
			t.Errorf("%s: FromArrow(Arrow()) = %s, %v", tc.str, back, err)
		}
	}
}

func TestTypeConstructors(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"precision 0", second(Decimal(0, 0))},
		{"precision 39", second(Decimal(39, 0))},
		{"negative scale", second(Decimal(10, -1))},
		{"scale above precision", second(Decimal(5, 6))},
		{"INT map key", second(Map(Int, String))},
		{"invalid map value", second(Map(String, Type{}))},
		{"unnamed field", second(Struct(Field{"", Int}))},
		{"duplicate field", second(Struct(Field{"a", Int}, Field{"a", String}))},
		{"invalid field type", second(Struct(Field{"a", Type{}}))},
	} {
		if !errors.Is(tc.err, ErrInvalidType) {
			t.Errorf("%s: err = %v, want ErrInvalidType", tc.name, tc.err)
		}
	}
	if _, err := Decimal(38, 38); err != nil {
		t.Error(err)
	}
	if _, err := Struct(Field{"a", Int}, Field{"A", Int}); err != nil {
		t.Errorf("fields differing in case: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("Array(Type{}) did not panic")
		}
	}()
	Array(Type{})
}

func second[T any](_ T, err error) error { return err }

func TestTypeAccessors(t *testing.T) {
	dec := must(Decimal(12, 3))
	if dec.Kind() != KindDecimal || dec.Precision() != 12 || dec.Scale() != 3 {
		t.Errorf("DECIMAL accessors: %v %d %d", dec.Kind(), dec.Precision(), dec.Scale())
	}
	if !Array(dec).Elem().Equal(dec) || !must(Map(String, Bytes)).Elem().Equal(Bytes) || Int.Elem().Valid() {
		t.Error("Elem")
	}
	st := must(Struct(Field{"a", Int}, Field{"b", String}))
	if st.NumFields() != 2 || st.Field(1).Name != "b" || !st.Field(1).Type.Equal(String) {
		t.Error("Field")
	}
	if i, ok := st.FieldIndex("b"); !ok || i != 1 {
		t.Error("FieldIndex(b)")
	}
	if _, ok := st.FieldIndex("B"); ok {
		t.Error("FieldIndex is case-sensitive")
	}
	if _, ok := Int.FieldIndex("a"); ok || Int.NumFields() != 0 {
		t.Error("INT has no fields")
	}
	var zero Type
	if zero.Valid() || zero.Arrow() != nil || zero.String() != "INVALID" {
		t.Error("zero Type")
	}
}

func TestTypeEqual(t *testing.T) {
	types := []Type{
		Int, BigInt, must(Decimal(10, 2)), must(Decimal(10, 3)), Array(Int), Array(BigInt),
		must(Map(String, Int)), must(Struct(Field{"a", Int})), must(Struct(Field{"A", Int})),
		must(Struct(Field{"a", BigInt})), must(Struct(Field{"a", Int}, Field{"b", Int})),
	}
	for i, a := range types {
		for j, b := range types {
			if a.Equal(b) != (i == j) {
				t.Errorf("%s.Equal(%s) = %v", a, b, a.Equal(b))
			}
		}
	}
	if !must(Struct(Field{"a", Array(Int)})).Equal(must(Struct(Field{"a", Array(Int)}))) {
		t.Error("equal structs built apart")
	}
}

func TestFromArrowRejects(t *testing.T) {
	for _, dt := range []arrow.DataType{
		arrow.PrimitiveTypes.Int16,
		arrow.PrimitiveTypes.Float32,
		arrow.BinaryTypes.LargeString,
		&arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"},
		&arrow.TimestampType{Unit: arrow.Millisecond},
		arrow.FixedWidthTypes.Time32s,
		arrow.FixedWidthTypes.Date64,
		&arrow.Decimal128Type{Precision: 10, Scale: 11},
		arrow.MapOf(arrow.PrimitiveTypes.Int32, arrow.PrimitiveTypes.Int32),
		arrow.ListOf(arrow.PrimitiveTypes.Uint8),
		arrow.StructOf(arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Int8}),
	} {
		if typ, err := FromArrow(dt); !errors.Is(err, ErrInvalidType) {
			t.Errorf("FromArrow(%s) = %s, %v", dt, typ, err)
		}
	}
}
