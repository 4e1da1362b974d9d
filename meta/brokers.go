package meta

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// DefaultBrokerTTL is the lease TTL RegisterBroker uses when given ttl <= 0.
const DefaultBrokerTTL = 10 * time.Second

// BrokerInfo is what a broker advertises about itself. Stored as JSON at
// <p>/brokers/<id>.
type BrokerInfo struct {
	ID       int32  `json:"id"`
	Host     string `json:"host"`
	Port     int32  `json:"port"`
	Rack     string `json:"rack,omitempty"`
	HTTPAddr string `json:"httpAddr,omitempty"`
	// ReplicationAddr is where the broker accepts leaders' replication
	// connections (host:port; empty: it follows no partition).
	ReplicationAddr string `json:"replicationAddr,omitempty"`
}

func (s *Store) brokersPrefix() string     { return s.prefix + "/brokers/" }
func (s *Store) brokerKey(id int32) string { return s.brokersPrefix() + strconv.Itoa(int(id)) }

// Registration is a broker's live registration: its key in etcd, attached to
// a lease that is kept alive in the background until Close.
type Registration struct {
	info  BrokerInfo
	lease clientv3.LeaseID
	cli   *clientv3.Client

	cancel context.CancelFunc
	done   chan struct{} // closed when the background goroutine exits

	lost     chan struct{}
	lostOnce sync.Once

	closeOnce sync.Once
	closeErr  error
}

// RegisterBroker registers a live broker: it grants a lease of ttl (rounded
// up to whole seconds; ttl <= 0 means DefaultBrokerTTL; etcd may raise very
// short TTLs to its minimum), puts <p>/brokers/<id> with that lease if no
// other live registration holds the id, and keeps the lease alive in the
// background.
//
// If the id is held by another live registration it fails with an error
// wrapping ErrBrokerIDInUse. This also happens when a crashed broker restarts
// before its previous lease expired; callers may retry after ttl.
//
// The registration stays alive after ctx is done (ctx bounds only the
// registration itself); call Registration.Close to deregister.
func (s *Store) RegisterBroker(ctx context.Context, info BrokerInfo, ttl time.Duration) (*Registration, error) {
	if info.ID < 0 {
		return nil, fmt.Errorf("register broker %d: negative broker id", info.ID)
	}
	if ttl <= 0 {
		ttl = DefaultBrokerTTL
	}
	secs := int64(math.Ceil(ttl.Seconds()))
	val, err := json.Marshal(info)
	if err != nil {
		return nil, fmt.Errorf("register broker %d: %w", info.ID, err)
	}
	key := s.brokerKey(info.ID)

	grant, err := s.cli.Grant(ctx, secs)
	if err != nil {
		return nil, fmt.Errorf("register broker %d: grant lease: %w", info.ID, err)
	}
	lease := grant.ID
	revoke := func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_, _ = s.cli.Revoke(rctx, lease)
	}

	tresp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(val), clientv3.WithLease(lease))).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		revoke()
		return nil, fmt.Errorf("register broker %d: %w", info.ID, err)
	}
	if !tresp.Succeeded {
		revoke()
		holder := ""
		if kvs := tresp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
			holder = fmt.Sprintf(" (held by %s, lease %x)", kvs[0].Value, kvs[0].Lease)
		}
		return nil, fmt.Errorf("register broker %d: %w%s", info.ID, ErrBrokerIDInUse, holder)
	}
	putRev := tresp.Header.Revision

	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	kaCh, err := s.cli.KeepAlive(bg, lease)
	if err != nil {
		cancel()
		revoke()
		return nil, fmt.Errorf("register broker %d: keep lease alive: %w", info.ID, err)
	}
	r := &Registration{
		info:   info,
		lease:  lease,
		cli:    s.cli,
		cancel: cancel,
		done:   make(chan struct{}),
		lost:   make(chan struct{}),
	}
	go r.run(bg, key, putRev, kaCh)
	return r, nil
}

// run drains keep-alive responses and watches the broker key. The
// registration is lost when the keep-alive channel closes (lease expired or
// revoked, or renewals failed for a whole TTL), or when the key is deleted
// or re-put under another lease.
func (r *Registration) run(ctx context.Context, key string, rev int64, kaCh <-chan *clientv3.LeaseKeepAliveResponse) {
	defer close(r.done)
	defer r.markLost()

	var wch clientv3.WatchChan
	wcancel := context.CancelFunc(func() {})
	defer func() { wcancel() }()
	watch := func(from int64) {
		var wctx context.Context
		wctx, wcancel = context.WithCancel(ctx)
		wch = r.cli.Watch(wctx, key, clientv3.WithRev(from))
	}
	watch(rev + 1)
	var retry <-chan time.Time
	for {
		select {
		case _, ok := <-kaCh:
			if !ok {
				return
			}
		case wr, ok := <-wch:
			if ctx.Err() != nil {
				return
			}
			if ok && wr.Err() == nil {
				for _, ev := range wr.Events {
					if ev.Type == mvccpb.DELETE || clientv3.LeaseID(ev.Kv.Lease) != r.lease {
						return
					}
				}
				if !wr.Canceled {
					continue
				}
			}
			// The watch broke (compaction, cancellation, closed stream):
			// check the key directly, then watch again from there.
			wcancel()
			wch = nil
			retry = time.After(0)
		case <-retry:
			retry = nil
			held, nextRev, err := r.check(ctx, key)
			if err != nil {
				// etcd unreachable: the keep-alive channel closes if that
				// lasts past the TTL.
				retry = time.After(500 * time.Millisecond)
				continue
			}
			if !held {
				return
			}
			watch(nextRev)
		case <-ctx.Done():
			return
		}
	}
}

// check reports whether key still exists with this registration's lease, and
// the revision to resume watching from.
func (r *Registration) check(ctx context.Context, key string) (held bool, nextRev int64, err error) {
	gctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := r.cli.Get(gctx, key)
	if err != nil {
		return false, 0, err
	}
	if len(resp.Kvs) == 0 || clientv3.LeaseID(resp.Kvs[0].Lease) != r.lease {
		return false, 0, nil
	}
	return true, resp.Header.Revision + 1, nil
}

func (r *Registration) markLost() { r.lostOnce.Do(func() { close(r.lost) }) }

// Info returns the registered BrokerInfo.
func (r *Registration) Info() BrokerInfo { return r.info }

// LeaseID returns the etcd lease the registration's key is attached to.
func (r *Registration) LeaseID() clientv3.LeaseID { return r.lease }

// Lost returns a channel that is closed once the registration is no longer
// held: the lease expired or was revoked, the key was deleted or taken over,
// or Close was called. A broker whose registration is lost must stop acting
// as a cluster member (and may register again).
func (r *Registration) Lost() <-chan struct{} { return r.lost }

// Close stops the keep-alive and revokes the lease, deleting the broker key.
// It is idempotent; later calls return the first call's result. A lease that
// is already gone is not an error.
func (r *Registration) Close() error {
	r.closeOnce.Do(func() {
		r.cancel()
		<-r.done
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := r.cli.Revoke(ctx, r.lease); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
			r.closeErr = fmt.Errorf("deregister broker %d: revoke lease: %w", r.info.ID, err)
		}
	})
	return r.closeErr
}

// Brokers returns every registered (live) broker, sorted by ID.
func (s *Store) Brokers(ctx context.Context) ([]BrokerInfo, error) {
	resp, err := s.cli.Get(ctx, s.brokersPrefix(), clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("list brokers: %w", err)
	}
	out := make([]BrokerInfo, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var b BrokerInfo
		if err := json.Unmarshal(kv.Value, &b); err != nil {
			return nil, fmt.Errorf("list brokers: decode %s: %w", kv.Key, err)
		}
		if id, err := strconv.ParseInt(strings.TrimPrefix(string(kv.Key), s.brokersPrefix()), 10, 32); err == nil {
			b.ID = int32(id) // the key is authoritative
		}
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b BrokerInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}
