package main

// Splitting SQL text into statements for "strata sql": a small lexer that
// knows enough of the ksqlDB dialect to find the semicolons that end
// statements, i.e. those outside 'strings', "quoted" and `backquoted`
// identifiers, -- line comments and /* block */ comments.

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// sqlTokKind is the kind of a lexical token.
type sqlTokKind int

const (
	tokWord    sqlTokKind = iota // keyword, identifier or number
	tokString                    // 'single quoted', '' escapes a quote
	tokQuoted                    // "double quoted" or `backquoted` identifier
	tokSymbol                    // any other single character: ; , ( ) = * …
	tokComment                   // -- to end of line, or /* … */
)

// sqlTok is one token: src[start:end].
type sqlTok struct {
	kind       sqlTokKind
	start, end int
}

// sqlOpen says what the text ends inside of, when it ends mid-token.
type sqlOpen int

const (
	openNone    sqlOpen = iota
	openString          // inside '…'
	openQuoted          // inside "…" or `…`
	openComment         // inside /* … */
)

func (o sqlOpen) String() string {
	switch o {
	case openString:
		return "string"
	case openQuoted:
		return "quoted identifier"
	case openComment:
		return "/* comment"
	}
	return ""
}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c == '.' || c == '@' ||
		'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c >= utf8.RuneSelf
}

// lexSQL calls fn for every token of src in order, skipping white space. It
// returns what src ends inside of (openNone when it ends between tokens) and
// where that unfinished token starts. fn returning false stops the scan.
func lexSQL(src string, fn func(sqlTok) bool) (sqlOpen, int) {
	i := 0
	for i < len(src) {
		c := src[i]
		start := i
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
			continue
		case c == '-' && i+1 < len(src) && src[i+1] == '-':
			if j := strings.IndexByte(src[i:], '\n'); j >= 0 {
				i += j + 1
			} else {
				i = len(src)
			}
			if !fn(sqlTok{tokComment, start, i}) {
				return openNone, 0
			}
			continue
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			j := strings.Index(src[i+2:], "*/")
			if j < 0 {
				return openComment, start
			}
			i += 2 + j + 2
			if !fn(sqlTok{tokComment, start, i}) {
				return openNone, 0
			}
			continue
		case c == '\'' || c == '"' || c == '`':
			// A doubled quote inside is an escaped quote.
			i++
			closed := false
			for i < len(src) {
				if src[i] == c {
					if i+1 < len(src) && src[i+1] == c {
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				i++
			}
			if !closed {
				if c == '\'' {
					return openString, start
				}
				return openQuoted, start
			}
			kind := tokQuoted
			if c == '\'' {
				kind = tokString
			}
			if !fn(sqlTok{kind, start, i}) {
				return openNone, 0
			}
			continue
		case isWordByte(c):
			for i < len(src) && isWordByte(src[i]) {
				i++
			}
			if !fn(sqlTok{tokWord, start, i}) {
				return openNone, 0
			}
			continue
		}
		i++
		if !fn(sqlTok{tokSymbol, start, i}) {
			return openNone, 0
		}
	}
	return openNone, len(src)
}

// sqlStatement is one statement found in a text: Text runs from its first
// token (leading comments excluded) to its ';' inclusive, or to the end of
// the text for a last statement without one. Line and Col (1-based, Col in
// characters) say where Text starts in the whole input.
type sqlStatement struct {
	Text      string
	Line, Col int
}

// sqlPending is what splitSQL leaves after the last complete statement.
type sqlPending struct {
	Rest  int     // offset in src where the unfinished part starts
	Open  sqlOpen // what src ends inside of
	At    int     // offset where that unfinished token starts
	Empty bool    // the rest holds only white space and complete comments
}

// splitSQL returns the complete (';'-terminated) statements of src, as
// offsets [start, end), and what remains. Empty statements (";;") are
// dropped.
func splitSQL(src string) ([][2]int, sqlPending) {
	var out [][2]int
	start := -1
	rest := 0
	open, at := lexSQL(src, func(t sqlTok) bool {
		switch {
		case t.kind == tokComment:
		case t.kind == tokSymbol && src[t.start] == ';':
			if start >= 0 {
				out = append(out, [2]int{start, t.end})
			}
			start = -1
			rest = t.end
		case start < 0:
			start = t.start
		}
		return true
	})
	return out, sqlPending{Rest: rest, Open: open, At: at, Empty: start < 0 && open == openNone}
}

// textPos is a position in an input: 1-based line and character column.
type textPos struct{ Line, Col int }

// advance returns the position after text s starting at p.
func (p textPos) advance(s string) textPos {
	if n := strings.Count(s, "\n"); n > 0 {
		p.Line += n
		s = s[strings.LastIndexByte(s, '\n')+1:]
		p.Col = 1
	}
	p.Col += utf8.RuneCountInString(s)
	return p
}

// splitAll splits a complete text into statements; a last statement
// without ';' counts too. Text that ends inside a string, quoted identifier
// or block comment is an error naming where it starts.
func splitAll(src string) ([]sqlStatement, error) {
	var buf sqlBuffer
	buf.reset()
	stmts := buf.add(src)
	last, err := buf.finish()
	if err != nil {
		return nil, err
	}
	if last != nil {
		stmts = append(stmts, *last)
	}
	return stmts, nil
}

// sqlBuffer accumulates input (typically line by line) and hands out the
// statements as soon as their ';' has been read, keeping track of where
// each starts.
type sqlBuffer struct {
	buf string
	pos textPos // position of buf[0] in the whole input
}

func (b *sqlBuffer) reset() { b.buf, b.pos = "", textPos{1, 1} }

// add appends text and returns the statements it completed.
func (b *sqlBuffer) add(text string) []sqlStatement {
	b.buf += text
	spans, pend := splitSQL(b.buf)
	var out []sqlStatement
	at, pos := 0, b.pos
	for _, s := range spans {
		pos = pos.advance(b.buf[at:s[0]])
		out = append(out, sqlStatement{Text: b.buf[s[0]:s[1]], Line: pos.Line, Col: pos.Col})
		pos = pos.advance(b.buf[s[0]:s[1]])
		at = s[1]
	}
	b.pos = pos.advance(b.buf[at:pend.Rest])
	b.buf = b.buf[pend.Rest:]
	if pend.Empty {
		// Only white space and comments are left: forget them, but keep
		// counting lines.
		b.pos = b.pos.advance(b.buf)
		b.buf = ""
	}
	return out
}

// pending reports whether part of a statement has been read.
func (b *sqlBuffer) pending() bool { return b.buf != "" }

// clear drops the unfinished statement (Ctrl-C at the prompt).
func (b *sqlBuffer) clear() {
	b.pos = b.pos.advance(b.buf)
	b.buf = ""
}

// finish ends the input: it returns the last statement if one was not
// terminated by ';', or an error if the input ends inside a string, quoted
// identifier or block comment.
func (b *sqlBuffer) finish() (*sqlStatement, error) {
	if b.buf == "" {
		return nil, nil
	}
	_, pend := splitSQL(b.buf)
	if pend.Open != openNone {
		p := b.pos.advance(b.buf[:pend.At])
		return nil, &sqlError{Msg: fmt.Sprintf("unterminated %s: the input ends before it is closed", pend.Open),
			Pos: p, Stmt: strings.TrimRight(b.buf[pend.At:], " \t\r\n"), StmtPos: p}
	}
	if pend.Empty {
		return nil, nil
	}
	// Skip leading comments to where the statement starts.
	first := -1
	lexSQL(b.buf, func(t sqlTok) bool {
		if t.kind != tokComment {
			first = t.start
			return false
		}
		return true
	})
	p := b.pos.advance(b.buf[:first])
	s := &sqlStatement{Text: strings.TrimRight(b.buf[first:], " \t\r\n"), Line: p.Line, Col: p.Col}
	b.pos = b.pos.advance(b.buf)
	b.buf = ""
	return s, nil
}

// sqlWords returns the upper-cased words of stmt outside strings, quoted
// identifiers and comments, up to max words (0 = all).
func sqlWords(stmt string, max int) []string {
	var words []string
	lexSQL(stmt, func(t sqlTok) bool {
		if t.kind == tokWord {
			words = append(words, strings.ToUpper(stmt[t.start:t.end]))
		}
		return max == 0 || len(words) < max
	})
	return words
}

// isStreamingStatement reports whether stmt's rows arrive without end (or
// until its LIMIT): a push query (… EMIT CHANGES / EMIT FINAL) or PRINT.
// Those are printed row by row; other results are buffered into a table.
func isStreamingStatement(stmt string) bool {
	words := sqlWords(stmt, 0)
	if len(words) > 0 && words[0] == "PRINT" {
		return true
	}
	for i := 0; i+1 < len(words); i++ {
		if words[i] == "EMIT" && (words[i+1] == "CHANGES" || words[i+1] == "FINAL") {
			return true
		}
	}
	return false
}

// localProperty is a SET or UNSET the client handles itself.
type localProperty struct {
	unset bool
	name  string
	value string
}

// parseLocalProperty recognizes SET 'name' = 'value'; and UNSET 'name';.
// ok is false for other statements; err is set for a SET/UNSET that is
// malformed.
func parseLocalProperty(stmt string) (lp localProperty, ok bool, err error) {
	var toks []sqlTok
	lexSQL(stmt, func(t sqlTok) bool {
		if t.kind != tokComment {
			toks = append(toks, t)
		}
		return true
	})
	if n := len(toks); n > 0 && toks[n-1].kind == tokSymbol && stmt[toks[n-1].start] == ';' {
		toks = toks[:n-1]
	}
	if len(toks) == 0 || toks[0].kind != tokWord {
		return lp, false, nil
	}
	unquote := func(t sqlTok) string {
		s := stmt[t.start+1 : t.end-1]
		return strings.ReplaceAll(s, "''", "'")
	}
	isStr := func(i int) bool { return i < len(toks) && toks[i].kind == tokString }
	switch strings.ToUpper(stmt[toks[0].start:toks[0].end]) {
	case "SET":
		if len(toks) != 4 || !isStr(1) || toks[2].kind != tokSymbol || stmt[toks[2].start] != '=' || !isStr(3) {
			return lp, true, fmt.Errorf("SET wants a quoted name and value: SET 'auto.offset.reset' = 'earliest';")
		}
		return localProperty{name: unquote(toks[1]), value: unquote(toks[3])}, true, nil
	case "UNSET":
		if len(toks) != 2 || !isStr(1) {
			return lp, true, fmt.Errorf("UNSET wants a quoted name: UNSET 'auto.offset.reset';")
		}
		return localProperty{unset: true, name: unquote(toks[1])}, true, nil
	}
	return lp, false, nil
}
