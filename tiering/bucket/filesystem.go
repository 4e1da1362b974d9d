package bucket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Filesystem is a Bucket in a local directory: object "a/b" is the file
// DIR/a/b. Uploads go to a temporary file in DIR/.tmp, are fsynced and
// renamed into place, so an object is whole or absent even across a crash.
type Filesystem struct {
	dir string
}

var _ Bucket = (*Filesystem)(nil)

const fsTmpDir = ".tmp"

// NewFilesystem returns a bucket in dir, creating it if needed.
func NewFilesystem(dir string) (*Filesystem, error) {
	if dir == "" {
		return nil, errors.New("filesystem bucket: empty directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("filesystem bucket %s: %w", dir, err)
	}
	if err := os.MkdirAll(filepath.Join(abs, fsTmpDir), 0o755); err != nil {
		return nil, fmt.Errorf("filesystem bucket: %w", err)
	}
	return &Filesystem{dir: abs}, nil
}

func (f *Filesystem) path(name string) (string, error) {
	if err := validName(name); err != nil {
		return "", err
	}
	if name == fsTmpDir || strings.HasPrefix(name, fsTmpDir+"/") {
		return "", fmt.Errorf("%w: %q is reserved", ErrInvalidName, name)
	}
	return filepath.Join(f.dir, filepath.FromSlash(name)), nil
}

func notFound(name string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	return err
}

// Get implements Bucket.
func (f *Filesystem) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	return f.GetRange(ctx, name, 0, -1)
}

// GetRange implements Bucket.
func (f *Filesystem) GetRange(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if err := checkRange(name, off, length); err != nil {
		return nil, err
	}
	p, err := f.path(name)
	if err != nil {
		return nil, err
	}
	file, err := os.Open(p)
	if err != nil {
		return nil, notFound(name, err)
	}
	if st, err := file.Stat(); err != nil || st.IsDir() {
		file.Close()
		return nil, fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	if length < 0 {
		length = 1<<63 - 1 - off
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(file, off, length), file}, nil
}

// Upload implements Bucket.
func (f *Filesystem) Upload(ctx context.Context, name string, r io.Reader) (err error) {
	p, err := f.path(name)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Join(f.dir, fsTmpDir), "upload-*")
	if err != nil {
		return fmt.Errorf("upload %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = io.Copy(tmp, contextReader{ctx, r}); err != nil {
		return fmt.Errorf("upload %s: %w", name, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("upload %s: %w", name, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("upload %s: %w", name, err)
	}
	if err = os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("upload %s: %w", name, err)
	}
	if err = os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("upload %s: %w", name, err)
	}
	return syncDir(filepath.Dir(p))
}

type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Delete implements Bucket. Directories left empty are removed.
func (f *Filesystem) Delete(ctx context.Context, name string) error {
	p, err := f.path(name)
	if err != nil {
		return err
	}
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		return fmt.Errorf("delete %s: %w", name, ErrNotFound)
	}
	if err := os.Remove(p); err != nil {
		return notFound(name, err)
	}
	for dir := filepath.Dir(p); dir != f.dir; dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break // not empty
		}
	}
	return nil
}

// Iter implements Bucket.
func (f *Filesystem) Iter(ctx context.Context, prefix string, fn func(string) error) error {
	var names []string
	// Walk only the directory the prefix is inside.
	root := f.dir
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		root = filepath.Join(f.dir, filepath.FromSlash(prefix[:i]))
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root && errors.Is(err, fs.ErrNotExist) {
				return filepath.SkipAll
			}
			return err
		}
		rel, _ := filepath.Rel(f.dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == fsTmpDir {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(rel, prefix) {
			names = append(names, rel)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list %q: %w", prefix, err)
	}
	return callSorted(ctx, names, fn)
}

// Attributes implements Bucket.
func (f *Filesystem) Attributes(ctx context.Context, name string) (Attributes, error) {
	p, err := f.path(name)
	if err != nil {
		return Attributes{}, err
	}
	st, err := os.Stat(p)
	if err != nil {
		return Attributes{}, notFound(name, err)
	}
	if st.IsDir() {
		return Attributes{}, fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	return Attributes{Size: st.Size(), LastModified: st.ModTime()}, nil
}

// Exists implements Bucket.
func (f *Filesystem) Exists(ctx context.Context, name string) (bool, error) {
	return exists(f.Attributes(ctx, name))
}

// Close implements Bucket.
func (f *Filesystem) Close() error { return nil }
