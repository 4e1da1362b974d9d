// Package engine runs KSQL statements: it keeps the catalog of streams and
// tables and the persistent queries in etcd (meta.SQLObject), plans queries
// (compute/plan) and runs them as pipelines of vectorized operators over
// batches it reads from the topics, answering through a Result (the HTTP
// endpoint POST /sql speaks docs/format/sql-http.md).
//
// The engine is a Kafka client of the brokers (franz-go): it reads topics
// through the same Fetch path consumers use, so a query spans the WAL and
// the object store at consistent offsets, and it writes results with an
// idempotent producer.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-log/strata/meta"
	"github.com/strata-log/strata/tiering/bucket"
)

// Config configures an Engine.
type Config struct {
	// Brokers are the Kafka addresses the engine reads and writes through
	// (usually the local broker's own listener).
	Brokers []string
	Meta    *meta.Store
	// NodeID identifies this broker as the owner of the persistent queries
	// it starts.
	NodeID int32
	Logger *slog.Logger
	// Bucket keeps persistent queries' operator state (nil: queries with
	// state restart from their start after a failure).
	Bucket bucket.Bucket
	// CheckpointInterval is how often a persistent query records its
	// input offsets and state (default 5s).
	CheckpointInterval time.Duration
	// Allocator for query memory; nil means the Go allocator.
	Allocator memory.Allocator
	// Registerer, if not nil, gets the engine's metrics (New registers
	// them, Close unregisters them): strata_sql_late_records_total{query}
	// and strata_sql_decode_errors_total.
	Registerer prometheus.Registerer
	// Tiered, with Objects, lets scans read the tiered log straight from
	// its objects (cold.go) instead of through Fetch; nil: Fetch only.
	Tiered Tiered
	// Objects reads the tiered objects (the read cache in a broker).
	Objects bucket.Bucket
}

// Engine runs statements and the persistent queries this broker owns.
type Engine struct {
	cfg Config
	log *slog.Logger
	mem memory.Allocator

	decodeErrors atomic.Int64
	pipes        pipelines // running, for their counters
	metrics      prometheus.Collector
	declared     declaredSources // for the typed columns tiering writes
	coldRows     [2]atomic.Int64 // rows cold scans read: [0] typed columns, [1] decoded values
	footers      footerCache     // of tiered objects cold scans read

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	running map[string]*persistent // by query id
}

// New returns an engine; Start resumes its persistent queries.
func New(cfg Config) (*Engine, error) {
	if len(cfg.Brokers) == 0 || cfg.Meta == nil {
		return nil, errors.New("engine: needs brokers and a metadata store")
	}
	e := newEngine(cfg)
	if cfg.Registerer != nil {
		e.metrics = newMetrics(e)
		if err := cfg.Registerer.Register(e.metrics); err != nil {
			e.cancel()
			return nil, fmt.Errorf("engine: metrics: %w", err)
		}
	}
	return e, nil
}

// newEngine applies cfg's defaults.
func newEngine(cfg Config) *Engine {
	e := &Engine{cfg: cfg, log: cfg.Logger, mem: cfg.Allocator, running: map[string]*persistent{}}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.mem == nil {
		e.mem = memory.NewGoAllocator()
	}
	if e.cfg.CheckpointInterval <= 0 {
		e.cfg.CheckpointInterval = 5 * time.Second
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	return e
}

// Start resumes the tasks of persistent queries this broker owns, and
// takes over those whose owner left (as its reconciles do every 2 s
// after): every query, since a broker may own tasks of a query whose task
// 0, which the definition's owner property names, runs elsewhere. resume
// starts no task another live broker owns.
func (e *Engine) Start(ctx context.Context) error {
	qs, err := e.cfg.Meta.SQLObjects(ctx, kindQuery)
	if err != nil {
		return fmt.Errorf("engine: list queries: %w", err)
	}
	for _, q := range qs {
		if err := e.resume(ctx, q); err != nil {
			e.log.Error("resume query", "query", q.Name, "err", err)
		}
	}
	e.wg.Add(1)
	go e.reconcile()
	return nil
}

// Close stops the persistent queries (their definitions stay in etcd).
func (e *Engine) Close() {
	e.cancel()
	e.wg.Wait()
	if e.metrics != nil {
		e.cfg.Registerer.Unregister(e.metrics)
	}
}

// DecodeErrors counts the records skipped because they did not decode.
func (e *Engine) DecodeErrors() int64 { return e.decodeErrors.Load() }
