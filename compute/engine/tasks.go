package engine

// A persistent query runs as tasks, as Kafka Streams and ksqlDB run theirs:
// each task reads some partitions and has its own owner (a broker, in
// etcd's /sql/tasks/<query>/<task>) and its own checkpoint, so that the
// tasks of one query spread over the brokers and move one by one when a
// broker leaves.
//
//   - A query without aggregation or join (WHERE and a projection) has one
//     task per source partition.
//   - An aggregation whose GROUP BY is exactly the source's key columns
//     does too: the key already put equal groups in one partition.
//   - Any other aggregation over a stream is repartitioned, as ksqlDB
//     does: one "repartition" task per source partition applies WHERE and
//     computes the aggregation's input columns, and produces them to the
//     internal topic _strata-query-<id>-repartition keyed by the group
//     key (Kafka's default partitioner, murmur2 of the key, puts equal
//     groups in one partition); one "aggregate" task per partition of
//     that topic aggregates and writes the sink.
//   - Joins, aggregations of tables, and sources of one partition run as
//     one task over every partition, with the checkpoint key and state
//     object names queries had before tasks (docs/format/sql-checkpoint.md).

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/compute"

	"github.com/strata-log/strata/compute/expr"
	"github.com/strata-log/strata/compute/plan"
	"github.com/strata-log/strata/compute/schema"
	"github.com/strata-log/strata/compute/sql"
	"github.com/strata-log/strata/meta"
)

// propTasks records a query's layout in its definition's properties:
// "1" (one task), "N" (N tasks over the source's partitions) or "N+M" (N
// repartition tasks, M aggregate tasks). Queries stored before tasks have
// none: they run as one task.
const propTasks = "strata.tasks"

// layout is how a persistent query is split into tasks.
type layout struct {
	// sources is the number of tasks reading the source topic; task i
	// reads the partitions p with p mod sources == i. 1 with aggregates
	// 0 is the whole query as one task.
	sources int
	// aggregates is the number of aggregate tasks reading the repartition
	// topic (0: no repartition), tasks sources to sources+aggregates-1.
	aggregates int
}

// single is the layout of a query that runs as one task.
var single = layout{sources: 1}

func (l layout) single() bool { return l == single }

func (l layout) String() string {
	if l.aggregates > 0 {
		return fmt.Sprintf("%d+%d", l.sources, l.aggregates)
	}
	return strconv.Itoa(l.sources)
}

// layoutOf reads a query's layout from its properties.
func layoutOf(props map[string]string) (layout, error) {
	s, ok := props[propTasks]
	if !ok {
		return single, nil // stored before tasks
	}
	src, agg, rep := strings.Cut(s, "+")
	l := layout{}
	var err error
	if l.sources, err = strconv.Atoi(src); err != nil || l.sources < 1 {
		return single, fmt.Errorf("bad %s %q", propTasks, s)
	}
	if rep {
		if l.aggregates, err = strconv.Atoi(agg); err != nil || l.aggregates < 1 {
			return single, fmt.Errorf("bad %s %q", propTasks, s)
		}
	}
	return l, nil
}

// taskStage is what a task runs.
type taskStage int

const (
	stageQuery       taskStage = iota // the whole query over its partitions of the source
	stageRepartition                  // WHERE and the aggregation's input, to the repartition topic
	stageAggregate                    // the aggregation over its partitions of the repartition topic
)

func (s taskStage) String() string {
	return [...]string{stageQuery: "query", stageRepartition: "repartition", stageAggregate: "aggregate"}[s]
}

// taskSpec is one task of a layout.
type taskSpec struct {
	task  int
	stage taskStage
	// The task reads the partitions p of its topic with p mod of ==
	// index; of 0 means every partition.
	index, of int
}

// tasks lists a layout's tasks by number.
func (l layout) tasks() []taskSpec {
	if l.single() {
		return []taskSpec{{task: 0, stage: stageQuery}}
	}
	var out []taskSpec
	first := stageQuery
	if l.aggregates > 0 {
		first = stageRepartition
	}
	for i := range l.sources {
		out = append(out, taskSpec{task: i, stage: first, index: i, of: l.sources})
	}
	for i := range l.aggregates {
		out = append(out, taskSpec{task: l.sources + i, stage: stageAggregate, index: i, of: l.aggregates})
	}
	return out
}

// partitions returns the partitions of a topic of n partitions the task
// reads (nil: all).
func (t taskSpec) partitions(n int) []int32 {
	if t.of == 0 {
		return nil
	}
	out := []int32{}
	for p := t.index; p < n; p += t.of {
		out = append(out, int32(p))
	}
	return out
}

// checkpointTask is the task number of the task's checkpoint: the query's
// own key for a query of one task (as before tasks), else its number.
func (l layout) checkpointTask(t taskSpec) int {
	if l.single() {
		return meta.SQLWholeQuery
	}
	return t.task
}

// placementKey is what rendezvous hashing places: the query id for a
// query of one task (placed as queries were before tasks), else the id
// and the task number.
func placementKey(id string, l layout, task int) string {
	if l.single() {
		return id
	}
	return fmt.Sprintf("%s/%d", id, task)
}

// splitQuery chooses the layout of a persistent query over a source of n
// partitions.
func splitQuery(q *plan.Query, st *sql.Query, n int) layout {
	switch {
	case n <= 1 || q.Join != nil:
		return single
	case q.Agg == nil:
		return layout{sources: n}
	case q.Source.Kind != sql.Stream || len(q.Agg.Keys) == 0:
		// A table's changelog aggregates per table key (the old row of a
		// key must meet its new one); a global aggregate has one group.
		return single
	case groupedBySourceKey(q, st):
		return layout{sources: n}
	}
	if _, err := newRepartition(q, "x"); err != nil {
		return single // a column the internal topic cannot carry
	}
	return layout{sources: n, aggregates: n}
}

// groupedBySourceKey reports whether GROUP BY names exactly the source's
// key columns (in any order): equal groups are then in one partition, if
// the source's producers partition by key as Kafka's do, and ksqlDB skips
// the repartition.
func groupedBySourceKey(q *plan.Query, st *sql.Query) bool {
	keys := q.Source.Schema.Keys()
	if len(keys) == 0 || st == nil || len(st.GroupBy) != len(keys) {
		return false
	}
	seen := map[string]bool{}
	for _, g := range st.GroupBy {
		ref, ok := g.(*sql.ColumnRef)
		if !ok || ref.Source != "" && ref.Source != q.Alias && ref.Source != q.Source.Name {
			return false
		}
		if !slices.ContainsFunc(keys, func(c schema.Column) bool { return c.Name == ref.Name }) || seen[ref.Name] {
			return false
		}
		seen[ref.Name] = true
	}
	return true
}

// repartitionTopic is the internal topic of a repartitioned query.
func repartitionTopic(id string) string {
	b := []byte("_strata-query-" + id + "-repartition")
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	return string(b)
}

// Columns of the repartition topic besides the group keys (K0, K1, …, the
// record key) and the aggregation's other inputs (C<n>, n its index in the
// aggregation's input): the source record's partition and offset, which
// the aggregate tasks use to drop the rows a repartition task produces
// again after a restart.
const (
	repPartition = "SRC_PARTITION"
	repOffset    = "SRC_OFFSET"
)

// repartition is the two stages of a repartitioned aggregation.
type repartition struct {
	// src is the repartition topic as a stream: the group keys as its key
	// (JSON), the other inputs of the aggregation as its value (JSON),
	// the source record's timestamp as the record's.
	src *plan.Source
	// out and names project a (filtered) source batch to the topic's
	// columns, with ROWTIME, which the sink writes as the timestamp.
	out   []expr.Expr
	names []string
	// agg is the query with its aggregation reading src's batches.
	agg *plan.Query
	// part and off are the columns of src's batches with the source
	// partition and offset.
	part, off int
}

// newRepartition builds the repartition of q's aggregation.
func newRepartition(q *plan.Query, id string) (*repartition, error) {
	a := q.Agg
	key := map[int]int{}
	for i, k := range a.Keys {
		key[k] = i
	}
	var cols []schema.Column
	r := &repartition{out: []expr.Expr{a.Pre[schema.RowTimeIndex]}, names: []string{schema.RowTime}}
	add := func(name string, x expr.Expr, isKey bool) error {
		t, err := schema.FromArrow(x.Type())
		if err != nil {
			return fmt.Errorf("column %s of the aggregation's input: %w", name, err)
		}
		if !arrow.TypeEqual(t.Arrow(), x.Type()) {
			return fmt.Errorf("column %s of the aggregation's input: %s does not round-trip", name, x.Type())
		}
		cols = append(cols, schema.Column{Name: name, Type: t, Key: isKey})
		r.out = append(r.out, x)
		r.names = append(r.names, name)
		return nil
	}
	for i, k := range a.Keys {
		if err := add("K"+strconv.Itoa(i), a.Pre[k], true); err != nil {
			return nil, err
		}
	}
	if err := add(repPartition, a.Pre[schema.RowPartitionIndex], false); err != nil {
		return nil, err
	}
	if err := add(repOffset, a.Pre[schema.RowOffsetIndex], false); err != nil {
		return nil, err
	}
	for j := schema.NumPseudoColumns; j < len(a.Pre); j++ {
		if _, ok := key[j]; ok {
			continue
		}
		if err := add("C"+strconv.Itoa(j), a.Pre[j], false); err != nil {
			return nil, err
		}
	}
	s, err := schema.New(cols...)
	if err != nil {
		return nil, err
	}
	r.src = &plan.Source{Name: repartitionTopic(id), Kind: sql.Stream, Topic: repartitionTopic(id), Schema: s,
		KeyFormat: schema.Format{Kind: schema.JSON, Unwrapped: len(a.Keys) == 1}, ValueFormat: schema.Format{Kind: schema.JSON}}

	// The aggregation's input, from the topic's batches.
	in := s.Arrow()
	field := func(name string) (expr.Expr, int) {
		i, _ := s.FieldIndex(name)
		return expr.Column(i, name, in.Field(i).Type), i
	}
	pre := make([]expr.Expr, len(a.Pre))
	pre[schema.RowTimeIndex], _ = field(schema.RowTime)
	pre[schema.RowPartitionIndex], r.part = field(repPartition)
	pre[schema.RowOffsetIndex], r.off = field(repOffset)
	for j := schema.NumPseudoColumns; j < len(a.Pre); j++ {
		if i, ok := key[j]; ok {
			pre[j], _ = field("K" + strconv.Itoa(i))
		} else {
			pre[j], _ = field("C" + strconv.Itoa(j))
		}
	}
	for j := range pre {
		if !arrow.TypeEqual(pre[j].Type(), a.Pre[j].Type()) {
			return nil, fmt.Errorf("column %s of the aggregation's input is %s in the repartition topic, not %s", a.PreNames[j], pre[j].Type(), a.Pre[j].Type())
		}
	}
	agg := *a
	agg.Pre = pre
	q2 := *q
	q2.Source, q2.Input, q2.Where, q2.Join, q2.Agg = r.src, plan.SourceSchema(r.src), nil, nil, &agg
	r.agg = &q2
	return r, nil
}

// dedup drops the rows of the repartition topic a repartition task
// produced again after it restarted from its checkpoint: a repartition
// task produces the rows of a source partition in offset order, so a row
// whose source offset is not above the greatest one seen from its
// partition was seen. It is an aggregate task's first stateful operator:
// its checkpoint keeps the greatest offsets with the aggregation's state.
type dedup struct {
	part, off int
	seen      map[int32]int64
}

func newDedup(part, off int) *dedup { return &dedup{part: part, off: off, seen: map[int32]int64{}} }

// stage filters batches into next.
func (d *dedup) stage(next stage) stage {
	return func(ctx context.Context, rec arrow.Record) error {
		parts, ok1 := rec.Column(d.part).(*array.Int32)
		offs, ok2 := rec.Column(d.off).(*array.Int64)
		if !ok1 || !ok2 {
			return fmt.Errorf("repartition batch %s: want INT %s and BIGINT %s columns", rec.Schema(), repPartition, repOffset)
		}
		n := int(rec.NumRows())
		keep := make([]bool, n)
		kept := 0
		for i := range n {
			if parts.IsNull(i) || offs.IsNull(i) {
				keep[i] = true
			} else if p, o := parts.Value(i), offs.Value(i); o > d.last(p) {
				d.seen[p] = o
				keep[i] = true
			}
			if keep[i] {
				kept++
			}
		}
		switch kept {
		case 0:
			return nil
		case n:
			return next(ctx, rec)
		}
		b := array.NewBooleanBuilder(compute.GetAllocator(ctx))
		defer b.Release()
		b.AppendValues(keep, nil)
		mask := b.NewArray()
		defer mask.Release()
		out, err := compute.FilterRecordBatch(ctx, rec, mask, compute.DefaultFilterOptions())
		if err != nil {
			return err
		}
		defer out.Release()
		return next(ctx, out)
	}
}

func (d *dedup) last(p int32) int64 {
	if o, ok := d.seen[p]; ok {
		return o
	}
	return -1
}

// dedupMagic starts a dedup snapshot: then a uvarint count and, by
// partition, a varint partition and a varint offset each.
const dedupMagic = "STRATA-DEDUP-1\n"

func (d *dedup) Snapshot(_ context.Context, w io.Writer) error {
	buf := []byte(dedupMagic)
	buf = binary.AppendUvarint(buf, uint64(len(d.seen)))
	for _, p := range slices.Sorted(maps.Keys(d.seen)) {
		buf = binary.AppendVarint(buf, int64(p))
		buf = binary.AppendVarint(buf, d.seen[p])
	}
	_, err := w.Write(buf)
	return err
}

func (d *dedup) Restore(_ context.Context, r io.Reader) error {
	br := bufio.NewReader(r)
	magic := make([]byte, len(dedupMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != dedupMagic {
		return errors.New("not a repartition dedup snapshot")
	}
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return err
	}
	seen := map[int32]int64{}
	for range n {
		p, err := binary.ReadVarint(br)
		if err != nil {
			return errors.Join(err, io.ErrUnexpectedEOF)
		}
		o, err := binary.ReadVarint(br)
		if err != nil {
			return errors.Join(err, io.ErrUnexpectedEOF)
		}
		seen[int32(p)] = o
	}
	d.seen = seen
	return nil
}

// placement is one task of a query as a broker's reconcile sees it.
type placement struct {
	spec taskSpec
	// cur is its key in etcd (Revision 0: none yet).
	cur meta.SQLTask
	// claim: no live broker owns it and this broker is its successor
	// (or, for a query stored before tasks, its owner): it claims it.
	claim bool
	// preferred is the live broker rendezvous hashing places it on.
	preferred int32
}

// place decides, for each task of query id of layout l, whether this
// broker (self) claims it, given the task keys in etcd (cur), the live
// brokers (sorted) and, for a query stored before tasks without keys yet,
// the owner its definition names (legacy; -1: none). young queries (just
// created: their creator is writing their keys) get no claims for tasks
// without keys.
func place(id string, l layout, cur []meta.SQLTask, live []int32, self, legacy int32, young bool) []placement {
	byTask := map[int]meta.SQLTask{}
	for _, t := range cur {
		byTask[t.Task] = t
	}
	var out []placement
	for _, spec := range l.tasks() {
		p := placement{spec: spec, preferred: successor(placementKey(id, l, spec.task), live)}
		t, ok := byTask[spec.task]
		if !ok {
			t = meta.SQLTask{Query: id, Task: spec.task, Owner: -1, Stage: spec.stage.String()}
			if l.single() && legacy >= 0 {
				t.Owner = legacy
			}
		}
		p.cur = t
		switch {
		case t.Owner == self:
			p.claim = !ok // a legacy query's owner writes its task key
		case slices.Contains(live, t.Owner):
		case !ok && young:
		default:
			p.claim = p.preferred == self
		}
		out = append(out, p)
	}
	return out
}

// initialOwners places the tasks of a new query over the live brokers
// (self when none is known).
func initialOwners(id string, l layout, live []int32, self int32) map[int]int32 {
	out := map[int]int32{}
	for _, spec := range l.tasks() {
		o := successor(placementKey(id, l, spec.task), live)
		if o < 0 {
			o = self
		}
		out[spec.task] = o
	}
	return out
}

// queryTask is one task of a persistent query: what it runs, the
// partitions it read when placed, and the broker that runs it (-1: none
// yet).
type queryTask struct {
	Task       int
	Stage      string
	Partitions []int32
	Owner      int32
}

// queryTasks lists the tasks of a persistent query (for SHOW QUERIES and
// EXPLAIN). A query stored before tasks that no broker has resumed since
// shows its one task with the owner its definition names.
func (e *Engine) queryTasks(ctx context.Context, id string) ([]queryTask, error) {
	qs, err := e.cfg.Meta.SQLObjects(ctx, kindQuery)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(qs, func(o meta.SQLObject) bool { return o.Name == id })
	if i < 0 {
		return nil, fmt.Errorf("no query %s", id)
	}
	l, err := layoutOf(qs[i].Props)
	if err != nil {
		return nil, err
	}
	cur, err := e.cfg.Meta.SQLTasks(ctx, id)
	if err != nil {
		return nil, err
	}
	byTask := map[int]meta.SQLTask{}
	for _, t := range cur {
		byTask[t.Task] = t
	}
	var out []queryTask
	for _, spec := range l.tasks() {
		qt := queryTask{Task: spec.task, Stage: spec.stage.String(), Owner: -1}
		if t, ok := byTask[spec.task]; ok {
			qt.Owner, qt.Partitions = t.Owner, t.Partitions
		} else if l.single() {
			qt.Owner = legacyOwner(qs[i])
		}
		out = append(out, qt)
	}
	return out, nil
}

// taskOwners renders the owners of tasks for SHOW QUERIES: the brokers,
// in order, with each one's task count when there are several tasks
// ("1 (2 tasks), 2 (4 tasks)").
func taskOwners(tasks []queryTask) string {
	if len(tasks) == 1 {
		return strconv.Itoa(int(tasks[0].Owner))
	}
	n := map[int32]int{}
	for _, t := range tasks {
		n[t.Owner]++
	}
	var parts []string
	for _, b := range slices.Sorted(maps.Keys(n)) {
		who := strconv.Itoa(int(b))
		if b < 0 {
			who = "unowned"
		}
		parts = append(parts, fmt.Sprintf("%s (%d tasks)", who, n[b]))
	}
	return strings.Join(parts, ", ")
}

// taskLines renders tasks for EXPLAIN, one line each.
func taskLines(tasks []queryTask) []string {
	var out []string
	for _, t := range tasks {
		parts := "all partitions"
		if t.Partitions != nil {
			parts = fmt.Sprintf("partitions %v", t.Partitions)
		}
		owner := fmt.Sprintf("broker %d", t.Owner)
		if t.Owner < 0 {
			owner = "no broker yet"
		}
		out = append(out, fmt.Sprintf("Task %d: %s, %s, on %s", t.Task, t.Stage, parts, owner))
	}
	return out
}

// legacyOwner is the owner a query's definition names (-1: none).
func legacyOwner(q meta.SQLObject) int32 {
	o, err := strconv.ParseInt(q.Props[propOwner], 10, 32)
	if err != nil {
		return -1
	}
	return int32(o)
}
