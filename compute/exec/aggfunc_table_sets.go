package exec

import (
	"cmp"
	"math"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// The table versions of MIN, MAX and COUNT_DISTINCT keep, per group, the
// multiset of the values of its current rows, so that removing a row is
// exact. Values are kept as K: the argument's own type, except DOUBLEs,
// kept as their bits with NaNs made canonical (Java's Double.equals).

// aggSame is the identity, the key of non-DOUBLE values.
func aggSame[T any](v T) T { return v }

// aggDoubleKey is the key of a DOUBLE: its bits, NaNs made canonical.
func aggDoubleKey(v float64) uint64 {
	if v != v {
		return 0x7ff8000000000000
	}
	return math.Float64bits(v)
}

// aggDoubleKeyLess orders DOUBLE keys as Java's Double.compare.
func aggDoubleKeyLess(a, b uint64) bool {
	return aggJavaLess(math.Float64frombits(a), math.Float64frombits(b))
}

// aggMultiset is a multiset of values with a heap of its distinct values,
// best first. Removing a value's last copy leaves its heap entry, which
// is dropped once it reaches the top; a value added again is pushed
// again. The heap is rebuilt when stale entries outnumber the values.
type aggMultiset[K aggScalar] struct {
	counts map[K]int64
	heap   []K
}

// aggTableMinMax is MIN or MAX of a table: the best value of the group's
// multiset, NULL when it is empty.
type aggTableMinMax[T, K aggScalar] struct {
	aggTableOnly
	dt     arrow.DataType
	key    func(T) K
	better func(a, b K) bool
	sets   []aggMultiset[K]
	heap   int64
	args   *aggArgs[T]
}

func newAggTableMinMax(dt arrow.DataType, st aggArgStore, isMax bool) aggFunc {
	switch aggPhysOf(dt) {
	case aggPhysInt32:
		return newAggTableMinMaxOf(dt, st.(*aggArgs[int32]), aggSame[int32], cmp.Less[int32], isMax)
	case aggPhysInt64:
		return newAggTableMinMaxOf(dt, st.(*aggArgs[int64]), aggSame[int64], cmp.Less[int64], isMax)
	case aggPhysFloat64:
		return newAggTableMinMaxOf(dt, st.(*aggArgs[float64]), aggDoubleKey, aggDoubleKeyLess, isMax)
	case aggPhysDecimal:
		return newAggTableMinMaxOf(dt, st.(*aggArgs[decimal128.Num]), aggSame[decimal128.Num], decimal128.Num.Less, isMax)
	case aggPhysString:
		return newAggTableMinMaxOf(dt, st.(*aggArgs[string]), aggSame[string], cmp.Less[string], isMax)
	}
	return nil
}

func newAggTableMinMaxOf[T, K aggScalar](dt arrow.DataType, args *aggArgs[T], key func(T) K, less func(a, b K) bool, isMax bool) aggFunc {
	m := &aggTableMinMax[T, K]{dt: dt, key: key, better: less, args: args}
	if isMax {
		m.better = func(a, b K) bool { return less(b, a) }
	}
	return m
}

func (m *aggTableMinMax[T, K]) outType() arrow.DataType { return m.dt }
func (m *aggTableMinMax[T, K]) groupBytes() int         { return 32 }
func (m *aggTableMinMax[T, K]) heapBytes() int64        { return m.heap }
func (m *aggTableMinMax[T, K]) grow(n int)              { m.sets = aggGrow(m.sets, n) }

func (m *aggTableMinMax[T, K]) reset(g int32) {
	s := &m.sets[g]
	m.heap -= aggMultisetBytes(s)
	*s = aggMultiset[K]{}
}

// aggMultisetBytes estimates the memory of s.
func aggMultisetBytes[K aggScalar](s *aggMultiset[K]) int64 {
	return int64(len(s.counts)*(aggSizeof[K]()+8+aggSetEntryBytes) + cap(s.heap)*aggSizeof[K]())
}

func (m *aggTableMinMax[T, K]) tableUpdate(b *aggTableBatch) {
	a := m.args
	for i := range b.slots {
		if g := b.oldG[i]; g >= 0 && a.oldOK[i] {
			m.remove(&m.sets[g], m.key(a.old[i]))
		}
		if g := b.newG[i]; g >= 0 && a.curOK[i] {
			m.add(&m.sets[g], m.key(a.cur[i]))
		}
	}
}

func (m *aggTableMinMax[T, K]) add(s *aggMultiset[K], v K) {
	if s.counts == nil {
		s.counts = make(map[K]int64)
	}
	c := s.counts[v]
	s.counts[v] = c + 1
	if c == 0 {
		m.heap += int64(aggSizeof[K]() + 8 + aggSetEntryBytes)
		s.heap = append(s.heap, v)
		m.up(s.heap, len(s.heap)-1)
	}
}

func (m *aggTableMinMax[T, K]) remove(s *aggMultiset[K], v K) {
	c := s.counts[v] - 1
	if c > 0 {
		s.counts[v] = c
		return
	}
	delete(s.counts, v)
	m.heap -= int64(aggSizeof[K]() + 8 + aggSetEntryBytes)
	if len(s.heap) > 2*len(s.counts)+8 {
		s.heap = s.heap[:0]
		for k := range s.counts {
			s.heap = append(s.heap, k)
		}
		for i := len(s.heap)/2 - 1; i >= 0; i-- {
			m.down(s.heap, i)
		}
	}
}

// best returns the best value of s, dropping stale heap entries.
func (m *aggTableMinMax[T, K]) best(s *aggMultiset[K]) (K, bool) {
	for len(s.heap) > 0 {
		top := s.heap[0]
		if _, ok := s.counts[top]; ok {
			return top, true
		}
		last := len(s.heap) - 1
		s.heap[0] = s.heap[last]
		var z K
		s.heap[last] = z
		s.heap = s.heap[:last]
		m.down(s.heap, 0)
	}
	var z K
	return z, false
}

func (m *aggTableMinMax[T, K]) up(h []K, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !m.better(h[i], h[p]) {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (m *aggTableMinMax[T, K]) down(h []K, i int) {
	for {
		c := 2*i + 1
		if c >= len(h) {
			return
		}
		if r := c + 1; r < len(h) && m.better(h[r], h[c]) {
			c = r
		}
		if !m.better(h[c], h[i]) {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}

func (m *aggTableMinMax[T, K]) result(mem memory.Allocator, gids []int32) arrow.Array {
	out := make([]K, len(gids))
	valid := make([]bool, len(gids))
	for i, g := range gids {
		if g >= 0 {
			out[i], valid[i] = m.best(&m.sets[g])
		}
	}
	return aggBuild(mem, m.dt, out, valid)
}

// aggTableDistinct is COUNT_DISTINCT of a table: the number of distinct
// values of the group's multiset.
type aggTableDistinct[T, K aggScalar] struct {
	aggTableOnly
	key  func(T) K
	sets []map[K]int64
	heap int64
	args *aggArgs[T]
}

func newAggTableDistinct(dt arrow.DataType, st aggArgStore) aggFunc {
	switch aggPhysOf(dt) {
	case aggPhysBool:
		return &aggTableDistinct[bool, bool]{key: aggSame[bool], args: st.(*aggArgs[bool])}
	case aggPhysInt32:
		return &aggTableDistinct[int32, int32]{key: aggSame[int32], args: st.(*aggArgs[int32])}
	case aggPhysInt64:
		return &aggTableDistinct[int64, int64]{key: aggSame[int64], args: st.(*aggArgs[int64])}
	case aggPhysFloat64:
		return &aggTableDistinct[float64, uint64]{key: aggDoubleKey, args: st.(*aggArgs[float64])}
	case aggPhysDecimal:
		return &aggTableDistinct[decimal128.Num, decimal128.Num]{key: aggSame[decimal128.Num], args: st.(*aggArgs[decimal128.Num])}
	case aggPhysString:
		return &aggTableDistinct[string, string]{key: aggSame[string], args: st.(*aggArgs[string])}
	}
	return nil
}

func (d *aggTableDistinct[T, K]) outType() arrow.DataType { return arrow.PrimitiveTypes.Int64 }
func (d *aggTableDistinct[T, K]) groupBytes() int         { return 8 }
func (d *aggTableDistinct[T, K]) heapBytes() int64        { return d.heap }
func (d *aggTableDistinct[T, K]) grow(n int)              { d.sets = aggGrow(d.sets, n) }

func (d *aggTableDistinct[T, K]) reset(g int32) {
	d.heap -= int64(len(d.sets[g]) * (aggSizeof[K]() + 8 + aggSetEntryBytes))
	d.sets[g] = nil
}

func (d *aggTableDistinct[T, K]) tableUpdate(b *aggTableBatch) {
	a := d.args
	const entry = 8 + aggSetEntryBytes
	for i := range b.slots {
		if g := b.oldG[i]; g >= 0 && a.oldOK[i] {
			set, v := d.sets[g], d.key(a.old[i])
			if c := set[v] - 1; c > 0 {
				set[v] = c
			} else {
				delete(set, v)
				d.heap -= int64(aggSizeof[K]() + entry)
			}
		}
		if g := b.newG[i]; g >= 0 && a.curOK[i] {
			set := d.sets[g]
			if set == nil {
				set = make(map[K]int64)
				d.sets[g] = set
			}
			v := d.key(a.cur[i])
			c := set[v]
			if c == 0 {
				d.heap += int64(aggSizeof[K]() + entry)
			}
			set[v] = c + 1
		}
	}
}

func (d *aggTableDistinct[T, K]) result(mem memory.Allocator, gids []int32) arrow.Array {
	out := make([]int64, len(gids))
	valid := make([]bool, len(gids))
	for i, g := range gids {
		if g >= 0 {
			out[i], valid[i] = int64(len(d.sets[g])), true
		}
	}
	return aggBuild(mem, arrow.PrimitiveTypes.Int64, out, valid)
}
