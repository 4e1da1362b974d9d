package schema

import (
	"reflect"
	"strings"
	"testing"
)

func TestDelimitedDecode(t *testing.T) {
	s := must(New(
		Column{Name: "S", Type: String},
		Column{Name: "I", Type: Int},
		Column{Name: "D", Type: must(Decimal(5, 2))},
		Column{Name: "T", Type: Timestamp},
		Column{Name: "B", Type: Bytes},
	))
	for _, tc := range []struct {
		in   string
		want []any
		err  string
	}{
		{`abc,1,2.5,1700000000000,AQI=`, []any{"abc", int32(1), "2.50", int64(1700000000000), []byte{1, 2}}, ""},
		{`,,,,`, []any{nil, nil, nil, nil, nil}, ""},
		{`"",,"",,""`, []any{"", nil, nil, nil, []byte{}}, ""},
		{`"a,""b""` + "\n" + `c",-7,"3",2023-11-14T22:13:20Z,`, []any{"a,\"b\"\nc", int32(-7), "3.00", int64(1700000000000), nil}, ""},
		{`a"b,1,1,1,`, []any{`a"b`, int32(1), "1.00", int64(1), nil}, ""},
		{`abc,1,2.5`, nil, "DELIMITED value has 3 fields, not 5"},
		{`abc,1,2.5,1,,`, nil, "DELIMITED value has 6 fields, not 5"},
		{``, nil, "DELIMITED value has 1 fields, not 5"},
		{`"abc,1,2,3,`, nil, "missing closing quote"},
		{`"ab"c,1,2,3,`, nil, `'c' after the closing quote`},
		{`x,1.5,2,3,`, nil, "not an integer"},
		{`x, 1,2,3,`, nil, `cannot convert " 1" to INT`},
	} {
		d := newDecoder(t, s, Format{}, Format{Kind: Delimited})
		err := d.Append(Record{Value: []byte(tc.in)})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: %v, want error %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got := rowOf(flush(t, d), 0); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q = %#v, want %#v", tc.in, got, tc.want)
		}
	}
}

func TestDelimitedEncode(t *testing.T) {
	s := must(New(
		Column{Name: "S", Type: String},
		Column{Name: "N", Type: BigInt},
		Column{Name: "F", Type: Double},
		Column{Name: "B", Type: Boolean},
	))
	for _, tc := range []struct {
		delim   rune
		in, out string
	}{
		{0, `plain,-1,2.5,true`, `plain,-1,2.5,true`},
		{0, `"",,NaN,`, `"",,NaN,`},
		{0, `"a,b",1,1e300,false`, `"a,b",1,1e+300,false`},
		{0, `"say ""hi""",1,-0,TRUE`, `"say ""hi""",1,-0,true`},
		{'|', `"a|b"|1|1.5|`, `"a|b"|1|1.5|`},
		{'|', `a,b|1|1.5|`, `a,b|1|1.5|`},
		{'-', `a|"-1"|"-2"|`, `a|"-1"|"-2"|`},
		{'\t', "tab\t2\t3\tfalse", "tab\t2\t3\tfalse"},
		{'é', `"xéy"é1é2étrue`, `"xéy"é1é2étrue`},
	} {
		f := Format{Kind: Delimited, Delimiter: tc.delim}
		in := tc.in
		if tc.delim == '-' {
			in = strings.ReplaceAll(in, "|", "-")
		}
		d := newDecoder(t, s, Format{}, f)
		if err := d.Append(Record{Value: []byte(in)}); err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		rec := flush(t, d)
		got, err := must(NewEncoder(s.Values(), f)).Encode(rec, 0, []byte("prefix:"))
		want := "prefix:" + tc.out
		if tc.delim == '-' {
			want = "prefix:" + strings.ReplaceAll(tc.out, "|", "-")
		}
		if err != nil || string(got) != want {
			t.Errorf("%q encodes as %q, %v; want %q", in, got, err, want)
		}
	}
}
