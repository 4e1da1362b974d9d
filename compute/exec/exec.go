// Package exec holds the physical operators of the SQL engine. A query
// runs as a push-based pipeline: a scan decodes a topic's records into
// Arrow record batches (compute/schema) and pushes them through filters and
// projections (compute/expr), window assignment and hash aggregation, joins,
// and a sink that writes the results to a topic or to the client.
//
// Batches carry the pseudo columns first (ROWTIME, ROWPARTITION, ROWOFFSET,
// see compute/schema), then the key columns, then the value columns. Event
// time is ROWTIME, in milliseconds. A batch of a table's changelog may carry
// a boolean column named Deleted: a true row deletes its key.
//
// Operators are single-goroutine: the pipeline calls Push and Advance of
// one operator from one goroutine at a time. Memory comes from the
// allocator in the context (compute.WithAllocator / compute.GetAllocator of
// arrow's compute package); every batch an operator keeps is Retained and
// later Released.
package exec

import (
	"context"
	"io"

	"github.com/apache/arrow/go/v17/arrow"
)

// Deleted is the name of the optional boolean column that marks a row of a
// table's changelog as the deletion of its key (a tombstone).
const Deleted = "__DELETED"

// Emit receives an operator's output batch. The callee Retains what it
// keeps: the operator releases the batch after Emit returns.
type Emit func(ctx context.Context, rec arrow.Record) error

// Operator is a stage of a pipeline. It emits its output through the Emit
// it was built with.
type Operator interface {
	// Push processes one input batch. The caller keeps ownership of rec.
	Push(ctx context.Context, rec arrow.Record) error
	// Advance tells the operator that stream time (the watermark: the
	// greatest ROWTIME seen, over all input partitions, minus nothing; the
	// grace period is the operator's business) has reached watermark ms.
	// Operators emit what closes then (EMIT FINAL windows, outer-join rows
	// without a match).
	Advance(ctx context.Context, watermark int64) error
	// Close releases the operator's state.
	Close() error
}

// Stateful is an operator whose state survives restarts: the engine
// checkpoints it with the input offsets, and a restarted query restores it
// before it resumes reading.
type Stateful interface {
	Operator
	// Snapshot writes the operator's state.
	Snapshot(ctx context.Context, w io.Writer) error
	// Restore replaces the operator's state with a snapshot's.
	Restore(ctx context.Context, r io.Reader) error
}
