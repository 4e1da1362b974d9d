// Package bucket is Strata's view of object storage: a small interface in
// the style of thanos-io/objstore, implemented by a local directory (the
// embedded default), memory (tests) and, through minio-go, MinIO and AWS
// S3; with decorators for key prefixes and metrics. The read cache
// (package cache) is another decorator.
//
// Object names are slash-separated keys ("segments/000123.parquet"). An
// upload is atomic: a reader sees the whole object or none of it.
// Every implementation passes buckettest.AcceptanceTest.
package bucket

import (
	"context"
	"errors"
	"io"
	"time"
)

// Bucket is an object store.
type Bucket interface {
	// Get reads a whole object.
	Get(ctx context.Context, name string) (io.ReadCloser, error)
	// GetRange reads length bytes from offset off; length -1 reads to the
	// end. A range past the end is truncated to it.
	GetRange(ctx context.Context, name string, off, length int64) (io.ReadCloser, error)
	// Upload stores r's bytes as name, replacing any object of that name.
	Upload(ctx context.Context, name string, r io.Reader) error
	// Delete removes an object; deleting a missing object is an error
	// satisfying IsNotFound.
	Delete(ctx context.Context, name string) error
	// Iter calls fn with the name of every object whose name starts with
	// prefix, in lexical order. An error from fn stops the iteration and
	// is returned.
	Iter(ctx context.Context, prefix string, fn func(name string) error) error
	// Attributes describes an object.
	Attributes(ctx context.Context, name string) (Attributes, error)
	// Exists reports whether an object exists.
	Exists(ctx context.Context, name string) (bool, error)
	// Close releases the bucket's resources.
	Close() error
}

// Attributes describe an object.
type Attributes struct {
	Size         int64
	LastModified time.Time
}

// ErrNotFound is wrapped by errors about objects that do not exist.
var ErrNotFound = errors.New("object not found")

// IsNotFound reports whether err says an object does not exist.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// ErrInvalidName is wrapped by errors about object names a bucket cannot
// hold: empty, absolute, or with empty, "." or ".." elements.
var ErrInvalidName = errors.New("invalid object name")
