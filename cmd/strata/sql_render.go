package main

// Printing the results of "strata sql": aligned tables (buffered for
// queries that end, row by row for push queries) and JSON lines.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// sqlRenderer receives the lines of a response as they are decoded.
// Methods return only output errors.
type sqlRenderer interface {
	header(h *sqlHeader) error
	row(vals []json.RawMessage, tombstone bool) error
	done() error
	// status prints a statement's outcome; raw is the line as received
	// (nil for a client-side SET/UNSET).
	status(st *sqlStatus, raw []byte) error
	// serverError sees an error line before the error is returned.
	serverError(e *sqlServerError, raw []byte) error
}

// ---- tables ----

const (
	// maxBufferedRows is how many rows of a query are held to size its
	// table; past that, they are printed as they come.
	maxBufferedRows = 10000
	// maxStreamWidth caps how far a column of a push query widens for a
	// long value; longer values are truncated (the last column never is).
	maxStreamWidth = 40
)

// tableRenderer prints results as psql does:
//
//	 CARD_NUMBER | KSQL_COL_0
//	-------------+------------
//	 4000-0001   |          4
//	(1 row)
//
// Rows of a query that ends are buffered so that the columns fit them;
// rows of a streaming statement (push query, PRINT) are printed as they
// arrive, in columns sized from the header and the column types.
type tableRenderer struct {
	out       io.Writer
	streaming bool

	cols   []sqlColumn
	right  []bool // numbers are right-aligned
	widths []int
	rows   [][]string
	tombs  []bool
	n      int
}

func (t *tableRenderer) header(h *sqlHeader) error {
	t.cols = h.Columns
	t.right = make([]bool, len(t.cols))
	t.widths = make([]int, len(t.cols))
	for i, c := range t.cols {
		t.right[i] = isNumericType(c.Type)
		t.widths[i] = cellWidth(c.Name)
		if t.streaming {
			t.widths[i] = max(t.widths[i], typeWidth(c.Type))
		}
	}
	if t.streaming {
		return t.write(t.headerLines())
	}
	return nil
}

func (t *tableRenderer) row(vals []json.RawMessage, tombstone bool) error {
	cells := make([]string, len(vals))
	for i, v := range vals {
		cells[i] = sqlCellText(v)
	}
	t.n++
	if t.streaming {
		return t.write(t.rowLine(t.fit(cells), tombstone))
	}
	t.rows = append(t.rows, cells)
	t.tombs = append(t.tombs, tombstone)
	if len(t.rows) >= maxBufferedRows {
		// Too many to hold: print these and stream the rest.
		err := t.flushBuffered()
		t.streaming = true
		return err
	}
	return nil
}

func (t *tableRenderer) done() error {
	if err := t.flushBuffered(); err != nil {
		return err
	}
	s := "s"
	if t.n == 1 {
		s = ""
	}
	return t.write(fmt.Sprintf("(%d row%s)\n", t.n, s))
}

// flushBuffered prints the header and the buffered rows in columns wide
// enough for all of them.
func (t *tableRenderer) flushBuffered() error {
	if t.streaming {
		return nil
	}
	for _, r := range t.rows {
		for i, c := range r {
			t.widths[i] = max(t.widths[i], cellWidth(c))
		}
	}
	bw := bufio.NewWriter(t.out)
	bw.WriteString(t.headerLines())
	for i, r := range t.rows {
		bw.WriteString(t.rowLine(r, t.tombs[i]))
	}
	t.rows, t.tombs = nil, nil
	return bw.Flush()
}

func (t *tableRenderer) status(st *sqlStatus, _ []byte) error {
	msg := st.Message
	if msg == "" {
		msg = "OK"
	}
	if st.QueryID != "" && !strings.Contains(msg, st.QueryID) {
		msg += " (query " + st.QueryID + ")"
	}
	return t.write(msg + "\n")
}

func (t *tableRenderer) serverError(*sqlServerError, []byte) error { return nil }

func (t *tableRenderer) write(s string) error {
	_, err := io.WriteString(t.out, s)
	return err
}

// headerLines is the column names and the separator under them.
func (t *tableRenderer) headerLines() string {
	names := make([]string, len(t.cols))
	seps := make([]string, len(t.cols))
	for i, c := range t.cols {
		names[i] = c.Name
		seps[i] = strings.Repeat("-", t.widths[i]+2)
	}
	return t.line(names) + strings.Join(seps, "+") + "\n"
}

func (t *tableRenderer) rowLine(cells []string, tombstone bool) string {
	l := t.line(cells)
	if tombstone {
		l = strings.TrimSuffix(l, "\n") + "  (tombstone)\n"
	}
	return l
}

// line pads cells to the column widths, numbers (and their names) to the
// right: " a | b" without trailing spaces.
func (t *tableRenderer) line(cells []string) string {
	var b strings.Builder
	for i, c := range cells {
		if i > 0 {
			b.WriteString(" |")
		}
		b.WriteByte(' ')
		pad := strings.Repeat(" ", max(0, t.widths[i]-cellWidth(c)))
		if t.right[i] {
			b.WriteString(pad + c)
		} else {
			b.WriteString(c + pad)
		}
	}
	return strings.TrimRight(b.String(), " ") + "\n"
}

// fit adjusts a streamed row to the columns: a column widens for a longer
// value up to maxStreamWidth, past which the value is cut with "…". The
// last column takes any width.
func (t *tableRenderer) fit(cells []string) []string {
	for i, c := range cells {
		w := cellWidth(c)
		if w <= t.widths[i] || i == len(cells)-1 {
			continue
		}
		if w <= maxStreamWidth {
			t.widths[i] = w
			continue
		}
		t.widths[i] = max(t.widths[i], maxStreamWidth)
		r := []rune(c)
		cells[i] = string(r[:t.widths[i]-1]) + "…"
	}
	return cells
}

// cellWidth is the printed width of s (one column per character).
func cellWidth(s string) int { return utf8.RuneCountInString(s) }

// sqlCellText renders a JSON value for a table cell: strings unquoted
// (control characters escaped so that a row stays on one line), null as
// null, numbers as sent, arrays and objects as compact JSON.
func sqlCellText(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return ""
	}
	switch v[0] {
	case '"':
		var s string
		if json.Unmarshal(v, &s) == nil {
			return escapeCell(s)
		}
	case '[', '{':
		var b bytes.Buffer
		if json.Compact(&b, v) == nil {
			return b.String()
		}
	}
	return string(v)
}

func escapeCell(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// baseType is a SQL type without its parameters: DECIMAL(10,2) → DECIMAL,
// ARRAY<STRING> → ARRAY.
func baseType(t string) string {
	t = strings.ToUpper(strings.TrimSpace(t))
	if i := strings.IndexAny(t, "(<"); i >= 0 {
		t = strings.TrimSpace(t[:i])
	}
	return t
}

func isNumericType(t string) bool {
	switch baseType(t) {
	case "INT", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "DOUBLE", "FLOAT", "REAL", "DECIMAL", "NUMERIC":
		return true
	}
	return false
}

// typeWidth is the starting width of a streamed column of type t: enough
// for typical values.
func typeWidth(t string) int {
	switch baseType(t) {
	case "BOOLEAN":
		return 5
	case "INT", "INTEGER", "SMALLINT", "TINYINT":
		return 11
	case "BIGINT":
		return 20
	case "DOUBLE", "FLOAT", "REAL", "DECIMAL", "NUMERIC":
		return 14
	case "DATE":
		return 10
	case "TIME":
		return 12
	case "TIMESTAMP":
		return 24
	case "ARRAY", "MAP", "STRUCT":
		return 30
	}
	return 20
}

// ---- JSON lines ----

// jsonRenderer prints each row as a JSON object keyed by column name, in
// column order and with values exactly as the server sent them; statuses
// and errors as the server's objects.
type jsonRenderer struct {
	out  io.Writer
	keys [][]byte
}

func (j *jsonRenderer) header(h *sqlHeader) error {
	j.keys = make([][]byte, len(h.Columns))
	for i, c := range h.Columns {
		j.keys[i] = jsonString(c.Name)
	}
	return nil
}

func (j *jsonRenderer) row(vals []json.RawMessage, tombstone bool) error {
	var b bytes.Buffer
	if tombstone {
		b.WriteString(`{"tombstone":`)
	}
	b.WriteByte('{')
	for i, v := range vals {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(j.keys[i])
		b.WriteByte(':')
		if json.Compact(&b, v) != nil {
			b.Write(v)
		}
	}
	b.WriteByte('}')
	if tombstone {
		b.WriteByte('}')
	}
	b.WriteByte('\n')
	_, err := j.out.Write(b.Bytes())
	return err
}

func (j *jsonRenderer) done() error { return nil }

func (j *jsonRenderer) status(st *sqlStatus, raw []byte) error {
	if raw == nil {
		raw = jsonValue(map[string]*sqlStatus{"status": st})
	}
	return j.writeRaw(raw)
}

func (j *jsonRenderer) serverError(_ *sqlServerError, raw []byte) error { return j.writeRaw(raw) }

func (j *jsonRenderer) writeRaw(raw []byte) error {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		b.Reset()
		b.Write(raw)
	}
	b.WriteByte('\n')
	_, err := j.out.Write(b.Bytes())
	return err
}

// jsonValue marshals v without HTML escaping and without a newline.
func jsonValue(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // strings and plain structs cannot fail
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func jsonString(s string) []byte { return jsonValue(s) }
