package tiering

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	reg            prometheus.Registerer
	collectors     []prometheus.Collector
	uploads        prometheus.Counter
	uploadBytes    prometheus.Counter
	inputBytes     prometheus.Counter
	uploadSeconds  prometheus.Histogram
	commits        prometheus.Counter
	retries        prometheus.Counter
	gcDeleted      prometheus.Counter
	columnFailures prometheus.Counter
	untiered       prometheus.Gauge
	coldReads      prometheus.Counter
	merges         prometheus.Counter
	compactions    prometheus.Counter
	rewriteBytes   prometheus.Counter
	busy           prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		reg: reg,
		uploads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strata_tiering_objects_uploaded_total", Help: "Segment objects uploaded (one per sealing round, whatever the number of partitions in it).",
		}),
		uploadBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strata_tiering_uploaded_bytes_total", Help: "Bytes of segment objects uploaded.",
		}),
		inputBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strata_tiering_sealed_bytes_total", Help: "Record batch bytes sealed into uploaded objects (as produced).",
		}),
		uploadSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "strata_tiering_upload_duration_seconds", Help: "Time to upload one segment object, retries included.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
		commits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strata_tiering_manifest_commits_total", Help: "Partition manifests committed to etcd.",
		}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strata_tiering_retries_total", Help: "Object store and etcd operations of the tiering loop retried after an error.",
		}),
		gcDeleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strata_tiering_objects_collected_total", Help: "Objects no manifest names, deleted by the collector.",
		}),
		columnFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strata_tiering_column_failures_total", Help: "Typed column objects not written beside a segment (an error making or uploading them); cold scans parse those values.",
		}),
		untiered: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "strata_tiering_untiered_bytes", Help: "Acknowledged bytes in the WAL not yet in object storage.",
		}),
		coldReads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strata_tiering_cold_reads_total", Help: "Reads served from object storage.",
		}),
		merges: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strata_tiering_merges_total", Help: "Runs of small segments of a partition merged into one object.",
		}),
		compactions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strata_tiering_compactions_total", Help: "Compactions of compacted topics' partitions (latest record per key kept).",
		}),
		rewriteBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strata_tiering_rewritten_bytes_total", Help: "Bytes of objects uploaded by merges and compactions.",
		}),
		busy: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strata_tiering_busy_seconds_total", Help: "Time the tiering loop (one goroutine) spent working: sealed bytes over this is tiering throughput per core at most.",
		}),
	}
	m.collectors = []prometheus.Collector{m.busy, m.uploads, m.uploadBytes, m.inputBytes, m.uploadSeconds, m.commits, m.retries, m.gcDeleted, m.columnFailures, m.untiered, m.coldReads,
		m.merges, m.compactions, m.rewriteBytes}
	if reg == nil {
		return m, nil
	}
	for i, c := range m.collectors {
		if err := reg.Register(c); err != nil {
			for _, r := range m.collectors[:i] {
				reg.Unregister(r)
			}
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) unregister() {
	if m.reg == nil {
		return
	}
	for _, c := range m.collectors {
		m.reg.Unregister(c)
	}
}
