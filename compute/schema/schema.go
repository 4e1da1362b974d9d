package schema

import (
	"fmt"
	"slices"

	"github.com/apache/arrow/go/v17/arrow"
)

// Column is one column of a source: a key column when Key is set, a value
// column otherwise. Names are case-sensitive (the parser upper-cases
// unquoted identifiers).
type Column struct {
	Name string
	Type Type
	Key  bool
}

// The pseudo columns that lead every source batch, filled from the Kafka
// record rather than its key or value.
const (
	RowTime      = "ROWTIME"      // record timestamp, TIMESTAMP
	RowPartition = "ROWPARTITION" // partition, INT
	RowOffset    = "ROWOFFSET"    // offset, BIGINT
)

// Field indices of the pseudo columns in a source batch. Column i of a
// Schema is field NumPseudoColumns+i.
const (
	RowTimeIndex = iota
	RowPartitionIndex
	RowOffsetIndex
	NumPseudoColumns
)

var pseudoColumns = [NumPseudoColumns]Column{
	RowTimeIndex:      {Name: RowTime, Type: Timestamp},
	RowPartitionIndex: {Name: RowPartition, Type: Int},
	RowOffsetIndex:    {Name: RowOffset, Type: BigInt},
}

// PseudoColumns returns the pseudo columns in batch order.
func PseudoColumns() []Column { return slices.Clone(pseudoColumns[:]) }

// IsPseudoColumn reports whether name is the name of a pseudo column.
func IsPseudoColumn(name string) bool {
	return name == RowTime || name == RowPartition || name == RowOffset
}

// Schema is the ordered, immutable list of a source's columns: key columns
// first, then value columns, each group in declaration order.
type Schema struct {
	cols  []Column
	nkeys int
	index map[string]int
	arrow *arrow.Schema
}

// New returns the schema of cols. Key columns are moved before value
// columns, keeping the order within each group. Names must be non-empty,
// unique and not a pseudo column's; types must be valid.
func New(cols ...Column) (*Schema, error) {
	s := &Schema{cols: make([]Column, 0, len(cols)), index: make(map[string]int, len(cols))}
	for _, key := range []bool{true, false} {
		for _, c := range cols {
			if c.Key == key {
				s.cols = append(s.cols, c)
			}
		}
		if key {
			s.nkeys = len(s.cols)
		}
	}
	fields := make([]arrow.Field, 0, NumPseudoColumns+len(cols))
	for _, c := range pseudoColumns {
		fields = append(fields, arrow.Field{Name: c.Name, Type: c.Type.Arrow()})
	}
	for i, c := range s.cols {
		switch _, dup := s.index[c.Name]; {
		case c.Name == "":
			return nil, fmt.Errorf("schema: column %d has no name", i)
		case IsPseudoColumn(c.Name):
			return nil, fmt.Errorf("schema: column name %s is reserved for a pseudo column", c.Name)
		case dup:
			return nil, fmt.Errorf("schema: duplicate column %q", c.Name)
		case !c.Type.Valid():
			return nil, fmt.Errorf("schema: column %q has an invalid type", c.Name)
		}
		s.index[c.Name] = i
		fields = append(fields, arrow.Field{Name: c.Name, Type: c.Type.Arrow(), Nullable: true})
	}
	s.arrow = arrow.NewSchema(fields, nil)
	return s, nil
}

// Len returns the number of columns, pseudo columns excluded.
func (s *Schema) Len() int { return len(s.cols) }

// Column returns column i.
func (s *Schema) Column(i int) Column { return s.cols[i] }

// Columns returns a copy of the columns, keys first.
func (s *Schema) Columns() []Column { return slices.Clone(s.cols) }

// NumKeys returns the number of key columns: columns 0 to NumKeys()-1.
func (s *Schema) NumKeys() int { return s.nkeys }

// Keys returns a copy of the key columns.
func (s *Schema) Keys() []Column { return slices.Clone(s.cols[:s.nkeys]) }

// Values returns a copy of the value columns.
func (s *Schema) Values() []Column { return slices.Clone(s.cols[s.nkeys:]) }

// Index returns the index of the column named exactly name.
func (s *Schema) Index(name string) (int, bool) {
	i, ok := s.index[name]
	return i, ok
}

// FieldIndex returns the batch field index of the column or pseudo column
// named exactly name.
func (s *Schema) FieldIndex(name string) (int, bool) {
	switch name {
	case RowTime:
		return RowTimeIndex, true
	case RowPartition:
		return RowPartitionIndex, true
	case RowOffset:
		return RowOffsetIndex, true
	}
	i, ok := s.index[name]
	return NumPseudoColumns + i, ok
}

// Arrow returns the schema of the source's record batches: the pseudo
// columns (not nullable), then the key columns, then the value columns
// (nullable). The same *arrow.Schema is returned on every call.
func (s *Schema) Arrow() *arrow.Schema { return s.arrow }
