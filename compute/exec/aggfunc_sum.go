package exec

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// aggNumber is a type SUM and AVG accumulate in, as ksqlDB does: INT sums
// are INT and wrap around like Java ints, BIGINT sums are BIGINT.
type aggNumber interface{ int32 | int64 | float64 }

// aggSum is SUM of INT, BIGINT or DOUBLE: the sum has the argument's type
// and is 0 when no value was added (ksqlDB's initial value).
type aggSum[T aggNumber] struct {
	arg  int
	dt   arrow.DataType
	sums []T
	in   aggVec[T]
}

func newAggSum(arg int, dt arrow.DataType) aggFunc {
	return aggDispatch{
		int32:   func() aggFunc { return &aggSum[int32]{arg: arg, dt: dt} },
		int64:   func() aggFunc { return &aggSum[int64]{arg: arg, dt: dt} },
		float64: func() aggFunc { return &aggSum[float64]{arg: arg, dt: dt} },
		decimal: func() aggFunc { return &aggSumDecimal{arg: arg, dt: dt.(*arrow.Decimal128Type)} },
	}.build(dt)
}

func (s *aggSum[T]) outType() arrow.DataType { return s.dt }

func (s *aggSum[T]) stateFields(prefix string) []arrow.Field {
	return []arrow.Field{{Name: prefix + "sum", Type: s.dt}}
}

func (s *aggSum[T]) groupBytes() int       { return aggSizeof[T]() }
func (s *aggSum[T]) heapBytes() int64      { return 0 }
func (s *aggSum[T]) grow(n int)            { s.sums = aggGrow(s.sums, n) }
func (s *aggSum[T]) bind(rec arrow.Record) { s.in.bind(rec.Column(s.arg)) }
func (s *aggSum[T]) unbind()               { s.in.unbind() }
func (s *aggSum[T]) merge(dst, src int32)  { s.sums[dst] += s.sums[src] }
func (s *aggSum[T]) reset(g int32)         { s.sums[g] = 0 }

func (s *aggSum[T]) update(gids []int32, _ int64) {
	sums, vals := s.sums, s.in.vals
	if s.in.nulls == nil {
		for i, g := range gids {
			if g >= 0 {
				sums[g] += vals[i]
			}
		}
		return
	}
	for i, g := range gids {
		if g >= 0 && s.in.valid(i) {
			sums[g] += vals[i]
		}
	}
}

func (s *aggSum[T]) result(mem memory.Allocator, gids []int32) arrow.Array {
	return aggResult(mem, s.dt, gids, s.sums, nil)
}

func (s *aggSum[T]) exportState(mem memory.Allocator, gids []int32) []arrow.Array {
	return []arrow.Array{s.result(mem, gids)}
}

func (s *aggSum[T]) importState(cols []arrow.Array, lo int, gids []int32) {
	aggImport(cols[0], lo, gids, s.sums, nil)
}

// aggSumDecimal is SUM of DECIMAL(p, s), a DECIMAL(p, s) as in ksqlDB. A
// sum that no longer fits the precision (ksqlDB fails the record) becomes
// NULL for the rest of the window.
type aggSumDecimal struct {
	arg      int
	dt       *arrow.Decimal128Type
	sums     []decimal128.Num
	overflow []bool
	in       aggVec[decimal128.Num]
}

func (s *aggSumDecimal) outType() arrow.DataType { return s.dt }

func (s *aggSumDecimal) stateFields(prefix string) []arrow.Field {
	return []arrow.Field{{Name: prefix + "sum", Type: s.dt, Nullable: true}}
}

func (s *aggSumDecimal) groupBytes() int       { return 17 }
func (s *aggSumDecimal) heapBytes() int64      { return 0 }
func (s *aggSumDecimal) bind(rec arrow.Record) { s.in.bind(rec.Column(s.arg)) }
func (s *aggSumDecimal) unbind()               { s.in.unbind() }

func (s *aggSumDecimal) grow(n int) {
	s.sums = aggGrow(s.sums, n)
	s.overflow = aggGrow(s.overflow, n)
}

func (s *aggSumDecimal) add(g int32, v decimal128.Num) {
	if s.overflow[g] {
		return
	}
	sum := s.sums[g].Add(v)
	s.sums[g] = sum
	s.overflow[g] = !sum.FitsInPrecision(s.dt.Precision)
}

func (s *aggSumDecimal) update(gids []int32, _ int64) {
	for i, g := range gids {
		if g >= 0 && s.in.valid(i) {
			s.add(g, s.in.vals[i])
		}
	}
}

func (s *aggSumDecimal) merge(dst, src int32) {
	if s.overflow[src] {
		s.overflow[dst] = true
	}
	s.add(dst, s.sums[src])
}

func (s *aggSumDecimal) reset(g int32) { s.sums[g], s.overflow[g] = decimal128.Num{}, false }

func (s *aggSumDecimal) result(mem memory.Allocator, gids []int32) arrow.Array {
	out := make([]decimal128.Num, len(gids))
	valid := make([]bool, len(gids))
	for i, g := range gids {
		if g >= 0 && !s.overflow[g] {
			out[i], valid[i] = s.sums[g], true
		}
	}
	return aggBuild(mem, s.dt, out, valid)
}

func (s *aggSumDecimal) exportState(mem memory.Allocator, gids []int32) []arrow.Array {
	return []arrow.Array{s.result(mem, gids)}
}

func (s *aggSumDecimal) importState(cols []arrow.Array, lo int, gids []int32) {
	aggImport(cols[0], lo, gids, s.sums, s.overflow)
	for _, g := range gids {
		s.overflow[g] = !s.overflow[g] // aggImport reported presence
	}
}

// aggAvg is AVG of INT, BIGINT or DOUBLE as ksqlDB computes it: the sum in
// the argument's type (INT sums wrap around) over the count, a DOUBLE that
// is 0 when no value was added.
type aggAvg[T aggNumber] struct {
	aggSum[T]
	counts []int64
}

func newAggAvg(arg int, dt arrow.DataType) aggFunc {
	return aggDispatch{
		int32:   func() aggFunc { return &aggAvg[int32]{aggSum: aggSum[int32]{arg: arg, dt: dt}} },
		int64:   func() aggFunc { return &aggAvg[int64]{aggSum: aggSum[int64]{arg: arg, dt: dt}} },
		float64: func() aggFunc { return &aggAvg[float64]{aggSum: aggSum[float64]{arg: arg, dt: dt}} },
	}.build(dt)
}

func (a *aggAvg[T]) outType() arrow.DataType { return arrow.PrimitiveTypes.Float64 }

func (a *aggAvg[T]) stateFields(prefix string) []arrow.Field {
	return []arrow.Field{
		{Name: prefix + "sum", Type: a.dt},
		{Name: prefix + "count", Type: arrow.PrimitiveTypes.Int64},
	}
}

func (a *aggAvg[T]) groupBytes() int { return aggSizeof[T]() + 8 }

func (a *aggAvg[T]) grow(n int) {
	a.aggSum.grow(n)
	a.counts = aggGrow(a.counts, n)
}

func (a *aggAvg[T]) update(gids []int32, _ int64) {
	sums, counts, vals := a.sums, a.counts, a.in.vals
	for i, g := range gids {
		if g >= 0 && a.in.valid(i) {
			sums[g] += vals[i]
			counts[g]++
		}
	}
}

func (a *aggAvg[T]) merge(dst, src int32) {
	a.sums[dst] += a.sums[src]
	a.counts[dst] += a.counts[src]
}

func (a *aggAvg[T]) reset(g int32) { a.sums[g], a.counts[g] = 0, 0 }

func (a *aggAvg[T]) result(mem memory.Allocator, gids []int32) arrow.Array {
	out := make([]float64, len(gids))
	valid := make([]bool, len(gids))
	for i, g := range gids {
		if g < 0 {
			continue
		}
		valid[i] = true
		if c := a.counts[g]; c > 0 {
			out[i] = float64(a.sums[g]) / float64(c)
		}
	}
	return aggBuild(mem, arrow.PrimitiveTypes.Float64, out, valid)
}

func (a *aggAvg[T]) exportState(mem memory.Allocator, gids []int32) []arrow.Array {
	return []arrow.Array{
		aggResult(mem, a.dt, gids, a.sums, nil),
		aggResult(mem, arrow.PrimitiveTypes.Int64, gids, a.counts, nil),
	}
}

func (a *aggAvg[T]) importState(cols []arrow.Array, lo int, gids []int32) {
	aggImport(cols[0], lo, gids, a.sums, nil)
	aggImport(cols[1], lo, gids, a.counts, nil)
}
