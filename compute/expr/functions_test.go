package expr

import (
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

func i32(v any) tv             { return tv{v: v, t: Int} }
func i64(v any) tv             { return tv{v: v, t: BigInt} }
func f64(v any) tv             { return tv{v: v, t: Double} }
func str(v any) tv             { return tv{v: v, t: String} }
func dec(v any, p, s int32) tv { return tv{v: v, t: Decimal(p, s)} }
func boolean(v any) tv         { return tv{v: v, t: Boolean} }
func ts(v any) tv              { return tv{v: v, t: Timestamp} }

type fnCase struct {
	fn   string
	args []tv
	want string
	typ  string // optional SQL result type
}

func runCases(t *testing.T, cases []fnCase) {
	t.Helper()
	for _, c := range cases {
		var b strings.Builder
		for i, a := range c.args {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(renderScalarOf(t, a))
		}
		t.Run(c.fn+"("+b.String()+")", func(t *testing.T) {
			got, err := evalFn(t, c.fn, c.args...)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
			if c.typ != "" {
				e := mustCallT(t, c.fn, litsOf(t, c.args)...)
				if SQLType(e.Type()) != c.typ {
					t.Errorf("type %s, want %s", SQLType(e.Type()), c.typ)
				}
			}
		})
	}
}

func renderScalarOf(t *testing.T, a tv) string { return lit(t, a.v, a.t).String() }

func litsOf(t *testing.T, args []tv) []Expr {
	out := make([]Expr, len(args))
	for i, a := range args {
		out[i] = lit(t, a.v, a.t)
	}
	return out
}

func TestArithmetic(t *testing.T) {
	runCases(t, []fnCase{
		{"+", []tv{i32(1), i32(2)}, "3", "INT"},
		{"+", []tv{i32(1), i64(2)}, "3", "BIGINT"},
		{"+", []tv{i32(1), f64(0.5)}, "1.5", "DOUBLE"},
		{"+", []tv{i32(2147483647), i32(1)}, "-2147483648", "INT"},
		{"*", []tv{i64(int64(1) << 62), i64(4)}, "0", "BIGINT"},
		{"-", []tv{i32(5), i32(nil)}, "NULL", "INT"},
		{"-", []tv{i32(5)}, "-5", "INT"},
		{"-", []tv{i32(-2147483648)}, "-2147483648", "INT"},
		{"/", []tv{i32(7), i32(2)}, "3", "INT"},
		{"/", []tv{i32(-7), i32(2)}, "-3", "INT"},
		{"/", []tv{i32(7), i32(0)}, "NULL", "INT"},
		{"/", []tv{i64(int64(-1) << 63), i64(-1)}, "-9223372036854775808", "BIGINT"},
		{"%", []tv{i32(-7), i32(3)}, "-1", "INT"},
		{"%", []tv{i64(7), i64(0)}, "NULL", "BIGINT"},
		{"/", []tv{f64(1.0), f64(0.0)}, "Infinity", "DOUBLE"},
		{"%", []tv{f64(5.5), f64(2.0)}, "1.5", "DOUBLE"},
		{"+", []tv{str("a"), str("b")}, "ab", "VARCHAR"},
		// DECIMAL: ksqlDB precision/scale rules.
		{"+", []tv{dec("1.25", 4, 2), dec("10.5", 3, 1)}, "11.75", "DECIMAL(5, 2)"},
		{"-", []tv{dec("1.25", 4, 2), i32(1)}, "0.25", "DECIMAL(13, 2)"},
		{"*", []tv{dec("1.25", 4, 2), dec("10.5", 3, 1)}, "13.125", "DECIMAL(8, 3)"},
		{"/", []tv{dec("1.00", 3, 2), dec("3", 1, 0)}, "0.333333", "DECIMAL(7, 6)"},
		{"/", []tv{dec("2.00", 3, 2), dec("3", 1, 0)}, "0.666667", "DECIMAL(7, 6)"},
		{"/", []tv{dec("-2.00", 3, 2), dec("3", 1, 0)}, "-0.666667", "DECIMAL(7, 6)"},
		{"/", []tv{dec("1.00", 3, 2), dec("0", 1, 0)}, "NULL", "DECIMAL(7, 6)"},
		{"%", []tv{dec("7.5", 2, 1), dec("2", 1, 0)}, "1.5", "DECIMAL(2, 1)"},
		{"-", []tv{dec("7.5", 2, 1)}, "-7.5", "DECIMAL(2, 1)"},
		{"*", []tv{dec("1.5", 2, 1), f64(2.0)}, "3.0", "DOUBLE"},
	})
}

func TestComparisons(t *testing.T) {
	runCases(t, []fnCase{
		{"=", []tv{i32(1), i64(1)}, "true", "BOOLEAN"},
		{"<>", []tv{i32(1), f64(1.5)}, "true", ""},
		{"<", []tv{dec("1.50", 3, 2), dec("1.6", 2, 1)}, "true", ""},
		{">=", []tv{i32(2), dec("1.99", 3, 2)}, "true", ""},
		{"=", []tv{str("a"), str(nil)}, "NULL", ""},
		{">", []tv{str("b"), str("a")}, "true", ""},
		{"!=", []tv{boolean(true), boolean(false)}, "true", ""},
		{">", []tv{ts(int64(1704067200001)), str("2024-01-01T00:00:00")}, "true", ""},
		{"=", []tv{ts(int64(1704067200000)), str("2024-01-01")}, "true", ""},
		{"BETWEEN", []tv{i32(5), i32(1), i32(5)}, "true", ""},
		{"BETWEEN", []tv{i32(6), i32(1), i32(5)}, "false", ""},
		{"BETWEEN", []tv{i32(nil), i32(1), i32(5)}, "NULL", ""},
		{"IN", []tv{i32(2), i32(1), i64(2)}, "true", ""},
		{"IN", []tv{i32(3), i32(1), i32(2)}, "false", ""},
		{"IN", []tv{i32(3), i32(1), i32(nil)}, "NULL", ""},
		{"IN", []tv{str("b"), str("a"), str("b")}, "true", ""},
	})
}

func TestThreeValuedLogic(t *testing.T) {
	vals := []any{true, false, nil}
	name := func(v any) string {
		if v == nil {
			return "NULL"
		}
		if v.(bool) {
			return "true"
		}
		return "false"
	}
	and := func(a, b any) any {
		switch {
		case a == false || b == false:
			return false
		case a == nil || b == nil:
			return nil
		}
		return true
	}
	or := func(a, b any) any {
		switch {
		case a == true || b == true:
			return true
		case a == nil || b == nil:
			return nil
		}
		return false
	}
	var cases []fnCase
	for _, a := range vals {
		for _, b := range vals {
			cases = append(cases,
				fnCase{"AND", []tv{boolean(a), boolean(b)}, name(and(a, b)), "BOOLEAN"},
				fnCase{"OR", []tv{boolean(a), boolean(b)}, name(or(a, b)), "BOOLEAN"})
		}
		not := any(nil)
		if a != nil {
			not = !a.(bool)
		}
		cases = append(cases,
			fnCase{"NOT", []tv{boolean(a)}, name(not), "BOOLEAN"},
			fnCase{"IS NULL", []tv{boolean(a)}, name(a == nil), "BOOLEAN"},
			fnCase{"IS NOT NULL", []tv{boolean(a)}, name(a != nil), "BOOLEAN"})
	}
	cases = append(cases, fnCase{"AND", []tv{boolean(true), boolean(true), boolean(nil)}, "NULL", ""})
	runCases(t, cases)
}

func TestLike(t *testing.T) {
	cases := []struct {
		s, p, esc string
		want      string
	}{
		{"ACME Corp", "ACME%", "", "true"},
		{"ACME Corp", "%Corp", "", "true"},
		{"ACME Corp", "%ME C%", "", "true"},
		{"ACME Corp", "acme%", "", "false"},
		{"ACME", "AC_E", "", "true"},
		{"ACME", "A_E", "", "false"},
		{"ACME", "ACME", "", "true"},
		{"", "%", "", "true"},
		{"", "", "", "true"},
		{"a%b", `a\%b`, `\`, "true"},
		{"axb", `a\%b`, `\`, "false"},
		{"a_b", "a!_b", "!", "true"},
		{"aXb", "a!_b", "!", "false"},
		{"a.*b", "a.*b", "", "true"},
		{"line1\nline2", "line1%line2", "", "true"},
		{"héllo", "h_llo", "", "true"},
		{"x(y)", "%(_)%", "", "true"},
	}
	for _, c := range cases {
		args := []tv{str(c.s), str(c.p)}
		if c.esc != "" {
			args = append(args, konst(str(c.esc)))
		}
		runCases(t, []fnCase{{"LIKE", args, c.want, "BOOLEAN"}})
	}
	runCases(t, []fnCase{{"LIKE", []tv{str(nil), str("%")}, "NULL", ""}})
	if _, err := Call("LIKE", lit(t, "a", String), lit(t, "a", String), lit(t, "ab", String)); err == nil {
		t.Error("multi-character ESCAPE accepted")
	}
	if _, err := Call("LIKE", lit(t, "a", String), lit(t, `a\`, String), lit(t, `\`, String)); err == nil {
		t.Error("pattern ending in escape accepted")
	}
}

func TestStringFunctions(t *testing.T) {
	runCases(t, []fnCase{
		{"||", []tv{str("ab"), str("cd")}, "abcd", "VARCHAR"},
		{"||", []tv{str("ab"), str(nil)}, "NULL", ""},
		{"CONCAT", []tv{str("a"), str(nil), str("c")}, "ac", "VARCHAR"},
		{"CONCAT_WS", []tv{str(", "), str("apple"), str(nil), str("date")}, "apple, date", ""},
		{"CONCAT_WS", []tv{str(nil), str("a")}, "NULL", ""},
		{"UCASE", []tv{str("Hello, World")}, "HELLO, WORLD", "VARCHAR"},
		{"UCASE", []tv{str("ärger")}, "ÄRGER", ""},
		{"LCASE", []tv{str("HeLLo")}, "hello", ""},
		{"LCASE", []tv{str(nil)}, "NULL", ""},
		{"LEN", []tv{str("héllo")}, "5", "INT"},
		{"LEN", []tv{tv{v: "héllo", t: Bytes}}, "6", "INT"},
		{"SUBSTRING", []tv{str("stream"), i32(1), i32(4)}, "stre", "VARCHAR"},
		{"SUBSTRING", []tv{str("stream"), i32(3)}, "ream", ""},
		{"SUBSTRING", []tv{str("stream"), i32(-3)}, "eam", ""},
		{"SUBSTRING", []tv{str("stream"), i32(-3), i32(2)}, "ea", ""},
		{"SUBSTRING", []tv{str("stream"), i32(0), i32(2)}, "st", ""},
		{"SUBSTRING", []tv{str("stream"), i32(10)}, "", ""},
		{"SUBSTRING", []tv{str("stream"), i32(-10), i32(3)}, "str", ""},
		{"SUBSTRING", []tv{str("stream"), i32(2), i32(-1)}, "", ""},
		{"SUBSTRING", []tv{str("héllo"), i32(2), i32(3)}, "éll", ""},
		{"SUBSTRING", []tv{str("stream"), i32(nil)}, "NULL", ""},
		{"TRIM", []tv{str("  a b \t")}, "a b", ""},
		{"LTRIM", []tv{str("  a ")}, "a ", ""},
		{"RTRIM", []tv{str("  a ")}, "  a", ""},
		{"REPLACE", []tv{str("foo bar foo"), str("foo"), str("x")}, "x bar x", ""},
		{"INSTR", []tv{str("CORPORATE FLOOR"), str("OR")}, "2", "INT"},
		{"INSTR", []tv{str("CORPORATE FLOOR"), str("OR"), i32(3)}, "5", ""},
		{"INSTR", []tv{str("CORPORATE FLOOR"), str("OR"), i32(3), i32(2)}, "14", ""},
		{"INSTR", []tv{str("CORPORATE FLOOR"), str("OR"), i32(-3)}, "5", ""},
		{"INSTR", []tv{str("CORPORATE FLOOR"), str("OR"), i32(-3), i32(2)}, "2", ""},
		{"INSTR", []tv{str("CORPORATE FLOOR"), str("MISSING")}, "0", ""},
		{"LPAD", []tv{str("Foo"), i32(7), str("Bar")}, "BarBFoo", ""},
		{"LPAD", []tv{str("Foo"), i32(2), str("Bar")}, "Fo", ""},
		{"LPAD", []tv{str(""), i32(2), str("Bar")}, "Ba", ""},
		{"LPAD", []tv{str("123"), i32(5), str("0")}, "00123", ""},
		{"LPAD", []tv{str("1"), i32(5), str("")}, "NULL", ""},
		{"RPAD", []tv{str("Foo"), i32(7), str("Bar")}, "FooBarB", ""},
		{"RPAD", []tv{str("Foo"), i32(-1), str("Bar")}, "NULL", ""},
		{"SPLIT", []tv{str("a,b,,c,"), str(",")}, "[a, b, , c, ]", "ARRAY<VARCHAR>"},
		{"SPLIT", []tv{str("abc"), str("")}, "[a, b, c]", ""},
		{"SPLIT", []tv{str("abc"), str("x")}, "[abc]", ""},
		{"SPLIT", []tv{str(nil), str(",")}, "NULL", ""},
		{"INITCAP", []tv{str("the QUICK  brown")}, "The Quick  Brown", ""},
		{"REGEXP_EXTRACT", []tv{str("(.*) (.*)"), str("hello there"), i32(2)}, "there", "VARCHAR"},
		{"REGEXP_EXTRACT", []tv{str("[0-9]+"), str("ab12cd345")}, "12", ""},
		{"REGEXP_EXTRACT", []tv{str("[0-9]+"), str("abc")}, "NULL", ""},
		{"REGEXP_EXTRACT", []tv{str("(a)"), str("abc"), i32(3)}, "NULL", ""},
		{"REGEXP_REPLACE", []tv{str("aabbb c"), str("a.b+"), str("bar")}, "bar c", ""},
		{"REGEXP_REPLACE", []tv{str("john smith"), str("(\\w+) (\\w+)"), str("$2, $1")}, "smith, john", ""},
	})
}

func TestMathFunctions(t *testing.T) {
	runCases(t, []fnCase{
		{"ABS", []tv{i32(-3)}, "3", "INT"},
		{"ABS", []tv{f64(-2.5)}, "2.5", "DOUBLE"},
		{"ABS", []tv{dec("-1.50", 3, 2)}, "1.50", "DECIMAL(3, 2)"},
		{"ABS", []tv{i32(-2147483648)}, "-2147483648", ""},
		{"CEIL", []tv{f64(1.2)}, "2.0", "DOUBLE"},
		{"CEIL", []tv{i64(5)}, "5", "BIGINT"},
		{"CEIL", []tv{dec("-1.50", 3, 2)}, "-1.00", "DECIMAL(3, 2)"},
		{"FLOOR", []tv{f64(-1.2)}, "-2.0", ""},
		{"FLOOR", []tv{dec("-1.50", 3, 2)}, "-2.00", ""},
		{"FLOOR", []tv{dec("1.50", 3, 2)}, "1.00", ""},
		{"ROUND", []tv{f64(1.5)}, "2", "BIGINT"},
		{"ROUND", []tv{f64(-1.5)}, "-1", "BIGINT"},
		{"ROUND", []tv{f64(-1.6)}, "-2", ""},
		{"ROUND", []tv{f64(0.49999999999999994)}, "0", ""},
		{"ROUND", []tv{i32(7)}, "7", "BIGINT"},
		{"ROUND", []tv{f64(1.255), i32(2)}, "1.26", "DOUBLE"},
		{"ROUND", []tv{f64(-1.255), i32(2)}, "-1.25", ""},
		{"ROUND", []tv{f64(1234.5), i32(-2)}, "1200.0", ""},
		{"ROUND", []tv{dec("1.25", 3, 2)}, "1", "DECIMAL(1, 0)"},
		{"ROUND", []tv{dec("-2.5", 2, 1)}, "-2", ""},
		{"ROUND", []tv{dec("1.25", 3, 2), i32(1)}, "1.30", "DECIMAL(3, 2)"},
		{"ROUND", []tv{dec("-1.25", 3, 2), i32(1)}, "-1.20", ""},
		{"SQRT", []tv{i32(16)}, "4.0", "DOUBLE"},
		{"SQRT", []tv{f64(-1.0)}, "NaN", ""},
		{"EXP", []tv{i32(0)}, "1.0", ""},
		{"LN", []tv{f64(1.0)}, "0.0", ""},
		{"LN", []tv{f64(0.0)}, "-Infinity", ""},
		{"LOG", []tv{i32(100)}, "2.0", "DOUBLE"},
		{"LOG", []tv{i32(2), i32(8)}, "3.0", ""},
		{"LOG", []tv{i32(1), i32(8)}, "NaN", ""},
		{"LOG", []tv{i32(2), i32(0)}, "-Infinity", ""},
		{"POWER", []tv{i32(2), i32(10)}, "1024.0", "DOUBLE"},
		{"SIGN", []tv{f64(-3.2)}, "-1", "INT"},
		{"SIGN", []tv{dec("0.00", 3, 2)}, "0", ""},
		{"SIGN", []tv{i64(9)}, "1", ""},
		{"GREATEST", []tv{i32(1), i32(nil), i32(3)}, "3", "INT"},
		{"GREATEST", []tv{i32(1), f64(2.5)}, "2.5", "DOUBLE"},
		{"LEAST", []tv{str("b"), str("a"), str(nil)}, "a", "VARCHAR"},
		{"LEAST", []tv{i32(nil), i32(nil)}, "NULL", ""},
		{"COALESCE", []tv{i32(nil), i64(2), i64(3)}, "2", "BIGINT"},
		{"COALESCE", []tv{str(nil), str(nil)}, "NULL", "VARCHAR"},
		{"IFNULL", []tv{str(nil), str("x")}, "x", "VARCHAR"},
		{"IFNULL", []tv{str("y"), str("x")}, "y", ""},
		{"NULLIF", []tv{i32(1), i32(1)}, "NULL", "INT"},
		{"NULLIF", []tv{i32(1), i32(2)}, "1", ""},
		{"NULLIF", []tv{i32(1), i32(nil)}, "1", ""},
	})
}

func TestTimeFunctions(t *testing.T) {
	const ms = int64(1704164645123) // 2024-01-02T03:04:05.123Z
	runCases(t, []fnCase{
		{"FORMAT_TIMESTAMP", []tv{ts(ms), str("yyyy-MM-dd HH:mm:ss.SSS")}, "2024-01-02 03:04:05.123", "VARCHAR"},
		{"FORMAT_TIMESTAMP", []tv{ts(ms), str("yyyy-MM-dd'T'HH:mm:ssX")}, "2024-01-02T03:04:05Z", ""},
		{"FORMAT_TIMESTAMP", []tv{ts(ms), str("dd MMM yyyy hh:mm a, EEEE"), str("America/New_York")}, "01 Jan 2024 10:04 PM, Monday", ""},
		{"FORMAT_TIMESTAMP", []tv{ts(ms), str("yyyy-MM-dd'T'HH:mmXXX"), str("Asia/Kolkata")}, "2024-01-02T08:34+05:30", ""},
		{"FORMAT_TIMESTAMP", []tv{ts(ms), str("''yy''")}, "'24'", ""},
		{"TIMESTAMPTOSTRING", []tv{i64(ms), str("yyyy-MM-dd")}, "2024-01-02", "VARCHAR"},
		{"PARSE_TIMESTAMP", []tv{str("2024-01-02 03:04:05.123"), str("yyyy-MM-dd HH:mm:ss.SSS")}, "2024-01-02T03:04:05.123", "TIMESTAMP"},
		{"PARSE_TIMESTAMP", []tv{str("2024-01-02T03:04:05+0100"), str("yyyy-MM-dd'T'HH:mm:ssZ")}, "2024-01-02T02:04:05.000", ""},
		{"PARSE_TIMESTAMP", []tv{str("2024-01-02 03:04"), str("yyyy-MM-dd HH:mm"), str("Europe/Paris")}, "2024-01-02T02:04:00.000", ""},
		{"PARSE_TIMESTAMP", []tv{str("02/Jan/2024:10:04 PM"), str("dd/MMM/yyyy:hh:mm a")}, "2024-01-02T22:04:00.000", ""},
		{"PARSE_TIMESTAMP", []tv{str("garbage"), str("yyyy-MM-dd")}, "NULL", ""},
		{"PARSE_TIMESTAMP", []tv{str("2024-02-30"), str("yyyy-MM-dd")}, "NULL", ""},
		{"STRINGTOTIMESTAMP", []tv{str("2024-01-02"), str("yyyy-MM-dd")}, "1704153600000", "BIGINT"},
		{"FROM_UNIXTIME", []tv{i64(ms)}, "2024-01-02T03:04:05.123", "TIMESTAMP"},
		{"UNIX_TIMESTAMP", []tv{ts(ms)}, "1704164645123", "BIGINT"},
		{"FORMAT_DATE", []tv{tv{v: int32(19724), t: Date}, str("dd.MM.yyyy")}, "02.01.2024", "VARCHAR"},
		{"PARSE_DATE", []tv{str("02.01.2024"), str("dd.MM.yyyy")}, "2024-01-02", "DATE"},
		{"FORMAT_TIME", []tv{tv{v: int32(3723004), t: Time}, str("HH:mm:ss.SSS")}, "01:02:03.004", "VARCHAR"},
		{"PARSE_TIME", []tv{str("01:02"), str("HH:mm")}, "01:02", "TIME"},
		{"TIMESTAMPADD", []tv{konst(str("DAYS")), i32(2), ts(ms)}, "2024-01-04T03:04:05.123", "TIMESTAMP"},
		{"TIMESTAMPSUB", []tv{konst(str("hours")), i64(4), ts(ms)}, "2024-01-01T23:04:05.123", ""},
		{"TIMESTAMPADD", []tv{konst(str("MILLISECONDS")), i32(nil), ts(ms)}, "NULL", ""},
		{"DATEADD", []tv{konst(str("DAYS")), i32(30), tv{v: int32(19724), t: Date}}, "2024-02-01", "DATE"},
		{"DATESUB", []tv{konst(str("DAYS")), i32(1), tv{v: int32(19724), t: Date}}, "2024-01-01", ""},
		{"TIMEADD", []tv{konst(str("HOURS")), i32(23), tv{v: int32(3_600_000), t: Time}}, "00:00", "TIME"},
	})
	for _, bad := range []string{"yyyy-MM-dd Q", "[yyyy]", "'unterminated"} {
		if _, err := Call("FORMAT_TIMESTAMP", lit(t, ms, Timestamp), lit(t, bad, String)); err == nil {
			t.Errorf("pattern %q accepted", bad)
		}
	}
	if _, err := Call("FORMAT_TIMESTAMP", lit(t, ms, Timestamp), lit(t, "yyyy", String), lit(t, "Mars/Olympus", String)); err == nil {
		t.Error("unknown zone accepted")
	}
	if _, err := Call("TIMESTAMPADD", lit(t, "FORTNIGHTS", String), lit(t, 1, Int), lit(t, ms, Timestamp)); err == nil {
		t.Error("unknown unit accepted")
	}
}

func TestCast(t *testing.T) {
	cases := []struct {
		in   tv
		to   arrow.DataType
		want string
	}{
		{i32(7), Double, "7.0"},
		{i64(1 << 40), Int, "0"},
		{f64(-2.9), Int, "-2"},
		{f64(1e20), BigInt, "9223372036854775807"},
		{f64(1.005), Decimal(4, 2), "1.01"},
		{dec("-1.25", 3, 2), Decimal(2, 1), "-1.3"},
		{dec("123.45", 5, 2), Decimal(3, 1), "NULL"},
		{dec("-7.9", 2, 1), BigInt, "-7"},
		{dec("1.5", 2, 1), Double, "1.5"},
		{i32(12), Decimal(4, 2), "12.00"},
		{i32(123), Decimal(3, 1), "NULL"},
		{f64(1e7), String, "1.0E7"},
		{f64(0.001), String, "0.001"},
		{f64(1234.5), String, "1234.5"},
		{f64(1e-4), String, "1.0E-4"},
		{dec("0.10", 3, 2), String, "0.10"},
		{boolean(true), String, "true"},
		{ts(int64(1704164645123)), String, "2024-01-02T03:04:05.123"},
		{ts(int64(1704164645123)), Date, "2024-01-02"},
		{ts(int64(1704164645123)), Time, "03:04:05.123"},
		{tv{v: int32(19724), t: Date}, Timestamp, "2024-01-02T00:00:00.000"},
		{str(" 42 "), Int, "42"},
		{str("4x"), Int, "NULL"},
		{str("1.5e3"), Double, "1500.0"},
		{str("3.14159"), Decimal(4, 2), "3.14"},
		{str("TRUE"), Boolean, "true"},
		{str("yes"), Boolean, "false"},
		{str("2024-01-02T03:04:05Z"), Timestamp, "2024-01-02T03:04:05.000"},
		{str("2024-01-02"), Date, "2024-01-02"},
		{str("12:34:56"), Time, "12:34:56"},
		{tv{v: nil, t: Null}, Int, "NULL"},
	}
	for _, c := range cases {
		t.Run(SQLType(c.in.t)+"->"+SQLType(c.to), func(t *testing.T) {
			ctx, mem := checkedCtx(t)
			rec, cols := record(t, mem, 2, c.in)
			defer rec.Release()
			e, err := Cast(cols[0], c.to)
			if err != nil {
				t.Fatal(err)
			}
			if got := evalShow(t, ctx, e, rec); got != c.want {
				t.Errorf("CAST(%v AS %s) = %s, want %s", c.in.v, SQLType(c.to), got, c.want)
			}
			k, err := Cast(lit(t, c.in.v, c.in.t), c.to)
			if err != nil {
				t.Fatal(err)
			}
			if got := evalShow(t, ctx, k, rec); got != c.want {
				t.Errorf("constant CAST(%v AS %s) = %s, want %s", c.in.v, SQLType(c.to), got, c.want)
			}
		})
	}
	if _, err := Cast(lit(t, []byte("x"), Bytes), String); err == nil {
		t.Error("BYTES → VARCHAR accepted")
	}
	if _, err := Cast(lit(t, true, Boolean), Int); err == nil {
		t.Error("BOOLEAN → INT accepted")
	}
}

func TestTypeErrors(t *testing.T) {
	s, i := Column(0, "s", String), Column(1, "i", Int)
	cases := []struct {
		name string
		args []Expr
		want string
	}{
		{"=", []Expr{s, i}, "cannot compare VARCHAR with INT"},
		{"<", []Expr{i, s}, "cannot compare INT with VARCHAR"},
		{"SUBSTRING", []Expr{s, i, i, i}, "function SUBSTRING expects 2 or 3 arguments, got 4"},
		{"UCASE", []Expr{}, "function UCASE expects 1 argument, got 0"},
		{"NOSUCH", []Expr{s}, "unknown function NOSUCH"},
		{"+", []Expr{s, i}, "cannot apply + to VARCHAR and INT"},
		{"AND", []Expr{i, i}, "function AND: argument 1 (i) has type INT, expected BOOLEAN"},
		{"UCASE", []Expr{i}, "function UCASE: argument 1 (i) has type INT, expected VARCHAR"},
		{"ABS", []Expr{s}, "function ABS: argument 1 (s) has type VARCHAR, expected a numeric type"},
		{"COALESCE", []Expr{s, i}, "COALESCE: incompatible types VARCHAR and INT"},
		{"IN", []Expr{i, s}, "cannot compare INT with VARCHAR"},
		{"<", []Expr{Column(2, "b", Boolean), Column(2, "b", Boolean)}, "operator < is not defined for BOOLEAN"},
		{"REGEXP_EXTRACT", []Expr{lit(t, "(", String), s}, "invalid regular expression"},
		{"SUBSCRIPT", []Expr{s, i}, "cannot subscript a value of type VARCHAR"},
		{"concat_ws", []Expr{s}, "function CONCAT_WS expects at least 2 arguments, got 1"},
	}
	for _, c := range cases {
		_, err := Call(c.name, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := Case([]When{{Cond: i, Then: s}}, nil); err == nil || !strings.Contains(err.Error(), "expected BOOLEAN") {
		t.Errorf("CASE with INT condition: %v", err)
	}
	if _, err := Case([]When{{Cond: lit(t, true, Boolean), Then: s}}, i); err == nil {
		t.Error("CASE with VARCHAR and INT branches accepted")
	}
	if _, err := Literal("x", Int); err == nil {
		t.Error("Literal('x', INT) accepted")
	}
	if _, err := Literal(int64(1)<<40, Int); err == nil {
		t.Error("out-of-range INT literal accepted")
	}
	if _, err := Field(s, "x"); err == nil {
		t.Error("field access on VARCHAR accepted")
	}
}
