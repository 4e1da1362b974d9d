package exec

import (
	"context"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/compute"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/decimal256"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// joinRef locates a row of a list of source batches: row row of batch rec.
// A negative rec is a row of NULLs.
type joinRef struct{ rec, row int32 }

var joinNullRef = joinRef{rec: -1}

// joinRows collects the output rows of one emission, all driven by rows of
// one side: for each, the driving row, a row of each side (or NULLs), its
// time and its deletion flag.
type joinRows struct {
	driver  []joinRef
	ref     [2][]joinRef
	time    []int64
	deleted []bool
}

func (r *joinRows) reset() {
	r.driver, r.time, r.deleted = r.driver[:0], r.time[:0], r.deleted[:0]
	r.ref[0], r.ref[1] = r.ref[0][:0], r.ref[1][:0]
}

// add appends an output row made of own, the driving row, of side drive and
// other, a row of the other side.
func (r *joinRows) add(drive joinSide, own, other joinRef, t int64) {
	r.put(drive, own, own, other, t, false)
}

// put appends an output row driven by driver, made of own, a row of side
// drive, and other.
func (r *joinRows) put(drive joinSide, driver, own, other joinRef, t int64, deleted bool) {
	r.driver = append(r.driver, driver)
	r.ref[drive] = append(r.ref[drive], own)
	r.ref[drive.other()] = append(r.ref[drive.other()], other)
	r.time = append(r.time, t)
	r.deleted = append(r.deleted, deleted)
}

// joinSources returns the source lists of an emission driven by side s.
func joinSources(s joinSide, own, other []arrow.Record) [2][]arrow.Record {
	var srcs [2][]arrow.Record
	srcs[s], srcs[s.other()] = own, other
	return srcs
}

// emit builds the output batch of rows, whose rows of side s are in srcs[s]
// and whose driving rows are of side drive, and passes it to emit.
func (l *joinLayout) emit(ctx context.Context, emit Emit, srcs [2][]arrow.Record, rows *joinRows, drive joinSide) error {
	if len(rows.time) == 0 {
		return nil
	}
	rec, err := l.build(ctx, srcs, rows, drive)
	if err != nil {
		return err
	}
	defer rec.Release()
	return emit(ctx, rec)
}

func (l *joinLayout) build(ctx context.Context, srcs [2][]arrow.Record, rows *joinRows, drive joinSide) (arrow.Record, error) {
	mem := compute.GetAllocator(ctx)
	cols := make([]arrow.Array, 0, l.schema.NumFields())
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	add := func(sc *arrow.Schema, field int, srcs []arrow.Record, refs []joinRef) error {
		a, err := joinGather(ctx, sc.Field(field).Type, srcs, field, refs)
		if err == nil {
			cols = append(cols, a)
		}
		return err
	}
	cols = append(cols, joinFixedArray(mem, l.schema.Field(0).Type, rows.time))
	in := &l.in[drive]
	for _, f := range [...]int{1, 2} { // ROWPARTITION, ROWOFFSET
		if err := add(in.schema, f, srcs[drive], rows.driver); err != nil {
			return nil, err
		}
	}
	for s := range l.in {
		for _, c := range l.in[s].cols {
			if err := add(l.in[s].schema, c, srcs[s], rows.ref[s]); err != nil {
				return nil, err
			}
		}
	}
	if l.deleted {
		b := array.NewBooleanBuilder(mem)
		b.AppendValues(rows.deleted, nil)
		cols = append(cols, b.NewArray())
		b.Release()
	}
	return array.NewRecord(l.schema, cols, int64(len(rows.time))), nil
}

// joinGather returns the values of column col of the referenced rows.
// Fixed-width, boolean and binary columns are copied directly; other types
// (ARRAY, MAP, STRUCT) go through the take kernel.
func joinGather(ctx context.Context, dt arrow.DataType, srcs []arrow.Record, col int, refs []joinRef) (arrow.Array, error) {
	mem := compute.GetAllocator(ctx)
	switch dt.ID() {
	case arrow.BOOL:
		return joinGatherBool(mem, dt, srcs, col, refs), nil
	case arrow.STRING, arrow.BINARY:
		return joinGatherBinary[int32](mem, dt, srcs, col, refs), nil
	case arrow.LARGE_STRING, arrow.LARGE_BINARY:
		return joinGatherBinary[int64](mem, dt, srcs, col, refs), nil
	}
	// The fixed-width key types are the primitive fixed-width layouts.
	if kind, width, ok := joinKeyKindOf(dt); ok && kind != joinKeyBool {
		switch width {
		case 1:
			return joinGatherFixed[uint8](mem, dt, srcs, col, refs), nil
		case 2:
			return joinGatherFixed[uint16](mem, dt, srcs, col, refs), nil
		case 4:
			return joinGatherFixed[uint32](mem, dt, srcs, col, refs), nil
		case 8:
			return joinGatherFixed[uint64](mem, dt, srcs, col, refs), nil
		case 16:
			return joinGatherFixed[decimal128.Num](mem, dt, srcs, col, refs), nil
		case 32:
			return joinGatherFixed[decimal256.Num](mem, dt, srcs, col, refs), nil
		}
	}
	return joinGatherTake(ctx, dt, srcs, col, refs)
}

// joinValidity reads the validity of a source column.
type joinValidity struct {
	bits []byte
	off  int
	mode uint8 // 0 all valid, 1 bitmap, 2 all NULL
}

func joinValidityOf(a arrow.ArrayData) joinValidity {
	switch {
	case a.NullN() == 0:
		return joinValidity{}
	case a.NullN() == a.Len():
		return joinValidity{mode: 2}
	}
	return joinValidity{bits: a.Buffers()[0].Bytes(), off: a.Offset(), mode: 1}
}

func (v *joinValidity) valid(row int32) bool {
	return v.mode == 0 || v.mode == 1 && bitutil.BitIsSet(v.bits, v.off+int(row))
}

// joinGatherSources is the per-source view of column col that a gather needs.
// The validity is nil when no source has NULLs.
func joinGatherSources[T any](srcs []arrow.Record, col int, values func(arrow.ArrayData) T) ([]T, []joinValidity) {
	vals, valid := make([]T, len(srcs)), make([]joinValidity, len(srcs))
	nulls := false
	for i, r := range srcs {
		if r != nil {
			d := r.Column(col).Data()
			valid[i] = joinValidityOf(d)
			nulls = nulls || valid[i].mode != 0
			if valid[i].mode != 2 {
				vals[i] = values(d)
			}
		}
	}
	if !nulls {
		valid = nil
	}
	return vals, valid
}

// joinRefValid reports whether r is a row with a value in its source.
func joinRefValid(valid []joinValidity, r joinRef) bool {
	return r.rec >= 0 && (valid == nil || valid[r.rec].valid(r.row))
}

// joinNulls builds the validity bitmap of a gathered column.
type joinNulls struct {
	buf   *memory.Buffer
	bits  []byte
	nulls int
}

func newJoinNulls(mem memory.Allocator, n int) joinNulls {
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(int(bitutil.BytesForBits(int64(n))))
	bits := buf.Bytes()
	for i := range bits {
		bits[i] = 0xff
	}
	return joinNulls{buf: buf, bits: bits}
}

func (b *joinNulls) setNull(i int) { bitutil.ClearBit(b.bits, i); b.nulls++ }

// array returns the gathered column from its validity and buffers, which it
// releases.
func (b *joinNulls) array(dt arrow.DataType, n int, bufs ...*memory.Buffer) arrow.Array {
	valid := b.buf
	if valid != nil && b.nulls == 0 {
		valid.Release()
		valid = nil
	}
	data := array.NewData(dt, n, append([]*memory.Buffer{valid}, bufs...), nil, b.nulls, 0)
	if valid != nil {
		valid.Release()
	}
	for _, buf := range bufs {
		buf.Release()
	}
	defer data.Release()
	return array.MakeFromData(data)
}

func joinGatherFixed[T arrow.FixedWidthType](mem memory.Allocator, dt arrow.DataType, srcs []arrow.Record, col int, refs []joinRef) arrow.Array {
	vals, valid := joinGatherSources(srcs, col, func(d arrow.ArrayData) []T { return arrow.GetValues[T](d, 1) })
	var zero T
	n := len(refs)
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(n * int(unsafe.Sizeof(zero)))
	out := arrow.GetData[T](buf.Bytes())[:n]
	nb := newJoinNulls(mem, n)
	for i, r := range refs {
		if !joinRefValid(valid, r) {
			nb.setNull(i)
			out[i] = zero
			continue
		}
		out[i] = vals[r.rec][r.row]
	}
	return nb.array(dt, n, buf)
}

func joinGatherBool(mem memory.Allocator, dt arrow.DataType, srcs []arrow.Record, col int, refs []joinRef) arrow.Array {
	vals, valid := joinGatherSources(srcs, col, func(d arrow.ArrayData) joinValidity {
		return joinValidity{bits: d.Buffers()[1].Bytes(), off: d.Offset(), mode: 1}
	})
	n := len(refs)
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(int(bitutil.BytesForBits(int64(n))))
	out := buf.Bytes()
	clear(out)
	nb := newJoinNulls(mem, n)
	for i, r := range refs {
		switch {
		case !joinRefValid(valid, r):
			nb.setNull(i)
		case vals[r.rec].valid(r.row): // the value bit is set
			bitutil.SetBit(out, i)
		}
	}
	return nb.array(dt, n, buf)
}

type joinBinarySource[O int32 | int64] struct {
	offs  []O
	bytes []byte
}

func joinGatherBinary[O int32 | int64](mem memory.Allocator, dt arrow.DataType, srcs []arrow.Record, col int, refs []joinRef) arrow.Array {
	vals, valid := joinGatherSources(srcs, col, func(d arrow.ArrayData) joinBinarySource[O] {
		s := joinBinarySource[O]{offs: arrow.GetOffsets[O](d, 1)}
		if b := d.Buffers()[2]; b != nil {
			s.bytes = b.Bytes()
		}
		return s
	})
	n := len(refs)
	nb := newJoinNulls(mem, n)
	total := 0
	for i, r := range refs {
		if !joinRefValid(valid, r) {
			nb.setNull(i)
			continue
		}
		offs := vals[r.rec].offs
		total += int(offs[r.row+1] - offs[r.row])
	}
	obuf, dbuf := memory.NewResizableBuffer(mem), memory.NewResizableBuffer(mem)
	var zero O
	obuf.Resize((n + 1) * int(unsafe.Sizeof(zero)))
	dbuf.Resize(total)
	offs, data := arrow.GetData[O](obuf.Bytes())[:n+1], dbuf.Bytes()
	end := 0
	offs[0] = 0
	for i, r := range refs {
		if r.rec >= 0 && bitutil.BitIsSet(nb.bits, i) {
			s := &vals[r.rec]
			end += copy(data[end:], s.bytes[s.offs[r.row]:s.offs[r.row+1]])
		}
		offs[i+1] = O(end)
	}
	return nb.array(dt, n, obuf, dbuf)
}

// joinGatherTake gathers with the take kernel: it takes the rows of each
// source (and a run of NULLs), concatenates the pieces and puts the rows in
// order with a last take. The kernel has no MAP support, so a MAP column is
// taken as the list of its entries, which has the same layout.
func joinGatherTake(ctx context.Context, dt arrow.DataType, srcs []arrow.Record, col int, refs []joinRef) (arrow.Array, error) {
	cols := make([]arrow.Array, len(srcs))
	for i, r := range srcs {
		if r != nil {
			cols[i] = r.Column(col)
		}
	}
	mt, isMap := dt.(*arrow.MapType)
	if !isMap {
		return joinTake(ctx, dt, cols, refs)
	}
	lt := arrow.ListOfField(mt.ElemField())
	for i, c := range cols {
		if c != nil {
			cols[i] = joinRetype(c, lt)
			defer cols[i].Release()
		}
	}
	a, err := joinTake(ctx, lt, cols, refs)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	return joinRetype(a, dt), nil
}

// joinRetype returns a viewed as type dt, of the same layout.
func joinRetype(a arrow.Array, dt arrow.DataType) arrow.Array {
	d := a.Data()
	nd := array.NewData(dt, d.Len(), d.Buffers(), d.Children(), d.NullN(), d.Offset())
	defer nd.Release()
	return array.MakeFromData(nd)
}

// joinTake gathers the referenced rows of srcs, columns of type dt.
func joinTake(ctx context.Context, dt arrow.DataType, srcs []arrow.Array, refs []joinRef) (arrow.Array, error) {
	mem := compute.GetAllocator(ctx)
	// Group g holds the NULL rows (g = 0) or the rows of source g-1.
	start := make([]int, len(srcs)+2)
	for _, r := range refs {
		start[r.rec+2]++
	}
	for g := 1; g < len(start); g++ {
		start[g] += start[g-1]
	}
	rows, perm := make([]int32, len(refs)), make([]int32, len(refs))
	next := start[:len(srcs)+1]
	for i, r := range refs {
		g := r.rec + 1
		perm[i], rows[next[g]] = int32(next[g]), r.row
		next[g]++
	}
	// next[g] is now the end of group g, the start of group g+1.
	pieces := make([]arrow.Array, 0, 4)
	defer func() {
		for _, p := range pieces {
			p.Release()
		}
	}()
	from := 0
	for g, end := range next {
		if end == from {
			continue
		}
		if g == 0 {
			pieces = append(pieces, array.MakeArrayOfNull(mem, dt, end))
			from = end
			continue
		}
		idx := joinFixedArray(mem, arrow.PrimitiveTypes.Int32, rows[from:end])
		p, err := compute.TakeArray(ctx, srcs[g-1], idx)
		idx.Release()
		if err != nil {
			return nil, err
		}
		pieces = append(pieces, p)
		from = end
	}
	if len(pieces) == 0 {
		return array.MakeArrayOfNull(mem, dt, 0), nil
	}
	cat, err := array.Concatenate(pieces, mem)
	if err != nil {
		return nil, err
	}
	defer cat.Release()
	idx := joinFixedArray(mem, arrow.PrimitiveTypes.Int32, perm)
	defer idx.Release()
	return compute.TakeArray(ctx, cat, idx)
}

// joinFixedArray returns an array of type dt, without NULLs, holding vals.
func joinFixedArray[T arrow.FixedWidthType](mem memory.Allocator, dt arrow.DataType, vals []T) arrow.Array {
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(len(vals) * int(unsafe.Sizeof(vals[0])))
	copy(arrow.GetData[T](buf.Bytes()), vals)
	nb := joinNulls{}
	return nb.array(dt, len(vals), buf)
}
