package exec

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/apache/arrow/go/v17/arrow"
)

// joinCore is the state of a join behind its ports. Its methods run under
// the join's lock.
type joinCore interface {
	push(ctx context.Context, side joinSide, rec arrow.Record) error
	advance(ctx context.Context, watermark int64) error
	snapshot(ctx context.Context, w io.Writer) error
	restore(ctx context.Context, r io.Reader) error
	release()
}

// joinRunner is embedded in each join: it owns the ports, serializes them
// and releases the state.
type joinRunner struct {
	mu     sync.Mutex
	core   joinCore
	layout *joinLayout
	open   [2]bool
	closed bool
}

func (r *joinRunner) init(core joinCore, layout *joinLayout) {
	r.core, r.layout, r.open = core, layout, [2]bool{true, true}
}

// Left returns the port of the left input.
func (r *joinRunner) Left() Operator { return joinPort{r: r, side: joinLeft} }

// Right returns the port of the right input.
func (r *joinRunner) Right() Operator { return joinPort{r: r, side: joinRight} }

// Schema returns the schema of the output batches.
func (r *joinRunner) Schema() *arrow.Schema { return r.layout.schema }

// Close releases the join's state; its ports then fail.
func (r *joinRunner) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closeLocked()
	return nil
}

func (r *joinRunner) closeLocked() {
	if !r.closed {
		r.closed = true
		r.core.release()
	}
}

// Snapshot writes the join's state.
func (r *joinRunner) Snapshot(ctx context.Context, w io.Writer) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errJoinClosed
	}
	return r.core.snapshot(ctx, w)
}

// Restore replaces the join's state with a snapshot's. A snapshot that is
// not one of a join of this kind fails with ErrJoinSnapshot and leaves the
// state as it was.
func (r *joinRunner) Restore(ctx context.Context, rd io.Reader) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errJoinClosed
	}
	return r.core.restore(ctx, rd)
}

// joinPort is one input of a join.
type joinPort struct {
	r    *joinRunner
	side joinSide
}

func (p joinPort) Push(ctx context.Context, rec arrow.Record) error {
	p.r.mu.Lock()
	defer p.r.mu.Unlock()
	if p.r.closed || !p.r.open[p.side] {
		return errJoinClosed
	}
	if err := p.check(rec.Schema()); err != nil {
		return err
	}
	if rec.NumRows() == 0 {
		return nil
	}
	return p.r.core.push(ctx, p.side, rec)
}

// check verifies that a batch has the column types of the input's schema.
func (p joinPort) check(sc *arrow.Schema) error {
	want := p.r.layout.in[p.side].schema
	ok := sc.NumFields() == want.NumFields()
	for i := 0; ok && i < sc.NumFields(); i++ {
		ok = arrow.TypeEqual(sc.Field(i).Type, want.Field(i).Type)
	}
	if !ok {
		return fmt.Errorf("exec: join %s input: batch schema %s, want %s", [2]string{"left", "right"}[p.side], sc, want)
	}
	return nil
}

func (p joinPort) Advance(ctx context.Context, watermark int64) error {
	p.r.mu.Lock()
	defer p.r.mu.Unlock()
	if p.r.closed || !p.r.open[p.side] {
		return errJoinClosed
	}
	return p.r.core.advance(ctx, watermark)
}

// Close marks the input finished; the join's state is released when both
// inputs are.
func (p joinPort) Close() error {
	p.r.mu.Lock()
	defer p.r.mu.Unlock()
	p.r.open[p.side] = false
	if !p.r.open[joinLeft] && !p.r.open[joinRight] {
		p.r.closeLocked()
	}
	return nil
}
