package expr

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

func init() {
	register(&function{minArgs: 2, maxArgs: 3, bind: bindLike, render: func(_ string, a []string) string {
		if len(a) == 3 {
			return "(" + a[0] + " LIKE " + a[1] + " ESCAPE " + a[2] + ")"
		}
		return "(" + a[0] + " LIKE " + a[1] + ")"
	}}, "LIKE")
}

// matcher reports whether a string matches a compiled LIKE pattern.
type matcher func(string) bool

// compileLike translates a LIKE pattern: % matches any sequence, _ any single
// character, and esc (0 for none) makes the next character literal. Matching
// is case-sensitive. Patterns made of one literal run with % at either end
// avoid regular expressions.
func compileLike(pattern string, esc rune) (matcher, error) {
	type part struct {
		wild rune // '%', '_' or 0 for literal text
		lit  string
	}
	var parts []part
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, part{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(pattern); {
		r, w := utf8.DecodeRuneInString(pattern[i:])
		i += w
		switch {
		case esc != 0 && r == esc:
			if i >= len(pattern) {
				return nil, fmt.Errorf("LIKE pattern %q ends with the escape character", pattern)
			}
			r, w = utf8.DecodeRuneInString(pattern[i:])
			i += w
			lit.WriteRune(r)
		case r == '%' || r == '_':
			flush()
			parts = append(parts, part{wild: r})
		default:
			lit.WriteRune(r)
		}
	}
	flush()
	pct := func(p part) bool { return p.wild == '%' }
	switch {
	case len(parts) == 0:
		return func(s string) bool { return s == "" }, nil
	case len(parts) == 1 && parts[0].wild == 0:
		l := parts[0].lit
		return func(s string) bool { return s == l }, nil
	case len(parts) == 1 && pct(parts[0]):
		return func(string) bool { return true }, nil
	case len(parts) == 2 && parts[0].wild == 0 && pct(parts[1]):
		l := parts[0].lit
		return func(s string) bool { return strings.HasPrefix(s, l) }, nil
	case len(parts) == 2 && pct(parts[0]) && parts[1].wild == 0:
		l := parts[1].lit
		return func(s string) bool { return strings.HasSuffix(s, l) }, nil
	case len(parts) == 3 && pct(parts[0]) && parts[1].wild == 0 && pct(parts[2]):
		l := parts[1].lit
		return func(s string) bool { return strings.Contains(s, l) }, nil
	}
	var re strings.Builder
	re.WriteString(`(?s)\A`)
	for _, p := range parts {
		switch p.wild {
		case '%':
			re.WriteString(".*")
		case '_':
			re.WriteString(".")
		default:
			re.WriteString(regexp.QuoteMeta(p.lit))
		}
	}
	re.WriteString(`\z`)
	rx, err := regexp.Compile(re.String())
	if err != nil {
		return nil, err
	}
	return rx.MatchString, nil
}

// bindLike is value LIKE pattern [ESCAPE char]. A literal pattern is compiled
// once; per-row patterns are compiled once per distinct value and batch.
func bindLike(name string, args []Expr) (*call, error) {
	args, err := checkArgs(name, args, String)
	if err != nil {
		return nil, err
	}
	var esc rune
	if len(args) == 3 {
		e, ok := literalString(args[2])
		if !ok || utf8.RuneCountInString(e) != 1 {
			return nil, fmt.Errorf("LIKE: ESCAPE must be a single-character string literal, got %s", args[2])
		}
		esc, _ = utf8.DecodeRuneInString(e)
	}
	var fixed matcher
	if p, ok := literalString(args[1]); ok {
		if fixed, err = compileLike(p, esc); err != nil {
			return nil, err
		}
	}
	return &call{args: args, typ: Boolean, kern: rowKernel(func(mem memory.Allocator, a []arg, n int) arrow.Array {
		str, pat := strGetter(a[0]), strGetter(a[1])
		seen := map[string]matcher{}
		return boolResult(mem, n, func(i int) (bool, bool) {
			s, ok1 := str(i)
			p, ok2 := pat(i)
			if !ok1 || !ok2 {
				return false, false
			}
			m := fixed
			if m == nil {
				var ok bool
				if m, ok = seen[p]; !ok {
					m, _ = compileLike(p, esc) // a malformed per-row pattern gives NULL
					seen[p] = m
				}
				if m == nil {
					return false, false
				}
			}
			return m(s), true
		})
	})}, nil
}
