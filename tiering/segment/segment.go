// Package segment writes and reads tiered segments: zstd-compressed Parquet
// objects holding the records of many partitions, one Parquet row per Kafka
// record, from which the original record batches can be rebuilt and served
// to consumers with the same offsets, timestamps, keys, values and headers.
//
// The layout is specified in docs/format/segment.md. In short:
//
//   - One row per record (see Row for the columns). Besides the record's own
//     fields (topic_id, partition, offset, timestamp, key, value, headers),
//     every row repeats the header fields of the batch it came from
//     (batch_base_offset, batch_last_offset_delta, batch_attributes,
//     batch_first_timestamp, batch_max_timestamp, producer_id,
//     producer_epoch, base_sequence, leader_epoch) and the record's
//     timestamp_delta, so the batch can be rebuilt exactly.
//   - Rows are sorted by (topic_id, partition, offset). A row group holds
//     whole batches of one partition only; a new row group starts when the
//     next batch would take the current one over Options.MaxRowGroupRows rows
//     or Options.MaxRowGroupBytes bytes of record data.
//   - Every column chunk is zstd-compressed and carries min/max statistics,
//     which Reader uses to find a partition's row groups and to skip the row
//     groups below the requested offset or timestamp without reading them.
//
// What is not preserved: the producer's compression codec (and therefore the
// original CRC and batch length). Reader rebuilds batches uncompressed with
// batch.Build; they decode to the same records and batch header fields.
package segment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/parquet-go/parquet-go"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-log/strata/ingest/batch"
)

// FormatVersion is stored in the file's key/value metadata under
// VersionKey.
const (
	FormatVersion = "1"
	VersionKey    = "strata.segment.version"
)

// ErrCorrupt is returned (wrapped) for files that are not valid segments.
var ErrCorrupt = errors.New("corrupt segment")

// Header is one record header. Key is never null in Kafka; Value may be.
type Header struct {
	Key   string `parquet:"key"`
	Value []byte `parquet:"value,optional"`
}

// Row is the Parquet schema of a segment: one row per record.
type Row struct {
	TopicID   [16]byte `parquet:"topic_id"`
	Partition int32    `parquet:"partition"`
	Offset    int64    `parquet:"offset"`
	// Timestamp is the record's effective timestamp in ms: for
	// LogAppendTime batches the batch's max timestamp, otherwise first
	// timestamp + delta.
	Timestamp int64    `parquet:"timestamp"`
	Key       []byte   `parquet:"key,optional"`
	Value     []byte   `parquet:"value,optional"`
	Headers   []Header `parquet:"headers"`
	// TimestampDelta is the record's delta from batch_first_timestamp as the
	// producer wrote it (kept because LogAppendTime hides it).
	TimestampDelta int64 `parquet:"timestamp_delta"`

	ProducerID           int64 `parquet:"producer_id"`
	ProducerEpoch        int32 `parquet:"producer_epoch"`
	BaseSequence         int32 `parquet:"base_sequence"`
	BatchBaseOffset      int64 `parquet:"batch_base_offset"`
	BatchLastOffsetDelta int32 `parquet:"batch_last_offset_delta"`
	// BatchAttributes are the batch attributes without the codec bits
	// (timestamp type, transactional, control).
	BatchAttributes     int32 `parquet:"batch_attributes"`
	BatchFirstTimestamp int64 `parquet:"batch_first_timestamp"`
	BatchMaxTimestamp   int64 `parquet:"batch_max_timestamp"`
	LeaderEpoch         int32 `parquet:"leader_epoch"`
}

// PartitionData is the input of Write for one partition: raw v2 batches in
// offset order.
type PartitionData struct {
	TopicID   [16]byte
	Partition int32
	Batches   [][]byte
}

// Options tune Write. Zero values take the defaults.
type Options struct {
	// MaxRowGroupRows caps the rows of a row group (default 65536).
	MaxRowGroupRows int
	// MaxRowGroupBytes caps the key, value and header bytes of a row group
	// (default 64 MiB).
	MaxRowGroupBytes int
	// MaxDecompressed bounds the decompressed size of one input batch
	// (default 64 MiB).
	MaxDecompressed int
}

func (o Options) withDefaults() Options {
	if o.MaxRowGroupRows <= 0 {
		o.MaxRowGroupRows = 65536
	}
	if o.MaxRowGroupBytes <= 0 {
		o.MaxRowGroupBytes = 64 << 20
	}
	if o.MaxDecompressed <= 0 {
		o.MaxDecompressed = 64 << 20
	}
	return o
}

// PartitionSummary describes one partition of a written segment: what a
// Reader's Partitions reports, plus the write's counts.
type PartitionSummary struct {
	PartitionIndex
	Batches int
	// InputBytes is the size of the batches as given to Write.
	InputBytes int64
	// StoredBytes is the compressed size of the partition's column chunks.
	StoredBytes int64
}

// Footer summarises a written segment.
type Footer struct {
	Partitions []PartitionSummary
	Rows       int64
	InputBytes int64
	// Size is the number of bytes written to w.
	Size int64
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Write writes parts as one segment to w with default options.
func Write(w io.Writer, parts []PartitionData) (Footer, error) {
	return WriteOptions(w, parts, Options{})
}

// WriteOptions writes parts as one segment to w. Partitions are sorted by
// (topic ID, partition); each partition's batches must be valid v2 batches
// in increasing offset order. A partition may appear only once and must
// have at least one batch.
func WriteOptions(w io.Writer, parts []PartitionData, opts Options) (Footer, error) {
	opts = opts.withDefaults()
	order := make([]int, len(parts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if c := bytes.Compare(parts[a].TopicID[:], parts[b].TopicID[:]); c != 0 {
			return c
		}
		return cmpInt(parts[a].Partition, parts[b].Partition)
	})
	for i := 1; i < len(order); i++ {
		a, b := &parts[order[i-1]], &parts[order[i]]
		if a.TopicID == b.TopicID && a.Partition == b.Partition {
			return Footer{}, fmt.Errorf("segment: partition %x/%d given twice", a.TopicID, a.Partition)
		}
	}

	cw := &countingWriter{w: w}
	pw := parquet.NewGenericWriter[Row](cw,
		parquet.Compression(&parquet.Zstd),
		parquet.DataPageStatistics(true),
		// Bounds of opaque payload columns are useless for pruning and
		// would bloat the footer with up to two payloads per row group.
		parquet.SkipPageBounds("key"),
		parquet.SkipPageBounds("value"),
		parquet.SkipPageBounds("headers", "key"),
		parquet.SkipPageBounds("headers", "value"),
		parquet.KeyValueMetadata(VersionKey, FormatVersion),
	)
	var foot Footer
	var rows []Row
	rowBytes := 0
	rowGroups := 0
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		if _, err := pw.Write(rows); err != nil {
			return fmt.Errorf("segment: writing rows: %w", err)
		}
		if err := pw.Flush(); err != nil {
			return fmt.Errorf("segment: flushing row group: %w", err)
		}
		foot.Rows += int64(len(rows))
		rows, rowBytes = rows[:0], 0
		rowGroups++
		return nil
	}

	for _, pi := range order {
		p := &parts[pi]
		if len(p.Batches) == 0 {
			return Footer{}, fmt.Errorf("segment: partition %x/%d has no batches", p.TopicID, p.Partition)
		}
		sum := PartitionSummary{PartitionIndex: PartitionIndex{TopicID: p.TopicID, Partition: p.Partition,
			MinTimestamp: math.MaxInt64, MaxTimestamp: math.MinInt64}}
		next := int64(math.MinInt64)
		for bi, b := range p.Batches {
			h, recs, err := batch.Records(b, opts.MaxDecompressed)
			if err != nil {
				return Footer{}, fmt.Errorf("segment: partition %x/%d batch %d: %w", p.TopicID, p.Partition, bi, err)
			}
			if h.Size() != len(b) {
				return Footer{}, fmt.Errorf("segment: partition %x/%d batch %d: %w: %d bytes for a batch of %d", p.TopicID, p.Partition, bi, batch.ErrCorrupt, len(b), h.Size())
			}
			if h.BaseOffset < next {
				return Footer{}, fmt.Errorf("segment: partition %x/%d batch %d: base offset %d is below the previous batch's end %d", p.TopicID, p.Partition, bi, h.BaseOffset, next)
			}
			if len(recs) == 0 {
				continue
			}
			next = h.LastOffset() + 1
			// A row group holds whole batches; start a new one if this
			// batch would overflow a non-empty one.
			size := 0
			for i := range recs {
				size += recordBytes(&recs[i])
			}
			if len(rows) > 0 && (len(rows)+len(recs) > opts.MaxRowGroupRows || rowBytes+size > opts.MaxRowGroupBytes) {
				if err := flush(); err != nil {
					return Footer{}, err
				}
			}
			if len(rows) == 0 {
				sum.RowGroups = append(sum.RowGroups, rowGroups)
			}
			for i := range recs {
				r := &recs[i]
				ts := h.Timestamp(r)
				off := h.BaseOffset + int64(r.OffsetDelta)
				row := Row{
					TopicID: p.TopicID, Partition: p.Partition,
					Offset: off, Timestamp: ts,
					Key: clone(r.Key), Value: clone(r.Value),
					TimestampDelta:       r.TimestampDelta64,
					ProducerID:           h.ProducerID,
					ProducerEpoch:        int32(h.ProducerEpoch),
					BaseSequence:         h.BaseSequence,
					BatchBaseOffset:      h.BaseOffset,
					BatchLastOffsetDelta: h.LastOffsetDelta,
					BatchAttributes:      int32(h.Attributes &^ batch.CodecMask),
					BatchFirstTimestamp:  h.FirstTimestamp,
					BatchMaxTimestamp:    h.MaxTimestamp,
					LeaderEpoch:          h.PartitionLeaderEpoch,
				}
				if len(r.Headers) > 0 {
					row.Headers = make([]Header, len(r.Headers))
					for j, rh := range r.Headers {
						row.Headers[j] = Header{Key: rh.Key, Value: clone(rh.Value)}
					}
				}
				rows = append(rows, row)
				if sum.Records == 0 {
					sum.FirstOffset = off
				}
				sum.LastOffset = max(sum.LastOffset, off)
				sum.MinTimestamp = min(sum.MinTimestamp, ts)
				sum.MaxTimestamp = max(sum.MaxTimestamp, ts)
				sum.Records++
			}
			rowBytes += size
			sum.Batches++
			sum.InputBytes += int64(len(b))
		}
		if err := flush(); err != nil {
			return Footer{}, err
		}
		foot.InputBytes += sum.InputBytes
		foot.Partitions = append(foot.Partitions, sum)
	}
	if err := pw.Close(); err != nil {
		return Footer{}, fmt.Errorf("segment: closing: %w", err)
	}
	if md := pw.File().Metadata(); md != nil {
		for i := range foot.Partitions {
			for _, rg := range foot.Partitions[i].RowGroups {
				if rg < len(md.RowGroups) {
					for _, c := range md.RowGroups[rg].Columns {
						foot.Partitions[i].StoredBytes += c.MetaData.TotalCompressedSize
					}
				}
			}
		}
	}
	foot.Size = cw.n
	return foot, nil
}

func recordBytes(r *kmsg.Record) int {
	n := len(r.Key) + len(r.Value) + 16
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// clone copies b, keeping nil and empty apart (records alias decode buffers).
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

func cmpInt[T int32 | int64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func le64(b []byte) (int64, bool) {
	if len(b) != 8 {
		return 0, false
	}
	return int64(binary.LittleEndian.Uint64(b)), true
}

func le32(b []byte) (int32, bool) {
	if len(b) != 4 {
		return 0, false
	}
	return int32(binary.LittleEndian.Uint32(b)), true
}
