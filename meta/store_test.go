package meta_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/strata-log/strata/meta"
	"github.com/strata-log/strata/meta/metatest"
)

func TestMain(m *testing.M) { os.Exit(metatest.Main(m)) }

// testCtx returns a context that ends with the test or after 60s.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func sharedClient(t testing.TB) *clientv3.Client {
	t.Helper()
	cli, err := meta.NewClient(metatest.SharedEndpoints(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func TestNewStorePrefix(t *testing.T) {
	st := metatest.Shared(t)
	for in, want := range map[string]string{"": "/strata", "/x/": "/x", "/a/b": "/a/b"} {
		if got := meta.NewStore(st.Client(), in).Prefix(); got != want {
			t.Errorf("NewStore(%q).Prefix() = %q, want %q", in, got, want)
		}
	}
}

func TestPrefixIsolation(t *testing.T) {
	a, b := metatest.Shared(t), metatest.Shared(t)
	ctx := testCtx(t)
	if _, err := a.CreateTopic(ctx, meta.Topic{Name: "only-in-a", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Topic(ctx, "only-in-a"); !errors.Is(err, meta.ErrUnknownTopic) {
		t.Fatalf("store b sees store a's topic: err = %v", err)
	}
	if _, err := b.CreateTopic(ctx, meta.Topic{Name: "only-in-a", Partitions: 3}); err != nil {
		t.Fatalf("same name under another prefix: %v", err)
	}
	ta, _ := a.Topic(ctx, "only-in-a")
	if ta.Partitions != 1 {
		t.Fatalf("store a's topic changed: %+v", ta)
	}
}

func TestClusterID(t *testing.T) {
	st := metatest.Shared(t)
	ctx := testCtx(t)

	// Many first callers at once, each with its own client: one id wins.
	const n = 8
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		cli := sharedClient(t)
		wg.Go(func() {
			id, err := meta.NewStore(cli, st.Prefix()).ClusterID(ctx)
			if err != nil {
				t.Error(err)
			}
			ids[i] = id
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent ClusterID calls disagree: %q", ids)
		}
	}
	id := ids[0]
	if len(id) != 22 {
		t.Fatalf("cluster id %q has length %d, want 22", id, len(id))
	}
	if b, err := base64.RawURLEncoding.DecodeString(id); err != nil || len(b) != 16 {
		t.Fatalf("cluster id %q is not unpadded base64url of 16 bytes: %v", id, err)
	}
	for range 3 {
		again, err := st.ClusterID(ctx)
		if err != nil || again != id {
			t.Fatalf("ClusterID again = %q, %v; want %q", again, err, id)
		}
	}
	// Another store over the same prefix: same id. Another prefix: another cluster.
	if other, err := meta.NewStore(sharedClient(t), st.Prefix()).ClusterID(ctx); err != nil || other != id {
		t.Fatalf("new store ClusterID = %q, %v; want %q", other, err, id)
	}
	if other, err := metatest.Shared(t).ClusterID(ctx); err != nil || other == id {
		t.Fatalf("other prefix ClusterID = %q, %v; want a different id", other, err)
	}
}

func TestEmbeddedBadConfig(t *testing.T) {
	if _, err := meta.StartEmbedded(meta.EmbedConfig{}); err == nil {
		t.Fatal("StartEmbedded without Dir succeeded")
	}
	if _, err := meta.StartEmbedded(meta.EmbedConfig{Dir: t.TempDir(), ClientURL: "https://127.0.0.1:0"}); err == nil {
		t.Fatal("StartEmbedded with https succeeded")
	}
}

func TestEmbeddedPortInUse(t *testing.T) {
	e := metatest.NewEmbedded(t)
	// A second server asked to use the first one's client port must fail
	// with a clear error, not hang.
	_, err := meta.StartEmbedded(meta.EmbedConfig{
		Dir:          t.TempDir(),
		ClientURL:    e.ClientURL(),
		StartTimeout: 20 * time.Second,
	})
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("StartEmbedded on a used port: err = %v", err)
	}
}

func TestEmbeddedDirInUse(t *testing.T) {
	dir := t.TempDir()
	e, err := meta.StartEmbedded(meta.EmbedConfig{Dir: dir, ClientURL: "http://127.0.0.1:0", UnsafeNoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	start := time.Now()
	e2, err := meta.StartEmbedded(meta.EmbedConfig{Dir: dir, ClientURL: "http://127.0.0.1:0", StartTimeout: 20 * time.Second})
	if err == nil {
		e2.Close()
		t.Fatal("second server on the same dir started")
	}
	if !strings.Contains(err.Error(), "in use") || time.Since(start) > 10*time.Second {
		t.Fatalf("second server on the same dir: err = %v after %s; want a prompt 'in use' error", err, time.Since(start))
	}
}

func TestEmbeddedRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	start := func() (*meta.Embedded, *meta.Store) {
		t.Helper()
		e, err := meta.StartEmbedded(meta.EmbedConfig{Dir: dir, ClientURL: "http://127.0.0.1:0", UnsafeNoFsync: true})
		if err != nil {
			t.Fatal(err)
		}
		cli, err := e.Client()
		if err != nil {
			e.Close()
			t.Fatal(err)
		}
		t.Cleanup(func() { cli.Close(); e.Close() })
		return e, meta.NewStore(cli, "")
	}
	ctx := testCtx(t)

	e1, st1 := start()
	created, err := st1.CreateTopic(ctx, meta.Topic{Name: "durable", Partitions: 4, Configs: map[string]string{"retention.ms": "1000"}})
	if err != nil {
		t.Fatal(err)
	}
	id1, err := st1.ClusterID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st1.AllocateProducerIDs(ctx, 100); err != nil {
		t.Fatal(err)
	}
	e1.Close()

	// New ports, same data directory.
	_, st2 := start()
	got, err := st2.Topic(ctx, "durable")
	if err != nil {
		t.Fatalf("topic after restart: %v", err)
	}
	if got.ID != created.ID || got.Partitions != 4 || got.Configs["retention.ms"] != "1000" || got.CreatedMs != created.CreatedMs {
		t.Fatalf("topic after restart = %+v, want %+v", got, created)
	}
	if id2, err := st2.ClusterID(ctx); err != nil || id2 != id1 {
		t.Fatalf("cluster id after restart = %q, %v; want %q", id2, err, id1)
	}
	if first, err := st2.AllocateProducerIDs(ctx, 1); err != nil || first != 100 {
		t.Fatalf("producer id after restart = %d, %v; want 100", first, err)
	}
}

func TestStoreErrorsWrapContext(t *testing.T) {
	// A store whose etcd is gone: calls fail (within ctx) with context.
	e := metatest.NewEmbedded(t)
	cli := metatest.NewClient(t, e)
	st := meta.NewStore(cli, "")
	e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := st.CreateTopic(ctx, meta.Topic{Name: "t", Partitions: 1})
	if err == nil || !strings.Contains(err.Error(), `create topic "t"`) {
		t.Fatalf("CreateTopic against stopped etcd: err = %v", err)
	}
	if errors.Is(err, meta.ErrTopicExists) {
		t.Fatal("network error reported as ErrTopicExists")
	}
}

// collect gathers the values a watch callback sees, for waitFor.
type collect[T any] struct {
	mu   sync.Mutex
	seen []T
	ch   chan struct{}
}

func newCollect[T any]() *collect[T] { return &collect[T]{ch: make(chan struct{}, 1)} }

func (c *collect[T]) add(v T) {
	c.mu.Lock()
	c.seen = append(c.seen, v)
	c.mu.Unlock()
	select {
	case c.ch <- struct{}{}:
	default:
	}
}

// waitFor waits until the latest value satisfies ok.
func (c *collect[T]) waitFor(t testing.TB, what string, ok func(T) bool) T {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		c.mu.Lock()
		if n := len(c.seen); n > 0 && ok(c.seen[n-1]) {
			v := c.seen[n-1]
			c.mu.Unlock()
			return v
		}
		c.mu.Unlock()
		select {
		case <-c.ch:
		case <-deadline:
			c.mu.Lock()
			defer c.mu.Unlock()
			t.Fatalf("timed out waiting for %s; seen %d calls, last %v", what, len(c.seen), fmt.Sprint(lastOf(c.seen)))
		}
	}
}

func lastOf[T any](s []T) any {
	if len(s) == 0 {
		return nil
	}
	return s[len(s)-1]
}

func topicNames(ts []meta.Topic) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

func namesAre(want ...string) func([]meta.Topic) bool {
	return func(ts []meta.Topic) bool { return slices.Equal(topicNames(ts), want) }
}
