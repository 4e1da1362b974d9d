package exec

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/compute"
)

// aggRef is a row-at-a-time reference of the aggregation, with the
// semantics Aggregate documents: per row, stream time is the
// greatest valid event time so far; a window is closed once stream time
// reaches end+grace (sessions: passes end+gap+grace); closed windows never
// change again.
type aggRef struct {
	kind                    WindowKind
	size, adv, gap, grace   int64
	keys                    []int
	st, seq                 int64
	late, nullKeys, badTime int64
	groups                  map[string]*aggRefGroup // time windows by key|start
	sessions                map[string][]*aggRefGroup
}

type aggRefGroup struct {
	key        string // formatted key columns
	start, end int64
	rows       []aggRefVal
	merged     bool // merged into another session
}

type aggRefVal struct {
	seq int64
	v   *int64
	s   *string
}

// aggDiffAggs are the aggregates the differential test checks.
var aggDiffAggs = []AggFunc{
	{Name: "COUNT", Arg: -1, OutName: "C"},
	{Name: "COUNT", Arg: aggColV, OutName: "CV"},
	{Name: "SUM", Arg: aggColV, OutName: "SV"},
	{Name: "AVG", Arg: aggColV, OutName: "AV"},
	{Name: "MIN", Arg: aggColV, OutName: "MINV"},
	{Name: "MAX", Arg: aggColS, OutName: "MAXS"},
	{Name: "COUNT_DISTINCT", Arg: aggColV, OutName: "DV"},
	{Name: "LATEST_BY_OFFSET", Arg: aggColS, OutName: "LS"},
	{Name: "EARLIEST_BY_OFFSET", Arg: aggColV, OutName: "EV"},
	{Name: "COLLECT_LIST", Arg: aggColV, OutName: "LV"},
}

func newAggRef(cfg AggregateConfig) *aggRef {
	ms := func(d time.Duration) int64 { return d.Milliseconds() }
	r := &aggRef{kind: cfg.Window.Kind, size: ms(cfg.Window.Size), adv: ms(cfg.Window.Advance), gap: ms(cfg.Window.Gap),
		grace: ms(cfg.Window.grace()), keys: cfg.Keys, st: math.MinInt64,
		groups: map[string]*aggRefGroup{}, sessions: map[string][]*aggRefGroup{}}
	if r.kind == Tumbling {
		r.adv = r.size
	}
	return r
}

func (r *aggRef) push(rows []aggRow) {
	for _, row := range rows {
		r.seq++
		if r.kind != NoWindow {
			if row.T < 0 {
				r.badTime++
				continue
			}
			r.st = max(r.st, row.T)
		}
		var parts []string
		null := false
		for _, k := range r.keys {
			v := map[int]any{aggColK: row.K, aggColV: row.V}[k]
			if v == nil {
				null = true
			}
			parts = append(parts, fmt.Sprint(v))
		}
		if null {
			r.nullKeys++
			continue
		}
		key := strings.Join(parts, "|")
		val := aggRefVal{seq: r.seq}
		if row.V != nil {
			v := int64(row.V.(int))
			val.v = &v
		}
		if row.S != nil {
			s := row.S.(string)
			val.s = &s
		}
		switch r.kind {
		case NoWindow:
			r.group(key, 0, 0).rows = append(r.group(key, 0, 0).rows, val)
		case Tumbling, Hopping:
			for start := row.T - row.T%r.adv; start > row.T-r.size && start >= 0; start -= r.adv {
				if start+r.size+r.grace <= r.st {
					r.late++
					continue
				}
				g := r.group(key, start, start+r.size)
				g.rows = append(g.rows, val)
			}
		case Session:
			r.session(key, row.T, val)
		}
	}
}

func (r *aggRef) group(key string, start, end int64) *aggRefGroup {
	id := fmt.Sprint(key, "|", start)
	g := r.groups[id]
	if g == nil {
		g = &aggRefGroup{key: key, start: start, end: end}
		r.groups[id] = g
	}
	return g
}

func (r *aggRef) closedSession(g *aggRefGroup) bool { return g.end+r.gap+r.grace < r.st }

func (r *aggRef) session(key string, t int64, val aggRefVal) {
	var match []*aggRefGroup
	for _, g := range r.sessions[key] {
		if !g.merged && !r.closedSession(g) && g.end >= t-r.gap && g.start <= t+r.gap {
			match = append(match, g)
		}
	}
	if len(match) == 0 {
		if t+r.gap+r.grace < r.st {
			r.late++
			return
		}
		r.sessions[key] = append(r.sessions[key], &aggRefGroup{key: key, start: t, end: t, rows: []aggRefVal{val}})
		return
	}
	m := match[0]
	m.start, m.end = min(m.start, t), max(m.end, t)
	for _, g := range match[1:] {
		m.start, m.end = min(m.start, g.start), max(m.end, g.end)
		m.rows = append(m.rows, g.rows...)
		g.merged = true
	}
	m.rows = append(m.rows, val)
}

func (r *aggRef) advance(wm int64) { r.st = max(r.st, wm) }

// all returns every group, closed or not, as formatted output rows by id.
func (r *aggRef) all() map[string]string {
	out := map[string]string{}
	add := func(g *aggRefGroup) {
		id, row := r.format(g)
		out[id] = row
	}
	for _, g := range r.groups {
		add(g)
	}
	for _, list := range r.sessions {
		for _, g := range list {
			if !g.merged {
				add(g)
			}
		}
	}
	return out
}

// closed returns the formatted rows of the closed windows, sorted.
func (r *aggRef) closed() []string {
	var out []string
	for _, g := range r.groups {
		if g.end+r.grace <= r.st {
			_, row := r.format(g)
			out = append(out, row)
		}
	}
	for _, list := range r.sessions {
		for _, g := range list {
			if !g.merged && r.closedSession(g) {
				_, row := r.format(g)
				out = append(out, row)
			}
		}
	}
	slices.Sort(out)
	return out
}

// format renders g as the operator does (aggFormat) and returns its id:
// the key and window columns.
func (r *aggRef) format(g *aggRefGroup) (id, row string) {
	id = g.key
	if r.kind != NoWindow {
		id = fmt.Sprintf("%s|%d|%d", g.key, g.start, g.end)
	}
	var cnt, sum, distinct int64
	var minV, earliest *int64
	var maxS, latest *string
	var latestSeq, earliestSeq int64
	seen := map[int64]bool{}
	var list []string
	for _, v := range g.rows {
		if v.v != nil {
			cnt++
			sum += *v.v
			if minV == nil || *v.v < *minV {
				minV = v.v
			}
			if earliest == nil || v.seq < earliestSeq {
				earliest, earliestSeq = v.v, v.seq
			}
			if !seen[*v.v] {
				seen[*v.v] = true
				distinct++
			}
			list = append(list, strconv.FormatInt(*v.v, 10))
		}
		if v.s != nil {
			if maxS == nil || *v.s > *maxS {
				maxS = v.s
			}
			if v.seq > latestSeq {
				latest, latestSeq = v.s, v.seq
			}
		}
	}
	if r.kind == Session { // the order of merged sessions' lists is not specified
		slices.Sort(list)
	}
	avg := 0.0
	if cnt > 0 {
		avg = float64(sum) / float64(cnt)
	}
	str := func(p *string) string {
		if p == nil {
			return "NULL"
		}
		return *p
	}
	num := func(p *int64) string {
		if p == nil {
			return "NULL"
		}
		return strconv.FormatInt(*p, 10)
	}
	row = strings.Join([]string{id, strconv.Itoa(len(g.rows)), strconv.FormatInt(cnt, 10), strconv.FormatInt(sum, 10),
		strconv.FormatFloat(avg, 'g', -1, 64), num(minV), str(maxS), strconv.FormatInt(distinct, 10), str(latest),
		num(earliest), "[" + strings.Join(list, ",") + "]"}, "|")
	return id, row
}

// aggSortList sorts the elements of the last column (COLLECT_LIST) of an
// emitted row, whose order in merged sessions is not specified.
func aggSortList(row string) string {
	i := strings.LastIndexByte(row, '[')
	body := strings.TrimSuffix(row[i+1:], "]")
	if body == "" {
		return row
	}
	elems := strings.Split(body, ",")
	slices.SortFunc(elems, func(a, b string) int { return strings.Compare(a, b) })
	return row[:i+1] + strings.Join(elems, ",") + "]"
}

// aggRandomSteps generates batches of random rows: few keys, event times
// mostly increasing with some disorder and a few invalid ones, NULLs in
// keys and values, and watermarks now and then.
func aggRandomSteps(rng *rand.Rand, nsteps int) []aggStep {
	var steps []aggStep
	var t int64
	strs := []string{"x", "y", "zz", ""}
	for range nsteps {
		if rng.IntN(10) == 0 {
			steps = append(steps, aggAdvance(t+int64(rng.IntN(20))))
			continue
		}
		rows := make([]aggRow, 1+rng.IntN(60))
		for i := range rows {
			t += int64(rng.IntN(4))
			r := aggRow{T: t}
			if rng.IntN(8) == 0 {
				r.T -= int64(rng.IntN(40))
			}
			if rng.IntN(200) == 0 {
				r.T = -1
			}
			if rng.IntN(25) != 0 {
				r.K = fmt.Sprintf("k%d", rng.IntN(12))
			}
			if rng.IntN(5) != 0 {
				r.V = rng.IntN(8)
			}
			if rng.IntN(5) != 0 {
				r.S = strs[rng.IntN(len(strs))]
			}
			rows[i] = r
		}
		steps = append(steps, aggStep{rows: rows})
	}
	return steps
}

// aggDiffRun runs steps through an aggregation, snapshotting it into a
// new operator every snapshotEvery steps (never when 0), and returns the
// emitted rows and the last operator.
func aggDiffRun(t *testing.T, ctx context.Context, cfg AggregateConfig, steps []aggStep, snapshotEvery int) ([]string, *Aggregate) {
	t.Helper()
	a, sink := aggNew(t, cfg)
	mem := compute.GetAllocator(ctx)
	var off int64
	for i, s := range steps {
		if snapshotEvery > 0 && i > 0 && i%snapshotEvery == 0 {
			var buf bytes.Buffer
			if err := a.Snapshot(ctx, &buf); err != nil {
				t.Fatal(err)
			}
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
			var err error
			if a, err = NewAggregate(cfg, sink.emit); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { a.Close() })
			if err := a.Restore(ctx, &buf); err != nil {
				t.Fatal(err)
			}
		}
		if s.rows == nil {
			if err := a.Advance(ctx, s.watermark); err != nil {
				t.Fatal(err)
			}
			continue
		}
		rec := aggRecord(mem, off, s.rows)
		off += int64(len(s.rows))
		err := a.Push(ctx, rec)
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
	return sink.rows, a
}

func TestAggregateDifferential(t *testing.T) {
	ms := time.Millisecond
	windows := []struct {
		name   string
		window WindowSpec
		keys   []int
	}{
		{"none", WindowSpec{}, nil},
		{"tumbling", WindowSpec{Kind: Tumbling, Size: 10 * ms, Grace: 5 * ms}, nil},
		{"tumbling no grace", WindowSpec{Kind: Tumbling, Size: 7 * ms, Grace: NoGrace}, nil},
		{"tumbling two keys", WindowSpec{Kind: Tumbling, Size: 10 * ms, Grace: 3 * ms}, []int{aggColK, aggColV}},
		{"hopping", WindowSpec{Kind: Hopping, Size: 12 * ms, Advance: 4 * ms, Grace: 3 * ms}, nil},
		{"hopping uneven", WindowSpec{Kind: Hopping, Size: 10 * ms, Advance: 3 * ms, Grace: NoGrace}, nil},
		{"session", WindowSpec{Kind: Session, Gap: 4 * ms, Grace: 2 * ms}, nil},
		{"session no grace", WindowSpec{Kind: Session, Gap: 3 * ms, Grace: NoGrace}, []int{aggColK, aggColV}},
	}
	modes := []struct {
		name          string
		final         bool
		maxMemory     int64
		snapshotEvery int
	}{
		{"changes", false, 0, 0},
		{"final", true, 0, 0},
		{"final spilling", true, 1, 0},
		{"changes snapshots", false, 0, 7},
		{"final snapshots spilling", true, 2 << 10, 5},
	}
	for _, w := range windows {
		for _, m := range modes {
			if m.final && w.window.Kind == NoWindow {
				continue
			}
			t.Run(w.name+"/"+m.name, func(t *testing.T) {
				for seed := range uint64(4) {
					ctx, _ := aggTestCtx(t)
					cfg := AggregateConfig{Input: aggTestInput, Keys: w.keys, Time: aggColTime, Window: w.window,
						Aggs: aggDiffAggs, Final: m.final, MaxMemoryBytes: m.maxMemory, SpillDir: t.TempDir()}
					if cfg.Keys == nil {
						cfg.Keys = []int{aggColK}
					}
					steps := aggRandomSteps(rand.New(rand.NewPCG(seed, 42)), 50)
					if seed%2 == 1 {
						steps = append(steps, aggAdvance(1<<40)) // close everything
					}
					got, a := aggDiffRun(t, ctx, cfg, steps, m.snapshotEvery)
					ref := newAggRef(cfg)
					for _, s := range steps {
						if s.rows == nil {
							ref.advance(s.watermark)
						} else {
							ref.push(s.rows)
						}
					}
					if a.LateRecords() != ref.late || a.NullKeyRecords() != ref.nullKeys || a.InvalidTimeRecords() != ref.badTime {
						t.Errorf("seed %d: late %d, NULL keys %d, invalid %d; reference %d, %d, %d", seed,
							a.LateRecords(), a.NullKeyRecords(), a.InvalidTimeRecords(), ref.late, ref.nullKeys, ref.badTime)
					}
					if spills := w.window.Kind != Session && m.maxMemory == 1 && seed%2 == 1; spills && a.SpilledBytes() == 0 {
						t.Errorf("seed %d: nothing spilled", seed)
					}
					aggDiffCompare(t, seed, w.window.Kind, m.final, got, ref)
				}
			})
		}
	}
}

func aggDiffCompare(t *testing.T, seed uint64, kind WindowKind, final bool, got []string, ref *aggRef) {
	t.Helper()
	norm := func(row string) string {
		if kind == Session {
			return aggSortList(row)
		}
		return row
	}
	if final {
		rows := make([]string, len(got))
		for i, r := range got {
			rows[i] = norm(r)
		}
		slices.Sort(rows)
		want := ref.closed()
		for i := range want {
			want[i] = norm(want[i])
		}
		if !slices.Equal(rows, want) {
			t.Errorf("seed %d: emitted %d rows, reference closed %d\n got %q\nwant %q", seed, len(rows), len(want), rows, want)
		}
		return
	}
	last := map[string]string{}
	idCols := len(ref.keys)
	if kind != NoWindow {
		idCols += 2
	}
	for _, row := range got {
		cols := strings.Split(row, "|")
		id := strings.Join(cols[:idCols], "|")
		if kind == Session {
			deleted := cols[len(cols)-1]
			row = strings.Join(cols[:len(cols)-1], "|")
			if deleted == "true" {
				delete(last, id)
				continue
			}
		}
		last[id] = norm(row)
	}
	want := ref.all()
	for id, row := range want {
		want[id] = norm(row)
	}
	for id, row := range want {
		if last[id] != row {
			t.Errorf("seed %d: group %s: last emitted %q, reference %q", seed, id, last[id], row)
		}
	}
	for id := range last {
		if _, ok := want[id]; !ok {
			t.Errorf("seed %d: emitted group %s (%q) the reference does not have", seed, id, last[id])
		}
	}
}
