package broker

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	reg           prometheus.Registerer
	requests      *prometheus.CounterVec
	requestErrors *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	bytesIn       prometheus.Counter
	bytesOut      prometheus.Counter
	badRequests   prometheus.Counter
	connections   prometheus.Gauge
	producedBytes prometheus.Counter
	producedRecs  prometheus.Counter
	walFull       prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strata_kafka_requests_total", Help: "Kafka requests handled, by API.",
		}, []string{"api"}),
		requestErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strata_kafka_request_failures_total", Help: "Kafka requests whose handler failed and closed the connection, by API.",
		}, []string{"api"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "strata_kafka_request_duration_seconds",
			Help:    "Time from decoding a Kafka request to its response being ready, by API.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
		}, []string{"api"}),
		bytesIn: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strata_kafka_received_bytes_total", Help: "Bytes of Kafka requests received.",
		}),
		bytesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strata_kafka_sent_bytes_total", Help: "Bytes of Kafka responses sent.",
		}),
		badRequests: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strata_kafka_malformed_requests_total", Help: "Requests that could not be parsed; each closed its connection.",
		}),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "strata_kafka_connections", Help: "Open client connections.",
		}),
		producedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strata_produced_bytes_total", Help: "Bytes of record batches appended.",
		}),
		producedRecs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strata_produced_records_total", Help: "Records appended.",
		}),
		walFull: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strata_produce_wal_full_total", Help: "Partition appends refused because the WAL was full (tiering behind).",
		}),
	}
	for _, c := range m.collectors() {
		reg.MustRegister(c)
	}
	return m
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.requests, m.requestErrors, m.latency, m.bytesIn, m.bytesOut, m.badRequests, m.connections, m.producedBytes, m.producedRecs, m.walFull}
}

// unregister removes the metrics, so that a broker started again in the
// same process (a retry, a test) can register them anew.
func (m *metrics) unregister() {
	for _, c := range m.collectors() {
		m.reg.Unregister(c)
	}
}
