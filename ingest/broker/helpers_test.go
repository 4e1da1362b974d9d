package broker

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strata-log/strata/ingest/group"
	"github.com/strata-log/strata/meta"
	"github.com/strata-log/strata/meta/metatest"
)

func TestMain(m *testing.M) { os.Exit(metatest.Main(m)) }

// testBroker is a broker serving on a loopback port for one test.
type testBroker struct {
	*Broker
	store *meta.Store
	dir   string
	done  chan error
	once  sync.Once
}

func testLogger() *slog.Logger {
	if os.Getenv("STRATA_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startTestBroker starts a broker on store with its WAL in dir (a fresh
// temporary directory if empty).
func startTestBroker(t *testing.T, store *meta.Store, dir string) *testBroker {
	t.Helper()
	return startTestBrokerID(t, 1, store, dir)
}

// startTestBrokerID is startTestBroker for broker id.
func startTestBrokerID(t *testing.T, id int32, store *meta.Store, dir string) *testBroker {
	t.Helper()
	if store == nil {
		store = metatest.Shared(t)
	}
	if dir == "" {
		dir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := New(ctx, Config{
		NodeID:           id,
		ListenAddr:       "127.0.0.1:0",
		DataDir:          dir,
		AutoCreateTopics: true,
		SessionTTL:       2 * time.Second,
		Group: group.Config{
			InitialRebalanceDelay: 10 * time.Millisecond,
			MinSessionTimeout:     100 * time.Millisecond,
		},
		Logger: testLogger(),
	}, store)
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	tb := &testBroker{Broker: b, store: store, dir: dir, done: make(chan error, 1)}
	go func() { tb.done <- b.Serve() }()
	t.Cleanup(func() { tb.stop(t) })
	return tb
}

func (tb *testBroker) stop(t *testing.T) {
	tb.once.Do(func() { tb.stopOnce(t) })
}

func (tb *testBroker) stopOnce(t *testing.T) {
	if err := tb.Close(); err != nil {
		t.Errorf("close broker: %v", err)
	}
	select {
	case err := <-tb.done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("serve did not return after close")
	}
}

func (tb *testBroker) client(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(tb.Addr().String()), kgo.MetadataMinAge(50 * time.Millisecond)}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func (tb *testBroker) admin(t *testing.T) *kadm.Client {
	return kadm.NewClient(tb.client(t))
}

func createTopic(t *testing.T, adm *kadm.Client, name string, partitions int32, configs map[string]*string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, partitions, 1, configs, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
}

// consumeAll reads n records from topic from the start.
func consumeAll(t *testing.T, tb *testBroker, topic string, n int, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	cl := tb.client(t, append([]kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records from %s: %v", len(out), n, topic, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		out = append(out, fs.Records()...)
	}
	return out
}
