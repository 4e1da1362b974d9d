package engine

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-log/strata/compute/plan"
	"github.com/strata-log/strata/compute/sql"
	"github.com/strata-log/strata/meta"
)

// Error is a statement's failure, pointing into its text when it can.
type Error struct {
	Line, Col int
	Msg       string
	Statement string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return e.Msg
	}
	return fmt.Sprintf("line %d:%d: %s", e.Line, e.Col, e.Msg)
}

// errorAt is an Error at node n.
func errorAt(n sql.Node, format string, args ...any) error {
	p := n.Position()
	return &Error{Line: p.Line, Col: p.Col, Msg: fmt.Sprintf(format, args...)}
}

// asError turns the parser's and planner's errors into an Error.
func asError(err error, stmt string) error {
	switch e := err.(type) {
	case *Error:
		if e.Statement == "" {
			e.Statement = stmt
		}
		return e
	case *sql.Error:
		return &Error{Line: e.Line, Col: e.Col, Msg: e.Msg, Statement: stmt}
	case *plan.Error:
		return &Error{Line: e.Pos.Line, Col: e.Pos.Col, Msg: e.Msg, Statement: stmt}
	}
	return &Error{Msg: err.Error(), Statement: stmt}
}

// Execute runs the statements of text in order with the session
// properties, sending what they produce to res. It stops at the first
// error, which it returns as an *Error.
func (e *Engine) Execute(ctx context.Context, text string, properties map[string]string, res Result) error {
	stmts, err := sql.Parse(text)
	if err != nil {
		return asError(err, text)
	}
	if len(stmts) == 0 {
		return &Error{Msg: "no statement: end each statement with ';'", Statement: text}
	}
	props := map[string]string{}
	for k, v := range properties {
		props[k] = v
	}
	for _, st := range stmts {
		if err := e.execute(ctx, st, props, res); err != nil {
			return asError(err, st.String())
		}
	}
	return nil
}

func (e *Engine) execute(ctx context.Context, st sql.Statement, props map[string]string, res Result) error {
	switch st := st.(type) {
	case *sql.CreateSource:
		return e.createSource(ctx, st, res)
	case *sql.Query:
		return e.query(ctx, st, props, res)
	case *sql.CreateAsSelect:
		return e.createAsSelect(ctx, st, props, res)
	case *sql.InsertInto:
		return e.insertInto(ctx, st, props, res)
	case *sql.InsertValues:
		return e.insertValues(ctx, st, res)
	case *sql.Show:
		return e.show(ctx, st, props, res)
	case *sql.Describe:
		return e.describe(ctx, st, res)
	case *sql.Drop:
		return e.drop(ctx, st, res)
	case *sql.Terminate:
		return e.terminate(ctx, st, res)
	case *sql.SetProperty:
		props[st.Name] = st.Value
		return res.Status(Status{Statement: st.String(), Message: fmt.Sprintf("Property %s set to %s", st.Name, st.Value)})
	case *sql.UnsetProperty:
		delete(props, st.Name)
		return res.Status(Status{Statement: st.String(), Message: fmt.Sprintf("Property %s unset", st.Name)})
	case *sql.Explain:
		return e.explain(ctx, st, res)
	case *sql.Print:
		return e.print(ctx, st, res)
	}
	return errorAt(st, "%T statements are not supported yet", st)
}

// typedColumns reports whether scans of the cold tier read the typed
// columns tiering wrote (the default), or decode the segments' values
// (SET 'strata.scan.typed.columns'='false', to compare the two).
func typedColumns(props map[string]string) bool {
	return !strings.EqualFold(props["strata.scan.typed.columns"], "false")
}

// earliest reports whether queries start at the beginning of their topics
// (SET 'auto.offset.reset'='earliest'); ksqlDB's default is the end.
func earliest(props map[string]string) bool {
	return strings.EqualFold(props["auto.offset.reset"], "earliest")
}

// query runs a push query (EMIT CHANGES, until ctx ends or LIMIT) or a
// pull query (over the topic as it is when the query starts).
func (e *Engine) query(ctx context.Context, st *sql.Query, props map[string]string, res Result) error {
	cat, err := e.catalog(ctx)
	if err != nil {
		return err
	}
	q, err := plan.PlanQuery(st, cat)
	if err != nil {
		return err
	}
	push := st.Emit != sql.EmitNone
	if push {
		// A merge of session windows retracts the sessions it replaced:
		// tombstone rows before the merged session's row.
		q = q.WithRetractions()
	}
	out := q.Output()
	if err := res.Header(Header{Statement: st.String(), Columns: columnsOf(out)}); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// A group that left an aggregation's result (a table's, emptied or
	// failing HAVING; a session a merge replaced) is a tombstone: its key
	// (and window bounds), the other columns NULL.
	var nulled []bool
	if q.Agg != nil {
		nulled = make([]bool, out.NumFields())
		for i, n := range q.Names[:out.NumFields()] {
			nulled[i] = !slices.Contains(q.Keys, n)
		}
	}
	var rows int64
	err = e.run(ctx, q, scanFrom{earliest: !push || earliest(props), rawValues: !typedColumns(props)}, !push, func(rec arrow.Record) error {
		for i := 0; i < int(rec.NumRows()) && (q.Limit < 0 || rows < q.Limit); i++ {
			vals, tombstone := rowValues(rec, i), false
			if q.Deleted {
				tombstone = vals[len(vals)-1] == true
				vals = vals[:len(vals)-1]
				for c := range nulled {
					if tombstone && nulled[c] {
						vals[c] = nil
					}
				}
			}
			if err := res.Row(vals, tombstone); err != nil {
				return err
			}
			rows++
		}
		if q.Limit >= 0 && rows >= q.Limit {
			cancel() // LIMIT reached: stop reading now, not at the next row
		}
		return nil
	})
	if err != nil && (ctx.Err() == nil || q.Limit < 0 || rows < q.Limit) {
		return err
	}
	return res.Done(rows)
}

// show lists streams, tables, queries or topics.
func (e *Engine) show(ctx context.Context, st *sql.Show, props map[string]string, res Result) error {
	var cols []Column
	var rows [][]any
	switch st.What {
	case sql.ShowStreams, sql.ShowTables:
		cat, err := e.catalog(ctx)
		if err != nil {
			return err
		}
		kind := sql.Stream
		if st.What == sql.ShowTables {
			kind = sql.Table
		}
		cols = []Column{{"Name", "STRING"}, {"Kafka Topic", "STRING"}, {"Key Format", "STRING"}, {"Value Format", "STRING"}}
		for _, s := range cat {
			if s.Kind == kind {
				rows = append(rows, []any{s.Name, s.Topic, s.KeyFormat.String(), s.ValueFormat.String()})
			}
		}
	case sql.ShowQueries:
		qs, err := e.cfg.Meta.SQLObjects(ctx, kindQuery)
		if err != nil {
			return err
		}
		// Owner: the brokers running the query's tasks, with each one's
		// count when the query has several ("0 (4 tasks), 1 (4 tasks)").
		// Late records: dropped by the query's pipelines running on this
		// broker because their windows had closed (NULL: none runs here).
		cols = []Column{{"Query ID", "STRING"}, {"Status", "STRING"}, {"Owner", "STRING"}, {"Query String", "STRING"}, {"Late Records", "BIGINT"}}
		late := e.pipes.lateRecords()
		for _, q := range qs {
			tasks, _ := e.queryTasks(ctx, q.Name)
			owner, status := queryOwners(q, tasks)
			e.mu.Lock()
			if p := e.running[q.Name]; p != nil && p.err() != nil {
				// A task of the query running here failed (it restarts
				// from its checkpoint).
				status = "ERROR: " + p.err().Error()
			}
			e.mu.Unlock()
			var n any
			if v, ok := late[queryText(q.Statement)]; ok {
				n = v
			}
			rows = append(rows, []any{q.Name, status, owner, q.Statement, n})
		}
	case sql.ShowProperties:
		cols = []Column{{"Property", "STRING"}, {"Value", "STRING"}}
		for k, v := range props {
			rows = append(rows, []any{k, v})
		}
	case sql.ShowTopics:
		topics, err := e.cfg.Meta.Topics(ctx)
		if err != nil {
			return err
		}
		cols = []Column{{"Kafka Topic", "STRING"}, {"Partitions", "INTEGER"}}
		for _, t := range topics {
			if internalTopic(t.Name) {
				continue
			}
			rows = append(rows, []any{t.Name, t.Partitions})
		}
	default:
		return errorAt(st, "SHOW %s is not supported", st.What)
	}
	sort.Slice(rows, func(i, j int) bool { return fmt.Sprint(rows[i][0]) < fmt.Sprint(rows[j][0]) })
	return table(res, st.String(), cols, rows)
}

// internalTopic reports whether SHOW TOPICS hides a topic: the internal
// topics of persistent queries (_strata-query-<id>-repartition, which
// repartitioned aggregations write and read), as ksqlDB's SHOW TOPICS
// hides its own.
func internalTopic(name string) bool {
	return strings.HasPrefix(name, "_strata-query-")
}

// queryOwners renders, for SHOW QUERIES, the owners of a persistent
// query's tasks (taskOwners: "2" for a query of one task, "0 (4 tasks),
// 1 (4 tasks)" for several) and its status ("RUNNING on broker 2",
// "RUNNING on brokers 0, 1"). Without its tasks (the query was just
// terminated, or etcd did not answer) it shows the owner its definition
// names, which is task 0's.
func queryOwners(q meta.SQLObject, tasks []queryTask) (owner, status string) {
	if len(tasks) == 0 {
		if o := q.Props[propOwner]; o != "" {
			return o, "RUNNING on broker " + o
		}
		return "unowned", "PENDING: no broker runs it yet"
	}
	var ids []int32
	unowned := 0
	for _, t := range tasks {
		if t.Owner < 0 {
			unowned++
		} else if !slices.Contains(ids, t.Owner) {
			ids = append(ids, t.Owner)
		}
	}
	slices.Sort(ids)
	brokers := make([]string, len(ids))
	for i, b := range ids {
		brokers[i] = fmt.Sprint(b)
	}
	owner = taskOwners(tasks)
	if len(tasks) == 1 && unowned == 1 {
		owner = "unowned"
	}
	switch {
	case len(brokers) == 0:
		status = "PENDING: no broker runs it yet"
	case len(brokers) == 1:
		status = "RUNNING on broker " + brokers[0]
	default:
		status = "RUNNING on brokers " + strings.Join(brokers, ", ")
	}
	if unowned > 0 && len(brokers) > 0 {
		status += fmt.Sprintf("; %d of %d tasks wait for a broker", unowned, len(tasks))
	}
	return owner, status
}

// queryText returns the text of a persistent query's SELECT, which is the
// plan.Query.Text of its pipelines ("" for a statement that is not one).
func queryText(stmt string) string {
	st, err := sql.ParseStatement(stmt)
	if err != nil {
		return ""
	}
	switch s := st.(type) {
	case *sql.CreateAsSelect:
		return s.Query.String()
	case *sql.InsertInto:
		return s.Query.String()
	}
	return ""
}

// metrics is the engine's Prometheus collector: the records skipped
// because they did not decode, and the late records of each persistent
// query whose pipelines run here (as SHOW QUERIES shows them).
type metrics struct {
	e                  *Engine
	late, decode, cold *prometheus.Desc
}

func newMetrics(e *Engine) *metrics {
	return &metrics{e: e,
		late: prometheus.NewDesc("strata_sql_late_records_total",
			"Records a persistent query dropped because their windows had closed (past the grace period), counted over its pipelines on this broker.", []string{"query"}, nil),
		decode: prometheus.NewDesc("strata_sql_decode_errors_total",
			"Records the SQL engine's scans skipped because they did not decode (every query of this broker).", nil, nil),
		cold: prometheus.NewDesc("strata_sql_cold_rows_total",
			"Rows the SQL engine's scans read straight from the tiered objects: from typed columns (columns=\"typed\") or by decoding the segments' values (columns=\"values\").", []string{"columns"}, nil),
	}
}

func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.late
	ch <- m.decode
	ch <- m.cold
}

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(m.decode, prometheus.CounterValue, float64(m.e.DecodeErrors()))
	ch <- prometheus.MustNewConstMetric(m.cold, prometheus.CounterValue, float64(m.e.coldRows[0].Load()), "typed")
	ch <- prometheus.MustNewConstMetric(m.cold, prometheus.CounterValue, float64(m.e.coldRows[1].Load()), "values")
	late := m.e.pipes.lateRecords()
	if len(late) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(m.e.ctx, 2*time.Second)
	defer cancel()
	qs, err := m.e.cfg.Meta.SQLObjects(ctx, kindQuery)
	if err != nil {
		// The other metrics of the scrape still count: skip these.
		m.e.log.Debug("metrics: list the persistent queries", "err", err)
		return
	}
	for _, q := range qs {
		if n, ok := late[queryText(q.Statement)]; ok {
			ch <- prometheus.MustNewConstMetric(m.late, prometheus.CounterValue, float64(n), q.Name)
		}
	}
}

// table sends a small tabular answer.
func table(res Result, stmt string, cols []Column, rows [][]any) error {
	if err := res.Header(Header{Statement: stmt, Columns: cols}); err != nil {
		return err
	}
	for _, r := range rows {
		if err := res.Row(r, false); err != nil {
			return err
		}
	}
	return res.Done(int64(len(rows)))
}

// describe lists a source's columns.
func (e *Engine) describe(ctx context.Context, st *sql.Describe, res Result) error {
	cat, err := e.catalog(ctx)
	if err != nil {
		return err
	}
	src, ok := cat[st.Name]
	if !ok {
		return errorAt(st, "%s does not exist", st.Name)
	}
	var rows [][]any
	for i := 0; i < src.Schema.Len(); i++ {
		c := src.Schema.Column(i)
		key := ""
		if c.Key {
			key = "KEY"
			if src.Kind == sql.Table {
				key = "PRIMARY KEY"
			}
		}
		rows = append(rows, []any{c.Name, c.Type.String(), key})
	}
	return table(res, st.String(), []Column{{"Field", "STRING"}, {"Type", "STRING"}, {"Key", "STRING"}}, rows)
}

// drop removes a stream or table from the catalog (and its topic with
// DELETE TOPIC).
func (e *Engine) drop(ctx context.Context, st *sql.Drop, res Result) error {
	cat, err := e.catalog(ctx)
	if err != nil {
		return err
	}
	src, ok := cat[st.Name]
	if !ok || src.Kind != st.Kind {
		if st.IfExists {
			return res.Status(Status{Statement: st.String(), Message: fmt.Sprintf("%s %s does not exist", strings.ToLower(st.Kind.String()), st.Name)})
		}
		return errorAt(st, "%s %s does not exist", strings.ToLower(st.Kind.String()), st.Name)
	}
	qs, err := e.cfg.Meta.SQLObjects(ctx, kindQuery)
	if err != nil {
		return err
	}
	for _, q := range qs {
		if q.Props[propSink] == src.Name || q.Props[propSource] == src.Name {
			return errorAt(st, "%s is used by query %s: TERMINATE it first", src.Name, q.Name)
		}
	}
	if _, err := e.cfg.Meta.DeleteSQLObject(ctx, kindSource, src.Name); err != nil {
		return err
	}
	msg := fmt.Sprintf("%s %s dropped", titleCase(st.Kind.String()), src.Name)
	if st.DeleteTopic {
		if err := e.cfg.Meta.DeleteTopic(ctx, src.Topic); err != nil {
			return fmt.Errorf("%s; deleting topic %s failed: %w", msg, src.Topic, err)
		}
		msg += "; topic " + src.Topic + " deleted"
	}
	return res.Status(Status{Statement: st.String(), Message: msg})
}

// explain shows a query's plan; for a persistent query's id, then its
// tasks, a line each ("Task 3: aggregate, partitions [0], on broker 2").
func (e *Engine) explain(ctx context.Context, st *sql.Explain, res Result) error {
	var q *sql.Query
	var tasks []queryTask
	switch s := st.Statement.(type) {
	case *sql.Query:
		q = s
	case *sql.CreateAsSelect:
		q = s.Query
	case *sql.InsertInto:
		q = s.Query
	default:
		qs, err := e.cfg.Meta.SQLObjects(ctx, kindQuery)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(qs, func(o meta.SQLObject) bool { return strings.EqualFold(o.Name, st.QueryID) })
		if i < 0 {
			return errorAt(st, "no query %s (SHOW QUERIES lists them)", st.QueryID)
		}
		stored, err := sql.ParseStatement(qs[i].Statement)
		if err != nil {
			return err
		}
		switch s := stored.(type) {
		case *sql.CreateAsSelect:
			q = s.Query
		case *sql.InsertInto:
			q = s.Query
		default:
			return fmt.Errorf("query %s: unexpected statement %s", st.QueryID, qs[i].Statement)
		}
		tasks, _ = e.queryTasks(ctx, qs[i].Name)
	}
	cat, err := e.catalog(ctx)
	if err != nil {
		return err
	}
	p, err := plan.PlanQuery(q, cat)
	if err != nil {
		return err
	}
	var rows [][]any
	for _, l := range append(describePlan(p), taskLines(tasks)...) {
		rows = append(rows, []any{l})
	}
	return table(res, st.String(), []Column{{"Plan", "STRING"}}, rows)
}

// describePlan renders a plan as lines, sink first.
func describePlan(p *plan.Query) []string {
	var lines []string
	proj := make([]string, len(p.Project))
	for i, e := range p.Project {
		proj[i] = e.String() + " AS " + p.Names[i]
	}
	lines = append(lines, "Project: "+strings.Join(proj, ", "))
	if p.Agg != nil {
		if p.Having != nil {
			lines = append(lines, "  Filter (HAVING): "+p.Having.String())
		}
		var calls []string
		for _, c := range p.Agg.Calls {
			arg := "*"
			if c.Arg >= 0 {
				arg = p.Agg.Pre[c.Arg].String()
			}
			calls = append(calls, fmt.Sprintf("%s(%s)", c.Name, arg))
		}
		var keys []string
		for _, k := range p.Agg.Keys {
			keys = append(keys, p.Agg.Pre[k].String())
		}
		w := ""
		if p.Agg.Window != nil {
			w = fmt.Sprintf(" window %s size %s", p.Agg.Window.Kind, p.Agg.Window.Size)
			if p.Agg.Window.Advance > 0 {
				w += fmt.Sprintf(" advance %s", p.Agg.Window.Advance)
			}
		}
		if p.Agg.Table {
			var tkeys []string
			for _, k := range p.Agg.TableKeys {
				tkeys = append(tkeys, p.Agg.Pre[k].String())
			}
			w += fmt.Sprintf(" over the changelog of table keys %s, a row deleting its key when %s", strings.Join(tkeys, ", "), p.Agg.Pre[p.Agg.Deleted])
		}
		lines = append(lines, fmt.Sprintf("  Aggregate: %s group by %s%s", strings.Join(calls, ", "), strings.Join(keys, ", "), w))
	}
	if p.Where != nil {
		lines = append(lines, "    Filter: "+p.Where.String())
	}
	lines = append(lines, fmt.Sprintf("      Scan: %s (topic %s, key %s, value %s)", p.Source.Name, p.Source.Topic, p.Source.KeyFormat, p.Source.ValueFormat))
	return lines
}
