package exec

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// The differential tests run random inputs through a join and through a
// row-at-a-time reference written from the documented semantics (nested
// loops over all rows seen), and compare the multisets of "op: row" — each
// emitted row with the index of the op that emitted it.

// joinGen generates random inputs.
type joinGen struct {
	rng      *rand.Rand
	tables   [2]bool
	keys     int
	disorder int
	now      int64
}

func (g *joinGen) pick(p float64, v any) any {
	if g.rng.Float64() < p {
		return nil
	}
	return v
}

func (g *joinGen) row(s joinSide) jrow {
	r := jrow{t: g.now - int64(g.rng.IntN(g.disorder+1))}
	g.now += int64(g.rng.IntN(4))
	r.vals = []any{g.pick(0.1, int64(g.rng.IntN(g.keys))), g.pick(0.1, []string{"a", "b"}[g.rng.IntN(2)])}
	if s == joinLeft {
		list := make([]int32, g.rng.IntN(3))
		for i := range list {
			list[i] = g.rng.Int32N(100)
		}
		r.vals = append(r.vals, g.pick(0.2, float64(g.rng.IntN(1000))/8), g.pick(0.2, list))
	} else {
		r.vals = append(r.vals, g.pick(0.2, g.rng.IntN(2) == 0))
	}
	if g.tables[s] {
		if g.rng.IntN(5) == 0 { // a tombstone: key only
			for i := 2; i < len(r.vals); i++ {
				r.vals[i] = nil
			}
			return jrow{t: r.t, vals: append(r.vals, true)}
		}
		r.vals = append(r.vals, g.pick(0.5, false))
	}
	return r
}

// ops returns n random ops ending with an Advance to +infinity.
func (g *joinGen) ops(n int) []joinOp {
	ops := make([]joinOp, 0, n+1)
	for range n {
		if g.rng.IntN(4) == 0 {
			ops = append(ops, jAdv(g.now-int64(g.rng.IntN(10))))
			continue
		}
		op := joinOp{side: joinSide(g.rng.IntN(2))}
		for range 1 + g.rng.IntN(5) {
			op.rows = append(op.rows, g.row(op.side))
		}
		ops = append(ops, op)
	}
	ops = append(ops, jAdv(math.MaxInt64))
	joinNumber(ops)
	return ops
}

// joinReference is the reference: it knows the config and formats output rows.
type joinReference struct {
	cfg     JoinConfig
	twoKeys bool
	tables  [2]bool
	out     []string
}

// key returns the join key of r, or false if a key column is NULL.
func (ref *joinReference) key(r *jrow) (string, bool) {
	if r.vals[0] == nil || ref.twoKeys && r.vals[1] == nil {
		return "", false
	}
	if ref.twoKeys {
		return fmt.Sprint(r.vals[0], "|", r.vals[1]), true
	}
	return fmt.Sprint(r.vals[0]), true
}

// data returns the columns of r that the output has, or NULLs for a nil r.
func (ref *joinReference) data(s joinSide, r *jrow) []any {
	n := ref.cfg.Left.NumFields() - 3
	if s == joinRight {
		n = ref.cfg.Right.NumFields() - 3
	}
	if ref.tables[s] {
		n-- // Deleted
	}
	if r == nil {
		return make([]any, n)
	}
	return r.vals[:n]
}

// emit records an output row of op op driven by driver.
func (ref *joinReference) emit(op int, t int64, driver *jrow, l, r *jrow, deleted ...any) {
	cells := append([]any{t, driver.part, driver.off}, ref.data(joinLeft, l)...)
	cells = append(append(cells, ref.data(joinRight, r)...), deleted...)
	ref.out = append(ref.out, fmt.Sprintf("%d: %s", op, joinFormat(cells)))
}

// refStreamStream is the reference stream-stream join.
func (ref *joinReference) streamStream(ops []joinOp) (late int64) {
	before, after, grace := ref.cfg.Before.Milliseconds(), ref.cfg.After.Milliseconds(), ref.cfg.Grace.Milliseconds()
	type seen struct {
		jrow
		op      int
		matched bool
	}
	var rows [2][]*seen
	watermarks := make([]int64, len(ops)) // after each op
	w := int64(math.MinInt64)
	for i, op := range ops {
		if op.rows == nil {
			w = max(w, op.advance)
		}
		watermarks[i] = w
		for _, r := range op.rows {
			reach := after // a row's window closes at t+reach
			if op.side == joinRight {
				reach = before
			}
			if w != math.MinInt64 && r.t+reach+grace < w {
				late++
				continue
			}
			rows[op.side] = append(rows[op.side], &seen{jrow: r, op: i})
		}
	}
	for _, l := range rows[joinLeft] {
		for _, r := range rows[joinRight] {
			lk, lok := ref.key(&l.jrow)
			rk, rok := ref.key(&r.jrow)
			if !lok || !rok || lk != rk || r.t < l.t-before || r.t > l.t+after {
				continue
			}
			l.matched, r.matched = true, true
			driver := l
			if r.op > l.op {
				driver = r
			}
			ref.emit(driver.op, max(l.t, r.t), &driver.jrow, &l.jrow, &r.jrow)
		}
	}
	for s, side := range rows {
		if !ref.cfg.Type.keeps(joinSide(s)) {
			continue
		}
		for _, x := range side {
			if x.matched {
				continue
			}
			op := x.op // NULL keys: at once; others when final
			if _, ok := ref.key(&x.jrow); ok {
				for op = x.op; watermarks[op] <= x.t+before+after+grace; op++ {
				}
			}
			if s == int(joinLeft) {
				ref.emit(op, x.t, &x.jrow, &x.jrow, nil)
			} else {
				ref.emit(op, x.t, &x.jrow, nil, &x.jrow)
			}
		}
	}
	return late
}

func (ref *joinReference) deleted(r *jrow) bool {
	d := r.vals[len(r.vals)-1]
	return d != nil && d.(bool)
}

// refStreamTable is the reference stream-table join.
func (ref *joinReference) streamTable(ops []joinOp) {
	table := map[string]*jrow{}
	for i, op := range ops {
		for _, r := range op.rows {
			k, ok := ref.key(&r)
			switch {
			case op.side == joinRight && !ok:
			case op.side == joinRight && ref.deleted(&r):
				delete(table, k)
			case op.side == joinRight:
				table[k] = &r
			case ok && table[k] != nil:
				ref.emit(i, r.t, &r, &r, table[k])
			case ref.cfg.Type == LeftJoin:
				ref.emit(i, r.t, &r, &r, nil)
			}
		}
	}
}

// refTableTable is the reference table-table join: after each change it
// recomputes the key's joined rows from all rows by nested loops and emits
// the difference.
func (ref *joinReference) tableTable(ops []joinOp) {
	var tables [2]map[string]*jrow
	tables[0], tables[1] = map[string]*jrow{}, map[string]*jrow{}
	type pair struct{ l, r *jrow }
	joined := func(key string) []pair {
		var out []pair
		matched := [2]map[*jrow]bool{{}, {}}
		for lk, l := range tables[joinLeft] {
			for rk, r := range tables[joinRight] {
				if lk == key && rk == key {
					out = append(out, pair{l, r})
					matched[0][l], matched[1][r] = true, true
				}
			}
		}
		for s := range tables {
			for k, x := range tables[s] {
				if k == key && !matched[s][x] && ref.cfg.Type.keeps(joinSide(s)) {
					if s == 0 {
						out = append(out, pair{x, nil})
					} else {
						out = append(out, pair{nil, x})
					}
				}
			}
		}
		return out
	}
	for i, op := range ops {
		for _, r := range op.rows {
			k, ok := ref.key(&r)
			if !ok {
				continue
			}
			was := joined(k)
			upsert := !ref.deleted(&r)
			if upsert {
				tables[op.side][k] = &r
			} else {
				delete(tables[op.side], k)
			}
			now := joined(k)
			t := r.t
			if o := tables[op.side.other()][k]; o != nil {
				t = max(t, o.t)
			}
			switch {
			case len(now) > 1 || len(was) > 1:
				panic("primary-key join with two rows for a key")
			case len(now) == 1 && (upsert || len(was) == 0 || now[0] != was[0]):
				ref.emit(i, t, &r, now[0].l, now[0].r, false)
			case len(now) == 0 && len(was) == 1:
				if op.side == joinLeft {
					ref.emit(i, t, &r, &r, nil, true)
				} else {
					ref.emit(i, t, &r, nil, &r, true)
				}
			}
		}
	}
}

// joinRunOps runs ops, numbered from first, against j and returns "op: row"
// for each row emitted.
func joinRunOps(t *testing.T, j joinPorts, cfg *JoinConfig, sink *joinSink, ops []joinOp, first int) []string {
	t.Helper()
	ctx, mem := joinTestCtx(t)
	var got []string
	for i, op := range ops {
		op.run(t, ctx, mem, j, cfg)
		for _, r := range sink.take() {
			got = append(got, fmt.Sprintf("%d: %s", first+i, r))
		}
	}
	return got
}

// joinNew builds a join of kind k; small compactMin values make the row
// stores compact often.
func joinNew(t *testing.T, k joinKind, cfg JoinConfig, sink *joinSink, compactMin int) joinPorts {
	t.Helper()
	var (
		j      joinPorts
		err    error
		stores []*joinRowStore
	)
	switch k {
	case joinStreamStream:
		var ss *StreamStreamJoin
		ss, err = NewStreamStreamJoin(cfg, sink.emit)
		if err == nil {
			j, stores = ss, []*joinRowStore{&ss.sides[0].store, &ss.sides[1].store}
		}
	case joinStreamTable:
		var st *StreamTableJoin
		st, err = NewStreamTableJoin(cfg, sink.emit)
		if err == nil {
			j, stores = st, []*joinRowStore{&st.table.store}
		}
	case joinTableTable:
		var tt *TableTableJoin
		tt, err = NewTableTableJoin(cfg, sink.emit)
		if err == nil {
			j, stores = tt, []*joinRowStore{&tt.tables[0].store, &tt.tables[1].store}
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stores {
		s.compactMin = compactMin
	}
	sink.schema = j.Schema()
	return j
}

// joinCase is a random configuration of a join of kind k.
func joinCase(rng *rand.Rand, k joinKind) (cfg JoinConfig, twoKeys bool) {
	types := []JoinType{InnerJoin, LeftJoin, RightJoin, FullOuterJoin}
	if k == joinStreamTable {
		types = types[:2]
	}
	twoKeys = rng.IntN(2) == 0
	tables := k.tables()
	cfg = joinTestConfig(types[rng.IntN(len(types))], tables[0], tables[1], twoKeys)
	if k == joinStreamStream {
		ms := []time.Duration{0, 1, 3, 10}
		cfg.Before = ms[rng.IntN(4)] * time.Millisecond
		cfg.After = ms[rng.IntN(4)] * time.Millisecond
		cfg.Grace = ms[rng.IntN(4)] * 2 * time.Millisecond
	}
	return cfg, twoKeys
}

func TestJoinDifferential(t *testing.T) {
	for _, k := range []joinKind{joinStreamStream, joinStreamTable, joinTableTable} {
		t.Run([]string{"", "StreamStream", "StreamTable", "TableTable"}[k], func(t *testing.T) {
			seeds := uint64(150)
			if testing.Short() {
				seeds = 30
			}
			for seed := range seeds {
				rng := rand.New(rand.NewPCG(seed, uint64(k)))
				cfg, twoKeys := joinCase(rng, k)
				g := &joinGen{rng: rng, tables: k.tables(), keys: 1 + rng.IntN(8), disorder: rng.IntN(30), now: 1000}
				ops := g.ops(10 + rng.IntN(60))
				ref := &joinReference{cfg: cfg, twoKeys: twoKeys, tables: k.tables()}
				var late int64
				switch k {
				case joinStreamStream:
					late = ref.streamStream(ops)
				case joinStreamTable:
					ref.streamTable(ops)
				case joinTableTable:
					ref.tableTable(ops)
				}
				ok := t.Run(fmt.Sprint(seed), func(t *testing.T) {
					sink := &joinSink{t: t}
					j := joinNew(t, k, cfg, sink, []int{1, 4, joinCompactMin}[rng.IntN(3)])
					defer j.Close()
					joinDiff(t, fmt.Sprintf("%v join on %v WITHIN (%v, %v) GRACE %v", cfg.Type, cfg.LeftKeys, cfg.Before, cfg.After, cfg.Grace), joinRunOps(t, j, &cfg, sink, ops, 0), ref.out)
					if ss, isSS := j.(*StreamStreamJoin); isSS && ss.LateRecords() != late {
						t.Errorf("LateRecords() = %d, want %d", ss.LateRecords(), late)
					}
				})
				if !ok {
					t.Logf("ops: %v", ops)
					return
				}
			}
		})
	}
}
