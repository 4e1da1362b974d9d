package engine

import (
	"encoding/base64"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/strata-log/strata/compute/expr"
)

// Column is a result column: its name and SQL type.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Header starts a statement's rows.
type Header struct {
	Statement string   `json:"statement"`
	QueryID   string   `json:"queryId"`
	Columns   []Column `json:"columns"`
}

// Status is the outcome of a statement that returns no rows.
type Status struct {
	Statement string `json:"statement"`
	Message   string `json:"message"`
	QueryID   string `json:"queryId,omitempty"`
}

// Result receives what statements produce, in order.
type Result interface {
	Header(Header) error
	Row(values []any, tombstone bool) error
	Done(rows int64) error
	Status(Status) error
}

// columnsOf describes a schema's fields.
func columnsOf(s *arrow.Schema) []Column {
	out := make([]Column, s.NumFields())
	for i, f := range s.Fields() {
		out[i] = Column{Name: f.Name, Type: expr.SQLType(f.Type)}
	}
	return out
}

// rowValues returns row i of rec as JSON-ready values: TIMESTAMP as an
// ISO-8601 string, BYTES base64, the rest as arrow marshals them.
func rowValues(rec arrow.Record, i int) []any {
	out := make([]any, rec.NumCols())
	for c, col := range rec.Columns() {
		if col.IsNull(i) {
			continue
		}
		switch a := col.(type) {
		case *array.Timestamp:
			out[c] = time.UnixMilli(int64(a.Value(i))).UTC().Format("2006-01-02T15:04:05.000Z")
		case *array.Binary:
			out[c] = base64.StdEncoding.EncodeToString(a.Value(i))
		default:
			out[c] = col.GetOneForMarshal(i)
		}
	}
	return out
}
