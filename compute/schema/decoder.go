package schema

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Record is a Kafka record to decode.
type Record struct {
	Partition int32
	Offset    int64
	Timestamp int64 // Unix milliseconds
	Key       []byte
	Value     []byte
}

// payloadDecoder decodes a record key or value into the row cells of its
// columns, starting at cell first. Errors about one column are *fieldError.
type payloadDecoder interface {
	decode(data []byte, r *row, first int32) error
}

// ignored decodes a payload with no columns.
type ignored struct{}

func (ignored) decode([]byte, *row, int32) error { return nil }

func newPayloadDecoder(f Format, cols []Column) (payloadDecoder, error) {
	if err := f.check(cols); err != nil {
		return nil, err
	}
	if len(cols) == 0 {
		return ignored{}, nil
	}
	switch f.Kind {
	case Kafka:
		return kafkaDecoder{cols[0]}, nil
	case JSON:
		return newJSONDecoder(cols, f.Unwrapped)
	case Delimited:
		return &delimitedDecoder{cols: cols, delim: []byte(string(f.delimiter()))}, nil
	}
	panic("unreachable: Format.check accepts no columns for NONE")
}

// Decoder appends Kafka records to an Arrow record batch of a source's
// Schema. A Decoder is not safe for concurrent use.
type Decoder struct {
	schema     *Schema
	key, value payloadDecoder
	rb         *array.RecordBuilder
	rowTime    *array.TimestampBuilder
	partition  *array.Int32Builder
	offset     *array.Int64Builder
	row        row
}

// NewDecoder returns a Decoder of records whose keys are in format key and
// values in format value. Release it when done.
func NewDecoder(s *Schema, key, value Format, mem memory.Allocator) (*Decoder, error) {
	kd, err := newPayloadDecoder(key, s.cols[:s.nkeys])
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	vd, err := newPayloadDecoder(value, s.cols[s.nkeys:])
	if err != nil {
		return nil, fmt.Errorf("value: %w", err)
	}
	rb := array.NewRecordBuilder(mem, s.arrow)
	return &Decoder{
		schema:    s,
		key:       kd,
		value:     vd,
		rb:        rb,
		rowTime:   rb.Field(RowTimeIndex).(*array.TimestampBuilder),
		partition: rb.Field(RowPartitionIndex).(*array.Int32Builder),
		offset:    rb.Field(RowOffsetIndex).(*array.Int64Builder),
	}, nil
}

// Append decodes rec and appends it as a row. A record that does not decode
// is not appended: Append returns a *DecodeError and the batch is unchanged.
//
// A nil key or value (a tombstone) decodes as NULL in all its columns: the
// row is appended, and callers that treat tombstones apart (tables) check
// rec.Value == nil before calling Append.
func (d *Decoder) Append(rec Record) error {
	d.row.reset(len(d.schema.cols))
	if err := d.key.decode(rec.Key, &d.row, 0); err != nil {
		return decodeError(rec, "key", err)
	}
	if err := d.value.decode(rec.Value, &d.row, int32(d.schema.nkeys)); err != nil {
		return decodeError(rec, "value", err)
	}
	d.rowTime.Append(arrow.Timestamp(rec.Timestamp))
	d.partition.Append(rec.Partition)
	d.offset.Append(rec.Offset)
	for i := range d.schema.cols {
		d.row.appendCell(d.rb.Field(NumPseudoColumns+i), &d.schema.cols[i].Type, int32(i))
	}
	return nil
}

func decodeError(rec Record, payload string, err error) *DecodeError {
	e := &DecodeError{Partition: rec.Partition, Offset: rec.Offset, Err: err}
	if fe, ok := err.(*fieldError); ok {
		e.Column, e.Err = fe.name, fe.err
	} else {
		e.Err = fmt.Errorf("%s: %w", payload, err)
	}
	return e
}

// Len returns the number of rows appended since the last Flush.
func (d *Decoder) Len() int { return d.rowTime.Len() }

// Flush returns the rows appended since the last Flush as a record batch of
// Schema.Arrow(), which the caller releases, and starts a new batch with room
// reserved for as many rows and as many top-level STRING and BYTES bytes.
func (d *Decoder) Flush() arrow.Record {
	rec := d.rb.NewRecord()
	d.rb.Reserve(int(rec.NumRows()))
	for i, col := range rec.Columns() {
		a, ok1 := col.(interface{ ValueBytes() []byte })
		b, ok2 := d.rb.Field(i).(interface{ ReserveData(int) })
		if ok1 && ok2 {
			b.ReserveData(len(a.ValueBytes()))
		}
	}
	return rec
}

// Release releases the rows not flushed and the builders.
func (d *Decoder) Release() { d.rb.Release() }
