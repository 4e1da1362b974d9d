package exec

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// aggList is COLLECT_LIST of a primitive column: an ARRAY of the non-NULL
// values in arrival order, empty when none arrived, without ksqlDB's
// optional ksql.functions.collect_list.limit. A merged session lists the
// earlier session's values, then the later's (ksqlDB's merge), then the
// values of the batch that merged them.
type aggList[T aggScalar] struct {
	arg   int
	dt    arrow.DataType
	lists [][]T
	heap  int64
	in    aggVec[T]
}

func newAggList(arg int, dt arrow.DataType) aggFunc {
	return aggDispatch{
		boolean: func() aggFunc { return &aggList[bool]{arg: arg, dt: dt} },
		int32:   func() aggFunc { return &aggList[int32]{arg: arg, dt: dt} },
		int64:   func() aggFunc { return &aggList[int64]{arg: arg, dt: dt} },
		float64: func() aggFunc { return &aggList[float64]{arg: arg, dt: dt} },
		decimal: func() aggFunc { return &aggList[decimal128.Num]{arg: arg, dt: dt} },
		str:     func() aggFunc { return &aggList[string]{arg: arg, dt: dt} },
	}.build(dt)
}

func (l *aggList[T]) outType() arrow.DataType { return arrow.ListOf(l.dt) }

func (l *aggList[T]) stateFields(prefix string) []arrow.Field {
	return []arrow.Field{{Name: prefix + "values", Type: arrow.ListOf(l.dt)}}
}

func (l *aggList[T]) groupBytes() int       { return 24 }
func (l *aggList[T]) heapBytes() int64      { return l.heap }
func (l *aggList[T]) grow(n int)            { l.lists = aggGrow(l.lists, n) }
func (l *aggList[T]) bind(rec arrow.Record) { l.in.bind(rec.Column(l.arg)) }
func (l *aggList[T]) unbind()               { l.in.unbind() }

func (l *aggList[T]) add(g int32, v T) {
	l.lists[g] = append(l.lists[g], v)
	l.heap += int64(aggSizeof[T]()) + aggSize(v)
}

func (l *aggList[T]) update(gids []int32, _ int64) {
	for i, g := range gids {
		if g >= 0 && l.in.valid(i) {
			l.add(g, aggOwn(l.in.vals[i]))
		}
	}
}

// merge moves the values of src: reset then finds src empty.
func (l *aggList[T]) merge(dst, src int32) {
	l.lists[dst] = append(l.lists[dst], l.lists[src]...)
	l.lists[src] = nil
}

func (l *aggList[T]) reset(g int32) {
	for _, v := range l.lists[g] {
		l.heap -= int64(aggSizeof[T]()) + aggSize(v)
	}
	l.lists[g] = nil
}

func (l *aggList[T]) result(mem memory.Allocator, gids []int32) arrow.Array {
	lists := make([][]T, len(gids))
	valid := make([]bool, len(gids))
	for i, g := range gids {
		if g >= 0 {
			lists[i], valid[i] = l.lists[g], true
		}
	}
	return aggBuildList(mem, l.dt, lists, valid)
}

func (l *aggList[T]) exportState(mem memory.Allocator, gids []int32) []arrow.Array {
	return []arrow.Array{l.result(mem, gids)}
}

func (l *aggList[T]) importState(cols []arrow.Array, lo int, gids []int32) {
	var v aggListVec[T]
	v.bind(cols[0])
	defer v.unbind()
	for i, g := range gids {
		for _, x := range v.row(lo + i) {
			l.add(g, aggOwn(x))
		}
	}
}
