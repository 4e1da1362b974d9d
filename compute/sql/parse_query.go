package sql

import (
	"math"
	"strings"
	"time"
)

// clauseOrder lists the clauses of a query in the order they must appear.
const clauseOrder = "SELECT, FROM, JOIN, WINDOW, WHERE, GROUP BY, PARTITION BY, HAVING, EMIT, LIMIT"

// clauseWords start a query clause; after a complete query one of them is
// out of place.
var clauseWords = map[string]bool{
	"FROM": true, "JOIN": true, "INNER": true, "LEFT": true, "RIGHT": true, "FULL": true,
	"WINDOW": true, "WHERE": true, "GROUP": true, "PARTITION": true, "HAVING": true,
	"EMIT": true, "LIMIT": true,
}

func (p *parser) query() *Query {
	q := &Query{Pos: p.expect("SELECT", "to start a query")}
	for {
		q.Select = append(q.Select, p.selectItem())
		if !p.acceptOp(",") {
			break
		}
	}
	if !p.accept("FROM") {
		panic(p.unexpected("',' or FROM after select item"))
	}
	q.From = p.relation()
	q.Joins = p.joins()
	if t := p.tok(); t.is("WINDOW") {
		p.next()
		q.Window = p.window(t.pos)
	}
	if p.accept("WHERE") {
		q.Where = p.expr()
	}
	if p.accept("GROUP") {
		p.expect("BY", "after GROUP")
		q.GroupBy = p.exprList()
	}
	if p.accept("PARTITION") {
		p.expect("BY", "after PARTITION")
		q.PartitionBy = p.exprList()
	}
	if p.accept("HAVING") {
		q.Having = p.expr()
	}
	if p.accept("EMIT") {
		switch {
		case p.accept("CHANGES"):
			q.Emit = EmitChanges
		case p.accept("FINAL"):
			q.Emit = EmitFinal
		default:
			panic(p.unexpected("CHANGES or FINAL after EMIT"))
		}
	}
	if p.accept("LIMIT") {
		n := p.integer("after LIMIT", math.MaxInt64)
		q.Limit = &n
	}
	if t := p.tok(); t.kind == tokKeyword && clauseWords[t.text] {
		panic(errorAt(t.pos, "%s is out of place: a query's clauses appear at most once each, in the order %s", t.text, clauseOrder))
	}
	return q
}

func (p *parser) exprList() []Expr {
	list := []Expr{p.expr()}
	for p.acceptOp(",") {
		list = append(list, p.expr())
	}
	return list
}

func (p *parser) selectItem() SelectItem {
	t := p.tok()
	if p.acceptOp("*") {
		return SelectItem{Pos: t.pos, Star: true}
	}
	if t.isName() && p.peek(1).isOp(".") && p.peek(2).isOp("*") {
		p.next()
		p.next()
		p.next()
		return SelectItem{Pos: t.pos, Star: true, Source: t.text}
	}
	item := SelectItem{Pos: t.pos, Expr: p.expr()}
	item.Alias = p.alias()
	return item
}

// alias parses an optional [AS] name.
func (p *parser) alias() string {
	if p.accept("AS") {
		name, _ := p.ident("a name after AS")
		return name
	}
	if t := p.tok(); t.isName() {
		p.next()
		return t.text
	}
	return ""
}

func (p *parser) relation() Relation {
	name, pos := p.ident("a stream or table name")
	return Relation{Pos: pos, Name: name, Alias: p.alias()}
}

var joinWords = map[string]JoinType{"INNER": InnerJoin, "LEFT": LeftJoin, "RIGHT": RightJoin, "FULL": FullJoin}

func (p *parser) joins() []Join {
	var joins []Join
	for {
		t := p.tok()
		typ, ok := joinWords[t.text]
		switch {
		case t.is("JOIN"):
			p.next()
		case ok && t.kind == tokKeyword:
			p.next()
			if typ != InnerJoin {
				p.accept("OUTER")
			}
			p.expect("JOIN", "after "+t.text)
		default:
			return joins
		}
		j := Join{Pos: t.pos, Type: typ, Right: p.relation()}
		if w := p.tok(); w.is("WITHIN") {
			p.next()
			j.Within = p.within(w.pos)
		}
		if g := p.tok(); g.is("GRACE") {
			panic(errorAt(g.pos, "GRACE PERIOD of a join belongs after a WITHIN clause"))
		}
		p.expect("ON", "and a join condition")
		j.On = p.expr()
		joins = append(joins, j)
	}
}

func (p *parser) within(pos Pos) *Within {
	w := &Within{Pos: pos}
	if p.acceptOp("(") {
		w.Before = p.span("after WITHIN (")
		w.After = w.Before
		if p.acceptOp(",") {
			w.After = p.span("after ','")
		}
		p.expectOp(")", "after WITHIN durations")
	} else {
		w.Before = p.span("after WITHIN")
		w.After = w.Before
	}
	w.Grace = p.grace()
	return w
}

// grace parses an optional GRACE PERIOD n unit.
func (p *parser) grace() *TimeSpan {
	if !p.accept("GRACE") {
		return nil
	}
	p.expect("PERIOD", "after GRACE")
	g := p.span("after GRACE PERIOD")
	return &g
}

var windowKinds = map[string]WindowKind{"TUMBLING": Tumbling, "HOPPING": Hopping, "SESSION": Session}

func (p *parser) window(pos Pos) *Window {
	t := p.tok()
	kind, ok := windowKinds[t.text]
	if !ok || t.kind != tokIdent {
		panic(p.unexpected("TUMBLING, HOPPING or SESSION after WINDOW"))
	}
	p.next()
	p.expectOp("(", "after "+t.text)
	w := &Window{Pos: pos, Kind: kind}
	last := "window size"
	if kind == Session {
		w.Size = p.span("for the session gap")
		last = "session gap"
	} else {
		p.expect("SIZE", "in "+t.text+" window")
		w.Size = p.span("after SIZE")
	}
	if kind == Hopping {
		p.expectOp(",", "and ADVANCE BY after window size")
		p.expect("ADVANCE", "in HOPPING window")
		p.expect("BY", "after ADVANCE")
		adv := p.span("after ADVANCE BY")
		w.Advance = &adv
		last = "ADVANCE BY"
	}
	for p.acceptOp(",") {
		switch o := p.tok(); {
		case o.is("RETENTION"):
			if w.Retention != nil {
				panic(errorAt(o.pos, "duplicate RETENTION in window"))
			}
			p.next()
			r := p.span("after RETENTION")
			w.Retention = &r
			last = "RETENTION"
		case o.is("GRACE"):
			if w.Grace != nil {
				panic(errorAt(o.pos, "duplicate GRACE PERIOD in window"))
			}
			w.Grace = p.grace()
			last = "GRACE PERIOD"
		default:
			panic(p.unexpected("RETENTION or GRACE PERIOD after ','"))
		}
	}
	p.expectOp(")", "after "+last)
	return w
}

// unitWords maps the singular and plural unit names to units.
var unitWords = func() map[string]TimeUnit {
	m := map[string]TimeUnit{}
	for u, names := range timeUnits {
		m[names.singular] = TimeUnit(u)
		m[names.plural] = TimeUnit(u)
	}
	return m
}()

// validUnits lists the units for error messages.
var validUnits = func() string {
	var names []string
	for _, u := range timeUnits {
		names = append(names, u.plural)
	}
	return strings.Join(names, ", ") + " (or singular)"
}()

// span parses a duration: an integer and a time unit.
func (p *parser) span(context string) TimeSpan {
	pos := p.tok().pos
	n := p.integer(context, math.MaxInt64)
	t := p.tok()
	unit, ok := unitWords[t.text]
	if !ok || t.kind != tokIdent {
		if t.kind == tokIdent {
			panic(errorAt(t.pos, "unknown time unit '%s': valid units are %s", t.raw, validUnits))
		}
		panic(p.unexpected("a time unit (" + validUnits + ")"))
	}
	p.next()
	if n > math.MaxInt64/int64(unit.Duration()) {
		panic(errorAt(pos, "%d %s is too long a duration", n, t.text))
	}
	return TimeSpan{Pos: pos, Value: n, Unit: unit, Duration: unit.Duration() * time.Duration(n)}
}
