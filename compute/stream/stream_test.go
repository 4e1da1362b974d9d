package stream_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/compute"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strata-log/strata/compute/schema"
	"github.com/strata-log/strata/compute/stream"
	"github.com/strata-log/strata/ingest/broker"
	"github.com/strata-log/strata/ingest/group"
	"github.com/strata-log/strata/meta/metatest"
)

func TestMain(m *testing.M) { os.Exit(metatest.Main(m)) }

func logger() *slog.Logger {
	if os.Getenv("STRATA_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// startBroker starts an in-process broker on the shared embedded etcd and
// returns its address.
func startBroker(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := broker.New(ctx, broker.Config{
		NodeID:           1,
		ListenAddr:       "127.0.0.1:0",
		DataDir:          t.TempDir(),
		AutoCreateTopics: true,
		WALNoSync:        true,
		SessionTTL:       2 * time.Second,
		Group:            group.Config{InitialRebalanceDelay: 10 * time.Millisecond, MinSessionTimeout: 100 * time.Millisecond},
		Logger:           logger(),
	}, metatest.Shared(t))
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- b.Serve() }()
	t.Cleanup(func() {
		b.Close()
		<-done
	})
	return b.Addr().String()
}

func client(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.MetadataMinAge(50 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func createTopics(t *testing.T, addr string, partitions int32, names ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(client(t, addr)).CreateTopics(ctx, partitions, 1, nil, names...)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("create topics %v: %v", names, err)
	}
}

func produce(t *testing.T, addr string, recs ...*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client(t, addr).ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

func rec(topic, key, value string, ts time.Time) *kgo.Record {
	r := &kgo.Record{Topic: topic, Value: []byte(value), Timestamp: ts}
	if key != "" {
		r.Key = []byte(key)
	}
	return r
}

// consumer reads a topic from its start.
type consumer struct {
	t    *testing.T
	cl   *kgo.Client
	recs []*kgo.Record
}

func consume(t *testing.T, addr, topic string) *consumer {
	return &consumer{t: t, cl: client(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond))}
}

// until polls until done says the records read so far are complete.
func (c *consumer) until(what string, done func([]*kgo.Record) bool) []*kgo.Record {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for !done(c.recs) {
		pctx, pcancel := context.WithTimeout(ctx, 200*time.Millisecond)
		fs := c.cl.PollFetches(pctx)
		pcancel()
		if ctx.Err() != nil {
			c.t.Fatalf("%s: gave up after reading %d records: %s", what, len(c.recs), show(c.recs))
		}
		c.recs = append(c.recs, fs.Records()...)
	}
	return c.recs
}

// n waits for n records, then checks that no more come for a moment.
func (c *consumer) n(n int) []*kgo.Record {
	c.t.Helper()
	c.until("consume", func(rs []*kgo.Record) bool { return len(rs) >= n })
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	c.recs = append(c.recs, c.cl.PollFetches(ctx).Records()...)
	if len(c.recs) != n {
		c.t.Fatalf("read %d records, want %d: %s", len(c.recs), n, show(c.recs))
	}
	return c.recs
}

func show(rs []*kgo.Record) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString("\n  " + string(r.Key) + " => " + string(r.Value))
	}
	return b.String()
}

// run runs b until the returned function is called, which checks that Run
// returned nil.
func run(t *testing.T, b *stream.Builder) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(15 * time.Second):
				t.Errorf("Run did not return")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func TestMapToRaw(t *testing.T) {
	t.Parallel()
	addr := startBroker(t)
	createTopics(t, addr, 2, "caterpillars")
	t0 := time.UnixMilli(1_700_000_000_000)
	produce(t, addr,
		rec("caterpillars", "a", "very hungry", t0),
		rec("caterpillars", "b", "skip me", t0.Add(time.Second)),
		rec("caterpillars", "c", "fuzzy", t0.Add(2*time.Second)),
		rec("caterpillars", "", "no key", t0.Add(3*time.Second)))

	b := stream.NewBuilder(stream.Config{Brokers: []string{addr}, Logger: logger()})
	caterpillars := b.Stream("caterpillars", stream.Raw())
	var printed syncBuffer
	caterpillars.Print(&printed)
	caterpillars.
		Filter(func(r stream.Record) bool { return !bytes.HasPrefix(r.Value, []byte("skip")) }).
		Map(func(r stream.Record) (stream.Record, bool) {
			r.Value = bytes.ToUpper(r.Value)
			return r, true
		}).
		To("butterflies")
	run(t, b)

	got := map[string]string{}
	for _, r := range consume(t, addr, "butterflies").n(3) {
		got[string(r.Key)] = string(r.Value)
		if r.Key == nil && string(r.Value) != "NO KEY" {
			t.Errorf("a null key became %q", r.Key)
		}
		if want := map[string]time.Time{"a": t0, "c": t0.Add(2 * time.Second), "": t0.Add(3 * time.Second)}[string(r.Key)]; !r.Timestamp.Equal(want) {
			t.Errorf("record %s has timestamp %v, want %v", r.Key, r.Timestamp, want)
		}
	}
	want := map[string]string{"a": "VERY HUNGRY", "c": "FUZZY", "": "NO KEY"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("key %q: got %q, want %q", k, got[k], v)
		}
	}
	lines := strings.Split(strings.TrimSpace(printed.String()), "\n")
	slices.Sort(lines)
	if want := []string{"a, very hungry", "b, skip me", "c, fuzzy", "null, no key"}; !slices.Equal(lines, want) {
		t.Errorf("printed %q, want %q", lines, want)
	}
}

var orderColumns = []schema.Column{
	{Name: "ID", Type: schema.BigInt, Key: true},
	{Name: "CUSTOMER", Type: schema.String},
	{Name: "AMOUNT", Type: schema.Double},
}

func TestWhereSelectMapBatch(t *testing.T) {
	t.Parallel()
	addr := startBroker(t)
	createTopics(t, addr, 1, "orders")
	t0 := time.UnixMilli(1_700_000_000_000)
	var recs []*kgo.Record
	for i, o := range []struct {
		customer string
		amount   float64
	}{{"ann", 50}, {"bob", 150}, {"cat", 101}, {"dan", 100}, {"eve", 1000}} {
		v, _ := json.Marshal(map[string]any{"CUSTOMER": o.customer, "AMOUNT": o.amount})
		recs = append(recs, &kgo.Record{Topic: "orders", Key: bigint(int64(i + 1)), Value: v, Timestamp: t0})
	}
	recs = append(recs, &kgo.Record{Topic: "orders", Key: bigint(99), Value: []byte("not json"), Timestamp: t0})
	produce(t, addr, recs...)

	b := stream.NewBuilder(stream.Config{Brokers: []string{addr}, Logger: logger()})
	orders := b.Stream("orders", stream.JSON(orderColumns...))
	big := orders.Where("AMOUNT > 100").Select("ID", "AMOUNT * 1.1 AS WITH_TAX", "UCASE(CUSTOMER) AS WHO")
	if err := big.Err(); err != nil {
		t.Fatal(err)
	}
	if got := big.Keys(); len(got) != 1 || got[0] != "ID" {
		t.Errorf("keys %v, want [ID]", got)
	}
	big.To("big_orders")

	// MapBatch: a vectorized column of cents, without pseudo columns.
	var mu sync.Mutex
	cents := map[int64]int64{}
	orders.MapBatch(func(ctx context.Context, rec arrow.Record) (arrow.Record, error) {
		id := rec.Column(3).(*array.Int64)
		amount := rec.Column(5).(*array.Float64)
		bld := array.NewInt64Builder(compute.GetAllocator(ctx))
		defer bld.Release()
		for i := 0; i < amount.Len(); i++ {
			bld.Append(int64(amount.Value(i) * 100))
		}
		c := bld.NewArray()
		defer c.Release()
		id.Retain()
		defer id.Release()
		s := arrow.NewSchema([]arrow.Field{{Name: "ID", Type: arrow.PrimitiveTypes.Int64, Nullable: true}, {Name: "CENTS", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
		return array.NewRecord(s, []arrow.Array{id, c}, rec.NumRows()), nil
	}, schema.Column{Name: "ID", Type: schema.BigInt, Key: true}, schema.Column{Name: "CENTS", Type: schema.BigInt}).
		Where("CENTS >= 10000").
		Foreach(func(r stream.Record) {
			var v struct{ CENTS int64 }
			var id int64
			json.Unmarshal(r.Key, &id) // a JSON key: MapBatch declared its columns
			json.Unmarshal(r.Value, &v)
			mu.Lock()
			cents[id] = v.CENTS
			mu.Unlock()
		})
	run(t, b)

	got := map[string]string{}
	for _, r := range consume(t, addr, "big_orders").n(3) {
		got[string(r.Key)] = string(r.Value) // a JSON key: Select wrote it
	}
	want := map[string]string{
		"2": `{"WITH_TAX":165,"WHO":"BOB"}`,
		"3": `{"WITH_TAX":111.10000000000001,"WHO":"CAT"}`,
		"5": `{"WITH_TAX":1100,"WHO":"EVE"}`,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("key %s: got %s, want %s", k, got[k], v)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(cents)
		ok := n == 4 && cents[2] == 15000 && cents[3] == 10100 && cents[4] == 10000 && cents[5] == 100000
		mu.Unlock()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Foreach after MapBatch saw %v", cents)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func bigint(v int64) []byte {
	b := make([]byte, 8)
	for i := range 8 {
		b[7-i] = byte(v >> (8 * i))
	}
	return b
}

// windowKey is the JSON key of a windowed aggregation by USER.
type windowKey struct {
	USER        string
	WINDOWSTART int64
	WINDOWEND   int64
}

func TestTumblingCount(t *testing.T) {
	t.Parallel()
	addr := startBroker(t)
	createTopics(t, addr, 2, "clicks")
	t0 := time.UnixMilli(1_700_000_040_000) // a minute boundary
	click := func(user, page string, at time.Duration) *kgo.Record {
		return rec("clicks", user, `{"PAGE":"`+page+`"}`, t0.Add(at))
	}
	produce(t, addr,
		click("alice", "home", 0),
		click("bob", "home", 10*time.Second),
		click("alice", "cart", 20*time.Second),
		click("alice", "pay", 70*time.Second),
		click("bob", "home", 59*time.Second))

	b := stream.NewBuilder(stream.Config{Brokers: []string{addr}, Logger: logger()})
	b.Stream("clicks", stream.JSON(schema.Column{Name: "USER", Type: schema.String, Key: true}, schema.Column{Name: "PAGE", Type: schema.String})).
		GroupBy("USER").
		WindowedBy(stream.Tumbling(time.Minute)).
		Aggregate(stream.Count(), stream.CountDistinct("PAGE").As("PAGES")).
		To("clicks_per_minute")
	run(t, b)

	type value struct{ COUNT, PAGES int64 }
	start := t0.UnixMilli()
	want := map[windowKey]value{
		{"alice", start, start + 60_000}:           {2, 2},
		{"bob", start, start + 60_000}:             {2, 1},
		{"alice", start + 60_000, start + 120_000}: {1, 1},
	}
	latest := map[windowKey]value{}
	stamps := map[windowKey]time.Time{}
	consume(t, addr, "clicks_per_minute").until("counts", func(rs []*kgo.Record) bool {
		clear(latest)
		for _, r := range rs {
			var k windowKey
			var v value
			if err := json.Unmarshal(r.Key, &k); err != nil {
				t.Fatalf("key %s: %v", r.Key, err)
			}
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Fatalf("value %s: %v", r.Value, err)
			}
			latest[k] = v
			stamps[k] = r.Timestamp
		}
		if len(latest) != len(want) {
			return false
		}
		for k, v := range want {
			if latest[k] != v {
				return false
			}
		}
		return true
	})
	// A result's timestamp is the latest ROWTIME of its group.
	if got, want := stamps[windowKey{"alice", start, start + 60_000}], t0.Add(20*time.Second); !got.Equal(want) {
		t.Errorf("alice's first window: timestamp %v, want %v", got, want)
	}
}

func TestStreamStreamJoin(t *testing.T) {
	t.Parallel()
	addr := startBroker(t)
	createTopics(t, addr, 1, "orders", "payments")
	t0 := time.UnixMilli(1_700_000_000_000)
	order := func(id int64, item string, at time.Duration) *kgo.Record {
		return &kgo.Record{Topic: "orders", Key: bigint(id), Value: []byte(`{"ITEM":"` + item + `"}`), Timestamp: t0.Add(at)}
	}
	payment := func(order int64, paid float64, at time.Duration) *kgo.Record {
		v, _ := json.Marshal(map[string]any{"ORDER_ID": order, "PAID": paid})
		return &kgo.Record{Topic: "payments", Value: v, Timestamp: t0.Add(at)}
	}
	produce(t, addr,
		order(1, "book", 0), order(2, "pen", 0), order(3, "lamp", 0),
		payment(1, 12.5, 10*time.Second), payment(3, 30, 5*time.Minute), payment(2, 1.5, 30*time.Second), payment(7, 9, 0))

	b := stream.NewBuilder(stream.Config{Brokers: []string{addr}, Logger: logger()})
	orders := b.Stream("orders", stream.JSON(schema.Column{Name: "ID", Type: schema.BigInt, Key: true}, schema.Column{Name: "ITEM", Type: schema.String}))
	payments := b.Stream("payments", stream.JSON(schema.Column{Name: "ORDER_ID", Type: schema.BigInt}, schema.Column{Name: "PAID", Type: schema.Double}))
	paid := orders.Join(payments, stream.Within(time.Minute), "ID = ORDER_ID")
	if err := paid.Err(); err != nil {
		t.Fatal(err)
	}
	paid.To("paid_orders")
	run(t, b)

	got := map[string]string{}
	for _, r := range consume(t, addr, "paid_orders").n(2) {
		got[string(r.Key)] = string(r.Value)
	}
	want := map[string]string{
		"1": `{"ORDERS_ITEM":"book","PAYMENTS_ORDER_ID":1,"PAYMENTS_PAID":12.5}`,
		"2": `{"ORDERS_ITEM":"pen","PAYMENTS_ORDER_ID":2,"PAYMENTS_PAID":1.5}`,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("key %s: got %s, want %s", k, got[k], v)
		}
	}
}

// TestRestart stops Run and starts the same program again on the same
// StateDir: both topologies resume where they were, the stateless one
// without repeating a record, the aggregation with its counts.
func TestRestart(t *testing.T) {
	t.Parallel()
	addr := startBroker(t)
	createTopics(t, addr, 2, "words", "events")
	dir := t.TempDir()
	t0 := time.UnixMilli(1_700_000_000_000)
	program := func() *stream.Builder {
		b := stream.NewBuilder(stream.Config{Brokers: []string{addr}, StateDir: dir, CommitInterval: 100 * time.Millisecond, Logger: logger()})
		b.Stream("words", stream.Raw()).
			Map(func(r stream.Record) (stream.Record, bool) {
				r.Value = bytes.ToUpper(r.Value)
				return r, true
			}).
			To("shouts")
		b.Stream("events", stream.JSON(schema.Column{Name: "KIND", Type: schema.String})).
			GroupBy("KIND").
			Aggregate(stream.Count()).
			To("event_counts")
		return b
	}
	event := func(kind string, i int) *kgo.Record {
		return rec("events", strings.Repeat("k", i%3), `{"KIND":"`+kind+`"}`, t0.Add(time.Duration(i)*time.Second))
	}
	counts := func(c *consumer, want map[string]int64) {
		t.Helper()
		c.until("counts", func(rs []*kgo.Record) bool {
			latest := map[string]int64{}
			for _, r := range rs {
				var v struct{ COUNT int64 }
				json.Unmarshal(r.Value, &v)
				latest[string(r.Key)] = v.COUNT
			}
			for k, n := range want {
				if latest[k] != n {
					return false
				}
			}
			return len(latest) == len(want)
		})
	}

	produce(t, addr, rec("words", "1", "one", t0), rec("words", "2", "two", t0), rec("words", "3", "three", t0),
		event("click", 0), event("view", 1), event("click", 2))
	stop := run(t, program())
	shouts := consume(t, addr, "shouts")
	shouts.until("shouts", func(rs []*kgo.Record) bool { return len(rs) == 3 })
	evc := consume(t, addr, "event_counts")
	counts(evc, map[string]int64{`"click"`: 2, `"view"`: 1})
	stop()
	for _, f := range []string{"topology-0.state", "topology-1.state"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("checkpoint: %v", err)
		}
	}

	produce(t, addr, rec("words", "4", "four", t0), rec("words", "5", "five", t0), event("view", 3), event("buy", 4))
	run(t, program())
	got := map[string]string{}
	for _, r := range shouts.n(5) {
		got[string(r.Key)] = string(r.Value)
	}
	if want := map[string]string{"1": "ONE", "2": "TWO", "3": "THREE", "4": "FOUR", "5": "FIVE"}; !equal(got, want) {
		t.Errorf("shouts %v, want %v", got, want)
	}
	counts(evc, map[string]int64{`"click"`: 2, `"view"`: 2, `"buy"`: 1})
}

func equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestBuildErrors(t *testing.T) {
	b := stream.NewBuilder(stream.Config{Brokers: []string{"127.0.0.1:1"}})
	orders := b.Stream("orders", stream.JSON(orderColumns...))
	for _, c := range []struct {
		s    stream.Stream
		want string
	}{
		{orders.Where("NOPE > 1"), "NOPE cannot be resolved"},
		{orders.Where("AMOUNT"), "BOOLEAN"},
		{orders.Where("AMOUNT >"), "line 1:9"},
		{orders.Select("ID", "AMOUNT +"), `Select(["ID" "AMOUNT +"]): line 1:9: expected an expression, found end of input`},
		{orders.Select("ROWTIME"), "ROWTIME is kept"},
		{orders.Join(orders, stream.Within(time.Second), "ID = ID"), "both streams are named ORDERS"},
		{orders.Join(orders.As("O2"), stream.Within(time.Second), "ID = O2.CUSTOMER"), "cast one side"},
		{orders.GroupBy("CUSTOMER").Aggregate(stream.Sum("CUSTOMER")), "SUM needs a numeric argument"},
		{orders.WithFormats(schema.Format{Kind: schema.Kafka}, schema.Format{Kind: schema.Kafka}), "format KAFKA holds one column"},
		{orders.Where("NOPE").Select("ID"), "NOPE cannot be resolved"},
	} {
		if err := c.s.Err(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one with %q", err, c.want)
		}
	}
	err := b.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "NOPE cannot be resolved") {
		t.Errorf("Run: %v", err)
	}
	b2 := stream.NewBuilder(stream.Config{})
	b2.Stream("t", stream.Raw()).Print(io.Discard)
	if err := b2.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "Brokers") {
		t.Errorf("Run without brokers: %v", err)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
