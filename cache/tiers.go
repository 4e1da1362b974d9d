package cache

import (
	"container/list"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"
)

// memEntry is one block in the memory tier.
type memEntry struct {
	name      string
	key       string
	data      []byte
	readAhead bool // fetched by read-ahead and not read since
}

// memTier is an LRU of blocks bounded by bytes.
type memTier struct {
	mu      sync.Mutex
	max     int64
	size    int64
	ll      *list.List // front = most recent; values *memEntry
	items   map[string]*list.Element
	byName  map[string]map[*list.Element]struct{}
	onEvict func(n int)
	onSize  func(size int64)
}

func newMemTier(max int64, onEvict func(int), onSize func(int64)) *memTier {
	return &memTier{max: max, ll: list.New(), items: map[string]*list.Element{}, byName: map[string]map[*list.Element]struct{}{}, onEvict: onEvict, onSize: onSize}
}

// get returns the block and whether it was an unused read-ahead block
// (which it no longer is).
func (m *memTier) get(key string) (data []byte, wasReadAhead, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.items[key]
	if !ok {
		return nil, false, false
	}
	m.ll.MoveToFront(e)
	ent := e.Value.(*memEntry)
	wasReadAhead, ent.readAhead = ent.readAhead, false
	return ent.data, wasReadAhead, true
}

func (m *memTier) contains(key string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.items[key]
	return ok
}

// removeLocked drops e; m.mu must be held.
func (m *memTier) removeLocked(e *list.Element) {
	ent := e.Value.(*memEntry)
	m.ll.Remove(e)
	delete(m.items, ent.key)
	if set := m.byName[ent.name]; set != nil {
		delete(set, e)
		if len(set) == 0 {
			delete(m.byName, ent.name)
		}
	}
	m.size -= int64(len(ent.data))
}

// dropName removes every block of name (of any generation).
func (m *memTier) dropName(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for e := range m.byName[name] {
		m.removeLocked(e)
	}
	m.onSize(m.size)
}

func (m *memTier) put(name, key string, data []byte, readAhead bool) {
	if int64(len(data)) > m.max {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.items[key]; ok {
		m.ll.MoveToFront(e)
		return
	}
	e := m.ll.PushFront(&memEntry{name: name, key: key, data: data, readAhead: readAhead})
	m.items[key] = e
	if m.byName[name] == nil {
		m.byName[name] = map[*list.Element]struct{}{}
	}
	m.byName[name][e] = struct{}{}
	m.size += int64(len(data))
	evicted := 0
	for m.size > m.max {
		m.removeLocked(m.ll.Back())
		evicted++
	}
	if evicted > 0 {
		m.onEvict(evicted)
	}
	m.onSize(m.size)
}

func (m *memTier) bytes() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.size
}

// diskTier keeps blocks as files under dir, each a CRC-32 of the block
// followed by the block, bounded by bytes with LRU eviction. The index is
// in memory only: the directory is wiped when the cache starts.
type diskTier struct {
	dir     string
	mu      sync.Mutex
	max     int64
	size    int64
	ll      *list.List // values *diskEntry
	items   map[string]*list.Element
	byName  map[string]map[*list.Element]struct{}
	onEvict func(n int)
	onSize  func(size int64)
}

type diskEntry struct {
	name string
	key  string
	size int64
}

func newDiskTier(dir string, max int64, onEvict func(int), onSize func(int64)) (*diskTier, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return &diskTier{dir: dir, max: max, ll: list.New(), items: map[string]*list.Element{}, byName: map[string]map[*list.Element]struct{}{}, onEvict: onEvict, onSize: onSize}, nil
}

func (d *diskTier) path(key string) string {
	sum := sha256.Sum256([]byte(key))
	h := hex.EncodeToString(sum[:])
	return filepath.Join(d.dir, h[:2], h)
}

// get reads a block; a missing or corrupt file is a miss and is forgotten.
func (d *diskTier) get(key string) ([]byte, bool) {
	d.mu.Lock()
	e, ok := d.items[key]
	if ok {
		d.ll.MoveToFront(e)
	}
	d.mu.Unlock()
	if !ok {
		return nil, false
	}
	raw, err := os.ReadFile(d.path(key))
	if err == nil && len(raw) >= 4 {
		data := raw[4:]
		if binary.BigEndian.Uint32(raw) == crc32.ChecksumIEEE(data) {
			return data, true
		}
	}
	d.remove(key)
	return nil, false
}

func (d *diskTier) remove(key string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.items[key]; ok {
		d.removeLocked(e)
		d.onSize(d.size)
	}
}

// removeLocked drops e and its file; d.mu must be held.
func (d *diskTier) removeLocked(e *list.Element) {
	ent := e.Value.(*diskEntry)
	d.ll.Remove(e)
	delete(d.items, ent.key)
	if set := d.byName[ent.name]; set != nil {
		delete(set, e)
		if len(set) == 0 {
			delete(d.byName, ent.name)
		}
	}
	d.size -= ent.size
	os.Remove(d.path(ent.key))
}

// dropName removes every block of name (of any generation).
func (d *diskTier) dropName(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for e := range d.byName[name] {
		d.removeLocked(e)
	}
	d.onSize(d.size)
}

// put writes a block through a temporary file and a rename. Failures are
// ignored: the disk tier is only an optimisation.
func (d *diskTier) put(name, key string, data []byte) {
	size := int64(len(data)) + 4
	if size > d.max {
		return
	}
	d.mu.Lock()
	_, ok := d.items[key]
	d.mu.Unlock()
	if ok {
		return
	}
	p := d.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return
	}
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], crc32.ChecksumIEEE(data))
	_, err1 := f.Write(hdr[:])
	_, err2 := f.Write(data)
	err3 := f.Close()
	if err1 != nil || err2 != nil || err3 != nil {
		os.Remove(f.Name())
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.items[key]; ok {
		os.Remove(f.Name())
		return
	}
	if err := os.Rename(f.Name(), p); err != nil {
		os.Remove(f.Name())
		return
	}
	e := d.ll.PushFront(&diskEntry{name: name, key: key, size: size})
	d.items[key] = e
	if d.byName[name] == nil {
		d.byName[name] = map[*list.Element]struct{}{}
	}
	d.byName[name][e] = struct{}{}
	d.size += size
	evicted := 0
	for d.size > d.max {
		d.removeLocked(d.ll.Back())
		evicted++
	}
	if evicted > 0 {
		d.onEvict(evicted)
	}
	d.onSize(d.size)
}

func (d *diskTier) bytes() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.size
}
