package expr

import (
	"math"

	"github.com/apache/arrow/go/v17/arrow/scalar"
)

// Columns calls fn with the index of every input column e reads (a column
// read twice is reported twice). It reports false, having called fn for
// none, when e holds an expression of another package, whose inputs it
// cannot see: the caller must then assume every column is read.
func Columns(e Expr, fn func(index int)) bool {
	var idx []int
	if !columns(e, &idx) {
		return false
	}
	for _, i := range idx {
		fn(i)
	}
	return true
}

func columns(e Expr, idx *[]int) bool {
	switch x := e.(type) {
	case *column:
		*idx = append(*idx, x.index)
	case *literal:
	case *call:
		for _, a := range x.args {
			if !columns(a, idx) {
				return false
			}
		}
	case *caseExpr:
		for _, w := range x.whens {
			if !columns(w.Cond, idx) || !columns(w.Then, idx) {
				return false
			}
		}
		if x.els != nil {
			return columns(x.els, idx)
		}
	case *field:
		return columns(x.base, idx)
	default:
		return false
	}
	return true
}

// Range returns the inclusive bounds a condition (a WHERE) puts on the
// BIGINT or TIMESTAMP column at index: no row whose value lies outside
// [lo, hi] passes it. It reads the comparisons of the column with
// constants (=, <, <=, >, >=, BETWEEN) that e ANDs together, and gives
// math.MinInt64 and math.MaxInt64 for a side they do not bound.
func Range(e Expr, index int) (lo, hi int64) {
	lo, hi = math.MinInt64, math.MaxInt64
	c, ok := e.(*call)
	if !ok {
		return lo, hi
	}
	isCol := func(x Expr) bool {
		col, ok := x.(*column)
		return ok && col.index == index
	}
	switch c.name {
	case "AND":
		for _, a := range c.args {
			l, h := Range(a, index)
			lo, hi = max(lo, l), min(hi, h)
		}
	case "BETWEEN":
		if l, ok1 := constInt(c.args[1]); ok1 && isCol(c.args[0]) {
			if h, ok2 := constInt(c.args[2]); ok2 {
				lo, hi = l, h
			}
		}
	case "=", "<", "<=", ">", ">=":
		op := c.name
		v, ok := constInt(c.args[1])
		if !ok || !isCol(c.args[0]) {
			// constant op column: mirror it.
			if v, ok = constInt(c.args[0]); !ok || !isCol(c.args[1]) {
				return lo, hi
			}
			op = map[string]string{"=": "=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}[op]
		}
		switch op {
		case "=":
			lo, hi = v, v
		case "<":
			if v == math.MinInt64 {
				return math.MaxInt64, math.MinInt64 // nothing passes
			}
			hi = v - 1
		case "<=":
			hi = v
		case ">":
			if v == math.MaxInt64 {
				return math.MaxInt64, math.MinInt64
			}
			lo = v + 1
		case ">=":
			lo = v
		}
	}
	return lo, hi
}

// constInt returns the value of a non-NULL BIGINT or TIMESTAMP constant.
func constInt(e Expr) (int64, bool) {
	l, ok := e.(*literal)
	if !ok || !l.sc.IsValid() {
		return 0, false
	}
	switch s := l.sc.(type) {
	case *scalar.Int64:
		return s.Value, true
	case *scalar.Timestamp:
		return int64(s.Value), true
	}
	return 0, false
}
