package wal

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
)

// Op names a file system operation for fault injection in ErrorFS.
type Op int

// Operations ErrorFS can fail.
const (
	OpOpen     Op = iota // FS.OpenFile and FS.Open
	OpRemove             // FS.Remove
	OpReadDir            // FS.ReadDir
	OpMkdirAll           // FS.MkdirAll
	OpWrite              // File.Write
	OpRead               // File.ReadAt
	OpSync               // File.Sync on a regular file
	OpSyncDir            // File.Sync on a directory
	OpTruncate           // File.Truncate
	OpStat               // File.Stat
)

var opNames = [...]string{"open", "remove", "readdir", "mkdirall", "write", "read", "sync", "syncdir", "truncate", "stat"}

func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

// Injector decides, before each operation, whether it fails: a non-nil
// error is returned to the caller and the operation is not performed. It may
// also sleep to make an operation slow. It is called concurrently.
type Injector func(op Op, path string) error

// FailOn returns an Injector failing every op of the given kind with err.
func FailOn(op Op, err error) Injector {
	return func(o Op, _ string) error {
		if o == op {
			return err
		}
		return nil
	}
}

// ErrCrashed is returned by every operation on an ErrorFS, and on files
// opened through it, after its Crash method was called.
var ErrCrashed = errors.New("errorfs: file system crashed")

// ErrorFS wraps an FS for fault-injection tests (the idea of pebble's
// vfs/errorfs and strict MemFS). It can
//
//   - fail operations on demand (SetInjector), and
//   - simulate a machine crash (Crash, CrashTorn) that loses every byte
//     written since the last Sync of each file, and every file created since
//     the last Sync of its directory.
//
// It tracks, per path, the file size and the size at the last successful
// Sync. It assumes files are only appended to or truncated (true of the WAL).
// Removals are treated as immediately durable. Files that exist when they are
// first opened through the ErrorFS are assumed fully durable.
type ErrorFS struct {
	base FS

	mu      sync.Mutex
	inject  Injector
	crashed bool
	files   map[string]*fileState
}

type fileState struct {
	size      int64 // bytes written so far
	synced    int64 // bytes durable (size at last successful Sync)
	dirSynced bool  // directory entry durable
}

// NewErrorFS wraps base. A nil base means a new MemFS.
func NewErrorFS(base FS) *ErrorFS {
	if base == nil {
		base = NewMemFS()
	}
	return &ErrorFS{base: base, files: map[string]*fileState{}}
}

// SetInjector installs inj (nil removes it).
func (e *ErrorFS) SetInjector(inj Injector) {
	e.mu.Lock()
	e.inject = inj
	e.mu.Unlock()
}

// Base returns the wrapped FS.
func (e *ErrorFS) Base() FS { return e.base }

// before runs the injector (outside the lock, so it may sleep) and checks
// for a crash. On success it returns with e.mu held.
func (e *ErrorFS) before(op Op, path string) error {
	e.mu.Lock()
	inj := e.inject
	e.mu.Unlock()
	if inj != nil {
		if err := inj(op, path); err != nil {
			return &os.PathError{Op: op.String(), Path: path, Err: err}
		}
	}
	e.mu.Lock()
	if e.crashed {
		e.mu.Unlock()
		return &os.PathError{Op: op.String(), Path: path, Err: ErrCrashed}
	}
	return nil
}

// OpenFile implements FS.
func (e *ErrorFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	p := filepath.Clean(name)
	if err := e.before(OpOpen, p); err != nil {
		return nil, err
	}
	defer e.mu.Unlock()
	f, err := e.base.OpenFile(p, flag, perm)
	if err != nil {
		return nil, err
	}
	return e.track(p, f, flag&os.O_CREATE != 0)
}

// Open implements FS.
func (e *ErrorFS) Open(name string) (File, error) {
	p := filepath.Clean(name)
	if err := e.before(OpOpen, p); err != nil {
		return nil, err
	}
	defer e.mu.Unlock()
	f, err := e.base.Open(p)
	if err != nil {
		return nil, err
	}
	return e.track(p, f, false)
}

// track wraps f and starts tracking path p. Called with e.mu held.
func (e *ErrorFS) track(p string, f File, mayCreate bool) (File, error) {
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if info.IsDir() {
		return &errFile{fs: e, f: f, path: p, dir: true}, nil
	}
	if _, ok := e.files[p]; !ok {
		st := &fileState{size: info.Size(), synced: info.Size(), dirSynced: true}
		if mayCreate && info.Size() == 0 {
			// Possibly created just now: not durable until its directory is synced.
			st.dirSynced = false
		}
		e.files[p] = st
	}
	return &errFile{fs: e, f: f, path: p}, nil
}

// Remove implements FS.
func (e *ErrorFS) Remove(name string) error {
	p := filepath.Clean(name)
	if err := e.before(OpRemove, p); err != nil {
		return err
	}
	defer e.mu.Unlock()
	if err := e.base.Remove(p); err != nil {
		return err
	}
	delete(e.files, p)
	return nil
}

// ReadDir implements FS.
func (e *ErrorFS) ReadDir(name string) ([]os.DirEntry, error) {
	if err := e.before(OpReadDir, name); err != nil {
		return nil, err
	}
	defer e.mu.Unlock()
	return e.base.ReadDir(name)
}

// MkdirAll implements FS. Directories are treated as durable at once.
func (e *ErrorFS) MkdirAll(name string, perm os.FileMode) error {
	if err := e.before(OpMkdirAll, name); err != nil {
		return err
	}
	defer e.mu.Unlock()
	return e.base.MkdirAll(name, perm)
}

// Crash simulates a machine crash and returns the file system as found after
// the reboot. Every file is cut back to its size at its last successful Sync,
// files whose directory was not synced since their creation are removed, and
// this ErrorFS and every file opened through it fail all later operations with
// ErrCrashed (so a WAL still running on it can no longer change anything). The
// returned ErrorFS wraps the same base and has no injector.
func (e *ErrorFS) Crash() (*ErrorFS, error) { return e.crash(nil) }

// CrashTorn is like Crash but keeps a random prefix (chosen by rng) of each
// file's unsynced bytes, like a crash in the middle of writeback, and keeps
// unsynced new files with probability 1/2.
func (e *ErrorFS) CrashTorn(rng *rand.Rand) (*ErrorFS, error) { return e.crash(rng) }

func (e *ErrorFS) crash(rng *rand.Rand) (*ErrorFS, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.crashed {
		return nil, ErrCrashed
	}
	e.crashed = true
	paths := make([]string, 0, len(e.files))
	for p := range e.files {
		paths = append(paths, p)
	}
	sort.Strings(paths) // deterministic use of rng
	var errs []error
	for _, p := range paths {
		st := e.files[p]
		keep := st.synced
		if rng != nil && st.size > st.synced {
			keep += rng.Int64N(st.size - st.synced + 1)
		}
		if !st.dirSynced && (rng == nil || rng.IntN(2) == 0) {
			if err := e.base.Remove(p); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if keep >= st.size {
			continue
		}
		f, err := e.base.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := f.Truncate(keep); err != nil {
			errs = append(errs, err)
		}
		if err := f.Sync(); err != nil {
			errs = append(errs, err)
		}
		if err := f.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("errorfs: applying crash: %w", err)
	}
	return NewErrorFS(e.base), nil
}

// UnsyncedBytes returns how many bytes written to path would be lost by a
// crash now.
func (e *ErrorFS) UnsyncedBytes(path string) int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	if st, ok := e.files[filepath.Clean(path)]; ok {
		return st.size - st.synced
	}
	return 0
}

type errFile struct {
	fs   *ErrorFS
	f    File
	path string
	dir  bool
}

func (f *errFile) Write(b []byte) (int, error) {
	if err := f.fs.before(OpWrite, f.path); err != nil {
		return 0, err
	}
	defer f.fs.mu.Unlock()
	n, err := f.f.Write(b)
	if st := f.fs.files[f.path]; st != nil {
		st.size += int64(n)
	}
	return n, err
}

func (f *errFile) ReadAt(b []byte, off int64) (int, error) {
	if err := f.fs.before(OpRead, f.path); err != nil {
		return 0, err
	}
	defer f.fs.mu.Unlock()
	return f.f.ReadAt(b, off)
}

func (f *errFile) Sync() error {
	op := OpSync
	if f.dir {
		op = OpSyncDir
	}
	if err := f.fs.before(op, f.path); err != nil {
		return err
	}
	defer f.fs.mu.Unlock()
	if err := f.f.Sync(); err != nil {
		return err
	}
	if f.dir {
		for p, st := range f.fs.files {
			if filepath.Dir(p) == f.path {
				st.dirSynced = true
			}
		}
	} else if st := f.fs.files[f.path]; st != nil {
		st.synced = st.size
	}
	return nil
}

func (f *errFile) Truncate(size int64) error {
	if err := f.fs.before(OpTruncate, f.path); err != nil {
		return err
	}
	defer f.fs.mu.Unlock()
	if err := f.f.Truncate(size); err != nil {
		return err
	}
	if st := f.fs.files[f.path]; st != nil {
		st.size = size
		st.synced = min(st.synced, size)
	}
	return nil
}

func (f *errFile) Stat() (os.FileInfo, error) {
	if err := f.fs.before(OpStat, f.path); err != nil {
		return nil, err
	}
	defer f.fs.mu.Unlock()
	return f.f.Stat()
}

// Close always closes the underlying file, even after a crash.
func (f *errFile) Close() error { return f.f.Close() }
