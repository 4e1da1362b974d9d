package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/strata-log/strata/meta"
)

// etcdStore returns a meta.Store on the etcd at endpoint (a host:port or a
// URL), closed when the test ends.
func etcdStore(t *testing.T, endpoint string) *meta.Store {
	t.Helper()
	if !strings.Contains(endpoint, "://") {
		endpoint = "http://" + endpoint
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return meta.NewStore(cli, "")
}

// taskOwners returns the owner of each task of a query, by task number.
func taskOwners(t *testing.T, st *meta.Store, query string) map[int]int32 {
	t.Helper()
	tasks, err := st.SQLTasks(ctxFor(t, 5*time.Second), query)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]int32{}
	for _, task := range tasks {
		out[task.Task] = task.Owner
	}
	return out
}

// ownersColumn is SHOW QUERIES' Owner of a query whose tasks have these
// owners: each broker with its count of tasks, in order ("0 (2 tasks),
// 1 (4 tasks)").
func ownersColumn(owners map[int]int32) string {
	n := map[int32]int{}
	for _, o := range owners {
		n[o]++
	}
	var parts []string
	for _, b := range slices.Sorted(maps.Keys(n)) {
		parts = append(parts, fmt.Sprintf("%d (%d tasks)", b, n[b]))
	}
	return strings.Join(parts, ", ")
}

// ownerBrokers returns the brokers SHOW QUERIES' Owner column names ("2",
// or "0 (2 tasks), 1 (4 tasks)").
func ownerBrokers(owner any) []string {
	var out []string
	for _, part := range strings.Split(fmt.Sprint(owner), ", ") {
		b, _, _ := strings.Cut(part, " (")
		out = append(out, b)
	}
	return out
}

func brokersOf(owners map[int]int32) []int32 {
	var out []int32
	for _, o := range owners {
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	slices.Sort(out)
	return out
}

// TestSQLQuerySpread runs a persistent filter (CSAS) and a persistent
// aggregation (CTAS … GROUP BY, repartitioned) over a topic of six
// partitions on three brokers. Their tasks spread over the brokers (the
// task keys in etcd), and the results are right: every order the filter
// keeps reaches its sink at least once (at-least-once: a task that moved
// may write again what it wrote after its last checkpoint), and the
// aggregation's final count and sum of every user are exact, also after
// a broker running tasks of both is SIGKILLed while orders are in flight
// and its tasks move to the others, and after it comes back and they
// are handed back to it. TERMINATE then removes the tasks, checkpoints
// and the repartition topic.
func TestSQLQuerySpread(t *testing.T) {
	c := startNetCluster(t)
	st := etcdStore(t, c.etcd[0].Addr())
	base := c.members[0].srv.HTTP
	earliest := map[string]string{"auto.offset.reset": "earliest"}
	sqlMustSucceed(t, base, `CREATE STREAM orders (id BIGINT, user_id STRING, amount INT) WITH (KAFKA_TOPIC='orders', PARTITIONS=6, VALUE_FORMAT='JSON');`, nil)
	lines := sqlMustSucceed(t, base, `CREATE STREAM big_orders AS SELECT id, user_id, amount FROM orders WHERE amount >= 50;`, earliest)
	filterID := lines[0].Status.QueryID
	lines = sqlMustSucceed(t, base, `CREATE TABLE orders_per_user AS SELECT user_id, COUNT(*) AS n, SUM(amount) AS total FROM orders GROUP BY user_id;`, earliest)
	aggID := lines[0].Status.QueryID

	filterTasks, aggTasks := taskOwners(t, st, filterID), taskOwners(t, st, aggID)
	if len(filterTasks) != 6 || len(aggTasks) != 12 {
		t.Fatalf("tasks: %s has %v, %s has %v; want 6 (one per partition) and 12 (6 repartition, 6 aggregate)", filterID, filterTasks, aggID, aggTasks)
	}
	t.Logf("%s tasks on brokers %v, %s tasks on brokers %v", filterID, filterTasks, aggID, aggTasks)
	if len(brokersOf(filterTasks)) < 2 || len(brokersOf(aggTasks)) < 2 {
		t.Fatalf("the tasks did not spread: %s on %v, %s on %v", filterID, brokersOf(filterTasks), aggID, brokersOf(aggTasks))
	}
	repTopic := "_strata-query-" + aggID + "-repartition"
	if _, end := offsets(t, admin(t, c.brokers()[1]), repTopic); len(end) != 6 {
		t.Fatalf("repartition topic %s has %d partitions, want 6", repTopic, len(end))
	}

	// SHOW QUERIES names the owners of every task of each query (more
	// than one broker), EXPLAIN lists the tasks, and SHOW TOPICS hides
	// the repartition topic.
	rows := sqlRows(sqlMustSucceed(t, base, "SHOW QUERIES;", nil))
	if len(rows) != 2 || rows[0][0] != filterID || rows[1][0] != aggID ||
		rows[0][2] != ownersColumn(filterTasks) || rows[1][2] != ownersColumn(aggTasks) ||
		len(ownerBrokers(rows[0][2])) < 2 || len(ownerBrokers(rows[1][2])) < 2 {
		t.Fatalf("SHOW QUERIES: %v; want %s owned by %q and %s by %q", rows, filterID, ownersColumn(filterTasks), aggID, ownersColumn(aggTasks))
	}
	if status := fmt.Sprint(rows[1][1]); !strings.HasPrefix(status, "RUNNING on brokers ") {
		t.Errorf("SHOW QUERIES status of %s: %q, want RUNNING on brokers …", aggID, status)
	}
	var taskLines []string
	for _, r := range sqlRows(sqlMustSucceed(t, base, "EXPLAIN "+aggID+";", nil)) {
		if l := fmt.Sprint(r[0]); strings.HasPrefix(l, "Task ") {
			taskLines = append(taskLines, l)
		}
	}
	if len(taskLines) != 12 || !strings.HasPrefix(taskLines[0], "Task 0: repartition, partitions [0], on broker ") ||
		!strings.HasPrefix(taskLines[11], "Task 11: aggregate, partitions [5], on broker ") {
		t.Fatalf("EXPLAIN %s's tasks: %q; want 12 lines, 6 repartition and 6 aggregate tasks", aggID, taskLines)
	}
	topics := sqlRows(sqlMustSucceed(t, base, "SHOW TOPICS;", nil))
	if !slices.ContainsFunc(topics, func(r []any) bool { return r[0] == "orders" }) ||
		slices.ContainsFunc(topics, func(r []any) bool { return strings.HasPrefix(fmt.Sprint(r[0]), "_strata-query-") }) {
		t.Fatalf("SHOW TOPICS: %v; want orders and not the internal %s", topics, repTopic)
	}

	seeds := kgo.SeedBrokers(c.brokers()...)
	prod := client(t, c.brokers()[1], seeds, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	const users = 7
	wantN, wantTotal := map[string]float64{}, map[string]float64{}
	wantBig := map[int64]bool{}
	next := int64(0)
	order := func(n int) {
		t.Helper()
		var recs []*kgo.Record
		for range n {
			id := next
			next++
			user := fmt.Sprintf("u%d", id%users)
			amount := id * 37 % 101
			wantN[user]++
			wantTotal[user] += float64(amount)
			if amount >= 50 {
				wantBig[id] = true
			}
			recs = append(recs, &kgo.Record{Topic: "orders", Partition: int32(id % 6),
				Value: []byte(fmt.Sprintf(`{"id":%d,"user_id":%q,"amount":%d}`, id, user, amount))})
		}
		produceAcked(t, prod, recs)
	}

	gotN, gotTotal := map[string]float64{}, map[string]float64{}
	gotBig := map[int64]int{}
	table := client(t, c.brokers()[1], seeds, kgo.ConsumeTopics("orders_per_user"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	stream := client(t, c.brokers()[1], seeds, kgo.ConsumeTopics("big_orders"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	done := func() bool {
		if len(gotBig) < len(wantBig) {
			return false
		}
		return maps.Equal(gotN, wantN) && maps.Equal(gotTotal, wantTotal)
	}
	read := func(d time.Duration) {
		t.Helper()
		for deadline := time.Now().Add(d); !done() && time.Now().Before(deadline); {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			table.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				var user string
				var v map[string]float64
				if json.Unmarshal(r.Key, &user) != nil || json.Unmarshal(r.Value, &v) != nil {
					t.Errorf("orders_per_user record %q: %q", r.Key, r.Value)
					return
				}
				gotN[user], gotTotal[user] = v["N"], v["TOTAL"]
			})
			cancel()
			ctx, cancel = context.WithTimeout(context.Background(), 500*time.Millisecond)
			stream.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				var v struct {
					ID     int64
					Amount int64
				}
				if json.Unmarshal(r.Value, &v) != nil || v.Amount < 50 {
					t.Errorf("big_orders record %q", r.Value)
					return
				}
				gotBig[v.ID]++
			})
			cancel()
		}
		for id := range wantBig {
			if gotBig[id] == 0 {
				t.Fatalf("order %d (amount >= 50) did not reach big_orders (%d of %d did)", id, len(gotBig), len(wantBig))
			}
		}
		for id := range gotBig {
			if !wantBig[id] {
				t.Fatalf("big_orders holds order %d, which is not >= 50 or was never sent", id)
			}
		}
		if !maps.Equal(gotN, wantN) || !maps.Equal(gotTotal, wantTotal) {
			t.Fatalf("orders_per_user: counts %v sums %v, want counts %v sums %v", gotN, gotTotal, wantN, wantTotal)
		}
	}
	order(600)
	read(90 * time.Second)

	// Kill a broker that runs tasks of both queries while orders are in
	// flight: its tasks move to the other two and resume from their
	// checkpoints.
	victim := -1
	for _, b := range []int32{1, 2, 0} {
		if victim < 0 && slices.Contains(brokersOf(filterTasks), b) && slices.Contains(brokersOf(aggTasks), b) {
			victim = int(b)
		}
	}
	if victim < 0 {
		t.Fatalf("no broker runs tasks of both queries: %v %v", filterTasks, aggTasks)
	}
	order(600)
	c.members[victim].srv.Kill()
	killed := time.Now()
	order(600)
	moved := func() bool {
		for _, id := range []string{filterID, aggID} {
			if slices.Contains(brokersOf(taskOwners(t, st, id)), int32(victim)) {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(60 * time.Second); !moved() && time.Now().Before(deadline); {
		time.Sleep(500 * time.Millisecond)
	}
	if !moved() {
		t.Fatalf("broker %d was killed but still owns tasks: %v %v", victim, taskOwners(t, st, filterID), taskOwners(t, st, aggID))
	}
	t.Logf("broker %d's tasks moved in %s: %s on %v, %s on %v", victim, time.Since(killed).Round(time.Millisecond),
		filterID, taskOwners(t, st, filterID), aggID, taskOwners(t, st, aggID))
	read(90 * time.Second)
	dups := 0
	for _, n := range gotBig {
		dups += n - 1
	}
	t.Logf("results complete %s after the kill: %d users exact, %d orders in big_orders (%d written twice or more)",
		time.Since(killed).Round(time.Millisecond), len(gotN), len(gotBig), dups)

	// The killed broker comes back: the tasks rendezvous hashing places on
	// it are handed back to it (each after a last checkpoint where it ran
	// meanwhile), and the results stay exact.
	c.members[victim].restart(t)
	restarted := time.Now()
	back := func() bool {
		return maps.Equal(taskOwners(t, st, filterID), filterTasks) && maps.Equal(taskOwners(t, st, aggID), aggTasks)
	}
	for deadline := time.Now().Add(60 * time.Second); !back() && time.Now().Before(deadline); {
		time.Sleep(500 * time.Millisecond)
	}
	if !back() {
		t.Fatalf("after broker %d came back: %s on %v, %s on %v; want them as placed first", victim,
			filterID, taskOwners(t, st, filterID), aggID, taskOwners(t, st, aggID))
	}
	t.Logf("broker %d's tasks were handed back %s after its restart", victim, time.Since(restarted).Round(time.Millisecond))
	order(600)
	read(90 * time.Second)

	// SHOW QUERIES lists both, with the owners of their tasks as placed
	// first; TERMINATE removes all.
	live := c.members[(victim+1)%3].srv.HTTP
	rows = sqlRows(sqlMustSucceed(t, live, "SHOW QUERIES;", nil))
	if len(rows) != 2 || rows[0][0] != filterID || rows[1][0] != aggID ||
		rows[0][2] != ownersColumn(filterTasks) || rows[1][2] != ownersColumn(aggTasks) {
		t.Fatalf("SHOW QUERIES: %v; want %s owned by %q and %s by %q", rows, filterID, ownersColumn(filterTasks), aggID, ownersColumn(aggTasks))
	}
	sqlMustSucceed(t, live, "TERMINATE ALL;", nil)
	for _, id := range []string{filterID, aggID} {
		if tasks := taskOwners(t, st, id); len(tasks) != 0 {
			t.Errorf("%s's tasks after TERMINATE: %v", id, tasks)
		}
		if cks, err := st.SQLCheckpoints(ctxFor(t, 5*time.Second), id); err != nil || len(cks) != 0 {
			t.Errorf("%s's checkpoints after TERMINATE: %v %v", id, cks, err)
		}
	}
	td, err := admin(t, c.brokers()[(victim+1)%3]).ListTopics(ctxFor(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if td.Has(repTopic) {
		t.Errorf("the repartition topic %s outlived TERMINATE", repTopic)
	}
}

// TestSQLLegacyQueryResumes stores a persistent query as brokers stored
// them before queries had tasks (an owner property, a checkpoint under the
// query's id, no task key) and checks that the engine runs it as one
// task from that checkpoint, keeping its checkpoint key.
func TestSQLLegacyQueryResumes(t *testing.T) {
	srv := StartDev(t, t.TempDir())
	st := etcdStore(t, srv.Etcd)
	sqlMustSucceed(t, srv.HTTP, `CREATE STREAM payments (id BIGINT, amount INT) WITH (KAFKA_TOPIC='payments', PARTITIONS=3, VALUE_FORMAT='JSON');
		CREATE STREAM small_payments (ID BIGINT) WITH (KAFKA_TOPIC='small_payments', PARTITIONS=1, VALUE_FORMAT='JSON');`, nil)
	prod := client(t, srv.Kafka, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	pay := func(from, to int) {
		var recs []*kgo.Record
		for id := from; id < to; id++ {
			recs = append(recs, &kgo.Record{Topic: "payments", Partition: int32(id % 3), Value: []byte(fmt.Sprintf(`{"id":%d,"amount":%d}`, id, id%20))})
		}
		produceAcked(t, prod, recs)
	}
	pay(0, 30)
	_, ends := offsets(t, admin(t, srv.Kafka), "payments")

	const id = "INSERTQUERY_SMALL_PAYMENTS_1"
	ctx := ctxFor(t, 10*time.Second)
	if err := st.PutSQLCheckpoint(ctx, id, meta.SQLCheckpoint{Offsets: ends, Seq: 4, UpdatedMs: time.Now().UnixMilli()}); err != nil {
		t.Fatal(err)
	}
	legacy := meta.SQLObject{Kind: "query", Name: id, Statement: "INSERT INTO SMALL_PAYMENTS SELECT ID FROM PAYMENTS WHERE AMOUNT < 10;",
		Props:     map[string]string{"strata.owner": "0", "strata.sink": "SMALL_PAYMENTS", "strata.source": "PAYMENTS", "auto.offset.reset": "earliest"},
		CreatedMs: time.Now().Add(-time.Hour).UnixMilli()}
	if err := st.CreateSQLObject(ctx, legacy, false); err != nil {
		t.Fatal(err)
	}
	pay(30, 60)

	// The payments from 30 on with amount < 10: the query resumes from
	// its checkpoint, not from the start auto.offset.reset names.
	want := map[int64]int{}
	for id := range int64(60) {
		if id >= 30 && id%20 < 10 {
			want[id] = 1
		}
	}
	got := map[int64]int{}
	cons := client(t, srv.Kafka, kgo.ConsumeTopics("small_payments"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	poll := func(d time.Duration, until func() bool) {
		for deadline := time.Now().Add(d); !until() && time.Now().Before(deadline); {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			cons.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				var v struct{ ID int64 }
				if json.Unmarshal(r.Value, &v) == nil {
					got[v.ID]++
				}
			})
			cancel()
		}
	}
	poll(30*time.Second, func() bool { return len(got) >= len(want) })
	poll(2*time.Second, func() bool { return false })
	if !maps.Equal(got, want) {
		t.Fatalf("small_payments: %v; want each of %v once", got, want)
	}
	tasks, err := st.SQLTasks(ctxFor(t, 5*time.Second), id)
	if err != nil || len(tasks) != 1 || tasks[0].Owner != 0 || tasks[0].Task != 0 {
		t.Fatalf("the legacy query's task: %+v %v, want task 0 on broker 0", tasks, err)
	}
	// Its next checkpoint moves its own key on.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		ck, ok, err := st.SQLCheckpointOf(ctxFor(t, 5*time.Second), id)
		if err != nil {
			t.Fatal(err)
		}
		if ok && ck.Seq > 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the legacy query's checkpoint did not move: %+v", ck)
		}
	}
	if cks, _ := st.SQLCheckpoints(ctxFor(t, 5*time.Second), id); len(cks) != 1 {
		t.Fatalf("the legacy query has checkpoints %v, want its own key only", cks)
	}
	sqlMustSucceed(t, srv.HTTP, "TERMINATE "+id+";", nil)
	if tasks, _ := st.SQLTasks(ctxFor(t, 5*time.Second), id); len(tasks) != 0 {
		t.Fatalf("tasks after TERMINATE: %+v", tasks)
	}
}
