package wal

import (
	"io"
	"os"
)

// FS is the file system the WAL uses. Paths are OS paths; implementations
// must give POSIX semantics for what the WAL relies on: a removed file stays
// readable through handles opened before the removal, Sync on a handle opened
// with Open on a directory makes entries created in or removed from it
// durable, and writes to a file opened with os.O_APPEND go to its end.
type FS interface {
	// OpenFile opens name with os.OpenFile flags. The WAL uses
	// os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND for new segments and
	// os.O_RDWR|os.O_APPEND for the last segment at Open.
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	// Open opens name read-only; name may be a directory (to Sync it).
	Open(name string) (File, error)
	Remove(name string) error
	// ReadDir lists a directory, sorted by name.
	ReadDir(name string) ([]os.DirEntry, error)
	MkdirAll(name string, perm os.FileMode) error
}

// File is an open file of an FS. *os.File implements it.
type File interface {
	io.Writer
	io.ReaderAt
	io.Closer
	Sync() error
	Truncate(size int64) error
	Stat() (os.FileInfo, error)
}

// OSFS returns the FS backed by the operating system (package os). It is the
// default when Options.FS is nil.
func OSFS() FS { return osFS{} }

type osFS struct{}

func (osFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err // never a typed nil inside a non-nil interface
	}
	return f, nil
}

func (osFS) Open(name string) (File, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (osFS) Remove(name string) error                     { return os.Remove(name) }
func (osFS) ReadDir(name string) ([]os.DirEntry, error)   { return os.ReadDir(name) }
func (osFS) MkdirAll(name string, perm os.FileMode) error { return os.MkdirAll(name, perm) }
