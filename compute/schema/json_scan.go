package schema

import (
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// maxJSONDepth bounds the nesting of arrays and objects in a document.
const maxJSONDepth = 1000

// jsonScanner reads one JSON document strictly (RFC 8259) without building
// a tree: callers walk it value by value.
type jsonScanner struct {
	data  []byte
	pos   int
	depth int
}

// syntaxError reports malformed JSON.
type syntaxError struct {
	offset int
	msg    string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("malformed JSON at byte %d: %s", e.offset, e.msg)
}

func (s *jsonScanner) syntax(format string, args ...any) error {
	return &syntaxError{offset: s.pos, msg: fmt.Sprintf(format, args...)}
}

// unexpected reports the byte at the position as out of place.
func (s *jsonScanner) unexpected() error {
	if s.pos == len(s.data) {
		return s.syntax("unexpected end")
	}
	return s.syntax("unexpected %q", s.data[s.pos])
}

// ws skips whitespace.
func (s *jsonScanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek returns the byte at the position, 0 at the end.
func (s *jsonScanner) peek() byte {
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

// kind names the JSON value starting at the position, as error messages do.
func (s *jsonScanner) kind() string {
	switch c := s.peek(); {
	case c == '{':
		return "object"
	case c == '[':
		return "array"
	case c == '"':
		return "string"
	case c == 't':
		return "true"
	case c == 'f':
		return "false"
	case c == 'n':
		return "null"
	}
	return "number"
}

// literal consumes word (true, false or null).
func (s *jsonScanner) literal(word string) error {
	if len(s.data)-s.pos < len(word) || string(s.data[s.pos:s.pos+len(word)]) != word {
		return s.syntax("invalid literal")
	}
	s.pos += len(word)
	return nil
}

// number consumes a number and returns its text.
func (s *jsonScanner) number() ([]byte, error) {
	start := s.pos
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		if !isDigit(c) && c != '-' && c != '+' && c != '.' && c != 'e' && c != 'E' {
			break
		}
		s.pos++
	}
	text := s.data[start:s.pos]
	if _, ok := parseNumeral(unsafeString(text), true); !ok {
		s.pos = start
		if len(text) == 0 {
			return nil, s.unexpected()
		}
		return nil, s.syntax("invalid number %q", text)
	}
	return text, nil
}

// str consumes a string and returns its content: a slice of the document,
// or, if it has escapes, unescaped onto *buf. With a nil buf the string is
// only checked.
func (s *jsonScanner) str(buf *[]byte) ([]byte, error) {
	start := s.pos + 1 // after the opening quote
	for i := start; i < len(s.data); i++ {
		switch c := s.data[i]; {
		case c == '"':
			s.pos = i + 1
			return s.data[start:i], nil
		case c == '\\':
			return s.unescape(start, i, buf)
		case c < 0x20:
			s.pos = i
			return nil, s.syntax("control character %#x in string", c)
		}
	}
	s.pos = len(s.data)
	return nil, s.syntax("unterminated string")
}

// unescape continues str from the first backslash, at i.
func (s *jsonScanner) unescape(start, i int, buf *[]byte) ([]byte, error) {
	var out []byte
	if buf != nil {
		out = *buf
	}
	bufStart := len(out)
	out = append(out, s.data[start:i]...)
	for i < len(s.data) {
		c := s.data[i]
		switch {
		case c == '"':
			s.pos = i + 1
			if buf == nil {
				return nil, nil
			}
			*buf = out
			return out[bufStart:], nil
		case c < 0x20:
			s.pos = i
			return nil, s.syntax("control character %#x in string", c)
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		s.pos = i
		if i+1 == len(s.data) {
			break
		}
		next := i + 2
		switch e := s.data[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(s.data[next:])
			if !ok {
				return nil, s.syntax("invalid \\u escape")
			}
			next += 4
			if utf16.IsSurrogate(r) {
				// A pair makes one rune; a lone surrogate reads as U+FFFD,
				// as encoding/json does.
				r2, ok := hex4(s.data[min(next+2, len(s.data)):])
				if d := utf16.DecodeRune(r, r2); ok && s.data[next] == '\\' && s.data[next+1] == 'u' && d != utf8.RuneError {
					r, next = d, next+6
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, s.syntax("invalid escape \\%c", e)
		}
		i = next
	}
	s.pos = len(s.data)
	return nil, s.syntax("unterminated string")
}

// hex4 decodes 4 hex digits at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// enter and leave bound the nesting depth.
func (s *jsonScanner) enter() error {
	if s.depth++; s.depth > maxJSONDepth {
		return s.syntax("nested deeper than %d", maxJSONDepth)
	}
	return nil
}

func (s *jsonScanner) leave() { s.depth-- }

// object consumes an object, calling field with each key (unescaped onto
// *buf, see str) with the position at the key's value, which field must
// consume.
func (s *jsonScanner) object(buf *[]byte, field func(key []byte) error) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	s.pos++ // {
	s.ws()
	if s.peek() == '}' {
		s.pos++
		return nil
	}
	for {
		if s.peek() != '"' {
			return s.syntax("expected a string key")
		}
		key, err := s.str(buf)
		if err != nil {
			return err
		}
		s.ws()
		if s.peek() != ':' {
			return s.syntax("expected ':'")
		}
		s.pos++
		s.ws()
		if err := field(key); err != nil {
			return err
		}
		s.ws()
		switch s.peek() {
		case ',':
			s.pos++
			s.ws()
		case '}':
			s.pos++
			return nil
		default:
			return s.syntax("expected ',' or '}'")
		}
	}
}

// array consumes an array, calling elem with the position at each element,
// which elem must consume.
func (s *jsonScanner) array(elem func() error) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	s.pos++ // [
	s.ws()
	if s.peek() == ']' {
		s.pos++
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		s.ws()
		switch s.peek() {
		case ',':
			s.pos++
			s.ws()
		case ']':
			s.pos++
			return nil
		default:
			return s.syntax("expected ',' or ']'")
		}
	}
}

// skip consumes a value, checking it.
func (s *jsonScanner) skip() error {
	switch s.peek() {
	case '{':
		return s.object(nil, func([]byte) error { return s.skip() })
	case '[':
		return s.array(s.skip)
	case '"':
		_, err := s.str(nil)
		return err
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	}
	_, err := s.number()
	return err
}

// appendCompact appends the JSON text json, which is valid, without
// insignificant whitespace.
func appendCompact(dst, json []byte) []byte {
	inString := false
	for i := 0; i < len(json); i++ {
		c := json[i]
		switch {
		case inString && c == '\\':
			dst = append(dst, c, json[i+1])
			i++
			continue
		case c == '"':
			inString = !inString
		case !inString && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			continue
		}
		dst = append(dst, c)
	}
	return dst
}
