// Package cache is the read cache between object storage and readers: a
// bucket.Bucket decorator (modelled on Mimir's caching bucket) that caches
// object ranges as aligned blocks in a bounded memory LRU and, optionally,
// a bounded local-disk LRU, with single-flight fetches and read-ahead for
// sequential readers.
package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-log/strata/tiering/bucket"
)

// Config configures a cache.
type Config struct {
	// MemoryBytes bounds the memory tier. Default 256 MiB.
	MemoryBytes int64
	// DiskDir holds the disk tier ("" = no disk tier). The cache owns the
	// subdirectory DiskDir/strata-cache-blocks and wipes it on start.
	DiskDir string
	// DiskBytes bounds the disk tier; required when DiskDir is set.
	DiskBytes int64
	// BlockSize is the unit of caching: block i holds bytes
	// [i*BlockSize, (i+1)*BlockSize). Default 1 MiB.
	BlockSize int64
	// ReadAhead is how many blocks are fetched ahead of a sequential
	// reader. 0 means the default, 4; NoReadAhead (any negative value)
	// disables read-ahead.
	ReadAhead int
	// AttributesTTL bounds how long positive Attributes results are
	// cached; 0 caches them until an Upload or Delete through the cache.
	// Negative results are never cached.
	AttributesTTL time.Duration
}

// NoReadAhead as Config.ReadAhead disables read-ahead.
const NoReadAhead = -1

const (
	defaultMemoryBytes = 256 << 20
	defaultBlockSize   = 1 << 20
	defaultReadAhead   = 4
	// readAheadWorkers bounds concurrent read-ahead fetches.
	readAheadWorkers = 4
	// maxNames bounds the per-object state kept (attributes, generation,
	// read position); beyond it idle state is dropped.
	maxNames = 1 << 16
)

// withDefaults returns c with zero fields defaulted.
func (c Config) withDefaults() Config {
	if c.MemoryBytes == 0 {
		c.MemoryBytes = defaultMemoryBytes
	}
	if c.BlockSize == 0 {
		c.BlockSize = defaultBlockSize
	}
	if c.ReadAhead == 0 {
		c.ReadAhead = defaultReadAhead
	}
	if c.ReadAhead < 0 {
		c.ReadAhead = 0
	}
	return c
}

// Validate checks c (after defaults are applied).
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.MemoryBytes < 0:
		return errors.New("cache: negative MemoryBytes")
	case c.BlockSize < 0:
		return errors.New("cache: negative BlockSize")
	case c.BlockSize > c.MemoryBytes:
		return fmt.Errorf("cache: BlockSize %d exceeds MemoryBytes %d", c.BlockSize, c.MemoryBytes)
	case c.DiskDir != "" && c.DiskBytes < c.BlockSize+4: // a block file has a 4-byte CRC header
		return fmt.Errorf("cache: DiskBytes %d must hold at least one block of %d", c.DiskBytes, c.BlockSize)
	case c.DiskDir == "" && c.DiskBytes != 0:
		return errors.New("cache: DiskBytes set without DiskDir")
	case c.AttributesTTL < 0:
		return errors.New("cache: negative AttributesTTL")
	}
	return nil
}

// Bucket is a caching bucket.Bucket.
type Bucket struct {
	b    bucket.Bucket
	cfg  Config
	mem  *memTier
	disk *diskTier // nil without a disk tier
	m    *metrics

	mu      sync.Mutex
	gen     uint64 // source of generations, never reused
	names   map[string]*nameState
	flights map[string]*flight

	ctx     context.Context // cancelled by Close; read-ahead runs under it
	cancel  context.CancelFunc
	sem     chan struct{} // read-ahead concurrency
	wg      sync.WaitGroup
	running atomic.Int64 // read-ahead goroutines, for tests
	closeMu sync.Mutex
	closed  bool
}

var _ bucket.Bucket = (*Bucket)(nil)

// nameState is what the cache knows of one object name. Cached blocks are
// keyed by name and generation; an Upload or Delete through the cache moves
// the name to a new generation, so earlier blocks are never served again
// (they age out of the LRUs).
type nameState struct {
	gen     uint64
	writers int // Uploads/Deletes in progress: bypass the cache meanwhile
	attrs   *bucket.Attributes
	attrsAt time.Time
	lastEnd int64 // end offset of the previous read, -1 if none
	raEnd   int64 // read-ahead has been issued for blocks before this
}

// flight is one fetch of a block from the underlying bucket, shared by
// every reader who needs the block meanwhile.
type flight struct {
	done      chan struct{}
	data      []byte
	err       error
	readAhead bool
}

// New returns b cached per cfg, registering metrics on reg (nil: none).
func New(b bucket.Bucket, cfg Config, reg prometheus.Registerer) (*Bucket, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	c := &Bucket{
		b: b, cfg: cfg, m: m,
		names:   map[string]*nameState{},
		flights: map[string]*flight{},
		sem:     make(chan struct{}, readAheadWorkers),
	}
	c.mem = newMemTier(cfg.MemoryBytes,
		func(n int) { m.evictions.WithLabelValues("memory").Add(float64(n)) },
		func(s int64) { m.bytes.WithLabelValues("memory").Set(float64(s)) })
	if cfg.DiskDir != "" {
		c.disk, err = newDiskTier(filepath.Join(cfg.DiskDir, "strata-cache-blocks"), cfg.DiskBytes,
			func(n int) { m.evictions.WithLabelValues("disk").Add(float64(n)) },
			func(s int64) { m.bytes.WithLabelValues("disk").Set(float64(s)) })
		if err != nil {
			return nil, fmt.Errorf("cache: disk tier: %w", err)
		}
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// state returns name's state, creating it; c.mu must be held.
func (c *Bucket) state(name string) *nameState {
	st, ok := c.names[name]
	if !ok {
		if len(c.names) >= maxNames {
			for n, s := range c.names {
				if s.writers == 0 {
					delete(c.names, n)
				}
			}
		}
		c.gen++
		st = &nameState{gen: c.gen, lastEnd: -1}
		c.names[name] = st
	}
	return st
}

// snapshot returns name's generation and whether the cache may be used.
func (c *Bucket) snapshot(name string) (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.state(name)
	return st.gen, st.writers == 0
}

// current reports whether name is still at generation gen with no writer.
func (c *Bucket) current(name string, gen uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.names[name]
	return ok && st.gen == gen && st.writers == 0
}

// invalidate moves name to a new generation, dropping its attributes and
// read position; delta adjusts the writer count.
func (c *Bucket) invalidate(name string, delta int) {
	defer func() {
		// Blocks are keyed by generation, so the old ones can no longer
		// be served; drop them now to free their space. (A fetch of the
		// old generation finishing meanwhile may still store a block;
		// unreachable, it ages out.)
		c.mem.dropName(name)
		if c.disk != nil {
			c.disk.dropName(name)
		}
	}()
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.state(name)
	c.gen++
	st.gen = c.gen
	st.writers += delta
	st.attrs = nil
	st.lastEnd = -1
	st.raEnd = 0
}

func blockKey(name string, gen uint64, i int64) string {
	return name + "\x00" + strconv.FormatUint(gen, 10) + "\x00" + strconv.FormatInt(i, 10)
}

// Get implements bucket.Bucket.
func (c *Bucket) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	return c.GetRange(ctx, name, 0, -1)
}

// GetRange implements bucket.Bucket. The requested bytes are assembled
// from blocks before returning; if the object changes through this cache
// meanwhile, or the cached path fails, the read goes to the underlying
// bucket directly.
func (c *Bucket) GetRange(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if off < 0 || length < -1 {
		return c.b.GetRange(ctx, name, off, length)
	}
	gen, ok := c.snapshot(name)
	if !ok {
		return c.b.GetRange(ctx, name, off, length)
	}
	attrs, err := c.attributes(ctx, name, gen)
	if err != nil {
		if bucket.IsNotFound(err) || ctx.Err() != nil {
			return nil, err
		}
		return c.b.GetRange(ctx, name, off, length)
	}
	size := attrs.Size
	end := size
	if length >= 0 && length < size-off { // written so as not to overflow
		end = off + length
	}
	if off >= end {
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	data, err := c.readBlocks(ctx, name, gen, size, off, end)
	if err == nil && c.current(name, gen) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}
	if errors.Is(err, errChanged) {
		// The object changed behind the cache's back (its size no
		// longer matches): forget what is cached of it.
		c.invalidate(name, 0)
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return c.b.GetRange(ctx, name, off, length)
}

var errChanged = errors.New("cache: object changed while being read")

// readBlocks returns bytes [off, end) of an object of size bytes at
// generation gen, from the tiers or fetched, and schedules read-ahead.
func (c *Bucket) readBlocks(ctx context.Context, name string, gen uint64, size, off, end int64) ([]byte, error) {
	bs := c.cfg.BlockSize
	first, last := off/bs, (end-1)/bs
	blocks := make([][]byte, last-first+1)
	var missing []int64
	for i := first; i <= last; i++ {
		if data, ok := c.lookup(name, gen, i); ok {
			blocks[i-first] = data
		} else {
			missing = append(missing, i)
		}
	}
	c.m.misses.Add(float64(len(missing)))
	if len(missing) > 0 {
		got, err := c.fetch(ctx, name, gen, size, missing, false)
		if err != nil {
			return nil, err
		}
		for j, i := range missing {
			blocks[i-first] = got[j]
		}
	}
	c.maybeReadAhead(name, gen, size, off, end)
	out := make([]byte, 0, end-off)
	for k, data := range blocks {
		i := first + int64(k)
		lo, hi := int64(0), int64(len(data))
		if i == first {
			lo = off - i*bs
		}
		if i == last {
			hi = end - i*bs
		}
		if lo > hi || hi > int64(len(data)) {
			return nil, errChanged
		}
		out = append(out, data[lo:hi]...)
	}
	return out, nil
}

// lookup finds a block in memory, then on disk (promoting it to memory).
func (c *Bucket) lookup(name string, gen uint64, i int64) ([]byte, bool) {
	key := blockKey(name, gen, i)
	if data, ra, ok := c.mem.get(key); ok {
		c.m.hits.WithLabelValues("memory").Inc()
		if ra {
			c.m.readAheadUsed.Inc()
		}
		return data, true
	}
	if c.disk != nil {
		if data, ok := c.disk.get(key); ok {
			c.m.hits.WithLabelValues("disk").Inc()
			c.mem.put(name, key, data, false)
			return data, true
		}
	}
	return nil, false
}

// fetch returns the blocks idx (ascending) of name at gen, joining fetches
// already in flight and fetching the rest with one underlying request per
// contiguous run. With readAhead, blocks already in flight are skipped and
// the call does not wait.
func (c *Bucket) fetch(ctx context.Context, name string, gen uint64, size int64, idx []int64, readAhead bool) ([][]byte, error) {
	flights := make([]*flight, len(idx))
	var own []int // positions in idx this call fetches
	c.mu.Lock()
	for j, i := range idx {
		key := blockKey(name, gen, i)
		if f, ok := c.flights[key]; ok {
			if !readAhead && f.readAhead {
				f.readAhead = false
				c.m.readAheadUsed.Inc()
			}
			flights[j] = f
			continue
		}
		if readAhead && c.mem.contains(key) {
			continue
		}
		f := &flight{done: make(chan struct{}), readAhead: readAhead}
		c.flights[key] = f
		flights[j] = f
		own = append(own, j)
	}
	c.mu.Unlock()
	if readAhead {
		c.m.readAhead.Add(float64(len(own)))
	}

	// Fetch owned blocks, one request per contiguous run.
	for k := 0; k < len(own); {
		r := k + 1
		for r < len(own) && idx[own[r]] == idx[own[r-1]]+1 {
			r++
		}
		c.fetchRun(ctx, name, gen, size, idx, flights, own[k:r])
		k = r
	}
	if readAhead {
		return nil, nil
	}
	out := make([][]byte, len(idx))
	for j, f := range flights {
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if f.err != nil {
			return nil, f.err
		}
		out[j] = f.data
	}
	return out, nil
}

// fetchRun fetches the contiguous blocks idx[run...] with one request and
// completes their flights.
func (c *Bucket) fetchRun(ctx context.Context, name string, gen uint64, size int64, idx []int64, flights []*flight, run []int) {
	bs := c.cfg.BlockSize
	firstBlock := idx[run[0]]
	off := firstBlock * bs
	end := min(size, (idx[run[len(run)-1]]+1)*bs)
	var data []byte
	rc, err := c.b.GetRange(ctx, name, off, end-off)
	if err == nil {
		data, err = io.ReadAll(rc)
		rc.Close()
	}
	if err == nil && int64(len(data)) != end-off {
		err = errChanged
	}
	if err == nil {
		c.m.fetched.Add(float64(len(data)))
	}
	for k, j := range run {
		f := flights[j]
		if err != nil {
			f.err = err
		} else {
			lo := int64(k) * bs
			f.data = data[lo:min(lo+bs, int64(len(data)))]
			// Copy so a block does not pin the whole run in memory.
			f.data = bytes.Clone(f.data)
		}
	}
	// Store only if no write began since gen was read: the data is then
	// that generation's.
	store := err == nil && c.current(name, gen)
	for _, j := range run {
		f := flights[j]
		key := blockKey(name, gen, idx[j])
		if store {
			c.mu.Lock()
			ra := f.readAhead
			c.mu.Unlock()
			c.mem.put(name, key, f.data, ra)
			if c.disk != nil {
				c.disk.put(name, key, f.data)
			}
		}
		c.mu.Lock()
		delete(c.flights, key)
		c.mu.Unlock()
		close(f.done)
	}
}

// maybeReadAhead records a read of [off, end) and, if it continues the
// previous read of the object, keeps a window of ReadAhead blocks after it
// fetched in the background. The window is refilled when less than half of
// it is left, so read-ahead fetches runs of blocks rather than one at a time.
func (c *Bucket) maybeReadAhead(name string, gen uint64, size, off, end int64) {
	bs := c.cfg.BlockSize
	ahead := int64(c.cfg.ReadAhead)
	next := (end + bs - 1) / bs // first block after the read
	nBlocks := (size + bs - 1) / bs
	c.mu.Lock()
	st, ok := c.names[name]
	if !ok || st.gen != gen {
		c.mu.Unlock()
		return
	}
	prev := st.lastEnd
	st.lastEnd = end
	sequential := prev >= 0 && (off == prev || off/bs == (prev-1)/bs+1)
	if ahead == 0 || !sequential {
		st.raEnd = 0
		c.mu.Unlock()
		return
	}
	from := max(st.raEnd, next)
	if st.raEnd-next >= (ahead+1)/2 || from >= nBlocks {
		c.mu.Unlock()
		return // enough of the window left
	}
	to := min(next+ahead, nBlocks)
	var idx []int64
	for i := from; i < to; i++ {
		idx = append(idx, i)
	}
	if len(idx) == 0 {
		c.mu.Unlock()
		return
	}
	prevRA := st.raEnd
	st.raEnd = to
	c.mu.Unlock()
	started := false
	defer func() {
		if !started { // let a later read try again
			c.mu.Lock()
			if st.raEnd == to {
				st.raEnd = prevRA
			}
			c.mu.Unlock()
		}
	}()
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	if c.closed {
		return
	}
	select {
	case c.sem <- struct{}{}:
		started = true
	default:
		return // enough read-ahead under way
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer func() { <-c.sem }()
		c.running.Add(1)
		defer c.running.Add(-1)
		var todo []int64
		for _, i := range idx {
			key := blockKey(name, gen, i)
			if c.mem.contains(key) {
				continue
			}
			if c.disk != nil {
				if data, ok := c.disk.get(key); ok {
					c.mem.put(name, key, data, false)
					continue
				}
			}
			todo = append(todo, i)
		}
		if len(todo) == 0 {
			return
		}
		c.fetch(c.ctx, name, gen, size, todo, true)
	}()
}

// attributes returns name's attributes at gen, cached.
func (c *Bucket) attributes(ctx context.Context, name string, gen uint64) (bucket.Attributes, error) {
	c.mu.Lock()
	st := c.state(name)
	if st.gen == gen && st.attrs != nil && (c.cfg.AttributesTTL == 0 || time.Since(st.attrsAt) < c.cfg.AttributesTTL) {
		a := *st.attrs
		c.mu.Unlock()
		return a, nil
	}
	c.mu.Unlock()
	a, err := c.b.Attributes(ctx, name)
	if err != nil {
		return a, err
	}
	c.mu.Lock()
	if st, ok := c.names[name]; ok && st.gen == gen && st.writers == 0 {
		st.attrs, st.attrsAt = &a, time.Now()
	}
	c.mu.Unlock()
	return a, nil
}

// Attributes implements bucket.Bucket.
func (c *Bucket) Attributes(ctx context.Context, name string) (bucket.Attributes, error) {
	gen, ok := c.snapshot(name)
	if !ok {
		return c.b.Attributes(ctx, name)
	}
	return c.attributes(ctx, name, gen)
}

// Exists implements bucket.Bucket: cached attributes answer yes; anything
// else asks the underlying bucket.
func (c *Bucket) Exists(ctx context.Context, name string) (bool, error) {
	c.mu.Lock()
	st, ok := c.names[name]
	cached := ok && st.writers == 0 && st.attrs != nil &&
		(c.cfg.AttributesTTL == 0 || time.Since(st.attrsAt) < c.cfg.AttributesTTL)
	c.mu.Unlock()
	if cached {
		return true, nil
	}
	return c.b.Exists(ctx, name)
}

// Upload implements bucket.Bucket, invalidating name.
func (c *Bucket) Upload(ctx context.Context, name string, r io.Reader) error {
	c.invalidate(name, +1)
	defer c.invalidate(name, -1)
	return c.b.Upload(ctx, name, r)
}

// Delete implements bucket.Bucket, invalidating name.
func (c *Bucket) Delete(ctx context.Context, name string) error {
	c.invalidate(name, +1)
	defer c.invalidate(name, -1)
	return c.b.Delete(ctx, name)
}

// Iter implements bucket.Bucket.
func (c *Bucket) Iter(ctx context.Context, prefix string, fn func(string) error) error {
	return c.b.Iter(ctx, prefix, fn)
}

// Close stops read-ahead, waits for it, and closes the underlying bucket.
// The disk tier's files are left (the next start wipes them).
func (c *Bucket) Close() error {
	c.closeMu.Lock()
	c.closed = true
	c.closeMu.Unlock()
	c.cancel()
	c.wg.Wait()
	return c.b.Close()
}

// MemoryBytes returns the bytes held by the memory tier.
func (c *Bucket) MemoryBytes() int64 { return c.mem.bytes() }

// DiskBytes returns the bytes held by the disk tier (0 without one).
func (c *Bucket) DiskBytes() int64 {
	if c.disk == nil {
		return 0
	}
	return c.disk.bytes()
}

type metrics struct {
	hits          *prometheus.CounterVec
	misses        prometheus.Counter
	bytes         *prometheus.GaugeVec
	evictions     *prometheus.CounterVec
	readAhead     prometheus.Counter
	readAheadUsed prometheus.Counter
	fetched       prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		hits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strata_cache_hits_total", Help: "Blocks served from the cache, by tier.",
		}, []string{"tier"}),
		misses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strata_cache_misses_total", Help: "Blocks read that were in no tier.",
		}),
		bytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "strata_cache_bytes", Help: "Bytes held, by tier.",
		}, []string{"tier"}),
		evictions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strata_cache_evictions_total", Help: "Blocks evicted, by tier.",
		}, []string{"tier"}),
		readAhead: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strata_cache_readahead_blocks_total", Help: "Blocks fetched by read-ahead.",
		}),
		readAheadUsed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strata_cache_readahead_used_total", Help: "Read-ahead blocks later read.",
		}),
		fetched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strata_cache_fetched_bytes_total", Help: "Bytes fetched from the underlying bucket into the cache.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.hits, m.misses, m.bytes, m.evictions, m.readAhead, m.readAheadUsed, m.fetched} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
