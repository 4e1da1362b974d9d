package e2e

// The comparison harness of issue 4: the same workload run against a
// three-node NATS JetStream cluster with three replicas and against a
// Strata topology, so BenchmarkCompareReplicated (compare_test.go) can put
// them side by side.
//
// Partitions map to NATS like this: a Strata topic of comparePartitions
// partitions is either one R3 stream with one subject per partition
// ("cmp.<run>.<p>"), or one R3 stream per partition. A partition and a
// stream are both one ordered log with one leader and one replication
// group, so the stream-per-partition mapping is the closer match; the
// one-stream mapping is how most NATS users would lay it out. The
// benchmark runs both.
//
// Durability differs and the numbers must be read with it in mind: Strata
// acknowledges acks=all after the WAL is fsynced, nats-server 2.9 after a
// quorum of replicas has the message in its file store's buffers (it has
// no sync_interval option yet; it fsyncs every two minutes).

import (
	"context"
	"crypto/rand"
	compareendian "encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// natsServerBinEnv names an environment variable that, if set, is the path
// of the nats-server binary to use instead of the one on PATH.
const natsServerBinEnv = "STRATA_NATS_SERVER_BIN"

// Timeouts of the NATS cluster.
const (
	natsReadyTimeout  = 30 * time.Second
	natsStopTimeout   = 10 * time.Second
	natsStreamTimeout = 30 * time.Second
)

// natsServerBinary finds nats-server: $STRATA_NATS_SERVER_BIN, then PATH
// (e2e/scripts/install-deps.sh installs Debian's package).
func natsServerBinary() (string, bool) {
	if p := os.Getenv(natsServerBinEnv); p != "" {
		return p, true
	}
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p, true
	}
	return "", false
}

// natsRequireServer returns the path of nats-server. Without it the test
// is skipped, unless CI is set, where that is a failure: CI installs it.
func natsRequireServer(t testing.TB) string {
	t.Helper()
	bin, ok := natsServerBinary()
	if ok {
		return bin
	}
	if ci := os.Getenv("CI"); ci != "" && ci != "false" && ci != "0" {
		t.Fatalf("nats-server not found but CI=%s: run e2e/scripts/install-deps.sh", ci)
	}
	t.Skipf("nats-server not found (run e2e/scripts/install-deps.sh, or set %s)", natsServerBinEnv)
	return ""
}

// natsNode is one nats-server process of a natsCluster.
type natsNode struct {
	Name       string // server_name
	ClientURL  string // nats://127.0.0.1:PORT
	MonitorURL string // http://127.0.0.1:PORT
	StoreDir   string // JetStream store_dir
	LogPath    string // stdout and stderr of the process

	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	waitErr error         // valid after done
}

func (n *natsNode) exited() bool {
	select {
	case <-n.done:
		return true
	default:
		return false
	}
}

// natsCluster is a JetStream cluster of nats-server processes on loopback.
type natsCluster struct {
	Nodes []*natsNode

	t       testing.TB
	stopped bool
}

// natsStartCluster starts a JetStream cluster of n nats-server processes on
// loopback with full-mesh cluster routes and a store directory per node
// under t.TempDir(), and waits until it has a JetStream meta leader that
// every node agrees on. The processes are killed when the test ends.
func natsStartCluster(t testing.TB, n int) *natsCluster {
	t.Helper()
	bin := natsRequireServer(t)
	ports := natsFreePorts(t, 3*n)
	dir := t.TempDir()
	c := &natsCluster{t: t}
	var routes []string
	for i := range n {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[3*i+1]))
	}
	for i := range n {
		node := &natsNode{
			Name:       fmt.Sprintf("n%d", i+1),
			ClientURL:  fmt.Sprintf("nats://127.0.0.1:%d", ports[3*i]),
			MonitorURL: fmt.Sprintf("http://127.0.0.1:%d", ports[3*i+2]),
			StoreDir:   filepath.Join(dir, fmt.Sprintf("n%d-store", i+1)),
			LogPath:    filepath.Join(dir, fmt.Sprintf("n%d.log", i+1)),
			done:       make(chan struct{}),
		}
		conf := fmt.Sprintf(`server_name: %q
listen: "127.0.0.1:%d"
http: "127.0.0.1:%d"
jetstream {
  store_dir: %q
  max_memory_store: 256MB
  max_file_store: 64GB
}
cluster {
  name: "strata-compare"
  listen: "127.0.0.1:%d"
  routes: [%s]
}
`, node.Name, ports[3*i], ports[3*i+2], node.StoreDir, ports[3*i+1], strings.Join(routes, ", "))
		confPath := filepath.Join(dir, node.Name+".conf")
		if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		logFile, err := os.Create(node.LogPath)
		if err != nil {
			t.Fatal(err)
		}
		node.cmd = exec.Command(bin, "-c", confPath)
		node.cmd.Stdout, node.cmd.Stderr = logFile, logFile
		node.cmd.SysProcAttr = sysProcAttr()
		if err := node.cmd.Start(); err != nil {
			logFile.Close()
			t.Fatalf("start nats-server %s: %v", node.Name, err)
		}
		logFile.Close()
		go func() {
			node.waitErr = node.cmd.Wait()
			close(node.done)
		}()
		c.Nodes = append(c.Nodes, node)
	}
	t.Cleanup(func() {
		for _, node := range c.Nodes {
			if !node.exited() {
				node.cmd.Process.Signal(syscall.SIGKILL)
				<-node.done
			}
		}
		if t.Failed() && !c.stopped {
			c.LogTails(30)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), natsReadyTimeout)
	defer cancel()
	if leader, err := c.WaitMetaLeader(ctx); err != nil {
		c.LogTails(30)
		t.Fatalf("NATS cluster of %d: %v", n, err)
	} else {
		t.Logf("NATS cluster of %d nodes (%s) ready, meta leader %s", n, strings.Join(c.ClientURLs(), " "), leader)
	}
	return c
}

// natsFreePorts returns n distinct free TCP ports on loopback. All
// listeners are held until every port is picked, so none repeats.
func natsFreePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// ClientURLs lists the client URLs of the nodes.
func (c *natsCluster) ClientURLs() []string {
	var urls []string
	for _, n := range c.Nodes {
		urls = append(urls, n.ClientURL)
	}
	return urls
}

// Node returns the node called name, or nil.
func (c *natsCluster) Node(name string) *natsNode {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// natsJSZ is the part of a node's /jsz monitoring page the harness reads.
type natsJSZ struct {
	Meta *struct {
		Name     string `json:"name"`
		Leader   string `json:"leader"`
		Size     int    `json:"cluster_size"`
		Replicas []struct {
			Name    string `json:"name"`
			Current bool   `json:"current"`
			Offline bool   `json:"offline"`
		} `json:"replicas"`
	} `json:"meta_cluster"`
}

// WaitMetaLeader waits until every node reports the same JetStream meta
// leader and that leader sees every other node as a current meta peer. It
// returns the leader's name.
func (c *natsCluster) WaitMetaLeader(ctx context.Context) (string, error) {
	var last string
	for {
		leader, why := c.metaLeader(ctx)
		if why == "" {
			return leader, nil
		}
		last = why
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("no JetStream meta leader: %s", last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// metaLeader returns the agreed meta leader, or why there is none yet.
func (c *natsCluster) metaLeader(ctx context.Context) (string, string) {
	leader := ""
	for _, n := range c.Nodes {
		if n.exited() {
			return "", fmt.Sprintf("nats-server %s exited: %v", n.Name, n.waitErr)
		}
		var jsz natsJSZ
		if err := natsGetJSON(ctx, n.MonitorURL+"/jsz", &jsz); err != nil {
			return "", fmt.Sprintf("%s: %v", n.Name, err)
		}
		switch {
		case jsz.Meta == nil || jsz.Meta.Leader == "":
			return "", fmt.Sprintf("%s has no meta leader yet", n.Name)
		case leader == "":
			leader = jsz.Meta.Leader
		case jsz.Meta.Leader != leader:
			return "", fmt.Sprintf("nodes disagree on the meta leader (%s, %s)", leader, jsz.Meta.Leader)
		}
		if n.Name == leader {
			current := 0
			for _, r := range jsz.Meta.Replicas {
				if r.Current && !r.Offline {
					current++
				}
			}
			if jsz.Meta.Size != len(c.Nodes) || current != len(c.Nodes)-1 {
				return "", fmt.Sprintf("meta leader %s: cluster size %d, %d current peers, want %d and %d",
					leader, jsz.Meta.Size, current, len(c.Nodes), len(c.Nodes)-1)
			}
		}
	}
	return leader, ""
}

func natsGetJSON(ctx context.Context, url string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// Connect opens a client connection to the nodes (first URL first, no
// shuffling), closed when the test ends.
func (c *natsCluster) Connect(t testing.TB, name string, urls ...string) *nats.Conn {
	t.Helper()
	if len(urls) == 0 {
		urls = c.ClientURLs()
	}
	nc, err := nats.Connect(strings.Join(urls, ","), nats.Name(name), nats.DontRandomize(),
		nats.Timeout(5*time.Second), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatalf("connect to NATS %s: %v", strings.Join(urls, ","), err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Stop sends SIGTERM to every node and waits for them to exit (SIGKILL
// after natsStopTimeout).
func (c *natsCluster) Stop() {
	c.t.Helper()
	c.stopped = true
	for _, n := range c.Nodes {
		if !n.exited() {
			n.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, n := range c.Nodes {
		select {
		case <-n.done:
		case <-time.After(natsStopTimeout):
			n.cmd.Process.Signal(syscall.SIGKILL)
			<-n.done
			c.t.Errorf("nats-server %s did not exit within %s of SIGTERM (killed)", n.Name, natsStopTimeout)
		}
	}
}

// LogTails logs the last lines of every node's log.
func (c *natsCluster) LogTails(lines int) {
	c.t.Helper()
	for _, n := range c.Nodes {
		b, err := os.ReadFile(n.LogPath)
		if err != nil {
			c.t.Logf("nats-server %s: read log: %v", n.Name, err)
			continue
		}
		ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(ls) > lines {
			ls = ls[len(ls)-lines:]
		}
		c.t.Logf("nats-server %s: last %d lines of %s:\n%s", n.Name, len(ls), n.LogPath, strings.Join(ls, "\n"))
	}
}

// natsCreateStream creates a file-storage stream with replicas replicas on
// subjects, retrying while the cluster cannot place it yet, and waits
// until its leader sees every other replica as current.
func natsCreateStream(ctx context.Context, js jetstream.JetStream, name string, subjects []string, replicas int) (jetstream.Stream, error) {
	cfg := jetstream.StreamConfig{
		Name:      name,
		Subjects:  subjects,
		Storage:   jetstream.FileStorage,
		Replicas:  replicas,
		Retention: jetstream.LimitsPolicy,
		Discard:   jetstream.DiscardOld,
	}
	var (
		s   jetstream.Stream
		err error
	)
	for {
		s, err = js.CreateStream(ctx, cfg)
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("create stream %s (R%d): %w", name, replicas, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
	if _, err := natsWaitStreamCurrent(ctx, s, replicas); err != nil {
		return nil, err
	}
	return s, nil
}

// natsWaitStreamCurrent waits until the stream has a leader and replicas-1
// current followers, and returns its info.
func natsWaitStreamCurrent(ctx context.Context, s jetstream.Stream, replicas int) (*jetstream.StreamInfo, error) {
	var why string
	for {
		info, err := s.Info(ctx)
		switch {
		case err != nil:
			why = err.Error()
		case info.Cluster == nil || info.Cluster.Leader == "":
			why = "no leader"
		default:
			current := 0
			for _, r := range info.Cluster.Replicas {
				if r.Current && !r.Offline {
					current++
				}
			}
			if current == replicas-1 {
				return info, nil
			}
			why = fmt.Sprintf("leader %s with %d of %d followers current", info.Cluster.Leader, current, replicas-1)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("stream %s: not %d replicas current: %s", s.CachedInfo().Config.Name, replicas, why)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ---- the workload ----

// Constants of the comparison workload.
const (
	comparePartitions  = 6
	compareValueSize   = 1024
	compareMaxInFlight = 4096 // unacknowledged publishes per producer (4 MiB of values)
	compareHeaderSize  = 16   // sequence number and send time at the start of each value
)

// compareTarget is one fresh, empty log of comparePartitions partitions in
// a system under test, with a producer attached.
type compareTarget interface {
	// Publish sends value to partition p without waiting for its
	// acknowledgement; it blocks while compareMaxInFlight are unacknowledged.
	// The target calls the onAck it was prepared with once per value.
	Publish(ctx context.Context, p int, value []byte) error
	// Flush waits until every published value was acknowledged or failed.
	Flush(ctx context.Context) error
	// Consume reads the log from its start in a consumer of its own,
	// calling onMsg for every value, until stop is called.
	Consume(ctx context.Context, onMsg func(value []byte)) (stop func() error, err error)
	// Close closes the producer and deletes the log.
	Close(ctx context.Context) error
}

// compareSystem is a system under test.
type compareSystem interface {
	// Name is the system and topology, for tables.
	Name() string
	// Prepare creates the log called name and a producer for it that calls
	// onAck (from a client goroutine) with every value it sent and the
	// outcome.
	Prepare(ctx context.Context, name string, onAck func(value []byte, err error)) (compareTarget, error)
}

// compareWorkload is one measurement.
type compareWorkload struct {
	Duration time.Duration // of the measured phase
	Rate     int           // values per second; 0 saturates
	Warmup   int           // values sent, acknowledged and consumed before measuring
	Consume  bool          // run a consumer and measure end-to-end latency
}

// compareLatency summarizes latency samples.
type compareLatency struct {
	Count               int
	P50, P99, P999, Max time.Duration
}

// compareResult is the outcome of one workload.
type compareResult struct {
	System   string
	Workload compareWorkload

	Sent, Acked, Errors int64 // measured values (the warm-up excluded)
	Consumed            int64 // measured values the consumer received
	Bytes               int64 // of acknowledged measured values
	Elapsed             time.Duration
	MBPerSec            float64 // 10^6 bytes of acknowledged values per second
	MsgsPerSec          float64
	Publish             compareLatency // publish call to acknowledgement
	E2E                 compareLatency // publish call to consumer receipt
	FirstErr            error
}

// comparePercentile is the nearest-rank q-quantile of sorted samples.
func comparePercentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func compareSummarize(samples []time.Duration) compareLatency {
	slices.Sort(samples)
	l := compareLatency{Count: len(samples)}
	if len(samples) > 0 {
		l.P50 = comparePercentile(samples, 0.50)
		l.P99 = comparePercentile(samples, 0.99)
		l.P999 = comparePercentile(samples, 0.999)
		l.Max = samples[len(samples)-1]
	}
	return l
}

// compareValue is a fresh value: seq and the send time, then the random
// bytes of template.
func compareValue(template []byte, seq uint64, now time.Time) []byte {
	v := make([]byte, len(template))
	copy(v, template)
	compareendian.BigEndian.PutUint64(v, seq)
	compareendian.BigEndian.PutUint64(v[8:], uint64(now.UnixNano()))
	return v
}

func compareParseValue(v []byte) (seq uint64, sent time.Time, ok bool) {
	if len(v) < compareHeaderSize {
		return 0, time.Time{}, false
	}
	return compareendian.BigEndian.Uint64(v), time.Unix(0, int64(compareendian.BigEndian.Uint64(v[8:]))), true
}

// compareRecorder collects acknowledgements and receipts.
type compareRecorder struct {
	warmup                         uint64
	mu                             sync.Mutex
	acked, errors, consumed, bytes int64
	warmAcked, warmConsumed        int64
	pub, e2e                       []time.Duration
	firstErr                       error
}

func (r *compareRecorder) onAck(v []byte, err error) {
	now := time.Now()
	seq, sent, ok := compareParseValue(v)
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case err != nil:
		r.errors++
		if r.firstErr == nil {
			r.firstErr = err
		}
	case !ok:
		r.errors++
		if r.firstErr == nil {
			r.firstErr = fmt.Errorf("acknowledged value of %d bytes has no header", len(v))
		}
	case seq < r.warmup:
		r.warmAcked++
	default:
		r.acked++
		r.bytes += int64(len(v))
		r.pub = append(r.pub, now.Sub(sent))
	}
}

func (r *compareRecorder) onMsg(v []byte) {
	now := time.Now()
	seq, sent, ok := compareParseValue(v)
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case !ok:
		if r.firstErr == nil {
			r.firstErr = fmt.Errorf("consumed value of %d bytes has no header", len(v))
		}
	case seq < r.warmup:
		r.warmConsumed++
	default:
		r.consumed++
		r.e2e = append(r.e2e, now.Sub(sent))
	}
}

// waitFor polls cond (under r.mu) until it holds or ctx ends.
func (r *compareRecorder) waitFor(ctx context.Context, cond func() bool) bool {
	for {
		r.mu.Lock()
		ok := cond()
		r.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// compareDrainTimeout bounds the wait for outstanding acknowledgements and
// for the consumer to catch up after the measured phase.
const compareDrainTimeout = 60 * time.Second

// compareRun prepares a fresh log called name in sys and runs w on it: a
// warm-up (acknowledged and, with a consumer, consumed), then values of
// compareValueSize bytes round-robin over the partitions for w.Duration,
// at w.Rate or as fast as the bounded in-flight window allows, then a
// wait for the outstanding acknowledgements, which counts towards the
// throughput's time.
func compareRun(ctx context.Context, sys compareSystem, name string, w compareWorkload) (compareResult, error) {
	res := compareResult{System: sys.Name(), Workload: w}
	rec := &compareRecorder{warmup: uint64(w.Warmup)}
	target, err := sys.Prepare(ctx, name, rec.onAck)
	if err != nil {
		return res, fmt.Errorf("%s: prepare %s: %w", sys.Name(), name, err)
	}
	defer target.Close(context.WithoutCancel(ctx))

	template := make([]byte, compareValueSize)
	rand.Read(template)

	var stop func() error
	if w.Consume {
		if stop, err = target.Consume(ctx, rec.onMsg); err != nil {
			return res, fmt.Errorf("%s: consume %s: %w", sys.Name(), name, err)
		}
		defer func() {
			if stop != nil {
				stop()
			}
		}()
	}

	// Warm-up: connections, metadata, producer ids, the consumer's first
	// fetch.
	seq := uint64(0)
	for ; seq < uint64(w.Warmup); seq++ {
		if err := target.Publish(ctx, int(seq%comparePartitions), compareValue(template, seq, time.Now())); err != nil {
			return res, fmt.Errorf("%s: warm-up publish: %w", sys.Name(), err)
		}
	}
	drainCtx, cancel := context.WithTimeout(ctx, compareDrainTimeout)
	defer cancel()
	if err := target.Flush(drainCtx); err != nil {
		return res, fmt.Errorf("%s: warm-up flush: %w", sys.Name(), err)
	}
	rec.mu.Lock()
	warmFail := rec.firstErr
	rec.mu.Unlock()
	if warmFail != nil {
		return res, fmt.Errorf("%s: warm-up: %w", sys.Name(), warmFail)
	}
	if w.Consume && !rec.waitFor(drainCtx, func() bool { return rec.warmConsumed >= int64(w.Warmup) }) {
		return res, fmt.Errorf("%s: warm-up: consumed %d of %d values", sys.Name(), rec.warmConsumed, w.Warmup)
	}

	start := time.Now()
	deadline := start.Add(w.Duration)
	var sent int64
	var pubErr error
	for ctx.Err() == nil {
		now := time.Now()
		if !now.Before(deadline) {
			break
		}
		if w.Rate > 0 {
			due := start.Add(time.Duration(float64(sent) / float64(w.Rate) * float64(time.Second)))
			if wait := due.Sub(now); wait > 0 {
				time.Sleep(min(wait, deadline.Sub(now)))
				continue
			}
		}
		if err := target.Publish(ctx, int(seq%comparePartitions), compareValue(template, seq, time.Now())); err != nil {
			pubErr = err
			break
		}
		seq++
		sent++
	}
	drainCtx2, cancel2 := context.WithTimeout(ctx, compareDrainTimeout)
	defer cancel2()
	ferr := target.Flush(drainCtx2)
	res.Elapsed = time.Since(start)
	if w.Consume {
		rec.waitFor(drainCtx2, func() bool { return rec.consumed >= rec.acked })
		err := stop()
		stop = nil
		if err != nil && pubErr == nil {
			pubErr = fmt.Errorf("consumer: %w", err)
		}
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	res.Sent = sent
	res.Acked, res.Errors, res.Consumed, res.Bytes = rec.acked, rec.errors, rec.consumed, rec.bytes
	res.FirstErr = rec.firstErr
	if s := res.Elapsed.Seconds(); s > 0 {
		res.MBPerSec = float64(res.Bytes) / 1e6 / s
		res.MsgsPerSec = float64(res.Acked) / s
	}
	res.Publish = compareSummarize(rec.pub)
	res.E2E = compareSummarize(rec.e2e)
	switch {
	case pubErr != nil:
		return res, fmt.Errorf("%s: publish: %w", sys.Name(), pubErr)
	case ferr != nil:
		return res, fmt.Errorf("%s: %d of %d values unacknowledged after %s: %w",
			sys.Name(), res.Sent-res.Acked-res.Errors, res.Sent, compareDrainTimeout, ferr)
	case w.Consume && res.Consumed < res.Acked:
		return res, fmt.Errorf("%s: consumed %d of %d acknowledged values within %s",
			sys.Name(), res.Consumed, res.Acked, compareDrainTimeout)
	}
	return res, nil
}

// ---- NATS JetStream ----

// natsCompareSystem runs the workload on a NATS cluster: the partitions
// are the subjects cmp.<name>.<p> of one stream (Streams 1) or of one
// stream each (Streams comparePartitions), every stream file-backed with
// Replicas replicas.
type natsCompareSystem struct {
	Cluster  *natsCluster
	Streams  int
	Replicas int
	T        testing.TB
}

func (s *natsCompareSystem) Name() string {
	if s.Streams == 1 {
		return fmt.Sprintf("nats-r%d/1stream", s.Replicas)
	}
	return fmt.Sprintf("nats-r%d/%dstreams", s.Replicas, s.Streams)
}

// natsCompareTarget is a prepared NATS log.
type natsCompareTarget struct {
	sys      *natsCompareSystem
	url      string // the node leading the first stream: the clients connect there
	prod     *nats.Conn
	js       jetstream.JetStream
	streams  []jetstream.Stream
	subjects []string
}

func (s *natsCompareSystem) Prepare(ctx context.Context, name string, onAck func([]byte, error)) (compareTarget, error) {
	admin, err := nats.Connect(strings.Join(s.Cluster.ClientURLs(), ","), nats.Name("compare-admin"))
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	ajs, err := jetstream.New(admin)
	if err != nil {
		return nil, err
	}
	tg := &natsCompareTarget{sys: s}
	sctx, cancel := context.WithTimeout(ctx, natsStreamTimeout)
	defer cancel()
	for p := range comparePartitions {
		tg.subjects = append(tg.subjects, fmt.Sprintf("cmp.%s.%d", name, p))
	}
	for i := range s.Streams {
		sname, subjects := fmt.Sprintf("CMP_%s", name), []string{fmt.Sprintf("cmp.%s.>", name)}
		if s.Streams > 1 {
			sname, subjects = fmt.Sprintf("CMP_%s_%d", name, i), []string{tg.subjects[i]}
		}
		st, err := natsCreateStream(sctx, ajs, sname, subjects, s.Replicas)
		if err != nil {
			tg.deleteStreams(ctx)
			return nil, err
		}
		tg.streams = append(tg.streams, st)
	}
	// Connect where the first stream leads, as a Kafka client talks to the
	// partition leader; with several streams, the others' leaders are
	// wherever the cluster put them and publishes to them take a route.
	info, err := tg.streams[0].Info(sctx)
	if err != nil {
		tg.deleteStreams(ctx)
		return nil, err
	}
	tg.url = s.Cluster.ClientURLs()[0]
	if n := s.Cluster.Node(info.Cluster.Leader); n != nil {
		tg.url = n.ClientURL
	}
	if tg.prod, err = nats.Connect(tg.url, nats.Name("compare-producer")); err != nil {
		tg.deleteStreams(ctx)
		return nil, err
	}
	tg.js, err = jetstream.New(tg.prod,
		jetstream.WithPublishAsyncMaxPending(compareMaxInFlight),
		jetstream.WithPublishAsyncAckHandler(func(_ jetstream.JetStream, m *nats.Msg, _ *jetstream.PubAck) { onAck(m.Data, nil) }),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) { onAck(m.Data, err) }))
	if err != nil {
		tg.prod.Close()
		tg.deleteStreams(ctx)
		return nil, err
	}
	return tg, nil
}

func (tg *natsCompareTarget) Publish(ctx context.Context, p int, value []byte) error {
	_, err := tg.js.PublishAsync(tg.subjects[p], value, jetstream.WithStallWait(compareDrainTimeout))
	return err
}

func (tg *natsCompareTarget) Flush(ctx context.Context) error {
	select {
	case <-tg.js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%d publishes pending: %w", tg.js.PublishAsyncPending(), ctx.Err())
	}
}

// Consume runs an ephemeral pull consumer without acknowledgements (like
// a Kafka consumer that commits nothing) on every stream, on a connection
// of its own.
func (tg *natsCompareTarget) Consume(ctx context.Context, onMsg func([]byte)) (func() error, error) {
	nc, err := nats.Connect(tg.url, nats.Name("compare-consumer"))
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	var ccs []jetstream.ConsumeContext
	stop := func() error {
		for _, cc := range ccs {
			cc.Stop()
		}
		nc.Close()
		return nil
	}
	for _, st := range tg.streams {
		s, err := js.Stream(ctx, st.CachedInfo().Config.Name)
		if err != nil {
			stop()
			return nil, err
		}
		cons, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
			AckPolicy:     jetstream.AckNonePolicy,
			DeliverPolicy: jetstream.DeliverAllPolicy,
		})
		if err != nil {
			stop()
			return nil, err
		}
		cc, err := cons.Consume(func(m jetstream.Msg) { onMsg(m.Data()) })
		if err != nil {
			stop()
			return nil, err
		}
		ccs = append(ccs, cc)
	}
	return stop, nil
}

func (tg *natsCompareTarget) Close(ctx context.Context) error {
	tg.prod.Close()
	return tg.deleteStreams(ctx)
}

func (tg *natsCompareTarget) deleteStreams(ctx context.Context) error {
	nc, err := nats.Connect(strings.Join(tg.sys.Cluster.ClientURLs(), ","), nats.Name("compare-admin"))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, natsStreamTimeout)
	defer cancel()
	var errs []error
	for _, st := range tg.streams {
		if err := js.DeleteStream(ctx, st.CachedInfo().Config.Name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ---- Strata ----

// strataCompareSystem runs the workload on Strata: a topic of
// comparePartitions partitions with replication factor RF, produced by an
// idempotent franz-go producer with acks=all, no linger and no
// compression, each value to partition seq mod comparePartitions (the
// round-robin of the NATS subjects).
type strataCompareSystem struct {
	Addr     string // a Kafka listener
	RF       int16
	Topology string // for tables, e.g. "dev-1broker"
}

func (s *strataCompareSystem) Name() string { return "strata/" + s.Topology }

type strataCompareTarget struct {
	sys   *strataCompareSystem
	topic string
	cl    *kgo.Client
	onAck func([]byte, error)
}

func (s *strataCompareSystem) Prepare(ctx context.Context, name string, onAck func([]byte, error)) (compareTarget, error) {
	topic := "compare-" + name
	adm, err := kgo.NewClient(kgo.SeedBrokers(s.Addr))
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(adm).CreateTopic(cctx, comparePartitions, s.RF, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return nil, fmt.Errorf("create topic %s with %d partitions, RF %d: %w", topic, comparePartitions, s.RF, err)
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(s.Addr),
		kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.MaxBufferedRecords(compareMaxInFlight),
		kgo.RecordRetries(math.MaxInt32),
		kgo.RetryTimeout(30*time.Second),
	)
	if err != nil {
		return nil, err
	}
	return &strataCompareTarget{sys: s, topic: topic, cl: cl, onAck: onAck}, nil
}

func (tg *strataCompareTarget) Publish(ctx context.Context, p int, value []byte) error {
	tg.cl.Produce(ctx, &kgo.Record{Topic: tg.topic, Partition: int32(p), Value: value},
		func(r *kgo.Record, err error) { tg.onAck(r.Value, err) })
	return nil
}

func (tg *strataCompareTarget) Flush(ctx context.Context) error { return tg.cl.Flush(ctx) }

// Consume reads every partition from its start with a franz-go consumer
// without a group.
func (tg *strataCompareTarget) Consume(ctx context.Context, onMsg func([]byte)) (func() error, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(tg.sys.Addr),
		kgo.ConsumeTopics(tg.topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.MetadataMinAge(100*time.Millisecond),
	)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	var firstErr error
	go func() {
		defer close(done)
		for {
			fs := cl.PollFetches(cctx)
			if cctx.Err() != nil {
				return
			}
			fs.EachError(func(topic string, p int32, err error) {
				if firstErr == nil {
					firstErr = fmt.Errorf("fetch %s/%d: %w", topic, p, err)
				}
			})
			fs.EachRecord(func(r *kgo.Record) { onMsg(r.Value) })
		}
	}()
	return func() error {
		cancel()
		<-done
		cl.Close()
		return firstErr
	}, nil
}

func (tg *strataCompareTarget) Close(ctx context.Context) error {
	tg.cl.Close()
	adm, err := kgo.NewClient(kgo.SeedBrokers(tg.sys.Addr))
	if err != nil {
		return err
	}
	defer adm.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(adm).DeleteTopics(ctx, tg.topic)
	if err == nil {
		err = resp.Error()
	}
	return err
}
