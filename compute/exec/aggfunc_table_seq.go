package exec

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// The table versions of COLLECT_LIST, LATEST_BY_OFFSET and
// EARLIEST_BY_OFFSET keep, per group, the non-NULL values of its current
// rows ordered by the rows' arrival numbers: a new row always arrived
// last, so it is appended; a removed row is found by binary search.

// aggSeqEntry is the value of a row that arrived as seq.
type aggSeqEntry[T aggScalar] struct {
	seq  int64
	v    T
	dead bool
}

// aggSeqList holds entries ordered by seq: ents[head:] with dead of them
// removed. The first and last of ents[head:] are never dead.
type aggSeqList[T aggScalar] struct {
	ents []aggSeqEntry[T]
	head int
	dead int
}

func (l *aggSeqList[T]) len() int { return len(l.ents) - l.head - l.dead }

func (l *aggSeqList[T]) add(seq int64, v T) {
	l.ents = append(l.ents, aggSeqEntry[T]{seq: seq, v: v})
}

// remove drops the entry of seq, if there is one.
func (l *aggSeqList[T]) remove(seq int64) {
	lo, hi := l.head, len(l.ents)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if l.ents[m].seq < seq {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == len(l.ents) || l.ents[lo].seq != seq || l.ents[lo].dead {
		return
	}
	var z T
	l.ents[lo].v, l.ents[lo].dead = z, true
	l.dead++
	for l.head < len(l.ents) && l.ents[l.head].dead {
		l.head++
		l.dead--
	}
	n := len(l.ents)
	for n > l.head && l.ents[n-1].dead {
		n--
		l.dead--
	}
	l.ents = l.ents[:n]
	if l.head+l.dead > l.len()+8 {
		j := 0
		for _, e := range l.ents[l.head:] {
			if !e.dead {
				l.ents[j] = e
				j++
			}
		}
		clear(l.ents[j:])
		l.ents, l.head, l.dead = l.ents[:j], 0, 0
	}
}

// appendValues appends the live values to out.
func (l *aggSeqList[T]) appendValues(out []T) []T {
	for _, e := range l.ents[l.head:] {
		if !e.dead {
			out = append(out, e.v)
		}
	}
	return out
}

// aggTableSeqFunc is the common part of the table versions of
// COLLECT_LIST (list) and LATEST and EARLIEST_BY_OFFSET.
type aggTableSeqFunc[T aggScalar] struct {
	aggTableOnly
	dt    arrow.DataType
	lists []aggSeqList[T]
	heap  int64
	args  *aggArgs[T]
}

func (f *aggTableSeqFunc[T]) groupBytes() int  { return 40 }
func (f *aggTableSeqFunc[T]) heapBytes() int64 { return f.heap }
func (f *aggTableSeqFunc[T]) grow(n int)       { f.lists = aggGrow(f.lists, n) }

func (f *aggTableSeqFunc[T]) reset(g int32) {
	f.heap -= int64(cap(f.lists[g].ents) * aggSizeof[aggSeqEntry[T]]())
	f.lists[g] = aggSeqList[T]{}
}

func (f *aggTableSeqFunc[T]) tableUpdate(b *aggTableBatch) {
	a := f.args
	for i := range b.slots {
		if g := b.oldG[i]; g >= 0 && a.oldOK[i] {
			f.lists[g].remove(b.oldSeq[i])
		}
		if g := b.newG[i]; g >= 0 && a.curOK[i] {
			l := &f.lists[g]
			c := cap(l.ents)
			l.add(b.newSeq[i], a.cur[i])
			if cap(l.ents) != c {
				f.heap += int64((cap(l.ents) - c) * aggSizeof[aggSeqEntry[T]]())
			}
		}
	}
}

// aggTableList is COLLECT_LIST of a table: the values of the group's
// current rows in the order those rows arrived.
type aggTableList[T aggScalar] struct{ aggTableSeqFunc[T] }

func newAggTableList(dt arrow.DataType, st aggArgStore) aggFunc {
	return aggDispatch{
		boolean: func() aggFunc { return &aggTableList[bool]{aggTableSeqFunc[bool]{dt: dt, args: st.(*aggArgs[bool])}} },
		int32: func() aggFunc {
			return &aggTableList[int32]{aggTableSeqFunc[int32]{dt: dt, args: st.(*aggArgs[int32])}}
		},
		int64: func() aggFunc {
			return &aggTableList[int64]{aggTableSeqFunc[int64]{dt: dt, args: st.(*aggArgs[int64])}}
		},
		float64: func() aggFunc {
			return &aggTableList[float64]{aggTableSeqFunc[float64]{dt: dt, args: st.(*aggArgs[float64])}}
		},
		decimal: func() aggFunc {
			return &aggTableList[decimal128.Num]{aggTableSeqFunc[decimal128.Num]{dt: dt, args: st.(*aggArgs[decimal128.Num])}}
		},
		str: func() aggFunc {
			return &aggTableList[string]{aggTableSeqFunc[string]{dt: dt, args: st.(*aggArgs[string])}}
		},
	}.build(dt)
}

func (l *aggTableList[T]) outType() arrow.DataType { return arrow.ListOf(l.dt) }

func (l *aggTableList[T]) result(mem memory.Allocator, gids []int32) arrow.Array {
	total := 0
	for _, g := range gids {
		if g >= 0 {
			total += l.lists[g].len()
		}
	}
	flat := make([]T, 0, total)
	lists := make([][]T, len(gids))
	valid := make([]bool, len(gids))
	for i, g := range gids {
		if g >= 0 {
			lo := len(flat)
			flat = l.lists[g].appendValues(flat)
			lists[i], valid[i] = flat[lo:], true
		}
	}
	return aggBuildList(mem, l.dt, lists, valid)
}

// aggTableOffset is LATEST_BY_OFFSET (latest) or EARLIEST_BY_OFFSET of a
// table: the non-NULL value of the group's current row that arrived last
// (first), NULL when there is none.
type aggTableOffset[T aggScalar] struct {
	aggTableSeqFunc[T]
	latest bool
}

func newAggTableOffset(dt arrow.DataType, st aggArgStore, latest bool) aggFunc {
	return aggDispatch{
		boolean: func() aggFunc {
			return &aggTableOffset[bool]{aggTableSeqFunc[bool]{dt: dt, args: st.(*aggArgs[bool])}, latest}
		},
		int32: func() aggFunc {
			return &aggTableOffset[int32]{aggTableSeqFunc[int32]{dt: dt, args: st.(*aggArgs[int32])}, latest}
		},
		int64: func() aggFunc {
			return &aggTableOffset[int64]{aggTableSeqFunc[int64]{dt: dt, args: st.(*aggArgs[int64])}, latest}
		},
		float64: func() aggFunc {
			return &aggTableOffset[float64]{aggTableSeqFunc[float64]{dt: dt, args: st.(*aggArgs[float64])}, latest}
		},
		decimal: func() aggFunc {
			return &aggTableOffset[decimal128.Num]{aggTableSeqFunc[decimal128.Num]{dt: dt, args: st.(*aggArgs[decimal128.Num])}, latest}
		},
		str: func() aggFunc {
			return &aggTableOffset[string]{aggTableSeqFunc[string]{dt: dt, args: st.(*aggArgs[string])}, latest}
		},
	}.build(dt)
}

func (o *aggTableOffset[T]) outType() arrow.DataType { return o.dt }

func (o *aggTableOffset[T]) result(mem memory.Allocator, gids []int32) arrow.Array {
	out := make([]T, len(gids))
	valid := make([]bool, len(gids))
	for i, g := range gids {
		if g < 0 {
			continue
		}
		l := &o.lists[g]
		if l.len() == 0 {
			continue
		}
		e := l.ents[l.head]
		if o.latest {
			e = l.ents[len(l.ents)-1]
		}
		out[i], valid[i] = e.v, true
	}
	return aggBuild(mem, o.dt, out, valid)
}
