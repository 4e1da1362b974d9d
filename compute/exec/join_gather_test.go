package exec

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// joinAllTypes is a schema with a column of each type the gather handles
// differently.
var joinAllTypes = arrow.NewSchema([]arrow.Field{
	{Name: "bool", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "i8", Type: arrow.PrimitiveTypes.Int8, Nullable: true},
	{Name: "i16", Type: arrow.PrimitiveTypes.Int16, Nullable: true},
	{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "f64", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "dec", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true},
	{Name: "dec256", Type: &arrow.Decimal256Type{Precision: 40, Scale: 2}, Nullable: true},
	{Name: "date", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	{Name: "ts", Type: arrow.FixedWidthTypes.Timestamp_ms, Nullable: true},
	{Name: "str", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "lstr", Type: arrow.BinaryTypes.LargeString, Nullable: true},
	{Name: "bin", Type: arrow.BinaryTypes.Binary, Nullable: true},
	{Name: "fsb3", Type: &arrow.FixedSizeBinaryType{ByteWidth: 3}, Nullable: true},
	{Name: "list", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32), Nullable: true},
	{Name: "struct", Type: arrow.StructOf(arrow.Field{Name: "a", Type: arrow.PrimitiveTypes.Int32, Nullable: true}), Nullable: true},
	{Name: "map", Type: arrow.MapOf(arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int64), Nullable: true},
}, nil)

// joinRandomBatch returns n random rows of joinAllTypes, a fifth NULL.
func joinRandomBatch(rng *rand.Rand, mem memory.Allocator, n int) arrow.Record {
	b := array.NewRecordBuilder(mem, joinAllTypes)
	defer b.Release()
	for range n {
		for f, fb := range b.Fields() {
			if rng.IntN(5) == 0 {
				fb.AppendNull()
				continue
			}
			v := rng.Int64N(1000) - 500
			switch fb := fb.(type) {
			case *array.BooleanBuilder:
				fb.Append(v > 0)
			case *array.Int8Builder:
				fb.Append(int8(v))
			case *array.Int16Builder:
				fb.Append(int16(v))
			case *array.Int32Builder:
				fb.Append(int32(v))
			case *array.Float64Builder:
				fb.Append(float64(v) / 4)
			case *array.Decimal128Builder:
				fb.Append(decimal128.FromI64(v))
			case *array.Decimal256Builder:
				fb.AppendValueFromString("12.5")
			case *array.Date32Builder:
				fb.Append(arrow.Date32(v))
			case *array.TimestampBuilder:
				fb.Append(arrow.Timestamp(v))
			case *array.StringBuilder:
				fb.Append(string(rune('a' + f + int(v%5+5))))
			case *array.LargeStringBuilder:
				fb.Append("large")
			case *array.BinaryBuilder:
				fb.Append(bytes.Repeat([]byte{byte(v)}, int(v%4+4)))
			case *array.FixedSizeBinaryBuilder:
				fb.Append([]byte{byte(v), 1, 2})
			case *array.ListBuilder:
				fb.Append(true)
				fb.ValueBuilder().(*array.Int32Builder).Append(int32(v))
			case *array.StructBuilder:
				fb.Append(true)
				fb.FieldBuilder(0).(*array.Int32Builder).Append(int32(v))
			case *array.MapBuilder:
				fb.Append(true)
				fb.KeyBuilder().(*array.StringBuilder).Append("k")
				fb.ItemBuilder().(*array.Int64Builder).Append(v)
			}
		}
	}
	return b.NewRecord()
}

func TestJoinGather(t *testing.T) {
	ctx, mem := joinTestCtx(t)
	rng := rand.New(rand.NewPCG(5, 6))
	srcs := []arrow.Record{joinRandomBatch(rng, mem, 20), nil, joinRandomBatch(rng, mem, 7)}
	defer func() {
		for _, r := range srcs {
			if r != nil {
				r.Release()
			}
		}
	}()
	// An all-NULL source, as MakeArrayOfNull builds it.
	nulls := make([]arrow.Array, joinAllTypes.NumFields())
	for f := range nulls {
		nulls[f] = array.MakeArrayOfNull(mem, joinAllTypes.Field(f).Type, 3)
	}
	srcs = append(srcs, array.NewRecord(joinAllTypes, nulls, 3))
	for _, a := range nulls {
		a.Release()
	}
	var refs []joinRef
	for range 200 {
		switch k := rng.IntN(10); {
		case k == 0:
			refs = append(refs, joinNullRef)
		case k == 1:
			refs = append(refs, joinRef{rec: 3, row: rng.Int32N(3)})
		case k < 6:
			refs = append(refs, joinRef{rec: 0, row: rng.Int32N(20)})
		default:
			refs = append(refs, joinRef{rec: 2, row: rng.Int32N(7)})
		}
	}
	for f, field := range joinAllTypes.Fields() {
		for _, refs := range [][]joinRef{refs, refs[:0], refs[:5]} {
			got, err := joinGather(ctx, field.Type, srcs, f, refs)
			if err != nil {
				t.Fatalf("%s: %v", field.Name, err)
			}
			if got.Len() != len(refs) || !arrow.TypeEqual(got.DataType(), field.Type) {
				t.Errorf("%s: %d rows of %s", field.Name, got.Len(), got.DataType())
			}
			for i, r := range refs {
				want := "(null)"
				if r.rec >= 0 && srcs[r.rec].Column(f).IsValid(int(r.row)) {
					want = srcs[r.rec].Column(f).ValueStr(int(r.row))
				}
				if s := got.ValueStr(i); s != want || got.IsNull(i) != (want == "(null)") {
					t.Errorf("%s row %d (%v): %s, want %s", field.Name, i, r, s, want)
				}
			}
			got.Release()
		}
	}
}

// TestJoinKeyEncoding checks which keys encode alike.
func TestJoinKeyEncoding(t *testing.T) {
	_, mem := joinTestCtx(t)
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "s1", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "s2", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "d", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, sc)
	defer b.Release()
	type row struct {
		s1, s2 string
		f      float64
		b      bool
		d      int64
	}
	for _, r := range []row{
		{"ab", "c", 0, true, 1},                    // 0
		{"a", "bc", 0, true, 1},                    // 1: differs from 0
		{"ab", "c", math.Copysign(0, -1), true, 1}, // 2: as 0
		{"ab", "c", math.NaN(), true, 1},           // 3
		{"ab", "c", -math.NaN(), true, 1},          // 4: as 3
		{"ab", "c", 0, false, 1},                   // 5: differs from 0
		{"ab", "c", 0, true, 2},                    // 6: differs from 0
	} {
		b.Field(0).(*array.StringBuilder).Append(r.s1)
		b.Field(1).(*array.StringBuilder).Append(r.s2)
		b.Field(2).(*array.Float64Builder).Append(r.f)
		b.Field(3).(*array.BooleanBuilder).Append(r.b)
		b.Field(4).(*array.Decimal128Builder).Append(decimal128.FromI64(r.d))
	}
	for f := range 5 { // a row with a NULL key
		b.Field(f).AppendNull()
	}
	rec := b.NewRecord()
	defer rec.Release()
	enc := newJoinKeyEncoder(sc, []int{0, 1, 2, 3, 4})
	var k joinKeys
	enc.encode(rec, &k)
	same := [][2]int{{0, 2}, {3, 4}}
	for i := range 7 {
		for j := i + 1; j < 7; j++ {
			want := false
			for _, p := range same {
				want = want || p == [2]int{i, j}
			}
			if got := bytes.Equal(k.key(i), k.key(j)); got != want {
				t.Errorf("rows %d and %d: equal keys %v, want %v", i, j, got, want)
			}
		}
	}
	for i := range 8 {
		if k.null[i] != (i == 7) {
			t.Errorf("row %d: null %v", i, k.null[i])
		}
	}
}
