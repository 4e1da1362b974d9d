package wal

import (
	"io"
	"os"
	"sync"
)

// NewVolatileFS returns an FS whose files keep every write in memory until
// the file's Sync, as a page cache that a power loss empties: a process
// killed with SIGKILL loses exactly the writes it had not synced, which a
// plain kill does not (the kernel keeps them). It is the seam that lets
// crash tests spanning processes lose un-fsynced WAL writes
// (strata broker --wal-volatile-writes); production never uses it.
//
// Reads through the handle that wrote see the pending bytes. Closing a file
// discards what was not synced, and Truncate below the synced size drops the
// pending bytes.
func NewVolatileFS(base FS) FS { return volatileFS{base} }

type volatileFS struct{ FS }

func (v volatileFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := v.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	if flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		return f, nil
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &volatileFile{f: f, synced: st.Size()}, nil
}

// volatileFile buffers writes to an append-only file until Sync.
type volatileFile struct {
	mu      sync.Mutex
	f       File
	synced  int64  // bytes in f
	pending []byte // written since the last Sync
}

func (v *volatileFile) Write(b []byte) (int, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.pending = append(v.pending, b...)
	return len(b), nil
}

func (v *volatileFile) ReadAt(b []byte, off int64) (int, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := 0
	if off < v.synced {
		var err error
		n, err = v.f.ReadAt(b[:min(int64(len(b)), v.synced-off)], off)
		if err != nil && err != io.EOF {
			return n, err
		}
		if int64(n) < min(int64(len(b)), v.synced-off) {
			return n, io.EOF
		}
	}
	if p := off + int64(n) - v.synced; n < len(b) && p < int64(len(v.pending)) {
		n += copy(b[n:], v.pending[p:])
	}
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

func (v *volatileFile) Sync() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.pending) > 0 {
		n, err := v.f.Write(v.pending)
		v.synced += int64(n)
		v.pending = v.pending[:copy(v.pending, v.pending[n:])]
		if err != nil {
			return err
		}
	}
	return v.f.Sync()
}

func (v *volatileFile) Truncate(size int64) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if size >= v.synced && size-v.synced <= int64(len(v.pending)) {
		v.pending = v.pending[:size-v.synced]
		return nil
	}
	v.pending = v.pending[:0]
	if err := v.f.Truncate(size); err != nil {
		return err
	}
	v.synced = size
	return nil
}

func (v *volatileFile) Stat() (os.FileInfo, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	fi, err := v.f.Stat()
	if err != nil {
		return nil, err
	}
	return sizedInfo{fi, v.synced + int64(len(v.pending))}, nil
}

func (v *volatileFile) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.pending = nil
	return v.f.Close()
}

// sizedInfo is a FileInfo reporting another size.
type sizedInfo struct {
	os.FileInfo
	size int64
}

func (s sizedInfo) Size() int64 { return s.size }
