package expr

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// dtPattern is a compiled java.time.format.DateTimeFormatter pattern. The
// supported letters are:
//
//	y u   year (yy: two digits, 2000-based when parsing)
//	M L   month (M, MM, MMM short name, MMMM full name)
//	d D   day of month, day of year
//	E     day of week (E–EEE short name, EEEE full name; format only)
//	a     AM/PM
//	H k   hour of day (0-23, 1-24);  h K  hour of AM/PM (1-12, 0-11)
//	m s   minute, second
//	S     fraction of second (one S per digit)
//	X x Z zone offset (X: 'Z' for zero; counts as in Java)
//	z     zone abbreviation (format only)
//	VV    zone ID
//	'..'  quoted literal ('' is a single quote)
//
// Other ASCII letters, and optional sections, are rejected when compiling.
type dtPattern struct {
	src  string
	toks []dtToken
}

type dtToken struct {
	letter byte // 0 for a literal
	count  int
	lit    string
}

func compilePattern(p string) (*dtPattern, error) {
	out := &dtPattern{src: p}
	for i := 0; i < len(p); {
		c := p[i]
		switch {
		case c == '\'':
			j := i + 1
			var lit strings.Builder
			for {
				if j >= len(p) {
					return nil, fmt.Errorf("pattern %q: unterminated quote", p)
				}
				if p[j] == '\'' {
					if j+1 < len(p) && p[j+1] == '\'' {
						lit.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				lit.WriteByte(p[j])
				j++
			}
			if j == i+1 {
				lit.WriteByte('\'') // '' outside quotes
			}
			out.toks = append(out.toks, dtToken{lit: lit.String()})
			i = j + 1
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(p) && p[j] == c {
				j++
			}
			n := j - i
			if !strings.ContainsRune("yuMLdDEaHkhKmsSXxZzV", rune(c)) || c == 'V' && n != 2 {
				return nil, fmt.Errorf("pattern %q: unsupported pattern letter '%c'", p, c)
			}
			out.toks = append(out.toks, dtToken{letter: c, count: n})
			i = j
		case c == '[' || c == ']' || c == '{' || c == '}' || c == '#':
			return nil, fmt.Errorf("pattern %q: reserved character '%c' is not supported", p, c)
		default:
			out.toks = append(out.toks, dtToken{lit: string(c)})
			i++
		}
	}
	return out, nil
}

func appendPadded(buf []byte, v, width int) []byte {
	if v < 0 {
		buf = append(buf, '-')
		v = -v
	}
	s := strconv.Itoa(v)
	for k := len(s); k < width; k++ {
		buf = append(buf, '0')
	}
	return append(buf, s...)
}

// format appends t, already in the wanted location, to buf.
func (p *dtPattern) format(buf []byte, t time.Time) []byte {
	for _, tk := range p.toks {
		n := tk.count
		switch tk.letter {
		case 0:
			buf = append(buf, tk.lit...)
		case 'y', 'u':
			if n == 2 {
				buf = appendPadded(buf, t.Year()%100, 2)
			} else {
				buf = appendPadded(buf, t.Year(), n)
			}
		case 'M', 'L':
			switch {
			case n == 3:
				buf = append(buf, t.Month().String()[:3]...)
			case n >= 4:
				buf = append(buf, t.Month().String()...)
			default:
				buf = appendPadded(buf, int(t.Month()), n)
			}
		case 'd':
			buf = appendPadded(buf, t.Day(), n)
		case 'D':
			buf = appendPadded(buf, t.YearDay(), n)
		case 'E':
			if n >= 4 {
				buf = append(buf, t.Weekday().String()...)
			} else {
				buf = append(buf, t.Weekday().String()[:3]...)
			}
		case 'a':
			if t.Hour() < 12 {
				buf = append(buf, "AM"...)
			} else {
				buf = append(buf, "PM"...)
			}
		case 'H':
			buf = appendPadded(buf, t.Hour(), n)
		case 'k':
			buf = appendPadded(buf, (t.Hour()+23)%24+1, n)
		case 'h':
			buf = appendPadded(buf, (t.Hour()+11)%12+1, n)
		case 'K':
			buf = appendPadded(buf, t.Hour()%12, n)
		case 'm':
			buf = appendPadded(buf, t.Minute(), n)
		case 's':
			buf = appendPadded(buf, t.Second(), n)
		case 'S':
			frac := fmt.Sprintf("%09d", t.Nanosecond())
			for len(frac) < n {
				frac += "0"
			}
			buf = append(buf, frac[:n]...)
		case 'X', 'x', 'Z':
			buf = appendOffset(buf, tk.letter, n, t)
		case 'z':
			buf = append(buf, t.Format("MST")...)
		case 'V':
			buf = append(buf, t.Location().String()...)
		}
	}
	return buf
}

func appendOffset(buf []byte, letter byte, n int, t time.Time) []byte {
	_, off := t.Zone()
	if off == 0 && (letter == 'X' || letter == 'Z' && n == 5) {
		return append(buf, 'Z')
	}
	if letter == 'Z' && n == 4 {
		buf = append(buf, "GMT"...)
		if off == 0 {
			return buf
		}
	}
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	h, m := off/3600, off/60%60
	buf = appendPadded(append(buf, sign), h, 2)
	colon := letter == 'Z' && n >= 4 || letter != 'Z' && (n == 3 || n == 5)
	switch {
	case letter != 'Z' && n == 1:
		if m != 0 {
			buf = appendPadded(buf, m, 2)
		}
	case colon:
		buf = appendPadded(append(buf, ':'), m, 2)
	default:
		buf = appendPadded(buf, m, 2)
	}
	return buf
}

// parse reads s in full; fields the pattern lacks default to 1970-01-01
// 00:00:00 and the zone to loc unless the text carries an offset or zone ID.
func (p *dtPattern) parse(s string, loc *time.Location) (time.Time, error) {
	year, month, day, yday := 1970, 1, 1, 0
	hour, minute, sec, nanos := 0, 0, 0, 0
	pm, hour12 := -1, -1
	pos := 0
	fail := func(what string) (time.Time, error) {
		return time.Time{}, fmt.Errorf("text %q does not match pattern %q at position %d (%s)", s, p.src, pos, what)
	}
	num := func(minW, maxW int) (int, bool) {
		start := pos
		neg := false
		if pos < len(s) && (s[pos] == '-' || s[pos] == '+') && minW > 2 {
			neg = s[pos] == '-'
			pos++
			start++
		}
		for pos < len(s) && pos-start < maxW && s[pos] >= '0' && s[pos] <= '9' {
			pos++
		}
		if pos-start < minW {
			return 0, false
		}
		v, _ := strconv.Atoi(s[start:pos])
		if neg {
			v = -v
		}
		return v, true
	}
	for _, tk := range p.toks {
		n := tk.count
		width := func() (int, int) {
			if n == 1 {
				return 1, 2
			}
			return n, n
		}
		var ok bool
		switch tk.letter {
		case 0:
			if !strings.HasPrefix(s[pos:], tk.lit) {
				return fail("expected " + strconv.Quote(tk.lit))
			}
			pos += len(tk.lit)
			continue
		case 'y', 'u':
			switch n {
			case 2:
				year, ok = num(2, 2)
				year += 2000
			default:
				year, ok = num(n, 9)
			}
		case 'M', 'L':
			if n >= 3 {
				month, ok = parseName(s, &pos, n, func(i int) string { return time.Month(i + 1).String() }, 12)
				month++
			} else {
				month, ok = num(width())
			}
		case 'd':
			day, ok = num(width())
		case 'D':
			yday, ok = num(n, 3)
		case 'E':
			_, ok = parseName(s, &pos, n, func(i int) string { return time.Weekday(i).String() }, 7)
		case 'a':
			pm, ok = parseName(s, &pos, 3, func(i int) string { return []string{"AM", "PM"}[i] }, 2)
		case 'H', 'k':
			hour, ok = num(width())
			if tk.letter == 'k' && hour == 24 {
				hour = 0
			}
		case 'h', 'K':
			hour12, ok = num(width())
			hour12 %= 12
		case 'm':
			minute, ok = num(width())
		case 's':
			sec, ok = num(width())
		case 'S':
			var f int
			if f, ok = num(n, n); ok {
				for k := n; k < 9; k++ {
					f *= 10
				}
				nanos = f
			}
		case 'X', 'x', 'Z':
			var off int
			if off, ok = parseOffset(s, &pos); ok {
				loc = time.FixedZone("", off)
			}
		case 'z':
			return time.Time{}, fmt.Errorf("pattern %q: zone names (z) cannot be parsed; use VV or X", p.src)
		case 'V':
			end := pos
			for end < len(s) && s[end] != ' ' {
				end++
			}
			l, err := time.LoadLocation(s[pos:end])
			if ok = err == nil; ok {
				loc, pos = l, end
			}
		}
		if !ok {
			return fail(fmt.Sprintf("field %s", strings.Repeat(string(tk.letter), n)))
		}
	}
	if pos != len(s) {
		return fail("unparsed trailing text")
	}
	if hour12 >= 0 {
		hour = hour12
		if pm == 1 {
			hour += 12
		}
	} else if pm == 1 && hour < 12 {
		hour += 12
	}
	if month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59 {
		return fail("field out of range")
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nanos, loc)
	if yday > 0 {
		t = time.Date(year, 1, yday, hour, minute, sec, nanos, loc)
	} else if t.Day() != day {
		return fail("invalid date")
	}
	return t, nil
}

// parseName matches a (case-insensitive) full or 3-letter name.
func parseName(s string, pos *int, n int, name func(int) string, count int) (int, bool) {
	for i := range count {
		full := name(i)
		cand := full
		if n < 4 {
			cand = full[:min(3, len(full))]
		}
		if len(s)-*pos >= len(cand) && strings.EqualFold(s[*pos:*pos+len(cand)], cand) {
			*pos += len(cand)
			return i, true
		}
	}
	return 0, false
}

// parseOffset reads Z, ±HH, ±HHMM or ±HH:MM (optionally GMT/UTC-prefixed).
func parseOffset(s string, pos *int) (int, bool) {
	rest := s[*pos:]
	for _, p := range []string{"GMT", "UTC"} {
		if strings.HasPrefix(rest, p) {
			*pos += 3
			rest = rest[3:]
			if rest == "" || rest[0] != '+' && rest[0] != '-' {
				return 0, true
			}
		}
	}
	if strings.HasPrefix(rest, "Z") {
		*pos++
		return 0, true
	}
	if rest == "" || rest[0] != '+' && rest[0] != '-' {
		return 0, false
	}
	sign := 1
	if rest[0] == '-' {
		sign = -1
	}
	digits := func(i int) (int, bool) {
		if len(rest) < i+2 || rest[i] < '0' || rest[i] > '9' || rest[i+1] < '0' || rest[i+1] > '9' {
			return 0, false
		}
		return int(rest[i]-'0')*10 + int(rest[i+1]-'0'), true
	}
	h, ok := digits(1)
	if !ok {
		return 0, false
	}
	used := 3
	m := 0
	if v, ok := digits(3); ok {
		m, used = v, 5
	} else if len(rest) > 3 && rest[3] == ':' {
		if v, ok := digits(4); ok {
			m, used = v, 6
		}
	}
	*pos += used
	return sign * (h*3600 + m*60), true
}
