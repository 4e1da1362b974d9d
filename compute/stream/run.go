package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/compute"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/strata-log/strata/compute/engine"
	"github.com/strata-log/strata/compute/exec"
	"github.com/strata-log/strata/compute/plan"
	"github.com/strata-log/strata/compute/schema"
	"github.com/strata-log/strata/compute/sql"
)

// stopTimeout bounds how long Run waits, once its context ended, for the
// topologies to checkpoint and stop between batches before it cancels
// them where they are.
const stopTimeout = 10 * time.Second

// errStopped ends the scans of a topology that stopped.
var errStopped = errors.New("stream: stopped")

// Run runs every topology built so far until ctx ends, then stops each
// between two batches, checkpoints it into StateDir (if set) and returns
// nil; or until one fails, which stops the others and returns its error.
// A topology is a set of streams connected through their operators; each
// runs its sources' scans in their goroutines, one batch of the topology
// at a time. Sources start at their checkpoint's positions, else at their
// topic's earliest offset (FromLatest: its end). Build every stream before
// Run; Run may be called again once it returned.
func (b *Builder) Run(ctx context.Context) error {
	if err := b.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	if b.running {
		b.mu.Unlock()
		return errors.New("stream: Run is already running")
	}
	b.running = true
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.running = false
		b.mu.Unlock()
	}()
	cfg := b.cfg
	if len(cfg.Brokers) == 0 {
		return errors.New("stream: Config.Brokers is empty")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Allocator == nil {
		cfg.Allocator = memory.NewGoAllocator()
	}
	if cfg.CommitInterval <= 0 {
		cfg.CommitInterval = 5 * time.Second
	}
	ts := b.topologies(cfg)
	if len(ts) == 0 {
		return errors.New("stream: nothing to run: no streams")
	}
	eng, err := engine.NewClient(engine.Config{Brokers: cfg.Brokers, Logger: cfg.Logger, Allocator: cfg.Allocator})
	if err != nil {
		return err
	}
	defer eng.Close()
	// The topologies stop when ctx ends, between batches: they run on a
	// context of their own.
	runCtx, cancel := context.WithCancel(compute.WithAllocator(context.WithoutCancel(ctx), cfg.Allocator))
	defer cancel()
	for _, t := range ts {
		defer t.close()
		if err := t.build(ctx, runCtx, eng); err != nil {
			return err
		}
	}
	done := make(chan error, len(ts))
	for _, t := range ts {
		go func() { done <- t.run(runCtx) }()
	}
	var first error
	stop := ctx.Done()
	var hard <-chan time.Time
	for left := len(ts); left > 0; {
		select {
		case err := <-done:
			left--
			if err != nil && first == nil {
				first = err
				cancel()
			}
		case <-stop:
			stop = nil
			for _, t := range ts {
				t.stopping.Store(true)
			}
			hard = time.After(stopTimeout)
		case <-hard:
			cfg.Logger.Warn("stream: topologies did not stop in time; cancelling them", "timeout", stopTimeout)
			cancel()
		}
	}
	return first
}

// push passes a batch on; the callee does not keep it.
type push func(ctx context.Context, rec arrow.Record) error

// op is a node at run time: its inputs.
type op struct {
	in [2]push
}

// topology is a connected set of nodes, run one batch at a time.
type topology struct {
	idx     int
	cfg     Config
	nodes   []*node // by id
	sources []*node
	eng     *engine.Engine

	ops        map[*node]*op
	partitions int // of the largest source topic
	state      []engine.State
	stateDesc  []string // what each state is of
	closers    []func()

	stopping atomic.Bool // Run's context ended
	mu       sync.Mutex  // one batch (or checkpoint) at a time
	stopped  bool
	// positions are, for each source, the next offset of each partition
	// whose records all went through the topology.
	positions  []map[int32]int64
	dirty      bool // the positions moved since the last checkpoint
	lastCommit time.Time
}

// topologies splits the builder's nodes into connected topologies.
func (b *Builder) topologies(cfg Config) []*topology {
	parent := make([]int, len(b.nodes))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		if parent[i] != i {
			parent[i] = find(parent[i])
		}
		return parent[i]
	}
	for _, n := range b.nodes {
		for _, in := range n.inputs {
			parent[find(n.id)] = find(in.id)
		}
	}
	var out []*topology
	byRoot := map[int]*topology{}
	for _, n := range b.nodes {
		r := find(n.id)
		t := byRoot[r]
		if t == nil {
			t = &topology{idx: len(out), cfg: cfg, ops: map[*node]*op{}}
			byRoot[r] = t
			out = append(out, t)
		}
		t.nodes = append(t.nodes, n)
		if n.kind == kSource {
			t.sources = append(t.sources, n)
		}
	}
	return out
}

// build makes the operators of t and restores its checkpoint.
func (t *topology) build(ctx, runCtx context.Context, eng *engine.Engine) error {
	t.eng = eng
	for _, src := range t.sources {
		n, err := eng.Partitions(ctx, src.src.Topic)
		if err != nil {
			return fmt.Errorf("stream: %w", err)
		}
		t.partitions = max(t.partitions, n)
	}
	for _, n := range t.nodes {
		if _, err := t.op(ctx, n); err != nil {
			return err
		}
	}
	t.positions = make([]map[int32]int64, len(t.sources))
	for i := range t.positions {
		t.positions[i] = map[int32]int64{}
	}
	t.lastCommit = time.Now()
	return t.restore(runCtx)
}

// close releases the operators.
func (t *topology) close() {
	for _, c := range slices.Backward(t.closers) {
		c()
	}
	t.closers = nil
}

// run scans t's sources until t stops or fails.
func (t *topology) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(t.sources))
	for i, src := range t.sources {
		go func() {
			err := t.scan(ctx, i, src)
			if err != nil {
				cancel()
			}
			errs <- err
		}()
	}
	var first error
	for range t.sources {
		err := <-errs
		if err == nil || errors.Is(err, errStopped) || errors.Is(err, context.Canceled) {
			continue
		}
		if first == nil {
			first = fmt.Errorf("stream: topology %d: %w", t.idx, err)
		}
	}
	return first
}

// scan reads source i through the topology.
func (t *topology) scan(ctx context.Context, i int, src *node) error {
	head := t.ops[src].in[0]
	from := engine.ScanFrom{Earliest: !src.latest, Offsets: clone(t.positions[i])}
	return t.eng.Scan(ctx, src.src, from, func(rec arrow.Record) error {
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.stopped {
			return errStopped
		}
		if err := head(ctx, rec); err != nil {
			return err
		}
		advance(t.positions[i], rec)
		t.dirty = true
		return nil
	}, func(next map[int32]int64) error {
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.stopped {
			return errStopped
		}
		pos := t.positions[i]
		for p, off := range next {
			if cur, ok := pos[p]; !ok || off > cur {
				pos[p] = off
				t.dirty = true
			}
		}
		if t.stopping.Load() {
			t.stopped = true
			if err := t.commit(ctx); err != nil {
				return err
			}
			return errStopped
		}
		if t.dirty && time.Since(t.lastCommit) >= t.cfg.CommitInterval {
			return t.commit(ctx)
		}
		return nil
	})
}

// advance moves positions past the rows of a source batch.
func advance(pos map[int32]int64, rec arrow.Record) {
	part, ok1 := rec.Column(schema.RowPartitionIndex).(*array.Int32)
	off, ok2 := rec.Column(schema.RowOffsetIndex).(*array.Int64)
	if !ok1 || !ok2 {
		return
	}
	for i := 0; i < int(rec.NumRows()); i++ {
		p, o := part.Value(i), off.Value(i)+1
		if cur, ok := pos[p]; !ok || o > cur {
			pos[p] = o
		}
	}
}

func clone(m map[int32]int64) map[int32]int64 {
	out := make(map[int32]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// op returns the run-time operator of n, making it (and those after it)
// the first time.
func (t *topology) op(ctx context.Context, n *node) (*op, error) {
	if o, ok := t.ops[n]; ok {
		return o, nil
	}
	var outs []push
	for _, e := range n.outs {
		c, err := t.op(ctx, e.to)
		if err != nil {
			return nil, err
		}
		outs = append(outs, c.in[e.side])
	}
	next := fanout(outs)
	o := &op{}
	var err error
	switch n.kind {
	case kSource, kPass:
		o.in[0] = next
	case kQuery, kJoin:
		var p *engine.Pipeline
		if p, err = t.eng.NewPipeline(n.query, exec.Emit(next)); err != nil {
			break
		}
		t.closers = append(t.closers, p.Close)
		for _, st := range p.State() {
			t.state = append(t.state, st)
			t.stateDesc = append(t.stateDesc, n.desc)
		}
		o.in[0], o.in[1] = p.Push, p.PushRight
	case kMap:
		o.in[0], err = t.mapRows(n, next)
	case kFilter:
		o.in[0], err = t.filterRows(n, next)
	case kMapBatch:
		o.in[0] = mapBatch(n, next)
	case kTo:
		o.in[0], err = t.sink(ctx, n)
	case kForeach:
		var c *rowCodec
		if c, err = newRowCodec(n); err == nil {
			o.in[0] = func(_ context.Context, rec arrow.Record) error {
				return c.each(rec, func(r Record) error {
					n.foreach(r)
					return nil
				})
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("stream: %w", err)
	}
	t.ops[n] = o
	return o, nil
}

// fanout passes each batch to every one of outs.
func fanout(outs []push) push {
	switch len(outs) {
	case 0:
		return func(context.Context, arrow.Record) error { return nil }
	case 1:
		return outs[0]
	}
	return func(ctx context.Context, rec arrow.Record) error {
		for _, o := range outs {
			if err := o(ctx, rec); err != nil {
				return err
			}
		}
		return nil
	}
}

// mapRows runs Map: each row encoded, through the function, decoded.
func (t *topology) mapRows(n *node, next push) (push, error) {
	in := n.inputs[0]
	c, err := newRowCodec(in)
	if err != nil {
		return nil, err
	}
	sc, err := in.sourceSchema()
	if err != nil {
		return nil, err
	}
	dec, err := schema.NewDecoder(sc, n.key, n.value, t.cfg.Allocator)
	if err != nil {
		return nil, err
	}
	t.closers = append(t.closers, dec.Release)
	return func(ctx context.Context, rec arrow.Record) error {
		err := c.each(rec, func(r Record) error {
			out, ok := n.mapRow(r)
			if !ok {
				return nil
			}
			if out.Time.IsZero() {
				out.Time = r.Time
			}
			err := dec.Append(schema.Record{Partition: out.Partition, Offset: out.Offset, Timestamp: out.Time.UnixMilli(), Key: out.Key, Value: out.Value})
			if err != nil {
				t.cfg.Logger.Warn("stream: skipping a record of Map that does not decode", "stream", n.name, "err", err)
			}
			return nil
		})
		if err != nil || dec.Len() == 0 {
			return err
		}
		b := dec.Flush()
		defer b.Release()
		return next(ctx, b)
	}, nil
}

// filterRows runs Filter.
func (t *topology) filterRows(n *node, next push) (push, error) {
	c, err := newRowCodec(n.inputs[0])
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, rec arrow.Record) error {
		mask := array.NewBooleanBuilder(compute.GetAllocator(ctx))
		defer mask.Release()
		kept := 0
		err := c.each(rec, func(r Record) error {
			ok := n.filter(r)
			if ok {
				kept++
			}
			mask.Append(ok)
			return nil
		})
		switch {
		case err != nil || kept == 0:
			return err
		case kept == int(rec.NumRows()):
			return next(ctx, rec)
		}
		m := mask.NewArray()
		defer m.Release()
		out, err := compute.FilterRecordBatch(ctx, rec, m, compute.DefaultFilterOptions())
		if err != nil {
			return err
		}
		defer out.Release()
		return next(ctx, out)
	}, nil
}

// mapBatch runs MapBatch.
func mapBatch(n *node, next push) push {
	return func(ctx context.Context, rec arrow.Record) error {
		out, err := n.batch(ctx, rec)
		if err != nil {
			return fmt.Errorf("MapBatch: %w", err)
		}
		if out == nil {
			return nil
		}
		if out != rec {
			defer out.Release()
		}
		fields, cols := out.Schema().Fields(), out.Columns()
		if !hasPseudoColumns(out.Schema()) {
			if out.NumRows() != rec.NumRows() {
				return fmt.Errorf("MapBatch: a batch of %d rows without the pseudo columns for %d input rows", out.NumRows(), rec.NumRows())
			}
			fields = append(slices.Clone(rec.Schema().Fields()[:schema.NumPseudoColumns]), fields...)
			cols = append(slices.Clone(rec.Columns()[:schema.NumPseudoColumns]), cols...)
		}
		ok := len(fields) == n.schema.NumFields()
		for i := 0; ok && i < len(fields); i++ {
			want := n.schema.Field(i)
			ok = fields[i].Name == want.Name && arrow.TypeEqual(fields[i].Type, want.Type)
		}
		if !ok {
			return fmt.Errorf("MapBatch: a batch of %s, want %s", arrow.NewSchema(fields, nil), n.schema)
		}
		if out.NumRows() == 0 {
			return nil
		}
		b := array.NewRecord(n.schema, cols, out.NumRows())
		defer b.Release()
		return next(ctx, b)
	}
}

func hasPseudoColumns(s *arrow.Schema) bool {
	if s.NumFields() < schema.NumPseudoColumns {
		return false
	}
	for i, name := range []string{schema.RowTime, schema.RowPartition, schema.RowOffset} {
		if s.Field(i).Name != name {
			return false
		}
	}
	return true
}

// sink runs To through the engine's sink.
func (t *topology) sink(ctx context.Context, n *node) (push, error) {
	sc, err := n.sourceSchema()
	if err != nil {
		return nil, err
	}
	src := &plan.Source{Name: n.name, Kind: sql.Stream, Topic: n.topic, Schema: sc, KeyFormat: n.key, ValueFormat: n.value}
	s, err := t.eng.NewSink(ctx, src, t.partitions)
	if err != nil {
		return nil, fmt.Errorf("To(%q): %w", n.topic, err)
	}
	t.closers = append(t.closers, s.Close)
	return s.Write, nil
}
