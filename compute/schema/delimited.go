package schema

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// delimitedDecoder decodes the DELIMITED format: one field per column, in
// order, separated by the delimiter, quoted CSV-style when needed.
type delimitedDecoder struct {
	cols   []Column
	delim  []byte
	fields []delimitedField
}

type delimitedField struct {
	text   []byte
	quoted bool
}

func (d *delimitedDecoder) decode(data []byte, r *row, first int32) error {
	if data == nil {
		return nil
	}
	if err := d.split(data, r); err != nil {
		return err
	}
	if len(d.fields) != len(d.cols) {
		return fmt.Errorf("DELIMITED value has %d fields, not %d", len(d.fields), len(d.cols))
	}
	for i, f := range d.fields {
		col := &d.cols[i]
		if len(f.text) == 0 && !(f.quoted && (col.Type.kind == KindString || col.Type.kind == KindBytes)) {
			continue // NULL
		}
		c, err := r.textCell(&col.Type, f.text)
		if err != nil {
			return &fieldError{col.Name, err}
		}
		r.cells[first+int32(i)] = c
	}
	return nil
}

// split cuts data into d.fields. A field starting with '"' is quoted: it
// runs to the next lone '"', "" standing for one '"', and must be followed by
// the delimiter or the end.
func (d *delimitedDecoder) split(data []byte, r *row) error {
	d.fields = d.fields[:0]
	for {
		if len(data) > 0 && data[0] == '"' {
			text, rest, err := unquote(data[1:], &r.buf)
			if err != nil {
				return fmt.Errorf("DELIMITED field %d: %w", len(d.fields)+1, err)
			}
			d.fields = append(d.fields, delimitedField{text: text, quoted: true})
			if len(rest) == 0 {
				return nil
			}
			if !bytes.HasPrefix(rest, d.delim) {
				return fmt.Errorf("DELIMITED field %d: %q after the closing quote", len(d.fields), rest[0])
			}
			data = rest[len(d.delim):]
			continue
		}
		k := bytes.Index(data, d.delim)
		if k < 0 {
			d.fields = append(d.fields, delimitedField{text: data})
			return nil
		}
		d.fields = append(d.fields, delimitedField{text: data[:k]})
		data = data[k+len(d.delim):]
	}
}

// unquote returns the content of a quoted field whose opening quote has been
// consumed, and what follows the closing quote. Content with doubled quotes
// is copied to buf.
func unquote(data []byte, buf *[]byte) (text, rest []byte, err error) {
	start := len(*buf)
	copied := false
	for {
		k := bytes.IndexByte(data, '"')
		if k < 0 {
			return nil, nil, errors.New("missing closing quote")
		}
		if k+1 == len(data) || data[k+1] != '"' {
			if !copied {
				return data[:k], data[k+1:], nil
			}
			*buf = append(*buf, data[:k]...)
			return (*buf)[start:], data[k+1:], nil
		}
		*buf = append(*buf, data[:k+1]...)
		copied = true
		data = data[k+2:]
	}
}

// appendDelimited appends row i of arrays in the DELIMITED format: NULL as
// an empty field, the empty STRING as "", BYTES in base64, other values as
// text; fields holding the delimiter, '"', '\r' or '\n' are quoted.
func appendDelimited(dst []byte, arrays []arrow.Array, i int, delim string, scratch *[]byte) []byte {
	for k, a := range arrays {
		if k > 0 {
			dst = append(dst, delim...)
		}
		if a.IsNull(i) {
			continue
		}
		switch a := a.(type) {
		case *array.String:
			dst = appendDelimitedField(dst, a.Value(i), delim)
			continue
		case *array.Binary:
			*scratch = base64.StdEncoding.AppendEncode((*scratch)[:0], a.Value(i))
		default:
			*scratch = appendScalarText((*scratch)[:0], a, i)
		}
		dst = appendDelimitedField(dst, unsafeString(*scratch), delim)
	}
	return dst
}

func appendDelimitedField(dst []byte, s, delim string) []byte {
	if s != "" && !strings.ContainsAny(s, "\"\r\n") && !strings.Contains(s, delim) {
		return append(dst, s...)
	}
	dst = append(dst, '"')
	for {
		k := strings.IndexByte(s, '"')
		if k < 0 {
			break
		}
		dst = append(dst, s[:k+1]...)
		dst = append(dst, '"')
		s = s[k+1:]
	}
	dst = append(dst, s...)
	return append(dst, '"')
}
