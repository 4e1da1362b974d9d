package engine

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/compute"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strata-log/strata/compute/expr"
	"github.com/strata-log/strata/compute/plan"
	"github.com/strata-log/strata/compute/schema"
	"github.com/strata-log/strata/compute/sql"
	"github.com/strata-log/strata/meta"
	"github.com/strata-log/strata/tiering/bucket"
)

// Properties the engine records with a persistent query.
const (
	propOwner  = "strata.owner"  // the broker that runs its task 0 (before tasks: the whole query)
	propSink   = "strata.sink"   // the stream or table it writes
	propSource = "strata.source" // the stream or table it reads
)

// reconcileInterval is how often an engine compares the tasks it runs
// with the definitions in etcd (a TERMINATE on another broker stops them).
const reconcileInterval = 2 * time.Second

// handoffRounds: a task moves to the live broker rendezvous hashing
// places it on (one that joined, or came back, after the task moved away)
// once that broker was live for this many reconciles in a row.
const handoffRounds = 5

// youngQuery: the tasks without a key of a query younger than this are
// left to its creator, which is writing their keys.
const youngQuery = 30 * time.Second

// errHandedOver ends a task that checkpointed to move to another broker.
var errHandedOver = errors.New("task handed over")

// persistent is the tasks of a persistent query running on this broker.
type persistent struct {
	id    string
	tasks map[int]*taskRun // guarded by Engine.mu

	mu      sync.Mutex
	lastErr error
}

func (p *persistent) err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastErr
}

func (p *persistent) setErr(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lastErr = err
}

// taskRun is a task running on this broker.
type taskRun struct {
	spec taskSpec
	// key is the task's key as this broker claimed it: its checkpoints
	// compare the key's revision, so they fail once another broker took
	// the task or the query was terminated.
	key    meta.SQLTask
	cancel context.CancelFunc
	done   chan struct{}
	// leave is closed (once, under Engine.mu) to hand the task over to
	// broker to: it checkpoints, stops, and gives its key to that broker.
	leave chan struct{}
	to    int32
	// rounds counts the reconciles in a row that placed the task on
	// another live broker (reconcile only).
	rounds int
}

func (t *taskRun) leaving() bool {
	select {
	case <-t.leave:
		return true
	default:
		return false
	}
}

// createAsSelect runs CREATE STREAM|TABLE … AS SELECT: it creates the sink
// (its topic and catalog entry), stores the query and starts it.
func (e *Engine) createAsSelect(ctx context.Context, st *sql.CreateAsSelect, props map[string]string, res Result) error {
	cat, err := e.catalog(ctx)
	if err != nil {
		return err
	}
	if _, ok := cat[st.Name]; ok && !st.OrReplace {
		if st.IfNotExists {
			return res.Status(Status{Statement: st.String(), Message: fmt.Sprintf("%s already exists", st.Name)})
		}
		return errorAt(st, "%s already exists: DROP it first, or use CREATE OR REPLACE", st.Name)
	}
	q, err := plan.PlanQuery(st.Query, cat)
	if err != nil {
		return err
	}
	sink, err := e.sinkDefinition(ctx, st, q)
	if err != nil {
		return err
	}
	cs, err := sql.ParseStatement(sink)
	if err != nil {
		return fmt.Errorf("sink definition %q: %w", sink, err)
	}
	if _, err := sourceOf(cs.(*sql.CreateSource)); err != nil {
		// Checked before anything is stored: a bad entry would break the
		// catalog of every later statement.
		return errorAt(st, "%s: %v", st.Name, strings.TrimPrefix(err.Error(), "line 1:1: "))
	}
	if err := e.ensureTopic(ctx, propsOf(cs.(*sql.CreateSource).Props)["KAFKA_TOPIC"].Text, propsOf(cs.(*sql.CreateSource).Props)); err != nil {
		return errorAt(st, "%v", err)
	}
	prefix := "CSAS_"
	if st.Kind == sql.Table {
		prefix = "CTAS_"
	}
	if err := e.cfg.Meta.CreateSQLObject(ctx, meta.SQLObject{Kind: kindSource, Name: st.Name, Statement: sink, CreatedMs: time.Now().UnixMilli()}, st.OrReplace); err != nil {
		return errorAt(st, "%s: %v", st.Name, err)
	}
	return e.startQuery(ctx, st, st.Query, q, prefix+st.Name, st.Name, props, res)
}

// insertInto runs INSERT INTO target SELECT …: a persistent query writing
// an existing stream, whose columns the query's output must match.
func (e *Engine) insertInto(ctx context.Context, st *sql.InsertInto, props map[string]string, res Result) error {
	cat, err := e.catalog(ctx)
	if err != nil {
		return err
	}
	target, ok := cat[st.Target]
	if !ok || target.Kind != sql.Stream {
		return errorAt(st, "INSERT INTO needs an existing stream; %s is not one", st.Target)
	}
	q, err := plan.PlanQuery(st.Query, cat)
	if err != nil {
		return err
	}
	out := q.Output()
	if out.NumFields() != target.Schema.Len() {
		return errorAt(st.Query, "the query has %d columns and %s has %d", out.NumFields(), target.Name, target.Schema.Len())
	}
	for i, f := range out.Fields() {
		c := target.Schema.Column(i)
		if f.Name != c.Name || !arrow.TypeEqual(f.Type, c.Type.Arrow()) {
			return errorAt(st.Query, "column %d is %s %s, but %s's is %s %s", i+1, f.Name, expr.SQLType(f.Type), target.Name, c.Name, c.Type)
		}
	}
	return e.startQuery(ctx, st, st.Query, q, "INSERTQUERY_"+target.Name, target.Name, props, res)
}

// startQuery stores a persistent query (its id: prefix and a number) and
// its tasks, placed over the live brokers, and starts those placed here;
// the other brokers start theirs at their next reconcile. Without
// auto.offset.reset=earliest the tasks reading the source start at its
// end offsets as they are now, however late they start.
func (e *Engine) startQuery(ctx context.Context, st sql.Statement, query *sql.Query, q *plan.Query, prefix, sink string, props map[string]string, res Result) error {
	qs, err := e.cfg.Meta.SQLObjects(ctx, kindQuery)
	if err != nil {
		return err
	}
	n, err := e.partitions(ctx, q.Source.Topic)
	if err != nil {
		return err
	}
	live, err := e.liveBrokers(ctx)
	if err != nil {
		return err
	}
	l := splitQuery(q, query, n)
	qprops := map[string]string{propSink: sink, propSource: q.Source.Name, propTasks: l.String()}
	for k, v := range props {
		qprops[k] = v
	}
	// The first free number after the count of queries (a terminated
	// query leaves a gap).
	var obj meta.SQLObject
	var owners map[int]int32
	for i := len(qs) + 1; ; i++ {
		id := fmt.Sprintf("%s_%d", prefix, i)
		owners = initialOwners(id, l, live, e.cfg.NodeID)
		qprops[propOwner] = fmt.Sprint(owners[0])
		obj = meta.SQLObject{Kind: kindQuery, Name: id, Statement: st.String(), Props: qprops, CreatedMs: time.Now().UnixMilli()}
		err := e.cfg.Meta.CreateSQLObject(ctx, obj, false)
		if err == nil {
			break
		}
		if !errors.Is(err, meta.ErrSQLObjectExists) || i > len(qs)+1000 {
			return err
		}
	}
	id := obj.Name
	if err := e.createTasks(ctx, obj, q, l, n, owners, earliest(props)); err != nil {
		// Nothing ran yet: take the query back.
		e.cfg.Meta.DeleteSQLObject(context.WithoutCancel(ctx), kindQuery, id)
		e.dropQueryData(context.WithoutCancel(ctx), obj)
		return err
	}
	if err := e.resume(ctx, obj); err != nil {
		return err
	}
	return res.Status(Status{Statement: st.String(), Message: fmt.Sprintf("Created query with ID %s", id), QueryID: id})
}

// createTasks creates what the tasks of a new query need: the repartition
// topic, the first checkpoints (the source's end offsets, unless the query
// reads from the start) and the task keys with their owners.
func (e *Engine) createTasks(ctx context.Context, obj meta.SQLObject, q *plan.Query, l layout, n int, owners map[int]int32, fromStart bool) error {
	id := obj.Name
	if l.aggregates > 0 {
		p := props{"PARTITIONS": &sql.Literal{Kind: sql.IntegerLit, Text: strconv.Itoa(l.aggregates)}}
		if err := e.ensureTopic(ctx, repartitionTopic(id), p); err != nil {
			return fmt.Errorf("query %s: repartition topic: %w", id, err)
		}
	}
	var ends map[int32]int64
	if !fromStart {
		var err error
		if ends, err = e.endOffsets(ctx, q.Source.Topic); err != nil {
			return err
		}
	}
	now := time.Now().UnixMilli()
	for _, spec := range l.tasks() {
		parts := spec.partitions(n)
		if ends != nil && spec.stage != stageAggregate {
			ck := meta.SQLCheckpoint{Offsets: map[int32]int64{}, UpdatedMs: now}
			for p, o := range ends {
				if parts == nil || slices.Contains(parts, p) {
					ck.Offsets[p] = o
				}
			}
			if err := e.cfg.Meta.InitSQLTaskCheckpoint(ctx, id, l.checkpointTask(spec), ck); err != nil {
				return err
			}
		}
		t := meta.SQLTask{Query: id, Task: spec.task, Owner: owners[spec.task], Stage: spec.stage.String(), Partitions: parts, UpdatedMs: now}
		if _, err := e.cfg.Meta.ClaimSQLTask(ctx, kindQuery, t, 0); err != nil && !errors.Is(err, meta.ErrSQLTaskChanged) {
			return err
		}
	}
	return nil
}

// endOffsets returns the end offset of each partition of a topic.
func (e *Engine) endOffsets(ctx context.Context, topic string) (map[int32]int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.cfg.Brokers...))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("topic %s: %w", topic, err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out, nil
}

// liveBrokers lists the registered brokers, sorted.
func (e *Engine) liveBrokers(ctx context.Context) ([]int32, error) {
	brokers, err := e.cfg.Meta.Brokers(ctx)
	if err != nil {
		return nil, err
	}
	var live []int32
	for _, b := range brokers {
		live = append(live, b.ID)
	}
	slices.Sort(live)
	return live, nil
}

// sinkDefinition is the CREATE statement of a persistent query's output:
// the query's columns (its keys as key columns), JSON values, on the topic
// KAFKA_TOPIC names (default: the lower-case name) with PARTITIONS (default:
// the source topic's).
func (e *Engine) sinkDefinition(ctx context.Context, st *sql.CreateAsSelect, q *plan.Query) (string, error) {
	p := propsOf(st.Props)
	keys := map[string]bool{}
	for _, k := range q.Keys {
		keys[k] = true
	}
	var cols []string
	for _, f := range q.Output().Fields() {
		t, err := schema.FromArrow(f.Type)
		if err != nil {
			return "", errorAt(st, "column %s: %v", f.Name, err)
		}
		c := schema.QuoteIdentifier(f.Name) + " " + t.String()
		if keys[f.Name] {
			c += map[sql.SourceKind]string{sql.Stream: " KEY", sql.Table: " PRIMARY KEY"}[st.Kind]
		}
		cols = append(cols, c)
	}
	partitions := p.str("PARTITIONS", "")
	if partitions == "" {
		n, err := e.partitions(ctx, q.Source.Topic)
		if err != nil {
			return "", err
		}
		partitions = strconv.Itoa(n)
	}
	with := []string{
		"KAFKA_TOPIC=" + quote(p.str("KAFKA_TOPIC", strings.ToLower(st.Name))),
		"VALUE_FORMAT=" + quote(p.str("VALUE_FORMAT", "JSON")),
		"PARTITIONS=" + partitions,
	}
	if len(keys) > 0 {
		with = append(with, "KEY_FORMAT="+quote(p.str("KEY_FORMAT", "JSON")))
	}
	return fmt.Sprintf("CREATE %s %s (%s) WITH (%s);", st.Kind, schema.QuoteIdentifier(st.Name), strings.Join(cols, ", "), strings.Join(with, ", ")), nil
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// partitions returns a topic's partition count.
func (e *Engine) partitions(ctx context.Context, topic string) (int, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.cfg.Brokers...))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	td, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil {
		return 0, err
	}
	t, ok := td[topic]
	if !ok || t.Err != nil {
		return 0, fmt.Errorf("topic %s does not exist", topic)
	}
	return len(t.Partitions), nil
}

// ownedTask is a task this broker owns.
type ownedTask struct {
	spec      taskSpec
	key       meta.SQLTask
	preferred int32 // the live broker rendezvous hashing places it on
}

// resume starts the tasks of a stored persistent query that this broker
// owns, claiming first those it should take over (see place).
func (e *Engine) resume(ctx context.Context, obj meta.SQLObject) error {
	cur, err := e.cfg.Meta.SQLTasks(ctx, obj.Name)
	if err != nil {
		return err
	}
	live, err := e.liveBrokers(ctx)
	if err != nil {
		return err
	}
	owned, err := e.claim(ctx, obj, cur, live)
	if err != nil {
		return err
	}
	return e.startTasks(ctx, obj, owned)
}

// claim claims the tasks of a query this broker takes over and returns
// those it owns. A query stored before tasks gets its task key here, from
// its owner (or its successor if that owner left). The definition's owner
// property follows task 0 (SHOW QUERIES shows it).
func (e *Engine) claim(ctx context.Context, obj meta.SQLObject, cur []meta.SQLTask, live []int32) ([]ownedTask, error) {
	l, err := layoutOf(obj.Props)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", obj.Name, err)
	}
	legacy := int32(-1)
	if _, ok := obj.Props[propTasks]; !ok {
		legacy = legacyOwner(obj)
	}
	young := time.Since(time.UnixMilli(obj.CreatedMs)) < youngQuery
	self := e.cfg.NodeID
	var owned []ownedTask
	for _, p := range place(obj.Name, l, cur, live, self, legacy, young) {
		t := p.cur
		if p.claim {
			next := t
			next.Owner, next.UpdatedMs = self, time.Now().UnixMilli()
			got, err := e.cfg.Meta.ClaimSQLTask(ctx, kindQuery, next, t.Revision)
			if err != nil {
				e.log.Warn("take over a query task", "query", obj.Name, "task", p.spec.task, "err", err)
				continue
			}
			if t.Owner >= 0 && t.Owner != self {
				e.log.Info("took over a persistent query task whose broker left", "query", obj.Name, "task", p.spec.task,
					"stage", p.spec.stage.String(), "old_owner", t.Owner)
			}
			t = got
		}
		if t.Owner == self && t.Revision != 0 {
			owned = append(owned, ownedTask{spec: p.spec, key: t, preferred: p.preferred})
			if p.spec.task == 0 && obj.Props[propOwner] != fmt.Sprint(self) {
				claimed := obj
				claimed.Props = maps.Clone(obj.Props)
				claimed.Props[propOwner] = fmt.Sprint(self)
				if err := e.cfg.Meta.ClaimSQLObject(ctx, claimed, obj.Props); err != nil {
					e.log.Warn("record a query's owner", "query", obj.Name, "err", err)
				}
			}
		}
	}
	return owned, nil
}

// queryPlan is what the tasks of a persistent query run.
type queryPlan struct {
	id        string
	q         *plan.Query
	sink      *plan.Source
	fromStart bool
	layout    layout
	rep       *repartition // repartitioned queries only
}

// planPersistent plans a stored persistent query.
func (e *Engine) planPersistent(ctx context.Context, obj meta.SQLObject) (*queryPlan, error) {
	st, err := sql.ParseStatement(obj.Statement)
	if err != nil {
		return nil, err
	}
	var query *sql.Query
	switch st := st.(type) {
	case *sql.CreateAsSelect:
		query = st.Query
	case *sql.InsertInto:
		query = st.Query
	default:
		return nil, fmt.Errorf("query %s: not a CREATE … AS SELECT or INSERT INTO … SELECT", obj.Name)
	}
	cat, err := e.catalog(ctx)
	if err != nil {
		return nil, err
	}
	q, err := plan.PlanQuery(query, cat)
	if err != nil {
		return nil, err
	}
	// A session merge's retractions become tombstones of the replaced
	// sessions' keys in the sink.
	q = q.WithRetractions()
	sink, ok := cat[obj.Props[propSink]]
	if !ok {
		return nil, fmt.Errorf("query %s: its sink %s is gone", obj.Name, obj.Props[propSink])
	}
	l, err := layoutOf(obj.Props)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", obj.Name, err)
	}
	qp := &queryPlan{id: obj.Name, q: q, sink: sink, fromStart: earliest(obj.Props), layout: l}
	if l.aggregates > 0 {
		if q.Agg == nil {
			return nil, fmt.Errorf("query %s: its plan has no aggregation to repartition", obj.Name)
		}
		if qp.rep, err = newRepartition(q, obj.Name); err != nil {
			return nil, fmt.Errorf("query %s: %w", obj.Name, err)
		}
	}
	return qp, nil
}

// startTasks starts the owned tasks of obj that do not run here yet (or
// run under an older claim of their key).
func (e *Engine) startTasks(ctx context.Context, obj meta.SQLObject, owned []ownedTask) error {
	var start []ownedTask
	var stale []*taskRun
	e.mu.Lock()
	p := e.running[obj.Name]
	for _, o := range owned {
		var t *taskRun
		if p != nil {
			t = p.tasks[o.spec.task]
		}
		switch {
		case t == nil:
			start = append(start, o)
		case t.key.Revision != o.key.Revision:
			stale = append(stale, t)
			start = append(start, o)
		}
	}
	e.mu.Unlock()
	for _, t := range stale {
		t.cancel()
		<-t.done
	}
	if len(start) == 0 {
		return nil
	}
	qp, err := e.planPersistent(ctx, obj)
	if err != nil {
		return err
	}
	for _, o := range start {
		e.startTask(qp, o)
	}
	return nil
}

// startTask runs a task in its goroutine.
func (e *Engine) startTask(qp *queryPlan, o ownedTask) {
	t := &taskRun{spec: o.spec, key: o.key, done: make(chan struct{}), leave: make(chan struct{}), to: -1}
	var ctx context.Context
	ctx, t.cancel = context.WithCancel(e.ctx)
	e.mu.Lock()
	p := e.running[qp.id]
	if p == nil {
		p = &persistent{id: qp.id, tasks: map[int]*taskRun{}}
		e.running[qp.id] = p
	}
	if p.tasks[o.spec.task] != nil {
		e.mu.Unlock()
		t.cancel()
		return
	}
	p.tasks[o.spec.task] = t
	e.mu.Unlock()
	e.wg.Add(1)
	go e.runTask(ctx, p, t, qp)
	e.log.Info("started persistent query task", "query", qp.id, "task", o.spec.task, "stage", o.spec.stage.String(),
		"tasks", len(qp.layout.tasks()), "sink", qp.sink.Name, "topic", qp.sink.Topic)
}

// runTask runs a task until ctx ends, restarting it (from its checkpoint)
// after a failure; a task asked to leave checkpoints, stops and hands its
// key to the broker it goes to.
func (e *Engine) runTask(ctx context.Context, p *persistent, t *taskRun, qp *queryPlan) {
	defer e.wg.Done()
	defer close(t.done)
	defer e.forget(p, t)
	for ctx.Err() == nil && !t.leaving() {
		err := e.runTaskOnce(ctx, p, t, qp)
		if errors.Is(err, errHandedOver) || ctx.Err() != nil {
			break
		}
		if errors.Is(err, meta.ErrSQLTaskChanged) {
			e.log.Info("persistent query task stopped: another broker took it, or the query was terminated", "query", p.id, "task", t.spec.task)
			return
		}
		p.setErr(err)
		e.log.Error("persistent query task failed; restarting from its checkpoint", "query", p.id, "task", t.spec.task, "err", err)
		select {
		case <-ctx.Done():
		case <-t.leave:
		case <-time.After(5 * time.Second):
		}
	}
	if ctx.Err() != nil || !t.leaving() {
		return
	}
	hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	next := t.key
	next.Owner, next.UpdatedMs = t.to, time.Now().UnixMilli()
	if _, err := e.cfg.Meta.ClaimSQLTask(hctx, kindQuery, next, t.key.Revision); err != nil {
		e.log.Warn("hand a query task over", "query", p.id, "task", t.spec.task, "to", t.to, "err", err)
		return
	}
	e.log.Info("handed a persistent query task over", "query", p.id, "task", t.spec.task, "to", t.to)
}

// forget removes a task that ended from the running ones.
func (e *Engine) forget(p *persistent, t *taskRun) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p.tasks[t.spec.task] == t {
		delete(p.tasks, t.spec.task)
	}
	if len(p.tasks) == 0 && e.running[p.id] == p {
		delete(e.running, p.id)
	}
}

// checkpointer checkpoints a task every CheckpointInterval, and at once
// when the task is asked to leave (the task then ends with
// errHandedOver). Progress callbacks call it between batches.
type checkpointer struct {
	e     *Engine
	t     *taskRun
	p     *persistent
	ref   taskRef
	pipe  *pipeline
	ck    meta.SQLCheckpoint
	last  time.Time
	after func(ctx context.Context, ck meta.SQLCheckpoint) // after each checkpoint written, if not nil
}

func (c *checkpointer) progress(ctx context.Context, left, right map[int32]int64) error {
	leaving := c.t.leaving()
	if !leaving && time.Since(c.last) < c.e.cfg.CheckpointInterval {
		return nil
	}
	c.last = time.Now()
	c.p.setErr(nil) // it runs
	if maps.Equal(left, c.ck.Offsets) && maps.Equal(right, c.ck.RightOffsets) && (c.ck.Seq > 0 || len(c.pipe.state) == 0) {
		// Nothing read since the last checkpoint: it still holds.
		if leaving {
			return errHandedOver
		}
		return nil
	}
	written, err := c.e.checkpoint(ctx, c.ref, c.pipe, &c.ck, left, right)
	if err != nil {
		return err
	}
	if written && c.after != nil {
		c.after(ctx, c.ck)
	}
	if leaving {
		return errHandedOver
	}
	return nil
}

// runTaskOnce runs a task from its checkpoint (or from the start or the
// end of its topic, as auto.offset.reset said, the first time) until ctx
// ends or it fails, checkpointing every CheckpointInterval.
func (e *Engine) runTaskOnce(ctx context.Context, p *persistent, t *taskRun, qp *queryPlan) error {
	ctx = compute.WithAllocator(ctx, e.mem)
	c := &checkpointer{e: e, t: t, p: p, ref: taskRef{key: t.key, ckTask: qp.layout.checkpointTask(t.spec)}, last: time.Now()}
	q := qp.q
	switch t.spec.stage {
	case stageRepartition:
		return e.runRepartition(ctx, t, qp, c)
	case stageAggregate:
		return e.runAggregate(ctx, t, qp, c)
	}
	snk, err := e.NewSink(ctx, qp.sink, 0)
	if err != nil {
		return err
	}
	defer snk.Close()
	pipe, err := e.pipeline(q, false, project(q.Project, q.Names, snk.Write))
	if err != nil {
		return err
	}
	defer pipe.close()
	if c.ck, err = e.restore(ctx, c.ref, pipe); err != nil {
		return err
	}
	c.pipe = pipe
	parts, err := e.taskPartitions(ctx, q.Source.Topic, t.spec)
	if err != nil || (parts != nil && len(parts) == 0) {
		return idle(ctx, t, err)
	}
	from := scanFrom{earliest: qp.fromStart, offsets: c.ck.Offsets, partitions: parts, columns: usedColumns(q), times: rowTimeRange(q)}
	// Every batch read before the positions a progress callback gets went
	// through the pipeline, and Sink.Write returned for every row emitted.
	if q.Join != nil {
		return e.runJoin(ctx, q, pipe, from, scanFrom{earliest: true, offsets: c.ck.RightOffsets}, false,
			func(left, right map[int32]int64) error { return c.progress(ctx, left, right) })
	}
	return e.scan(ctx, q.Source, from, false, e.mem, func(rec arrow.Record) error { return pipe.head(ctx, rec) },
		func(pos map[int32]int64) error { return c.progress(ctx, pos, nil) })
}

// runRepartition runs a repartition task: WHERE and the aggregation's
// input columns over its partitions of the source, produced to the
// repartition topic keyed by the group key.
func (e *Engine) runRepartition(ctx context.Context, t *taskRun, qp *queryPlan, c *checkpointer) error {
	q, rep := qp.q, qp.rep
	snk, err := e.NewSink(ctx, rep.src, 0)
	if err != nil {
		return err
	}
	defer snk.Close()
	pipe := &pipeline{head: filter(q.Where, project(rep.out, rep.names, snk.Write)), end: func(context.Context) error { return nil }, close: func() {}}
	if c.ck, err = e.restore(ctx, c.ref, pipe); err != nil {
		return err
	}
	c.pipe = pipe
	parts, err := e.taskPartitions(ctx, q.Source.Topic, t.spec)
	if err != nil || len(parts) == 0 {
		return idle(ctx, t, err)
	}
	from := scanFrom{earliest: qp.fromStart, offsets: c.ck.Offsets, partitions: parts, columns: usedColumns(q), times: rowTimeRange(q)}
	return e.scan(ctx, q.Source, from, false, e.mem, func(rec arrow.Record) error { return pipe.head(ctx, rec) },
		func(pos map[int32]int64) error { return c.progress(ctx, pos, nil) })
}

// runAggregate runs an aggregate task: the aggregation over its
// partitions of the repartition topic (from their start the first time),
// after dropping the rows produced again by a restarted repartition task,
// into the sink. Records below a checkpoint are deleted from the
// repartition topic: the task never reads them again.
func (e *Engine) runAggregate(ctx context.Context, t *taskRun, qp *queryPlan, c *checkpointer) error {
	q, rep := qp.q, qp.rep
	snk, err := e.NewSink(ctx, qp.sink, 0)
	if err != nil {
		return err
	}
	defer snk.Close()
	pipe, err := e.pipeline(rep.agg, false, project(q.Project, q.Names, snk.Write))
	if err != nil {
		return err
	}
	defer pipe.close()
	d := newDedup(rep.part, rep.off)
	pipe.head = d.stage(pipe.head)
	pipe.state = append([]State{d}, pipe.state...)
	if c.ck, err = e.restore(ctx, c.ref, pipe); err != nil {
		return err
	}
	c.pipe = pipe
	parts, err := e.taskPartitions(ctx, rep.src.Topic, t.spec)
	if err != nil || len(parts) == 0 {
		return idle(ctx, t, err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.cfg.Brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	c.after = func(ctx context.Context, ck meta.SQLCheckpoint) {
		var offs kadm.Offsets
		for p, o := range ck.Offsets {
			offs.Add(kadm.Offset{Topic: rep.src.Topic, Partition: p, At: o, LeaderEpoch: -1})
		}
		if _, err := adm.DeleteRecords(ctx, offs); err != nil {
			e.log.Debug("delete consumed records of a repartition topic", "topic", rep.src.Topic, "err", err)
		}
	}
	from := scanFrom{earliest: true, offsets: c.ck.Offsets, partitions: parts}
	return e.scan(ctx, rep.src, from, false, e.mem, func(rec arrow.Record) error { return pipe.head(ctx, rec) },
		func(pos map[int32]int64) error { return c.progress(ctx, pos, nil) })
}

// taskPartitions lists the partitions of topic a task reads (nil: all).
func (e *Engine) taskPartitions(ctx context.Context, topic string, spec taskSpec) ([]int32, error) {
	if spec.of == 0 {
		return nil, nil
	}
	n, err := e.partitions(ctx, topic)
	if err != nil {
		return nil, err
	}
	return spec.partitions(n), nil
}

// idle waits, for a task with no partition to read, until it ends or
// leaves; or returns err.
func idle(ctx context.Context, t *taskRun, err error) error {
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.leave:
		return errHandedOver
	}
}

// encoders returns the encoders of a sink's keys (nil without keys) and
// values.
func encoders(sink *plan.Source) (key, value *schema.Encoder, err error) {
	if sink.Schema.NumKeys() > 0 {
		if key, err = schema.NewEncoder(sink.Schema.Keys(), sink.KeyFormat); err != nil {
			return nil, nil, err
		}
	}
	value, err = schema.NewEncoder(sink.Schema.Values(), sink.ValueFormat)
	return key, value, err
}

// terminate stops persistent queries and removes their definitions, tasks,
// checkpoints, state objects and repartition topics.
func (e *Engine) terminate(ctx context.Context, st *sql.Terminate, res Result) error {
	qs, err := e.cfg.Meta.SQLObjects(ctx, kindQuery)
	if err != nil {
		return err
	}
	var ids []string
	var objs []meta.SQLObject
	for _, q := range qs {
		if st.All || strings.EqualFold(q.Name, st.QueryID) {
			ids = append(ids, q.Name)
			objs = append(objs, q)
		}
	}
	if len(ids) == 0 && !st.All {
		return errorAt(st, "no query %s (SHOW QUERIES lists them)", st.QueryID)
	}
	for _, q := range objs {
		if _, err := e.cfg.Meta.DeleteSQLObject(ctx, kindQuery, q.Name); err != nil {
			return err
		}
		// Without their keys, the tasks running on other brokers can no
		// longer checkpoint; those brokers stop them at their next
		// reconcile.
		if err := e.cfg.Meta.DeleteSQLTasks(ctx, q.Name); err != nil {
			return err
		}
		e.stop(q.Name)
		e.dropQueryData(ctx, q)
	}
	return res.Status(Status{Statement: st.String(), Message: fmt.Sprintf("Terminated %s", strings.Join(ids, ", "))})
}

// dropQueryData deletes what a terminated query leaves: its checkpoints,
// its state objects (those the checkpoints name, and any a broker wrote
// without getting to record it), and its repartition topic.
func (e *Engine) dropQueryData(ctx context.Context, q meta.SQLObject) {
	if cks, err := e.cfg.Meta.SQLCheckpoints(ctx, q.Name); err == nil && e.cfg.Bucket != nil {
		for _, ck := range cks {
			if ck.StateObject != "" {
				e.cfg.Bucket.Delete(ctx, ck.StateObject)
			}
		}
	}
	if err := e.cfg.Meta.DeleteSQLCheckpoints(ctx, q.Name); err != nil {
		e.log.Warn("delete a terminated query's checkpoints", "query", q.Name, "err", err)
	}
	if e.cfg.Bucket != nil {
		err := e.cfg.Bucket.Iter(ctx, stateDir(q.Name), func(name string) error {
			if err := e.cfg.Bucket.Delete(ctx, name); err != nil && !bucket.IsNotFound(err) {
				return err
			}
			return nil
		})
		if err != nil {
			e.log.Warn("delete a terminated query's state objects", "query", q.Name, "err", err)
		}
	}
	if l, err := layoutOf(q.Props); err == nil && l.aggregates > 0 {
		if err := e.cfg.Meta.DeleteTopic(ctx, repartitionTopic(q.Name)); err != nil && !errors.Is(err, meta.ErrUnknownTopic) {
			e.log.Warn("delete a terminated query's repartition topic", "query", q.Name, "err", err)
		}
	}
}

// stop ends the tasks of a query running here.
func (e *Engine) stop(id string) {
	e.mu.Lock()
	p := e.running[id]
	delete(e.running, id)
	var tasks []*taskRun
	if p != nil {
		tasks = slices.Collect(maps.Values(p.tasks))
	}
	e.mu.Unlock()
	for _, t := range tasks {
		t.cancel()
	}
	for _, t := range tasks {
		<-t.done
	}
	if p != nil {
		e.log.Info("stopped persistent query", "query", id, "tasks", len(tasks))
	}
}

// reconcile, every reconcileInterval, takes over the tasks whose owner has
// left the cluster (its registration expired), stops the tasks this
// broker no longer owns (terminated, or taken over while it was cut off),
// starts those it owns that do not run, and hands tasks over to the
// broker rendezvous hashing places them on once it is back.
func (e *Engine) reconcile() {
	defer e.wg.Done()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-time.After(reconcileInterval):
		}
		ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
		e.reconcileOnce(ctx)
		cancel()
	}
}

func (e *Engine) reconcileOnce(ctx context.Context) {
	qs, err := e.cfg.Meta.SQLObjects(ctx, kindQuery)
	if err != nil {
		return
	}
	live, err := e.liveBrokers(ctx)
	if err != nil {
		return
	}
	all, err := e.cfg.Meta.AllSQLTasks(ctx)
	if err != nil {
		return
	}
	want := map[string]map[int]ownedTask{}
	objs := map[string]meta.SQLObject{}
	for _, q := range qs {
		owned, err := e.claim(ctx, q, all[q.Name], live)
		if err != nil {
			e.log.Error("place query tasks", "query", q.Name, "err", err)
			continue
		}
		objs[q.Name] = q
		want[q.Name] = map[int]ownedTask{}
		for _, o := range owned {
			want[q.Name][o.spec.task] = o
		}
	}
	var stale []*taskRun
	e.mu.Lock()
	for id, p := range e.running {
		for n, t := range p.tasks {
			o, ok := want[id][n]
			if !ok || o.key.Revision != t.key.Revision {
				stale = append(stale, t)
				continue
			}
			if o.preferred < 0 || o.preferred == e.cfg.NodeID {
				t.rounds = 0
				continue
			}
			if t.rounds++; t.rounds >= handoffRounds && !t.leaving() {
				t.to = o.preferred
				close(t.leave)
			}
		}
	}
	e.mu.Unlock()
	for _, t := range stale {
		t.cancel()
		<-t.done
	}
	for id, owned := range want {
		if len(owned) == 0 {
			continue
		}
		if err := e.startTasks(e.ctx, objs[id], slices.Collect(maps.Values(owned))); err != nil {
			e.log.Error("resume query", "query", id, "err", err)
		}
	}
}

// successor is the live broker that runs the task of placement key id:
// rendezvous hashing over the live brokers, so that every broker picks the
// same one and the tasks of a lost broker spread over the others.
func successor(id string, live []int32) int32 {
	best, bestScore := int32(-1), uint64(0)
	for _, b := range live {
		h := fnv.New64a()
		fmt.Fprintf(h, "%s/%d", id, b)
		if s := h.Sum64(); best < 0 || s > bestScore {
			best, bestScore = b, s
		}
	}
	return best
}
