package sql

// precedence returns how tightly e binds; see precOr and following.
func precedence(e Expr) int {
	switch e := e.(type) {
	case *BinaryExpr:
		return binaryOps[e.Op].prec
	case *UnaryExpr:
		if e.Op == OpNot {
			return precNot
		}
		return precUnary
	case *Between, *InList, *Like, *IsNull:
		return precCompare
	case *Subscript, *FieldAccess:
		return precPostfix
	}
	return precPrimary
}

// expr writes e, in parentheses if it binds less tightly than min.
func (w *writer) expr(e Expr, min int) {
	if precedence(e) < min {
		w.WriteString("(")
		e.format(w)
		w.WriteString(")")
		return
	}
	e.format(w)
}

func (e *Literal) format(w *writer) {
	if e.Kind == StringLit {
		w.WriteString(quoteString(e.Text))
		return
	}
	w.WriteString(e.Text)
}

func (e *ColumnRef) format(w *writer) {
	if e.Source != "" {
		w.ident(e.Source)
		w.WriteString(".")
	}
	w.ident(e.Name)
}

// Binary operators are left-associative: an operand on the right of the
// same precedence needs parentheses.
func (e *BinaryExpr) format(w *writer) {
	prec := binaryOps[e.Op].prec
	w.expr(e.Left, prec)
	w.WriteString(" " + e.Op.String() + " ")
	w.expr(e.Right, prec+1)
}

func (e *UnaryExpr) format(w *writer) {
	if e.Op == OpNot {
		w.WriteString("NOT ")
		w.expr(e.X, precNot)
		return
	}
	w.WriteString(e.Op.String())
	if x, ok := e.X.(*UnaryExpr); ok && x.Op == OpNeg {
		w.WriteString(" ") // "--" would start a comment
	}
	w.expr(e.X, precUnary)
}

func (e *Call) format(w *writer) {
	w.ident(e.Name)
	w.WriteString("(")
	switch {
	case e.Star:
		w.WriteString("*")
	case e.Distinct:
		w.WriteString("DISTINCT ")
		fallthrough
	default:
		w.exprs(e.Args)
	}
	w.WriteString(")")
}

func (e *Case) format(w *writer) {
	w.WriteString("CASE")
	if e.Operand != nil {
		w.WriteString(" ")
		w.expr(e.Operand, 0)
	}
	for _, when := range e.Whens {
		w.WriteString(" ")
		when.format(w)
	}
	if e.Else != nil {
		w.WriteString(" ELSE ")
		w.expr(e.Else, 0)
	}
	w.WriteString(" END")
}

func (e When) format(w *writer) {
	w.WriteString("WHEN ")
	w.expr(e.Cond, 0)
	w.WriteString(" THEN ")
	w.expr(e.Result, 0)
}

func (e *Cast) format(w *writer) {
	w.WriteString("CAST(")
	w.expr(e.X, 0)
	w.WriteString(" AS ")
	e.Type.format(w)
	w.WriteString(")")
}

func (e *Subscript) format(w *writer) {
	w.expr(e.X, precPostfix)
	w.WriteString("[")
	w.expr(e.Index, 0)
	w.WriteString("]")
}

func (e *FieldAccess) format(w *writer) {
	w.expr(e.X, precPostfix)
	w.WriteString("->")
	w.ident(e.Field)
}

// not writes " NOT" when not is set.
func (w *writer) not(not bool) {
	if not {
		w.WriteString(" NOT")
	}
}

func (e *Between) format(w *writer) {
	w.expr(e.X, precCompare)
	w.not(e.Not)
	w.WriteString(" BETWEEN ")
	w.expr(e.Low, precAdd)
	w.WriteString(" AND ")
	w.expr(e.High, precAdd)
}

func (e *InList) format(w *writer) {
	w.expr(e.X, precCompare)
	w.not(e.Not)
	w.WriteString(" IN (")
	w.exprs(e.List)
	w.WriteString(")")
}

func (e *Like) format(w *writer) {
	w.expr(e.X, precCompare)
	w.not(e.Not)
	w.WriteString(" LIKE ")
	w.expr(e.Pattern, precAdd)
	if e.Escape != "" {
		w.WriteString(" ESCAPE " + quoteString(e.Escape))
	}
}

func (e *IsNull) format(w *writer) {
	w.expr(e.X, precCompare)
	w.WriteString(" IS")
	w.not(e.Not)
	w.WriteString(" NULL")
}

func (e *ArrayCtor) format(w *writer) {
	w.WriteString("ARRAY[")
	w.exprs(e.Elems)
	w.WriteString("]")
}

func (e *MapCtor) format(w *writer) {
	w.WriteString("MAP(")
	list(w, e.Entries, func(m MapEntry) { m.format(w) })
	w.WriteString(")")
}

func (e MapEntry) format(w *writer) {
	w.expr(e.Key, 0)
	w.WriteString(" := ")
	w.expr(e.Value, 0)
}

func (e *StructCtor) format(w *writer) {
	w.WriteString("STRUCT(")
	list(w, e.Fields, func(f FieldValue) { f.format(w) })
	w.WriteString(")")
}

func (e FieldValue) format(w *writer) {
	w.ident(e.Name)
	w.WriteString(" := ")
	w.expr(e.Value, 0)
}
