package segment

import (
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/parquet-go/parquet-go"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-log/strata/ingest/batch"
)

// rowGroupInfo is what the footer's column statistics say about a row group.
type rowGroupInfo struct {
	index        int
	topicID      [16]byte
	partition    int32
	minOffset    int64
	maxOffset    int64
	minTimestamp int64
	maxTimestamp int64
	rows         int64
}

type partKey struct {
	topicID   [16]byte
	partition int32
}

// Reader serves record batches from a segment. Open reads only the
// footer; row groups are read on demand. A Reader is safe for concurrent
// use if the underlying io.ReaderAt is.
type Reader struct {
	file  *parquet.File
	parts map[partKey][]rowGroupInfo // in offset order
	cache *RowGroupCache             // nil: decode every time
}

// SetCache makes r keep the row groups it decodes in c (shared with other
// Readers). Call it before r is used.
func (r *Reader) SetCache(c *RowGroupCache) { r.cache = c }

// required columns and their position in the schema (leaf index).
var statColumns = []string{"topic_id", "partition", "offset", "timestamp"}

// Open reads the footer of the segment of size bytes in r and indexes its
// row groups by partition using their column statistics. It returns an
// error wrapping ErrCorrupt (never panics) on malformed input.
func Open(r io.ReaderAt, size int64) (rd *Reader, err error) {
	defer func() {
		if p := recover(); p != nil {
			rd, err = nil, fmt.Errorf("%w: open: %v", ErrCorrupt, p)
		}
	}()
	f, err := parquet.OpenFile(r, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if v, ok := f.Lookup(VersionKey); !ok || v != FormatVersion {
		return nil, fmt.Errorf("%w: %s is %q, want %q", ErrCorrupt, VersionKey, v, FormatVersion)
	}
	want := parquet.SchemaOf(Row{})
	if !parquet.EqualNodes(want, f.Schema()) {
		return nil, fmt.Errorf("%w: unexpected schema %v", ErrCorrupt, f.Schema())
	}
	leaf := map[string]int{}
	for i, path := range f.Schema().Columns() {
		if len(path) == 1 {
			leaf[path[0]] = i
		}
	}
	rd = &Reader{file: f, parts: map[partKey][]rowGroupInfo{}}
	md := f.Metadata()
	if len(md.RowGroups) != len(f.RowGroups()) {
		return nil, fmt.Errorf("%w: row group count mismatch", ErrCorrupt)
	}
	for i, rg := range md.RowGroups {
		if len(rg.Columns) != len(f.Schema().Columns()) {
			return nil, fmt.Errorf("%w: row group %d has %d columns", ErrCorrupt, i, len(rg.Columns))
		}
		stat := func(name string) (min, max []byte) {
			s := rg.Columns[leaf[name]].MetaData.Statistics
			return s.MinValue, s.MaxValue
		}
		info := rowGroupInfo{index: i, rows: rg.NumRows}
		tmin, tmax := stat("topic_id")
		if len(tmin) != 16 || string(tmin) != string(tmax) {
			return nil, fmt.Errorf("%w: row group %d: topic_id statistics missing or mixed", ErrCorrupt, i)
		}
		copy(info.topicID[:], tmin)
		pmin, pmax := stat("partition")
		p1, ok1 := le32(pmin)
		p2, ok2 := le32(pmax)
		if !ok1 || !ok2 || p1 != p2 {
			return nil, fmt.Errorf("%w: row group %d: partition statistics missing or mixed", ErrCorrupt, i)
		}
		info.partition = p1
		var ok [4]bool
		omin, omax := stat("offset")
		info.minOffset, ok[0] = le64(omin)
		info.maxOffset, ok[1] = le64(omax)
		smin, smax := stat("timestamp")
		info.minTimestamp, ok[2] = le64(smin)
		info.maxTimestamp, ok[3] = le64(smax)
		if ok != [4]bool{true, true, true, true} || info.minOffset > info.maxOffset {
			return nil, fmt.Errorf("%w: row group %d: offset or timestamp statistics missing", ErrCorrupt, i)
		}
		k := partKey{info.topicID, info.partition}
		rd.parts[k] = append(rd.parts[k], info)
	}
	for k, groups := range rd.parts {
		sort.Slice(groups, func(a, b int) bool { return groups[a].minOffset < groups[b].minOffset })
		for j := 1; j < len(groups); j++ {
			if groups[j].minOffset <= groups[j-1].maxOffset {
				return nil, fmt.Errorf("%w: partition %x/%d: overlapping row groups", ErrCorrupt, k.topicID, k.partition)
			}
		}
	}
	return rd, nil
}

// PartitionIndex describes one partition of a segment, from the row group
// statistics.
type PartitionIndex struct {
	TopicID      [16]byte
	Partition    int32
	FirstOffset  int64
	LastOffset   int64
	MinTimestamp int64
	MaxTimestamp int64
	Records      int64
	RowGroups    []int
}

// Partitions lists the segment's partitions sorted by (topic ID, partition).
func (r *Reader) Partitions() []PartitionIndex {
	var out []PartitionIndex
	for k, groups := range r.parts {
		p := PartitionIndex{TopicID: k.topicID, Partition: k.partition,
			FirstOffset: groups[0].minOffset, LastOffset: groups[len(groups)-1].maxOffset,
			MinTimestamp: groups[0].minTimestamp, MaxTimestamp: groups[0].maxTimestamp}
		for _, g := range groups {
			p.MinTimestamp = min(p.MinTimestamp, g.minTimestamp)
			p.MaxTimestamp = max(p.MaxTimestamp, g.maxTimestamp)
			p.Records += g.rows
			p.RowGroups = append(p.RowGroups, g.index)
		}
		out = append(out, p)
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].TopicID != out[b].TopicID {
			return string(out[a].TopicID[:]) < string(out[b].TopicID[:])
		}
		return out[a].Partition < out[b].Partition
	})
	return out
}

// readRowGroup returns every row of row group i, from the cache if the
// Reader has one. The rows must not be modified.
func (r *Reader) readRowGroup(i int) ([]Row, error) {
	if r.cache == nil {
		return r.decodeRowGroup(i)
	}
	k := rowGroupKey{r, i}
	if rows, ok := r.cache.get(k); ok {
		return rows, nil
	}
	rows, err := r.decodeRowGroup(i)
	if err == nil {
		r.cache.put(k, rows)
	}
	return rows, err
}

// decodeRowGroup decodes every row of row group i.
func (r *Reader) decodeRowGroup(i int) (rows []Row, err error) {
	defer func() {
		if p := recover(); p != nil {
			rows, err = nil, fmt.Errorf("%w: row group %d: %v", ErrCorrupt, i, p)
		}
	}()
	rg := r.file.RowGroups()[i]
	pr := parquet.NewGenericRowGroupReader[Row](rg)
	defer pr.Close()
	rows = make([]Row, rg.NumRows())
	n := 0
	for n < len(rows) {
		m, err := pr.Read(rows[n:])
		n += m
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("%w: row group %d: %v", ErrCorrupt, i, err)
		}
		if m == 0 {
			break
		}
	}
	if n != len(rows) {
		return nil, fmt.Errorf("%w: row group %d: read %d of %d rows", ErrCorrupt, i, n, len(rows))
	}
	return rows, nil
}

// ReadBatches returns the partition's record batches that hold offsets at
// or above fromOffset, rebuilt uncompressed with batch.Build and grouped
// exactly as they were written: a batch containing fromOffset is returned
// whole from its original base offset. It stops once the batches reach
// maxBytes (at least one batch is always returned if any exists; maxBytes
// <= 0 means no limit). Row groups whose max offset is below fromOffset are
// not read. It returns no batches and no error if the segment holds nothing
// at or above fromOffset for the partition.
func (r *Reader) ReadBatches(topicID [16]byte, partition int32, fromOffset int64, maxBytes int) ([][]byte, error) {
	var out [][]byte
	total := 0
	for _, g := range r.parts[partKey{topicID, partition}] {
		if g.maxOffset < fromOffset {
			continue
		}
		rows, err := r.readRowGroup(g.index)
		if err != nil {
			return out, err
		}
		for start := 0; start < len(rows); {
			end := start + 1
			for end < len(rows) && rows[end].BatchBaseOffset == rows[start].BatchBaseOffset {
				end++
			}
			first := &rows[start]
			if first.BatchBaseOffset+int64(first.BatchLastOffsetDelta) >= fromOffset {
				b, err := buildBatch(rows[start:end])
				if err != nil {
					return out, err
				}
				if maxBytes > 0 && len(out) > 0 && total+len(b) > maxBytes {
					return out, nil
				}
				out = append(out, b)
				total += len(b)
			}
			start = end
		}
	}
	return out, nil
}

func buildBatch(rows []Row) ([]byte, error) {
	f := &rows[0]
	h := batch.Header{
		BaseOffset:           f.BatchBaseOffset,
		PartitionLeaderEpoch: f.LeaderEpoch,
		LastOffsetDelta:      f.BatchLastOffsetDelta,
		Attributes:           int16(f.BatchAttributes) &^ batch.CodecMask,
		FirstTimestamp:       f.BatchFirstTimestamp,
		MaxTimestamp:         f.BatchMaxTimestamp,
		ProducerID:           f.ProducerID,
		ProducerEpoch:        int16(f.ProducerEpoch),
		BaseSequence:         f.BaseSequence,
	}
	recs := make([]kmsg.Record, len(rows))
	for i := range rows {
		row := &rows[i]
		delta := row.Offset - f.BatchBaseOffset
		if delta < 0 || delta > int64(f.BatchLastOffsetDelta) {
			return nil, fmt.Errorf("%w: offset %d outside batch %d+%d", ErrCorrupt, row.Offset, f.BatchBaseOffset, f.BatchLastOffsetDelta)
		}
		rec := kmsg.Record{
			OffsetDelta:      int32(delta),
			TimestampDelta64: row.TimestampDelta,
			Key:              row.Key,
			Value:            row.Value,
		}
		if len(row.Headers) > 0 {
			rec.Headers = make([]kmsg.Header, len(row.Headers))
			for j, hd := range row.Headers {
				rec.Headers[j] = kmsg.Header{Key: hd.Key, Value: hd.Value}
			}
		}
		recs[i] = rec
	}
	b, err := batch.Build(h, recs)
	if err != nil {
		return nil, fmt.Errorf("segment: rebuilding batch at %d: %w", f.BatchBaseOffset, err)
	}
	return b, nil
}

// ScanRecords calls fn with the offset and timestamp of each of the
// partition's records, in offset order, until fn returns false. Row groups
// whose offsets are all below fromOffset, or whose timestamps are all
// below minTimestamp, are skipped unread (fn may still see records below
// either bound from the row groups it reads).
func (r *Reader) ScanRecords(topicID [16]byte, partition int32, fromOffset, minTimestamp int64, fn func(offset, timestamp int64) bool) error {
	for _, g := range r.parts[partKey{topicID, partition}] {
		if g.maxOffset < fromOffset || g.maxTimestamp < minTimestamp {
			continue
		}
		rows, err := r.readRowGroup(g.index)
		if err != nil {
			return err
		}
		for i := range rows {
			if !fn(rows[i].Offset, rows[i].Timestamp) {
				return nil
			}
		}
	}
	return nil
}
