package wal

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// MemFS is an in-memory FS for tests. Sync is a no-op and nothing is ever
// lost on its own; wrap it in an ErrorFS to inject faults or crashes. Removed
// files stay readable through handles opened before, as on POSIX.
type MemFS struct {
	mu    sync.Mutex
	files map[string]*memNode
	dirs  map[string]bool
}

// NewMemFS returns an empty MemFS whose root directory exists.
func NewMemFS() *MemFS {
	return &MemFS{files: map[string]*memNode{}, dirs: map[string]bool{"/": true, ".": true}}
}

type memNode struct {
	mu   sync.RWMutex
	data []byte
	mod  time.Time
}

func memPath(name string) string { return filepath.Clean(name) }

func pathErr(op, name string, err error) error { return &os.PathError{Op: op, Path: name, Err: err} }

// OpenFile implements FS.
func (m *MemFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	p := memPath(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dirs[p] {
		if flag&(os.O_WRONLY|os.O_RDWR) != 0 {
			return nil, pathErr("open", name, errors.New("is a directory"))
		}
		return &memFile{name: p, dir: true, fs: m}, nil
	}
	n := m.files[p]
	if n == nil {
		if flag&os.O_CREATE == 0 {
			return nil, pathErr("open", name, fs.ErrNotExist)
		}
		if !m.dirs[filepath.Dir(p)] {
			return nil, pathErr("open", name, fs.ErrNotExist)
		}
		n = &memNode{mod: time.Now()}
		m.files[p] = n
	} else if flag&(os.O_CREATE|os.O_EXCL) == os.O_CREATE|os.O_EXCL {
		return nil, pathErr("open", name, fs.ErrExist)
	}
	writable := flag&(os.O_WRONLY|os.O_RDWR) != 0
	if flag&os.O_TRUNC != 0 && writable {
		n.mu.Lock()
		n.data = n.data[:0]
		n.mu.Unlock()
	}
	return &memFile{
		name: p, node: n, fs: m,
		read:   flag&os.O_WRONLY == 0,
		write:  writable,
		append: flag&os.O_APPEND != 0,
	}, nil
}

// Open implements FS.
func (m *MemFS) Open(name string) (File, error) { return m.OpenFile(name, os.O_RDONLY, 0) }

// Remove implements FS.
func (m *MemFS) Remove(name string) error {
	p := memPath(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.files[p]; ok {
		delete(m.files, p)
		return nil
	}
	if m.dirs[p] {
		prefix := p + string(filepath.Separator)
		for f := range m.files {
			if strings.HasPrefix(f, prefix) {
				return pathErr("remove", name, errors.New("directory not empty"))
			}
		}
		for d := range m.dirs {
			if strings.HasPrefix(d, prefix) {
				return pathErr("remove", name, errors.New("directory not empty"))
			}
		}
		delete(m.dirs, p)
		return nil
	}
	return pathErr("remove", name, fs.ErrNotExist)
}

// ReadDir implements FS.
func (m *MemFS) ReadDir(name string) ([]os.DirEntry, error) {
	p := memPath(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.dirs[p] {
		return nil, pathErr("readdir", name, fs.ErrNotExist)
	}
	var out []os.DirEntry
	for f, n := range m.files {
		if filepath.Dir(f) == p {
			n.mu.RLock()
			info := memInfo{name: filepath.Base(f), size: int64(len(n.data)), mod: n.mod}
			n.mu.RUnlock()
			out = append(out, fs.FileInfoToDirEntry(info))
		}
	}
	for d := range m.dirs {
		if d != p && filepath.Dir(d) == p {
			out = append(out, fs.FileInfoToDirEntry(memInfo{name: filepath.Base(d), dir: true}))
		}
	}
	slices.SortFunc(out, func(a, b os.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

// MkdirAll implements FS.
func (m *MemFS) MkdirAll(name string, perm os.FileMode) error {
	p := memPath(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	for d := p; ; d = filepath.Dir(d) {
		if _, ok := m.files[d]; ok {
			return pathErr("mkdir", d, errors.New("not a directory"))
		}
		m.dirs[d] = true
		if parent := filepath.Dir(d); parent == d {
			break
		}
	}
	return nil
}

type memFile struct {
	fs     *MemFS
	name   string
	node   *memNode
	dir    bool
	read   bool
	write  bool
	append bool

	mu     sync.Mutex // guards off and closed
	off    int64
	closed bool
}

var errBadFD = errors.New("bad file descriptor")

func (f *memFile) check(op string, needWrite bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return pathErr(op, f.name, os.ErrClosed)
	}
	if f.dir && op != "sync" && op != "stat" && op != "close" {
		return pathErr(op, f.name, errors.New("is a directory"))
	}
	if needWrite && !f.write {
		return pathErr(op, f.name, errBadFD)
	}
	return nil
}

func (f *memFile) Write(b []byte) (int, error) {
	if err := f.check("write", true); err != nil {
		return 0, err
	}
	n := f.node
	n.mu.Lock()
	defer n.mu.Unlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	off := f.off
	if f.append {
		off = int64(len(n.data))
	}
	if end := off + int64(len(b)); end > int64(len(n.data)) {
		n.data = slices.Grow(n.data, int(end)-len(n.data))[:end]
	}
	copy(n.data[off:], b)
	f.off = off + int64(len(b))
	n.mod = time.Now()
	return len(b), nil
}

func (f *memFile) ReadAt(b []byte, off int64) (int, error) {
	if err := f.check("read", false); err != nil {
		return 0, err
	}
	if !f.read {
		return 0, pathErr("read", f.name, errBadFD)
	}
	if off < 0 {
		return 0, pathErr("read", f.name, errors.New("negative offset"))
	}
	f.node.mu.RLock()
	defer f.node.mu.RUnlock()
	if off >= int64(len(f.node.data)) {
		return 0, io.EOF
	}
	n := copy(b, f.node.data[off:])
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) Sync() error { return f.check("sync", false) }

func (f *memFile) Truncate(size int64) error {
	if err := f.check("truncate", true); err != nil {
		return err
	}
	if size < 0 {
		return pathErr("truncate", f.name, errors.New("negative size"))
	}
	n := f.node
	n.mu.Lock()
	defer n.mu.Unlock()
	if size <= int64(len(n.data)) {
		clear(n.data[size:])
		n.data = n.data[:size]
	} else {
		n.data = append(n.data, make([]byte, int(size)-len(n.data))...)
	}
	n.mod = time.Now()
	return nil
}

func (f *memFile) Stat() (os.FileInfo, error) {
	if err := f.check("stat", false); err != nil {
		return nil, err
	}
	if f.dir {
		return memInfo{name: filepath.Base(f.name), dir: true}, nil
	}
	f.node.mu.RLock()
	defer f.node.mu.RUnlock()
	return memInfo{name: filepath.Base(f.name), size: int64(len(f.node.data)), mod: f.node.mod}, nil
}

func (f *memFile) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return pathErr("close", f.name, os.ErrClosed)
	}
	f.closed = true
	return nil
}

type memInfo struct {
	name string
	size int64
	dir  bool
	mod  time.Time
}

func (i memInfo) Name() string { return i.name }
func (i memInfo) Size() int64  { return i.size }
func (i memInfo) Mode() os.FileMode {
	if i.dir {
		return os.ModeDir | 0o755
	}
	return 0o644
}
func (i memInfo) ModTime() time.Time { return i.mod }
func (i memInfo) IsDir() bool        { return i.dir }
func (i memInfo) Sys() any           { return nil }
