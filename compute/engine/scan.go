package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strata-log/strata/compute/plan"
	"github.com/strata-log/strata/compute/schema"
	"github.com/strata-log/strata/compute/sql"
)

// scanBatchRows bounds the rows of one decoded batch.
const scanBatchRows = 64 << 10

// scanFrom says where a scan starts: at offsets (a checkpoint's) for the
// partitions it names, else at the earliest or the latest offset.
type scanFrom struct {
	earliest bool
	offsets  map[int32]int64
	// partitions, if not nil, are the only partitions read (a task's).
	partitions []int32
	// columns, if not nil, are the fields of plan.SourceSchema the query
	// reads (usedColumns): a scan may leave the others NULL.
	columns []bool
	// rawValues makes a cold scan decode the segments' values even where
	// typed columns exist (SET 'strata.scan.typed.columns'='false').
	rawValues bool
	// times, if on, bounds the ROWTIME of the rows the query keeps
	// (rowTimeRange): a cold scan skips the row groups outside.
	times timeRange
}

// scan reads a source's topic from where from says, decodes the records
// into batches and calls fn with each (fn must not keep the batch past its
// return unless it retains it), then progress (if not nil) with the next
// offset of every partition read so far. Bounded, it stops once every
// partition reached the end offset it had when the scan started (a pull
// query); otherwise it runs until ctx ends. Records that do not decode are
// counted, logged and skipped.
func (e *Engine) scan(ctx context.Context, src *plan.Source, from scanFrom, bounded bool, mem memory.Allocator,
	fn func(arrow.Record) error, progress func(map[int32]int64) error) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.cfg.Brokers...), kgo.KeepControlRecords(), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	starts, err := adm.ListStartOffsets(ctx, src.Topic)
	if err != nil {
		return fmt.Errorf("topic %s: %w", src.Topic, err)
	}
	ends, err := adm.ListEndOffsets(ctx, src.Topic)
	if err != nil {
		return fmt.Errorf("topic %s: %w", src.Topic, err)
	}
	if err := ends.Error(); err != nil {
		return fmt.Errorf("topic %s: %w", src.Topic, err)
	}
	assign := map[int32]kgo.Offset{}
	pending := map[int32]int64{}
	next := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if from.partitions != nil && !slices.Contains(from.partitions, o.Partition) {
			return
		}
		at := o.Offset
		if from.earliest {
			if s, ok := starts.Lookup(src.Topic, o.Partition); ok {
				at = s.Offset
			}
		}
		if off, ok := from.offsets[o.Partition]; ok {
			at = off
		}
		assign[o.Partition] = kgo.NewOffset().At(at)
		next[o.Partition] = at
		if at < o.Offset {
			pending[o.Partition] = o.Offset
		}
	})
	if len(assign) == 0 {
		return fmt.Errorf("topic %s does not exist", src.Topic)
	}
	if e.cfg.Tiered != nil && e.cfg.Objects != nil {
		// The tiered log first, straight from its objects; then Fetch
		// from where it ends.
		var limit map[int32]int64
		if bounded {
			limit = pending
		}
		topic, err := e.cfg.Meta.Topic(ctx, src.Topic)
		if err != nil {
			return fmt.Errorf("topic %s: %w", src.Topic, err)
		}
		if err := e.scanCold(ctx, src, topic.ID, from, next, limit, mem, fn, progress); err != nil {
			return err
		}
		for p, at := range next {
			assign[p] = kgo.NewOffset().At(at)
			if end, ok := pending[p]; ok && at >= end {
				delete(pending, p)
			}
		}
	}
	if bounded && len(pending) == 0 {
		return nil
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{src.Topic: assign})

	dec, err := newSourceDecoder(src, mem)
	if err != nil {
		return err
	}
	defer dec.Release()
	flush := func() error {
		rec := dec.Flush()
		if rec == nil {
			return nil
		}
		defer rec.Release()
		return fn(rec)
	}
	for {
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fetches := cl.PollRecords(pctx, scanBatchRows)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ferr error
		fetches.EachError(func(_ string, _ int32, err error) {
			if ferr == nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				ferr = err
			}
		})
		if ferr != nil {
			return fmt.Errorf("read topic %s: %w", src.Topic, ferr)
		}
		for r := range fetches.RecordsAll() {
			next[r.Partition] = r.Offset + 1
			if end, ok := pending[r.Partition]; ok && r.Offset+1 >= end {
				delete(pending, r.Partition)
			}
			if r.Attrs.IsControl() {
				continue
			}
			if bounded {
				if _, ok := pending[r.Partition]; !ok && r.Offset >= ends[src.Topic][r.Partition].Offset {
					continue
				}
			}
			err := dec.Append(schema.Record{Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp.UnixMilli(), Key: r.Key, Value: r.Value})
			if err != nil {
				e.skipped(src, err)
				continue
			}
			if dec.Len() >= scanBatchRows {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := flush(); err != nil {
			return err
		}
		if progress != nil {
			if err := progress(next); err != nil {
				return err
			}
		}
		if bounded && len(pending) == 0 {
			return nil
		}
	}
}

// skipped counts and logs a record of src that did not decode.
func (e *Engine) skipped(src *plan.Source, err error) {
	e.decodeErrors.Add(1)
	e.log.Warn("skipping a record that does not decode", "source", src.Name, "err", err)
}

// sourceDecoder decodes records into a source's batches
// (plan.SourceSchema): a table's end with the exec.Deleted column, true
// for a tombstone (a record with a null value).
type sourceDecoder struct {
	dec     *schema.Decoder
	out     *arrow.Schema
	table   bool
	deleted []bool
	mem     memory.Allocator
}

func newSourceDecoder(src *plan.Source, mem memory.Allocator) (*sourceDecoder, error) {
	dec, err := schema.NewDecoder(src.Schema, src.KeyFormat, src.ValueFormat, mem)
	if err != nil {
		return nil, err
	}
	return &sourceDecoder{dec: dec, out: plan.SourceSchema(src), table: src.Kind == sql.Table, mem: mem}, nil
}

// Append decodes r; a record that does not decode is left out.
func (d *sourceDecoder) Append(r schema.Record) error {
	if err := d.dec.Append(r); err != nil {
		return err
	}
	if d.table {
		d.deleted = append(d.deleted, r.Value == nil)
	}
	return nil
}

// Len is the number of rows appended since the last Flush.
func (d *sourceDecoder) Len() int { return d.dec.Len() }

// Flush returns the rows appended since the last Flush as one batch, which
// the caller releases, or nil if there are none.
func (d *sourceDecoder) Flush() arrow.Record {
	if d.dec.Len() == 0 {
		return nil
	}
	rec := d.dec.Flush()
	if !d.table {
		return rec
	}
	defer rec.Release()
	b := array.NewBooleanBuilder(d.mem)
	defer b.Release()
	b.AppendValues(d.deleted, nil)
	d.deleted = d.deleted[:0]
	col := b.NewArray()
	defer col.Release()
	return array.NewRecord(d.out, append(slices.Clone(rec.Columns()), col), rec.NumRows())
}

func (d *sourceDecoder) Release() { d.dec.Release() }
