package sql

import (
	"reflect"
	"testing"
)

// clearPositions zeroes every Pos in the trees reachable from v and returns v.
func clearPositions[T any](v T) T {
	zeroPositions(reflect.ValueOf(&v).Elem())
	return v
}

func zeroPositions(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			zeroPositions(v.Elem())
		}
	case reflect.Slice:
		for i := range v.Len() {
			zeroPositions(v.Index(i))
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[Pos]() {
			v.SetZero()
			return
		}
		for i := range v.NumField() {
			zeroPositions(v.Field(i))
		}
	}
}

// checkRoundTrip checks that src, if it parses, formats to SQL that parses
// to the same trees, positions aside, and formats the same again.
func checkRoundTrip(t *testing.T, src string) {
	t.Helper()
	stmts, err := Parse(src)
	if err != nil {
		return
	}
	out := FormatScript(stmts)
	again, err := Parse(out)
	if err != nil {
		t.Fatalf("%q formats to %q, which does not parse: %v", src, out, err)
	}
	if out2 := FormatScript(again); out2 != out {
		t.Fatalf("%q formats to %q, which formats to %q", src, out, out2)
	}
	if !reflect.DeepEqual(clearPositions(stmts), clearPositions(again)) {
		t.Fatalf("%q formats to %q, which parses to a different tree", src, out)
	}
}

func checkExprRoundTrip(t *testing.T, src string) {
	t.Helper()
	x, err := ParseExpr(src)
	if err != nil {
		return
	}
	out := x.String()
	again, err := ParseExpr(out)
	if err != nil {
		t.Fatalf("%q formats to %q, which does not parse: %v", src, out, err)
	}
	if !reflect.DeepEqual(clearPositions(x), clearPositions(again)) {
		t.Fatalf("%q formats to %q, which parses to a different tree", src, out)
	}
}

// testInputs returns every input of the tests, valid or not.
func testInputs() (statements, exprs []string) {
	for _, tt := range statementTests {
		statements = append(statements, tt.src)
	}
	for _, tt := range errorTests {
		statements = append(statements, tt.src)
	}
	for _, tt := range exprTests {
		exprs = append(exprs, tt.src)
	}
	for _, tt := range literalTests {
		exprs = append(exprs, tt.src)
	}
	return statements, exprs
}

func TestRoundTrip(t *testing.T) {
	statements, exprs := testInputs()
	for _, src := range statements {
		checkRoundTrip(t, src)
	}
	for _, src := range exprs {
		checkExprRoundTrip(t, src)
		checkRoundTrip(t, "SELECT "+src+" FROM s")
	}
}

func FuzzParse(f *testing.F) {
	statements, exprs := testInputs()
	for _, src := range append(statements, exprs...) {
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src string) {
		checkRoundTrip(t, src)
		checkExprRoundTrip(t, src)
		for _, parse := range []func(string) error{
			func(s string) error { _, err := Parse(s); return err },
			func(s string) error { _, err := ParseStatement(s); return err },
			func(s string) error { _, err := ParseExpr(s); return err },
		} {
			if err := parse(src); err != nil {
				if e, ok := err.(*Error); !ok || e.Line < 1 || e.Col < 1 || e.Msg == "" {
					t.Fatalf("%q: bad error %#v", src, err)
				}
			}
		}
	})
}
