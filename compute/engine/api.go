package engine

// The engine's pieces for programs that build their own pipelines
// (compute/stream): the scan, the stages of a planned query (WHERE, the
// aggregation, the join, the projection) and the producing sink, run as
// the engine runs its own queries.

import (
	"context"
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/compute"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strata-log/strata/compute/exec"
	"github.com/strata-log/strata/compute/plan"
	"github.com/strata-log/strata/compute/schema"
	"github.com/strata-log/strata/compute/sql"
)

// NewClient returns an engine that only reads and writes topics through
// cfg.Brokers, for Scan, NewPipeline and NewSink; cfg.Meta, NodeID, Bucket
// and CheckpointInterval are ignored. It has no catalog: do not call
// Start, Execute or Handler on it.
func NewClient(cfg Config) (*Engine, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("engine: needs brokers")
	}
	cfg.Meta, cfg.Bucket = nil, nil
	return newEngine(cfg), nil
}

// ScanFrom says where Scan starts: at Offsets for the partitions it names,
// else at the earliest offset (Earliest) or the latest.
type ScanFrom struct {
	Earliest bool
	Offsets  map[int32]int64
}

// Scan reads src's topic from where from says until ctx ends, as queries
// read their sources: each poll's records are decoded into one batch
// (pseudo columns, keys, values; at most 64Ki rows, records that do not
// decode skipped and counted by DecodeErrors) and passed to fn, which must
// not keep it past its return unless it retains it; then progress, if not
// nil, gets the next offset of every partition (those fn has seen all the
// records before). An error of fn or progress ends the scan with it.
func (e *Engine) Scan(ctx context.Context, src *plan.Source, from ScanFrom, fn func(arrow.Record) error, progress func(next map[int32]int64) error) error {
	return e.scan(ctx, src, scanFrom{earliest: from.Earliest, offsets: from.Offsets}, false, e.mem, fn, progress)
}

// Partitions returns a topic's partition count.
func (e *Engine) Partitions(ctx context.Context, topic string) (int, error) {
	return e.partitions(ctx, topic)
}

// Pipeline runs a planned query's operators over batches its caller
// pushes, built as the engine builds its queries': WHERE, then the
// aggregation (its input projection, the windowed hash aggregation with
// EMIT CHANGES or FINAL, HAVING) or, for a join, the join first; then the
// select list. Push (and PushRight) call emit with each output batch
// before they return; emit must not keep the batch unless it retains it.
type Pipeline struct {
	mem   memory.Allocator
	p     *pipeline
	join  joinOperator
	in    *joinInputs
	state []State
}

// State is the state of a stateful operator of a Pipeline (a join, an
// aggregation): what a checkpoint writes and a restart reads back, as
// exec.Stateful does.
type State interface {
	Snapshot(ctx context.Context, w io.Writer) error
	Restore(ctx context.Context, r io.Reader) error
}

// NewPipeline returns the pipeline of q. A join's inputs are q's source
// (Push) and the join's right source (PushRight), batches of their
// plan.SourceSchema's column types.
func (e *Engine) NewPipeline(q *plan.Query, emit exec.Emit) (*Pipeline, error) {
	p, err := e.pipeline(q, false, project(q.Project, q.Names, stage(emit)))
	if err != nil {
		return nil, err
	}
	return &Pipeline{mem: e.mem, p: p, join: p.join, in: newJoinInputs(), state: p.state}, nil
}

// Push passes a batch of q's source (a join's left input) through the
// pipeline. The caller keeps rec.
func (p *Pipeline) Push(ctx context.Context, rec arrow.Record) error {
	ctx = compute.WithAllocator(ctx, p.mem)
	if p.join != nil {
		return p.in.push(ctx, p.join.Left(), rec)
	}
	return p.p.head(ctx, rec)
}

// PushRight passes a batch of a join's right input through the pipeline.
// The join serializes Push and PushRight, which may run concurrently.
func (p *Pipeline) PushRight(ctx context.Context, rec arrow.Record) error {
	if p.join == nil {
		return errors.New("engine: PushRight on a pipeline without a join")
	}
	return p.in.push(compute.WithAllocator(ctx, p.mem), p.join.Right(), rec)
}

// State returns the pipeline's stateful operators, the join first, then
// the aggregation: what a checkpoint snapshots and a restart restores,
// between pushes.
func (p *Pipeline) State() []State { return p.state }

// Close releases the operators.
func (p *Pipeline) Close() { p.p.close() }

// Sink produces batches to a topic as persistent queries produce their
// results: one record per row, its key and value encoded from the row's
// columns named like sink.Schema's key and value columns, in sink's
// formats, with acks=all and an idempotent producer; a row whose
// exec.Deleted column is true is its key's tombstone (a nil value). The record timestamp
// is the row's ROWTIME when the batch has that TIMESTAMP column (the
// producer's clock otherwise).
type Sink struct {
	cl         *kgo.Client
	key, value *schema.Encoder
}

// NewSink returns a Sink writing sink.Topic. A missing topic is created
// with the given number of partitions (partitions < 1: it must exist).
func (e *Engine) NewSink(ctx context.Context, sink *plan.Source, partitions int) (*Sink, error) {
	p := props{}
	if partitions > 0 {
		p["PARTITIONS"] = &sql.Literal{Kind: sql.IntegerLit, Text: strconv.Itoa(partitions)}
	}
	if err := e.ensureTopic(ctx, sink.Topic, p); err != nil {
		return nil, err
	}
	key, value, err := encoders(sink)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.cfg.Brokers...), kgo.DefaultProduceTopic(sink.Topic), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		return nil, err
	}
	return &Sink{cl: cl, key: key, value: value}, nil
}

// Write produces rec's rows and returns once the brokers acknowledged them
// all. A Sink is not safe for concurrent use.
func (s *Sink) Write(ctx context.Context, rec arrow.Record) error {
	var ts *array.Timestamp
	if idx := rec.Schema().FieldIndices(schema.RowTime); len(idx) == 1 {
		ts, _ = rec.Column(idx[0]).(*array.Timestamp)
	}
	var deleted *array.Boolean
	if idx := rec.Schema().FieldIndices(exec.Deleted); len(idx) == 1 {
		deleted, _ = rec.Column(idx[0]).(*array.Boolean)
	}
	recs := make([]*kgo.Record, 0, rec.NumRows())
	var err error
	for i := 0; i < int(rec.NumRows()); i++ {
		r := &kgo.Record{}
		if s.key != nil {
			if r.Key, err = s.key.Encode(rec, i, nil); err != nil {
				return err
			}
		}
		retracts := deleted != nil && deleted.IsValid(i) && deleted.Value(i)
		if !retracts { // a retraction is the key's tombstone: no value
			if r.Value, err = s.value.Encode(rec, i, nil); err != nil {
				return err
			}
		}
		if ts != nil && ts.IsValid(i) {
			r.Timestamp = time.UnixMilli(int64(ts.Value(i)))
		}
		recs = append(recs, r)
	}
	return s.cl.ProduceSync(ctx, recs...).FirstErr()
}

// Close closes the producer.
func (s *Sink) Close() { s.cl.Close() }
