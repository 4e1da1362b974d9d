package sql

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokenKind int

const (
	tokEOF         tokenKind = iota
	tokIdent                 // unquoted word that is not reserved; text is upper-cased
	tokKeyword               // reserved word; text is upper-cased
	tokQuotedIdent           // `quoted` or "quoted" identifier; text is verbatim
	tokString                // 'string'; text is the unescaped value
	tokInteger               // 42
	tokDecimal               // 4.2, .5, 1.
	tokDouble                // 1e3, 1.5E-2
	tokOp                    // operator or punctuation; text is the operator
)

type token struct {
	kind tokenKind
	text string // normalized text, see tokenKind
	raw  string // source text, for error messages
	pos  Pos
}

// is reports whether t is the keyword word, reserved or not. Quoted
// identifiers are never keywords.
func (t token) is(word string) bool {
	return (t.kind == tokKeyword || t.kind == tokIdent) && t.text == word
}

func (t token) isOp(op string) bool { return t.kind == tokOp && t.text == op }

// isName reports whether t can be an identifier.
func (t token) isName() bool { return t.kind == tokIdent || t.kind == tokQuotedIdent }

// describe renders t for an error message.
func (t token) describe() string {
	raw := t.raw
	if utf8.RuneCountInString(raw) > 32 {
		raw = string([]rune(raw)[:32]) + "…"
	}
	switch t.kind {
	case tokEOF:
		return "end of input"
	case tokString:
		return "string " + raw
	case tokQuotedIdent:
		return raw
	}
	return "'" + raw + "'"
}

// reserved words cannot be unquoted identifiers. Other keywords (STREAM,
// SIZE, EXTENDED, type names, …) are recognized by context only.
var reserved = map[string]bool{
	"ALL": true, "AND": true, "AS": true, "BETWEEN": true, "BY": true,
	"CASE": true, "CAST": true, "CREATE": true, "DISTINCT": true,
	"ELSE": true, "EMIT": true, "END": true, "EXISTS": true, "FALSE": true,
	"FROM": true, "FULL": true, "GRACE": true, "GROUP": true, "HAVING": true,
	"IN": true, "INNER": true, "INSERT": true, "INTO": true, "IS": true,
	"JOIN": true, "LEFT": true, "LIKE": true, "LIMIT": true, "NOT": true,
	"NULL": true, "ON": true, "OR": true, "OUTER": true, "PARTITION": true,
	"RIGHT": true, "SELECT": true, "THEN": true, "TRUE": true, "WHEN": true,
	"WHERE": true, "WINDOW": true, "WITH": true, "WITHIN": true,
}

// operators, two-character ones first so that the longest match wins.
var operators = []string{
	":=", "!=", "<>", "<=", ">=", "||", "->",
	"=", "<", ">", "+", "-", "*", "/", "%", "(", ")", "[", "]", ",", ".", ";",
}

type lexer struct {
	src string
	off int // byte offset of the next rune
	pos Pos // position of the next rune
}

// lex splits src into tokens ending with a tokEOF.
func lex(src string) ([]token, error) {
	l := lexer{src: src, pos: Pos{Line: 1, Col: 1}}
	var toks []token
	for {
		t, err := l.next()
		if err != nil {
			return nil, err
		}
		toks = append(toks, t)
		if t.kind == tokEOF {
			return toks, nil
		}
	}
}

// peek returns the byte i bytes ahead, or 0 past the end.
func (l *lexer) peek(i int) byte {
	if l.off+i < len(l.src) {
		return l.src[l.off+i]
	}
	return 0
}

// rune returns the next rune and its width; width 0 at the end.
func (l *lexer) rune() (rune, int) { return utf8.DecodeRuneInString(l.src[l.off:]) }

// skip consumes n bytes, keeping pos up to date.
func (l *lexer) skip(n int) {
	for _, r := range l.src[l.off : l.off+n] {
		if r == '\n' {
			l.pos.Line++
			l.pos.Col = 1
		} else {
			l.pos.Col++
		}
	}
	l.off += n
}

func (l *lexer) next() (token, error) {
	if err := l.skipSpace(); err != nil {
		return token{}, err
	}
	start, pos := l.off, l.pos
	tok := func(kind tokenKind, text string) (token, error) {
		return token{kind: kind, text: text, raw: l.src[start:l.off], pos: pos}, nil
	}
	if l.off == len(l.src) {
		return tok(tokEOF, "")
	}
	c := l.src[l.off]
	switch r, w := l.rune(); {
	case isDigit(c) || c == '.' && isDigit(l.peek(1)):
		kind, err := l.number()
		if err != nil {
			return token{}, err
		}
		return tok(kind, l.src[start:l.off])
	case c == '\'':
		s, err := l.quoted("string literal")
		if err != nil {
			return token{}, err
		}
		return tok(tokString, s)
	case c == '`' || c == '"':
		s, err := l.quoted("quoted identifier")
		if err != nil {
			return token{}, err
		}
		if s == "" {
			return token{}, errorAt(pos, "empty quoted identifier")
		}
		return tok(tokQuotedIdent, s)
	case isIdentStart(r):
		for r, w := l.rune(); w > 0 && isIdentPart(r); r, w = l.rune() {
			l.skip(w)
		}
		word := strings.ToUpper(l.src[start:l.off])
		if reserved[word] {
			return tok(tokKeyword, word)
		}
		return tok(tokIdent, word)
	case r == utf8.RuneError && w == 1:
		return token{}, errorAt(pos, "invalid UTF-8 byte %#x", c)
	}
	for _, op := range operators {
		if strings.HasPrefix(l.src[l.off:], op) {
			l.skip(len(op))
			return tok(tokOp, op)
		}
	}
	r, _ := l.rune()
	return token{}, errorAt(pos, "unexpected character %q", r)
}

// skipSpace skips white space and comments.
func (l *lexer) skipSpace() error {
	for l.off < len(l.src) {
		rest := l.src[l.off:]
		switch r, w := l.rune(); {
		case unicode.IsSpace(r):
			l.skip(w)
		case strings.HasPrefix(rest, "--"):
			n := strings.IndexByte(rest, '\n')
			if n < 0 {
				n = len(rest)
			}
			l.skip(n)
		case strings.HasPrefix(rest, "/*"):
			n := strings.Index(rest[2:], "*/")
			if n < 0 {
				return errorAt(l.pos, "unterminated comment: /* has no closing */")
			}
			l.skip(n + 4)
		default:
			return nil
		}
	}
	return nil
}

// number scans an integer, decimal or double literal.
func (l *lexer) number() (tokenKind, error) {
	kind := tokInteger
	l.digits()
	if l.peek(0) == '.' {
		kind = tokDecimal
		l.skip(1)
		l.digits()
	}
	if c := l.peek(0); c == 'e' || c == 'E' {
		n := 1
		if s := l.peek(1); s == '+' || s == '-' {
			n = 2
		}
		if !isDigit(l.peek(n)) {
			return 0, errorAt(l.pos, "malformed exponent: expected digits after %q", l.src[l.off:l.off+n])
		}
		kind = tokDouble
		l.skip(n)
		l.digits()
	}
	if r, w := l.rune(); w > 0 && isIdentPart(r) {
		return 0, errorAt(l.pos, "unexpected %q right after a number; separate words and numbers with a space", r)
	}
	return kind, nil
}

func (l *lexer) digits() {
	for isDigit(l.peek(0)) {
		l.skip(1)
	}
}

// quoted scans text enclosed in the quote character at l.off, in which a
// doubled quote stands for one.
func (l *lexer) quoted(what string) (string, error) {
	pos, q := l.pos, l.src[l.off]
	l.skip(1)
	var b strings.Builder
	for {
		n := strings.IndexByte(l.src[l.off:], q)
		if n < 0 {
			return "", errorAt(pos, "unterminated %s: %c has no closing %c", what, q, q)
		}
		b.WriteString(l.src[l.off : l.off+n])
		l.skip(n + 1)
		if l.peek(0) != q {
			return b.String(), nil
		}
		b.WriteByte(q)
		l.skip(1)
	}
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isIdentStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }

func isIdentPart(r rune) bool { return isIdentStart(r) || unicode.IsDigit(r) }
