package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/strata-log/strata/compute/engine"
	"github.com/strata-log/strata/ingest/broker"
	"github.com/strata-log/strata/meta"
	"github.com/strata-log/strata/tiering"
)

// serverFlags are the settings shared by "strata dev" and "strata broker".
type serverFlags struct {
	id              int32
	dataDir         string
	kafkaAddr       string
	advertisedAddr  string
	httpAddr        string
	rack            string
	autoCreate      bool
	partitions      int32
	replication     int16
	replicationAddr string
	replicationPeer map[string]string
	replicationDial map[int32]string // replicationPeer, validated
	maxRequestBytes int32
	walSegmentBytes int64
	walNoSync       bool
	walVolatile     bool
	sessionTTL      time.Duration
	logLevel        string
	logFormat       string
	dev             bool
	objects         objectFlags
	tier            tierFlags
}

func (f *serverFlags) register(cmd *cobra.Command, dev bool) {
	f.dev = dev
	f.objects.register(cmd, dev)
	f.tier.register(cmd)
	fs := cmd.Flags()
	defDir := "strata-data"
	if !dev {
		defDir = "/var/lib/strata"
	}
	fs.StringVar(&f.dataDir, "data-dir", defDir, "directory for the write-ahead log (DIR/wal)"+map[bool]string{true: ", embedded etcd (DIR/etcd) and local object store (DIR/objects)", false: ""}[dev])
	fs.StringVar(&f.kafkaAddr, "kafka-addr", "127.0.0.1:9092", "address the Kafka listener binds")
	fs.StringVar(&f.advertisedAddr, "advertised-kafka-addr", "", "host:port clients are told to connect to (default: the listener's address)")
	fs.StringVar(&f.httpAddr, "http-addr", "127.0.0.1:8080", "address serving /healthz, /readyz and /metrics (empty to disable)")
	fs.StringVar(&f.rack, "rack", "", "rack (availability zone) of this broker, reported in metadata")
	fs.BoolVar(&f.autoCreate, "auto-create-topics", dev, "create unknown topics when clients ask for their metadata (auto.create.topics.enable)")
	fs.Int32Var(&f.partitions, "default-partitions", 1, "partitions of auto-created topics and of topics created with -1 (num.partitions)")
	fs.Int16Var(&f.replication, "default-replication-factor", 3, "replicas of auto-created topics and of topics created with -1, capped by the live brokers (default.replication.factor)")
	fs.StringVar(&f.replicationAddr, "replication-addr", "127.0.0.1:0", "address where this broker accepts its partition leaders' replication connections; other brokers must reach it (an unspecified host such as 0.0.0.0 is advertised with the advertised Kafka host)")
	fs.StringToStringVar(&f.replicationPeer, "replication-peer", nil, "ID=HOST:PORT: dial broker ID's replication listener at this address instead of the one it registered (address translation); repeat or separate with commas")
	fs.Int32Var(&f.maxRequestBytes, "max-request-bytes", 100<<20, "largest request accepted; larger ones close the connection (socket.request.max.bytes)")
	fs.Int64Var(&f.walSegmentBytes, "wal-segment-bytes", 64<<20, "size at which the write-ahead log starts a new segment file")
	fs.BoolVar(&f.walNoSync, "wal-no-sync", false, "acknowledge writes without fsync (unsafe: a crash can lose acknowledged records; for benchmarks only)")
	fs.BoolVar(&f.walVolatile, "wal-volatile-writes", false, "keep write-ahead log writes in memory until their fsync, so that SIGKILL loses un-fsynced writes as a power loss would (crash tests only)")
	fs.MarkHidden("wal-volatile-writes")
	fs.DurationVar(&f.sessionTTL, "session-ttl", 2*time.Second, "etcd lease TTL of the broker's registration: a broker that stops renewing it for this long loses its partitions' leadership to their other replicas")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	if !dev {
		fs.Int32Var(&f.id, "id", -1, "broker id, unique in the cluster (required)")
	}
}

// validate checks every server flag, naming the flag and where its value
// came from (command line, environment or config file).
func (f *serverFlags) validate(cmd *cobra.Command) error {
	bad := func(name, format string, args ...any) error {
		return fmt.Errorf("%s: %s", flagRef(cmd, name), fmt.Sprintf(format, args...))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return bad("log-level", "%q: want debug, info, warn or error", f.logLevel)
	}
	if f.logFormat != "text" && f.logFormat != "json" {
		return bad("log-format", "%q: want text or json", f.logFormat)
	}
	if f.dataDir == "" {
		return bad("data-dir", "must not be empty")
	}
	if _, _, err := net.SplitHostPort(f.kafkaAddr); err != nil {
		return bad("kafka-addr", "%q: want host:port", f.kafkaAddr)
	}
	if f.advertisedAddr != "" {
		if h, p, err := net.SplitHostPort(f.advertisedAddr); err != nil || h == "" || p == "0" {
			return bad("advertised-kafka-addr", "%q: want host:port with a real port", f.advertisedAddr)
		}
	}
	if f.httpAddr != "" {
		if _, _, err := net.SplitHostPort(f.httpAddr); err != nil {
			return bad("http-addr", "%q: want host:port", f.httpAddr)
		}
	}
	if f.partitions < 1 {
		return bad("default-partitions", "%d: must be at least 1", f.partitions)
	}
	if f.replication < 1 {
		return bad("default-replication-factor", "%d: must be at least 1", f.replication)
	}
	if _, _, err := net.SplitHostPort(f.replicationAddr); err != nil {
		return bad("replication-addr", "%q: want host:port", f.replicationAddr)
	}
	f.replicationDial = nil
	for id, addr := range f.replicationPeer {
		n, err := strconv.ParseInt(id, 10, 32)
		if err != nil || n < 0 {
			return bad("replication-peer", "%q: want a broker id (a number) before '='", id)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return bad("replication-peer", "%s=%q: want host:port", id, addr)
		}
		if f.replicationDial == nil {
			f.replicationDial = map[int32]string{}
		}
		f.replicationDial[int32(n)] = addr
	}
	if f.maxRequestBytes < 1024 {
		return bad("max-request-bytes", "%d: must be at least 1024", f.maxRequestBytes)
	}
	if f.walSegmentBytes < 1<<20 {
		return bad("wal-segment-bytes", "%d: must be at least 1 MiB", f.walSegmentBytes)
	}
	if f.sessionTTL < 2*time.Second {
		return bad("session-ttl", "%s: must be at least 2s (etcd's shortest lease)", f.sessionTTL)
	}
	if err := f.tier.validate(cmd); err != nil {
		return err
	}
	return f.objects.validate(cmd)
}

// logger builds the process logger from validated flags.
func (f *serverFlags) logger(w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(f.logLevel))
	opts := &slog.HandlerOptions{Level: level}
	if f.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func (f *serverFlags) brokerConfig(log *slog.Logger, reg prometheus.Registerer) broker.Config {
	return broker.Config{
		NodeID:                   f.id,
		ListenAddr:               f.kafkaAddr,
		AdvertisedAddr:           f.advertisedAddr,
		Rack:                     f.rack,
		HTTPAddr:                 f.httpAddr,
		DataDir:                  f.dataDir,
		AutoCreateTopics:         f.autoCreate,
		DefaultPartitions:        f.partitions,
		ReplicationAddr:          f.replicationAddr,
		ReplicationPeers:         f.replicationDial,
		DefaultReplicationFactor: f.replication,
		MaxRequestBytes:          f.maxRequestBytes,
		WALSegmentBytes:          f.walSegmentBytes,
		WALNoSync:                f.walNoSync,
		WALVolatileWrites:        f.walVolatile,
		WALMaxBytes:              f.tier.walMaxBytes,
		SessionTTL:               f.sessionTTL,
		Logger:                   log,
		Registerer:               reg,
	}
}

// signalContext is cancelled on SIGINT or SIGTERM.
func signalContext(parent context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
}

// server is a running broker with its object store, read cache and
// tiering loop.
type server struct {
	broker      *broker.Broker
	tierer      *tiering.Tierer
	sql         *engine.Engine
	reg         *prometheus.Registry
	objectsDesc string
	closers     []func() // run in reverse order by close
}

// startServer opens the object store (checked at start, so that a missing
// bucket or refused credentials stop the broker with an error that says
// so), puts the read cache in front of it, starts the broker on store and
// its tiering loop.
func startServer(ctx context.Context, f *serverFlags, log *slog.Logger, store *meta.Store) (_ *server, err error) {
	s := &server{reg: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cfg := f.brokerConfig(log, s.reg)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	defaultDir := ""
	if f.dev {
		defaultDir = f.dataDir
	}
	objects, desc, err := f.objects.open(ctx, defaultDir, s.reg)
	if err != nil {
		return nil, err
	}
	s.objectsDesc = desc
	s.closers = append(s.closers, func() { objects.Close() })
	cached, err := f.tier.openCache(objects, f.dataDir, s.reg)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, func() { cached.Close() })

	startCtx, cancel := context.WithTimeout(ctx, 2*f.sessionTTL+30*time.Second)
	defer cancel()
	src := &brokerSource{}
	if s.tierer, err = tiering.New(startCtx, f.tier.tieringConfig(log, s.reg), src, store, cached); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, s.tierer.Close)
	cfg.Cold = coldStore{s.tierer}
	if s.broker, err = startBroker(startCtx, cfg, store, log); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, func() {
		if err := s.broker.Close(); err != nil {
			log.Error("close broker", "err", err)
		}
	})
	src.b = s.broker
	// The SQL engine is a Kafka client of this broker (it connects once
	// Serve runs) and resumes the persistent queries the broker owns.
	s.sql, err = engine.New(engine.Config{Brokers: []string{s.broker.Addr().String()}, Meta: store, NodeID: f.id, Registerer: s.reg,
		Bucket: objects, Tiered: s.tierer, Objects: cached, Logger: log.With("component", "sql")})
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, s.sql.Close)
	// Segments of topics a stream or table declares carry typed columns.
	if f.tier.typedColumns {
		s.tierer.SetColumns(s.sql)
	}
	if err := s.sql.Start(ctx); err != nil {
		return nil, err
	}
	tierCtx, stopTiering := context.WithCancel(context.Background())
	tierDone := make(chan struct{})
	go func() {
		defer close(tierDone)
		s.tierer.Run(tierCtx)
	}()
	s.closers = append(s.closers, func() {
		stopTiering()
		<-tierDone
	})
	return s, nil
}

// close stops the tiering loop, then the broker, then closes the cache
// and the object store.
func (s *server) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

// runBroker starts the broker of f on store, serves HTTP, prints where it
// listens (with the Kafka listeners of more brokers: "strata dev --brokers
// N") and runs until ctx ends, then shuts down cleanly.
func runBroker(ctx context.Context, out io.Writer, f *serverFlags, more []string, log *slog.Logger, store *meta.Store, extra string) error {
	s, err := startServer(ctx, f, log.With("broker", f.id), store)
	if err != nil {
		return err
	}
	defer s.close()
	served := make(chan error, 1)
	go func() { served <- s.broker.Serve() }()
	var httpLn net.Listener
	var srv *http.Server
	if f.httpAddr != "" {
		httpLn, err = net.Listen("tcp", f.httpAddr)
		if err != nil {
			return fmt.Errorf("--http-addr %s: %w", f.httpAddr, err)
		}
		srv = &http.Server{Handler: httpHandler(s.broker, s.reg, s.sql), ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(httpLn)
		defer srv.Close()
	}
	kafka := append([]string{s.broker.Addr().String()}, more...)

	lines := []string{"kafka=" + strings.Join(kafka, ",")}
	if httpLn != nil {
		lines = append(lines, fmt.Sprintf("http=http://%s", httpLn.Addr()))
	}
	if extra != "" {
		lines = append(lines, extra)
	}
	lines = append(lines, fmt.Sprintf("objects=%s", s.objectsDesc), fmt.Sprintf("data=%s", f.dataDir), fmt.Sprintf("cluster=%s", s.broker.ClusterID()))
	fmt.Fprintf(out, "strata ready: %s\n", strings.Join(lines, " "))

	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-served:
		if err != nil {
			return err
		}
	}
	if srv != nil {
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		srv.Shutdown(shut)
		cancel()
	}
	return nil
}

// startBroker starts the broker, waiting out the registration a crashed
// predecessor with the same id may still hold until its lease expires.
func startBroker(ctx context.Context, cfg broker.Config, store *meta.Store, log *slog.Logger) (*broker.Broker, error) {
	for {
		b, err := broker.New(ctx, cfg, store)
		if err == nil || !errors.Is(err, meta.ErrBrokerIDInUse) {
			return b, err
		}
		log.Warn("broker id still registered, waiting for the old registration to expire", "id", cfg.NodeID, "ttl", cfg.SessionTTL)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (gave up waiting: %v)", err, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

func httpHandler(b *broker.Broker, reg *prometheus.Registry, sql *engine.Engine) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/sql", sql.Handler())
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !b.Ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return mux
}
