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

// lruEntry is one block in a tier's index.
type lruEntry struct {
	name string // object name, for invalidation
	key  string // block key (name, version, block index)
	size int64
	// memory tier only
	data      []byte
	readAhead bool // fetched by read-ahead and not read since
}

// lru is the bookkeeping both tiers share: blocks by key, most recent
// first, bounded by bytes, and indexed by object name for invalidation.
// It is not safe for concurrent use; each tier guards it with its mutex.
type lru struct {
	max    int64
	size   int64
	ll     *list.List // front = most recent; values *lruEntry
	items  map[string]*list.Element
	byName map[string]map[*list.Element]struct{}
}

func newLRU(max int64) lru {
	return lru{max: max, ll: list.New(), items: map[string]*list.Element{}, byName: map[string]map[*list.Element]struct{}{}}
}

// get returns the entry for key, marking it most recently used.
func (l *lru) get(key string) (*lruEntry, bool) {
	e, ok := l.items[key]
	if !ok {
		return nil, false
	}
	l.ll.MoveToFront(e)
	return e.Value.(*lruEntry), true
}

func (l *lru) contains(key string) bool {
	_, ok := l.items[key]
	return ok
}

// add inserts ent (whose key must be absent) and evicts least recently
// used entries until the total fits, returning them.
func (l *lru) add(ent *lruEntry) (evicted []*lruEntry) {
	e := l.ll.PushFront(ent)
	l.items[ent.key] = e
	if l.byName[ent.name] == nil {
		l.byName[ent.name] = map[*list.Element]struct{}{}
	}
	l.byName[ent.name][e] = struct{}{}
	l.size += ent.size
	for l.size > l.max {
		evicted = append(evicted, l.remove(l.ll.Back()))
	}
	return evicted
}

func (l *lru) remove(e *list.Element) *lruEntry {
	ent := e.Value.(*lruEntry)
	l.ll.Remove(e)
	delete(l.items, ent.key)
	if set := l.byName[ent.name]; set != nil {
		delete(set, e)
		if len(set) == 0 {
			delete(l.byName, ent.name)
		}
	}
	l.size -= ent.size
	return ent
}

// removeKey drops key's entry, if any.
func (l *lru) removeKey(key string) (*lruEntry, bool) {
	e, ok := l.items[key]
	if !ok {
		return nil, false
	}
	return l.remove(e), true
}

// dropName removes every block of name (of any generation).
func (l *lru) dropName(name string) (removed []*lruEntry) {
	for e := range l.byName[name] {
		removed = append(removed, l.remove(e))
	}
	return removed
}

// memTier is an LRU of blocks in memory, bounded by bytes.
type memTier struct {
	mu      sync.Mutex
	lru     lru
	onEvict func(n int)
	onSize  func(size int64)
}

func newMemTier(max int64, onEvict func(int), onSize func(int64)) *memTier {
	return &memTier{lru: newLRU(max), onEvict: onEvict, onSize: onSize}
}

// get returns the block and whether it was an unused read-ahead block
// (which it no longer is).
func (m *memTier) get(key string) (data []byte, wasReadAhead, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ent, ok := m.lru.get(key)
	if !ok {
		return nil, false, false
	}
	wasReadAhead, ent.readAhead = ent.readAhead, false
	return ent.data, wasReadAhead, true
}

func (m *memTier) contains(key string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lru.contains(key)
}

func (m *memTier) dropName(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lru.dropName(name)
	m.onSize(m.lru.size)
}

func (m *memTier) put(name, key string, data []byte, readAhead bool) {
	if int64(len(data)) > m.lru.max {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.lru.get(key); ok {
		return
	}
	if evicted := m.lru.add(&lruEntry{name: name, key: key, size: int64(len(data)), data: data, readAhead: readAhead}); len(evicted) > 0 {
		m.onEvict(len(evicted))
	}
	m.onSize(m.lru.size)
}

func (m *memTier) bytes() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lru.size
}

// diskTier keeps blocks as files under dir, each a CRC-32 of the block
// followed by the block, bounded by bytes with LRU eviction. The index is
// in memory only: the directory is wiped when the cache starts.
type diskTier struct {
	dir     string
	mu      sync.Mutex
	lru     lru
	onEvict func(n int)
	onSize  func(size int64)
}

func newDiskTier(dir string, max int64, onEvict func(int), onSize func(int64)) (*diskTier, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return &diskTier{dir: dir, lru: newLRU(max), onEvict: onEvict, onSize: onSize}, nil
}

func (d *diskTier) path(key string) string {
	sum := sha256.Sum256([]byte(key))
	h := hex.EncodeToString(sum[:])
	return filepath.Join(d.dir, h[:2], h)
}

// removeFiles deletes the files of removed entries.
func (d *diskTier) removeFiles(removed []*lruEntry) {
	for _, ent := range removed {
		os.Remove(d.path(ent.key))
	}
}

// get reads a block; a missing or corrupt file is a miss and is forgotten.
func (d *diskTier) get(key string) ([]byte, bool) {
	d.mu.Lock()
	_, ok := d.lru.get(key)
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
	d.mu.Lock()
	defer d.mu.Unlock()
	if ent, ok := d.lru.removeKey(key); ok {
		d.removeFiles([]*lruEntry{ent})
		d.onSize(d.lru.size)
	}
	return nil, false
}

func (d *diskTier) dropName(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.removeFiles(d.lru.dropName(name))
	d.onSize(d.lru.size)
}

// put writes a block through a temporary file and a rename. Failures are
// ignored: the disk tier is only an optimisation.
func (d *diskTier) put(name, key string, data []byte) {
	size := int64(len(data)) + 4
	if size > d.lru.max {
		return
	}
	d.mu.Lock()
	ok := d.lru.contains(key)
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
	if d.lru.contains(key) {
		os.Remove(f.Name())
		return
	}
	if err := os.Rename(f.Name(), p); err != nil {
		os.Remove(f.Name())
		return
	}
	if evicted := d.lru.add(&lruEntry{name: name, key: key, size: size}); len(evicted) > 0 {
		d.removeFiles(evicted)
		d.onEvict(len(evicted))
	}
	d.onSize(d.lru.size)
}

func (d *diskTier) bytes() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lru.size
}
