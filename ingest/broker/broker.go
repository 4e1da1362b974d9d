// Package broker serves the Kafka wire protocol on top of Strata's
// partitions, consumer group coordinator and etcd metadata.
//
// Each Kafka API key lives in its own file named after the key
// (00_produce.go, 01_fetch.go, ...), declaring the versions it serves and
// registering itself; ApiVersions is built from those registrations. Request
// and response types are franz-go's kmsg.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/strata-log/strata/ingest/group"
	"github.com/strata-log/strata/ingest/partition"
	"github.com/strata-log/strata/ingest/replication"
	"github.com/strata-log/strata/ingest/wal"
	"github.com/strata-log/strata/meta"
)

// Config configures a Broker. Zero values take the documented defaults.
type Config struct {
	NodeID         int32
	ListenAddr     string // Kafka listener, default 127.0.0.1:9092
	AdvertisedAddr string // host:port clients are told to use, default the listener's address
	Rack           string
	HTTPAddr       string // advertised in the broker registration, for "strata cluster status"
	// ReplicationAddr is where followers accept their leaders'
	// replication connections (default 127.0.0.1:0); other brokers must
	// reach it at the listener's address.
	ReplicationAddr string
	// ReplicationPeers overrides, by broker id, the address this broker
	// dials to reach another broker's replication listener (instead of the
	// one that broker registered): for address translation, and for tests
	// that put a proxy between each pair of brokers.
	ReplicationPeers map[int32]string
	DataDir          string // the WAL lives in DataDir/wal

	AutoCreateTopics         bool
	DefaultPartitions        int32 // num.partitions, default 1
	DefaultReplicationFactor int16 // default.replication.factor, default 1

	MaxRequestBytes int32 // socket.request.max.bytes, default 100 MiB
	WALSegmentBytes int64 // default 64 MiB
	WALNoSync       bool  // skip fsync: never in production
	// WALVolatileWrites keeps WAL writes in memory until their fsync
	// (wal.NewVolatileFS), for crash tests across processes.
	WALVolatileWrites bool
	// WALMaxBytes: while the WAL holds this much (tiering is behind),
	// produce requests get a retriable KAFKA_STORAGE_ERROR. 0: no limit.
	WALMaxBytes     int64
	SessionTTL      time.Duration // etcd lease of the broker registration, default 10s
	ProducerIDBlock int64         // producer ids taken from etcd at a time, default 1000

	Group group.Config

	// Cold serves tiered data (nil: this broker tiers nothing, and
	// offsets its manifests say are tiered cannot be read).
	Cold partition.Cold

	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

func (c *Config) setDefaults() {
	if c.ListenAddr == "" {
		c.ListenAddr = "127.0.0.1:9092"
	}
	if c.ReplicationAddr == "" {
		c.ReplicationAddr = "127.0.0.1:0"
	}
	if c.DefaultPartitions == 0 {
		c.DefaultPartitions = 1
	}
	if c.DefaultReplicationFactor == 0 {
		c.DefaultReplicationFactor = 1
	}
	if c.MaxRequestBytes == 0 {
		c.MaxRequestBytes = 100 << 20
	}
	if c.WALSegmentBytes == 0 {
		c.WALSegmentBytes = 64 << 20
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = 10 * time.Second
	}
	if c.ProducerIDBlock == 0 {
		c.ProducerIDBlock = 1000
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Registerer == nil {
		c.Registerer = prometheus.NewRegistry()
	}
}

// Validate reports the first invalid setting, naming it. Zero values
// stand for their defaults.
func (c Config) Validate() error {
	c.setDefaults()
	switch {
	case c.NodeID < 0:
		return fmt.Errorf("broker id %d: must be >= 0", c.NodeID)
	case c.DataDir == "":
		return errors.New("data dir: must be set")
	case c.DefaultPartitions < 1:
		return fmt.Errorf("default partitions %d: must be >= 1", c.DefaultPartitions)
	case c.DefaultReplicationFactor < 1:
		return fmt.Errorf("default replication factor %d: must be at least 1", c.DefaultReplicationFactor)
	case c.MaxRequestBytes < 1024:
		return fmt.Errorf("max request bytes %d: must be >= 1024", c.MaxRequestBytes)
	case c.WALMaxBytes < 0:
		return fmt.Errorf("wal max bytes %d: must not be negative", c.WALMaxBytes)
	case c.SessionTTL < time.Second:
		return fmt.Errorf("session ttl %s: must be >= 1s", c.SessionTTL)
	}
	if _, _, err := net.SplitHostPort(c.ListenAddr); err != nil {
		return fmt.Errorf("kafka address %q: %w", c.ListenAddr, err)
	}
	if c.AdvertisedAddr != "" {
		if _, err := splitHostPort(c.AdvertisedAddr); err != nil {
			return fmt.Errorf("advertised kafka address %q: %w", c.AdvertisedAddr, err)
		}
	}
	return nil
}

type hostPort struct {
	host string
	port int32
}

func splitHostPort(addr string) (hostPort, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return hostPort{}, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return hostPort{}, fmt.Errorf("bad port %q", p)
	}
	if h == "" {
		return hostPort{}, errors.New("missing host")
	}
	return hostPort{h, int32(port)}, nil
}

// Broker is one Strata broker.
type Broker struct {
	cfg     Config
	log     *slog.Logger
	meta    *meta.Store
	wal     *wal.WAL
	parts   *partition.Manager
	groups  *group.Coordinator
	metrics *metrics
	pids    producerIDs
	live    liveBrokers
	repl    replicaState

	clusterID  string
	advertised hostPort
	ln         net.Listener
	reg        atomic.Pointer[meta.Registration]

	topics atomic.Pointer[topicCache]
	// topicsMu guards topicsChanged, closed and replaced whenever the
	// cache is rebuilt.
	topicsMu      sync.Mutex
	topicsChanged chan struct{}

	walFullLogged atomic.Int64 // unix ns of the last "WAL full" warning

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	ready   atomic.Bool
	closeMu sync.Once
}

// New opens the broker's WAL, recovers every partition it holds, registers
// the broker in etcd and starts listening. Serving starts with Serve.
func New(ctx context.Context, cfg Config, store *meta.Store) (*Broker, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	b := &Broker{cfg: cfg, log: cfg.Logger.With("broker", cfg.NodeID), meta: store}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.metrics = newMetrics(cfg.Registerer)
	b.pids.b = b

	ok := false
	defer func() {
		if !ok {
			b.Close()
		}
	}()

	var err error
	if b.clusterID, err = store.ClusterID(ctx); err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	var walFS wal.FS
	if cfg.WALVolatileWrites {
		walFS = wal.NewVolatileFS(wal.OSFS())
	}
	b.wal, err = wal.Open(wal.Options{
		Dir:         filepath.Join(cfg.DataDir, "wal"),
		SegmentSize: cfg.WALSegmentBytes,
		NoSync:      cfg.WALNoSync,
		FS:          walFS,
		Logger:      b.log,
		Registerer:  cfg.Registerer,
	})
	if err != nil {
		return nil, fmt.Errorf("open wal: %w", err)
	}
	b.parts = partition.NewManager(b.wal, cfg.Cold, cfg.NodeID)

	topics, err := store.Topics(ctx)
	if err != nil {
		return nil, fmt.Errorf("etcd: list topics: %w", err)
	}
	known := map[[16]byte]bool{}
	for _, t := range topics {
		known[t.ID] = true
	}
	manifests, err := store.Manifests(ctx)
	if err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	tiered := map[partition.ID]partition.Tiered{}
	for _, m := range manifests {
		if known[m.TopicID] {
			t := partition.Tiered{End: m.EndOffset(), LogStart: m.LogStart}
			for _, p := range m.Producers {
				st := partition.ProducerState{ID: p.ID, Epoch: p.Epoch, LastMs: p.LastMs}
				for _, b := range p.Batches {
					st.Batches = append(st.Batches, partition.SeqBatch{FirstSeq: int32(b[0]), LastSeq: int32(b[1]), Base: b[2], Last: b[3]})
				}
				t.Producers = append(t.Producers, st)
			}
			tiered[partition.ID{Topic: m.TopicID, Partition: m.Partition}] = t
		}
	}
	b.parts.Restore(tiered)
	start := time.Now()
	if err := b.parts.Recover(func(id partition.ID) bool { return known[id.Topic] }); err != nil {
		return nil, fmt.Errorf("recover wal: %w", err)
	}
	b.log.Info("recovered wal", "topics", len(topics), "took", time.Since(start).Round(time.Millisecond))

	gcfg := cfg.Group
	gcfg.Logger = b.log.With("component", "groups")
	gcfg.PartitionExists = b.partitionExists
	b.groups = group.New(gcfg, store)

	b.ln, err = net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("kafka listener: %w", err)
	}
	rln, err := net.Listen("tcp", cfg.ReplicationAddr)
	if err != nil {
		return nil, fmt.Errorf("replication listener: %w", err)
	}
	b.repl.srv = replication.NewServer(rln, cfg.NodeID, b.parts, b.log)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		if err := b.repl.srv.Serve(); err != nil {
			b.log.Error("replication listener", "err", err)
		}
	}()
	adv := cfg.AdvertisedAddr
	if adv == "" {
		adv = b.ln.Addr().String()
	}
	if b.advertised, err = splitHostPort(adv); err != nil {
		return nil, fmt.Errorf("advertised kafka address %q: %w", adv, err)
	}
	if err := b.register(ctx); err != nil {
		return nil, err
	}
	if err := b.applyTopics(ctx, topics); err != nil {
		return nil, err
	}
	b.wg.Add(4)
	go func() {
		defer b.wg.Done()
		b.keepRegistered()
	}()
	go func() {
		defer b.wg.Done()
		b.watchTopics()
	}()
	go func() {
		defer b.wg.Done()
		b.watchPartitions()
	}()
	go func() {
		defer b.wg.Done()
		b.watchLeaders()
	}()
	ok = true
	return b, nil
}

// Addr is the Kafka listener's address.
func (b *Broker) Addr() net.Addr { return b.ln.Addr() }

// ClusterID is the cluster's id from etcd.
func (b *Broker) ClusterID() string { return b.clusterID }

// Ready reports whether the broker is serving and holds its registration.
func (b *Broker) Ready() bool {
	if !b.ready.Load() {
		return false
	}
	select {
	case <-b.reg.Load().Lost():
		return false
	default:
		return true
	}
}

// Partitions returns the broker's partition logs.
func (b *Broker) Partitions() *partition.Manager { return b.parts }

// HeldPartition is a partition this broker holds a replica of, with its
// topic's configs.
type HeldPartition struct {
	Log     *partition.Log
	Configs map[string]string // the topic's configs; do not modify
}

// LedPartitions lists the partitions this broker leads.
func (b *Broker) LedPartitions() []HeldPartition { return b.heldPartitions(true) }

// FollowedPartitions lists the replicated partitions this broker follows.
func (b *Broker) FollowedPartitions() []HeldPartition { return b.heldPartitions(false) }

// heldPartitions lists the local logs of the partitions this broker leads
// (or, with leads false, holds a replica of without leading).
func (b *Broker) heldPartitions(leads bool) []HeldPartition {
	var out []HeldPartition
	for _, t := range b.allTopics() {
		for p, st := range t.parts {
			if (st.Leader == b.cfg.NodeID) != leads || !slices.Contains(st.Replicas, b.cfg.NodeID) {
				continue
			}
			if l := b.parts.Log(t.partID(int32(p))); l != nil {
				out = append(out, HeldPartition{Log: l, Configs: t.Configs})
			}
		}
	}
	return out
}

// WALStats returns the write-ahead log's counters.
func (b *Broker) WALStats() wal.Stats { return b.wal.Stats() }

// Serve accepts connections until Close. It returns nil after Close.
func (b *Broker) Serve() error {
	b.ready.Store(true)
	for {
		nc, err := b.ln.Accept()
		if err != nil {
			if b.ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return fmt.Errorf("accept: %w", err)
		}
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			b.serveConn(nc)
		}()
	}
}

// Close stops serving, waits for connections to finish, and closes the WAL.
// Every acknowledged record is already durable; Close loses nothing.
func (b *Broker) Close() error {
	var err error
	b.closeMu.Do(func() {
		b.ready.Store(false)
		b.cancel()
		if b.ln != nil {
			b.ln.Close()
		}
		if b.groups != nil {
			b.groups.Close()
		}
		b.closeReplicas()
		b.wg.Wait()
		if reg := b.reg.Load(); reg != nil {
			if e := reg.Close(); e != nil {
				b.log.Warn("revoke broker registration", "err", e)
			}
		}
		if b.wal != nil {
			err = b.wal.Close()
		}
		b.metrics.unregister()
	})
	return err
}

// leaseFile keeps the etcd lease of the broker's registration in its data
// directory. A broker that crashed left its registration alive until the
// lease expires; when it restarts on the same data directory it is the
// same broker, so it revokes that lease instead of waiting it out. Only
// the owner of the directory knows the lease id, so another live broker's
// registration is never taken over.
const leaseFile = "broker.lease"

func (b *Broker) register(ctx context.Context) error {
	path := filepath.Join(b.cfg.DataDir, leaseFile)
	if raw, err := os.ReadFile(path); err == nil {
		if id, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 16, 64); err == nil {
			if _, err := b.meta.Client().Revoke(ctx, clientv3.LeaseID(id)); err == nil {
				b.log.Info("revoked the registration of this broker's previous run", "lease", fmt.Sprintf("%x", id))
			}
		}
	}
	reg, err := b.meta.RegisterBroker(ctx, meta.BrokerInfo{
		ID: b.cfg.NodeID, Host: b.advertised.host, Port: b.advertised.port, Rack: b.cfg.Rack, HTTPAddr: b.cfg.HTTPAddr,
		ReplicationAddr: b.replicationAdvertised(),
	}, b.cfg.SessionTTL)
	if err != nil {
		return fmt.Errorf("register broker %d: %w", b.cfg.NodeID, err)
	}
	b.reg.Store(reg)
	if err := writeFileSync(path, []byte(fmt.Sprintf("%x\n", int64(reg.LeaseID())))); err != nil {
		return fmt.Errorf("register broker %d: %w", b.cfg.NodeID, err)
	}
	return nil
}

// replicationAdvertised is the replication listener's address as other
// brokers should dial it: an unspecified host (0.0.0.0, ::) is replaced by
// the advertised Kafka host.
func (b *Broker) replicationAdvertised() string {
	addr := b.repl.srv.Addr().(*net.TCPAddr)
	if addr.IP.IsUnspecified() {
		return net.JoinHostPort(b.advertised.host, strconv.Itoa(addr.Port))
	}
	return addr.String()
}

// keepRegistered registers the broker again whenever its registration is
// lost: its lease expired while the process was paused or cut off from
// etcd. Meanwhile the other brokers count it as gone (its partitions fail
// over), and once back it rejoins as a follower of them.
func (b *Broker) keepRegistered() {
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-b.reg.Load().Lost():
		}
		b.log.Warn("broker registration lost (the etcd lease expired: paused, or cut off from etcd); registering again")
		for attempt := 0; b.ctx.Err() == nil; attempt++ {
			ctx, cancel := context.WithTimeout(b.ctx, b.cfg.SessionTTL)
			err := b.register(ctx)
			cancel()
			if err == nil {
				b.log.Info("registered again")
				break
			}
			if !sleep(b.ctx, min(time.Duration(attempt+1)*200*time.Millisecond, 2*time.Second)) {
				return
			}
		}
	}
}

// writeFileSync replaces path with data durably.
func writeFileSync(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
