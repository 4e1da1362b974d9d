package schema

import (
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// checkedAlloc returns an allocator that fails t if anything it allocated is
// still held when the test ends.
func checkedAlloc(t testing.TB) *memory.CheckedAllocator {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

// newDecoder returns a decoder released when the test ends.
func newDecoder(t testing.TB, s *Schema, key, value Format) *Decoder {
	t.Helper()
	d, err := NewDecoder(s, key, value, checkedAlloc(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Release)
	return d
}

// flush returns the decoder's batch, released when the test ends.
func flush(t testing.TB, d *Decoder) arrow.Record {
	rec := d.Flush()
	t.Cleanup(rec.Release)
	return rec
}

// valueOf returns value i of a as plain Go values: nil for NULL, bool,
// int32, int64, float64, string (DECIMALs as text), []byte, the int32 or
// int64 of TIMESTAMP, DATE and TIME, []any for lists, [][2]any for maps,
// map[string]any for structs.
func valueOf(a arrow.Array, i int) any {
	if a.IsNull(i) {
		return nil
	}
	switch a := a.(type) {
	case *array.Boolean:
		return a.Value(i)
	case *array.Int32:
		return a.Value(i)
	case *array.Int64:
		return a.Value(i)
	case *array.Float64:
		return a.Value(i)
	case *array.Decimal128:
		return string(appendDecimal(nil, a.Value(i), int(a.DataType().(*arrow.Decimal128Type).Scale)))
	case *array.String:
		return a.Value(i)
	case *array.Binary:
		return append([]byte{}, a.Value(i)...)
	case *array.Timestamp:
		return int64(a.Value(i))
	case *array.Date32:
		return int32(a.Value(i))
	case *array.Time32:
		return int32(a.Value(i))
	case *array.Map:
		start, end := a.ValueOffsets(i)
		out := [][2]any{}
		for k := int(start); k < int(end); k++ {
			out = append(out, [2]any{valueOf(a.Keys(), k), valueOf(a.Items(), k)})
		}
		return out
	case *array.List:
		start, end := a.ValueOffsets(i)
		out := []any{}
		for k := int(start); k < int(end); k++ {
			out = append(out, valueOf(a.ListValues(), k))
		}
		return out
	case *array.Struct:
		out := map[string]any{}
		for k := range a.NumField() {
			out[a.DataType().(*arrow.StructType).Field(k).Name] = valueOf(a.Field(k), i)
		}
		return out
	}
	panic("valueOf: " + a.DataType().String())
}

// rowOf returns the columns (pseudo columns excluded) of row i of rec.
func rowOf(rec arrow.Record, i int) []any {
	var out []any
	for c := NumPseudoColumns; c < int(rec.NumCols()); c++ {
		out = append(out, valueOf(rec.Column(c), i))
	}
	return out
}

// checkConsistent fails t unless every column of rec, nested children
// included, is consistent with rec's row count.
func checkConsistent(t testing.TB, rec arrow.Record, rows int) {
	t.Helper()
	if int(rec.NumRows()) != rows {
		t.Fatalf("batch has %d rows, want %d", rec.NumRows(), rows)
	}
	for c, col := range rec.Columns() {
		if col.Len() != rows {
			t.Fatalf("column %d has %d values, want %d", c, col.Len(), rows)
		}
		checkArray(t, col)
	}
}

func checkArray(t testing.TB, a arrow.Array) {
	t.Helper()
	switch a := a.(type) {
	case *array.List:
		checkOffsets(t, a.Offsets(), a.ListValues())
	case *array.Map:
		checkOffsets(t, a.Offsets(), a.ListValues())
		if a.Keys().NullN() != 0 {
			t.Fatal("map with NULL keys")
		}
	case *array.Struct:
		for k := range a.NumField() {
			if a.Field(k).Len() != a.Len() {
				t.Fatalf("struct field %d has %d values, struct %d", k, a.Field(k).Len(), a.Len())
			}
			checkArray(t, a.Field(k))
		}
	}
}

func checkOffsets(t testing.TB, offsets []int32, values arrow.Array) {
	t.Helper()
	for k := 1; k < len(offsets); k++ {
		if offsets[k] < offsets[k-1] {
			t.Fatalf("offsets decrease: %v", offsets)
		}
	}
	if len(offsets) > 0 && int(offsets[len(offsets)-1]) != values.Len() {
		t.Fatalf("last offset %d, %d child values", offsets[len(offsets)-1], values.Len())
	}
	checkArray(t, values)
}
