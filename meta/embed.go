package meta

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Defaults for EmbedConfig.
const (
	DefaultEmbedClientURL    = "http://127.0.0.1:2379"
	DefaultEmbedStartTimeout = 60 * time.Second
)

// EmbedConfig configures an embedded single-member etcd server.
type EmbedConfig struct {
	// Dir is the data directory (created if missing). Restarting on the same
	// Dir keeps the data. Required.
	Dir string
	// ClientURL is where clients connect. Default DefaultEmbedClientURL.
	// Port 0 (e.g. "http://127.0.0.1:0", as tests use) picks a free port.
	ClientURL string
	// PeerURL is the raft peer URL. Default: a free port on 127.0.0.1.
	PeerURL string
	// Logger receives etcd's own log records at error level and above.
	// Nil discards them.
	Logger *slog.Logger
	// StartTimeout bounds waiting for the server to be ready. Default
	// DefaultEmbedStartTimeout.
	StartTimeout time.Duration
	// UnsafeNoFsync disables fsync: faster, but a crash can lose or corrupt
	// data. Only for throw-away servers (tests).
	UnsafeNoFsync bool
}

// Embedded is a running embedded etcd server.
type Embedded struct {
	etcd      *embed.Etcd
	clientURL string
	peerURL   string
	lock      *os.File // held while running; see lockDir
	closeOnce sync.Once
	closing   *atomic.Bool // silences etcd's shutdown noise
}

// StartEmbedded starts a single-member etcd server in this process and waits
// until it is ready to serve clients, for at most cfg.StartTimeout.
// Auto-picked ports that turn out to be taken by the time etcd binds them are
// re-picked a few times. A Dir already used by a running embedded etcd (in
// this or another process) is an error.
func StartEmbedded(cfg EmbedConfig) (*Embedded, error) {
	if cfg.Dir == "" {
		return nil, errors.New("start embedded etcd: no data dir")
	}
	if cfg.ClientURL == "" {
		cfg.ClientURL = DefaultEmbedClientURL
	}
	if cfg.PeerURL == "" {
		cfg.PeerURL = "http://127.0.0.1:0"
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = DefaultEmbedStartTimeout
	}
	lock, err := lockDir(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("start embedded etcd: %w", err)
	}
	var lastErr error
	for range 5 {
		clientURL, clientPicked, err := resolvePort(cfg.ClientURL)
		if err != nil {
			lastErr = fmt.Errorf("start embedded etcd: client url: %w", err)
			break
		}
		peerURL, peerPicked, err := resolvePort(cfg.PeerURL)
		if err != nil {
			lastErr = fmt.Errorf("start embedded etcd: peer url: %w", err)
			break
		}
		e, err := startEmbedded(cfg, clientURL, peerURL)
		if err == nil {
			e.lock = lock
			return e, nil
		}
		lastErr = err
		// Retry only if a port we picked was taken in the meantime.
		if !isAddrInUse(err) ||
			!(clientPicked && strings.Contains(err.Error(), clientURL.Host) ||
				peerPicked && strings.Contains(err.Error(), peerURL.Host)) {
			break
		}
	}
	if lock != nil {
		lock.Close()
	}
	return nil, lastErr
}

func startEmbedded(cfg EmbedConfig, clientURL, peerURL *url.URL) (*Embedded, error) {
	ec := embed.NewConfig()
	ec.Name = "strata"
	ec.Dir = cfg.Dir
	ec.ListenClientUrls = []url.URL{*clientURL}
	ec.AdvertiseClientUrls = []url.URL{*clientURL}
	ec.ListenPeerUrls = []url.URL{*peerURL}
	ec.AdvertisePeerUrls = []url.URL{*peerURL}
	ec.InitialCluster = ec.InitialClusterFromName(ec.Name)
	ec.EnableGRPCGateway = false
	ec.UnsafeNoFsync = cfg.UnsafeNoFsync
	// Keep an hour of history so watchers can resume; compact the rest.
	ec.AutoCompactionMode = embed.CompactorModePeriodic
	ec.AutoCompactionRetention = "1h"
	closing := new(atomic.Bool)
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(newEtcdLogger(cfg.Logger, closing))

	// StartEtcd itself can block (e.g. on a file lock), so bound it too.
	timer := time.NewTimer(cfg.StartTimeout)
	defer timer.Stop()
	type started struct {
		etcd *embed.Etcd
		err  error
	}
	startc := make(chan started, 1)
	abandon := make(chan struct{})
	go func() {
		etcd, err := embed.StartEtcd(ec)
		select {
		case startc <- started{etcd, err}:
		case <-abandon:
			if err == nil {
				etcd.Close()
			}
		}
	}()
	var etcd *embed.Etcd
	select {
	case st := <-startc:
		if st.err != nil {
			return nil, fmt.Errorf("start embedded etcd in %s: %w", cfg.Dir, st.err)
		}
		etcd = st.etcd
	case <-timer.C:
		close(abandon)
		return nil, fmt.Errorf("start embedded etcd in %s: not started after %s", cfg.Dir, cfg.StartTimeout)
	}
	select {
	case <-etcd.Server.ReadyNotify():
	case err := <-etcd.Err():
		etcd.Close()
		return nil, fmt.Errorf("start embedded etcd in %s: %w", cfg.Dir, err)
	case <-timer.C:
		etcd.Close()
		return nil, fmt.Errorf("start embedded etcd in %s: not ready after %s", cfg.Dir, cfg.StartTimeout)
	}
	return &Embedded{etcd: etcd, clientURL: clientURL.String(), peerURL: peerURL.String(), closing: closing}, nil
}

// resolvePort returns u parsed, with port 0 (or no port) replaced by a port
// that was free a moment ago; picked reports whether it did so.
func resolvePort(raw string) (u *url.URL, picked bool, err error) {
	u, err = url.Parse(raw)
	if err != nil {
		return nil, false, err
	}
	if u.Scheme != "http" {
		return nil, false, fmt.Errorf("%q: only http:// URLs are supported", raw)
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return nil, false, fmt.Errorf("%q: no host", raw)
	}
	if port != "" && port != "0" {
		return u, false, nil
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, false, fmt.Errorf("pick a free port on %s: %w", host, err)
	}
	addr := l.Addr().(*net.TCPAddr)
	l.Close()
	u.Host = net.JoinHostPort(host, fmt.Sprint(addr.Port))
	return u, true, nil
}

func isAddrInUse(err error) bool {
	return errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use")
}

// Endpoints returns the client URLs to give clientv3.
func (e *Embedded) Endpoints() []string { return []string{e.clientURL} }

// ClientURL returns the client URL (with the actual port).
func (e *Embedded) ClientURL() string { return e.clientURL }

// PeerURL returns the peer URL (with the actual port).
func (e *Embedded) PeerURL() string { return e.peerURL }

// Client returns a new client connected to the server; the caller closes it.
func (e *Embedded) Client() (*clientv3.Client, error) {
	return NewClient(e.Endpoints())
}

// NewClient returns an etcd client for endpoints with Strata's defaults (5s
// dial timeout, client logging off). It does not wait for a connection;
// the first request does.
func NewClient(endpoints []string) (*clientv3.Client, error) {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client for %v: %w", endpoints, err)
	}
	return cli, nil
}

// Close stops the server (gracefully: in-flight requests get a short grace
// period). It is idempotent.
func (e *Embedded) Close() error {
	e.closeOnce.Do(func() {
		e.closing.Store(true)
		e.etcd.Close()
		if e.lock != nil {
			e.lock.Close()
		}
	})
	return nil
}
