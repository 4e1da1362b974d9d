package exec

import (
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// aggDistinct is COUNT_DISTINCT of a primitive column: the exact number of
// distinct non-NULL values, a BIGINT (ksqlDB estimates it with a
// HyperLogLog). DOUBLEs are compared by their bits with NaNs made
// canonical, as Java's Double.equals: NaN counts once, -0.0 and 0.0 twice.
type aggDistinct[T aggScalar] struct {
	arg     int
	dt      arrow.DataType
	doubles bool // T is uint64 holding DOUBLE bits
	sets    []map[T]struct{}
	heap    int64
	in      aggVec[T]
}

// aggSetEntryBytes estimates the memory of one set entry beyond its value.
const aggSetEntryBytes = 16

func newAggDistinct(arg int, dt arrow.DataType) aggFunc {
	return aggDispatch{
		boolean: func() aggFunc { return &aggDistinct[bool]{arg: arg, dt: dt} },
		int32:   func() aggFunc { return &aggDistinct[int32]{arg: arg, dt: dt} },
		int64:   func() aggFunc { return &aggDistinct[int64]{arg: arg, dt: dt} },
		float64: func() aggFunc { return &aggDistinct[uint64]{arg: arg, dt: dt, doubles: true} },
		decimal: func() aggFunc { return &aggDistinct[decimal128.Num]{arg: arg, dt: dt} },
		str:     func() aggFunc { return &aggDistinct[string]{arg: arg, dt: dt} },
	}.build(dt)
}

func (d *aggDistinct[T]) outType() arrow.DataType { return arrow.PrimitiveTypes.Int64 }

func (d *aggDistinct[T]) stateFields(prefix string) []arrow.Field {
	return []arrow.Field{{Name: prefix + "values", Type: arrow.ListOf(d.dt)}}
}

func (d *aggDistinct[T]) groupBytes() int       { return 8 }
func (d *aggDistinct[T]) heapBytes() int64      { return d.heap }
func (d *aggDistinct[T]) grow(n int)            { d.sets = aggGrow(d.sets, n) }
func (d *aggDistinct[T]) bind(rec arrow.Record) { d.in.bind(rec.Column(d.arg)) }
func (d *aggDistinct[T]) unbind()               { d.in.unbind() }

// add inserts v into the set of g, copying it if own.
func (d *aggDistinct[T]) add(g int32, v T, own bool) {
	if d.doubles {
		if bits := (*uint64)(unsafe.Pointer(&v)); *bits&0x7ff0000000000000 == 0x7ff0000000000000 && *bits&0xfffffffffffff != 0 {
			*bits = 0x7ff8000000000000
		}
	}
	set := d.sets[g]
	if set == nil {
		set = make(map[T]struct{})
		d.sets[g] = set
	}
	if _, ok := set[v]; ok {
		return
	}
	if own {
		v = aggOwn(v)
	}
	set[v] = struct{}{}
	d.heap += int64(aggSizeof[T]()+aggSetEntryBytes) + aggSize(v)
}

func (d *aggDistinct[T]) update(gids []int32, _ int64) {
	for i, g := range gids {
		if g >= 0 && d.in.valid(i) {
			d.add(g, d.in.vals[i], true)
		}
	}
}

func (d *aggDistinct[T]) merge(dst, src int32) {
	for v := range d.sets[src] {
		d.add(dst, v, true)
	}
}

func (d *aggDistinct[T]) reset(g int32) {
	for v := range d.sets[g] {
		d.heap -= int64(aggSizeof[T]()+aggSetEntryBytes) + aggSize(v)
	}
	d.sets[g] = nil
}

func (d *aggDistinct[T]) result(mem memory.Allocator, gids []int32) arrow.Array {
	out := make([]int64, len(gids))
	valid := make([]bool, len(gids))
	for i, g := range gids {
		if g >= 0 {
			out[i], valid[i] = int64(len(d.sets[g])), true
		}
	}
	return aggBuild(mem, arrow.PrimitiveTypes.Int64, out, valid)
}

func (d *aggDistinct[T]) exportState(mem memory.Allocator, gids []int32) []arrow.Array {
	lists := make([][]T, len(gids))
	for i, g := range gids {
		for v := range d.sets[g] {
			lists[i] = append(lists[i], v)
		}
	}
	return []arrow.Array{aggBuildList(mem, d.dt, lists, nil)}
}

func (d *aggDistinct[T]) importState(cols []arrow.Array, lo int, gids []int32) {
	var v aggListVec[T]
	v.bind(cols[0])
	defer v.unbind()
	for i, g := range gids {
		for _, x := range v.row(lo + i) {
			d.add(g, x, true)
		}
	}
}
