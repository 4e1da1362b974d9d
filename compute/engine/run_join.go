package engine

import (
	"context"
	"maps"
	"math"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/strata-log/strata/compute/exec"
	"github.com/strata-log/strata/compute/plan"
)

// joinOperator is what the engine needs of a join.
type joinOperator interface {
	State
	Left() exec.Operator
	Right() exec.Operator
	Schema() *arrow.Schema
	Close() error
}

// newJoin builds q's join, emitting into next.
func newJoin(j *plan.Join, next stage) (joinOperator, error) {
	switch j.Kind {
	case plan.StreamStream:
		return exec.NewStreamStreamJoin(j.Config, exec.Emit(next))
	case plan.StreamTable:
		return exec.NewStreamTableJoin(j.Config, exec.Emit(next))
	}
	return exec.NewTableTableJoin(j.Config, exec.Emit(next))
}

// runJoin reads both sides of q's join (from and rightFrom) into the
// pipeline's join ports, each scan in its goroutine. The table of a
// stream-table join read from its start is read to its end first, so that
// stream rows find the table as it is when the query starts. A bounded run
// then closes every window (outer rows without a match) and ends the
// pipeline. Pushes and progress run under one lock: progress, if not nil,
// sees the next offsets of both sides (once both have some) at a point
// where every batch before them went through the pipeline, and nothing
// else — a consistent point to checkpoint.
func (e *Engine) runJoin(ctx context.Context, q *plan.Query, p *pipeline, from, rightFrom scanFrom, bounded bool,
	progress func(left, right map[int32]int64) error) error {
	j := p.join
	in := newJoinInputs()
	var mu sync.Mutex
	var pos [2]map[int32]int64
	side := func(port exec.Operator) func(arrow.Record) error {
		return func(rec arrow.Record) error {
			mu.Lock()
			defer mu.Unlock()
			return in.push(ctx, port, rec)
		}
	}
	moved := func(i int) func(map[int32]int64) error {
		return func(next map[int32]int64) error {
			mu.Lock()
			defer mu.Unlock()
			pos[i] = maps.Clone(next)
			if progress == nil || pos[0] == nil || pos[1] == nil {
				return nil
			}
			return progress(pos[0], pos[1])
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	left := func() error { return e.scan(ctx, q.Source, from, bounded, e.mem, side(j.Left()), moved(0)) }
	right := func() error { return e.scan(ctx, q.Join.Right, rightFrom, bounded, e.mem, side(j.Right()), moved(1)) }
	if q.Join.Kind == plan.StreamTable && rightFrom.offsets == nil {
		// The table as it is now, then (unbounded) its changes alongside
		// the stream.
		var at map[int32]int64
		err := e.scan(ctx, q.Join.Right, rightFrom, true, e.mem, side(j.Right()), func(next map[int32]int64) error {
			at = maps.Clone(next)
			return nil
		})
		if err != nil {
			return err
		}
		if bounded {
			right = func() error { return nil }
		} else {
			right = func() error {
				return e.scan(ctx, q.Join.Right, scanFrom{offsets: at}, false, e.mem, side(j.Right()), moved(1))
			}
		}
	}
	errs := make(chan error, 2)
	for _, run := range []func() error{left, right} {
		go func() {
			err := run()
			if err != nil {
				cancel()
			}
			errs <- err
		}()
	}
	var first error
	for range 2 {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return first
	}
	if bounded {
		if err := j.Left().Advance(ctx, math.MaxInt64); err != nil {
			return err
		}
		if err := j.Right().Advance(ctx, math.MaxInt64); err != nil {
			return err
		}
	}
	return p.end(ctx)
}

// joinInputs feeds a join's ports and keeps its watermark: the greatest
// ROWTIME either side has pushed.
type joinInputs struct {
	watermark atomic.Int64
}

func newJoinInputs() *joinInputs {
	in := &joinInputs{}
	in.watermark.Store(math.MinInt64)
	return in
}

// push pushes rec into a join port, then advances both sides' watermark.
func (in *joinInputs) push(ctx context.Context, port exec.Operator, rec arrow.Record) error {
	if err := port.Push(ctx, rec); err != nil {
		return err
	}
	t := maxTime(rec)
	for cur := in.watermark.Load(); t > cur && !in.watermark.CompareAndSwap(cur, t); cur = in.watermark.Load() {
	}
	return port.Advance(ctx, in.watermark.Load())
}

// maxTime is the greatest ROWTIME of a batch (math.MinInt64 when empty).
func maxTime(rec arrow.Record) int64 {
	t := int64(math.MinInt64)
	col, ok := rec.Column(0).(*array.Timestamp)
	if !ok {
		return t
	}
	for i := 0; i < col.Len(); i++ {
		if col.IsValid(i) {
			t = max(t, int64(col.Value(i)))
		}
	}
	return t
}
