package exec

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/strata-log/strata/compute/expr"
)

// AggFunc is one aggregate call of an aggregation.
type AggFunc struct {
	// Name is the function: COUNT, SUM, AVG, MIN, MAX, COUNT_DISTINCT,
	// LATEST_BY_OFFSET, EARLIEST_BY_OFFSET or COLLECT_LIST (any case).
	Name string
	// Arg is the input column of the argument; -1 for COUNT(*).
	Arg int
	// OutName names the output column.
	OutName string
}

// aggFunc is the state of one aggregate over all groups, indexed by group
// id. The operator binds it to each batch, feeds it group ids column at a
// time and reads results and state for lists of group ids.
type aggFunc interface {
	// outType is the type of the result column.
	outType() arrow.DataType
	// stateFields are the columns of the state in snapshots and spill
	// files, named after prefix.
	stateFields(prefix string) []arrow.Field
	// groupBytes is the state size of one group; heapBytes the memory
	// held beyond it (strings, lists, sets), over all groups.
	groupBytes() int
	heapBytes() int64
	// grow makes room for group ids below n.
	grow(n int)
	// bind views the argument column of rec until unbind.
	bind(rec arrow.Record)
	unbind()
	// update adds row i of the bound batch to group gids[i] (skipped when
	// negative); seq+i+1 is the row's arrival number.
	update(gids []int32, seq int64)
	// merge folds group src, whose rows follow dst's (a later session or
	// later-arrived rows of a spilled window), into dst. The caller then
	// resets src.
	merge(dst, src int32)
	// reset empties a group.
	reset(g int32)
	// result builds the output column for gids; -1 yields NULL.
	result(mem memory.Allocator, gids []int32) arrow.Array
	// exportState builds the state columns of gids; importState sets the
	// state of the empty groups gids from rows lo… of state columns.
	exportState(mem memory.Allocator, gids []int32) []arrow.Array
	importState(cols []arrow.Array, lo int, gids []int32)
}

// newAggFunc binds f to the input schema.
func newAggFunc(f AggFunc, in *arrow.Schema) (aggFunc, error) {
	name := strings.ToUpper(f.Name)
	if name == "COUNT" && f.Arg == -1 {
		return &aggCount{arg: -1}, nil
	}
	if f.Arg < 0 || f.Arg >= in.NumFields() {
		return nil, fmt.Errorf("%w: %s argument column %d is not in the input", ErrAggregateConfig, name, f.Arg)
	}
	dt := in.Field(f.Arg).Type
	var fn aggFunc
	switch name {
	case "COUNT":
		fn = &aggCount{arg: f.Arg}
	case "SUM":
		fn = newAggSum(f.Arg, dt)
	case "AVG":
		fn = newAggAvg(f.Arg, dt)
	case "MIN", "MAX":
		fn = newAggMinMax(f.Arg, dt, name == "MAX")
	case "COUNT_DISTINCT":
		fn = newAggDistinct(f.Arg, dt)
	case "LATEST_BY_OFFSET", "EARLIEST_BY_OFFSET":
		fn = newAggOffset(f.Arg, dt, name == "LATEST_BY_OFFSET")
	case "COLLECT_LIST":
		fn = newAggList(f.Arg, dt)
	default:
		return nil, fmt.Errorf("%w: unknown aggregate function %q", ErrAggregateConfig, f.Name)
	}
	if fn == nil {
		return nil, fmt.Errorf("%w: %s(%s) is not supported", ErrAggregateConfig, name, expr.SQLType(dt))
	}
	return fn, nil
}

// aggIsString reports whether T is string.
func aggIsString[T any]() bool {
	_, ok := any((*T)(nil)).(*string)
	return ok
}

// aggOwn returns v detached from the batch it was read from.
func aggOwn[T aggScalar](v T) T {
	if aggIsString[T]() {
		s := strings.Clone(*(*string)(unsafe.Pointer(&v)))
		return *(*T)(unsafe.Pointer(&s))
	}
	return v
}

// aggSize is the memory v holds beyond its own size.
func aggSize[T aggScalar](v T) int64 {
	if aggIsString[T]() {
		return int64(len(*(*string)(unsafe.Pointer(&v))))
	}
	return 0
}

// aggSizeof is the size of a T.
func aggSizeof[T any]() int {
	var z T
	return int(unsafe.Sizeof(z))
}

// aggResult builds the column of vals[g] for gids; a negative id, or a
// group whose has is false, yields NULL. has nil means every group has a
// value.
func aggResult[T aggScalar](mem memory.Allocator, dt arrow.DataType, gids []int32, vals []T, has []bool) arrow.Array {
	out := make([]T, len(gids))
	valid := make([]bool, len(gids))
	for i, g := range gids {
		if g < 0 || (has != nil && !has[g]) {
			continue
		}
		out[i], valid[i] = vals[g], true
	}
	return aggBuild(mem, dt, out, valid)
}

// aggImport copies rows lo… of col into vals[gids[i]] (detaching strings)
// and reports the NULL rows as has false when has is not nil. It returns
// the memory the copied strings hold.
func aggImport[T aggScalar](col arrow.Array, lo int, gids []int32, vals []T, has []bool) int64 {
	var v aggVec[T]
	v.bind(col)
	defer v.unbind()
	var heap int64
	for i, g := range gids {
		ok := v.valid(lo + i)
		if has != nil {
			has[g] = ok
		}
		if ok {
			vals[g] = aggOwn(v.vals[lo+i])
			heap += aggSize(vals[g])
		}
	}
	return heap
}

// aggDispatch returns the aggregate built by the constructor matching dt's
// storage class, nil when dt has none or the constructor is nil.
type aggDispatch struct {
	boolean func() aggFunc
	int32   func() aggFunc
	int64   func() aggFunc
	float64 func() aggFunc
	decimal func() aggFunc
	str     func() aggFunc
}

func (d aggDispatch) build(dt arrow.DataType) aggFunc {
	var f func() aggFunc
	switch aggPhysOf(dt) {
	case aggPhysBool:
		f = d.boolean
	case aggPhysInt32:
		f = d.int32
	case aggPhysInt64:
		f = d.int64
	case aggPhysFloat64:
		f = d.float64
	case aggPhysDecimal:
		f = d.decimal
	case aggPhysString:
		f = d.str
	}
	if f == nil {
		return nil
	}
	return f()
}
