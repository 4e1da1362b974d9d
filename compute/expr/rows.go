package expr

import (
	"context"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/compute"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/arrow/scalar"
)

// Row-wise kernels: typed per-row accessors over a datum (array or scalar),
// used by functions with no arrow kernel. Values are read straight from the
// Arrow buffers; nothing is boxed.

type getter[T any] func(i int) (T, bool)

// arg is an evaluated argument: an array or, for constants, a scalar.
type arg struct {
	arr arrow.Array
	sc  scalar.Scalar
}

// rowKernel adapts a row-wise implementation.
func rowKernel(f func(mem memory.Allocator, args []arg, n int) arrow.Array) kernel {
	return func(ctx context.Context, ds []compute.Datum, n int) (compute.Datum, error) {
		args := make([]arg, len(ds))
		for i, d := range ds {
			switch d := d.(type) {
			case *compute.ScalarDatum:
				args[i].sc = d.Value
			case *compute.ArrayDatum:
				args[i].arr = d.MakeArray()
				defer args[i].arr.Release()
			}
		}
		return datumOf(f(compute.GetAllocator(ctx), args, n)), nil
	}
}

func strGetter(d arg) getter[string] {
	if d.sc != nil {
		if !d.sc.IsValid() {
			return func(int) (string, bool) { return "", false }
		}
		v := string(d.sc.(scalar.BinaryScalar).Data())
		return func(int) (string, bool) { return v, true }
	}
	switch a := d.arr.(type) {
	case *array.String:
		return func(i int) (string, bool) { return a.Value(i), a.IsValid(i) }
	case *array.Binary:
		return func(i int) (string, bool) { return string(a.Value(i)), a.IsValid(i) }
	}
	return func(int) (string, bool) { return "", false } // NULL-typed
}

// intGetter reads INT or BIGINT (and the int64-backed temporals) as int64.
func intGetter(d arg) getter[int64] {
	if d.sc != nil {
		if !d.sc.IsValid() {
			return func(int) (int64, bool) { return 0, false }
		}
		var v int64
		switch s := d.sc.(type) {
		case *scalar.Int32:
			v = int64(s.Value)
		case *scalar.Int64:
			v = s.Value
		case *scalar.Timestamp:
			v = int64(s.Value)
		case *scalar.Date32:
			v = int64(s.Value)
		case *scalar.Time32:
			v = int64(s.Value)
		}
		return func(int) (int64, bool) { return v, true }
	}
	a := d.arr
	switch a.DataType().ID() {
	case arrow.INT32, arrow.DATE32, arrow.TIME32:
		v := values[int32](a)
		return func(i int) (int64, bool) { return int64(v[i]), a.IsValid(i) }
	case arrow.INT64, arrow.TIMESTAMP:
		v := values[int64](a)
		return func(i int) (int64, bool) { return v[i], a.IsValid(i) }
	}
	return func(int) (int64, bool) { return 0, false }
}

func decGetter(d arg) getter[decimal128.Num] {
	if d.sc != nil {
		v, ok := decimal128.Num{}, d.sc.IsValid()
		if ok {
			v = d.sc.(*scalar.Decimal128).Value
		}
		return func(int) (decimal128.Num, bool) { return v, ok }
	}
	a := d.arr.(*array.Decimal128)
	return func(i int) (decimal128.Num, bool) { return a.Value(i), a.IsValid(i) }
}

// strResult builds a VARCHAR (or BYTES) column from f, which appends row i
// to buf; ok=false makes the row NULL.
func strResult(mem memory.Allocator, dt arrow.DataType, n int, f func(i int, buf []byte) ([]byte, bool)) arrow.Array {
	out := newBinOut(mem, dt, n, n*8)
	var buf []byte
	for i := range n {
		var ok bool
		if buf, ok = f(i, buf[:0]); ok {
			out.b.Append(buf)
		} else {
			out.b.AppendNull()
		}
	}
	return out.finish()
}

// numResult builds a fixed-width column from f.
func numResult[R arrow.FixedWidthType](mem memory.Allocator, dt arrow.DataType, n int, f func(i int) (R, bool)) arrow.Array {
	return mapIdx(mem, n, dt, nil, f)
}

// boolResult builds a BOOLEAN column from f.
func boolResult(mem memory.Allocator, n int, f func(i int) (bool, bool)) arrow.Array {
	out := newBoolOut(mem, n, allValid(mem, n), 0)
	for i := range n {
		v, ok := f(i)
		if !ok {
			clearValid(out, i)
			continue
		}
		out.set(i, v)
	}
	return out.finish()
}
