package sql

import (
	"strconv"
	"strings"
)

// FormatScript returns canonical SQL for a script: each statement followed
// by ";" and a newline.
func FormatScript(stmts []Statement) string {
	var w writer
	for _, s := range stmts {
		s.format(&w)
		w.WriteString(";\n")
	}
	return w.String()
}

// QuoteIdent returns name as an identifier: bare when it lexes back to
// itself (upper case letters, digits and '_', not a reserved word), else
// in backquotes.
func QuoteIdent(name string) string {
	if isBare(name) {
		return name
	}
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

func isBare(name string) bool {
	// ARRAY, MAP and STRUCT are identifiers except before '[' or '(',
	// where they start a constructor: quote them always.
	if name == "" || reserved[name] || constructors[name] != "" {
		return false
	}
	for i, c := range []byte(name) {
		if !('A' <= c && c <= 'Z' || c == '_' || i > 0 && isDigit(c)) {
			return false
		}
	}
	return true
}

func quoteString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// writer accumulates formatted SQL.
type writer struct{ strings.Builder }

// toSQL formats a node as a string.
func toSQL(n interface{ format(*writer) }) string {
	var w writer
	n.format(&w)
	return w.String()
}

func (w *writer) ident(name string) { w.WriteString(QuoteIdent(name)) }

func (w *writer) int(n int64) { w.WriteString(strconv.FormatInt(n, 10)) }

// list writes the items separated by ", ".
func list[T any](w *writer, items []T, write func(T)) {
	for i, it := range items {
		if i > 0 {
			w.WriteString(", ")
		}
		write(it)
	}
}

func (w *writer) exprs(xs []Expr) { list(w, xs, func(x Expr) { w.expr(x, 0) }) }

func (w *writer) props(props []Property) {
	if len(props) > 0 {
		w.WriteString(" WITH (")
		list(w, props, func(p Property) { p.format(w) })
		w.WriteString(")")
	}
}

func (w *writer) createHead(kind SourceKind, orReplace, ifNotExists bool, name string) {
	w.WriteString("CREATE ")
	if orReplace {
		w.WriteString("OR REPLACE ")
	}
	w.WriteString(kind.String())
	if ifNotExists {
		w.WriteString(" IF NOT EXISTS")
	}
	w.WriteString(" ")
	w.ident(name)
}

func (s *CreateSource) format(w *writer) {
	w.createHead(s.Kind, s.OrReplace, s.IfNotExists, s.Name)
	if len(s.Columns) > 0 {
		w.WriteString(" (")
		list(w, s.Columns, func(c ColumnDef) { c.format(w) })
		w.WriteString(")")
	}
	w.props(s.Props)
}

func (s *CreateAsSelect) format(w *writer) {
	w.createHead(s.Kind, s.OrReplace, s.IfNotExists, s.Name)
	w.props(s.Props)
	w.WriteString(" AS ")
	s.Query.format(w)
}

func (s *InsertInto) format(w *writer) {
	w.WriteString("INSERT INTO ")
	w.ident(s.Target)
	w.props(s.Props)
	w.WriteString(" ")
	s.Query.format(w)
}

func (s *InsertValues) format(w *writer) {
	w.WriteString("INSERT INTO ")
	w.ident(s.Target)
	if s.Columns != nil {
		w.WriteString(" (")
		list(w, s.Columns, w.ident)
		w.WriteString(")")
	}
	w.WriteString(" VALUES (")
	w.exprs(s.Values)
	w.WriteString(")")
}

func (c ColumnDef) format(w *writer) {
	w.ident(c.Name)
	w.WriteString(" ")
	c.Type.format(w)
	if c.Key != NotKey {
		w.WriteString(" " + c.Key.String())
	}
}

func (p Property) format(w *writer) {
	w.ident(p.Name)
	w.WriteString("=")
	p.Value.format(w)
}

func (s *Show) format(w *writer) {
	w.WriteString("SHOW " + s.What.String())
	if s.Extended {
		w.WriteString(" EXTENDED")
	}
}

func (s *Describe) format(w *writer) {
	w.WriteString("DESCRIBE ")
	w.ident(s.Name)
	if s.Extended {
		w.WriteString(" EXTENDED")
	}
}

func (s *Drop) format(w *writer) {
	w.WriteString("DROP " + s.Kind.String())
	if s.IfExists {
		w.WriteString(" IF EXISTS")
	}
	w.WriteString(" ")
	w.ident(s.Name)
	if s.DeleteTopic {
		w.WriteString(" DELETE TOPIC")
	}
}

func (s *Terminate) format(w *writer) {
	w.WriteString("TERMINATE ")
	if s.All {
		w.WriteString("ALL")
	} else {
		w.ident(s.QueryID)
	}
}

func (s *Explain) format(w *writer) {
	w.WriteString("EXPLAIN ")
	if s.Statement != nil {
		s.Statement.format(w)
	} else {
		w.ident(s.QueryID)
	}
}

func (s *SetProperty) format(w *writer) {
	w.WriteString("SET " + quoteString(s.Name) + " = " + quoteString(s.Value))
}

func (s *UnsetProperty) format(w *writer) { w.WriteString("UNSET " + quoteString(s.Name)) }

func (s *Print) format(w *writer) {
	w.WriteString("PRINT " + quoteString(s.Topic))
	if s.FromBeginning {
		w.WriteString(" FROM BEGINNING")
	}
	if s.Interval != nil {
		w.WriteString(" INTERVAL ")
		w.int(*s.Interval)
	}
	if s.Limit != nil {
		w.WriteString(" LIMIT ")
		w.int(*s.Limit)
	}
}

func (q *Query) format(w *writer) {
	w.WriteString("SELECT ")
	list(w, q.Select, func(s SelectItem) { s.format(w) })
	w.WriteString(" FROM ")
	q.From.format(w)
	for _, j := range q.Joins {
		w.WriteString(" ")
		j.format(w)
	}
	if q.Window != nil {
		w.WriteString(" ")
		q.Window.format(w)
	}
	if q.Where != nil {
		w.WriteString(" WHERE ")
		w.expr(q.Where, 0)
	}
	if q.GroupBy != nil {
		w.WriteString(" GROUP BY ")
		w.exprs(q.GroupBy)
	}
	if q.PartitionBy != nil {
		w.WriteString(" PARTITION BY ")
		w.exprs(q.PartitionBy)
	}
	if q.Having != nil {
		w.WriteString(" HAVING ")
		w.expr(q.Having, 0)
	}
	if q.Emit != EmitNone {
		w.WriteString(" " + q.Emit.String())
	}
	if q.Limit != nil {
		w.WriteString(" LIMIT ")
		w.int(*q.Limit)
	}
}

func (s SelectItem) format(w *writer) {
	switch {
	case s.Star && s.Source != "":
		w.ident(s.Source)
		w.WriteString(".*")
	case s.Star:
		w.WriteString("*")
	default:
		w.expr(s.Expr, 0)
		w.alias(s.Alias)
	}
}

func (w *writer) alias(alias string) {
	if alias != "" {
		w.WriteString(" AS ")
		w.ident(alias)
	}
}

func (r Relation) format(w *writer) {
	w.ident(r.Name)
	w.alias(r.Alias)
}

func (j Join) format(w *writer) {
	w.WriteString(j.Type.String() + " ")
	j.Right.format(w)
	if j.Within != nil {
		w.WriteString(" ")
		j.Within.format(w)
	}
	w.WriteString(" ON ")
	w.expr(j.On, 0)
}

func (wi Within) format(w *writer) {
	w.WriteString("WITHIN ")
	if wi.Before.Value == wi.After.Value && wi.Before.Unit == wi.After.Unit {
		wi.Before.format(w)
	} else {
		w.WriteString("(")
		wi.Before.format(w)
		w.WriteString(", ")
		wi.After.format(w)
		w.WriteString(")")
	}
	w.optSpan(" GRACE PERIOD ", wi.Grace)
}

// optSpan writes prefix and s unless s is nil.
func (w *writer) optSpan(prefix string, s *TimeSpan) {
	if s != nil {
		w.WriteString(prefix)
		s.format(w)
	}
}

func (win Window) format(w *writer) {
	w.WriteString("WINDOW " + win.Kind.String() + " (")
	if win.Kind != Session {
		w.WriteString("SIZE ")
	}
	win.Size.format(w)
	w.optSpan(", ADVANCE BY ", win.Advance)
	w.optSpan(", RETENTION ", win.Retention)
	w.optSpan(", GRACE PERIOD ", win.Grace)
	w.WriteString(")")
}

func (s TimeSpan) format(w *writer) {
	w.int(s.Value)
	w.WriteString(" ")
	if s.Value == 1 {
		w.WriteString(timeUnits[s.Unit].singular)
	} else {
		w.WriteString(timeUnits[s.Unit].plural)
	}
}

func (t Type) format(w *writer) {
	w.WriteString(t.Kind.String())
	switch t.Kind {
	case TypeDecimal:
		w.WriteString("(")
		list(w, t.Params, func(n int) { w.int(int64(n)) })
		w.WriteString(")")
	case TypeArray, TypeMap:
		w.WriteString("<")
		list(w, t.Children, func(c Type) { c.format(w) })
		w.WriteString(">")
	case TypeStruct:
		w.WriteString("<")
		for i, c := range t.Children {
			if i > 0 {
				w.WriteString(", ")
			}
			w.ident(t.Names[i])
			w.WriteString(" ")
			c.format(w)
		}
		w.WriteString(">")
	}
}
