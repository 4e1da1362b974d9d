package exec

import (
	"encoding/binary"
	"math"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
)

// joinKeyKind is how a key column is encoded.
type joinKeyKind uint8

const (
	joinKeyFixed       joinKeyKind = iota // fixed-width values, copied as they are
	joinKeyFloat32                        // normalized, then as joinKeyFixed
	joinKeyFloat64                        //
	joinKeyBool                           // one byte
	joinKeyBinary                         // int32 offsets: STRING, BYTES
	joinKeyLargeBinary                    // int64 offsets
)

// joinKeyKindOf returns the encoding of a key column type; ok is false for
// types without equality.
func joinKeyKindOf(dt arrow.DataType) (kind joinKeyKind, width int, ok bool) {
	switch dt.ID() {
	case arrow.BOOL:
		return joinKeyBool, 1, true
	case arrow.FLOAT32:
		return joinKeyFloat32, 4, true
	case arrow.FLOAT64:
		return joinKeyFloat64, 8, true
	case arrow.STRING, arrow.BINARY:
		return joinKeyBinary, 0, true
	case arrow.LARGE_STRING, arrow.LARGE_BINARY:
		return joinKeyLargeBinary, 0, true
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.DATE32, arrow.DATE64, arrow.TIME32, arrow.TIME64, arrow.TIMESTAMP,
		arrow.DURATION, arrow.DECIMAL128, arrow.DECIMAL256, arrow.FIXED_SIZE_BINARY:
		return joinKeyFixed, dt.(arrow.FixedWidthDataType).Bytes(), true
	}
	return 0, 0, false
}

func joinKeyType(dt arrow.DataType) bool { _, _, ok := joinKeyKindOf(dt); return ok }

type joinKeyCol struct {
	col   int
	kind  joinKeyKind
	width int // bytes of a fixed-width value, 0 for binary
}

// joinKeyEncoder encodes the key columns of a batch, a column at a time,
// into one byte string per row. Values are concatenated; a binary value
// other than the last is preceded by its length, so distinct keys have
// distinct encodings.
type joinKeyEncoder struct{ cols []joinKeyCol }

func newJoinKeyEncoder(sc *arrow.Schema, cols []int) *joinKeyEncoder {
	e := &joinKeyEncoder{cols: make([]joinKeyCol, len(cols))}
	for i, c := range cols {
		kind, width, _ := joinKeyKindOf(sc.Field(c).Type) // checked by newJoinLayout
		e.cols[i] = joinKeyCol{col: c, kind: kind, width: width}
	}
	return e
}

// joinKeys is the encoded keys of a batch; its buffers are reused.
type joinKeys struct {
	buf  []byte
	off  []int  // row i is buf[off[i]:off[i+1]]
	null []bool // a key column is NULL
	pos  []int  // write cursor per row
}

func (k *joinKeys) key(i int) []byte { return k.buf[k.off[i]:k.off[i+1]] }

// encode fills k with the keys of rec's rows.
func (e *joinKeyEncoder) encode(rec arrow.Record, k *joinKeys) {
	n := int(rec.NumRows())
	k.off = joinResize(k.off, n+1)
	k.null = joinResize(k.null, n)
	clear(k.null)
	fixed := 0
	for j, c := range e.cols {
		fixed += c.width
		if c.width == 0 && j < len(e.cols)-1 {
			fixed += 4
		}
	}
	for i := range n {
		k.off[i+1] = fixed
	}
	for _, c := range e.cols {
		arr := rec.Column(c.col)
		switch {
		case arr.Data().Buffers()[1] == nil: // no values: all NULL
		case c.kind == joinKeyBinary:
			joinBinaryLengths[int32](arr, k.off[1:])
		case c.kind == joinKeyLargeBinary:
			joinBinaryLengths[int64](arr, k.off[1:])
		}
		switch nulls := arr.NullN(); {
		case nulls == n:
			for i := range n {
				k.null[i] = true
			}
		case nulls > 0:
			bits, o := arr.NullBitmapBytes(), arr.Data().Offset()
			for i := range n {
				if !bitutil.BitIsSet(bits, o+i) {
					k.null[i] = true
				}
			}
		}
	}
	k.off[0] = 0
	for i := range n {
		k.off[i+1] += k.off[i]
	}
	k.buf = joinResize(k.buf, k.off[n])
	k.pos = append(k.pos[:0], k.off[:n]...)
	for j, c := range e.cols {
		data := rec.Column(c.col).Data()
		last := j == len(e.cols)-1
		if data.Buffers()[1] == nil { // all NULL: skip the bytes counted above
			skip := c.width
			if c.width == 0 && !last {
				skip = 4
			}
			for i := range n {
				k.pos[i] += skip
			}
			continue
		}
		switch c.kind {
		case joinKeyFixed:
			raw, w := data.Buffers()[1].Bytes()[data.Offset()*c.width:], c.width
			for i := range n {
				p := k.pos[i]
				copy(k.buf[p:p+w], raw[i*w:i*w+w])
				k.pos[i] = p + w
			}
		case joinKeyFloat32:
			for i, v := range arrow.GetValues[float32](data, 1) {
				binary.LittleEndian.PutUint32(k.buf[k.pos[i]:], math.Float32bits(joinNormFloat(v)))
				k.pos[i] += 4
			}
		case joinKeyFloat64:
			for i, v := range arrow.GetValues[float64](data, 1) {
				binary.LittleEndian.PutUint64(k.buf[k.pos[i]:], math.Float64bits(joinNormFloat(v)))
				k.pos[i] += 8
			}
		case joinKeyBool:
			bits := data.Buffers()[1].Bytes()
			for i := range n {
				k.buf[k.pos[i]] = 0
				if bitutil.BitIsSet(bits, data.Offset()+i) {
					k.buf[k.pos[i]] = 1
				}
				k.pos[i]++
			}
		case joinKeyBinary:
			joinEncodeBinary[int32](data, k, last)
		case joinKeyLargeBinary:
			joinEncodeBinary[int64](data, k, last)
		}
	}
}

// joinNormFloat maps all NaNs to one and -0 to 0.
func joinNormFloat[F float32 | float64](v F) F {
	switch {
	case v != v:
		return F(math.NaN())
	case v == 0:
		return 0
	}
	return v
}

// joinBinaryLengths adds the length of each value of a binary array to n.
func joinBinaryLengths[O int32 | int64](arr arrow.Array, n []int) {
	offs := arrow.GetOffsets[O](arr.Data(), 1)
	for i := range n {
		n[i] += int(offs[i+1] - offs[i])
	}
}

// joinEncodeBinary writes the values of a binary array, each preceded by its
// length unless last.
func joinEncodeBinary[O int32 | int64](data arrow.ArrayData, k *joinKeys, last bool) {
	offs := arrow.GetOffsets[O](data, 1)
	var bytes []byte
	if b := data.Buffers()[2]; b != nil {
		bytes = b.Bytes()
	}
	for i := range len(offs) - 1 {
		v, p := bytes[offs[i]:offs[i+1]], k.pos[i]
		if !last {
			binary.LittleEndian.PutUint32(k.buf[p:], uint32(len(v)))
			p += 4
		}
		k.pos[i] = p + copy(k.buf[p:], v)
	}
}

// joinResize returns s with length n, reusing its array when it can.
func joinResize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n, max(n, 2*cap(s)))
	}
	return s[:n]
}
