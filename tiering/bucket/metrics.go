package bucket

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Instrumented is a Bucket that counts operations, failures, bytes and
// latency of another. Object-store requests cost money: these metrics are
// how requests per GiB ingested are measured.
type Instrumented struct {
	b        Bucket
	ops      *prometheus.CounterVec
	failures *prometheus.CounterVec
	duration *prometheus.HistogramVec
	bytesIn  prometheus.Counter
	bytesOut prometheus.Counter
}

var _ Bucket = (*Instrumented)(nil)

// WithMetrics returns b instrumented, registering its metrics on reg with
// the label bucket=name.
func WithMetrics(b Bucket, reg prometheus.Registerer, name string) (*Instrumented, error) {
	labels := prometheus.Labels{"bucket": name}
	m := &Instrumented{
		b: b,
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strata_bucket_operations_total", Help: "Object store operations, by operation.", ConstLabels: labels,
		}, []string{"operation"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strata_bucket_operation_failures_total", Help: "Object store operations that failed (not counting not-found), by operation.", ConstLabels: labels,
		}, []string{"operation"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "strata_bucket_operation_duration_seconds", Help: "Object store operation latency (for reads, until the reader is closed), by operation.",
			ConstLabels: labels, Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"operation"}),
		bytesIn: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strata_bucket_uploaded_bytes_total", Help: "Bytes uploaded.", ConstLabels: labels,
		}),
		bytesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strata_bucket_downloaded_bytes_total", Help: "Bytes read.", ConstLabels: labels,
		}),
	}
	for _, c := range []prometheus.Collector{m.ops, m.failures, m.duration, m.bytesIn, m.bytesOut} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// observe records one finished operation.
func (m *Instrumented) observe(op string, start time.Time, err error) {
	m.ops.WithLabelValues(op).Inc()
	if err != nil && !IsNotFound(err) && !errors.Is(err, context.Canceled) {
		m.failures.WithLabelValues(op).Inc()
	}
	m.duration.WithLabelValues(op).Observe(time.Since(start).Seconds())
}

// countingReader counts the bytes read and observes the operation when
// closed.
type countingReader struct {
	io.ReadCloser
	m     *Instrumented
	op    string
	start time.Time
	err   error
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.m.bytesOut.Add(float64(n))
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

func (r *countingReader) Close() error {
	err := r.ReadCloser.Close()
	r.m.observe(r.op, r.start, errors.Join(r.err, err))
	return err
}

func (m *Instrumented) read(op string, rc io.ReadCloser, start time.Time, err error) (io.ReadCloser, error) {
	if err != nil {
		m.observe(op, start, err)
		return nil, err
	}
	return &countingReader{ReadCloser: rc, m: m, op: op, start: start}, nil
}

// Get implements Bucket.
func (m *Instrumented) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	start := time.Now()
	rc, err := m.b.Get(ctx, name)
	return m.read("get", rc, start, err)
}

// GetRange implements Bucket.
func (m *Instrumented) GetRange(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	start := time.Now()
	rc, err := m.b.GetRange(ctx, name, off, length)
	return m.read("get_range", rc, start, err)
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Upload implements Bucket.
func (m *Instrumented) Upload(ctx context.Context, name string, r io.Reader) error {
	start := time.Now()
	cr := &countReader{r: r}
	err := m.b.Upload(ctx, name, cr)
	if err == nil {
		m.bytesIn.Add(float64(cr.n))
	}
	m.observe("upload", start, err)
	return err
}

// Delete implements Bucket.
func (m *Instrumented) Delete(ctx context.Context, name string) error {
	start := time.Now()
	err := m.b.Delete(ctx, name)
	m.observe("delete", start, err)
	return err
}

// Iter implements Bucket.
func (m *Instrumented) Iter(ctx context.Context, prefix string, fn func(string) error) error {
	start := time.Now()
	err := m.b.Iter(ctx, prefix, fn)
	m.observe("iter", start, err)
	return err
}

// Attributes implements Bucket.
func (m *Instrumented) Attributes(ctx context.Context, name string) (Attributes, error) {
	start := time.Now()
	a, err := m.b.Attributes(ctx, name)
	m.observe("attributes", start, err)
	return a, err
}

// Exists implements Bucket.
func (m *Instrumented) Exists(ctx context.Context, name string) (bool, error) {
	start := time.Now()
	ok, err := m.b.Exists(ctx, name)
	m.observe("exists", start, err)
	return ok, err
}

// Close implements Bucket.
func (m *Instrumented) Close() error { return m.b.Close() }
