package engine

// Typed columns: the engine's side of tiering.Columns. When tiering seals
// a segment, it asks for the typed copy of each topic's records in it;
// for a topic a stream or table declares, the engine decodes the records
// as a scan would and writes the batches as Parquet (format in
// docs/format/columns.md). Cold scans (cold.go) read them back.

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
	"github.com/klauspost/compress/zstd"

	"github.com/strata-log/strata/compute/plan"
	"github.com/strata-log/strata/compute/schema"
	"github.com/strata-log/strata/ingest/batch"
	"github.com/strata-log/strata/tiering/segment"
)

// The typed-columns format's key/value metadata.
const (
	columnsVersionKey = "strata.columns.version"
	columnsVersion    = "1"
	columnsSourceKey  = "strata.columns.source"
	// columnsRowGroupRows bounds a row group: a cold scan reads one at a
	// time.
	columnsRowGroupRows = 64 << 10
	// maxBatchBytes bounds a decompressed record batch of a segment.
	maxBatchBytes = 64 << 20
)

// Columns implements tiering.Columns: it returns the typed columns of
// parts, the records of one topic, decoded by the stream or table
// declared over the topic (the one with the most columns when several
// are, then the first by name), or nil when none is.
func (e *Engine) Columns(ctx context.Context, topic [16]byte, parts []segment.PartitionData) ([]byte, error) {
	src, err := e.declared.lookup(ctx, e, topic)
	if err != nil || src == nil {
		return nil, err
	}
	return writeColumns(src, parts, e.mem)
}

// writeColumns decodes parts' records with src's formats and writes them
// as Parquet: the columns of plan.SourceSchema(src), one or more row
// groups per partition in parts' order. Records that do not decode are
// left out, as a scan skips them; control records too.
func writeColumns(src *plan.Source, parts []segment.PartitionData, mem memory.Allocator) ([]byte, error) {
	dec, err := newSourceDecoder(src, mem)
	if err != nil {
		return nil, err
	}
	defer dec.Release()
	var buf bytes.Buffer
	// Offsets and timestamps rise: delta-encoded, not dictionary-encoded
	// (a dictionary of unique values only costs hashing).
	props := parquet.NewWriterProperties(parquet.WithAllocator(mem), parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithStats(true), parquet.WithMaxRowGroupLength(columnsRowGroupRows),
		parquet.WithDictionaryFor(schema.RowOffset, false), parquet.WithEncodingFor(schema.RowOffset, parquet.Encodings.DeltaBinaryPacked),
		parquet.WithDictionaryFor(schema.RowTime, false), parquet.WithEncodingFor(schema.RowTime, parquet.Encodings.DeltaBinaryPacked))
	w, err := pqarrow.NewFileWriter(dec.out, &buf, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(mem)))
	if err != nil {
		return nil, err
	}
	fail := func(err error) ([]byte, error) {
		_ = w.Close()
		return nil, err
	}
	flush := func() error {
		rec := dec.Flush()
		if rec == nil {
			return nil
		}
		defer rec.Release()
		return w.Write(rec) // one row group: rec has at most columnsRowGroupRows rows
	}
	for _, p := range parts {
		for _, b := range p.Batches {
			h, recs, err := batch.Records(b, maxBatchBytes)
			if err != nil {
				return fail(fmt.Errorf("partition %d: %w", p.Partition, err))
			}
			if h.Control() {
				continue
			}
			for i := range recs {
				r := &recs[i]
				err := dec.Append(schema.Record{Partition: p.Partition, Offset: h.BaseOffset + int64(r.OffsetDelta),
					Timestamp: h.Timestamp(r), Key: r.Key, Value: r.Value})
				if err != nil {
					continue
				}
				if dec.Len() >= columnsRowGroupRows {
					if err := flush(); err != nil {
						return fail(err)
					}
				}
			}
		}
		// A row group holds one partition.
		if err := flush(); err != nil {
			return fail(err)
		}
	}
	if err := w.AppendKeyValueMetadata(columnsVersionKey, columnsVersion); err != nil {
		return fail(err)
	}
	if err := w.AppendKeyValueMetadata(columnsSourceKey, src.Name); err != nil {
		return fail(err)
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// declaredSources maps topic ids to the source declared over each, read
// from etcd at most once a second: tiering asks for every topic of every
// segment it writes.
type declaredSources struct {
	mu      sync.Mutex
	read    time.Time
	byTopic map[string]*plan.Source // by topic name
	names   map[[16]byte]string     // topic ids never change meaning
}

// lookup returns the source declared over topic, or nil.
func (d *declaredSources) lookup(ctx context.Context, e *Engine, topic [16]byte) (*plan.Source, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	name, ok := d.names[topic]
	if !ok {
		ts, err := e.cfg.Meta.Topics(ctx)
		if err != nil {
			return nil, err
		}
		if d.names == nil {
			d.names = map[[16]byte]string{}
		}
		for _, t := range ts {
			d.names[t.ID] = t.Name
		}
		if name, ok = d.names[topic]; !ok {
			return nil, nil // deleted meanwhile
		}
	}
	if time.Since(d.read) >= time.Second {
		cat, err := e.catalog(ctx)
		if err != nil {
			return nil, err
		}
		// The source with the most columns wins (then the first by
		// name): its typed columns serve the most queries.
		d.byTopic = map[string]*plan.Source{}
		names := make([]string, 0, len(cat))
		for n := range cat {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			s := cat[n]
			if cur := d.byTopic[s.Topic]; cur == nil || len(s.Schema.Columns()) > len(cur.Schema.Columns()) {
				d.byTopic[s.Topic] = s
			}
		}
		d.read = time.Now()
	}
	return d.byTopic[name], nil
}

// keptZstd is arrow v17's zstd codec with its encoders kept, one per
// level: v17 builds a new encoder, megabytes of tables, for every page it
// compresses at a level, which was more than half the cost of writing
// typed columns (BenchmarkWriteColumns).
type keptZstd struct {
	compress.Codec // arrow's, for the rest
	mu             sync.Mutex
	encoders       map[int]*zstd.Encoder
}

func (z *keptZstd) EncodeLevel(dst, src []byte, level int) []byte {
	z.mu.Lock()
	enc, ok := z.encoders[level]
	if !ok {
		l := zstd.SpeedDefault
		if level != compress.DefaultCompressionLevel {
			l = zstd.EncoderLevelFromZstd(level)
		}
		var err error
		if enc, err = zstd.NewWriter(nil, zstd.WithZeroFrames(true), zstd.WithEncoderLevel(l)); err != nil {
			z.mu.Unlock()
			return z.Codec.EncodeLevel(dst, src, level)
		}
		z.encoders[level] = enc
	}
	z.mu.Unlock()
	return enc.EncodeAll(src, dst[:0]) // safe for concurrent use
}

func init() {
	if c, err := compress.GetCodec(compress.Codecs.Zstd); err == nil {
		compress.RegisterCodec(compress.Codecs.Zstd, &keptZstd{Codec: c, encoders: map[int]*zstd.Encoder{}})
	}
}
