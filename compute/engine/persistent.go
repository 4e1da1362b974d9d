package engine

import (
	"context"
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
)

// Properties the engine records with a persistent query.
const (
	propOwner  = "strata.owner"  // the broker that runs it
	propSink   = "strata.sink"   // the stream or table it writes
	propSource = "strata.source" // the stream or table it reads
)

// reconcileInterval is how often an engine compares the queries it runs
// with the definitions in etcd (a TERMINATE on another broker stops them).
const reconcileInterval = 2 * time.Second

// persistent is a running persistent query.
type persistent struct {
	id     string
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	lastErr error
}

func (p *persistent) err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastErr
}

// createAsSelect runs CREATE STREAM|TABLE … AS SELECT: it creates the sink
// (its topic and catalog entry), stores the query and starts it here.
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
	return e.startQuery(ctx, st, prefix+st.Name, st.Name, q.Source.Name, props, res)
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
	return e.startQuery(ctx, st, "INSERTQUERY_"+target.Name, target.Name, q.Source.Name, props, res)
}

// startQuery stores a persistent query (its id: prefix and a number) and
// starts it here.
func (e *Engine) startQuery(ctx context.Context, st sql.Statement, prefix, sink, source string, props map[string]string, res Result) error {
	qs, err := e.cfg.Meta.SQLObjects(ctx, kindQuery)
	if err != nil {
		return err
	}
	id := fmt.Sprintf("%s_%d", prefix, len(qs)+1)
	qprops := map[string]string{propOwner: fmt.Sprint(e.cfg.NodeID), propSink: sink, propSource: source}
	for k, v := range props {
		qprops[k] = v
	}
	obj := meta.SQLObject{Kind: kindQuery, Name: id, Statement: st.String(), Props: qprops, CreatedMs: time.Now().UnixMilli()}
	if err := e.cfg.Meta.CreateSQLObject(ctx, obj, false); err != nil {
		return err
	}
	if err := e.resume(ctx, obj); err != nil {
		return err
	}
	return res.Status(Status{Statement: st.String(), Message: fmt.Sprintf("Created query with ID %s", id), QueryID: id})
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

// resume starts a stored persistent query on this broker.
func (e *Engine) resume(ctx context.Context, obj meta.SQLObject) error {
	st, err := sql.ParseStatement(obj.Statement)
	if err != nil {
		return err
	}
	var query *sql.Query
	switch st := st.(type) {
	case *sql.CreateAsSelect:
		query = st.Query
	case *sql.InsertInto:
		query = st.Query
	default:
		return fmt.Errorf("query %s: not a CREATE … AS SELECT or INSERT INTO … SELECT", obj.Name)
	}
	cat, err := e.catalog(ctx)
	if err != nil {
		return err
	}
	q, err := plan.PlanQuery(query, cat)
	if err != nil {
		return err
	}
	sink, ok := cat[obj.Props[propSink]]
	if !ok {
		return fmt.Errorf("query %s: its sink %s is gone", obj.Name, obj.Props[propSink])
	}
	p := &persistent{id: obj.Name, done: make(chan struct{})}
	var qctx context.Context
	qctx, p.cancel = context.WithCancel(e.ctx)
	e.mu.Lock()
	if old := e.running[obj.Name]; old != nil {
		e.mu.Unlock()
		p.cancel()
		return nil
	}
	e.running[obj.Name] = p
	e.mu.Unlock()
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer close(p.done)
		e.runPersistent(qctx, p, q, sink, earliest(obj.Props))
	}()
	e.log.Info("started persistent query", "query", obj.Name, "sink", sink.Name, "topic", sink.Topic)
	return nil
}

// runPersistent runs a query into its sink's topic until ctx ends,
// restarting it (from its checkpoint) after a failure.
func (e *Engine) runPersistent(ctx context.Context, p *persistent, q *plan.Query, sink *plan.Source, fromStart bool) {
	for ctx.Err() == nil {
		err := e.runInto(ctx, p.id, q, sink, fromStart)
		if ctx.Err() != nil {
			return
		}
		p.mu.Lock()
		p.lastErr = err
		p.mu.Unlock()
		e.log.Error("persistent query failed; restarting from its checkpoint", "query", p.id, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
		}
	}
}

// runInto runs q from its checkpoint (or from the start or the end of its
// topic, as auto.offset.reset said, the first time) and produces its rows
// to the sink's topic, checkpointing every CheckpointInterval.
func (e *Engine) runInto(ctx context.Context, id string, q *plan.Query, sink *plan.Source, fromStart bool) error {
	snk, err := e.NewSink(ctx, sink, 0)
	if err != nil {
		return err
	}
	defer snk.Close()
	ctx = compute.WithAllocator(ctx, e.mem)
	p, err := e.pipeline(q, false, project(q.Project, q.Names, snk.Write))
	if err != nil {
		return err
	}
	defer p.close()
	ck, err := e.restore(ctx, id, p)
	if err != nil {
		return err
	}
	from := scanFrom{earliest: fromStart, offsets: ck.Offsets}
	last := time.Now()
	due := func() bool {
		if time.Since(last) < e.cfg.CheckpointInterval {
			return false
		}
		last = time.Now()
		return true
	}
	// Every batch read before the positions a progress callback gets went
	// through the pipeline, and Sink.Write returned for every row emitted.
	if q.Join != nil {
		return e.runJoin(ctx, q, p, from, scanFrom{earliest: true, offsets: ck.RightOffsets}, false,
			func(left, right map[int32]int64) error {
				if !due() {
					return nil
				}
				return e.checkpoint(ctx, id, p, &ck, left, right)
			})
	}
	return e.scan(ctx, q.Source, from, false, e.mem, func(rec arrow.Record) error { return p.head(ctx, rec) },
		func(pos map[int32]int64) error {
			if !due() {
				return nil
			}
			return e.checkpoint(ctx, id, p, &ck, pos, nil)
		})
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

// terminate stops persistent queries and removes their definitions.
func (e *Engine) terminate(ctx context.Context, st *sql.Terminate, res Result) error {
	qs, err := e.cfg.Meta.SQLObjects(ctx, kindQuery)
	if err != nil {
		return err
	}
	var ids []string
	for _, q := range qs {
		if st.All || strings.EqualFold(q.Name, st.QueryID) {
			ids = append(ids, q.Name)
		}
	}
	if len(ids) == 0 && !st.All {
		return errorAt(st, "no query %s (SHOW QUERIES lists them)", st.QueryID)
	}
	for _, id := range ids {
		if _, err := e.cfg.Meta.DeleteSQLObject(ctx, kindQuery, id); err != nil {
			return err
		}
		e.stop(id)
		if ck, ok, err := e.cfg.Meta.SQLCheckpointOf(ctx, id); err == nil && ok {
			if ck.StateObject != "" && e.cfg.Bucket != nil {
				e.cfg.Bucket.Delete(ctx, ck.StateObject)
			}
			e.cfg.Meta.DeleteSQLCheckpoint(ctx, id)
		}
	}
	return res.Status(Status{Statement: st.String(), Message: fmt.Sprintf("Terminated %s", strings.Join(ids, ", "))})
}

// stop ends a query running here, if it does.
func (e *Engine) stop(id string) {
	e.mu.Lock()
	p := e.running[id]
	delete(e.running, id)
	e.mu.Unlock()
	if p != nil {
		p.cancel()
		<-p.done
		e.log.Info("stopped persistent query", "query", id)
	}
}

// reconcile, every reconcileInterval, takes over the queries whose owner
// has left the cluster (its registration expired), stops the queries this
// broker no longer owns (terminated, or taken over while it was cut off),
// and starts those it owns that do not run.
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
	brokers, err := e.cfg.Meta.Brokers(ctx)
	if err != nil {
		return
	}
	var live []int32
	for _, b := range brokers {
		live = append(live, b.ID)
	}
	slices.Sort(live)
	self := fmt.Sprint(e.cfg.NodeID)
	want := map[string]meta.SQLObject{}
	for _, q := range qs {
		owner := q.Props[propOwner]
		if owner != self && !slices.ContainsFunc(live, func(id int32) bool { return fmt.Sprint(id) == owner }) &&
			successor(q.Name, live) == e.cfg.NodeID {
			claimed := q
			claimed.Props = maps.Clone(q.Props)
			claimed.Props[propOwner] = self
			if err := e.cfg.Meta.ClaimSQLObject(ctx, claimed, q.Props); err != nil {
				e.log.Warn("take over a query", "query", q.Name, "err", err)
				continue
			}
			e.log.Info("took over a persistent query whose broker left", "query", q.Name, "old_owner", owner)
			q = claimed
		}
		if q.Props[propOwner] == self {
			want[q.Name] = q
		}
	}
	e.mu.Lock()
	var gone []string
	for id := range e.running {
		if _, ok := want[id]; !ok {
			gone = append(gone, id)
		}
		delete(want, id)
	}
	e.mu.Unlock()
	for _, id := range gone {
		e.stop(id)
	}
	for _, q := range want {
		if err := e.resume(e.ctx, q); err != nil {
			e.log.Error("resume query", "query", q.Name, "err", err)
		}
	}
}

// successor is the live broker that takes over query id: rendezvous
// hashing over the live brokers, so that every broker picks the same one
// and the queries of a lost broker spread over the others.
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
