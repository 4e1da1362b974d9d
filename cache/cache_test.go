package cache

import (
	"bytes"
	"context"
	"io"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/strata-log/strata/tiering/bucket"
	"github.com/strata-log/strata/tiering/bucket/buckettest"
)

// counting counts GetRange/Get requests to the bucket it wraps and can
// delay them.
type counting struct {
	bucket.Bucket
	gets     atomic.Int64
	delay    time.Duration
	slowFrom int64 // if > 0, ranges from this offset block until ctx ends
}

// value reads a counter or gauge.
func value(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

func (c *counting) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	c.gets.Add(1)
	return c.Bucket.Get(ctx, name)
}

func (c *counting) GetRange(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	c.gets.Add(1)
	if c.slowFrom > 0 && off >= c.slowFrom {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if c.delay > 0 {
		select {
		case <-time.After(c.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return c.Bucket.GetRange(ctx, name, off, length)
}

func newCache(t *testing.T, b bucket.Bucket, cfg Config) (*Bucket, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	c, err := New(b, cfg, reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, reg
}

func randomBytes(n int) []byte {
	data := make([]byte, n)
	rand.New(rand.NewSource(int64(n))).Read(data)
	return data
}

func upload(t *testing.T, b bucket.Bucket, name string, data []byte) {
	t.Helper()
	if err := b.Upload(context.Background(), name, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
}

func TestAcceptance(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		c, _ := newCache(t, bucket.NewMemory(), Config{MemoryBytes: 1024, BlockSize: 64})
		buckettest.AcceptanceTest(t, c)
	})
	t.Run("disk", func(t *testing.T) {
		c, _ := newCache(t, bucket.NewMemory(), Config{MemoryBytes: 512, BlockSize: 64, DiskDir: t.TempDir(), DiskBytes: 4096})
		buckettest.AcceptanceTest(t, c)
	})
	t.Run("no-readahead", func(t *testing.T) {
		c, _ := newCache(t, bucket.NewMemory(), Config{MemoryBytes: 1 << 20, BlockSize: 100, ReadAhead: -1})
		buckettest.AcceptanceTest(t, c)
	})
}

func TestValidate(t *testing.T) {
	for _, cfg := range []Config{
		{MemoryBytes: -1},
		{BlockSize: -1},
		{MemoryBytes: 10, BlockSize: 100},
		{DiskDir: "x", DiskBytes: 10, BlockSize: 100},
		{DiskBytes: 100},
		{AttributesTTL: -time.Second},
	} {
		if err := cfg.Validate(); err == nil {
			t.Errorf("%+v validated", cfg)
		}
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("default config: %v", err)
	}
}

func TestHits(t *testing.T) {
	under := &counting{Bucket: bucket.NewMemory()}
	c, reg := newCache(t, under, Config{MemoryBytes: 1 << 20, BlockSize: 64, ReadAhead: -1})
	data := randomBytes(1000)
	upload(t, c, "obj", data)

	if got := buckettest.ReadRange(t, c, "obj", 10, 200); !bytes.Equal(got, data[10:210]) {
		t.Fatal("first read: wrong bytes")
	}
	if n := under.gets.Load(); n != 1 {
		t.Fatalf("first read made %d requests, want 1 (one run of missing blocks)", n)
	}
	if got := buckettest.ReadRange(t, c, "obj", 10, 200); !bytes.Equal(got, data[10:210]) {
		t.Fatal("second read: wrong bytes")
	}
	// A sub-range of cached blocks, and a range partly cached.
	if got := buckettest.ReadRange(t, c, "obj", 70, 50); !bytes.Equal(got, data[70:120]) {
		t.Fatal("sub-range: wrong bytes")
	}
	if n := under.gets.Load(); n != 1 {
		t.Fatalf("cached reads made %d requests, want 1 in all", n)
	}
	if got := buckettest.ReadRange(t, c, "obj", 100, -1); !bytes.Equal(got, data[100:]) {
		t.Fatal("tail: wrong bytes")
	}
	if n := under.gets.Load(); n != 2 {
		t.Fatalf("tail read made %d requests in all, want 2", n)
	}
	if got := buckettest.ReadRange(t, c, "obj", 0, -1); !bytes.Equal(got, data) {
		t.Fatal("whole: wrong bytes")
	}
	if got := buckettest.ReadRange(t, c, "obj", 990, math.MaxInt64); !bytes.Equal(got, data[990:]) {
		t.Fatal("huge length: wrong bytes")
	}
	if n := under.gets.Load(); n != 2 {
		t.Fatalf("whole read (all blocks cached) made %d requests in all, want 2", n)
	}
	if h := value(c.m.hits.WithLabelValues("memory")); h == 0 {
		t.Fatal("no memory hits counted")
	}
	if value(c.m.fetched) != 1000 {
		t.Fatalf("fetched %v bytes, want 1000", value(c.m.fetched))
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, mf := range mfs {
		found[mf.GetName()] = true
	}
	for _, n := range []string{"strata_cache_hits_total", "strata_cache_misses_total", "strata_cache_bytes", "strata_cache_fetched_bytes_total"} {
		if !found[n] {
			t.Errorf("metric %s not gathered", n)
		}
	}
}

func TestSingleFlight(t *testing.T) {
	under := &counting{Bucket: bucket.NewMemory(), delay: 50 * time.Millisecond}
	c, _ := newCache(t, under, Config{MemoryBytes: 1 << 20, BlockSize: 64, ReadAhead: -1})
	data := randomBytes(64)
	upload(t, c, "obj", data)
	if _, err := c.Attributes(context.Background(), "obj"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc, err := c.GetRange(context.Background(), "obj", 0, 64)
			if err != nil {
				t.Error(err)
				return
			}
			got, _ := io.ReadAll(rc)
			rc.Close()
			if !bytes.Equal(got, data) {
				t.Error("wrong bytes")
			}
		}()
	}
	wg.Wait()
	if n := under.gets.Load(); n != 1 {
		t.Fatalf("16 concurrent readers made %d requests, want 1", n)
	}
}

func TestMemoryBound(t *testing.T) {
	under := &counting{Bucket: bucket.NewMemory()}
	const mib = 1 << 20
	c, _ := newCache(t, under, Config{MemoryBytes: mib, BlockSize: 64 << 10})
	data := randomBytes(10 * mib)
	upload(t, c, "big", data)
	const chunk = 100 << 10 // unaligned to blocks on purpose
	for off := 0; off < len(data); off += chunk {
		got := buckettest.ReadRange(t, c, "big", int64(off), chunk)
		if !bytes.Equal(got, data[off:min(off+chunk, len(data))]) {
			t.Fatalf("wrong bytes at %d", off)
		}
		if m := c.MemoryBytes(); m > mib {
			t.Fatalf("memory tier holds %d bytes, bound %d", m, mib)
		}
	}
	if got := buckettest.ReadRange(t, c, "big", 0, -1); !bytes.Equal(got, data) {
		t.Fatal("whole object: wrong bytes")
	}
	if m := c.MemoryBytes(); m > mib {
		t.Fatalf("memory tier holds %d bytes, bound %d", m, mib)
	}
	if e := value(c.m.evictions.WithLabelValues("memory")); e == 0 {
		t.Fatal("no evictions counted")
	}
}

func TestDiskTier(t *testing.T) {
	under := &counting{Bucket: bucket.NewMemory()}
	dir := t.TempDir()
	const blk = 1024
	c, _ := newCache(t, under, Config{MemoryBytes: 4 * blk, BlockSize: blk, DiskDir: dir, DiskBytes: 40 * (blk + 4), ReadAhead: -1})
	data := randomBytes(100 * blk)
	upload(t, c, "obj", data)
	// Fill: 100 blocks through a 4-block memory and 40-block disk tier.
	for off := 0; off < len(data); off += blk {
		if got := buckettest.ReadRange(t, c, "obj", int64(off), blk); !bytes.Equal(got, data[off:off+blk]) {
			t.Fatalf("wrong bytes at %d", off)
		}
		if d := c.DiskBytes(); d > 40*(blk+4) {
			t.Fatalf("disk tier holds %d bytes", d)
		}
	}
	var files int
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			files++
		}
		return nil
	})
	if files > 40 {
		t.Fatalf("%d block files on disk, bound 40", files)
	}
	// The last 40 blocks are on disk; the last 4 also in memory.
	before := under.gets.Load()
	off := 70 * blk
	if got := buckettest.ReadRange(t, c, "obj", int64(off), 10*blk); !bytes.Equal(got, data[off:off+10*blk]) {
		t.Fatal("wrong bytes from disk")
	}
	if under.gets.Load() != before {
		t.Fatal("disk-cached blocks were fetched again")
	}
	if h := value(c.m.hits.WithLabelValues("disk")); h == 0 {
		t.Fatal("no disk hits")
	}

	// Corrupt every disk file: reads still return the right bytes.
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			os.WriteFile(p, []byte("garbage!"), 0o644)
		}
		return nil
	})
	off = 60 * blk
	if got := buckettest.ReadRange(t, c, "obj", int64(off), 5*blk); !bytes.Equal(got, data[off:off+5*blk]) {
		t.Fatal("wrong bytes after corrupting the disk tier")
	}
	if under.gets.Load() == before {
		t.Fatal("corrupt blocks were not refetched")
	}
}

func TestReadAhead(t *testing.T) {
	under := &counting{Bucket: bucket.NewMemory()}
	const blk = 256
	c, _ := newCache(t, under, Config{MemoryBytes: 1 << 20, BlockSize: blk, ReadAhead: 4})
	data := randomBytes(64 * blk)
	upload(t, c, "obj", data)
	for off := 0; off < len(data); off += blk {
		if got := buckettest.ReadRange(t, c, "obj", int64(off), blk); !bytes.Equal(got, data[off:off+blk]) {
			t.Fatalf("wrong bytes at %d", off)
		}
		// Give read-ahead a moment now and then, like a reader doing work.
		time.Sleep(time.Millisecond)
	}
	used := value(c.m.readAheadUsed)
	ra := value(c.m.readAhead)
	if used == 0 || ra == 0 {
		t.Fatalf("read-ahead blocks %v, used %v", ra, used)
	}
	if used > ra {
		t.Fatalf("used %v read-ahead blocks of %v", used, ra)
	}
	if n := under.gets.Load(); n > 32 {
		t.Fatalf("%d requests for 64 sequential blocks", n)
	}
	t.Logf("64 blocks: %d requests, read-ahead %v, used %v", under.gets.Load(), ra, used)

	// A random reader triggers no read-ahead.
	before := value(c.m.readAhead)
	upload(t, c, "rand", data)
	for _, b := range []int64{40, 3, 20, 9} {
		buckettest.ReadRange(t, c, "rand", b*blk, blk)
	}
	time.Sleep(20 * time.Millisecond)
	if value(c.m.readAhead) != before {
		t.Fatal("random reads triggered read-ahead")
	}
}

func TestInvalidation(t *testing.T) {
	under := &counting{Bucket: bucket.NewMemory()}
	dir := t.TempDir()
	c, _ := newCache(t, under, Config{MemoryBytes: 1 << 20, BlockSize: 64, DiskDir: dir, DiskBytes: 1 << 20})
	ctx := context.Background()
	upload(t, c, "obj", bytes.Repeat([]byte("a"), 500))
	if got := buckettest.ReadRange(t, c, "obj", 0, -1); string(got) != strings.Repeat("a", 500) {
		t.Fatal("first version")
	}
	upload(t, c, "obj", bytes.Repeat([]byte("b"), 300))
	if m, d := c.MemoryBytes(), c.DiskBytes(); m != 0 || d != 0 {
		t.Fatalf("after overwrite the old blocks still hold %d bytes in memory, %d on disk", m, d)
	}
	if a, err := c.Attributes(ctx, "obj"); err != nil || a.Size != 300 {
		t.Fatalf("attributes after overwrite: %+v %v", a, err)
	}
	if got := buckettest.ReadRange(t, c, "obj", 0, -1); string(got) != strings.Repeat("b", 300) {
		t.Fatalf("after overwrite: %q", got)
	}
	if got := buckettest.ReadRange(t, c, "obj", 100, 50); string(got) != strings.Repeat("b", 50) {
		t.Fatalf("range after overwrite: %q", got)
	}
	if err := c.Delete(ctx, "obj"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetRange(ctx, "obj", 0, 10); !bucket.IsNotFound(err) {
		t.Fatalf("read after delete: %v", err)
	}
	if ok, err := c.Exists(ctx, "obj"); ok || err != nil {
		t.Fatalf("exists after delete: %v %v", ok, err)
	}
}

func TestCloseStopsReadAhead(t *testing.T) {
	before := runtime.NumGoroutine()
	mem := bucket.NewMemory()
	upload(t, mem, "obj", randomBytes(64*100))
	under := &counting{Bucket: mem, slowFrom: 128}
	c, err := New(under, Config{MemoryBytes: 1 << 20, BlockSize: 64, ReadAhead: 8}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Two sequential reads start read-ahead of blocks 2..9, which blocks
	// on the slow bucket until Close cancels it.
	buckettest.ReadRange(t, c, "obj", 0, 64)
	buckettest.ReadRange(t, c, "obj", 64, 64)
	for i := 0; c.running.Load() == 0; i++ {
		if i == 500 {
			t.Fatal("no read-ahead goroutine running")
		}
		time.Sleep(time.Millisecond)
	}
	done := make(chan struct{})
	go func() { c.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not stop read-ahead")
	}
	if n := c.running.Load(); n != 0 {
		t.Fatalf("%d read-ahead goroutines after Close", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines after Close, %d before", n, before)
	}
}

func TestSharedFetchCancelled(t *testing.T) {
	under := &counting{Bucket: bucket.NewMemory(), delay: 100 * time.Millisecond}
	c, _ := newCache(t, under, Config{MemoryBytes: 1 << 20, BlockSize: 64, ReadAhead: -1})
	data := randomBytes(64)
	upload(t, c, "obj", data)
	if _, err := c.Attributes(context.Background(), "obj"); err != nil {
		t.Fatal(err)
	}
	// A's fetch is cancelled while B waits on it: B still gets the bytes.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	errA := make(chan error, 1)
	go func() {
		_, err := c.GetRange(ctx, "obj", 0, 64)
		errA <- err
	}()
	time.Sleep(5 * time.Millisecond)
	if got := buckettest.ReadRange(t, c, "obj", 0, 64); !bytes.Equal(got, data) {
		t.Fatal("B: wrong bytes")
	}
	if err := <-errA; err == nil {
		t.Fatal("A's cancelled read succeeded")
	}
}

func TestChangedBehindCache(t *testing.T) {
	mem := bucket.NewMemory()
	c, _ := newCache(t, mem, Config{MemoryBytes: 1 << 20, BlockSize: 64, ReadAhead: -1})
	upload(t, c, "obj", bytes.Repeat([]byte("a"), 100))
	buckettest.ReadRange(t, c, "obj", 0, 10) // caches attributes and block 0
	upload(t, mem, "obj", bytes.Repeat([]byte("b"), 50))
	// Block 1 is fetched against stale attributes: a size mismatch that
	// must fall back to the bucket and invalidate.
	if got := buckettest.ReadRange(t, c, "obj", 60, 40); len(got) != 0 {
		t.Fatalf("read past the new end: %q", got)
	}
	if got := buckettest.ReadRange(t, c, "obj", 0, -1); string(got) != strings.Repeat("b", 50) {
		t.Fatalf("after invalidation: %q", got)
	}
}

func TestDiskDirWiped(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "strata-cache-blocks", "ab", "stale")
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(stale, []byte("old"), 0o644)
	other := filepath.Join(dir, "keep")
	os.WriteFile(other, []byte("mine"), 0o644)
	newCache(t, bucket.NewMemory(), Config{DiskDir: dir, DiskBytes: 1 << 30})
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale block file survived: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatalf("a file outside the cache's subdirectory was removed: %v", err)
	}
}
