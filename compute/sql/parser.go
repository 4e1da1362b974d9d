package sql

import (
	"fmt"
	"math"
	"strconv"
)

// maxDepth bounds the nesting of expressions and types, so that no input
// can exhaust the stack.
const maxDepth = 1000

// Parse parses a script: statements separated by ';'. The last ';' is
// optional and empty statements are skipped. The error, if any, is an
// *Error.
func Parse(src string) ([]Statement, error) {
	return parse(src, (*parser).script)
}

// ParseStatement parses exactly one statement, optionally followed by ';'.
func ParseStatement(src string) (Statement, error) {
	return parse(src, func(p *parser) Statement {
		s := p.statement()
		p.endStatement()
		for p.acceptOp(";") {
		}
		if t := p.tok(); t.kind != tokEOF {
			panic(errorAt(t.pos, "expected a single statement, found another starting with %s", t.describe()))
		}
		return s
	})
}

// ParseExpr parses one expression.
func ParseExpr(src string) (Expr, error) {
	return parse(src, func(p *parser) Expr {
		x := p.expr()
		if p.tok().kind != tokEOF {
			panic(p.unexpected("an operator or end of input after expression"))
		}
		return x
	})
}

// parse lexes src and runs f on a parser over it. The parser reports a
// syntax error by panicking with an *Error; parse recovers it.
func parse[T any](src string, f func(*parser) T) (result T, err error) {
	toks, err := lex(src)
	if err != nil {
		return result, err
	}
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(*Error)
			if !ok {
				panic(r)
			}
			err = e
		}
	}()
	return f(&parser{toks: toks}), nil
}

type parser struct {
	toks  []token // ends with a tokEOF
	i     int     // index of the current token
	depth int     // nesting of expressions and types
}

func (p *parser) tok() token { return p.toks[p.i] }

// peek returns the token n ahead of the current one.
func (p *parser) peek(n int) token { return p.toks[min(p.i+n, len(p.toks)-1)] }

// next consumes and returns the current token.
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

// accept consumes the keyword word if it is next.
func (p *parser) accept(word string) bool {
	if p.tok().is(word) {
		p.next()
		return true
	}
	return false
}

// acceptOp consumes the operator op if it is next.
func (p *parser) acceptOp(op string) bool {
	if p.tok().isOp(op) {
		p.next()
		return true
	}
	return false
}

// expect consumes the keyword word or fails with "expected word context".
func (p *parser) expect(word, context string) Pos {
	if !p.tok().is(word) {
		panic(p.unexpected(word + " " + context))
	}
	return p.next().pos
}

// expectOp consumes the operator op or fails with "expected 'op' context".
func (p *parser) expectOp(op, context string) Pos {
	if !p.tok().isOp(op) {
		panic(p.unexpected("'" + op + "' " + context))
	}
	return p.next().pos
}

// unexpected returns an error at the current token saying what was expected.
func (p *parser) unexpected(expected string) *Error {
	t := p.tok()
	return errorAt(t.pos, "expected %s, found %s", expected, t.describe())
}

// ident consumes an identifier; what names it in the error otherwise.
func (p *parser) ident(what string) (string, Pos) {
	t := p.tok()
	if t.kind == tokKeyword {
		panic(errorAt(t.pos, "expected %s, found reserved word %s (write `%s` to use it as a name)", what, t.text, t.text))
	}
	if !t.isName() {
		panic(p.unexpected(what))
	}
	p.next()
	return t.text, t.pos
}

// str consumes a string literal.
func (p *parser) str(what string) string {
	t := p.tok()
	if t.kind != tokString {
		panic(p.unexpected(what))
	}
	p.next()
	return t.text
}

// integer consumes a non-negative integer literal that fits in max.
func (p *parser) integer(context string, max int64) int64 {
	t := p.tok()
	if t.kind != tokInteger {
		panic(p.unexpected("an integer " + context))
	}
	p.next()
	n, err := strconv.ParseInt(t.text, 10, 64)
	if err != nil || n > max {
		panic(errorAt(t.pos, "%s is too large: the maximum is %d", t.text, max))
	}
	return n
}

// commaList parses item {',' item} close, the opening token already
// consumed; with allowEmpty the list may be empty.
func (p *parser) commaList(close string, allowEmpty bool, context string, item func()) {
	if allowEmpty && p.acceptOp(close) {
		return
	}
	for {
		item()
		if p.acceptOp(close) {
			return
		}
		if !p.acceptOp(",") {
			panic(p.unexpected(fmt.Sprintf("',' or '%s' %s", close, context)))
		}
	}
}

// enter and leave bracket a nested expression or type.
func (p *parser) enter() {
	if p.depth++; p.depth > maxDepth {
		panic(errorAt(p.tok().pos, "nested too deeply: more than %d levels", maxDepth))
	}
}

func (p *parser) leave() { p.depth-- }

func (p *parser) script() []Statement {
	var stmts []Statement
	for {
		for p.acceptOp(";") {
		}
		if p.tok().kind == tokEOF {
			return stmts
		}
		stmts = append(stmts, p.statement())
		p.endStatement()
	}
}

func (p *parser) endStatement() {
	if !p.acceptOp(";") && p.tok().kind != tokEOF {
		panic(p.unexpected("';' or end of input after statement"))
	}
}

func (p *parser) statement() Statement {
	if t := p.tok(); t.kind == tokKeyword || t.kind == tokIdent {
		switch t.text {
		case "SELECT":
			return p.query()
		case "CREATE":
			return p.create()
		case "INSERT":
			return p.insert()
		case "SHOW", "LIST":
			return p.show()
		case "DESCRIBE":
			return p.describe()
		case "DROP":
			return p.drop()
		case "TERMINATE":
			return p.terminate()
		case "EXPLAIN":
			return p.explain()
		case "SET":
			return p.set()
		case "UNSET":
			p.next()
			return &UnsetProperty{Pos: t.pos, Name: p.str("a quoted property name after UNSET")}
		case "PRINT":
			return p.print()
		}
	}
	panic(p.unexpected("a statement (SELECT, CREATE, INSERT, DROP, SHOW, LIST, DESCRIBE, EXPLAIN, TERMINATE, SET, UNSET or PRINT)"))
}

func (p *parser) sourceKind(context string) SourceKind {
	switch {
	case p.accept("STREAM"):
		return Stream
	case p.accept("TABLE"):
		return Table
	}
	panic(p.unexpected("STREAM or TABLE " + context))
}

func (p *parser) create() Statement {
	pos := p.next().pos
	orReplace := false
	if p.accept("OR") {
		p.expect("REPLACE", "after CREATE OR")
		orReplace = true
	}
	kind := p.sourceKind("after CREATE")
	ifNotExists := false
	// IF is a keyword only before NOT, so a source may be called IF.
	if t := p.tok(); t.is("IF") && p.peek(1).is("NOT") {
		if orReplace {
			panic(errorAt(t.pos, "OR REPLACE and IF NOT EXISTS cannot be used together"))
		}
		p.next()
		p.next()
		p.expect("EXISTS", "after IF NOT")
		ifNotExists = true
	}
	name, _ := p.ident(kind.name() + " name")
	var cols []ColumnDef
	if p.acceptOp("(") {
		cols = p.columnDefs(kind)
	}
	var props []Property
	if p.accept("WITH") {
		props = p.properties()
	}
	if t := p.tok(); t.is("AS") {
		if cols != nil {
			panic(errorAt(t.pos, "CREATE %s … AS SELECT takes its columns from the query: remove the column list", kind))
		}
		p.next()
		return &CreateAsSelect{Pos: pos, Kind: kind, OrReplace: orReplace, IfNotExists: ifNotExists,
			Name: name, Props: props, Query: p.query()}
	}
	return &CreateSource{Pos: pos, Kind: kind, OrReplace: orReplace, IfNotExists: ifNotExists,
		Name: name, Columns: cols, Props: props}
}

func (p *parser) columnDefs(kind SourceKind) []ColumnDef {
	var cols []ColumnDef
	p.commaList(")", false, "after column definition", func() {
		name, pos := p.ident("column name")
		col := ColumnDef{Pos: pos, Name: name, Type: p.typ()}
		switch t := p.tok(); {
		case t.is("KEY"):
			if kind == Table {
				panic(errorAt(t.pos, "a table declares its key columns with PRIMARY KEY, not KEY"))
			}
			p.next()
			col.Key = Key
		case t.is("PRIMARY"):
			if kind == Stream {
				panic(errorAt(t.pos, "a stream declares its key columns with KEY, not PRIMARY KEY"))
			}
			p.next()
			p.expect("KEY", "after PRIMARY")
			col.Key = PrimaryKey
		}
		cols = append(cols, col)
	})
	return cols
}

func (p *parser) properties() []Property {
	p.expectOp("(", "after WITH")
	var props []Property
	seen := map[string]bool{}
	p.commaList(")", false, "in WITH properties", func() {
		name, pos := p.ident("property name")
		if seen[name] {
			panic(errorAt(pos, "duplicate property %s", QuoteIdent(name)))
		}
		seen[name] = true
		p.expectOp("=", "after property name")
		lit := p.literal()
		if lit == nil || lit.Kind == NullLit {
			panic(p.unexpected("a string, number or boolean as value of " + QuoteIdent(name)))
		}
		props = append(props, Property{Pos: pos, Name: name, Value: lit})
	})
	return props
}

func (p *parser) insert() Statement {
	pos := p.next().pos
	p.expect("INTO", "after INSERT")
	target, _ := p.ident("stream name")
	if t := p.tok(); t.isOp("(") || t.is("VALUES") {
		ins := &InsertValues{Pos: pos, Target: target}
		if p.acceptOp("(") {
			p.commaList(")", false, "in column list", func() {
				col, _ := p.ident("column name")
				ins.Columns = append(ins.Columns, col)
			})
		}
		p.expect("VALUES", "after column list")
		p.expectOp("(", "after VALUES")
		p.commaList(")", false, "in VALUES list", func() { ins.Values = append(ins.Values, p.expr()) })
		return ins
	}
	var props []Property
	if p.accept("WITH") {
		props = p.properties()
	}
	return &InsertInto{Pos: pos, Target: target, Props: props, Query: p.query()}
}

var showKinds = map[string]ShowKind{
	"STREAMS": ShowStreams, "TABLES": ShowTables, "QUERIES": ShowQueries,
	"TOPICS": ShowTopics, "PROPERTIES": ShowProperties,
}

func (p *parser) show() Statement {
	verb := p.next()
	t := p.tok()
	what, ok := showKinds[t.text]
	if !ok || t.kind != tokIdent {
		panic(p.unexpected("STREAMS, TABLES, QUERIES, TOPICS or PROPERTIES after " + verb.text))
	}
	p.next()
	s := &Show{Pos: verb.pos, What: what}
	if what != ShowProperties {
		s.Extended = p.accept("EXTENDED")
	}
	return s
}

func (p *parser) describe() Statement {
	pos := p.next().pos
	name, _ := p.ident("a stream or table name after DESCRIBE")
	return &Describe{Pos: pos, Name: name, Extended: p.accept("EXTENDED")}
}

func (p *parser) drop() Statement {
	d := &Drop{Pos: p.next().pos, Kind: p.sourceKind("after DROP")}
	// IF is a keyword only before EXISTS, so a source may be called IF.
	if p.tok().is("IF") && p.peek(1).is("EXISTS") {
		p.next()
		p.next()
		d.IfExists = true
	}
	d.Name, _ = p.ident(d.Kind.name() + " name")
	if p.accept("DELETE") {
		p.expect("TOPIC", "after DELETE")
		d.DeleteTopic = true
	}
	return d
}

func (p *parser) terminate() Statement {
	t := &Terminate{Pos: p.next().pos}
	if p.accept("ALL") {
		t.All = true
	} else {
		t.QueryID, _ = p.ident("a query ID or ALL after TERMINATE")
	}
	return t
}

func (p *parser) explain() Statement {
	e := &Explain{Pos: p.next().pos}
	t := p.tok()
	if !t.is("SELECT") && !t.is("CREATE") && !t.is("INSERT") {
		e.QueryID, _ = p.ident("a query, a CREATE … AS SELECT, an INSERT INTO … SELECT or a query ID after EXPLAIN")
		return e
	}
	e.Statement = p.statement()
	switch e.Statement.(type) {
	case *Query, *CreateAsSelect, *InsertInto:
		return e
	}
	panic(errorAt(t.pos, "EXPLAIN takes a query, a CREATE … AS SELECT, an INSERT INTO … SELECT or a query ID"))
}

func (p *parser) set() Statement {
	s := &SetProperty{Pos: p.next().pos}
	s.Name = p.str("a quoted property name after SET (SET 'name' = 'value')")
	p.expectOp("=", "after property name")
	s.Value = p.str("a quoted property value (SET 'name' = 'value')")
	return s
}

func (p *parser) print() Statement {
	pr := &Print{Pos: p.next().pos}
	t := p.tok()
	if t.kind != tokString && !t.isName() {
		panic(p.unexpected("a topic name after PRINT"))
	}
	p.next()
	pr.Topic = t.text
	if p.accept("FROM") {
		p.expect("BEGINNING", "after FROM")
		pr.FromBeginning = true
	}
	if p.accept("INTERVAL") {
		n := p.integer("after INTERVAL", math.MaxInt64)
		pr.Interval = &n
	}
	if p.accept("LIMIT") {
		n := p.integer("after LIMIT", math.MaxInt64)
		pr.Limit = &n
	}
	return pr
}
