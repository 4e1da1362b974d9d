package expr

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
