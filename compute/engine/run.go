package engine

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/compute"

	"github.com/strata-log/strata/compute/expr"
	"github.com/strata-log/strata/compute/plan"
	"github.com/strata-log/strata/compute/schema"
	"github.com/strata-log/strata/compute/sql"
)

// stage is a step of a running pipeline: it takes a batch (which it does
// not keep) and passes its output on.
type stage func(ctx context.Context, rec arrow.Record) error

// run reads q's source (see scan) through q's pipeline and calls emit with
// each output batch.
func (e *Engine) run(ctx context.Context, q *plan.Query, from scanFrom, bounded bool, emit func(arrow.Record) error) error {
	ctx = compute.WithAllocator(ctx, e.mem)
	p, err := e.buildPipeline(q, bounded, project(q.Project, q.Names, toStage(emit)))
	if err != nil {
		return err
	}
	defer p.close()
	if q.Join != nil {
		return e.runJoin(ctx, q, p, from, scanFrom{earliest: true}, bounded, nil)
	}
	from.columns, from.times = usedColumns(q), rowTimeRange(q)
	if err := e.scan(ctx, q.Source, from, bounded, e.mem, func(rec arrow.Record) error { return p.head(ctx, rec) }, nil); err != nil {
		return err
	}
	return p.end(ctx)
}

func toStage(emit func(arrow.Record) error) stage {
	return func(_ context.Context, rec arrow.Record) error { return emit(rec) }
}

// pipeline is a query's operators from the source's batches on.
type pipeline struct {
	head stage
	// join, when the query has one, takes the source batches on its left
	// port and the right source's on its right; head is then its output.
	join joinOperator
	// state lists the operators whose state a checkpoint keeps, in order.
	state []State
	// end flushes what a bounded input leaves open (windows not closed
	// yet); close releases the operators.
	end   func(context.Context) error
	close func()
	// late counts the records the aggregation dropped as late (kept
	// after each batch, read by SHOW QUERIES and the metrics); joinLate,
	// if not nil, returns those of a stream-stream join.
	late     atomic.Int64
	joinLate func() int64
}

// lateRecords returns the records the pipeline's operators dropped
// because their windows had closed.
func (p *pipeline) lateRecords() int64 {
	n := p.late.Load()
	if p.joinLate != nil {
		n += p.joinLate()
	}
	return n
}

// pipeline returns the pipeline of a query that runs until stopped (a
// persistent query's, a Pipeline's) and counts it among the running
// pipelines (e.pipes, for their counters) until it is closed. See
// buildPipeline.
func (e *Engine) pipeline(q *plan.Query, final bool, next stage) (*pipeline, error) {
	p, err := e.buildPipeline(q, final, next)
	if err != nil {
		return nil, err
	}
	e.pipes.add(q.Text, p)
	closeRest := p.close
	p.close = func() {
		e.pipes.remove(p)
		closeRest()
	}
	return p, nil
}

// buildPipeline returns the stages from the source's batches up to next
// (the final projection): WHERE, and the aggregation with HAVING. final (a
// pull query) makes an aggregation emit each group once, at the end.
func (e *Engine) buildPipeline(q *plan.Query, final bool, next stage) (*pipeline, error) {
	p := &pipeline{end: func(context.Context) error { return nil }, close: func() {}}
	if q.Agg != nil {
		var err error
		if next, err = e.aggregate(q, p, final, next); err != nil {
			return nil, err
		}
	}
	p.head = filter(q.Where, next)
	if final && q.Join == nil && q.Agg == nil && q.Source.Kind == sql.Table {
		// A pull query over a table answers its current rows: the last
		// change of each primary key, deletions left out.
		keys := make([]int, q.Source.Schema.NumKeys())
		for i := range keys {
			keys[i] = schema.NumPseudoColumns + i
		}
		last := &lastPerGroup{keys: keys, deleted: q.Input.NumFields() - 1, next: p.head}
		p.head, p.end, p.close = last.add, last.flush, last.release
	}
	if q.Join != nil {
		j, err := newJoin(q.Join, p.head)
		if err != nil {
			p.close()
			return nil, fmt.Errorf("join: %w", err)
		}
		if !sameColumns(j.Schema(), q.Input) {
			j.Close()
			p.close()
			return nil, fmt.Errorf("the join produces %s, the plan expects %s", j.Schema(), q.Input)
		}
		p.join = j
		if l, ok := j.(interface{ LateRecords() int64 }); ok {
			p.joinLate = l.LateRecords
		}
		p.state = append([]State{j}, p.state...)
		closeRest := p.close
		p.close = func() {
			j.Close()
			closeRest()
		}
	}
	return p, nil
}

// filter keeps the rows where pred is TRUE (every row when pred is nil).
func filter(pred expr.Expr, next stage) stage {
	if pred == nil {
		return next
	}
	return func(ctx context.Context, rec arrow.Record) error {
		out, err := expr.Filter(ctx, rec, pred)
		if err != nil {
			return err
		}
		defer out.Release()
		if out.NumRows() == 0 {
			return nil
		}
		return next(ctx, out)
	}
}

// project computes exprs over each batch.
func project(exprs []expr.Expr, names []string, next stage) stage {
	return func(ctx context.Context, rec arrow.Record) error {
		out, err := expr.Project(ctx, rec, exprs, names)
		if err != nil {
			return err
		}
		defer out.Release()
		return next(ctx, out)
	}
}

// pipelines are the running pipelines of persistent queries (and of
// Pipelines), by the text of their query (plan.Query.Text): what SHOW
// QUERIES and the metrics report the counters of. A persistent query
// finds its pipelines by its statement's query text; several queries of
// one text running on one broker share their counters.
type pipelines struct {
	mu     sync.Mutex
	byPipe map[*pipeline]string
}

func (ps *pipelines) add(text string, p *pipeline) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.byPipe == nil {
		ps.byPipe = map[*pipeline]string{}
	}
	ps.byPipe[p] = text
}

func (ps *pipelines) remove(p *pipeline) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	delete(ps.byPipe, p)
}

// lateRecords returns the late records of the running pipelines of each
// query text.
func (ps *pipelines) lateRecords() map[string]int64 {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	out := map[string]int64{}
	for p, text := range ps.byPipe {
		out[text] += p.lateRecords()
	}
	return out
}
