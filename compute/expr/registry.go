package expr

import (
	"fmt"
	"sort"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
)

// function is a registry entry: arity bounds and a binder that type-checks the
// arguments (inserting implicit casts) and picks a kernel.
type function struct {
	minArgs, maxArgs int // maxArgs < 0: variadic
	bind             func(name string, args []Expr) (*call, error)
	render           func(name string, args []string) string // nil: NAME(a, b)
	noFold           bool                                    // never constant-fold
}

var registry = map[string]*function{}

func register(f *function, names ...string) {
	for _, n := range names {
		if _, dup := registry[n]; dup {
			panic("expr: duplicate function " + n)
		}
		registry[n] = f
	}
}

// Functions lists the registered function and operator names, sorted.
func Functions() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Call binds the function or operator name (case-insensitive) to args. Operators
// are called by their SQL spelling: + - * / % (unary "-" with one argument),
// = != <> < <= > >=, AND, OR, NOT, IS NULL, IS NOT NULL, LIKE (2 or 3 args, the
// third the ESCAPE character), IN (value first, then the list), BETWEEN, ||.
// Constant sub-expressions are evaluated once here.
func Call(name string, args ...Expr) (Expr, error) {
	upper := strings.ToUpper(strings.TrimSpace(name))
	f, ok := registry[upper]
	if !ok {
		return nil, fmt.Errorf("unknown function %s", name)
	}
	if len(args) < f.minArgs || (f.maxArgs >= 0 && len(args) > f.maxArgs) {
		return nil, fmt.Errorf("function %s expects %s, got %d", upper, arity(f.minArgs, f.maxArgs), len(args))
	}
	for i, a := range args {
		if a == nil {
			return nil, fmt.Errorf("function %s: argument %d is nil", upper, i+1)
		}
	}
	c, err := f.bind(upper, args)
	if err != nil {
		return nil, err
	}
	if c.name == "" {
		c.name = upper
	}
	if f.render != nil {
		c.render = func(a []string) string { return f.render(upper, a) }
	}
	if f.noFold {
		return c, nil
	}
	return fold(c)
}

func arity(lo, hi int) string {
	plural := func(n int) string {
		if n == 1 {
			return "1 argument"
		}
		return fmt.Sprintf("%d arguments", n)
	}
	switch {
	case hi < 0:
		return "at least " + plural(lo)
	case lo == hi:
		return plural(lo)
	case hi == lo+1:
		return fmt.Sprintf("%d or %s", lo, plural(hi))
	}
	return fmt.Sprintf("%d to %s", lo, plural(hi))
}

// Renderers for operators.
func infix(name string, a []string) string   { return "(" + a[0] + " " + name + " " + a[1] + ")" }
func prefix(name string, a []string) string  { return "(" + name + " " + a[0] + ")" }
func postfix(name string, a []string) string { return "(" + a[0] + " " + name + ")" }

// typeErr reports an argument of the wrong type.
func typeErr(name string, pos int, got Expr, want string) error {
	return fmt.Errorf("function %s: argument %d (%s) has type %s, expected %s", name, pos, got, SQLType(got.Type()), want)
}

// checkArgs checks argument i against want[i] (the last entry repeats),
// widening INT to BIGINT, numerics to DOUBLE and NULL to anything.
func checkArgs(name string, args []Expr, want ...arrow.DataType) ([]Expr, error) {
	out := make([]Expr, len(args))
	for i, a := range args {
		t := want[min(i, len(want)-1)]
		var err error
		switch {
		case isNull(a.Type()):
			out[i], err = Cast(a, t)
		case t.ID() == arrow.INT64 && a.Type().ID() == arrow.INT32:
			out[i], err = Cast(a, t)
		case t.ID() == arrow.FLOAT64 && isNumeric(a.Type()):
			out[i], err = Cast(a, t)
		case t.ID() != a.Type().ID():
			return nil, typeErr(name, i+1, a, SQLType(t))
		default:
			out[i] = a
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
