package engine

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/strata-log/strata/compute/exec"
	"github.com/strata-log/strata/compute/plan"
)

// joinOperator is what the engine needs of a join.
type joinOperator interface {
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

// runJoin reads both sides of q's join into their ports, each scan in its
// goroutine, advancing the join's watermark to the greatest ROWTIME either
// side has read. The table of a stream-table join is read to its end first,
// so that stream rows find the table as it is when the query starts. A
// bounded run then closes every window (outer rows without a match) and
// ends the pipeline.
func (e *Engine) runJoin(ctx context.Context, q *plan.Query, p *pipeline, from scanFrom, bounded bool) error {
	j, err := newJoin(q.Join, p.head)
	if err != nil {
		return fmt.Errorf("join: %w", err)
	}
	defer j.Close()
	if !sameColumns(j.Schema(), q.Input) {
		return fmt.Errorf("the join produces %s, the plan expects %s", j.Schema(), q.Input)
	}
	in := newJoinInputs()
	side := func(port exec.Operator) func(arrow.Record) error {
		return func(rec arrow.Record) error { return in.push(ctx, port, rec) }
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	left := func() error { return e.scan(ctx, q.Source, from, bounded, e.mem, side(j.Left()), nil) }
	right := func() error {
		return e.scan(ctx, q.Join.Right, scanFrom{earliest: true}, bounded, e.mem, side(j.Right()), nil)
	}
	if q.Join.Kind == plan.StreamTable {
		// The table as it is now, then (unbounded) its changes alongside
		// the stream.
		var at map[int32]int64
		err := e.scan(ctx, q.Join.Right, scanFrom{earliest: true}, true, e.mem, side(j.Right()), func(pos map[int32]int64) error {
			at = pos
			return nil
		})
		if err != nil {
			return err
		}
		if bounded {
			right = func() error { return nil }
		} else {
			right = func() error {
				return e.scan(ctx, q.Join.Right, scanFrom{offsets: at}, false, e.mem, side(j.Right()), nil)
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
