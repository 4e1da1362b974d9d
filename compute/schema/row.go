package schema

import (
	"math"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
)

// cell holds one decoded value until its whole row has decoded, so that a
// bad record never leaves a half-appended row in the builders.
type cell struct {
	valid bool
	bits  uint64         // BOOLEAN (0, 1), INT, BIGINT, TIMESTAMP, DATE, TIME (int64 bits), DOUBLE (IEEE bits)
	dec   decimal128.Num // DECIMAL
	bytes []byte         // STRING, BYTES: into the payload or row.buf
	first int32          // ARRAY, MAP, STRUCT: index of the first child cell
	n     int32          // ARRAY elements, MAP entries (2 cells each: key, value), STRUCT fields
}

// row is the scratch one record decodes into: cells 0 to n-1 (see reset) are
// the schema's columns; children of nested values follow.
type row struct {
	cells []cell
	buf   []byte // bytes decoded out of the payload (unescaped, base64, …)
}

// reset makes a row of n NULL columns.
func (r *row) reset(n int) {
	r.cells = r.cells[:0]
	r.alloc(n)
	r.buf = r.buf[:0]
}

// alloc appends n NULL cells and returns the index of the first.
func (r *row) alloc(n int) int32 {
	first := len(r.cells)
	r.cells = append(r.cells, make([]cell, n)...)
	return int32(first)
}

// appendCell appends the value of cell i, of type t, to b.
func (r *row) appendCell(b array.Builder, t *Type, i int32) {
	c := &r.cells[i]
	if !c.valid {
		b.AppendNull()
		return
	}
	switch t.kind {
	case KindBoolean:
		b.(*array.BooleanBuilder).Append(c.bits != 0)
	case KindInt:
		b.(*array.Int32Builder).Append(int32(c.bits))
	case KindBigInt:
		b.(*array.Int64Builder).Append(int64(c.bits))
	case KindDouble:
		b.(*array.Float64Builder).Append(math.Float64frombits(c.bits))
	case KindDecimal:
		b.(*array.Decimal128Builder).Append(c.dec)
	case KindString:
		b.(*array.StringBuilder).BinaryBuilder.Append(c.bytes)
	case KindTimestamp:
		b.(*array.TimestampBuilder).Append(arrow.Timestamp(c.bits))
	case KindDate:
		b.(*array.Date32Builder).Append(arrow.Date32(c.bits))
	case KindTime:
		b.(*array.Time32Builder).Append(arrow.Time32(c.bits))
	case KindBytes:
		b.(*array.BinaryBuilder).Append(c.bytes)
	case KindArray:
		lb := b.(*array.ListBuilder)
		lb.Append(true)
		vb := lb.ValueBuilder()
		for k := range c.n {
			r.appendCell(vb, t.elem, c.first+k)
		}
	case KindMap:
		mb := b.(*array.MapBuilder)
		mb.Append(true)
		kb, ib := mb.KeyBuilder(), mb.ItemBuilder()
		for k := range c.n {
			r.appendCell(kb, &String, c.first+2*k)
			r.appendCell(ib, t.elem, c.first+2*k+1)
		}
	case KindStruct:
		sb := b.(*array.StructBuilder)
		sb.Append(true)
		for k := range c.n {
			r.appendCell(sb.FieldBuilder(int(k)), &t.st.fields[k].Type, c.first+k)
		}
	}
}
