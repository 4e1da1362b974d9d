// Package group is the broker side of Kafka's classic consumer group
// protocol: the group coordinator.
//
// It serves JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit,
// OffsetFetch, DescribeGroups, ListGroups, DeleteGroups and OffsetDelete
// over franz-go's kmsg request and response types, with the semantics of
// Apache Kafka's GroupCoordinator (group states Empty, PreparingRebalance,
// CompletingRebalance, Stable and Dead; generations; protocol selection by
// vote; MEMBER_ID_REQUIRED; the initial rebalance delay; session and
// rebalance timeouts; pending-sync expiry; static membership).
//
// Group membership lives in memory only: after a broker restart members
// rejoin. Committed offsets live only in the OffsetStore.
//
// Concurrency: every group has its own mutex; the coordinator's map of
// groups has another, never held while acquiring a group's. No lock is held
// across OffsetStore calls. Handlers that wait (JoinGroup, SyncGroup) block
// on a per-request channel and return promptly when their ctx is done.
package group

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-log/strata/meta"
)

// The highest version of each API this package serves; the broker
// advertises them in ApiVersions. The minimum of each is 0.
const (
	JoinGroupMaxVersion      int16 = 9
	SyncGroupMaxVersion      int16 = 5
	HeartbeatMaxVersion      int16 = 4
	LeaveGroupMaxVersion     int16 = 5
	OffsetCommitMaxVersion   int16 = 9 // v10 addresses topics by id
	OffsetFetchMaxVersion    int16 = 9 // v10 addresses topics by id
	DescribeGroupsMaxVersion int16 = 5
	ListGroupsMaxVersion     int16 = 5
	DeleteGroupsMaxVersion   int16 = 2
	OffsetDeleteMaxVersion   int16 = 0
)

// Defaults, as in Kafka.
const (
	DefaultMinSessionTimeout      = 6 * time.Second  // group.min.session.timeout.ms
	DefaultMaxSessionTimeout      = 30 * time.Minute // group.max.session.timeout.ms
	DefaultInitialRebalanceDelay  = 3 * time.Second  // group.initial.rebalance.delay.ms
	DefaultOffsetMetadataMaxBytes = 4096             // offset.metadata.max.bytes
)

// Config configures a Coordinator. The zero value is usable: zero fields
// take Kafka's defaults.
type Config struct {
	// MinSessionTimeout and MaxSessionTimeout bound the session timeout a
	// member may ask for in JoinGroup (else INVALID_SESSION_TIMEOUT).
	// Zero means 6s and 30m.
	MinSessionTimeout, MaxSessionTimeout time.Duration

	// InitialRebalanceDelay is how long the first rebalance of an empty
	// group waits for more members to join (extended by each new member,
	// up to the rebalance timeout), as Kafka's InitialDelayedJoin. Zero
	// means 3s; negative means no delay.
	InitialRebalanceDelay time.Duration

	// MaxSize is the largest number of members in a group
	// (GROUP_MAX_SIZE_REACHED beyond). Zero means unlimited.
	MaxSize int

	// OffsetMetadataMaxBytes bounds the metadata string of a committed
	// offset (OFFSET_METADATA_TOO_LARGE beyond). Zero means 4096;
	// negative means unlimited.
	OffsetMetadataMaxBytes int

	// PartitionExists reports whether a partition exists, for
	// OffsetCommit and OffsetDelete (UNKNOWN_TOPIC_OR_PARTITION if not).
	// Nil means every partition with a valid topic name and a
	// non-negative index exists.
	PartitionExists func(topic string, partition int32) bool

	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// OffsetStore keeps committed offsets. *meta.Store satisfies it.
type OffsetStore interface {
	CommitOffsets(ctx context.Context, group string, offs []meta.GroupOffset) error
	FetchOffsets(ctx context.Context, group string) ([]meta.GroupOffset, error)
	DeleteOffsets(ctx context.Context, group, topic string, partitions []int32) error
	DeleteGroupOffsets(ctx context.Context, group string) error
	GroupsWithOffsets(ctx context.Context) ([]string, error)
}

// Coordinator is the group coordinator. It is safe for concurrent use.
type Coordinator struct {
	cfg   Config
	store OffsetStore
	log   *slog.Logger

	mu      sync.Mutex // guards groups and closed; never held while taking a group's mutex
	groups  map[string]*group
	closed  bool
	closeCh chan struct{}

	// timers counts scheduled and running timer callbacks, so Close can
	// wait for them.
	timers sync.WaitGroup
}

// New returns a Coordinator keeping offsets in store.
func New(cfg Config, store OffsetStore) *Coordinator {
	if cfg.MinSessionTimeout == 0 {
		cfg.MinSessionTimeout = DefaultMinSessionTimeout
	}
	if cfg.MaxSessionTimeout == 0 {
		cfg.MaxSessionTimeout = DefaultMaxSessionTimeout
	}
	if cfg.InitialRebalanceDelay == 0 {
		cfg.InitialRebalanceDelay = DefaultInitialRebalanceDelay
	}
	if cfg.OffsetMetadataMaxBytes == 0 {
		cfg.OffsetMetadataMaxBytes = DefaultOffsetMetadataMaxBytes
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Coordinator{
		cfg:     cfg,
		store:   store,
		log:     log.With("component", "group-coordinator"),
		groups:  make(map[string]*group),
		closeCh: make(chan struct{}),
	}
}

// Close stops the coordinator: pending JoinGroups fail with
// COORDINATOR_NOT_AVAILABLE, pending SyncGroups with REBALANCE_IN_PROGRESS,
// every timer is stopped and later requests get COORDINATOR_NOT_AVAILABLE.
// It waits for running timer callbacks and is idempotent.
func (c *Coordinator) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	close(c.closeCh)
	gs := make([]*group, 0, len(c.groups))
	for _, g := range c.groups {
		gs = append(gs, g)
	}
	c.groups = make(map[string]*group)
	c.mu.Unlock()

	for _, g := range gs {
		g.mu.Lock()
		g.shutdown()
		g.mu.Unlock()
	}
	c.timers.Wait()
}

var errClosed = errors.New("group coordinator closed")

// lockGroup returns the named group locked, creating it if create is set.
// It returns (nil, nil) if the group does not exist and create is unset,
// and errClosed once the coordinator is closed. A Dead group (deleted
// concurrently) is never returned: lookup is retried.
func (c *Coordinator) lockGroup(name string, create bool) (*group, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, errClosed
		}
		g := c.groups[name]
		if g == nil {
			if !create {
				c.mu.Unlock()
				return nil, nil
			}
			g = newGroup(c, name)
			c.groups[name] = g
		}
		c.mu.Unlock()
		g.mu.Lock()
		if g.state != stateDead {
			return g, nil
		}
		g.mu.Unlock()
	}
}

// isClosed reports whether Close was called.
func (c *Coordinator) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// forget removes g from the coordinator's map if it is still there. The
// caller holds g.mu (the allowed lock order is group, then coordinator).
func (c *Coordinator) forget(g *group) {
	c.mu.Lock()
	if c.groups[g.name] == g {
		delete(c.groups, g.name)
	}
	c.mu.Unlock()
}

// snapshot returns the groups in memory.
func (c *Coordinator) snapshot() []*group {
	c.mu.Lock()
	defer c.mu.Unlock()
	gs := make([]*group, 0, len(c.groups))
	for _, g := range c.groups {
		gs = append(gs, g)
	}
	return gs
}

// partitionExists applies Config.PartitionExists, after the checks the
// store itself would fail on.
func (c *Coordinator) partitionExists(topic string, partition int32) bool {
	if partition < 0 || meta.ValidateTopicName(topic) != nil {
		return false
	}
	if c.cfg.PartitionExists == nil {
		return true
	}
	return c.cfg.PartitionExists(topic, partition)
}

type clientInfoKey struct{}

type clientInfo struct {
	clientID, clientHost string
}

// WithClientInfo returns ctx carrying the request header's client id and
// the connection's remote host, which JoinGroup records for the member
// (member ids are prefixed by the client id, DescribeGroups reports both).
// The broker's connection layer sets it; without it both are empty.
func WithClientInfo(ctx context.Context, clientID, clientHost string) context.Context {
	return context.WithValue(ctx, clientInfoKey{}, clientInfo{clientID, clientHost})
}

func clientInfoFrom(ctx context.Context) clientInfo {
	ci, _ := ctx.Value(clientInfoKey{}).(clientInfo)
	return ci
}

// newMemberID returns prefix-<uuid>, as Kafka (prefix is the client id, or
// the group instance id for a static member).
func newMemberID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%s-%x-%x-%x-%x-%x", prefix, b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// ms converts Kafka milliseconds to a Duration.
func ms(v int32) time.Duration { return time.Duration(v) * time.Millisecond }

func strp(s string) *string { return &s }

// kmsg response constructors with the request's version.
func kmsgJoinResp(version int16) *kmsg.JoinGroupResponse {
	r := kmsg.NewPtrJoinGroupResponse()
	r.Version = version
	return r
}

func kmsgSyncResp(version int16) *kmsg.SyncGroupResponse {
	r := kmsg.NewPtrSyncGroupResponse()
	r.Version = version
	return r
}
