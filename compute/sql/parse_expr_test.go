package sql

import (
	"strings"
	"testing"
)

// tree renders the structure of an expression, with every operator node
// in parentheses, so that tests see how it was grouped.
func tree(e Expr) string {
	trees := func(xs ...Expr) string {
		var s []string
		for _, x := range xs {
			s = append(s, tree(x))
		}
		return strings.Join(s, " ")
	}
	not := func(not bool, s string) string {
		if not {
			return "not-" + s
		}
		return s
	}
	switch e := e.(type) {
	case *BinaryExpr:
		return "(" + e.Op.String() + " " + trees(e.Left, e.Right) + ")"
	case *UnaryExpr:
		return "(" + e.Op.String() + " " + tree(e.X) + ")"
	case *Between:
		return "(" + not(e.Not, "between") + " " + trees(e.X, e.Low, e.High) + ")"
	case *InList:
		return "(" + not(e.Not, "in") + " " + trees(append([]Expr{e.X}, e.List...)...) + ")"
	case *Like:
		return "(" + not(e.Not, "like") + " " + trees(e.X, e.Pattern) + " " + e.Escape + ")"
	case *IsNull:
		return "(" + not(e.Not, "is-null") + " " + tree(e.X) + ")"
	case *Subscript:
		return "([] " + trees(e.X, e.Index) + ")"
	case *FieldAccess:
		return "(-> " + tree(e.X) + " " + e.Field + ")"
	case *Call:
		if e.Star || e.Distinct {
			break
		}
		return "(" + e.Name + " " + trees(e.Args...) + ")"
	}
	return e.String()
}

// exprTests map an expression to its tree.
var exprTests = []struct{ src, want string }{
	{"a OR b AND c", "(OR A (AND B C))"},
	{"a AND b OR c", "(OR (AND A B) C)"},
	{"NOT a AND b", "(AND (NOT A) B)"},
	{"NOT a = b", "(NOT (= A B))"},
	{"NOT NOT a", "(NOT (NOT A))"},
	{"a = b OR c <> d", "(OR (= A B) (<> C D))"},
	{"a != b", "(<> A B)"},
	{"a < b AND c <= d AND e > f AND g >= h", "(AND (AND (AND (< A B) (<= C D)) (> E F)) (>= G H))"},
	{"a = b = c", "(= (= A B) C)"},
	{"a = (b = c)", "(= A (= B C))"},
	{"1 + 2 * 3 - 4", "(- (+ 1 (* 2 3)) 4)"},
	{"(1 + 2) * 3", "(* (+ 1 2) 3)"},
	{"a - b - c", "(- (- A B) C)"},
	{"a - (b - c)", "(- A (- B C))"},
	{"a / b % c * d", "(* (% (/ A B) C) D)"},
	{"a || b + c", "(+ (|| A B) C)"},
	{"a || 'x' = b", "(= (|| A 'x') B)"},
	{"-a * b", "(* (- A) B)"},
	{"- -a", "(- (- A))"},
	{"-(-a)", "(- (- A))"},
	{"+a - -1", "(- (+ A) (- 1))"},
	{"-a[1]", "(- ([] A 1))"},
	{"(-a)[1]", "([] (- A) 1)"},
	{"a[1][2]", "([] ([] A 1) 2)"},
	{"m['k']->f->g", "(-> (-> ([] M 'k') F) G)"},
	{"s.col->`inner`", "(-> S.COL inner)"},
	{"(a + b)->f", "(-> (+ A B) F)"},
	{"a BETWEEN 1 AND 2 AND b", "(AND (between A 1 2) B)"},
	{"a NOT BETWEEN b + 1 AND c * 2", "(not-between A (+ B 1) (* C 2))"},
	{"NOT a BETWEEN 1 AND 2", "(NOT (between A 1 2))"},
	{"a IN (1, 2, 3)", "(in A 1 2 3)"},
	{"a NOT IN ('x')", "(not-in A 'x')"},
	{"a LIKE 'x%'", "(like A 'x%' )"},
	{"a NOT LIKE 'x!%' ESCAPE '!'", "(not-like A 'x!%' !)"},
	{"a || b LIKE c || '%'", "(like (|| A B) (|| C '%') )"},
	{"a IS NULL", "(is-null A)"},
	{"a IS NOT NULL OR b", "(OR (not-is-null A) B)"},
	{"a = b IS NULL", "(is-null (= A B))"},
	{"a = (b IS NULL)", "(= A (is-null B))"},
	{"a IS DISTINCT FROM b + 1", "(IS DISTINCT FROM A (+ B 1))"},
	{"a IS NOT DISTINCT FROM b", "(IS NOT DISTINCT FROM A B)"},
	{"count(*)", "COUNT(*)"},
	{"COUNT(DISTINCT x)", "COUNT(DISTINCT X)"},
	{"now()", "(NOW )"},
	{"`myFunc`(a, b + 1)", "(myFunc A (+ B 1))"},
	{"SUBSTRING(s, 1, 2) = 'ab'", "(= (SUBSTRING S 1 2) 'ab')"},
	{"CASE WHEN a > 1 THEN 'x' WHEN a > 0 THEN 'y' ELSE 'z' END",
		"CASE WHEN A > 1 THEN 'x' WHEN A > 0 THEN 'y' ELSE 'z' END"},
	{"case a when 1 then 'one' end", "CASE A WHEN 1 THEN 'one' END"},
	{"CAST(a AS DECIMAL(10, 2))", "CAST(A AS DECIMAL(10, 2))"},
	{"CAST(a AS MAP<VARCHAR, STRUCT<x INT>>)", "CAST(A AS MAP<STRING, STRUCT<X INTEGER>>)"},
	{"ARRAY[1, 2 + 3]", "ARRAY[1, 2 + 3]"},
	{"ARRAY[]", "ARRAY[]"},
	{"MAP('a' := 1, 'b' := 2)", "MAP('a' := 1, 'b' := 2)"},
	{"MAP()", "MAP()"},
	{"STRUCT(a := 1, `b` := ARRAY['x'])", "STRUCT(A := 1, `b` := ARRAY['x'])"},
	{"STRUCT()", "STRUCT()"},
	{"ARRAY(1)", "(ARRAY 1)"},
	{"array", "`ARRAY`"},
	{"((a))", "A"},
	{"windowstart > rowtime", "(> WINDOWSTART ROWTIME)"},
}

func TestParseExpr(t *testing.T) {
	for _, tt := range exprTests {
		x, err := ParseExpr(tt.src)
		if err != nil {
			t.Errorf("%s: %v", tt.src, err)
			continue
		}
		if got := tree(x); got != tt.want {
			t.Errorf("%s\n   got: %s\n  want: %s", tt.src, got, tt.want)
		}
	}
}

// TestFormatExpr checks that formatting writes only the parentheses the
// grouping needs.
func TestFormatExpr(t *testing.T) {
	for src, want := range map[string]string{
		"(a + b) * c":                       "(A + B) * C",
		"a + (b * c)":                       "A + B * C",
		"(a - b) - c":                       "A - B - C",
		"a - (b - c)":                       "A - (B - C)",
		"-(-a)":                             "- -A",
		"-(a + b)":                          "-(A + B)",
		"NOT (a AND b)":                     "NOT (A AND B)",
		"(NOT a) AND b":                     "NOT A AND B",
		"a = (NOT b)":                       "A = (NOT B)",
		"(a OR b) AND c":                    "(A OR B) AND C",
		"(a BETWEEN 1 AND 2) = b":           "A BETWEEN 1 AND 2 = B",
		"a BETWEEN (b = c) AND d":           "A BETWEEN (B = C) AND D",
		"(a IS NULL) IS NULL":               "A IS NULL IS NULL",
		"(a[1])->f":                         "A[1]->F",
		"'it''s'":                           "'it''s'",
		"`a``b`":                            "`a``b`",
		"x IN ((1 = 1), 2)":                 "X IN (1 = 1, 2)",
		"CASE (a = b) WHEN TRUE THEN 1 END": "CASE A = B WHEN TRUE THEN 1 END",
	} {
		x, err := ParseExpr(src)
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		if got := x.String(); got != want {
			t.Errorf("%s: got %s, want %s", src, got, want)
		}
	}
}

var literalTests = []struct {
	src  string
	kind LiteralKind
	text string
}{
	{"'it''s'", StringLit, "it's"},
	{"''", StringLit, ""},
	{"'multi\nline'", StringLit, "multi\nline"},
	{"42", IntegerLit, "42"},
	{"99999999999999999999", IntegerLit, "99999999999999999999"},
	{"4.20", DecimalLit, "4.20"},
	{".5", DecimalLit, ".5"},
	{"1.", DecimalLit, "1."},
	{"1e3", DoubleLit, "1e3"},
	{"1.5E-2", DoubleLit, "1.5E-2"},
	{".5e+1", DoubleLit, ".5e+1"},
	{"true", BooleanLit, "TRUE"},
	{"FALSE", BooleanLit, "FALSE"},
	{"null", NullLit, "NULL"},
}

func TestLiterals(t *testing.T) {
	for _, tt := range literalTests {
		x, err := ParseExpr(tt.src)
		if err != nil {
			t.Errorf("%q: %v", tt.src, err)
			continue
		}
		lit, ok := x.(*Literal)
		if !ok || lit.Kind != tt.kind || lit.Text != tt.text {
			t.Errorf("%q parses to %#v, want kind %s text %q", tt.src, x, tt.kind, tt.text)
		}
	}
}
