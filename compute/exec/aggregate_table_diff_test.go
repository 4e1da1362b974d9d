package exec

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/compute"
)

// aggTDiffAggs are the aggregates the table differential test checks.
var aggTDiffAggs = []AggFunc{
	{Name: "COUNT", Arg: -1, OutName: "C"},
	{Name: "COUNT", Arg: aggTColV, OutName: "CV"},
	{Name: "SUM", Arg: aggTColV, OutName: "SV"},
	{Name: "AVG", Arg: aggTColV, OutName: "AV"},
	{Name: "MIN", Arg: aggTColV, OutName: "MINV"},
	{Name: "MAX", Arg: aggTColS, OutName: "MAXS"},
	{Name: "COUNT_DISTINCT", Arg: aggTColV, OutName: "DV"},
	{Name: "LATEST_BY_OFFSET", Arg: aggTColS, OutName: "LS"},
	{Name: "EARLIEST_BY_OFFSET", Arg: aggTColV, OutName: "EV"},
	{Name: "COLLECT_LIST", Arg: aggTColV, OutName: "LV"},
	{Name: "SUM", Arg: aggTColD, OutName: "SD"},
	{Name: "AVG", Arg: aggTColD, OutName: "AD"},
	{Name: "MAX", Arg: aggTColD, OutName: "MAXD"},
	{Name: "SUM", Arg: aggTColN, OutName: "SN"},
	{Name: "COUNT_DISTINCT", Arg: aggTColD, OutName: "DD"},
}

// aggTRef is a row-at-a-time reference of table aggregation: the current
// row of each table key, from which the groups are computed from scratch.
type aggTRef struct {
	keys, tableKeys []int
	rows            map[string]aggTRefRow
	seq, nullKeys   int64
}

type aggTRefRow struct {
	seq   int64
	group string
	r     aggTRow
}

func newAggTRef(cfg AggregateConfig) *aggTRef {
	return &aggTRef{keys: cfg.Keys, tableKeys: cfg.TableKeys, rows: map[string]aggTRefRow{}}
}

// col returns column c of r: nil for NULL.
func (r aggTRow) col(c int) any {
	switch c {
	case aggTColPartition:
		return r.P
	case aggTColID:
		return r.ID
	case aggTColK:
		return r.K
	case aggTColV:
		return r.V
	case aggTColS:
		return r.S
	}
	panic(fmt.Sprint("aggTRow.col ", c))
}

// key formats columns cols of r as the operator's output does; ok is
// false if one is NULL.
func (r aggTRow) key(cols []int) (key string, ok bool) {
	parts := make([]string, len(cols))
	for i, c := range cols {
		v := r.col(c)
		if v == nil {
			return "", false
		}
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, "|"), true
}

func (ref *aggTRef) push(rows []aggTRow) {
	for _, r := range rows {
		ref.seq++
		tk, ok := r.key(ref.tableKeys)
		if !ok {
			ref.nullKeys++
			continue
		}
		if r.Del {
			delete(ref.rows, tk)
			continue
		}
		g, ok := r.key(ref.keys)
		if !ok {
			ref.nullKeys++
			delete(ref.rows, tk)
			continue
		}
		ref.rows[tk] = aggTRefRow{seq: ref.seq, group: g, r: r}
	}
}

// groups returns the output row (without Deleted) of every group, by key.
func (ref *aggTRef) groups() map[string]string {
	byGroup := map[string][]aggTRefRow{}
	for _, r := range ref.rows {
		byGroup[r.group] = append(byGroup[r.group], r)
	}
	out := map[string]string{}
	for g, rows := range byGroup {
		slices.SortFunc(rows, func(x, y aggTRefRow) int { return cmp.Compare(x.seq, y.seq) })
		out[g] = g + "|" + strings.Join(aggTRefAggregates(rows), "|")
	}
	return out
}

// aggTRefAggregates computes aggTDiffAggs over rows, in arrival order.
func aggTRefAggregates(rows []aggTRefRow) []string {
	var cv, sv int64
	var minV, earliest *int64
	var maxS, latest *string
	distinct := map[int64]bool{}
	var list []string
	sd, cd := 0.0, int64(0)
	var maxD *float64
	distinctD := map[uint64]bool{}
	var sn int64
	for _, row := range rows {
		r := row.r
		if r.V != nil {
			v := int64(r.V.(int))
			cv++
			sv += v
			if minV == nil || v < *minV {
				minV = &v
			}
			if earliest == nil {
				earliest = &v
			}
			distinct[v] = true
			list = append(list, strconv.FormatInt(v, 10))
		}
		if r.S != nil {
			s := r.S.(string)
			if maxS == nil || s > *maxS {
				maxS = &s
			}
			latest = &s
		}
		if r.D != nil {
			d := r.D.(float64)
			sd += d
			cd++
			if maxD == nil || aggRefJavaCompare(d, *maxD) > 0 {
				maxD = &d
			}
			bits := math.Float64bits(d)
			if d != d {
				bits = math.Float64bits(math.NaN())
			}
			distinctD[bits] = true
		}
		if r.N != nil {
			sn += int64(r.N.(int))
		}
	}
	num := func(p *int64) string {
		if p == nil {
			return "NULL"
		}
		return strconv.FormatInt(*p, 10)
	}
	str := func(p *string) string {
		if p == nil {
			return "NULL"
		}
		return *p
	}
	flt := func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
	av, ad := 0.0, 0.0
	if cv > 0 {
		av = float64(sv) / float64(cv)
	}
	if cd > 0 {
		ad = sd / float64(cd)
	}
	maxDs := "NULL"
	if maxD != nil {
		maxDs = flt(*maxD)
	}
	sns := "NULL"
	if sn >= -99_999 && sn <= 99_999 { // DECIMAL(5, 2), as arrow formats it
		sns = flt(float64(sn) / 100)
	}
	return []string{strconv.Itoa(len(rows)), strconv.FormatInt(cv, 10), strconv.FormatInt(sv, 10), flt(av), num(minV),
		str(maxS), strconv.Itoa(len(distinct)), str(latest), num(earliest), "[" + strings.Join(list, ",") + "]",
		flt(sd), flt(ad), maxDs, sns, strconv.Itoa(len(distinctD))}
}

// aggRefJavaCompare is Java's Double.compare.
func aggRefJavaCompare(a, b float64) int {
	switch {
	case a != a && b != b:
		return 0
	case a != a:
		return 1
	case b != b:
		return -1
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return cmp.Compare(int64(math.Float64bits(a)), int64(math.Float64bits(b))) // -0.0 < 0.0
}

// aggTRandomBatches generates changelog batches over ids table keys (new
// ones when fresh) and groups GROUP BY values: updates, deletions, NULL
// keys and values, and DOUBLEs that are exact halves (sums are exact) or,
// when inexact, any fraction, with NaNs and infinities now and then.
func aggTRandomBatches(rng *rand.Rand, nbatches, ids, groups int, fresh, inexact bool) [][]aggTRow {
	strs := []string{"x", "y", "zz", ""}
	next := 0
	var out [][]aggTRow
	for range nbatches {
		rows := make([]aggTRow, 1+rng.IntN(40))
		for i := range rows {
			// Fresh keys are mostly new; updates and deletions go to
			// recent ones, so that most keys die.
			r := aggTRow{Del: rng.IntN(6) == 0 || fresh && rng.IntN(3) == 0}
			switch {
			case rng.IntN(100) == 0:
			case fresh && !r.Del && rng.IntN(2) == 0:
				r.ID = fmt.Sprintf("i%d", next)
				next++
			case fresh:
				r.ID = fmt.Sprintf("i%d", max(0, next-1-rng.IntN(ids)))
			default:
				r.ID = fmt.Sprintf("i%d", rng.IntN(ids))
			}
			r.P = int32(rng.IntN(2))
			if r.Del {
				rows[i] = r
				continue
			}
			if rng.IntN(15) != 0 {
				r.K = fmt.Sprintf("g%d", rng.IntN(groups))
			}
			if rng.IntN(5) != 0 {
				r.V = rng.IntN(8) - 2
			}
			if rng.IntN(5) != 0 {
				r.S = strs[rng.IntN(len(strs))]
			}
			switch x := rng.IntN(40); {
			case x < 6:
			case x == 6:
				r.D = math.NaN()
			case x == 7:
				r.D = math.Inf(1)
			case x == 8:
				r.D = math.Inf(-1)
			case inexact:
				r.D = math.Round(rng.Float64()*1000) / 100
			default:
				r.D = float64(rng.IntN(20)-5) / 2
			}
			if rng.IntN(5) != 0 {
				r.N = rng.IntN(80_001) - 40_000
			}
			rows[i] = r
		}
		out = append(out, rows)
	}
	return out
}

// aggTableDiffRun pushes batches through a table aggregation, moving its
// state to a new operator through a snapshot every snapshotEvery batches
// (never when 0), and calls check after each batch with the rows it
// emitted. It returns every emitted row and the last operator.
func aggTableDiffRun(t *testing.T, ctx context.Context, cfg AggregateConfig, batches [][]aggTRow, snapshotEvery int,
	check func(i int, rows []string)) ([]string, *Aggregate) {
	t.Helper()
	a, sink := aggNew(t, cfg)
	mem := compute.GetAllocator(ctx)
	var off int64
	for i, rows := range batches {
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
		rec := aggTableRecord(mem, off, rows)
		off += int64(len(rows))
		before := len(sink.rows)
		err := a.Push(ctx, rec)
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
		if check != nil {
			check(i, sink.rows[before:])
		}
	}
	return sink.rows, a
}

// TestAggregateTableDifferential checks, after every batch, that the last
// row emitted for each group is the reference's value of the group, that
// the groups the reference no longer has were emitted as deleted, and that
// a batch emits each group once.
func TestAggregateTableDifferential(t *testing.T) {
	configs := []struct {
		name            string
		keys, tableKeys []int
		ids, groups     int
		fresh           bool
		batches         int
		snapshotEvery   int
		wantCompacted   bool
	}{
		{name: "one key", keys: []int{aggTColK}, tableKeys: []int{aggTColID}, ids: 20, groups: 5, batches: 60},
		{name: "two keys", keys: []int{aggTColK, aggTColS}, tableKeys: []int{aggTColID, aggTColPartition}, ids: 20, groups: 3, batches: 60},
		{name: "one group", keys: []int{aggTColK}, tableKeys: []int{aggTColID}, ids: 8, groups: 1, batches: 60},
		{name: "snapshots", keys: []int{aggTColK}, tableKeys: []int{aggTColID}, ids: 20, groups: 5, batches: 60, snapshotEvery: 3},
		{name: "two keys snapshots", keys: []int{aggTColK, aggTColS}, tableKeys: []int{aggTColID, aggTColPartition}, ids: 20,
			groups: 3, batches: 60, snapshotEvery: 4},
		{name: "churn", keys: []int{aggTColK}, tableKeys: []int{aggTColID}, ids: 30, groups: 3000, fresh: true, batches: 400,
			wantCompacted: true},
		{name: "churn snapshots", keys: []int{aggTColK}, tableKeys: []int{aggTColID}, ids: 30, groups: 3000, fresh: true,
			batches: 400, snapshotEvery: 50},
	}
	for _, c := range configs {
		t.Run(c.name, func(t *testing.T) {
			for seed := range uint64(4) {
				ctx, _ := aggTestCtx(t)
				cfg := AggregateConfig{Input: aggTableInput, Keys: c.keys, Aggs: aggTDiffAggs, Table: true, TableKeys: c.tableKeys}
				batches := aggTRandomBatches(rand.New(rand.NewPCG(seed, 11)), c.batches, c.ids, c.groups, c.fresh, false)
				ref := newAggTRef(cfg)
				last := map[string]string{}
				failed := false
				_, a := aggTableDiffRun(t, ctx, cfg, batches, c.snapshotEvery, func(i int, rows []string) {
					if failed {
						return
					}
					ref.push(batches[i])
					seen := map[string]bool{}
					for _, row := range rows {
						cols := strings.Split(row, "|")
						id := strings.Join(cols[:len(c.keys)], "|")
						if seen[id] {
							t.Errorf("seed %d batch %d: group %s emitted twice", seed, i, id)
						}
						seen[id] = true
						if cols[len(cols)-1] == "true" {
							if _, ok := last[id]; !ok {
								t.Errorf("seed %d batch %d: deleted group %s was not emitted before", seed, i, id)
							}
							delete(last, id)
							continue
						}
						last[id] = strings.Join(cols[:len(cols)-1], "|")
					}
					want := ref.groups()
					for id, row := range want {
						if last[id] != row {
							t.Errorf("seed %d batch %d: group %s: last emitted %q, reference %q", seed, i, id, last[id], row)
							failed = true
						}
					}
					for id, row := range last {
						if _, ok := want[id]; !ok {
							t.Errorf("seed %d batch %d: group %s (%q) is not in the reference", seed, i, id, row)
							failed = true
						}
					}
				})
				if a.NullKeyRecords() != ref.nullKeys {
					t.Errorf("seed %d: NULL keys %d, reference %d", seed, a.NullKeyRecords(), ref.nullKeys)
				}
				tab := a.table
				if tab.klive != len(ref.rows) || tab.glive != len(last) || a.groups.live != len(last) {
					t.Errorf("seed %d: %d live keys, %d live groups (%d allocated); reference %d and %d",
						seed, tab.klive, tab.glive, a.groups.live, len(ref.rows), len(last))
				}
				if c.wantCompacted {
					keys, groups := map[string]bool{}, map[string]bool{}
					for _, rows := range batches {
						for _, r := range rows {
							if r.ID != nil && !r.Del && r.K != nil {
								keys[r.ID.(string)], groups[r.K.(string)] = true, true
							}
						}
					}
					if tab.keys.len() >= len(keys) || tab.groups.len() >= len(groups) {
						t.Errorf("seed %d: %d key slots for %d keys, %d group slots for %d groups: not compacted",
							seed, tab.keys.len(), len(keys), tab.groups.len(), len(groups))
					}
				}
			}
		})
	}
}

// TestAggregateTableSnapshotRestore runs half the changelog, snapshots,
// restores into a new operator and runs the rest: the output must be
// exactly the output of an uninterrupted run, inexact DOUBLE sums
// included.
func TestAggregateTableSnapshotRestore(t *testing.T) {
	counts := []AggFunc{aggStar("C"), aggOf("COUNT", aggTColS), aggOf("COUNT", aggTColN), aggOf("AVG", aggTColD)}
	for _, tc := range []struct {
		every int
		aggs  []AggFunc
	}{{0, aggTDiffAggs}, {1, aggTDiffAggs}, {20, aggTDiffAggs}, {3, counts}} {
		every := tc.every
		t.Run(fmt.Sprintf("every %d of %d aggregates", every, len(tc.aggs)), func(t *testing.T) {
			ctx, _ := aggTestCtx(t)
			cfg := AggregateConfig{Input: aggTableInput, Keys: []int{aggTColK}, Aggs: tc.aggs, Table: true, TableKeys: []int{aggTColID}}
			batches := aggTRandomBatches(rand.New(rand.NewPCG(5, 5)), 40, 25, 4, false, true)
			whole, a := aggTableDiffRun(t, ctx, cfg, batches, 0, nil)
			if every == 0 {
				every = len(batches) / 2
			}
			restored, b := aggTableDiffRun(t, ctx, cfg, batches, every, nil)
			if len(whole) == 0 || !slices.Equal(whole, restored) {
				t.Errorf("restored run emitted\n%q\nuninterrupted\n%q", restored, whole)
			}
			if a.NullKeyRecords() != b.NullKeyRecords() || a.seq != b.seq {
				t.Errorf("counters differ after restore")
			}
		})
	}
}

func TestAggregateTableRestoreRejects(t *testing.T) {
	ctx, mem := aggTestCtx(t)
	table := aggTableConfig(aggStar("C"), aggOf("SUM", aggTColD))
	a, _ := aggNew(t, table)
	rec := aggTableRecord(mem, 0, []aggTRow{{ID: "a", K: "x", D: 1.5}})
	defer rec.Release()
	if err := a.Push(ctx, rec); err != nil {
		t.Fatal(err)
	}
	var snap bytes.Buffer
	if err := a.Snapshot(ctx, &snap); err != nil {
		t.Fatal(err)
	}
	stream := AggregateConfig{Input: aggTableInput, Keys: []int{aggTColK}, Aggs: table.Aggs}
	for name, cfg := range map[string]AggregateConfig{
		"a stream aggregation": stream,
		"other table keys":     func() AggregateConfig { c := table; c.TableKeys = []int{aggTColV}; return c }(),
		"other aggregates":     aggTableConfig(aggStar("C"), aggOf("SUM", aggTColV)),
	} {
		t.Run(name, func(t *testing.T) {
			b, _ := aggNew(t, cfg)
			if err := b.Restore(ctx, bytes.NewReader(snap.Bytes())); !errors.Is(err, ErrAggregateSnapshot) {
				t.Errorf("restore error %v, want ErrAggregateSnapshot", err)
			}
		})
	}
	t.Run("a stream snapshot", func(t *testing.T) {
		s, _ := aggNew(t, stream)
		var buf bytes.Buffer
		if err := s.Snapshot(ctx, &buf); err != nil {
			t.Fatal(err)
		}
		b, _ := aggNew(t, table)
		if err := b.Restore(ctx, &buf); !errors.Is(err, ErrAggregateSnapshot) {
			t.Errorf("restore error %v, want ErrAggregateSnapshot", err)
		}
	})
}
