package bucket

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Memory is a Bucket in memory, for tests of the code above the bucket.
type Memory struct {
	mu      sync.RWMutex
	objects map[string]memObject
}

type memObject struct {
	data    []byte
	modTime time.Time
}

// NewMemory returns an empty in-memory bucket.
func NewMemory() *Memory { return &Memory{objects: map[string]memObject{}} }

var _ Bucket = (*Memory)(nil)

func (m *Memory) get(name string) ([]byte, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	o, ok := m.objects[name]
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	return o.data, nil
}

// Get implements Bucket.
func (m *Memory) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	return m.GetRange(ctx, name, 0, -1)
}

// GetRange implements Bucket.
func (m *Memory) GetRange(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if err := checkRange(name, off, length); err != nil {
		return nil, err
	}
	data, err := m.get(name)
	if err != nil {
		return nil, err
	}
	off = min(off, int64(len(data)))
	end := int64(len(data))
	if length >= 0 {
		end = min(end, off+length)
	}
	return io.NopCloser(bytes.NewReader(data[off:end])), nil
}

// Upload implements Bucket.
func (m *Memory) Upload(ctx context.Context, name string, r io.Reader) error {
	if err := validName(name); err != nil {
		return err
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("upload %s: %w", name, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objects[name] = memObject{data: data, modTime: time.Now()}
	return nil
}

// Delete implements Bucket.
func (m *Memory) Delete(ctx context.Context, name string) error {
	if err := validName(name); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objects[name]; !ok {
		return fmt.Errorf("delete %s: %w", name, ErrNotFound)
	}
	delete(m.objects, name)
	return nil
}

// Iter implements Bucket.
func (m *Memory) Iter(ctx context.Context, prefix string, fn func(string) error) error {
	m.mu.RLock()
	var names []string
	for name := range m.objects {
		if strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
	}
	m.mu.RUnlock()
	return callSorted(ctx, names, fn)
}

// Attributes implements Bucket.
func (m *Memory) Attributes(ctx context.Context, name string) (Attributes, error) {
	if err := validName(name); err != nil {
		return Attributes{}, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	o, ok := m.objects[name]
	if !ok {
		return Attributes{}, fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	return Attributes{Size: int64(len(o.data)), LastModified: o.modTime}, nil
}

// Exists implements Bucket.
func (m *Memory) Exists(ctx context.Context, name string) (bool, error) {
	return exists(m.Attributes(ctx, name))
}

// Close implements Bucket.
func (m *Memory) Close() error { return nil }

// checkRange validates a GetRange request.
func checkRange(name string, off, length int64) error {
	if off < 0 || length < -1 {
		return fmt.Errorf("get %s: invalid range offset %d length %d", name, off, length)
	}
	return nil
}
