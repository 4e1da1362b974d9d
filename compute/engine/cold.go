package engine

// Cold scans. A scan reads what the tiered log holds straight from the
// objects, not through Fetch: a segment's typed columns when tiering wrote
// them for the source (columns.go; no value is parsed), else the segment
// itself, of which it reads only the offset, timestamp, key, value and
// batch attribute columns. Either way it reads only the row groups of the
// partition from the wanted offset on, found by their statistics. The
// partitions are read together, row group by row group in the order of
// their smallest timestamps, so that event time advances across them as
// it does on live data and windows do not see a whole partition's history
// as late. Then the scan goes on through Fetch from where the tiered log
// ends.

import (
	"container/heap"
	"context"
	"fmt"
	"io"
	"math"
	"sort"
	"sync"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/compute"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/metadata"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/strata-log/strata/compute/expr"
	"github.com/strata-log/strata/compute/plan"
	"github.com/strata-log/strata/compute/schema"
	"github.com/strata-log/strata/compute/sql"
	"github.com/strata-log/strata/meta"
	"github.com/strata-log/strata/tiering/bucket"
)

// Tiered is the tiered log as cold scans see it; *tiering.Tierer
// implements it.
type Tiered interface {
	// Segments returns a partition's tiered segments holding offsets at or
	// after from, in offset order, and its manifest.
	Segments(ctx context.Context, topic [16]byte, partition int32, from int64) ([]meta.SegmentRef, meta.Manifest, error)
}

// controlBit marks a control batch in a segment's batch_attributes.
const controlBit = 1 << 5

// scanCold reads the tiered records of src's partitions (of topic id
// topic; from's columns, rawValues and times apply) from next[p] on,
// below limit[p] for the partitions limit names, passing batches to fn
// and, after each, the advanced next to progress (if not nil). It leaves
// next at the end of each partition's tiered log, where Fetch takes over.
func (e *Engine) scanCold(ctx context.Context, src *plan.Source, topic [16]byte, from scanFrom, next, limit map[int32]int64, mem memory.Allocator,
	fn func(arrow.Record) error, progress func(map[int32]int64) error) error {
	cs := &coldScan{e: e, src: src, out: plan.SourceSchema(src), used: from.columns, raw: from.rawValues, times: from.times, mem: mem, topic: topic, typed: map[string][]int{}}
	defer func() {
		if cs.dec != nil {
			cs.dec.Release()
		}
	}()
	var h cursorHeap
	for p, at := range next {
		lim := int64(math.MaxInt64)
		if l, ok := limit[p]; ok {
			lim = l
		}
		if at >= lim {
			continue
		}
		segs, m, err := e.cfg.Tiered.Segments(ctx, topic, p, at)
		if err != nil {
			return fmt.Errorf("topic %s partition %d: %w", src.Topic, p, err)
		}
		c := &coldCursor{partition: p, from: at, limit: min(m.EndOffset(), lim), segs: segs}
		if c.limit <= at {
			continue
		}
		ok, err := cs.fill(ctx, c)
		if err != nil {
			return err
		}
		if !ok {
			next[p] = c.limit
			continue
		}
		h = append(h, c)
	}
	heap.Init(&h)
	for h.Len() > 0 {
		c := h[0]
		u := c.units[0]
		c.units = c.units[1:]
		if err := cs.read(ctx, c, u, fn); err != nil {
			return err
		}
		next[c.partition] = min(u.last+1, c.limit)
		ok, err := cs.fill(ctx, c)
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(&h, 0)
		} else {
			next[c.partition] = c.limit
			heap.Pop(&h)
		}
		if progress != nil {
			if err := progress(next); err != nil {
				return err
			}
		}
	}
	return nil
}

// coldScan is one scan's view of the objects.
type coldScan struct {
	e     *Engine
	src   *plan.Source
	out   *arrow.Schema  // plan.SourceSchema(src)
	used  []bool         // of out's fields, those the query reads (nil: all)
	raw   bool           // decode the segments' values, typed columns or not
	times timeRange      // the ROWTIMEs the query keeps
	dec   *sourceDecoder // of the segments' values, made on first use
	mem   memory.Allocator
	topic [16]byte
	// typed maps a typed-columns object to the index in it of each of
	// out's fields that the query reads (-1 for the others), or to nil
	// when it lacks one of them or has it with another type (another
	// source's columns).
	typed map[string][]int
}

// coldCursor is one partition's position in its tiered segments.
type coldCursor struct {
	partition   int32
	from, limit int64 // the offsets to read
	segs        []meta.SegmentRef
	units       []coldUnit // row groups of the current segment to read
}

// coldUnit is a row group to read.
type coldUnit struct {
	object      string
	typed       bool
	rowGroup    int
	minTs       int64
	first, last int64 // offsets
}

// fill loads the row groups of the cursor's next segments until it has
// some, and reports whether it has.
func (cs *coldScan) fill(ctx context.Context, c *coldCursor) (bool, error) {
	for len(c.units) == 0 && len(c.segs) > 0 {
		s := c.segs[0]
		c.segs = c.segs[1:]
		if s.FirstOffset >= c.limit {
			c.segs = nil
			break
		}
		if cs.times.excludes(s.MinTimestamp, s.MaxTimestamp) {
			continue
		}
		units, err := cs.units(ctx, c, &s)
		if err != nil {
			return false, err
		}
		c.units = units
	}
	return len(c.units) > 0, nil
}

// units lists the row groups of segment s that hold the cursor's
// partition's offsets in [from, limit), from its typed columns if they fit
// the source.
func (cs *coldScan) units(ctx context.Context, c *coldCursor, s *meta.SegmentRef) ([]coldUnit, error) {
	object, typed := s.Object, false
	if s.Columns != "" && !cs.raw {
		idx, err := cs.typedFields(ctx, s.Columns)
		if err != nil {
			return nil, err
		}
		if idx != nil {
			object, typed = s.Columns, true
		}
	}
	f, err := cs.e.footers.open(ctx, cs.e.cfg.Objects, object)
	if err != nil {
		return nil, err
	}
	cols := f.raw
	if typed {
		cols = f.typed
	}
	if cols == nil {
		return nil, fmt.Errorf("object %s: not a segment or typed-columns object", object)
	}
	var out []coldUnit
	for rg := range f.md.RowGroups {
		st, err := cols.stats(f.md.RowGroup(rg))
		if err != nil {
			return nil, fmt.Errorf("object %s row group %d: %w", object, rg, err)
		}
		if st.partition != c.partition || (!typed && st.topic != cs.topic) || st.last < c.from || st.first >= c.limit ||
			cs.times.excludes(st.minTs, st.maxTs) {
			continue
		}
		out = append(out, coldUnit{object: object, typed: typed, rowGroup: rg, minTs: st.minTs, first: st.first, last: st.last})
	}
	return out, nil
}

// typedFields returns where the fields the query reads are in a
// typed-columns object, or nil if it lacks one.
func (cs *coldScan) typedFields(ctx context.Context, object string) ([]int, error) {
	if idx, ok := cs.typed[object]; ok {
		return idx, nil
	}
	f, err := cs.e.footers.open(ctx, cs.e.cfg.Objects, object)
	if err != nil {
		return nil, err
	}
	var idx []int
	if f.typed != nil {
		idx = make([]int, len(cs.out.Fields()))
		for i, want := range cs.out.Fields() {
			idx[i] = -1
			if !cs.reads(i) {
				continue
			}
			j := f.schema.FieldIndices(want.Name)
			if len(j) != 1 || !arrow.TypeEqual(f.schema.Field(j[0]).Type, want.Type) {
				idx = nil
				break
			}
			idx[i] = j[0]
		}
	}
	cs.typed[object] = idx
	return idx, nil
}

// reads reports whether the query reads field i of out: the pseudo
// columns always (scans order and cut by them).
func (cs *coldScan) reads(i int) bool {
	return cs.used == nil || i < schema.NumPseudoColumns || cs.used[i]
}

// read reads unit u of cursor c and passes its rows in [from, limit) to
// fn as one batch.
func (cs *coldScan) read(ctx context.Context, c *coldCursor, u coldUnit, fn func(arrow.Record) error) error {
	f, err := cs.e.footers.open(ctx, cs.e.cfg.Objects, u.object)
	if err != nil {
		return err
	}
	var leaves []int
	if u.typed {
		var fields []int
		for _, j := range cs.typed[u.object] {
			if j >= 0 {
				fields = append(fields, j)
			}
		}
		if leaves, err = f.manifest.GetFieldIndices(fields); err != nil {
			return err
		}
	} else {
		leaves = f.raw.leaves
	}
	rec, err := f.readRowGroup(ctx, cs.e.cfg.Objects, u.object, u.rowGroup, leaves)
	if err != nil {
		return fmt.Errorf("object %s row group %d: %w", u.object, u.rowGroup, err)
	}
	defer rec.Release()
	if u.typed {
		return cs.emitTyped(c, u, rec, fn)
	}
	return cs.emitRaw(c, rec, fn)
}

// emitTyped passes on the rows of a typed row group in [from, limit), its
// columns in the source's order.
func (cs *coldScan) emitTyped(c *coldCursor, u coldUnit, rec arrow.Record, fn func(arrow.Record) error) error {
	cols := make([]arrow.Array, len(cs.out.Fields()))
	for i, f := range cs.out.Fields() {
		if !cs.reads(i) {
			// A column the query does not read: NULL.
			cols[i] = array.MakeArrayOfNull(cs.mem, f.Type, int(rec.NumRows()))
			defer cols[i].Release()
			continue
		}
		j := rec.Schema().FieldIndices(f.Name)
		if len(j) != 1 {
			return fmt.Errorf("object %s: column %s missing", u.object, f.Name)
		}
		cols[i] = rec.Column(j[0])
	}
	out := array.NewRecord(cs.out, cols, rec.NumRows())
	defer out.Release()
	lo, hi := 0, int(out.NumRows())
	if u.first < c.from || u.last >= c.limit {
		offs, ok := out.Column(schema.RowOffsetIndex).(*array.Int64)
		if !ok {
			return fmt.Errorf("object %s: %s is not BIGINT", u.object, schema.RowOffset)
		}
		v := offs.Int64Values()
		lo = sort.Search(len(v), func(i int) bool { return v[i] >= c.from })
		hi = sort.Search(len(v), func(i int) bool { return v[i] >= c.limit })
	}
	if lo >= hi {
		return nil
	}
	cs.e.coldRows[0].Add(int64(hi - lo))
	if lo == 0 && hi == int(out.NumRows()) {
		return fn(out)
	}
	s := out.NewSlice(int64(lo), int64(hi))
	defer s.Release()
	return fn(s)
}

// emitRaw decodes the values of a segment's row group in [from, limit)
// as the hot path does.
func (cs *coldScan) emitRaw(c *coldCursor, rec arrow.Record, fn func(arrow.Record) error) error {
	col := func(name string) arrow.Array {
		if i := rec.Schema().FieldIndices(name); len(i) == 1 {
			return rec.Column(i[0])
		}
		return nil
	}
	offs, ok1 := col("offset").(*array.Int64)
	tss, ok2 := col("timestamp").(*array.Int64)
	keys, ok3 := col("key").(*array.Binary)
	vals, ok4 := col("value").(*array.Binary)
	attrs, ok5 := col("batch_attributes").(*array.Int32)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
		return fmt.Errorf("segment columns of unexpected types (%s)", rec.Schema())
	}
	if cs.dec == nil {
		var err error
		if cs.dec, err = newSourceDecoder(cs.src, cs.mem); err != nil {
			return err
		}
	}
	dec := cs.dec
	for i := 0; i < int(rec.NumRows()); i++ {
		off := offs.Value(i)
		if off < c.from || off >= c.limit || attrs.Value(i)&controlBit != 0 {
			continue
		}
		r := schema.Record{Partition: c.partition, Offset: off, Timestamp: tss.Value(i)}
		if !keys.IsNull(i) {
			r.Key = keys.Value(i)
		}
		if !vals.IsNull(i) {
			r.Value = vals.Value(i)
		}
		if err := dec.Append(r); err != nil {
			cs.e.skipped(cs.src, err)
		}
	}
	cs.e.coldRows[1].Add(int64(dec.Len()))
	out := dec.Flush()
	if out == nil {
		return nil
	}
	defer out.Release()
	return fn(out)
}

// cursorHeap orders cursors by the smallest timestamp of their next row
// group.
type cursorHeap []*coldCursor

func (h cursorHeap) Len() int { return len(h) }
func (h cursorHeap) Less(i, j int) bool {
	a, b := h[i].units[0].minTs, h[j].units[0].minTs
	if a != b {
		return a < b
	}
	return h[i].partition < h[j].partition
}
func (h cursorHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *cursorHeap) Push(x any)   { *h = append(*h, x.(*coldCursor)) }
func (h *cursorHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}

// coldFile is an object's parsed footer.
type coldFile struct {
	md       *metadata.FileMetaData
	size     int64
	schema   *arrow.Schema
	manifest *pqarrow.SchemaManifest
	raw      *statCols // a segment's, or nil
	typed    *statCols // a typed-columns object's, or nil
}

// statCols are the leaf columns whose statistics place a row group, and
// (raw) the leaves a cold scan reads.
type statCols struct {
	topic, partition, offset, timestamp int // leaf indices; topic -1 if none
	leaves                              []int
}

// rowGroupStats is what a row group's statistics say.
type rowGroupStats struct {
	topic        [16]byte
	partition    int32
	first, last  int64
	minTs, maxTs int64
}

func (sc *statCols) stats(rg *metadata.RowGroupMetaData) (rowGroupStats, error) {
	var st rowGroupStats
	get := func(col int) (metadata.TypedStatistics, error) {
		cc, err := rg.ColumnChunk(col)
		if err != nil {
			return nil, err
		}
		s, err := cc.Statistics()
		if err != nil {
			return nil, err
		}
		if s == nil || !s.HasMinMax() {
			return nil, fmt.Errorf("column %d has no statistics", col)
		}
		return s, nil
	}
	if sc.topic >= 0 {
		s, err := get(sc.topic)
		if err != nil {
			return st, err
		}
		ts, ok := s.(*metadata.FixedLenByteArrayStatistics)
		if !ok || len(ts.Min()) != 16 {
			return st, fmt.Errorf("topic_id statistics of type %T", s)
		}
		copy(st.topic[:], ts.Min())
	}
	s, err := get(sc.partition)
	if err != nil {
		return st, err
	}
	ps, ok := s.(*metadata.Int32Statistics)
	if !ok || ps.Min() != ps.Max() {
		return st, fmt.Errorf("a row group must hold one partition")
	}
	st.partition = ps.Min()
	for _, x := range []struct {
		col      int
		min, max *int64
	}{{sc.offset, &st.first, &st.last}, {sc.timestamp, &st.minTs, &st.maxTs}} {
		s, err := get(x.col)
		if err != nil {
			return st, err
		}
		is, ok := s.(*metadata.Int64Statistics)
		if !ok {
			return st, fmt.Errorf("column %d statistics of type %T", x.col, s)
		}
		*x.min, *x.max = is.Min(), is.Max()
	}
	return st, nil
}

// newColdFile reads an object's footer and finds its columns.
func newColdFile(ctx context.Context, b bucket.Bucket, name string) (*coldFile, error) {
	attrs, err := b.Attributes(ctx, name)
	if err != nil {
		return nil, err
	}
	r, err := file.NewParquetReader(io.NewSectionReader(&bucket.ReaderAt{Ctx: ctx, Bucket: b, Name: name}, 0, attrs.Size))
	if err != nil {
		return nil, err
	}
	f := &coldFile{md: r.MetaData(), size: attrs.Size}
	fr, err := pqarrow.NewFileReader(r, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		return nil, err
	}
	if f.schema, err = fr.Schema(); err != nil {
		return nil, err
	}
	f.manifest = fr.Manifest
	leaf := f.md.Schema.ColumnIndexByName
	kv := f.md.KeyValueMetadata()
	switch {
	case kv.FindValue(columnsVersionKey) != nil:
		if v := *kv.FindValue(columnsVersionKey); v != columnsVersion {
			return nil, fmt.Errorf("typed columns of version %q; this broker reads %q", v, columnsVersion)
		}
		f.typed = &statCols{topic: -1, partition: leaf(schema.RowPartition), offset: leaf(schema.RowOffset), timestamp: leaf(schema.RowTime)}
	case kv.FindValue("strata.segment.version") != nil:
		f.raw = &statCols{topic: leaf("topic_id"), partition: leaf("partition"), offset: leaf("offset"), timestamp: leaf("timestamp"),
			leaves: []int{leaf("offset"), leaf("timestamp"), leaf("key"), leaf("value"), leaf("batch_attributes")}}
	default:
		return nil, fmt.Errorf("not a segment or typed-columns object")
	}
	return f, nil
}

// readRowGroup reads the given leaf columns of row group rg as one
// record.
func (f *coldFile) readRowGroup(ctx context.Context, b bucket.Bucket, name string, rg int, leaves []int) (arrow.Record, error) {
	r, err := file.NewParquetReader(io.NewSectionReader(&bucket.ReaderAt{Ctx: ctx, Bucket: b, Name: name}, 0, f.size),
		file.WithMetadata(f.md), file.WithReadProps(parquet.NewReaderProperties(memory.DefaultAllocator)))
	if err != nil {
		return nil, err
	}
	rows := f.md.RowGroup(rg).NumRows()
	// The Go allocator, not mem: arrow v17's reader keeps buffers past
	// Release (its delta bit-packing decoder's), which the garbage
	// collector frees but mem would count as leaked. The batches it reads
	// are Go memory too; what the query computes from them is mem's.
	fr, err := pqarrow.NewFileReader(r, pqarrow.ArrowReadProperties{BatchSize: max(rows, 1), Parallel: len(leaves) > 2}, memory.DefaultAllocator)
	if err != nil {
		return nil, err
	}
	rr, err := fr.GetRecordReader(ctx, leaves, []int{rg})
	if err != nil {
		return nil, err
	}
	defer rr.Release()
	var recs []arrow.Record
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	for rr.Next() {
		rec := rr.Record()
		rec.Retain()
		recs = append(recs, rec)
	}
	if err := rr.Err(); err != nil && err != io.EOF {
		return nil, err
	}
	switch len(recs) {
	case 0:
		return nil, fmt.Errorf("row group %d read no rows", rg)
	case 1:
		recs[0].Retain()
		return recs[0], nil
	}
	return concatRecords(compute.WithAllocator(ctx, memory.DefaultAllocator), recs)
}

// footerCache keeps the parsed footers of objects (immutable), a bounded
// number of them.
type footerCache struct {
	mu    sync.Mutex
	files map[string]*coldFile
}

// footerCacheSize bounds the footers kept: a few hundred objects' worth.
const footerCacheSize = 512

func (c *footerCache) open(ctx context.Context, b bucket.Bucket, name string) (*coldFile, error) {
	c.mu.Lock()
	f, ok := c.files[name]
	c.mu.Unlock()
	if ok {
		return f, nil
	}
	f, err := newColdFile(ctx, b, name)
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", name, err)
	}
	c.mu.Lock()
	if c.files == nil || len(c.files) >= footerCacheSize {
		c.files = map[string]*coldFile{} // crude bound: a scan re-reads few footers
	}
	c.files[name] = f
	c.mu.Unlock()
	return f, nil
}

// usedColumns returns the fields of q's source batches that q reads, or
// nil when it cannot tell (a join, an expression it cannot see into).
// A table's key columns and Deleted flag count as read: pull queries and
// changelog operators use them.
func usedColumns(q *plan.Query) []bool {
	if q.Join != nil {
		return nil
	}
	used := make([]bool, q.Input.NumFields())
	exprs := q.Project
	if q.Agg != nil {
		exprs = q.Agg.Pre
	}
	if q.Where != nil {
		exprs = append([]expr.Expr{q.Where}, exprs...)
	}
	for _, x := range exprs {
		if !expr.Columns(x, func(i int) { used[i] = true }) {
			return nil
		}
	}
	if q.Source.Kind == sql.Table {
		for i, c := range q.Source.Schema.Columns() {
			if c.Key {
				used[schema.NumPseudoColumns+i] = true
			}
		}
		used[len(used)-1] = true // exec.Deleted
	}
	return used
}

// timeRange bounds ROWTIME: [lo, hi] when on, else everything.
type timeRange struct {
	on     bool
	lo, hi int64
}

// excludes reports whether rows whose ROWTIMEs lie in [min, max] are all
// outside the range.
func (r timeRange) excludes(min, max int64) bool { return r.on && (max < r.lo || min > r.hi) }

// rowTimeRange returns the ROWTIMEs the WHERE of a query over a stream
// keeps (a table's WHERE turns rows into deletions, which must be read).
func rowTimeRange(q *plan.Query) timeRange {
	if q.Join != nil || q.Where == nil || q.Source.Kind != sql.Stream {
		return timeRange{}
	}
	lo, hi := expr.Range(q.Where, schema.RowTimeIndex)
	return timeRange{on: lo != math.MinInt64 || hi != math.MaxInt64, lo: lo, hi: hi}
}
