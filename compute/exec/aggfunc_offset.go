package exec

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// aggOffset is LATEST_BY_OFFSET (latest) or EARLIEST_BY_OFFSET of a
// primitive column: the non-NULL value of the last or first row to arrive,
// NULL when none did. Rows are ordered by arrival, as ksqlDB orders them
// with a sequence number: within a partition that is offset order, across
// partitions it is the order the pipeline delivered them in. Each group
// keeps its value's arrival number, so merged sessions and spilled windows
// compare correctly.
type aggOffset[T aggScalar] struct {
	arg    int
	dt     arrow.DataType
	latest bool
	vals   []T
	seqs   []int64 // arrival number of vals[g]; 0 when there is none
	heap   int64
	in     aggVec[T]
}

func newAggOffset(arg int, dt arrow.DataType, latest bool) aggFunc {
	return aggDispatch{
		boolean: func() aggFunc { return &aggOffset[bool]{arg: arg, dt: dt, latest: latest} },
		int32:   func() aggFunc { return &aggOffset[int32]{arg: arg, dt: dt, latest: latest} },
		int64:   func() aggFunc { return &aggOffset[int64]{arg: arg, dt: dt, latest: latest} },
		float64: func() aggFunc { return &aggOffset[float64]{arg: arg, dt: dt, latest: latest} },
		decimal: func() aggFunc { return &aggOffset[decimal128.Num]{arg: arg, dt: dt, latest: latest} },
		str:     func() aggFunc { return &aggOffset[string]{arg: arg, dt: dt, latest: latest} },
	}.build(dt)
}

func (o *aggOffset[T]) outType() arrow.DataType { return o.dt }

func (o *aggOffset[T]) stateFields(prefix string) []arrow.Field {
	return []arrow.Field{
		{Name: prefix + "value", Type: o.dt, Nullable: true},
		{Name: prefix + "seq", Type: arrow.PrimitiveTypes.Int64},
	}
}

func (o *aggOffset[T]) groupBytes() int       { return aggSizeof[T]() + 8 }
func (o *aggOffset[T]) heapBytes() int64      { return o.heap }
func (o *aggOffset[T]) bind(rec arrow.Record) { o.in.bind(rec.Column(o.arg)) }
func (o *aggOffset[T]) unbind()               { o.in.unbind() }

func (o *aggOffset[T]) grow(n int) {
	o.vals = aggGrow(o.vals, n)
	o.seqs = aggGrow(o.seqs, n)
}

// wins reports whether a value that arrived as seq replaces g's.
func (o *aggOffset[T]) wins(g int32, seq int64) bool {
	cur := o.seqs[g]
	return cur == 0 || o.latest && seq > cur || !o.latest && seq < cur
}

func (o *aggOffset[T]) set(g int32, v T, seq int64) {
	o.heap += aggSize(v) - aggSize(o.vals[g])
	o.vals[g], o.seqs[g] = v, seq
}

func (o *aggOffset[T]) update(gids []int32, seq int64) {
	for i, g := range gids {
		if g >= 0 && o.in.valid(i) && o.wins(g, seq+int64(i)+1) {
			o.set(g, aggOwn(o.in.vals[i]), seq+int64(i)+1)
		}
	}
}

func (o *aggOffset[T]) merge(dst, src int32) {
	if s := o.seqs[src]; s != 0 && o.wins(dst, s) {
		o.set(dst, aggOwn(o.vals[src]), s)
	}
}

func (o *aggOffset[T]) reset(g int32) {
	var z T
	o.set(g, z, 0)
}

func (o *aggOffset[T]) result(mem memory.Allocator, gids []int32) arrow.Array {
	out := make([]T, len(gids))
	valid := make([]bool, len(gids))
	for i, g := range gids {
		if g >= 0 && o.seqs[g] != 0 {
			out[i], valid[i] = o.vals[g], true
		}
	}
	return aggBuild(mem, o.dt, out, valid)
}

func (o *aggOffset[T]) exportState(mem memory.Allocator, gids []int32) []arrow.Array {
	return []arrow.Array{
		o.result(mem, gids),
		aggResult(mem, arrow.PrimitiveTypes.Int64, gids, o.seqs, nil),
	}
}

func (o *aggOffset[T]) importState(cols []arrow.Array, lo int, gids []int32) {
	o.heap += aggImport(cols[0], lo, gids, o.vals, nil)
	aggImport(cols[1], lo, gids, o.seqs, nil)
}
