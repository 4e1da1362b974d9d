package expr

import (
	"context"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/compute"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/arrow/scalar"
)

// Filter returns the rows of batch for which predicate is TRUE (NULL counts
// as false). The caller releases the result, which may be batch itself retained.
func Filter(ctx context.Context, batch arrow.Record, predicate Expr) (arrow.Record, error) {
	if t := predicate.Type(); t.ID() != arrow.BOOL {
		return nil, fmt.Errorf("filter predicate %s has type %s, expected BOOLEAN", predicate, SQLType(t))
	}
	d, err := evalArg(ctx, predicate, batch)
	if err != nil {
		return nil, err
	}
	defer d.Release()
	if s, ok := d.(*compute.ScalarDatum); ok {
		if s.Value.IsValid() && s.Value.(*scalar.Boolean).Value {
			batch.Retain()
			return batch, nil
		}
		return batch.NewSlice(0, 0), nil
	}
	mask := d.(*compute.ArrayDatum).MakeArray().(*array.Boolean)
	defer mask.Release()
	sel := selection(mask)
	if len(sel) == mask.Len() {
		batch.Retain()
		return batch, nil
	}
	mem := compute.GetAllocator(ctx)
	cols := make([]arrow.Array, batch.NumCols())
	defer releaseAll(cols)
	var indices arrow.Array
	for i, c := range batch.Columns() {
		if cols[i] = gather(mem, c, sel); cols[i] != nil {
			continue
		}
		if indices == nil { // types without a gather loop go through arrow's take
			buf, idx := newValues[int32](mem, len(sel))
			copy(idx, sel)
			indices = build(Int, len(sel), nil, 0, buf)
			defer indices.Release()
		}
		if cols[i], err = take(ctx, c, indices); err != nil {
			return nil, err
		}
	}
	return array.NewRecord(batch.Schema(), cols, int64(len(sel))), nil
}

// selection lists the rows where mask is TRUE.
func selection(mask *array.Boolean) []int32 {
	d := mask.Data()
	bits := d.Buffers()[1].Bytes()
	var valid []byte
	if mask.NullN() > 0 {
		valid = mask.NullBitmapBytes()
	}
	sel := make([]int32, 0, bitutil.CountSetBits(bits, d.Offset(), d.Len()))
	for i := range d.Len() {
		j := i + d.Offset()
		if bitutil.BitIsSet(bits, j) && (valid == nil || bitutil.BitIsSet(valid, j)) {
			sel = append(sel, int32(i))
		}
	}
	return sel
}

// gather copies the selected rows of fixed-width and VARCHAR/BYTES columns
// into exactly sized buffers; it returns nil for other layouts.
func gather(mem memory.Allocator, a arrow.Array, sel []int32) arrow.Array {
	n := len(sel)
	var valid *memory.Buffer
	nulls := 0
	if a.NullN() > 0 {
		valid = newBitmap(mem, n)
		vb, src, off := valid.Bytes(), a.NullBitmapBytes(), a.Data().Offset()
		for k, i := range sel {
			if bitutil.BitIsSet(src, int(i)+off) {
				bitutil.SetBit(vb, k)
			} else {
				nulls++
			}
		}
	}
	switch a.DataType().ID() {
	case arrow.INT32, arrow.DATE32, arrow.TIME32:
		return gatherFixed[int32](mem, a, sel, valid, nulls)
	case arrow.INT64, arrow.FLOAT64, arrow.TIMESTAMP:
		return gatherFixed[int64](mem, a, sel, valid, nulls)
	case arrow.DECIMAL128:
		return gatherFixed[decimal128.Num](mem, a, sel, valid, nulls)
	case arrow.STRING, arrow.BINARY:
		offs := arrow.GetOffsets[int32](a.Data(), 1)
		data := a.Data().Buffers()[2].Bytes()
		offBuf, out := newValues[int32](mem, n+1)
		for k, i := range sel {
			out[k+1] = out[k] + offs[i+1] - offs[i]
		}
		dataBuf, dst := newValues[uint8](mem, int(out[n]))
		for k, i := range sel {
			copy(dst[out[k]:out[k+1]], data[offs[i]:offs[i+1]])
		}
		return build(a.DataType(), n, valid, nulls, offBuf, dataBuf)
	}
	if valid != nil {
		valid.Release()
	}
	return nil
}

func gatherFixed[T arrow.FixedWidthType](mem memory.Allocator, a arrow.Array, sel []int32, valid *memory.Buffer, nulls int) arrow.Array {
	src := values[T](a)
	buf, out := newValues[T](mem, len(sel))
	for k, i := range sel {
		out[k] = src[i]
	}
	return build(a.DataType(), len(sel), valid, nulls, buf)
}

// Project evaluates exprs over batch into a new batch with the given column
// names. The caller releases the result.
func Project(ctx context.Context, batch arrow.Record, exprs []Expr, names []string) (arrow.Record, error) {
	if len(exprs) != len(names) {
		return nil, fmt.Errorf("project: %d expressions but %d names", len(exprs), len(names))
	}
	fields := make([]arrow.Field, len(exprs))
	cols := make([]arrow.Array, len(exprs))
	defer releaseAll(cols)
	for i, e := range exprs {
		a, err := evalArray(ctx, e, batch)
		if err != nil {
			return nil, err
		}
		cols[i] = a
		fields[i] = arrow.Field{Name: names[i], Type: e.Type(), Nullable: true}
	}
	return array.NewRecord(arrow.NewSchema(fields, nil), cols, batch.NumRows()), nil
}
