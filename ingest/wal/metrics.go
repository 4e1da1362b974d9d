package wal

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Stats are the WAL's counters since Open. Appends/Fsyncs is the group-commit
// ratio (with NoSync, use Appends/Flushes).
type Stats struct {
	Appends             uint64 // entries accepted by Append
	Fsyncs              uint64 // fsyncs of segment files (not directories)
	BytesWritten        uint64 // bytes written to segment files, headers included
	Flushes             uint64 // batches written by the flusher
	TornTailTruncations uint64 // torn tails cut off by Open
	Segments            int    // segment files on disk
}

type metrics struct {
	appends, fsyncs, bytesWritten, flushes, tornTails atomic.Uint64
	segments                                          atomic.Int64

	fsyncDuration prometheus.Histogram
}

var (
	descAppends   = prometheus.NewDesc("strata_wal_appends_total", "Entries appended to the write-ahead log.", nil, nil)
	descFsyncs    = prometheus.NewDesc("strata_wal_fsyncs_total", "fsync calls on write-ahead log segment files.", nil, nil)
	descBytes     = prometheus.NewDesc("strata_wal_bytes_written_total", "Bytes written to write-ahead log segment files.", nil, nil)
	descFlushes   = prometheus.NewDesc("strata_wal_flushes_total", "Batches written by the write-ahead log flusher.", nil, nil)
	descTornTails = prometheus.NewDesc("strata_wal_torn_tail_truncations_total", "Torn tails truncated when opening the write-ahead log.", nil, nil)
	descSegments  = prometheus.NewDesc("strata_wal_segments", "Write-ahead log segment files on disk.", nil, nil)
)

func newMetrics() *metrics {
	return &metrics{
		fsyncDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "strata_wal_fsync_duration_seconds",
			Help:    "Latency of fsync calls on write-ahead log segment files.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16), // 50µs .. ~1.6s
		}),
	}
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- descAppends
	ch <- descFsyncs
	ch <- descBytes
	ch <- descFlushes
	ch <- descTornTails
	ch <- descSegments
	m.fsyncDuration.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	counter(descAppends, m.appends.Load())
	counter(descFsyncs, m.fsyncs.Load())
	counter(descBytes, m.bytesWritten.Load())
	counter(descFlushes, m.flushes.Load())
	counter(descTornTails, m.tornTails.Load())
	ch <- prometheus.MustNewConstMetric(descSegments, prometheus.GaugeValue, float64(m.segments.Load()))
	m.fsyncDuration.Collect(ch)
}

func (m *metrics) stats() Stats {
	return Stats{
		Appends:             m.appends.Load(),
		Fsyncs:              m.fsyncs.Load(),
		BytesWritten:        m.bytesWritten.Load(),
		Flushes:             m.flushes.Load(),
		TornTailTruncations: m.tornTails.Load(),
		Segments:            int(m.segments.Load()),
	}
}
