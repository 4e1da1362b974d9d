package exec

import (
	"math"
	"math/bits"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// aggTableBatch is a changelog batch of a table aggregation matched with
// the current rows of its table keys. Row i replaces the row of table key
// slot slots[i] (-1: the row changes nothing): the old row, which arrived
// as oldSeq[i], leaves group oldG[i] and the new row, arrival newSeq[i],
// joins group newG[i]; -1 is no group.
type aggTableBatch struct {
	slots          []int32
	oldG, newG     []int32
	oldSeq, newSeq []int64
}

// aggTableFunc is an aggregate of a table aggregation: it subtracts the
// old rows of a batch and adds the new ones. Its aggFunc methods keep the
// group state and results; the stream ones (bind, update, merge) are not
// used.
type aggTableFunc interface {
	aggFunc
	// tableUpdate applies the rows of b in order, reading the old and new
	// arguments of each row from the aggregate's argument store.
	tableUpdate(b *aggTableBatch)
}

// aggTableOnly gives an aggregate that exists only for table aggregations
// the stream methods of aggFunc, and no snapshot state: its groups are
// rebuilt from the table keys' rows.
type aggTableOnly struct{}

func (aggTableOnly) stateFields(string) []arrow.Field                    { return nil }
func (aggTableOnly) bind(arrow.Record)                                   {}
func (aggTableOnly) unbind()                                             {}
func (aggTableOnly) exportState(memory.Allocator, []int32) []arrow.Array { return nil }
func (aggTableOnly) importState([]arrow.Array, int, []int32)             {}
func (aggTableOnly) update([]int32, int64)                               { panic("exec: stream update of a table aggregate") }
func (aggTableOnly) merge(int32, int32)                                  { panic("exec: merge of a table aggregate") }

// aggArgStore keeps one argument column of a table aggregation: for each
// table key slot, the argument of the key's current row (NULL for keys
// without a row in a group). During a batch it holds each row's old and
// new argument, for the aggregates of the column to read.
type aggArgStore interface {
	// grow makes room for key slots below n.
	grow(n int)
	// swap reads, row by row, the argument of each row's key before the
	// row (old) and stores the row's own (new; NULL when the row joins no
	// group). arr is the batch's argument column.
	swap(arr arrow.Array, b *aggTableBatch)
	// done drops the batch's values.
	done()
	// compact keeps the key slots keep (ascending) as slots 0, 1, ….
	compact(keep []int32)
	// field is the snapshot column of the stored arguments; export builds
	// it for slots.
	field(name string) arrow.Field
	export(mem memory.Allocator, slots []int32) arrow.Array
	flags() *aggArgFlags
	bytes() int64
}

// aggArgFlags are the validity of stored arguments (by key slot) and of
// a batch's old and new arguments (by row).
type aggArgFlags struct {
	valid        []bool
	oldOK, curOK []bool
}

func (f *aggArgFlags) flags() *aggArgFlags { return f }

// swapFlags sets the batch flags from the key flags and the new rows'
// validity (bitmap nulls at offset off, nil when all are valid), and
// reports for each row whether its new argument is stored.
func (f *aggArgFlags) swapFlags(b *aggTableBatch, nulls []byte, off int) {
	n := len(b.slots)
	f.oldOK, f.curOK = aggResize(f.oldOK, n), aggResize(f.curOK, n)
	for i, k := range b.slots {
		if k < 0 {
			continue
		}
		f.oldOK[i] = f.valid[k]
		ok := b.newG[i] >= 0 && (nulls == nil || bitutil.BitIsSet(nulls, off+i))
		f.valid[k], f.curOK[i] = ok, ok
	}
}

// aggArgNulls stores only the validity of an argument: COUNT(x) needs no
// more. Its snapshot column is a BOOLEAN, true for a value, NULL for NULL.
type aggArgNulls struct{ aggArgFlags }

func (s *aggArgNulls) grow(n int) { s.valid = aggGrow(s.valid, n) }

func (s *aggArgNulls) swap(arr arrow.Array, b *aggTableBatch) {
	var nulls []byte
	if arr.NullN() > 0 {
		nulls = arr.NullBitmapBytes()
	}
	s.swapFlags(b, nulls, arr.Data().Offset())
}

func (s *aggArgNulls) done()        {}
func (s *aggArgNulls) bytes() int64 { return int64(cap(s.valid)) }

func (s *aggArgNulls) compact(keep []int32) { s.valid = aggCompact(s.valid, keep) }

func (s *aggArgNulls) field(name string) arrow.Field {
	return arrow.Field{Name: name, Type: arrow.FixedWidthTypes.Boolean, Nullable: true}
}

func (s *aggArgNulls) export(mem memory.Allocator, slots []int32) arrow.Array {
	vals, valid := make([]bool, len(slots)), make([]bool, len(slots))
	for i, k := range slots {
		vals[i], valid[i] = true, s.valid[k]
	}
	return aggBuild(mem, arrow.FixedWidthTypes.Boolean, vals, valid)
}

// aggArgs stores the values of an argument. Strings are copied once, when
// stored; the aggregates of the column share the copies.
type aggArgs[T aggScalar] struct {
	aggArgFlags
	dt       arrow.DataType
	vals     []T // by key slot
	old, cur []T // by batch row
	heap     int64
	in       aggVec[T]
}

func newAggArgs(dt arrow.DataType) aggArgStore {
	switch aggPhysOf(dt) {
	case aggPhysBool:
		return &aggArgs[bool]{dt: dt}
	case aggPhysInt32:
		return &aggArgs[int32]{dt: dt}
	case aggPhysInt64:
		return &aggArgs[int64]{dt: dt}
	case aggPhysFloat64:
		return &aggArgs[float64]{dt: dt}
	case aggPhysDecimal:
		return &aggArgs[decimal128.Num]{dt: dt}
	case aggPhysString:
		return &aggArgs[string]{dt: dt}
	}
	return &aggArgNulls{}
}

func (s *aggArgs[T]) grow(n int) {
	s.vals = aggGrow(s.vals, n)
	s.valid = aggGrow(s.valid, n)
}

func (s *aggArgs[T]) swap(arr arrow.Array, b *aggTableBatch) {
	s.in.bind(arr)
	defer s.in.unbind()
	s.swapFlags(b, s.in.nulls, s.in.off)
	n := len(b.slots)
	s.old, s.cur = aggResize(s.old, n), aggResize(s.cur, n)
	vals, in, str := s.vals, s.in.vals, aggIsString[T]()
	for i, k := range b.slots {
		if k < 0 {
			continue
		}
		old := vals[k]
		var v T
		if s.curOK[i] {
			v = aggOwn(in[i])
		}
		if str {
			s.heap += aggSize(v) - aggSize(old)
		}
		s.old[i], s.cur[i], vals[k] = old, v, v
	}
}

func (s *aggArgs[T]) done() {
	clear(s.old)
	clear(s.cur)
}

func (s *aggArgs[T]) bytes() int64 { return int64(cap(s.vals)*(aggSizeof[T]()+1)) + s.heap }

func (s *aggArgs[T]) compact(keep []int32) {
	s.vals = aggCompact(s.vals, keep)
	s.valid = aggCompact(s.valid, keep)
}

func (s *aggArgs[T]) field(name string) arrow.Field {
	return arrow.Field{Name: name, Type: s.dt, Nullable: true}
}

func (s *aggArgs[T]) export(mem memory.Allocator, slots []int32) arrow.Array {
	vals, valid := make([]T, len(slots)), make([]bool, len(slots))
	for i, k := range slots {
		vals[i], valid[i] = s.vals[k], s.valid[k]
	}
	return aggBuild(mem, s.dt, vals, valid)
}

// aggCompact moves s[keep[j]] to s[j] (keep ascending) and truncates s.
func aggCompact[T any](s []T, keep []int32) []T {
	for j, k := range keep {
		s[j] = s[k]
	}
	clear(s[len(keep):])
	return s[:len(keep)]
}

// newAggTableFunc returns the table version of f, which newAggFunc has
// validated; st is the store of its argument column (nil for COUNT(*)).
func newAggTableFunc(f AggFunc, in *arrow.Schema, st aggArgStore) aggFunc {
	name := strings.ToUpper(f.Name)
	if name == "COUNT" {
		c := &aggTableCount{aggCount: aggCount{arg: f.Arg}}
		if st != nil {
			c.args = st.flags()
		}
		return c
	}
	dt := in.Field(f.Arg).Type
	switch name {
	case "SUM":
		return newAggTableSum(f.Arg, dt, st)
	case "AVG":
		return newAggTableAvg(f.Arg, dt, st)
	case "MIN", "MAX":
		return newAggTableMinMax(dt, st, name == "MAX")
	case "COUNT_DISTINCT":
		return newAggTableDistinct(dt, st)
	case "LATEST_BY_OFFSET", "EARLIEST_BY_OFFSET":
		return newAggTableOffset(dt, st, name == "LATEST_BY_OFFSET")
	case "COLLECT_LIST":
		return newAggTableList(dt, st)
	}
	return nil
}

// aggTableNeedsValues reports whether the table version of f keeps its
// argument's values, not only whether they are NULL.
func aggTableNeedsValues(f AggFunc) bool { return !strings.EqualFold(f.Name, "COUNT") }

// aggTableCount is COUNT(*) (args nil) or COUNT(x) of a table.
type aggTableCount struct {
	aggCount
	args *aggArgFlags
}

func (c *aggTableCount) tableUpdate(b *aggTableBatch) {
	n, oldG, newG := c.n, b.oldG, b.newG
	if c.args == nil {
		for i := range b.slots {
			if g := oldG[i]; g >= 0 {
				n[g]--
			}
			if g := newG[i]; g >= 0 {
				n[g]++
			}
		}
		return
	}
	oldOK, curOK := c.args.oldOK, c.args.curOK
	for i := range b.slots {
		if g := oldG[i]; g >= 0 && oldOK[i] {
			n[g]--
		}
		if g := newG[i]; g >= 0 && curOK[i] {
			n[g]++
		}
	}
}

// aggTableSum is SUM of INT or BIGINT of a table: the old rows' values
// are subtracted. Sums wrap around, which subtraction undoes exactly.
type aggTableSum[T aggNumber] struct {
	aggSum[T]
	args *aggArgs[T]
}

func newAggTableSum(arg int, dt arrow.DataType, st aggArgStore) aggFunc {
	return aggDispatch{
		int32: func() aggFunc {
			return &aggTableSum[int32]{aggSum: aggSum[int32]{arg: arg, dt: dt}, args: st.(*aggArgs[int32])}
		},
		int64: func() aggFunc {
			return &aggTableSum[int64]{aggSum: aggSum[int64]{arg: arg, dt: dt}, args: st.(*aggArgs[int64])}
		},
		float64: func() aggFunc { return &aggTableDouble{args: st.(*aggArgs[float64])} },
		decimal: func() aggFunc {
			return &aggTableSumDecimal{dt: dt.(*arrow.Decimal128Type), args: st.(*aggArgs[decimal128.Num])}
		},
	}.build(dt)
}

func (s *aggTableSum[T]) tableUpdate(b *aggTableBatch) {
	sums, a := s.sums, s.args
	for i := range b.slots {
		if g := b.oldG[i]; g >= 0 && a.oldOK[i] {
			sums[g] -= a.old[i]
		}
		if g := b.newG[i]; g >= 0 && a.curOK[i] {
			sums[g] += a.cur[i]
		}
	}
}

// aggTableAvg is AVG of INT or BIGINT of a table: sum and count with
// subtraction.
type aggTableAvg[T aggNumber] struct {
	aggAvg[T]
	args *aggArgs[T]
}

func newAggTableAvg(arg int, dt arrow.DataType, st aggArgStore) aggFunc {
	return aggDispatch{
		int32: func() aggFunc {
			return &aggTableAvg[int32]{aggAvg: aggAvg[int32]{aggSum: aggSum[int32]{arg: arg, dt: dt}}, args: st.(*aggArgs[int32])}
		},
		int64: func() aggFunc {
			return &aggTableAvg[int64]{aggAvg: aggAvg[int64]{aggSum: aggSum[int64]{arg: arg, dt: dt}}, args: st.(*aggArgs[int64])}
		},
		float64: func() aggFunc { return &aggTableDouble{avg: true, args: st.(*aggArgs[float64])} },
	}.build(dt)
}

func (s *aggTableAvg[T]) tableUpdate(b *aggTableBatch) {
	sums, counts, a := s.sums, s.counts, s.args
	for i := range b.slots {
		if g := b.oldG[i]; g >= 0 && a.oldOK[i] {
			sums[g] -= a.old[i]
			counts[g]--
		}
		if g := b.newG[i]; g >= 0 && a.curOK[i] {
			sums[g] += a.cur[i]
			counts[g]++
		}
	}
}

// aggKeepsGroupState reports whether a table aggregate's group state must
// be in snapshots: DOUBLE sums, whose rounding depends on the order of
// additions and subtractions, so that replaying the current rows would not
// reproduce them. The other aggregates are rebuilt from the rows.
func aggKeepsGroupState(f aggFunc) bool {
	_, ok := f.(*aggTableDouble)
	return ok
}

// aggTableDouble is SUM or AVG (avg) of a DOUBLE column of a table. NaNs
// and infinities are counted apart from the sum of the finite values, so
// removing them restores it; that sum carries the rounding of its
// additions and subtractions, as ksqlDB's does. The result is NaN with a
// NaN or both infinities, an infinity with one, the sum otherwise.
type aggTableDouble struct {
	aggTableOnly
	avg    bool
	sums   []float64 // of the finite values
	odd    []aggNonFinite
	counts []int64 // values
	args   *aggArgs[float64]
}

// aggNonFinite counts the NaNs and infinities of a group.
type aggNonFinite struct{ nan, pos, neg int64 }

func (s *aggTableDouble) outType() arrow.DataType { return arrow.PrimitiveTypes.Float64 }
func (s *aggTableDouble) groupBytes() int         { return 40 }
func (s *aggTableDouble) heapBytes() int64        { return 0 }

func (s *aggTableDouble) grow(n int) {
	s.sums, s.odd, s.counts = aggGrow(s.sums, n), aggGrow(s.odd, n), aggGrow(s.counts, n)
}

func (s *aggTableDouble) reset(g int32) { s.sums[g], s.odd[g], s.counts[g] = 0, aggNonFinite{}, 0 }

// add adds v to group g (d 1) or subtracts it (d -1).
func (s *aggTableDouble) add(g int32, v float64, d int64) {
	switch {
	case v-v == 0: // finite
		s.sums[g] += float64(d) * v
	case v != v:
		s.odd[g].nan += d
	case v > 0:
		s.odd[g].pos += d
	default:
		s.odd[g].neg += d
	}
	s.counts[g] += d
}

func (s *aggTableDouble) tableUpdate(b *aggTableBatch) {
	a := s.args
	for i := range b.slots {
		if g := b.oldG[i]; g >= 0 && a.oldOK[i] {
			s.add(g, a.old[i], -1)
		}
		if g := b.newG[i]; g >= 0 && a.curOK[i] {
			s.add(g, a.cur[i], 1)
		}
	}
}

func (s *aggTableDouble) sum(g int32) float64 {
	switch o := s.odd[g]; {
	case o.nan > 0 || o.pos > 0 && o.neg > 0:
		return math.NaN()
	case o.pos > 0:
		return math.Inf(1)
	case o.neg > 0:
		return math.Inf(-1)
	}
	return s.sums[g]
}

func (s *aggTableDouble) result(mem memory.Allocator, gids []int32) arrow.Array {
	out := make([]float64, len(gids))
	valid := make([]bool, len(gids))
	for i, g := range gids {
		if g < 0 {
			continue
		}
		valid[i] = true
		if !s.avg {
			out[i] = s.sum(g)
		} else if c := s.counts[g]; c > 0 {
			out[i] = s.sum(g) / float64(c)
		}
	}
	return aggBuild(mem, arrow.PrimitiveTypes.Float64, out, valid)
}

// The snapshot keeps the sums of the finite values; the rest is rebuilt.
func (s *aggTableDouble) stateFields(prefix string) []arrow.Field {
	return []arrow.Field{{Name: prefix + "sum", Type: arrow.PrimitiveTypes.Float64}}
}

func (s *aggTableDouble) exportState(mem memory.Allocator, gids []int32) []arrow.Array {
	return []arrow.Array{aggResult(mem, arrow.PrimitiveTypes.Float64, gids, s.sums, nil)}
}

func (s *aggTableDouble) importState(cols []arrow.Array, lo int, gids []int32) {
	aggImport(cols[0], lo, gids, s.sums, nil)
}

// aggTableSumDecimal is SUM of DECIMAL(p, s) of a table, exact: the sum is
// kept in 192 bits, so subtraction undoes any addition, and the result is
// NULL while the sum does not fit the precision.
type aggTableSumDecimal struct {
	aggTableOnly
	dt   *arrow.Decimal128Type
	lo   []uint64 // the sum's bits 0–63, 64–127 and 128–191
	mid  []uint64
	top  []int64
	args *aggArgs[decimal128.Num]
}

func (s *aggTableSumDecimal) outType() arrow.DataType { return s.dt }
func (s *aggTableSumDecimal) groupBytes() int         { return 24 }
func (s *aggTableSumDecimal) heapBytes() int64        { return 0 }

func (s *aggTableSumDecimal) grow(n int) {
	s.lo, s.mid, s.top = aggGrow(s.lo, n), aggGrow(s.mid, n), aggGrow(s.top, n)
}

func (s *aggTableSumDecimal) reset(g int32) { s.lo[g], s.mid[g], s.top[g] = 0, 0, 0 }

func (s *aggTableSumDecimal) add(g int32, v decimal128.Num) {
	var c uint64
	s.lo[g], c = bits.Add64(s.lo[g], v.LowBits(), 0)
	s.mid[g], c = bits.Add64(s.mid[g], uint64(v.HighBits()), c)
	s.top[g] += v.HighBits()>>63 + int64(c)
}

func (s *aggTableSumDecimal) sub(g int32, v decimal128.Num) {
	var b uint64
	s.lo[g], b = bits.Sub64(s.lo[g], v.LowBits(), 0)
	s.mid[g], b = bits.Sub64(s.mid[g], uint64(v.HighBits()), b)
	s.top[g] -= v.HighBits()>>63 + int64(b)
}

func (s *aggTableSumDecimal) tableUpdate(b *aggTableBatch) {
	a := s.args
	for i := range b.slots {
		if g := b.oldG[i]; g >= 0 && a.oldOK[i] {
			s.sub(g, a.old[i])
		}
		if g := b.newG[i]; g >= 0 && a.curOK[i] {
			s.add(g, a.cur[i])
		}
	}
}

func (s *aggTableSumDecimal) result(mem memory.Allocator, gids []int32) arrow.Array {
	out := make([]decimal128.Num, len(gids))
	valid := make([]bool, len(gids))
	for i, g := range gids {
		if g < 0 || s.top[g] != int64(s.mid[g])>>63 { // beyond 128 bits
			continue
		}
		if v := decimal128.New(int64(s.mid[g]), s.lo[g]); v.FitsInPrecision(s.dt.Precision) {
			out[i], valid[i] = v, true
		}
	}
	return aggBuild(mem, s.dt, out, valid)
}
