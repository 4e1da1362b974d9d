package expr

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/compute"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// String positions and lengths count characters (Unicode code points; Java
// counts UTF-16 units, which differs only outside the BMP) for VARCHAR and
// bytes for BYTES.

func init() {
	register(&function{minArgs: 2, maxArgs: 2, bind: bindConcatOp, render: infix}, "||")
	register(&function{minArgs: 1, maxArgs: -1, bind: bindConcat}, "CONCAT")
	register(&function{minArgs: 2, maxArgs: -1, bind: bindConcatWS}, "CONCAT_WS")
	register(&function{minArgs: 1, maxArgs: 1, bind: bindCase(strings.ToUpper, &upperASCII)}, "UCASE", "UPPER")
	register(&function{minArgs: 1, maxArgs: 1, bind: bindCase(strings.ToLower, &lowerASCII)}, "LCASE", "LOWER")
	register(&function{minArgs: 1, maxArgs: 1, bind: bindStrMap(initcap)}, "INITCAP")
	register(&function{minArgs: 1, maxArgs: 1, bind: bindStrMap(javaTrim(true, true))}, "TRIM")
	register(&function{minArgs: 1, maxArgs: 1, bind: bindStrMap(javaTrim(true, false))}, "LTRIM")
	register(&function{minArgs: 1, maxArgs: 1, bind: bindStrMap(javaTrim(false, true))}, "RTRIM")
	register(&function{minArgs: 1, maxArgs: 1, bind: bindLen}, "LEN", "LENGTH")
	register(&function{minArgs: 2, maxArgs: 3, bind: bindSubstring}, "SUBSTRING", "SUBSTR")
	register(&function{minArgs: 3, maxArgs: 3, bind: bindReplace}, "REPLACE")
	register(&function{minArgs: 2, maxArgs: 4, bind: bindInstr}, "INSTR")
	register(&function{minArgs: 3, maxArgs: 3, bind: bindPad(true)}, "LPAD")
	register(&function{minArgs: 3, maxArgs: 3, bind: bindPad(false)}, "RPAD")
	register(&function{minArgs: 2, maxArgs: 2, bind: bindSplit}, "SPLIT")
	register(&function{minArgs: 2, maxArgs: 3, bind: bindRegexpExtract}, "REGEXP_EXTRACT")
	register(&function{minArgs: 3, maxArgs: 3, bind: bindRegexpReplace}, "REGEXP_REPLACE")
}

// textType returns the shared type of VARCHAR-or-BYTES arguments.
func textType(name string, args []Expr) (arrow.DataType, error) {
	t := String
	for _, a := range args {
		if at := a.Type(); at.ID() == arrow.BINARY {
			t = Bytes
		}
	}
	for i, a := range args {
		if at := a.Type(); at.ID() != t.ID() && !isNull(at) {
			return nil, typeErr(name, i+1, a, SQLType(t))
		}
	}
	return t, nil
}

// textCall binds a function of VARCHAR-or-BYTES arguments, coerced to
// their shared type, whose row i is row(gs, i, buf): the value appended to
// buf, and whether it is not NULL.
func textCall(name string, args []Expr, row func(gs []getter[string], i int, buf []byte) ([]byte, bool)) (*call, error) {
	t, err := textType(name, args)
	if err != nil {
		return nil, err
	}
	if args, err = coerceAll(args, t); err != nil {
		return nil, err
	}
	return &call{args: args, typ: t, kern: rowKernel(func(mem memory.Allocator, a []arg, n int) arrow.Array {
		gs := getters(a)
		return strResult(mem, t, n, func(i int, buf []byte) ([]byte, bool) { return row(gs, i, buf) })
	})}, nil
}

// bindConcatOp is a || b (and VARCHAR + VARCHAR): NULL if either side is NULL.
func bindConcatOp(name string, args []Expr) (*call, error) {
	return textCall(name, args, func(gs []getter[string], i int, buf []byte) ([]byte, bool) {
		x, ok1 := gs[0](i)
		y, ok2 := gs[1](i)
		return append(append(buf, x...), y...), ok1 && ok2
	})
}

// bindConcat is CONCAT: NULL arguments count as empty; the result is never NULL.
func bindConcat(name string, args []Expr) (*call, error) {
	return textCall(name, args, func(gs []getter[string], i int, buf []byte) ([]byte, bool) {
		for _, g := range gs {
			s, _ := g(i)
			buf = append(buf, s...)
		}
		return buf, true
	})
}

// bindConcatWS is CONCAT_WS(sep, …): NULL if sep is NULL; NULL values are skipped.
func bindConcatWS(name string, args []Expr) (*call, error) {
	return textCall(name, args, func(gs []getter[string], i int, buf []byte) ([]byte, bool) {
		sep, ok := gs[0](i)
		if !ok {
			return buf, false
		}
		first := true
		for _, g := range gs[1:] {
			if s, ok := g(i); ok {
				if !first {
					buf = append(buf, sep...)
				}
				buf, first = append(buf, s...), false
			}
		}
		return buf, true
	})
}

func getters(a []arg) []getter[string] {
	gs := make([]getter[string], len(a))
	for i := range a {
		gs[i] = strGetter(a[i])
	}
	return gs
}

// bindCase is UCASE/LCASE. ASCII batches are converted byte-wise straight
// into a buffer that reuses the input's offsets layout.
func bindCase(conv func(string) string, ascii *[256]byte) func(string, []Expr) (*call, error) {
	return func(name string, args []Expr) (*call, error) {
		args, err := checkArgs(name, args, String)
		if err != nil {
			return nil, err
		}
		return &call{args: args, typ: String, kern: arrays(func(ctx context.Context, a []arrow.Array, n int) (arrow.Array, error) {
			mem := compute.GetAllocator(ctx)
			s := a[0].(*array.String)
			if out := mapASCII(mem, s, ascii); out != nil {
				return out, nil
			}
			return strResult(mem, String, n, func(i int, buf []byte) ([]byte, bool) {
				return append(buf, conv(s.Value(i))...), s.IsValid(i)
			}), nil
		})}, nil
	}
}

// ASCII case-mapping tables.
var upperASCII, lowerASCII = func() (up, low [256]byte) {
	for i := range up {
		up[i], low[i] = byte(i), byte(i)
	}
	for c := 'a'; c <= 'z'; c++ {
		up[c], low[c-32] = byte(c-32), byte(c)
	}
	return
}()

// mapASCII maps every byte through table when the column is pure ASCII, else returns nil.
func mapASCII(mem memory.Allocator, s *array.String, table *[256]byte) arrow.Array {
	n := s.Len()
	data := s.ValueBytes()
	dataBuf, outData := newValues[uint8](mem, len(data))
	var high byte
	for i, c := range data {
		high |= c
		outData[i] = table[c]
	}
	if high >= utf8.RuneSelf {
		dataBuf.Release()
		return nil
	}
	offs := s.ValueOffsets()
	offBuf, outOffs := newValues[int32](mem, n+1)
	for i, o := range offs {
		outOffs[i] = o - offs[0]
	}
	valid, nulls := validity(mem, n, s)
	return build(String, n, valid, nulls, offBuf, dataBuf)
}

// bindStrMap lifts a string → string function; NULL stays NULL.
func bindStrMap(f func(string) string) func(string, []Expr) (*call, error) {
	return func(name string, args []Expr) (*call, error) {
		args, err := checkArgs(name, args, String)
		if err != nil {
			return nil, err
		}
		return &call{args: args, typ: String, kern: rowKernel(func(mem memory.Allocator, a []arg, n int) arrow.Array {
			g := strGetter(a[0])
			return strResult(mem, String, n, func(i int, buf []byte) ([]byte, bool) {
				s, ok := g(i)
				return append(buf, f(s)...), ok
			})
		})}, nil
	}
}

// initcap upper-cases the first letter of each whitespace-delimited word and
// lower-cases the rest.
func initcap(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	start := true
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			start = true
		case start:
			r, start = unicode.ToUpper(r), false
		default:
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// javaTrim strips characters <= ' ' like Java's String.trim.
func javaTrim(left, right bool) func(string) string {
	ws := func(r rune) bool { return r <= ' ' }
	return func(s string) string {
		if left {
			s = strings.TrimLeftFunc(s, ws)
		}
		if right {
			s = strings.TrimRightFunc(s, ws)
		}
		return s
	}
}

func bindLen(name string, args []Expr) (*call, error) {
	t, err := textType(name, args)
	if err != nil {
		return nil, err
	}
	if args, err = coerceAll(args, t); err != nil {
		return nil, err
	}
	return &call{args: args, typ: Int, kern: rowKernel(func(mem memory.Allocator, a []arg, n int) arrow.Array {
		g := strGetter(a[0])
		return numResult(mem, Int, n, func(i int) (int32, bool) {
			s, ok := g(i)
			if t.ID() == arrow.BINARY {
				return int32(len(s)), ok
			}
			return int32(utf8.RuneCountInString(s)), ok
		})
	})}, nil
}

// units gives the character (VARCHAR) or byte (BYTES) boundaries of s:
// count, and a function from unit index to byte offset.
func units(s string, chars bool) (int, func(int) int) {
	if !chars || isASCII(s) {
		return len(s), func(k int) int { return k }
	}
	idx := make([]int, 0, len(s)+1)
	for i := range s {
		idx = append(idx, i)
	}
	idx = append(idx, len(s))
	return len(idx) - 1, func(k int) int { return idx[k] }
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// bindSubstring is SUBSTRING(s, pos [, len]) with ksqlDB's rules: pos is
// 1-based, a negative pos counts from the end, and out-of-range bounds clamp.
func bindSubstring(name string, args []Expr) (*call, error) {
	t, err := textType(name, args[:1])
	if err != nil {
		return nil, err
	}
	want := []arrow.DataType{t, BigInt, BigInt}
	if args, err = checkArgs(name, args, want[:len(args)]...); err != nil {
		return nil, err
	}
	chars := t.ID() == arrow.STRING
	return &call{args: args, typ: t, kern: rowKernel(func(mem memory.Allocator, a []arg, n int) arrow.Array {
		str, pos := strGetter(a[0]), intGetter(a[1])
		length := func(int) (int64, bool) { return -1, true }
		if len(a) == 3 {
			length = intGetter(a[2])
		}
		return strResult(mem, t, n, func(i int, buf []byte) ([]byte, bool) {
			s, ok1 := str(i)
			p, ok2 := pos(i)
			l, ok3 := length(i)
			if !ok1 || !ok2 || !ok3 {
				return buf, false
			}
			cnt, at := units(s, chars)
			start := int64(max(min(p-1, int64(cnt)), 0))
			if p < 0 {
				start = max(int64(cnt)+p, 0)
			}
			end := int64(cnt)
			if len(a) == 3 {
				end = max(min(start+l, int64(cnt)), start)
			}
			return append(buf, s[at(int(start)):at(int(end))]...), true
		})
	})}, nil
}

func bindReplace(name string, args []Expr) (*call, error) {
	args, err := checkArgs(name, args, String)
	if err != nil {
		return nil, err
	}
	return &call{args: args, typ: String, kern: rowKernel(func(mem memory.Allocator, a []arg, n int) arrow.Array {
		s, old, rep := strGetter(a[0]), strGetter(a[1]), strGetter(a[2])
		return strResult(mem, String, n, func(i int, buf []byte) ([]byte, bool) {
			x, ok1 := s(i)
			o, ok2 := old(i)
			r, ok3 := rep(i)
			return append(buf, strings.ReplaceAll(x, o, r)...), ok1 && ok2 && ok3
		})
	})}, nil
}

// bindInstr is INSTR(s, sub [, pos [, occurrence]]): the 1-based position of
// the occurrence-th match searching from pos (backwards when pos < 0), or 0.
func bindInstr(name string, args []Expr) (*call, error) {
	want := []arrow.DataType{String, String, BigInt, BigInt}
	args, err := checkArgs(name, args, want[:len(args)]...)
	if err != nil {
		return nil, err
	}
	return &call{args: args, typ: Int, kern: rowKernel(func(mem memory.Allocator, a []arg, n int) arrow.Array {
		str, sub := strGetter(a[0]), strGetter(a[1])
		one := func(int) (int64, bool) { return 1, true }
		pos, occ := one, one
		if len(a) > 2 {
			pos = intGetter(a[2])
		}
		if len(a) > 3 {
			occ = intGetter(a[3])
		}
		return numResult(mem, Int, n, func(i int) (int32, bool) {
			s, ok1 := str(i)
			x, ok2 := sub(i)
			p, ok3 := pos(i)
			o, ok4 := occ(i)
			if !ok1 || !ok2 || !ok3 || !ok4 {
				return 0, false
			}
			return int32(instr([]rune(s), []rune(x), int(p), int(o))), true
		})
	})}, nil
}

func instr(s, sub []rune, pos, occ int) int {
	match := func(i int) bool { return i >= 0 && i+len(sub) <= len(s) && string(s[i:i+len(sub)]) == string(sub) }
	if pos == 0 || occ <= 0 {
		return 0
	}
	if pos > 0 {
		for i := pos - 1; i+len(sub) <= len(s); i++ {
			if match(i) {
				if occ--; occ == 0 {
					return i + 1
				}
			}
		}
		return 0
	}
	for i := min(len(s)+pos, len(s)-len(sub)); i >= 0; i-- {
		if match(i) {
			if occ--; occ == 0 {
				return i + 1
			}
		}
	}
	return 0
}

// bindPad is LPAD/RPAD(s, len, padding): truncates to len; NULL when padding
// is empty or len negative.
func bindPad(left bool) func(string, []Expr) (*call, error) {
	return func(name string, args []Expr) (*call, error) {
		args, err := checkArgs(name, args, String, BigInt, String)
		if err != nil {
			return nil, err
		}
		return &call{args: args, typ: String, kern: rowKernel(func(mem memory.Allocator, a []arg, n int) arrow.Array {
			str, length, pad := strGetter(a[0]), intGetter(a[1]), strGetter(a[2])
			return strResult(mem, String, n, func(i int, buf []byte) ([]byte, bool) {
				s, ok1 := str(i)
				l, ok2 := length(i)
				p, ok3 := pad(i)
				if !ok1 || !ok2 || !ok3 || p == "" || l < 0 {
					return buf, false
				}
				rs, ps := []rune(s), []rune(p)
				if int64(len(rs)) >= l {
					return append(buf, string(rs[:l])...), true
				}
				fill := make([]rune, 0, int(l)-len(rs))
				for len(fill) < cap(fill) {
					fill = append(fill, ps[len(fill)%len(ps)])
				}
				if left {
					return append(append(buf, string(fill)...), s...), true
				}
				return append(append(buf, s...), string(fill)...), true
			})
		})}, nil
	}
}

// bindSplit is SPLIT(s, delim) → ARRAY<VARCHAR>; an empty delimiter splits
// into characters.
func bindSplit(name string, args []Expr) (*call, error) {
	args, err := checkArgs(name, args, String)
	if err != nil {
		return nil, err
	}
	typ := Array(String)
	return &call{args: args, typ: typ, kern: rowKernel(func(mem memory.Allocator, a []arg, n int) arrow.Array {
		str, delim := strGetter(a[0]), strGetter(a[1])
		b := array.NewListBuilder(mem, String)
		defer b.Release()
		vb := b.ValueBuilder().(*array.StringBuilder)
		for i := range n {
			s, ok1 := str(i)
			d, ok2 := delim(i)
			if !ok1 || !ok2 {
				b.AppendNull()
				continue
			}
			b.Append(true)
			for _, part := range strings.Split(s, d) {
				vb.Append(part)
			}
		}
		return b.NewArray()
	})}, nil
}

// regexps compiles per-row regular expressions once per batch; a literal
// pattern is compiled at bind time.
type regexps struct {
	fixed *regexp.Regexp
	seen  map[string]*regexp.Regexp
}

func (r *regexps) get(p string) *regexp.Regexp {
	if r.fixed != nil {
		return r.fixed
	}
	if re, ok := r.seen[p]; ok {
		return re
	}
	re, _ := regexp.Compile(p) // invalid per-row patterns give NULL
	if r.seen == nil {
		r.seen = map[string]*regexp.Regexp{}
	}
	r.seen[p] = re
	return re
}

func constRegexp(name string, e Expr) (*regexp.Regexp, error) {
	if s, ok := literalString(e); ok {
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, fmt.Errorf("function %s: invalid regular expression: %w", name, err)
		}
		return re, nil
	}
	return nil, nil
}

// bindRegexpExtract is REGEXP_EXTRACT(pattern, s [, group]): the first match
// (or its group), NULL when there is none.
func bindRegexpExtract(name string, args []Expr) (*call, error) {
	want := []arrow.DataType{String, String, BigInt}
	args, err := checkArgs(name, args, want[:len(args)]...)
	if err != nil {
		return nil, err
	}
	fixed, err := constRegexp(name, args[0])
	if err != nil {
		return nil, err
	}
	return &call{args: args, typ: String, kern: rowKernel(func(mem memory.Allocator, a []arg, n int) arrow.Array {
		pat, str := strGetter(a[0]), strGetter(a[1])
		group := func(int) (int64, bool) { return 0, true }
		if len(a) == 3 {
			group = intGetter(a[2])
		}
		res := regexps{fixed: fixed}
		return strResult(mem, String, n, func(i int, buf []byte) ([]byte, bool) {
			p, ok1 := pat(i)
			s, ok2 := str(i)
			g, ok3 := group(i)
			if !ok1 || !ok2 || !ok3 {
				return buf, false
			}
			re := res.get(p)
			if re == nil || g < 0 || int(g) > re.NumSubexp() {
				return buf, false
			}
			m := re.FindStringSubmatchIndex(s)
			if m == nil || m[2*g] < 0 {
				return buf, false
			}
			return append(buf, s[m[2*g]:m[2*g+1]]...), true
		})
	})}, nil
}

// bindRegexpReplace is REGEXP_REPLACE(s, pattern, replacement); $1 in the
// replacement refers to a group.
func bindRegexpReplace(name string, args []Expr) (*call, error) {
	args, err := checkArgs(name, args, String)
	if err != nil {
		return nil, err
	}
	fixed, err := constRegexp(name, args[1])
	if err != nil {
		return nil, err
	}
	return &call{args: args, typ: String, kern: rowKernel(func(mem memory.Allocator, a []arg, n int) arrow.Array {
		str, pat, rep := strGetter(a[0]), strGetter(a[1]), strGetter(a[2])
		res := regexps{fixed: fixed}
		return strResult(mem, String, n, func(i int, buf []byte) ([]byte, bool) {
			s, ok1 := str(i)
			p, ok2 := pat(i)
			r, ok3 := rep(i)
			if !ok1 || !ok2 || !ok3 {
				return buf, false
			}
			re := res.get(p)
			if re == nil {
				return buf, false
			}
			return append(buf, re.ReplaceAllString(s, r)...), true
		})
	})}, nil
}
