package schema

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
)

// Encoder writes columns of Arrow record rows as a Kafka key or value, for
// sinks. It finds its columns by name in each record's schema (remembering
// the last schema seen), so records may carry other columns too. An Encoder
// is not safe for concurrent use.
//
// Encode always writes the row's columns, NULLs included: a JSON value whose
// columns are all NULL encodes as {"A":null,…}, not as a tombstone. A table
// sink that wants tombstones for deleted rows sends a nil value itself.
type Encoder struct {
	cols    []Column
	format  Format
	names   []string // JSON: `"NAME":` for each column
	delim   string
	schema  *arrow.Schema // the schema fields was resolved for
	fields  []int
	arrays  []arrow.Array
	scratch []byte
}

// NewEncoder returns an Encoder of cols in format f.
func NewEncoder(cols []Column, f Format) (*Encoder, error) {
	if err := f.check(cols); err != nil {
		return nil, err
	}
	e := &Encoder{
		cols:   append([]Column(nil), cols...),
		format: f,
		names:  make([]string, len(cols)),
		delim:  string(f.delimiter()),
		fields: make([]int, len(cols)),
		arrays: make([]arrow.Array, len(cols)),
	}
	for i, c := range cols {
		e.names[i] = string(appendJSONString(nil, c.Name)) + ":"
	}
	return e, nil
}

// Encode appends the encoding of row of rec to dst and returns it. It
// returns nil, not an empty slice, for a Kafka null: a NULL column in the
// KAFKA format and any row in the NONE format.
func (e *Encoder) Encode(rec arrow.Record, row int, dst []byte) ([]byte, error) {
	if err := e.bind(rec.Schema()); err != nil {
		return nil, err
	}
	if row < 0 || row >= int(rec.NumRows()) {
		return nil, fmt.Errorf("schema: row %d out of range [0, %d)", row, rec.NumRows())
	}
	for i, f := range e.fields {
		e.arrays[i] = rec.Column(f)
	}
	if dst == nil {
		dst = []byte{}
	}
	switch e.format.Kind {
	case None:
		return nil, nil
	case Kafka:
		if len(e.arrays) == 0 {
			return nil, nil
		}
		return appendKafka(dst, e.arrays[0], row), nil
	case Delimited:
		return appendDelimited(dst, e.arrays, row, e.delim, &e.scratch), nil
	}
	if e.format.Unwrapped {
		return appendJSONValue(dst, e.arrays[0], row), nil
	}
	dst = append(dst, '{')
	for i, a := range e.arrays {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, e.names[i]...)
		dst = appendJSONValue(dst, a, row)
	}
	return append(dst, '}'), nil
}

// bind finds the encoder's columns in s.
func (e *Encoder) bind(s *arrow.Schema) error {
	if s == e.schema {
		return nil
	}
	for i, c := range e.cols {
		idx := s.FieldIndices(c.Name)
		if len(idx) != 1 {
			return fmt.Errorf("schema: record has %d fields named %q, not 1", len(idx), c.Name)
		}
		if t, err := FromArrow(s.Field(idx[0]).Type); err != nil || !t.Equal(c.Type) {
			return fmt.Errorf("schema: record field %q is Arrow %s, not %s", c.Name, s.Field(idx[0]).Type, c.Type)
		}
		e.fields[i] = idx[0]
	}
	e.schema = s
	return nil
}
