package sql

import "fmt"

// Error is a syntax error at a position in the source text. Parse,
// ParseStatement and ParseExpr return every error as an *Error.
type Error struct {
	Line, Col int // 1-based; Col counts runes
	Msg       string
}

func (e *Error) Error() string {
	return fmt.Sprintf("line %d:%d: %s", e.Line, e.Col, e.Msg)
}

// errorAt returns a syntax error at pos. The parser panics with it and
// the entry points recover it (see parse).
func errorAt(pos Pos, format string, args ...any) *Error {
	return &Error{Line: pos.Line, Col: pos.Col, Msg: fmt.Sprintf(format, args...)}
}
