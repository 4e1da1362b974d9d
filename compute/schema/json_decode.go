package schema

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// jsonDecoder decodes JSON keys or values straight into row cells, walking
// the document with a jsonScanner in the order of its keys.
type jsonDecoder struct {
	row       Type // STRUCT of the payload's columns
	unwrapped bool
	sc        jsonScanner
	stack     []cell // elements and entries of the arrays and maps being decoded
	exact     []bool // for each STRUCT field being decoded, whether a key matched it exactly
	fold      []byte // case-folding scratch
}

var trueText, falseText = []byte("true"), []byte("false")

func newJSONDecoder(cols []Column, unwrapped bool) (*jsonDecoder, error) {
	fields := make([]Field, len(cols))
	for i, c := range cols {
		fields[i] = Field{Name: c.Name, Type: c.Type}
	}
	row, err := Struct(fields...)
	if err != nil {
		return nil, err
	}
	return &jsonDecoder{row: row, unwrapped: unwrapped}, nil
}

func (j *jsonDecoder) decode(data []byte, r *row, first int32) error {
	if data == nil {
		return nil
	}
	j.sc = jsonScanner{data: data}
	j.sc.ws()
	st := j.row.st
	var err error
	switch c := j.sc.peek(); {
	case j.unwrapped || c != '{' && c != 'n' && len(st.fields) == 1:
		var v cell
		if v, err = j.value(&st.fields[0].Type, r); err == nil {
			r.cells[first] = v
		}
		err = inField(st.fields[0].Name, err)
	case c == 'n':
		err = j.sc.literal("null") // NULL in every column
	case c == '{':
		err = j.fields(st, r, first)
	case c == '[' || c == '"' || c == 't' || c == 'f' || c == '-' || isDigit(c):
		return fmt.Errorf("a JSON %s is not an object of %d columns", j.sc.kind(), len(st.fields))
	default:
		return j.sc.unexpected()
	}
	if err != nil {
		return err
	}
	if j.sc.ws(); j.sc.pos < len(data) {
		return j.sc.syntax("data after the JSON value")
	}
	return nil
}

// inField attributes a conversion error to a field; syntax errors concern
// the whole document.
func inField(name string, err error) error {
	if _, ok := err.(*syntaxError); ok || err == nil {
		return err
	}
	return &fieldError{name, err}
}

// within wraps a conversion error with where it happened.
func within(err error, format string, args ...any) error {
	if _, ok := err.(*syntaxError); ok || err == nil {
		return err
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// fields decodes an object into the fields of st, in cells first onwards. A
// key feeds the field named exactly like it, and every field named like it
// ignoring case that no key names exactly; of several keys feeding a field
// the last wins, but every value that feeds a field must convert.
func (j *jsonDecoder) fields(st *structInfo, r *row, first int32) error {
	base := len(j.exact)
	j.exact = append(j.exact, make([]bool, len(st.fields))...)
	defer func() { j.exact = j.exact[:base] }()
	hint := 0
	return j.sc.object(&r.buf, func(key []byte) error {
		exact, folded := st.names.lookup(key, hint, &j.fold)
		start := j.sc.pos
		fed := false
		for _, i := range folded {
			if i != exact && j.exact[base+i] {
				continue
			}
			j.sc.pos = start
			v, err := j.value(&st.fields[i].Type, r)
			if err != nil {
				return inField(st.fields[i].Name, err)
			}
			r.cells[first+int32(i)] = v
			j.exact[base+i] = j.exact[base+i] || i == exact
			fed = true
			hint = i + 1
		}
		if !fed {
			return j.sc.skip()
		}
		return nil
	})
}

// value decodes the JSON value at the scanner's position as type t.
func (j *jsonDecoder) value(t *Type, r *row) (cell, error) {
	sc := &j.sc
	switch c := sc.peek(); c {
	case 'n':
		return cell{}, sc.literal("null")
	case 't', 'f':
		if t.kind != KindBoolean && t.kind != KindString {
			break
		}
		word, text := "true", trueText
		if c == 'f' {
			word, text = "false", falseText
		}
		if err := sc.literal(word); err != nil {
			return cell{}, err
		}
		return r.textCell(t, text)
	case '"':
		if !t.primitive() {
			break
		}
		text, err := sc.str(&r.buf)
		if err != nil {
			return cell{}, err
		}
		return r.textCell(t, text)
	case '[':
		switch t.kind {
		case KindArray:
			return j.array(t, r)
		case KindString:
			return j.text(r)
		}
	case '{':
		switch t.kind {
		case KindStruct:
			first := r.alloc(len(t.st.fields))
			return cell{valid: true, first: first, n: int32(len(t.st.fields))}, j.fields(t.st, r, first)
		case KindMap:
			return j.entries(t, r)
		case KindString:
			return j.text(r)
		}
	default:
		if c != '-' && !isDigit(c) {
			return cell{}, sc.unexpected()
		}
		if t.kind == KindBoolean || t.kind == KindBytes || !t.primitive() {
			break
		}
		text, err := sc.number()
		if err != nil {
			return cell{}, err
		}
		return r.textCell(t, text)
	}
	return cell{}, fmt.Errorf("cannot convert a JSON %s to %s", sc.kind(), t)
}

// array decodes an array: its elements go on the stack while they decode,
// then to consecutive cells.
func (j *jsonDecoder) array(t *Type, r *row) (cell, error) {
	base := len(j.stack)
	defer func() { j.stack = j.stack[:base] }()
	err := j.sc.array(func() error {
		v, err := j.value(t.elem, r)
		j.stack = append(j.stack, v)
		return within(err, "element %d", len(j.stack)-base-1)
	})
	if err != nil {
		return cell{}, err
	}
	n := len(j.stack) - base
	first := r.alloc(n)
	copy(r.cells[first:], j.stack[base:])
	return cell{valid: true, first: first, n: int32(n)}, nil
}

// entries decodes an object as a MAP; of duplicate keys the last wins.
func (j *jsonDecoder) entries(t *Type, r *row) (cell, error) {
	base := len(j.stack)
	defer func() { j.stack = j.stack[:base] }()
	err := j.sc.object(&r.buf, func(key []byte) error {
		if !utf8.Valid(key) {
			return errInvalidUTF8
		}
		v, err := j.value(t.elem, r)
		j.stack = append(j.stack, cell{valid: true, bytes: key}, v)
		return within(err, "key %q", key)
	})
	if err != nil {
		return cell{}, err
	}
	pairs := j.stack[base:]
	n := dropDuplicateKeys(pairs)
	first := r.alloc(2 * n)
	k := first
	for p := 0; p < len(pairs); p += 2 {
		if pairs[p].valid {
			r.cells[k], r.cells[k+1] = pairs[p], pairs[p+1]
			k += 2
		}
	}
	return cell{valid: true, first: first, n: int32(n)}, nil
}

// dropDuplicateKeys marks invalid the key cell of every (key, value) pair
// of cells whose key appears again later, and returns the number of pairs
// left.
func dropDuplicateKeys(pairs []cell) int {
	const small = 32 // beyond, quadratic search costs more than a map
	n := len(pairs) / 2
	if n <= small {
		for a := 0; a < len(pairs); a += 2 {
			for b := a + 2; b < len(pairs); b += 2 {
				if bytes.Equal(pairs[a].bytes, pairs[b].bytes) {
					pairs[a].valid = false
					n--
					break
				}
			}
		}
		return n
	}
	last := make(map[string]int, n)
	for p := 0; p < len(pairs); p += 2 {
		last[string(pairs[p].bytes)] = p
	}
	for p := 0; p < len(pairs); p += 2 {
		if last[string(pairs[p].bytes)] != p {
			pairs[p].valid = false
			n--
		}
	}
	return n
}

// text decodes an array or object as a STRING: its JSON text without
// insignificant whitespace.
func (j *jsonDecoder) text(r *row) (cell, error) {
	start := j.sc.pos
	if err := j.sc.skip(); err != nil {
		return cell{}, err
	}
	from := len(r.buf)
	r.buf = appendCompact(r.buf, j.sc.data[start:j.sc.pos])
	return cell{valid: true, bytes: r.buf[from:]}, nil
}
