package sql

import (
	"fmt"
	"unicode/utf8"
)

// Operators of each binary precedence level, by token text.
var (
	orOps      = map[string]BinaryOp{"OR": OpOr}
	andOps     = map[string]BinaryOp{"AND": OpAnd}
	compareOps = map[string]BinaryOp{"=": OpEq, "!=": OpNe, "<>": OpNe, "<": OpLt, "<=": OpLe, ">": OpGt, ">=": OpGe}
	addOps     = map[string]BinaryOp{"+": OpAdd, "-": OpSub, "||": OpConcat}
	mulOps     = map[string]BinaryOp{"*": OpMul, "/": OpDiv, "%": OpMod}
)

func (p *parser) expr() Expr {
	p.enter()
	defer p.leave()
	return p.binary(p.and, orOps)
}

func (p *parser) and() Expr { return p.binary(p.not, andOps) }

func (p *parser) additive() Expr { return p.binary(p.multiplicative, addOps) }

func (p *parser) multiplicative() Expr { return p.binary(p.unary, mulOps) }

// binary parses operands with operand, joined left-associatively by the
// operators ops.
func (p *parser) binary(operand func() Expr, ops map[string]BinaryOp) Expr {
	x := operand()
	for {
		t := p.tok()
		op, ok := ops[t.text]
		if !ok || t.kind != tokOp && t.kind != tokKeyword {
			return x
		}
		p.next()
		x = &BinaryExpr{Pos: t.pos, Op: op, Left: x, Right: operand()}
	}
}

func (p *parser) not() Expr {
	t := p.tok()
	if !t.is("NOT") {
		return p.comparison()
	}
	p.next()
	p.enter()
	defer p.leave()
	return &UnaryExpr{Pos: t.pos, Op: OpNot, X: p.not()}
}

// comparison parses an additive expression followed by any number of
// comparisons and predicates, left-associatively.
func (p *parser) comparison() Expr {
	x := p.additive()
	for {
		t := p.tok()
		if op, ok := compareOps[t.text]; ok && t.kind == tokOp {
			p.next()
			x = &BinaryExpr{Pos: t.pos, Op: op, Left: x, Right: p.additive()}
			continue
		}
		switch {
		case t.is("IS"):
			x = p.isPredicate(x)
		case t.is("NOT"):
			p.next()
			if k := p.tok(); !k.is("BETWEEN") && !k.is("IN") && !k.is("LIKE") {
				panic(p.unexpected("BETWEEN, IN or LIKE after NOT"))
			}
			x = p.predicate(x, t.pos, true)
		case t.is("BETWEEN"), t.is("IN"), t.is("LIKE"):
			x = p.predicate(x, t.pos, false)
		default:
			return x
		}
	}
}

// isPredicate parses IS [NOT] NULL or IS [NOT] DISTINCT FROM after x.
func (p *parser) isPredicate(x Expr) Expr {
	pos := p.next().pos
	not := p.accept("NOT")
	switch {
	case p.accept("NULL"):
		return &IsNull{Pos: pos, X: x, Not: not}
	case p.accept("DISTINCT"):
		p.expect("FROM", "after DISTINCT")
		op := OpIsDistinctFrom
		if not {
			op = OpIsNotDistinctFrom
		}
		return &BinaryExpr{Pos: pos, Op: op, Left: x, Right: p.additive()}
	}
	panic(p.unexpected("NULL or DISTINCT FROM after IS"))
}

// predicate parses BETWEEN, IN or LIKE after x and, when not, after NOT.
func (p *parser) predicate(x Expr, pos Pos, not bool) Expr {
	switch p.next().text {
	case "BETWEEN":
		low := p.additive()
		p.expect("AND", "between the bounds of BETWEEN")
		return &Between{Pos: pos, X: x, Low: low, High: p.additive(), Not: not}
	case "IN":
		in := &InList{Pos: pos, X: x, Not: not}
		p.expectOp("(", "after IN")
		p.commaList(")", false, "in IN list", func() { in.List = append(in.List, p.expr()) })
		return in
	}
	like := &Like{Pos: pos, X: x, Pattern: p.additive(), Not: not}
	if p.accept("ESCAPE") {
		t := p.tok()
		if t.kind != tokString || utf8.RuneCountInString(t.text) != 1 {
			panic(errorAt(t.pos, "ESCAPE takes a string of one character, such as ESCAPE '!'"))
		}
		p.next()
		like.Escape = t.text
	}
	return like
}

func (p *parser) unary() Expr {
	t := p.tok()
	if !t.isOp("-") && !t.isOp("+") {
		return p.postfix()
	}
	p.next()
	p.enter()
	defer p.leave()
	op := OpNeg
	if t.text == "+" {
		op = OpPlus
	}
	return &UnaryExpr{Pos: t.pos, Op: op, X: p.unary()}
}

// postfix parses a primary followed by subscripts and field accesses.
func (p *parser) postfix() Expr {
	x := p.primary()
	for {
		switch t := p.tok(); {
		case t.isOp("["):
			p.next()
			index := p.expr()
			p.expectOp("]", "after subscript")
			x = &Subscript{Pos: t.pos, X: x, Index: index}
		case t.isOp("->"):
			p.next()
			field, _ := p.ident("a field name after ->")
			x = &FieldAccess{Pos: t.pos, X: x, Field: field}
		default:
			return x
		}
	}
}

// literal consumes a literal if one is next, else returns nil.
func (p *parser) literal() *Literal {
	t := p.tok()
	var kind LiteralKind
	switch {
	case t.kind == tokString:
		kind = StringLit
	case t.kind == tokInteger:
		kind = IntegerLit
	case t.kind == tokDecimal:
		kind = DecimalLit
	case t.kind == tokDouble:
		kind = DoubleLit
	case t.is("TRUE"), t.is("FALSE"):
		kind = BooleanLit
	case t.is("NULL"):
		kind = NullLit
	default:
		return nil
	}
	p.next()
	return &Literal{Pos: t.pos, Kind: kind, Text: t.text}
}

func (p *parser) primary() Expr {
	if lit := p.literal(); lit != nil {
		return lit
	}
	t := p.tok()
	switch {
	case t.isOp("("):
		p.next()
		x := p.expr()
		p.expectOp(")", fmt.Sprintf("to close the '(' at %d:%d", t.pos.Line, t.pos.Col))
		return x
	case t.is("CASE"):
		return p.caseExpr()
	case t.is("CAST"):
		p.next()
		p.expectOp("(", "after CAST")
		x := p.expr()
		p.expect("AS", "in CAST")
		c := &Cast{Pos: t.pos, X: x, Type: p.typ()}
		p.expectOp(")", "to close CAST")
		return c
	case t.kind == tokIdent && p.peek(1).isOp(constructors[t.text]):
		p.next()
		p.next()
		return p.constructor(t)
	case t.isName():
		return p.name()
	}
	panic(p.unexpected("an expression"))
}

// constructors maps the words that start a constructor to the token that
// must follow them; otherwise they are plain identifiers.
var constructors = map[string]string{"ARRAY": "[", "MAP": "(", "STRUCT": "("}

// constructor parses the rest of ARRAY[…], MAP(…) or STRUCT(…).
func (p *parser) constructor(t token) Expr {
	switch t.text {
	case "ARRAY":
		a := &ArrayCtor{Pos: t.pos}
		p.commaList("]", true, "in ARRAY[…]", func() { a.Elems = append(a.Elems, p.expr()) })
		return a
	case "MAP":
		m := &MapCtor{Pos: t.pos}
		p.commaList(")", true, "in MAP(…)", func() {
			k := p.expr()
			p.expectOp(":=", "after MAP key")
			m.Entries = append(m.Entries, MapEntry{Key: k, Value: p.expr()})
		})
		return m
	}
	s := &StructCtor{Pos: t.pos}
	p.commaList(")", true, "in STRUCT(…)", func() {
		name, pos := p.ident("a field name")
		p.expectOp(":=", "after STRUCT field name")
		s.Fields = append(s.Fields, FieldValue{Pos: pos, Name: name, Value: p.expr()})
	})
	return s
}

// name parses a column reference or a function call.
func (p *parser) name() Expr {
	t := p.next()
	switch {
	case p.acceptOp("("):
		return p.call(t)
	case p.acceptOp("."):
		col, _ := p.ident("a column name after '.'")
		return &ColumnRef{Pos: t.pos, Source: t.text, Name: col}
	}
	return &ColumnRef{Pos: t.pos, Name: t.text}
}

// call parses the arguments of a function call after the '('.
func (p *parser) call(name token) *Call {
	c := &Call{Pos: name.pos, Name: name.text}
	if p.acceptOp("*") {
		c.Star = true
		p.expectOp(")", "after "+name.text+"(*")
		return c
	}
	c.Distinct = p.accept("DISTINCT")
	p.commaList(")", !c.Distinct, "in arguments of "+name.text, func() { c.Args = append(c.Args, p.expr()) })
	return c
}

func (p *parser) caseExpr() Expr {
	c := &Case{Pos: p.next().pos}
	if !p.tok().is("WHEN") {
		c.Operand = p.expr()
	}
	for p.tok().is("WHEN") {
		pos := p.next().pos
		cond := p.expr()
		p.expect("THEN", "after WHEN condition")
		c.Whens = append(c.Whens, When{Pos: pos, Cond: cond, Result: p.expr()})
	}
	if len(c.Whens) == 0 {
		panic(p.unexpected("WHEN in CASE"))
	}
	if p.accept("ELSE") {
		c.Else = p.expr()
	}
	p.expect("END", "to close CASE")
	return c
}
