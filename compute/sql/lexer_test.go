package sql

import (
	"fmt"
	"strings"
	"testing"
)

func TestLex(t *testing.T) {
	src := "select `My ``Col`` ` , \"x\" -- comment\n" +
		"  'it''s' 42 4.2 .5 1. 1e3 1.5E-2 2e+3 /* block\ncomment */ <> != <= >= || -> := ;\n" +
		"ü_1 über"
	want := []string{
		"1:1 keyword SELECT",
		"1:8 quoted My `Col` ",
		"1:22 op ,",
		"1:24 quoted x",
		"2:3 string it's",
		"2:11 integer 42",
		"2:14 decimal 4.2",
		"2:18 decimal .5",
		"2:21 decimal 1.",
		"2:24 double 1e3",
		"2:28 double 1.5E-2",
		"2:35 double 2e+3",
		"3:12 op <>",
		"3:15 op !=",
		"3:18 op <=",
		"3:21 op >=",
		"3:24 op ||",
		"3:27 op ->",
		"3:30 op :=",
		"3:33 op ;",
		"4:1 ident Ü_1",
		"4:5 ident ÜBER",
		"4:9 eof ",
	}
	kinds := map[tokenKind]string{
		tokEOF: "eof", tokIdent: "ident", tokKeyword: "keyword", tokQuotedIdent: "quoted",
		tokString: "string", tokInteger: "integer", tokDecimal: "decimal", tokDouble: "double", tokOp: "op",
	}
	toks, err := lex(src)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tok := range toks {
		got = append(got, fmt.Sprintf("%d:%d %s %s", tok.pos.Line, tok.pos.Col, kinds[tok.kind], tok.text))
	}
	if g, w := strings.Join(got, "\n"), strings.Join(want, "\n"); g != w {
		t.Errorf("got\n%s\nwant\n%s", g, w)
	}
}

func TestQuoteIdent(t *testing.T) {
	for name, want := range map[string]string{
		"ABC":     "ABC",
		"A_1":     "A_1",
		"_X":      "_X",
		"abc":     "`abc`",
		"1A":      "`1A`",
		"A B":     "`A B`",
		"a`b":     "`a``b`",
		"SELECT":  "`SELECT`",
		"ARRAY":   "`ARRAY`",
		"ÜBER":    "`ÜBER`",
		"STREAMS": "STREAMS",
	} {
		if got := QuoteIdent(name); got != want {
			t.Errorf("QuoteIdent(%q) = %s, want %s", name, got, want)
		}
	}
}
