package bucket

import (
	"context"
	"io"
	"strings"
)

// Prefixed is a Bucket that keeps its objects under a prefix of another:
// several clusters (or tests) can share one bucket.
type Prefixed struct {
	b      Bucket
	prefix string // ends in "/"
}

var _ Bucket = (*Prefixed)(nil)

// WithPrefix returns b seen through prefix ("strata/prod" keeps object "x"
// as "strata/prod/x"). An empty prefix returns b itself.
func WithPrefix(b Bucket, prefix string) Bucket {
	prefix = strings.Trim(prefix, "/")
	if prefix == "" {
		return b
	}
	return &Prefixed{b: b, prefix: prefix + "/"}
}

func (p *Prefixed) full(name string) (string, error) {
	if err := validName(name); err != nil {
		return "", err
	}
	return p.prefix + name, nil
}

// Get implements Bucket.
func (p *Prefixed) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	full, err := p.full(name)
	if err != nil {
		return nil, err
	}
	return p.b.Get(ctx, full)
}

// GetRange implements Bucket.
func (p *Prefixed) GetRange(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	full, err := p.full(name)
	if err != nil {
		return nil, err
	}
	return p.b.GetRange(ctx, full, off, length)
}

// Upload implements Bucket.
func (p *Prefixed) Upload(ctx context.Context, name string, r io.Reader) error {
	full, err := p.full(name)
	if err != nil {
		return err
	}
	return p.b.Upload(ctx, full, r)
}

// Delete implements Bucket.
func (p *Prefixed) Delete(ctx context.Context, name string) error {
	full, err := p.full(name)
	if err != nil {
		return err
	}
	return p.b.Delete(ctx, full)
}

// Iter implements Bucket.
func (p *Prefixed) Iter(ctx context.Context, prefix string, fn func(string) error) error {
	return p.b.Iter(ctx, p.prefix+prefix, func(name string) error {
		return fn(strings.TrimPrefix(name, p.prefix))
	})
}

// Attributes implements Bucket.
func (p *Prefixed) Attributes(ctx context.Context, name string) (Attributes, error) {
	full, err := p.full(name)
	if err != nil {
		return Attributes{}, err
	}
	return p.b.Attributes(ctx, full)
}

// Exists implements Bucket.
func (p *Prefixed) Exists(ctx context.Context, name string) (bool, error) {
	full, err := p.full(name)
	if err != nil {
		return false, err
	}
	return p.b.Exists(ctx, full)
}

// Close implements Bucket.
func (p *Prefixed) Close() error { return p.b.Close() }
