package expr

import (
	"context"
	"fmt"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/compute"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/arrow/scalar"
)

// kernel evaluates a bound call over already evaluated arguments (arrays or
// scalars); n is the batch length. It must not release args.
type kernel func(ctx context.Context, args []compute.Datum, n int) (compute.Datum, error)

// arrayKernel is a kernel over materialised arrays, all of length n.
type arrayKernel func(ctx context.Context, args []arrow.Array, n int) (arrow.Array, error)

// arrowKernel runs an arrow compute function; scalar arguments stay scalars.
func arrowKernel(name string, opts compute.FunctionOptions) kernel {
	return func(ctx context.Context, args []compute.Datum, _ int) (compute.Datum, error) {
		return compute.CallFunction(ctx, name, opts, args...)
	}
}

// arrays adapts an arrayKernel, broadcasting scalar arguments to length n.
func arrays(f arrayKernel) kernel {
	return func(ctx context.Context, args []compute.Datum, n int) (compute.Datum, error) {
		arrs := make([]arrow.Array, len(args))
		defer releaseAll(arrs)
		for i, d := range args {
			a, err := materialize(ctx, d, n)
			if err != nil {
				return nil, err
			}
			arrs[i] = a
		}
		out, err := f(ctx, arrs, n)
		if err != nil {
			return nil, err
		}
		return datumOf(out), nil
	}
}

// datumOf wraps an array in a datum, taking over the caller's reference.
func datumOf(a arrow.Array) compute.Datum {
	d := compute.NewDatum(a)
	a.Release()
	return d
}

// materialize returns d as an array of n rows; the caller releases it.
func materialize(ctx context.Context, d compute.Datum, n int) (arrow.Array, error) {
	switch d := d.(type) {
	case *compute.ArrayDatum:
		return d.MakeArray(), nil
	case *compute.ScalarDatum:
		return scalar.MakeArrayFromScalar(d.Value, n, compute.GetAllocator(ctx))
	}
	return nil, fmt.Errorf("expr: unsupported datum kind %s", d.Kind())
}

func releaseAll[T interface{ Release() }](xs []T) {
	for _, x := range xs {
		if any(x) != nil {
			x.Release()
		}
	}
}

// validity returns the AND of the arrays' validity bitmaps as a fresh buffer
// of n bits and the resulting null count; the buffer is nil when nothing is null.
func validity(mem memory.Allocator, n int, arrs ...arrow.Array) (*memory.Buffer, int) {
	var buf *memory.Buffer
	for _, a := range arrs {
		if a.NullN() == 0 {
			continue
		}
		if buf == nil {
			buf = allValid(mem, n)
		}
		if a.DataType().ID() == arrow.NULL {
			bitutil.SetBitsTo(buf.Bytes(), 0, int64(n), false)
			continue
		}
		b := buf.Bytes()
		bitutil.BitmapAnd(b, a.NullBitmapBytes(), 0, int64(a.Data().Offset()), b, 0, int64(n))
	}
	if buf == nil {
		return nil, 0
	}
	return buf, n - bitutil.CountSetBits(buf.Bytes(), 0, n)
}

// allValid allocates a bitmap of n set bits.
func allValid(mem memory.Allocator, n int) *memory.Buffer {
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(int(bitutil.BytesForBits(int64(n))))
	bitutil.SetBitsTo(buf.Bytes(), 0, int64(n), true)
	return buf
}

// newValues allocates a zeroed value buffer of n elements of T.
func newValues[T arrow.FixedWidthType](mem memory.Allocator, n int) (*memory.Buffer, []T) {
	var zero T
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(n * int(unsafe.Sizeof(zero)))
	return buf, arrow.GetData[T](buf.Bytes())[:n]
}

// build assembles an array from freshly allocated buffers, dropping the
// caller's references to them. validity may be nil.
func build(dt arrow.DataType, n int, valid *memory.Buffer, nulls int, bufs ...*memory.Buffer) arrow.Array {
	all := append([]*memory.Buffer{valid}, bufs...)
	data := array.NewData(dt, n, all, nil, nulls, 0)
	for _, b := range all {
		if b != nil {
			b.Release()
		}
	}
	defer data.Release()
	return array.MakeFromData(data)
}

// values returns the typed values of a fixed-width array.
func values[T arrow.FixedWidthType](a arrow.Array) []T { return arrow.GetValues[T](a.Data(), 1) }

// map1 applies f to every slot of a fixed-width array; the result is null
// where the input is null or f reports !ok.
func map1[A, R arrow.FixedWidthType](mem memory.Allocator, a arrow.Array, dt arrow.DataType, f func(A) (R, bool)) arrow.Array {
	av := values[A](a)
	return mapIdx(mem, a.Len(), dt, []arrow.Array{a}, func(i int) (R, bool) { return f(av[i]) })
}

// map2 applies f pairwise; the result is null where either input is null or
// where f reports !ok.
func map2[A, B, R arrow.FixedWidthType](mem memory.Allocator, a, b arrow.Array, dt arrow.DataType, f func(A, B) (R, bool)) arrow.Array {
	av, bv := values[A](a), values[B](b)
	return mapIdx(mem, a.Len(), dt, []arrow.Array{a, b}, func(i int) (R, bool) { return f(av[i], bv[i]) })
}

// mapIdx fills a fixed-width result of n rows from f(i), which is called for
// every row (null inputs included, with unspecified values); the result is
// null where any input is null or f reports !ok.
func mapIdx[R arrow.FixedWidthType](mem memory.Allocator, n int, dt arrow.DataType, inputs []arrow.Array, f func(i int) (R, bool)) arrow.Array {
	valid, nulls := validity(mem, n, inputs...)
	buf, out := newValues[R](mem, n)
	var vb []byte
	if valid != nil {
		vb = valid.Bytes()
	}
	for i := range out {
		r, ok := f(i)
		out[i] = r
		if !ok && (vb == nil || bitutil.BitIsSet(vb, i)) {
			if valid == nil {
				valid = allValid(mem, n)
				vb = valid.Bytes()
			}
			bitutil.ClearBit(vb, i)
			nulls++
		}
	}
	return build(dt, n, valid, nulls, buf)
}

// boolOut writes a boolean result bitmap directly.
type boolOut struct {
	n            int
	valid, value *memory.Buffer
	nulls        int
}

func newBoolOut(mem memory.Allocator, n int, valid *memory.Buffer, nulls int) *boolOut {
	v := memory.NewResizableBuffer(mem)
	v.Resize(int(bitutil.BytesForBits(int64(n))))
	return &boolOut{n: n, valid: valid, value: v, nulls: nulls}
}

func (b *boolOut) set(i int, v bool) {
	if v {
		bitutil.SetBit(b.value.Bytes(), i)
	}
}

func clearValid(b *boolOut, i int) {
	bitutil.ClearBit(b.valid.Bytes(), i)
	b.nulls++
}

func (b *boolOut) finish() arrow.Array { return build(Boolean, b.n, b.valid, b.nulls, b.value) }

// binOut builds VARCHAR or BYTES results.
type binOut struct {
	dt arrow.DataType
	b  *array.BinaryBuilder
}

func newBinOut(mem memory.Allocator, dt arrow.DataType, n, dataHint int) *binOut {
	b := array.NewBinaryBuilder(mem, dt.(arrow.BinaryDataType))
	b.Reserve(n)
	b.ReserveData(dataHint)
	return &binOut{dt: dt, b: b}
}

func (o *binOut) finish() arrow.Array {
	defer o.b.Release()
	a := o.b.NewBinaryArray()
	defer a.Release()
	return array.MakeFromData(a.Data())
}

// strArr is the read side shared by VARCHAR arrays.
type strArr interface {
	arrow.Array
	Value(int) string
	ValueLen(int) int
}

// take gathers a[indices] with arrow's take kernel; MAP columns, which arrow
// v17 cannot take, go through their LIST<STRUCT> layout.
func take(ctx context.Context, a, indices arrow.Array) (arrow.Array, error) {
	mt, ok := a.DataType().(*arrow.MapType)
	if !ok {
		return compute.TakeArrayOpts(ctx, a, indices, compute.TakeOptions{BoundsCheck: false})
	}
	asList := reinterpret(a, arrow.ListOfField(mt.ElemField()))
	defer asList.Release()
	out, err := compute.TakeArrayOpts(ctx, asList, indices, compute.TakeOptions{BoundsCheck: false})
	if err != nil {
		return nil, err
	}
	defer out.Release()
	return reinterpret(out, mt), nil
}
