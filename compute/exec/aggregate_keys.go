package exec

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"slices"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// aggKeyCodec turns the GROUP BY columns of a batch into one byte string
// per row, column at a time: each fixed-width column writes its values at
// every row's cursor, each VARCHAR or BYTES column a 4-byte length and the
// bytes. Rows with a NULL key are dropped before they reach the hash
// table, so the encoding has no NULL marker. Equal keys have equal bytes;
// DOUBLE NaNs are made canonical (Java's Double.equals, which ksqlDB's keys
// use) and -0.0 differs from 0.0.
type aggKeyCodec struct {
	cols  []aggKeyCol
	fixed int // bytes of the fixed-width columns
	seed  maphash.Seed

	// The encoded batch: row i is buf[offs[i]:offs[i+1]] with hash hashes[i].
	buf    []byte
	offs   []int
	hashes []uint64
	cur    []int // scratch: write cursors
}

// aggKeyCol encodes and decodes one key column.
type aggKeyCol interface {
	// width is the fixed byte width, 0 for variable-width columns.
	width() int
	bind(arr arrow.Array)
	unbind()
	// dropNulls marks the rows not dropped yet whose value is NULL and
	// returns how many there are.
	dropNulls(drop []bool) int64
	// addWidths adds the bytes of each row of a variable-width column.
	addWidths(w []int)
	// encode writes row i at cur[i] and advances cur[i].
	encode(buf []byte, cur []int)
	// decode reads one value from each key at cur[i] and advances cur[i].
	decode(mem memory.Allocator, keys [][]byte, cur []int) arrow.Array
}

func newAggKeyCodec(types []arrow.DataType) (*aggKeyCodec, bool) {
	c := &aggKeyCodec{seed: maphash.MakeSeed()}
	for _, dt := range types {
		var col aggKeyCol
		switch aggPhysOf(dt) {
		case aggPhysBool:
			col = &aggFixedKey[bool]{dt: dt}
		case aggPhysInt32:
			col = &aggFixedKey[int32]{dt: dt}
		case aggPhysInt64:
			col = &aggFixedKey[int64]{dt: dt}
		case aggPhysFloat64:
			col = &aggFixedKey[float64]{dt: dt}
		case aggPhysDecimal:
			col = &aggFixedKey[decimal128.Num]{dt: dt}
		case aggPhysString:
			col = &aggVarKey{dt: dt}
		default:
			return nil, false
		}
		c.cols = append(c.cols, col)
		c.fixed += col.width()
	}
	return c, true
}

// encode encodes and hashes the rows of cols not dropped already, and
// drops (and counts) the rows with a NULL key.
func (c *aggKeyCodec) encode(cols []arrow.Array, drop []bool) (nulls int64) {
	n := len(drop)
	for j, col := range c.cols {
		col.bind(cols[j])
	}
	defer func() {
		for _, col := range c.cols {
			col.unbind()
		}
	}()
	for _, col := range c.cols {
		nulls += col.dropNulls(drop)
	}
	w := slices.Grow(c.offs[:0], n+1)[:n+1]
	for i := range n {
		w[i] = c.fixed
	}
	for _, col := range c.cols {
		if col.width() == 0 {
			col.addWidths(w[:n])
		}
	}
	// Turn the widths into offsets, then use a copy as cursors.
	total := 0
	for i := range n {
		w[i], total = total, total+w[i]
	}
	w[n] = total
	c.offs = w
	c.buf = slices.Grow(c.buf[:0], total)[:total]
	c.cur = append(c.cur[:0], w[:n]...)
	for _, col := range c.cols {
		col.encode(c.buf, c.cur)
	}
	c.hashes = slices.Grow(c.hashes[:0], n)[:n]
	for i := range n {
		if !drop[i] {
			c.hashes[i] = maphash.Bytes(c.seed, c.buf[w[i]:w[i+1]])
		}
	}
	return nulls
}

// key returns the encoded key of row i of the last encoded batch.
func (c *aggKeyCodec) key(i int) []byte { return c.buf[c.offs[i]:c.offs[i+1]] }

func (c *aggKeyCodec) hash(key []byte) uint64 { return maphash.Bytes(c.seed, key) }

// decode rebuilds the key columns of encoded keys.
func (c *aggKeyCodec) decode(mem memory.Allocator, keys [][]byte) []arrow.Array {
	cur := make([]int, len(keys))
	out := make([]arrow.Array, len(c.cols))
	for j, col := range c.cols {
		out[j] = col.decode(mem, keys, cur)
	}
	return out
}

func aggDropNulls[T aggScalar](v *aggVec[T], drop []bool) (n int64) {
	if v.nulls == nil {
		return 0
	}
	for i := range drop {
		if !drop[i] && !v.valid(i) {
			drop[i] = true
			n++
		}
	}
	return n
}

// aggFixedKey is a fixed-width key column stored as its in-memory bytes.
type aggFixedKey[T bool | int32 | int64 | float64 | decimal128.Num] struct {
	dt arrow.DataType
	in aggVec[T]
}

func (k *aggFixedKey[T]) width() int                  { return aggSizeof[T]() }
func (k *aggFixedKey[T]) bind(arr arrow.Array)        { k.in.bind(arr) }
func (k *aggFixedKey[T]) unbind()                     { k.in.unbind() }
func (k *aggFixedKey[T]) dropNulls(drop []bool) int64 { return aggDropNulls(&k.in, drop) }
func (k *aggFixedKey[T]) addWidths([]int)             {}

// aggCanonicalNaN is the bit pattern of every NaN key.
var aggCanonicalNaN = [8]byte{0, 0, 0, 0, 0, 0, 0xf8, 0x7f}

func (k *aggFixedKey[T]) encode(buf []byte, cur []int) {
	w := aggSizeof[T]()
	for i := range cur {
		v := &k.in.vals[i]
		if *v != *v { // NaN
			copy(buf[cur[i]:], aggCanonicalNaN[:])
		} else {
			copy(buf[cur[i]:cur[i]+w], unsafe.Slice((*byte)(unsafe.Pointer(v)), w))
		}
		cur[i] += w
	}
}

func (k *aggFixedKey[T]) decode(mem memory.Allocator, keys [][]byte, cur []int) arrow.Array {
	w := aggSizeof[T]()
	vals := make([]T, len(keys))
	for i, key := range keys {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&vals[i])), w), key[cur[i]:])
		cur[i] += w
	}
	return aggBuild(mem, k.dt, vals, nil)
}

// aggVarKey is a VARCHAR or BYTES key column: a 4-byte little-endian
// length, then the bytes.
type aggVarKey struct {
	dt arrow.DataType
	in aggVec[string]
}

func (k *aggVarKey) width() int                  { return 0 }
func (k *aggVarKey) bind(arr arrow.Array)        { k.in.bind(arr) }
func (k *aggVarKey) unbind()                     { k.in.unbind() }
func (k *aggVarKey) dropNulls(drop []bool) int64 { return aggDropNulls(&k.in, drop) }

func (k *aggVarKey) addWidths(w []int) {
	for i, s := range k.in.vals {
		w[i] += 4 + len(s)
	}
}

func (k *aggVarKey) encode(buf []byte, cur []int) {
	for i, s := range k.in.vals {
		c := cur[i]
		binary.LittleEndian.PutUint32(buf[c:], uint32(len(s)))
		cur[i] = c + 4 + copy(buf[c+4:], s)
	}
}

func (k *aggVarKey) decode(mem memory.Allocator, keys [][]byte, cur []int) arrow.Array {
	vals := make([]string, len(keys))
	for i, key := range keys {
		c := cur[i]
		n := int(binary.LittleEndian.Uint32(key[c:]))
		vals[i] = aggBytesString(key[c+4 : c+4+n])
		cur[i] = c + 4 + n
	}
	return aggBuild(mem, k.dt, vals, nil)
}

// aggKeyTable maps encoded keys to dense slots 0, 1, … in insertion order:
// open addressing with linear probing over a power-of-two index, the keys
// in one arena.
type aggKeyTable struct {
	index  []int32 // slot+1; 0 is empty
	hashes []uint64
	ends   []int // key s is arena[ends[s-1]:ends[s]]
	arena  []byte
}

func (t *aggKeyTable) len() int { return len(t.hashes) }

func (t *aggKeyTable) key(s int32) []byte {
	start := 0
	if s > 0 {
		start = t.ends[s-1]
	}
	return t.arena[start:t.ends[s]]
}

// bytes estimates the memory of the table.
func (t *aggKeyTable) bytes() int64 {
	return int64(4*cap(t.index) + 8*cap(t.hashes) + 8*cap(t.ends) + cap(t.arena))
}

// findOrInsert returns the slot of key, whose hash is h, inserting it if
// it is new.
func (t *aggKeyTable) findOrInsert(h uint64, key []byte) (slot int32, inserted bool) {
	if 2*(len(t.hashes)+1) > len(t.index) {
		t.rehash()
	}
	mask := uint64(len(t.index) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := t.index[i] - 1
		if s < 0 {
			slot = int32(len(t.hashes))
			t.index[i] = slot + 1
			t.hashes = append(t.hashes, h)
			t.arena = append(t.arena, key...)
			t.ends = append(t.ends, len(t.arena))
			return slot, true
		}
		if t.hashes[s] == h && bytes.Equal(t.key(s), key) {
			return s, false
		}
	}
}

// find returns the slot of key, whose hash is h.
func (t *aggKeyTable) find(h uint64, key []byte) (slot int32, ok bool) {
	if len(t.index) == 0 {
		return -1, false
	}
	mask := uint64(len(t.index) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := t.index[i] - 1
		if s < 0 {
			return -1, false
		}
		if t.hashes[s] == h && bytes.Equal(t.key(s), key) {
			return s, true
		}
	}
}

func (t *aggKeyTable) rehash() {
	size := max(16, 2*len(t.index))
	t.index = make([]int32, size)
	mask := uint64(size - 1)
	for s, h := range t.hashes {
		i := h & mask
		for t.index[i] != 0 {
			i = (i + 1) & mask
		}
		t.index[i] = int32(s) + 1
	}
}
