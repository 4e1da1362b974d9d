package schema

import (
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// kafkaDecoder decodes the KAFKA format: one column, serialized as Kafka's
// own serializers do.
type kafkaDecoder struct{ col Column }

func (k kafkaDecoder) decode(data []byte, r *row, i int32) error {
	if data == nil {
		return nil
	}
	c := &r.cells[i]
	size := 0
	switch k.col.Type.kind {
	case KindInt:
		size = 4
	case KindBigInt, KindDouble:
		size = 8
	}
	if size > 0 && len(data) != size {
		return &fieldError{k.col.Name, fmt.Errorf("KAFKA %s takes %d bytes, not %d", k.col.Type, size, len(data))}
	}
	switch k.col.Type.kind {
	case KindInt:
		c.bits = uint64(int64(int32(binary.BigEndian.Uint32(data))))
	case KindBigInt, KindDouble:
		c.bits = binary.BigEndian.Uint64(data)
	case KindString:
		if !utf8.Valid(data) {
			return &fieldError{k.col.Name, errInvalidUTF8}
		}
		c.bytes = data
	case KindBytes:
		c.bytes = data
	}
	c.valid = true
	return nil
}

// appendKafka appends value i of a in the KAFKA format; NULL is nil.
func appendKafka(dst []byte, a arrow.Array, i int) []byte {
	if a.IsNull(i) {
		return nil
	}
	switch a := a.(type) {
	case *array.Int32:
		return binary.BigEndian.AppendUint32(dst, uint32(a.Value(i)))
	case *array.Int64:
		return binary.BigEndian.AppendUint64(dst, uint64(a.Value(i)))
	case *array.Float64:
		return binary.BigEndian.AppendUint64(dst, math.Float64bits(a.Value(i)))
	case *array.String:
		return append(dst, a.Value(i)...)
	case *array.Binary:
		return append(dst, a.Value(i)...)
	}
	panic("schema: no KAFKA form for Arrow type " + a.DataType().String())
}
