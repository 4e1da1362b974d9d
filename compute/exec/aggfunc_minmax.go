package exec

import (
	"cmp"
	"math"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// aggMinMax is MIN or MAX of a numeric, DECIMAL, VARCHAR, BYTES, TIMESTAMP,
// DATE or TIME column: a value of the argument's type, NULL when no value
// was added. DOUBLEs order as Java's Double.compare (ksqlDB's): -0.0 below
// 0.0, NaN above everything. Strings and bytes order by their bytes.
type aggMinMax[T aggScalar] struct {
	arg  int
	dt   arrow.DataType
	max  bool
	less func(a, b T) bool
	vals []T
	has  []bool
	heap int64
	in   aggVec[T]
}

func newAggMinMax(arg int, dt arrow.DataType, isMax bool) aggFunc {
	return aggDispatch{
		int32: func() aggFunc { return &aggMinMax[int32]{arg: arg, dt: dt, max: isMax, less: cmp.Less[int32]} },
		int64: func() aggFunc { return &aggMinMax[int64]{arg: arg, dt: dt, max: isMax, less: cmp.Less[int64]} },
		float64: func() aggFunc {
			return &aggMinMax[float64]{arg: arg, dt: dt, max: isMax, less: aggJavaLess}
		},
		decimal: func() aggFunc {
			return &aggMinMax[decimal128.Num]{arg: arg, dt: dt, max: isMax, less: decimal128.Num.Less}
		},
		str: func() aggFunc { return &aggMinMax[string]{arg: arg, dt: dt, max: isMax, less: cmp.Less[string]} },
	}.build(dt)
}

// aggJavaLess orders doubles as Java's Double.compare.
func aggJavaLess(a, b float64) bool {
	if a < b {
		return true
	}
	if a > b {
		return false
	}
	return aggJavaBits(a) < aggJavaBits(b)
}

// aggJavaBits is Java's doubleToLongBits: the bits with NaNs made canonical.
func aggJavaBits(f float64) int64 {
	if f != f {
		return 0x7ff8000000000000
	}
	return int64(math.Float64bits(f))
}

func (m *aggMinMax[T]) outType() arrow.DataType { return m.dt }

func (m *aggMinMax[T]) stateFields(prefix string) []arrow.Field {
	return []arrow.Field{{Name: prefix + "value", Type: m.dt, Nullable: true}}
}

func (m *aggMinMax[T]) groupBytes() int       { return aggSizeof[T]() + 1 }
func (m *aggMinMax[T]) heapBytes() int64      { return m.heap }
func (m *aggMinMax[T]) bind(rec arrow.Record) { m.in.bind(rec.Column(m.arg)) }
func (m *aggMinMax[T]) unbind()               { m.in.unbind() }

func (m *aggMinMax[T]) grow(n int) {
	m.vals = aggGrow(m.vals, n)
	m.has = aggGrow(m.has, n)
}

// offer makes v the value of g if it is better; v must be owned.
func (m *aggMinMax[T]) offer(g int32, v T, own bool) {
	if m.has[g] {
		cur := m.vals[g]
		if m.max && !m.less(cur, v) || !m.max && !m.less(v, cur) {
			return
		}
		m.heap -= aggSize(cur)
	}
	if own {
		v = aggOwn(v)
	}
	m.vals[g], m.has[g] = v, true
	m.heap += aggSize(v)
}

func (m *aggMinMax[T]) update(gids []int32, _ int64) {
	for i, g := range gids {
		if g >= 0 && m.in.valid(i) {
			m.offer(g, m.in.vals[i], true)
		}
	}
}

func (m *aggMinMax[T]) merge(dst, src int32) {
	if m.has[src] {
		m.offer(dst, m.vals[src], true)
	}
}

func (m *aggMinMax[T]) reset(g int32) {
	m.heap -= aggSize(m.vals[g])
	var z T
	m.vals[g], m.has[g] = z, false
}

func (m *aggMinMax[T]) result(mem memory.Allocator, gids []int32) arrow.Array {
	return aggResult(mem, m.dt, gids, m.vals, m.has)
}

func (m *aggMinMax[T]) exportState(mem memory.Allocator, gids []int32) []arrow.Array {
	return []arrow.Array{m.result(mem, gids)}
}

func (m *aggMinMax[T]) importState(cols []arrow.Array, lo int, gids []int32) {
	m.heap += aggImport(cols[0], lo, gids, m.vals, m.has)
}
