package engine

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/compute"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/strata-log/strata/compute/plan"
	"github.com/strata-log/strata/compute/schema"
	"github.com/strata-log/strata/compute/sql"
	"github.com/strata-log/strata/meta"
)

// testCatalog is a few sources of six partitions.
func testCatalog(t *testing.T) catalog {
	t.Helper()
	cat := catalog{}
	for _, def := range []string{
		"CREATE STREAM clicks (user_id STRING, page STRING, ms BIGINT) WITH (KAFKA_TOPIC='clicks', PARTITIONS=6);",
		"CREATE STREAM keyed (user_id STRING KEY, page STRING, amount DOUBLE) WITH (KAFKA_TOPIC='keyed', KEY_FORMAT='KAFKA', PARTITIONS=6);",
		"CREATE STREAM events (user_id STRING, amount INT, ts BIGINT, tags ARRAY<STRING>) WITH (KAFKA_TOPIC='events', TIMESTAMP='ts', PARTITIONS=6);",
		"CREATE TABLE users (id STRING PRIMARY KEY, name STRING) WITH (KAFKA_TOPIC='users', PARTITIONS=6);",
	} {
		st, err := sql.ParseStatement(def)
		if err != nil {
			t.Fatal(err)
		}
		src, err := sourceOf(st.(*sql.CreateSource))
		if err != nil {
			t.Fatal(err)
		}
		cat[src.Name] = src
	}
	return cat
}

func planText(t *testing.T, cat catalog, text string) (*plan.Query, *sql.Query) {
	t.Helper()
	st, err := sql.ParseStatement(text)
	if err != nil {
		t.Fatalf("%s: %v", text, err)
	}
	q, err := plan.PlanQuery(st.(*sql.Query), cat)
	if err != nil {
		t.Fatalf("%s: %v", text, err)
	}
	return q, st.(*sql.Query)
}

// TestSplitQuery checks the layouts: a task per partition for stateless
// queries and for aggregations grouped by the source's key, a repartition
// for other aggregations of streams, one task for joins, aggregations of
// tables and sources of one partition.
func TestSplitQuery(t *testing.T) {
	cat := testCatalog(t)
	for _, tc := range []struct {
		query string
		n     int
		want  layout
	}{
		{"SELECT page FROM clicks WHERE ms > 5;", 6, layout{sources: 6}},
		{"SELECT page FROM clicks WHERE ms > 5;", 1, single},
		{"SELECT id, name FROM users;", 6, layout{sources: 6}},
		{"SELECT user_id, COUNT(*) FROM clicks GROUP BY user_id;", 6, layout{sources: 6, aggregates: 6}},
		{"SELECT user_id, COUNT(*) FROM clicks GROUP BY user_id;", 1, single},
		{"SELECT user_id, COUNT(*) FROM clicks WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY user_id;", 3, layout{sources: 3, aggregates: 3}},
		{"SELECT user_id, SUM(amount) FROM keyed GROUP BY user_id;", 6, layout{sources: 6}},
		{"SELECT k.user_id, SUM(amount) FROM keyed k GROUP BY k.user_id;", 6, layout{sources: 6}},
		{"SELECT page, COUNT(*) FROM keyed GROUP BY page;", 6, layout{sources: 6, aggregates: 6}},
		{"SELECT user_id, page, COUNT(*) FROM keyed GROUP BY user_id, page;", 6, layout{sources: 6, aggregates: 6}},
		{"SELECT UCASE(user_id) AS u, COUNT(*) FROM keyed GROUP BY UCASE(user_id);", 6, layout{sources: 6, aggregates: 6}},
		{"SELECT c.page, u.name FROM clicks c JOIN users u ON c.user_id = u.id;", 6, single},
	} {
		q, st := planText(t, cat, tc.query)
		if got := splitQuery(q, st, tc.n); got != tc.want {
			t.Errorf("%s over %d partitions: %v, want %v", tc.query, tc.n, got, tc.want)
		}
	}
	// An aggregation of a table stays one task (its changelog aggregates
	// per table key), when the planner accepts it.
	if st, err := sql.ParseStatement("SELECT name, COUNT(*) FROM users GROUP BY name;"); err == nil {
		if q, err := plan.PlanQuery(st.(*sql.Query), cat); err == nil {
			if got := splitQuery(q, st.(*sql.Query), 6); got != single {
				t.Errorf("an aggregation of a table: %v, want one task", got)
			}
		}
	}
}

// TestLayout checks the layouts' tasks, their partitions, their
// checkpoint and placement names, and the property that records them.
func TestLayout(t *testing.T) {
	for _, tc := range []struct {
		l      layout
		prop   string
		stages string
	}{
		{single, "1", "query"},
		{layout{sources: 3}, "3", "query query query"},
		{layout{sources: 2, aggregates: 3}, "2+3", "repartition repartition aggregate aggregate aggregate"},
	} {
		if tc.l.String() != tc.prop {
			t.Errorf("%+v: %q, want %q", tc.l, tc.l.String(), tc.prop)
		}
		back, err := layoutOf(map[string]string{propTasks: tc.prop})
		if err != nil || back != tc.l {
			t.Errorf("layoutOf(%q) = %+v, %v", tc.prop, back, err)
		}
		var stages []string
		for i, spec := range tc.l.tasks() {
			if spec.task != i {
				t.Errorf("%s: task %d numbered %d", tc.prop, i, spec.task)
			}
			stages = append(stages, spec.stage.String())
		}
		if got := strings.Join(stages, " "); got != tc.stages {
			t.Errorf("%s: stages %q, want %q", tc.prop, got, tc.stages)
		}
	}
	if l, err := layoutOf(map[string]string{propOwner: "2"}); err != nil || l != single {
		t.Errorf("a query stored before tasks: %+v %v, want one task", l, err)
	}
	for _, bad := range []string{"", "0", "x", "2+", "2+0", "-1"} {
		if _, err := layoutOf(map[string]string{propTasks: bad}); err == nil {
			t.Errorf("layoutOf(%q) accepted", bad)
		}
	}

	// Partitions: task i of n reads p mod n == i; partitions added to
	// the topic later are shared out the same way.
	l := layout{sources: 3, aggregates: 2}
	specs := l.tasks()
	if got := specs[1].partitions(7); !slices.Equal(got, []int32{1, 4}) {
		t.Errorf("task 1 of 3 over 7 partitions: %v", got)
	}
	if got := specs[4].partitions(2); !slices.Equal(got, []int32{1}) {
		t.Errorf("aggregate task 1 of 2: %v", got)
	}
	if got := single.tasks()[0].partitions(5); got != nil {
		t.Errorf("the one task reads %v, want every partition (nil)", got)
	}
	if single.checkpointTask(single.tasks()[0]) != meta.SQLWholeQuery || l.checkpointTask(specs[4]) != 4 {
		t.Error("checkpoint names: the one task of a query keeps the query's key; tasks of several have their own")
	}
	if placementKey("Q", single, 0) != "Q" || placementKey("Q", l, 4) != "Q/4" {
		t.Error("placement keys")
	}
	if got := repartitionTopic("CTAS_A/B ü_1"); got != "_strata-query-CTAS_A_B____1-repartition" || meta.ValidateTopicName(got) != nil {
		t.Errorf("repartition topic %q", got)
	}
}

// TestPlace checks placement: new tasks spread over the live brokers; a
// task whose owner is live stays; a dead owner's tasks go to their
// successor only, and spread; a query stored before tasks keeps its
// owner; the keyless tasks of a young query are left to its creator.
func TestPlace(t *testing.T) {
	live := []int32{0, 1, 2}
	l := layout{sources: 6, aggregates: 6}
	owners := initialOwners("CTAS_X_1", l, live, 0)
	per := map[int32]int{}
	var cur []meta.SQLTask
	for task, o := range owners {
		per[o]++
		cur = append(cur, meta.SQLTask{Query: "CTAS_X_1", Task: task, Owner: o, Revision: int64(10 + task)})
	}
	if len(per) < 2 {
		t.Fatalf("12 tasks all on one broker: %v", owners)
	}
	// Everyone agrees, nobody claims while all owners live.
	for _, self := range live {
		for _, p := range place("CTAS_X_1", l, cur, live, self, -1, false) {
			if p.claim {
				t.Fatalf("broker %d claims task %d of a live owner", self, p.spec.task)
			}
			if p.preferred != owners[p.spec.task] {
				t.Fatalf("task %d: preferred %d, placed on %d", p.spec.task, p.preferred, owners[p.spec.task])
			}
		}
	}
	// Broker 1 dies: each of its tasks is claimed by exactly one of 0
	// and 2, and the others' stay.
	alive := []int32{0, 2}
	claims := map[int]int32{}
	for _, self := range alive {
		for _, p := range place("CTAS_X_1", l, cur, alive, self, -1, false) {
			if !p.claim {
				continue
			}
			if p.cur.Owner != 1 {
				t.Fatalf("broker %d claims task %d of live broker %d", self, p.spec.task, p.cur.Owner)
			}
			if prev, ok := claims[p.spec.task]; ok {
				t.Fatalf("task %d claimed by %d and %d", p.spec.task, prev, self)
			}
			if p.cur.Revision != int64(10+p.spec.task) {
				t.Fatalf("claim against revision %d", p.cur.Revision)
			}
			claims[p.spec.task] = self
		}
	}
	if len(claims) != per[1] {
		t.Fatalf("broker 1 had %d tasks, %d were claimed: %v", per[1], len(claims), claims)
	}

	// Keyless tasks: claimed by their successor, unless the query is
	// young (its creator writes them).
	var some []meta.SQLTask
	for _, c := range cur {
		if c.Task != 3 {
			some = append(some, c)
		}
	}
	for _, self := range live {
		for _, p := range place("CTAS_X_1", l, some, live, self, -1, true) {
			if p.claim {
				t.Fatalf("a young query's keyless task %d claimed by %d", p.spec.task, self)
			}
		}
		for _, p := range place("CTAS_X_1", l, some, live, self, -1, false) {
			if p.claim != (p.spec.task == 3 && self == owners[3]) {
				t.Fatalf("task %d claim by %d: %v", p.spec.task, self, p.claim)
			}
		}
	}

	// A query stored before tasks: its owner writes the key; while that
	// owner lives nobody else claims; when it is gone its successor does,
	// as queries failed over before tasks.
	for _, self := range live {
		ps := place("CSAS_OLD_1", single, nil, live, self, 2, false)
		if len(ps) != 1 || ps[0].claim != (self == 2) || ps[0].cur.Owner != 2 {
			t.Fatalf("legacy query seen by %d: %+v", self, ps)
		}
		if self == 2 {
			continue
		}
		ps = place("CSAS_OLD_1", single, nil, []int32{0, 1}, self, 2, false)
		if ps[0].claim != (self == successor("CSAS_OLD_1", []int32{0, 1})) {
			t.Fatalf("legacy query of a dead owner seen by %d: %+v", self, ps)
		}
	}
}

// TestTaskDescriptions checks the renderings for SHOW QUERIES and EXPLAIN.
func TestTaskDescriptions(t *testing.T) {
	one := []queryTask{{Task: 0, Stage: "query", Owner: 2}}
	if got := taskOwners(one); got != "2" {
		t.Errorf("one task: %q", got)
	}
	many := []queryTask{{0, "repartition", []int32{0}, 1}, {1, "repartition", []int32{1}, 0}, {2, "aggregate", []int32{0}, 1}, {3, "aggregate", nil, -1}}
	if got := taskOwners(many); got != "unowned (1 tasks), 0 (1 tasks), 1 (2 tasks)" {
		t.Errorf("owners %q", got)
	}
	lines := taskLines(many)
	if len(lines) != 4 || lines[0] != "Task 0: repartition, partitions [0], on broker 1" || lines[3] != "Task 3: aggregate, all partitions, on no broker yet" {
		t.Errorf("lines %q", lines)
	}
}

// TestDedup checks that an aggregate task drops rows produced again by a
// restarted repartition task, and that its state survives a checkpoint.
func TestDedup(t *testing.T) {
	ctx := compute.WithAllocator(context.Background(), memory.NewGoAllocator())
	s, _ := schema.New(schema.Column{Name: "K0", Type: schema.String, Key: true},
		schema.Column{Name: repPartition, Type: schema.Int}, schema.Column{Name: repOffset, Type: schema.BigInt})
	dec, err := schema.NewDecoder(s, schema.Format{Kind: schema.JSON, Unwrapped: true}, schema.Format{Kind: schema.JSON}, memory.NewGoAllocator())
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Release()
	batch := func(rows ...[2]int) arrow.Record {
		for i, r := range rows {
			if err := dec.Append(schema.Record{Offset: int64(i), Key: []byte(`"k"`), Value: fmt.Appendf(nil, `{"SRC_PARTITION":%d,"SRC_OFFSET":%d}`, r[0], r[1])}); err != nil {
				t.Fatal(err)
			}
		}
		return dec.Flush()
	}
	part, _ := s.FieldIndex(repPartition)
	off, _ := s.FieldIndex(repOffset)
	var got []string
	collect := func(_ context.Context, rec arrow.Record) error {
		for i := range int(rec.NumRows()) {
			got = append(got, fmt.Sprintf("%s/%s", rec.Column(part).ValueStr(i), rec.Column(off).ValueStr(i)))
		}
		return nil
	}
	d := newDedup(part, off)
	push := func(d *dedup, rows ...[2]int) {
		rec := batch(rows...)
		defer rec.Release()
		if err := d.stage(collect)(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	push(d, [2]int{0, 0}, [2]int{1, 0}, [2]int{0, 1}, [2]int{0, 2})
	var snap bytes.Buffer
	if err := d.Snapshot(ctx, &snap); err != nil {
		t.Fatal(err)
	}
	// Partition 0's task restarts from offset 1: 1 and 2 come again.
	push(d, [2]int{0, 1}, [2]int{1, 1}, [2]int{0, 2}, [2]int{0, 3})
	push(d, [2]int{1, 1}) // all seen: nothing passes
	want := []string{"0/0", "1/0", "0/1", "0/2", "1/1", "0/3"}
	if !slices.Equal(got, want) {
		t.Fatalf("passed %v, want %v", got, want)
	}
	// A restart from the snapshot drops what the snapshot had seen.
	got = nil
	d2 := newDedup(part, off)
	if err := d2.Restore(ctx, bytes.NewReader(snap.Bytes())); err != nil {
		t.Fatal(err)
	}
	push(d2, [2]int{0, 2}, [2]int{0, 3}, [2]int{1, 0}, [2]int{1, 1})
	if want := []string{"0/3", "1/1"}; !slices.Equal(got, want) {
		t.Fatalf("after restore passed %v, want %v", got, want)
	}
	if err := d2.Restore(ctx, strings.NewReader("nope")); err == nil {
		t.Fatal("restored garbage")
	}
}

// TestRepartitionAgrees runs aggregations both ways over the same rows —
// as one pipeline, and as repartition tasks (WHERE and the aggregation's
// input, encoded as the repartition topic's records, spread over its
// partitions by key, some produced twice as after a restart) feeding an
// aggregate task per partition — and checks that every group ends with
// the same value.
func TestRepartitionAgrees(t *testing.T) {
	cat := testCatalog(t)
	e := newEngine(Config{})
	ctx := compute.WithAllocator(context.Background(), e.mem)
	for _, text := range []string{
		"SELECT user_id, COUNT(*) AS n, SUM(ms) AS total FROM clicks WHERE ms >= 0 GROUP BY user_id;",
		"SELECT UCASE(page) AS p, user_id, COUNT(*), LATEST_BY_OFFSET(ms), COLLECT_LIST(ms) FROM clicks GROUP BY UCASE(page), user_id HAVING COUNT(*) > 1;",
		"SELECT user_id, COUNT(*) FROM clicks WINDOW TUMBLING (SIZE 100 MILLISECONDS) GROUP BY user_id;",
		"SELECT page, SUM(amount), MAX(amount) FROM keyed GROUP BY page;",
		"SELECT user_id, SUM(amount) AS s, COUNT_DISTINCT(amount) FROM events WINDOW HOPPING (SIZE 20 MILLISECONDS, ADVANCE BY 10 MILLISECONDS) GROUP BY user_id;",
	} {
		t.Run(text, func(t *testing.T) {
			q, _ := planText(t, cat, text)
			rep, err := newRepartition(q, "Q")
			if err != nil {
				t.Fatal(err)
			}
			rows := sourceRows(t, q.Source, 300)
			defer rows.Release()

			// One pipeline.
			whole := lastPerKey{}
			p, err := e.pipeline(q, false, project(q.Project, q.Names, whole.add(q)))
			if err != nil {
				t.Fatal(err)
			}
			defer p.close()
			if err := p.head(ctx, rows); err != nil {
				t.Fatal(err)
			}

			// The repartition tasks.
			const parts = 4
			keyEnc, err := schema.NewEncoder(rep.src.Schema.Keys(), rep.src.KeyFormat)
			if err != nil {
				t.Fatal(err)
			}
			valEnc, err := schema.NewEncoder(rep.src.Schema.Values(), rep.src.ValueFormat)
			if err != nil {
				t.Fatal(err)
			}
			topic := make([][]schema.Record, parts)
			produce := func(_ context.Context, rec arrow.Record) error {
				ts := rec.Column(0)
				for i := range int(rec.NumRows()) {
					k, err := keyEnc.Encode(rec, i, nil)
					if err != nil {
						return err
					}
					v, err := valEnc.Encode(rec, i, nil)
					if err != nil {
						return err
					}
					h := fnv.New32a()
					h.Write(k)
					p := int(h.Sum32() % parts)
					topic[p] = append(topic[p], schema.Record{Partition: int32(p), Offset: int64(len(topic[p])), Timestamp: tsMillis(ts, i), Key: k, Value: v})
				}
				return nil
			}
			stage1 := filter(q.Where, project(rep.out, rep.names, produce))
			half := rows.NewSlice(0, rows.NumRows()/2)
			defer half.Release()
			for _, rec := range []arrow.Record{half, rows} { // the first half twice: a restart
				if err := stage1(ctx, rec); err != nil {
					t.Fatal(err)
				}
			}

			split := lastPerKey{}
			for part := range parts {
				p, err := e.pipeline(rep.agg, false, project(q.Project, q.Names, split.add(q)))
				if err != nil {
					t.Fatal(err)
				}
				defer p.close()
				d := newDedup(rep.part, rep.off)
				dec, err := schema.NewDecoder(rep.src.Schema, rep.src.KeyFormat, rep.src.ValueFormat, e.mem)
				if err != nil {
					t.Fatal(err)
				}
				defer dec.Release()
				for _, r := range topic[part] {
					if err := dec.Append(r); err != nil {
						t.Fatal(err)
					}
				}
				rec := dec.Flush()
				defer rec.Release()
				if err := d.stage(p.head)(ctx, rec); err != nil {
					t.Fatal(err)
				}
			}
			if len(whole) < 3 {
				t.Fatalf("only %d groups: the test needs more", len(whole))
			}
			if !maps.Equal(whole, split) {
				for k, v := range whole {
					if split[k] != v {
						t.Errorf("group %s: %s one way, %s repartitioned", k, v, split[k])
					}
				}
				t.Fatalf("%d groups one way, %d repartitioned", len(whole), len(split))
			}
		})
	}
}

// tsMillis reads a TIMESTAMP column's value as epoch milliseconds.
func tsMillis(col arrow.Array, i int) int64 {
	type valuer interface{ Value(int) arrow.Timestamp }
	return int64(col.(valuer).Value(i))
}

// lastPerKey keeps the last output row of each key (the query's key
// columns), as a compacted sink topic would.
type lastPerKey map[string]string

func (l lastPerKey) add(q *plan.Query) stage {
	return func(_ context.Context, rec arrow.Record) error {
		var keys []int
		for _, k := range q.Keys {
			keys = append(keys, rec.Schema().FieldIndices(k)[0])
		}
		for i := range int(rec.NumRows()) {
			var k, v []string
			for _, c := range keys {
				k = append(k, rec.Column(c).ValueStr(i))
			}
			for c := range int(rec.NumCols()) {
				v = append(v, rec.Column(c).ValueStr(i))
			}
			l[strings.Join(k, "|")] = strings.Join(v, "|")
		}
		return nil
	}
}

// sourceRows decodes n records of src (JSON values, a KAFKA key if it
// has one) spread over six partitions.
func sourceRows(t *testing.T, src *plan.Source, n int) arrow.Record {
	t.Helper()
	dec, err := schema.NewDecoder(src.Schema, src.KeyFormat, src.ValueFormat, memory.NewGoAllocator())
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Release()
	pages := []string{"/a", "/b", "/C", "/d"}
	for i := range n {
		user := fmt.Sprintf("u%d", i*7%5)
		var key, value []byte
		switch src.Name {
		case "CLICKS":
			value = fmt.Appendf(nil, `{"user_id":%q,"page":%q,"ms":%d}`, user, pages[i%len(pages)], i*3%17)
		case "KEYED":
			key = []byte(user)
			value = fmt.Appendf(nil, `{"page":%q,"amount":%d.5}`, pages[i%len(pages)], i%9)
		case "EVENTS":
			value = fmt.Appendf(nil, `{"user_id":%q,"amount":%d,"ts":%d,"tags":["x"]}`, user, i%4, 1000+i*3)
		default:
			t.Fatalf("no rows for %s", src.Name)
		}
		r := schema.Record{Partition: int32(i % 6), Offset: int64(i / 6), Timestamp: int64(1000 + i*7), Key: key, Value: value}
		if err := dec.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	return dec.Flush()
}
