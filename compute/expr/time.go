package expr

import (
	"context"
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // time zone IDs must resolve on hosts without a zoneinfo database

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

func init() {
	fmtTS := func(in arrow.DataType) *function {
		return &function{minArgs: 2, maxArgs: 3, bind: bindFormat(in, true)}
	}
	register(fmtTS(Timestamp), "FORMAT_TIMESTAMP")
	register(fmtTS(BigInt), "TIMESTAMPTOSTRING")
	register(&function{minArgs: 2, maxArgs: 2, bind: bindFormat(Date, false)}, "FORMAT_DATE")
	register(&function{minArgs: 2, maxArgs: 2, bind: bindFormat(Time, false)}, "FORMAT_TIME")
	register(&function{minArgs: 2, maxArgs: 3, bind: bindParse(Timestamp)}, "PARSE_TIMESTAMP")
	register(&function{minArgs: 2, maxArgs: 3, bind: bindParse(BigInt)}, "STRINGTOTIMESTAMP")
	register(&function{minArgs: 2, maxArgs: 2, bind: bindParse(Date)}, "PARSE_DATE")
	register(&function{minArgs: 2, maxArgs: 2, bind: bindParse(Time)}, "PARSE_TIME")
	register(&function{minArgs: 1, maxArgs: 1, bind: bindRetype(BigInt, Timestamp)}, "FROM_UNIXTIME")
	register(&function{minArgs: 1, maxArgs: 1, bind: bindRetype(Timestamp, BigInt)}, "UNIX_TIMESTAMP")
	register(&function{minArgs: 1, maxArgs: 1, bind: bindRetype(Int, Date)}, "FROM_DAYS")
	register(&function{minArgs: 1, maxArgs: 1, bind: bindRetype(Date, Int)}, "UNIX_DATE")
	for _, p := range []struct {
		names [2]string
		typ   arrow.DataType
	}{{[2]string{"TIMESTAMPADD", "TIMESTAMPSUB"}, Timestamp}, {[2]string{"DATEADD", "DATESUB"}, Date}, {[2]string{"TIMEADD", "TIMESUB"}, Time}} {
		register(&function{minArgs: 3, maxArgs: 3, bind: bindTimeAdd(p.typ, 1)}, p.names[0])
		register(&function{minArgs: 3, maxArgs: 3, bind: bindTimeAdd(p.typ, -1)}, p.names[1])
	}
}

// constPattern compiles a literal pattern at bind time; it returns nil for a
// pattern computed per row.
func constPattern(e Expr) (*dtPattern, error) {
	if s, ok := literalString(e); ok {
		return compilePattern(s)
	}
	return nil, nil
}

// patterns resolves per-row patterns, compiling each distinct one once per batch.
type patterns struct {
	fixed *dtPattern
	seen  map[string]*dtPattern
}

func (p *patterns) get(s string) *dtPattern {
	if p.fixed != nil {
		return p.fixed
	}
	if c, ok := p.seen[s]; ok {
		return c
	}
	c, _ := compilePattern(s) // invalid per-row patterns give NULL
	if p.seen == nil {
		p.seen = map[string]*dtPattern{}
	}
	p.seen[s] = c
	return c
}

// zones resolves per-row time zone IDs the same way.
type zones map[string]*time.Location

func (z zones) get(id string) *time.Location {
	if l, ok := z[id]; ok {
		return l
	}
	l, err := time.LoadLocation(id)
	if err != nil {
		l = nil
	}
	z[id] = l
	return l
}

func constZone(args []Expr) error {
	if len(args) == 3 {
		if id, ok := literalString(args[2]); ok {
			if _, err := time.LoadLocation(id); err != nil {
				return fmt.Errorf("unknown time zone %q", id)
			}
		}
	}
	return nil
}

// bindFormat renders a temporal as text; in is TIMESTAMP, BIGINT (epoch ms),
// DATE or TIME.
func bindFormat(in arrow.DataType, zoned bool) func(string, []Expr) (*call, error) {
	return func(name string, args []Expr) (*call, error) {
		args, err := checkArgs(name, args, in, String)
		if err != nil {
			return nil, err
		}
		fixed, err := constPattern(args[1])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if err := constZone(args); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		id := in.ID()
		return &call{args: args, typ: String, kern: rowKernel(func(mem memory.Allocator, a []arg, n int) arrow.Array {
			v, pat := intGetter(a[0]), strGetter(a[1])
			zone := func(int) (string, bool) { return "UTC", true }
			if zoned && len(a) == 3 {
				zone = strGetter(a[2])
			}
			pats, zs := patterns{fixed: fixed}, zones{}
			return strResult(mem, String, n, func(i int, buf []byte) ([]byte, bool) {
				x, ok1 := v(i)
				ps, ok2 := pat(i)
				z, ok3 := zone(i)
				if !ok1 || !ok2 || !ok3 {
					return buf, false
				}
				p, loc := pats.get(ps), zs.get(z)
				if p == nil || loc == nil {
					return buf, false
				}
				return p.format(buf, toTime(id, x).In(loc)), true
			})
		})}, nil
	}
}

// toTime converts an epoch-based temporal value to a UTC time.
func toTime(id arrow.Type, v int64) time.Time {
	if id == arrow.DATE32 {
		v *= msPerDay
	}
	return time.UnixMilli(v).UTC()
}

// bindParse reads text with a pattern into TIMESTAMP, BIGINT (epoch ms), DATE or TIME.
// Unparseable text gives NULL.
func bindParse(out arrow.DataType) func(string, []Expr) (*call, error) {
	return func(name string, args []Expr) (*call, error) {
		args, err := checkArgs(name, args, String)
		if err != nil {
			return nil, err
		}
		fixed, err := constPattern(args[1])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if err := constZone(args); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return &call{args: args, typ: out, kern: rowKernel(func(mem memory.Allocator, a []arg, n int) arrow.Array {
			text, pat := strGetter(a[0]), strGetter(a[1])
			zone := func(int) (string, bool) { return "UTC", true }
			if len(a) == 3 {
				zone = strGetter(a[2])
			}
			pats, zs := patterns{fixed: fixed}, zones{}
			at := func(i int) (int64, bool) {
				s, ok1 := text(i)
				ps, ok2 := pat(i)
				z, ok3 := zone(i)
				if !ok1 || !ok2 || !ok3 {
					return 0, false
				}
				p, loc := pats.get(ps), zs.get(z)
				if p == nil || loc == nil {
					return 0, false
				}
				t, err := p.parse(s, loc)
				if err != nil {
					return 0, false
				}
				return t.UnixMilli(), true
			}
			switch out.ID() {
			case arrow.DATE32:
				return numResult(mem, out, n, func(i int) (int32, bool) { ms, ok := at(i); return int32(floorDiv(ms, msPerDay)), ok })
			case arrow.TIME32:
				return numResult(mem, out, n, func(i int) (int32, bool) {
					ms, ok := at(i)
					return int32(ms - floorDiv(ms, msPerDay)*msPerDay), ok
				})
			}
			return numResult(mem, out, n, at)
		})}, nil
	}
}

// bindRetype reinterprets a column of the same physical layout without copying.
func bindRetype(in, out arrow.DataType) func(string, []Expr) (*call, error) {
	return func(name string, args []Expr) (*call, error) {
		args, err := checkArgs(name, args, in)
		if err != nil {
			return nil, err
		}
		return &call{args: args, typ: out, kern: arrays(func(_ context.Context, a []arrow.Array, _ int) (arrow.Array, error) {
			return reinterpret(a[0], out), nil
		})}, nil
	}
}

var timeUnits = map[string]int64{
	"MILLISECOND": 1, "SECOND": 1000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": msPerDay,
}

// bindTimeAdd is TIMESTAMPADD/SUB, DATEADD/SUB and TIMEADD/SUB(unit, n, value);
// unit is a VARCHAR literal such as 'DAYS' or 'HOURS'. DATEADD truncates the
// interval to whole days; TIMEADD wraps around midnight.
func bindTimeAdd(typ arrow.DataType, sign int64) func(string, []Expr) (*call, error) {
	return func(name string, args []Expr) (*call, error) {
		u, ok := literalString(args[0])
		if !ok {
			return nil, fmt.Errorf("function %s: the unit must be a string literal such as 'DAYS'", name)
		}
		unit, ok := timeUnits[strings.TrimSuffix(strings.ToUpper(u), "S")]
		if !ok {
			return nil, fmt.Errorf("function %s: unknown time unit %q", name, u)
		}
		rest, err := checkArgs(name, args[1:], BigInt, typ)
		if err != nil {
			return nil, err
		}
		return &call{args: append([]Expr{args[0]}, rest...), typ: typ, kern: rowKernel(func(mem memory.Allocator, a []arg, n int) arrow.Array {
			delta, v := intGetter(a[1]), intGetter(a[2])
			step := func(i int) (int64, int64, bool) {
				d, ok1 := delta(i)
				x, ok2 := v(i)
				return sign * d * unit, x, ok1 && ok2
			}
			switch typ.ID() {
			case arrow.DATE32:
				return numResult(mem, typ, n, func(i int) (int32, bool) { d, x, ok := step(i); return int32(x + d/msPerDay), ok })
			case arrow.TIME32:
				return numResult(mem, typ, n, func(i int) (int32, bool) {
					d, x, ok := step(i)
					ms := (x + d) % msPerDay
					if ms < 0 {
						ms += msPerDay
					}
					return int32(ms), ok
				})
			}
			return numResult(mem, typ, n, func(i int) (int64, bool) { d, x, ok := step(i); return x + d, ok })
		})}, nil
	}
}

// ISO-8601 text forms used by CAST and by comparisons with VARCHAR.

var isoLayouts = []string{
	"2006-01-02T15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999Z0700", "2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04Z07:00", "2006-01-02T15:04", "2006-01-02T15", "2006-01-02",
	"2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02 15:04",
}

func parseISOTimestamp(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	for _, l := range isoLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UnixMilli(), true
		}
	}
	return 0, false
}

func parseISODate(s string) (arrow.Date32, bool) {
	t, err := time.Parse("2006-01-02", strings.TrimSpace(s))
	if err != nil {
		return 0, false
	}
	return arrow.Date32FromTime(t), true
}

func parseISOTime(s string) (arrow.Time32, bool) {
	for _, l := range []string{"15:04:05.999999999", "15:04"} {
		if t, err := time.Parse(l, strings.TrimSpace(s)); err == nil {
			return arrow.Time32(t.Hour()*3_600_000 + t.Minute()*60_000 + t.Second()*1000 + t.Nanosecond()/1e6), true
		}
	}
	return 0, false
}

func formatISOTimestamp(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000")
}

func formatISODate(days int32) string {
	return time.UnixMilli(int64(days) * msPerDay).UTC().Format("2006-01-02")
}

// formatISOTime follows java.time.LocalTime.toString: HH:mm[:ss[.SSS]].
func formatISOTime(ms int32) string {
	t := time.UnixMilli(int64(ms)).UTC()
	switch {
	case ms%1000 != 0:
		return t.Format("15:04:05.000")
	case ms%60_000 != 0:
		return t.Format("15:04:05")
	}
	return t.Format("15:04")
}
