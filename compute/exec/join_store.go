package exec

import (
	"context"
	"encoding/binary"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// joinCompactMin is the number of dead rows that retained batches must hold
// before a row store compacts them.
const joinCompactMin = 1 << 16

// joinRowStore buffers the rows of one join input as references into the
// input batches, which it retains. Rows have stable ids, reused after
// removal. A batch is released when its last buffered row is removed, and
// when the retained batches hold more dead rows than live ones (and at
// least compactMin dead rows), the live rows are copied into one new batch.
type joinRowStore struct {
	schema     *arrow.Schema  // the input's: the columns kept by compaction
	recs       []arrow.Record // by batch id; nil when free
	live       []int32        // live rows per batch
	freeRecs   []int32
	refs       []joinRef // by row id; rec < 0 when free
	freeIDs    []int32
	nLive      int
	nRetained  int // rows of the retained batches
	compactMin int
}

func newJoinRowStore(sc *arrow.Schema) joinRowStore {
	return joinRowStore{schema: sc, compactMin: joinCompactMin}
}

// addBatch retains rec and returns its batch id, pinned: the batch stays
// until unpin, even if rows are inserted and removed in between.
func (s *joinRowStore) addBatch(rec arrow.Record) int32 {
	rec.Retain()
	s.nRetained += int(rec.NumRows())
	if n := len(s.freeRecs); n > 0 {
		b := s.freeRecs[n-1]
		s.freeRecs = s.freeRecs[:n-1]
		s.recs[b], s.live[b] = rec, 1
		return b
	}
	s.recs, s.live = append(s.recs, rec), append(s.live, 1)
	return int32(len(s.recs) - 1)
}

// unpin drops a reference to batch b, a row or the pin of addBatch, and
// releases the batch when none is left.
func (s *joinRowStore) unpin(b int32) {
	if s.live[b]--; s.live[b] == 0 {
		s.nRetained -= int(s.recs[b].NumRows())
		s.recs[b].Release()
		s.recs[b] = nil
		s.freeRecs = append(s.freeRecs, b)
	}
}

// insert buffers row row of batch b and returns its id.
func (s *joinRowStore) insert(b int32, row int) int32 {
	s.live[b]++
	s.nLive++
	ref := joinRef{rec: b, row: int32(row)}
	if n := len(s.freeIDs); n > 0 {
		id := s.freeIDs[n-1]
		s.freeIDs = s.freeIDs[:n-1]
		s.refs[id] = ref
		return id
	}
	s.refs = append(s.refs, ref)
	return int32(len(s.refs) - 1)
}

// remove drops row id, releasing its batch if it was the last row.
func (s *joinRowStore) remove(id int32) {
	b := s.refs[id].rec
	s.refs[id] = joinNullRef
	s.freeIDs = append(s.freeIDs, id)
	s.nLive--
	s.unpin(b)
}

// gather returns the rows ids as one batch of the store's schema.
func (s *joinRowStore) gather(ctx context.Context, ids []int32) (arrow.Record, error) {
	refs := make([]joinRef, len(ids))
	for i, id := range ids {
		refs[i] = s.refs[id]
	}
	cols := make([]arrow.Array, 0, s.schema.NumFields())
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	for f := range s.schema.NumFields() {
		a, err := joinGather(ctx, s.schema.Field(f).Type, s.recs, f, refs)
		if err != nil {
			return nil, err
		}
		cols = append(cols, a)
	}
	return array.NewRecord(s.schema, cols, int64(len(ids))), nil
}

// liveIDs returns the ids of the buffered rows, in id order.
func (s *joinRowStore) liveIDs() []int32 {
	ids := make([]int32, 0, s.nLive)
	for id, r := range s.refs {
		if r.rec >= 0 {
			ids = append(ids, int32(id))
		}
	}
	return ids
}

// compact copies the live rows into one batch when the retained batches
// hold mostly dead rows. Row ids do not change.
func (s *joinRowStore) compact(ctx context.Context) error {
	dead := s.nRetained - s.nLive
	if dead < s.compactMin || dead <= s.nLive {
		return nil
	}
	ids := s.liveIDs()
	rec, err := s.gather(ctx, ids)
	if err != nil {
		return err
	}
	for _, r := range s.recs {
		if r != nil {
			r.Release()
		}
	}
	s.recs, s.live, s.freeRecs = append(s.recs[:0], rec), append(s.live[:0], int32(len(ids))), s.freeRecs[:0]
	s.nRetained = len(ids)
	for row, id := range ids {
		s.refs[id] = joinRef{rec: 0, row: int32(row)}
	}
	return nil
}

// release releases all batches and forgets all rows.
func (s *joinRowStore) release() {
	for _, r := range s.recs {
		if r != nil {
			r.Release()
		}
	}
	*s = joinRowStore{schema: s.schema, compactMin: s.compactMin, recs: s.recs[:0], live: s.live[:0]}
}

// joinKeyIndex maps encoded keys to slots, small integers that index the
// per-key state of its user. Keys of at most 8 bytes, all of one length
// (fixed-width key columns), are looked up as integers; others as strings.
// Looking a key up does not allocate; adding one copies it once.
type joinKeyIndex struct {
	narrow bool
	ints   map[uint64]int32
	strs   map[string]int32
	ikeys  []uint64 // by slot, narrow keys
	skeys  []string // by slot, other keys
	free   []int32
}

func newJoinKeyIndex(enc *joinKeyEncoder) joinKeyIndex {
	width := 0
	for _, c := range enc.cols {
		if c.width == 0 {
			return joinKeyIndex{}
		}
		width += c.width
	}
	return joinKeyIndex{narrow: width <= 8}
}

// reset forgets all keys.
func (x *joinKeyIndex) reset() { *x = joinKeyIndex{narrow: x.narrow} }

// joinKeyUint reads a key of at most 8 bytes.
func joinKeyUint(key []byte) uint64 {
	var b [8]byte
	copy(b[:], key)
	return binary.LittleEndian.Uint64(b[:])
}

func (x *joinKeyIndex) find(key []byte) (int32, bool) {
	if x.narrow {
		slot, ok := x.ints[joinKeyUint(key)]
		return slot, ok
	}
	slot, ok := x.strs[string(key)]
	return slot, ok
}

// add returns a new slot for key, which must be absent.
func (x *joinKeyIndex) add(key []byte) int32 {
	var slot int32
	if n := len(x.free); n > 0 {
		slot = x.free[n-1]
		x.free = x.free[:n-1]
	} else {
		slot = int32(max(len(x.ikeys), len(x.skeys)))
	}
	if x.narrow {
		k := joinKeyUint(key)
		if x.ints == nil {
			x.ints = make(map[uint64]int32)
		}
		x.ikeys = joinSetAt(x.ikeys, slot, k)
		x.ints[k] = slot
		return slot
	}
	k := string(key)
	if x.strs == nil {
		x.strs = make(map[string]int32)
	}
	x.skeys = joinSetAt(x.skeys, slot, k)
	x.strs[k] = slot
	return slot
}

func (x *joinKeyIndex) remove(slot int32) {
	if x.narrow {
		delete(x.ints, x.ikeys[slot])
	} else {
		delete(x.strs, x.skeys[slot])
		x.skeys[slot] = ""
	}
	x.free = append(x.free, slot)
}

// joinSetAt sets s[i] to v, appending if i is len(s).
func joinSetAt[T any](s []T, i int32, v T) []T {
	if int(i) == len(s) {
		return append(s, v)
	}
	s[i] = v
	return s
}
