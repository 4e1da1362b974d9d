package exec

import (
	"slices"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// aggScalar is the Go storage of one SQL value in aggregation state and
// keys: BOOLEAN bool; INT, DATE, TIME int32; BIGINT, TIMESTAMP int64;
// DOUBLE float64 (uint64 holds its bits where values are compared for
// equality); DECIMAL decimal128.Num; VARCHAR, BYTES string.
type aggScalar interface {
	bool | int32 | int64 | uint64 | float64 | decimal128.Num | string
}

// aggPhys is the storage class of a SQL type.
type aggPhys int

const (
	aggPhysNone aggPhys = iota // nested and unsupported types
	aggPhysBool
	aggPhysInt32
	aggPhysInt64
	aggPhysFloat64
	aggPhysDecimal
	aggPhysString
)

func aggPhysOf(dt arrow.DataType) aggPhys {
	switch dt.ID() {
	case arrow.BOOL:
		return aggPhysBool
	case arrow.INT32, arrow.DATE32, arrow.TIME32:
		return aggPhysInt32
	case arrow.INT64, arrow.TIMESTAMP:
		return aggPhysInt64
	case arrow.FLOAT64:
		return aggPhysFloat64
	case arrow.DECIMAL128:
		return aggPhysDecimal
	case arrow.STRING, arrow.BINARY:
		return aggPhysString
	}
	return aggPhysNone
}

// aggVec is a typed, read-only view of a column for the duration of one
// batch. Fixed-width values alias the Arrow buffer; booleans are unpacked
// and strings point into the Arrow buffer, both into a reusable scratch
// slice. Strings must be copied (strings.Clone) before they are kept.
type aggVec[T aggScalar] struct {
	vals  []T
	nulls []byte // validity bitmap; nil when the column has no NULLs
	off   int    // offset of the column in nulls
	buf   []T
}

func (v *aggVec[T]) valid(i int) bool {
	return v.nulls == nil || bitutil.BitIsSet(v.nulls, v.off+i)
}

func (v *aggVec[T]) bind(arr arrow.Array) {
	n := arr.Len()
	d := arr.Data()
	v.off = d.Offset()
	v.nulls = nil
	if arr.NullN() > 0 {
		v.nulls = arr.NullBitmapBytes()
	}
	if n == 0 {
		v.vals = v.buf[:0]
		return
	}
	switch buf := any(&v.buf).(type) {
	case *[]bool:
		*buf = slices.Grow((*buf)[:0], n)[:n]
		bits := d.Buffers()[1].Bytes()
		for i := range *buf {
			(*buf)[i] = bitutil.BitIsSet(bits, v.off+i)
		}
		v.vals = v.buf
	case *[]string:
		*buf = slices.Grow((*buf)[:0], n)[:n]
		offs := arrow.GetOffsets[int32](d, 1)
		var data []byte
		if b := d.Buffers()[2]; b != nil {
			data = b.Bytes()
		}
		for i := range *buf {
			(*buf)[i] = aggBytesString(data[offs[i]:offs[i+1]])
		}
		v.vals = v.buf
	default:
		v.vals = aggReinterpret[T](d.Buffers()[1].Bytes())[v.off : v.off+n]
	}
}

// unbind drops the references into the batch.
func (v *aggVec[T]) unbind() {
	clear(v.buf)
	v.vals, v.nulls = nil, nil
}

// aggBytesString returns b as a string without copying.
func aggBytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// aggReinterpret views b as a slice of T.
func aggReinterpret[T any](b []byte) []T {
	var z T
	size := int(unsafe.Sizeof(z))
	if len(b) < size {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/size)
}

// aggBuild makes an array of type dt holding vals; valid nil means no NULLs.
// Fixed-width values are copied as they are stored, so T's layout must be
// dt's (uint64 for DOUBLE bits included).
func aggBuild[T aggScalar](mem memory.Allocator, dt arrow.DataType, vals []T, valid []bool) arrow.Array {
	switch vs := any(vals).(type) {
	case []bool:
		b := array.NewBooleanBuilder(mem)
		defer b.Release()
		b.AppendValues(vs, valid)
		return b.NewArray()
	case []string:
		b := array.NewBuilder(mem, dt)
		defer b.Release()
		switch b := b.(type) {
		case *array.StringBuilder:
			b.AppendValues(vs, valid)
		case *array.BinaryBuilder:
			b.AppendStringValues(vs, valid)
		}
		return b.NewArray()
	}
	n := len(vals)
	var z T
	data := memory.NewResizableBuffer(mem)
	defer data.Release()
	data.Resize(n * int(unsafe.Sizeof(z)))
	copy(aggReinterpret[T](data.Bytes()), vals)
	nullBuf, nulls := aggValidity(mem, valid)
	if nullBuf != nil {
		defer nullBuf.Release()
	}
	d := array.NewData(dt, n, []*memory.Buffer{nullBuf, data}, nil, nulls, 0)
	defer d.Release()
	return array.MakeFromData(d)
}

// aggValidity packs valid into a bitmap; nil when every value is valid.
func aggValidity(mem memory.Allocator, valid []bool) (*memory.Buffer, int) {
	nulls := 0
	for _, ok := range valid {
		if !ok {
			nulls++
		}
	}
	if nulls == 0 {
		return nil, 0
	}
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(int(bitutil.BytesForBits(int64(len(valid)))))
	bits := buf.Bytes()
	memory.Set(bits, 0)
	for i, ok := range valid {
		if ok {
			bitutil.SetBit(bits, i)
		}
	}
	return buf, nulls
}

// aggBuildList makes a list array of elem whose rows are lists; valid nil
// means no NULL lists.
func aggBuildList[T aggScalar](mem memory.Allocator, elem arrow.DataType, lists [][]T, valid []bool) arrow.Array {
	total := 0
	for _, l := range lists {
		total += len(l)
	}
	flat := make([]T, 0, total)
	offsets := memory.NewResizableBuffer(mem)
	defer offsets.Release()
	offsets.Resize((len(lists) + 1) * arrow.Int32SizeBytes)
	offs := aggReinterpret[int32](offsets.Bytes())
	offs[0] = 0
	for i, l := range lists {
		flat = append(flat, l...)
		offs[i+1] = int32(len(flat))
	}
	child := aggBuild(mem, elem, flat, nil)
	defer child.Release()
	nullBuf, nulls := aggValidity(mem, valid)
	if nullBuf != nil {
		defer nullBuf.Release()
	}
	d := array.NewData(arrow.ListOf(elem), len(lists), []*memory.Buffer{nullBuf, offsets}, []arrow.ArrayData{child.Data()}, nulls, 0)
	defer d.Release()
	return array.MakeFromData(d)
}

// aggListVec is a typed view of a list column: row i holds
// vals.vals[offs[i]:offs[i+1]].
type aggListVec[T aggScalar] struct {
	offs []int32
	vals aggVec[T]
}

func (v *aggListVec[T]) bind(arr arrow.Array) {
	v.offs = nil
	if arr.Len() > 0 {
		v.offs = arrow.GetOffsets[int32](arr.Data(), 1)
	}
	v.vals.bind(arr.(*array.List).ListValues())
}

func (v *aggListVec[T]) row(i int) []T { return v.vals.vals[v.offs[i]:v.offs[i+1]] }

func (v *aggListVec[T]) unbind() {
	v.offs = nil
	v.vals.unbind()
}

// aggGrow returns s resized to n elements, zeroing new ones.
func aggGrow[T any](s []T, n int) []T {
	if n <= len(s) {
		return s
	}
	return append(s, make([]T, n-len(s))...)
}
