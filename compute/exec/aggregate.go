package exec

import (
	"errors"
	"fmt"
	"math"
	"os"
	"slices"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/strata-log/strata/compute/expr"
)

// Errors of the aggregation; errors.Is tells them apart.
var (
	// ErrAggregateConfig reports an invalid or unsupported AggregateConfig.
	ErrAggregateConfig = errors.New("exec: invalid aggregation")
	// ErrTableAggregation reported aggregations of a table's changelog.
	//
	// Deprecated: NewAggregate supports them (AggregateConfig.Table) and
	// no longer returns it.
	ErrTableAggregation = errors.New("exec: aggregation of a table changelog is not supported")
	// ErrAggregateInput reports a batch whose columns do not match the
	// configured input schema.
	ErrAggregateInput = errors.New("exec: aggregation input does not match its schema")
	// ErrAggregateSnapshot reports a snapshot that Restore cannot read: a
	// corrupt one, one of an unknown version, or one of another query.
	ErrAggregateSnapshot = errors.New("exec: unusable aggregation snapshot")
)

// Names of the window bound columns of a windowed aggregation's output.
const (
	WindowStart = "WINDOWSTART"
	WindowEnd   = "WINDOWEND"
)

// AggregateConfig describes a hash aggregation.
type AggregateConfig struct {
	// Input is the schema of the input batches.
	Input *arrow.Schema
	// Keys are the input columns of GROUP BY.
	Keys []int
	// Time is the input column of event time (TIMESTAMP or BIGINT
	// milliseconds, usually ROWTIME); windowed aggregations only.
	Time int
	// Window is the WINDOW clause; the zero WindowSpec is no window.
	Window WindowSpec
	// Aggs are the aggregate calls, one output column each.
	Aggs []AggFunc
	// Final is EMIT FINAL: each window is emitted once, when it closes.
	// Otherwise (EMIT CHANGES) every Push emits the new value of each group
	// the batch changed.
	Final bool
	// Table marks the input as a table's changelog: each row replaces the
	// current row of its table key (TableKeys), and a row whose Deleted
	// column is true deletes it. Table aggregations are not windowed and
	// emit changes.
	Table bool
	// TableKeys are the input columns of the source table's primary key;
	// table aggregations only.
	TableKeys []int
	// MaxMemoryBytes bounds the estimated in-memory state of tumbling and
	// hopping EMIT FINAL aggregations: beyond it, windows spill to files in
	// SpillDir (os.TempDir() when empty). 0 is unbounded; other shapes
	// ignore it.
	MaxMemoryBytes int64
	SpillDir       string
}

// Aggregate is the hash aggregation operator of GROUP BY, windowed or not,
// over a stream or a table's changelog, with ksqlDB's semantics.
//
// Windows. Tumbling windows are [start, start+size) with start a multiple
// of size (aligned to the epoch). Hopping windows are [start, start+size)
// with start a multiple of advance; a record updates every window that
// contains it, ⌈size/advance⌉ or fewer. Like Kafka Streams, no window
// starts before 0. A session window [start, end] spans the event times of
// its records: a record at t joins the open sessions of its key with
// end ≥ t-gap and start ≤ t+gap, merging them when it bridges several. The
// output's WINDOWEND is start+size (exclusive) for time windows and the last
// event time (inclusive) for sessions.
//
// Stream time and lateness. Stream time is the greatest event time pushed
// or watermark passed to Advance; each row of a batch is judged against
// the stream time after it, as Kafka Streams judges each record. A time
// window closes when stream time reaches end+grace, a session when stream
// time passes end+gap+grace. Without GRACE PERIOD (Grace 0) grace is
// ksqlDB's documented default of 24 hours ([DefaultGrace]); GRACE PERIOD 0
// is [NoGrace]. A row whose windows are closed is late: dropped and counted
// by LateRecords (a hopping row once per closed window; its open windows
// still take it). Closed windows are evicted, so retention is size+grace;
// a closed session never grows or merges again. Rows whose event time is
// NULL or negative are dropped (InvalidTimeRecords), and so are rows with a
// NULL in any GROUP BY column (NullKeyRecords), as ksqlDB excludes them.
//
// Tables. With Table, the input is a table's changelog, as ksqlDB
// aggregates it (Kafka Streams' KGroupedTable.aggregate with an adder and
// a subtractor): TableKeys are the columns of the table's primary key,
// and the boolean column named [Deleted], if the input has one, marks the
// rows that delete their key (NULL is false). The operator remembers the
// current row of each table key: its group and its aggregate arguments.
// A row replaces its key's current row: the old row is subtracted from its
// group, then the new row, unless it is a deletion, is added to its group,
// the same or another. A new row with a NULL GROUP BY column joins no
// group (the old one is still subtracted) and is counted by NullKeyRecords;
// so are rows with a NULL table key column, which change nothing.
// Deletions of keys without a row change nothing. Table aggregations are
// not windowed and emit changes; a group whose last row leaves it is
// forgotten: a later row with its key starts it anew (from zero, also
// within a batch).
//
// Emission. With EMIT CHANGES each Push emits one row per group and window
// the batch changed, in the order the batch first changed them. For
// session windows the output ends with the [Deleted] column: when sessions
// merge, the rows emitted for sessions that no longer exist (merged away,
// or whose bounds changed) are retracted, before the new rows, by a row
// with their key and bounds, NULL aggregates and Deleted true. With EMIT
// FINAL each window is emitted once, when it closes: windows by end then
// start, groups in the order of their encoded keys (deterministic, not
// the SQL order). A table aggregation's output ends with the Deleted
// column too: each Push emits one row per group it changed, in the order
// it first changed them, with the group's new values, or, for a group the
// batch emptied that existed before it, the group's key with NULL
// aggregates and Deleted true. Emitted batches hold at most 65536 rows.
//
// Aggregates. NULL arguments are ignored except by COUNT(*).
//
//	COUNT(*), COUNT(x)       BIGINT
//	SUM(INT|BIGINT|DOUBLE)   the argument's type, 0 without values (ksqlDB's
//	                         initial value); INT and BIGINT wrap like Java
//	SUM(DECIMAL(p, s))       DECIMAL(p, s); NULL once the sum overflows p
//	AVG(INT|BIGINT|DOUBLE)   DOUBLE: the sum, in the argument's type, over
//	                         the count; 0 without values (ksqlDB)
//	MIN(x), MAX(x)           x's type: INT, BIGINT, DOUBLE, DECIMAL, VARCHAR,
//	                         BYTES, TIMESTAMP, DATE, TIME; NULL without values
//	COUNT_DISTINCT(x)        BIGINT, exact (ksqlDB estimates it with a
//	                         HyperLogLog)
//	LATEST_BY_OFFSET(x)      x's type: the value of the last (first) row to
//	EARLIEST_BY_OFFSET(x)    arrive, NULL without values; see below
//	COLLECT_LIST(x)          ARRAY<x's type>, in arrival order, no size limit
//
// The last four take any non-nested type. DOUBLEs compare as Java's
// Double.compare and equals do (NaN above everything and equal to itself,
// -0.0 below and unequal to 0.0); VARCHAR and BYTES compare bytewise.
// LATEST_BY_OFFSET and EARLIEST_BY_OFFSET order rows by arrival, as ksqlDB
// does with a sequence number: within a partition, read in offset order,
// that is ROWOFFSET order; across partitions it is the order the pipeline
// delivered the rows in. A merged session's COLLECT_LIST holds the earlier
// session's values, then the later's, then those of the batch that merged
// them.
//
// Every aggregate works on tables, exactly: a group's value is always the
// aggregate of the current rows of its table keys, as if computed anew,
// except for the rounding of DOUBLE sums. COUNT, SUM and AVG subtract.
// SUM(INT|BIGINT) wraps both ways, so it is exact; SUM(DECIMAL(p, s)) is
// kept in 192 bits and is NULL while the sum of the current rows does not
// fit p (it comes back when rows leave). SUM and AVG of DOUBLE count NaNs
// and infinities apart, so removing them restores the sum of the finite
// values, which keeps the rounding of its additions and subtractions (as
// ksqlDB's sum does) until the group is forgotten. MIN, MAX and
// COUNT_DISTINCT keep a multiset of the group's values (MIN and MAX a heap
// over it). COLLECT_LIST, LATEST_BY_OFFSET and EARLIEST_BY_OFFSET keep the
// group's values by the arrival of their rows: the list holds the values
// of the group's current rows in the order those rows arrived (ksqlDB's
// list removes the last equal value instead, so its order depends on
// history), LATEST and EARLIEST are the non-NULL values of the current
// rows that arrived last and first. (ksqlDB itself rejects MIN, MAX,
// LATEST_BY_OFFSET and EARLIEST_BY_OFFSET on tables.)
//
// Execution. The GROUP BY columns of a batch are encoded column at a time
// into one byte string per row (fixed-width values as they are, strings
// with their length), hashed once per row. Each open window has an
// open-addressing table from encoded key to group id; group ids index the
// typed state arrays of the aggregates, which update a whole batch in one
// generic loop per aggregate and column (one per hop for hopping windows;
// pass q of a hopping batch takes each row's window whose index is q modulo
// the hop count, so each window sees its rows in arrival order). Sessions
// assign rows one by one, forwarding the rows of sessions merged during
// the batch, then update column at a time. A table aggregation also
// encodes the table keys column at a time into a table of their own, and
// matches the rows with their keys' current rows one by one (group ids,
// row counts and arrival numbers only); then each argument column swaps,
// in one loop, the stored arguments of the rows' keys for the new ones
// (copying strings once, shared by the aggregates of the column), and each
// aggregate subtracts the old arguments and adds the new ones in one
// generic loop. A key table or group table is rebuilt once most of its
// keys are dead.
//
// Memory. With MaxMemoryBytes, a tumbling or hopping EMIT FINAL
// aggregation whose estimated state exceeds the bound spills windows, the
// complete ones (stream time past their end) oldest first, then the
// filling ones, until the state is under half the bound; SpilledBytes
// counts the bytes written. Each spill is an Arrow IPC stream of state rows
// (the snapshot's columns) in a directory of the operator's own under
// SpillDir, removed by Close. A window's spilled parts are read back and
// merged, in order, when it closes: the largest window must fit in memory
// then. Other aggregations keep their state in memory.
//
// Snapshots (version 2). Snapshot writes one Arrow IPC stream. Its schema
// metadata holds strata.aggregate.version ("2"), a fingerprint of the
// window and emit mode (ending in " table" for tables), stream time, the
// arrival counter and the counters. The state rows of stream aggregations
// are those of version 1, which Restore still reads.
// Its rows are state rows, one per group (for a spilled window, one per
// part, older parts first): window_start and window_end (BIGINT), for
// session windows with EMIT CHANGES emitted_start and emitted_end (the
// bounds last emitted, NULL if none), key0… (the GROUP BY values), then
// each aggregate's state columns agg<i>_…: COUNT count; SUM sum; AVG sum,
// count; MIN and MAX value; COUNT_DISTINCT values (ARRAY); LATEST and
// EARLIEST value, seq (arrival number); COLLECT_LIST values (ARRAY).
// Version 2 adds the rows of table aggregations, two sections of one
// schema whose columns of the other section are NULL: group_row (BOOLEAN),
// tkey0… (the table key values), seq (BIGINT, the arrival number of the
// key's current row), key0… (the GROUP BY values), arg<c>… (the current
// row's argument in input column c; a BOOLEAN, true or NULL, for a column
// only COUNT reads), then agg<i>_sum (DOUBLE) for each SUM or AVG of a
// DOUBLE. First come the key rows (group_row false), one per table key
// whose current row is in a group, by seq; Restore replays them as a
// changelog. Then the group rows (group_row true), one per group when some
// aggregate is a DOUBLE SUM or AVG: the sums of its finite values, which
// Restore sets after the replay, so they keep their rounding. Restore
// rejects snapshots of another version, window, emit mode, table keys, key
// or aggregate list with ErrAggregateSnapshot.
//
// Not implemented: HAVING, which the planner applies downstream.
type Aggregate struct {
	cfg    AggregateConfig
	emit   Emit
	schema *arrow.Schema
	state  *arrow.Schema // columns of snapshots and spill files
	keys   *aggKeyCodec
	aggs   []aggFunc
	reads  []int // input columns read: keys, event time, arguments

	kind                      WindowKind
	size, advance, gap, grace int64 // milliseconds
	streamTime                int64 // greatest event time or watermark seen
	seq                       int64 // rows pushed: arrival numbers
	late, nullKeys, badTime   int64
	groups                    aggGroups
	windows                   aggWindows   // NoWindow, Tumbling, Hopping
	sessions                  *aggSessions // Session
	spill                     aggSpill
	changes                   aggChanges // EMIT CHANGES bookkeeping of one Push
	rows                      aggRows    // output rows being emitted
	drop                      []bool     // per row of a batch: not aggregated
	times, marks              []int64    // per row: event time, stream time after it
	gids                      []int32    // per row: group of the current pass
	table                     *aggTable  // Table
	taggs                     []aggTableFunc
}

var _ Stateful = (*Aggregate)(nil)

// NewAggregate returns the aggregation cfg describes, emitting through emit.
func NewAggregate(cfg AggregateConfig, emit Emit) (*Aggregate, error) {
	if cfg.Input == nil {
		return nil, fmt.Errorf("%w: no input schema", ErrAggregateConfig)
	}
	if cfg.Table {
		if err := checkTableConfig(cfg); err != nil {
			return nil, err
		}
	} else if len(cfg.TableKeys) > 0 {
		return nil, fmt.Errorf("%w: TableKeys without Table", ErrAggregateConfig)
	}
	a := &Aggregate{cfg: cfg, emit: emit, kind: cfg.Window.Kind, streamTime: math.MinInt64}
	if err := a.setWindow(); err != nil {
		return nil, err
	}
	if cfg.MaxMemoryBytes < 0 {
		return nil, fmt.Errorf("%w: negative MaxMemoryBytes", ErrAggregateConfig)
	}
	keyTypes := make([]arrow.DataType, len(cfg.Keys))
	for i, k := range cfg.Keys {
		if k < 0 || k >= cfg.Input.NumFields() {
			return nil, fmt.Errorf("%w: key column %d is not in the input", ErrAggregateConfig, k)
		}
		keyTypes[i] = cfg.Input.Field(k).Type
	}
	var ok bool
	if a.keys, ok = newAggKeyCodec(keyTypes); !ok {
		return nil, fmt.Errorf("%w: GROUP BY of a nested column", ErrAggregateConfig)
	}
	for _, f := range cfg.Aggs {
		if _, err := newAggFunc(f, cfg.Input); err != nil {
			return nil, err
		}
	}
	a.buildAggs()
	a.reads = append(a.reads, cfg.Keys...)
	if a.kind != NoWindow {
		a.reads = append(a.reads, cfg.Time)
	}
	for _, f := range cfg.Aggs {
		if f.Arg >= 0 {
			a.reads = append(a.reads, f.Arg)
		}
	}
	if a.table != nil {
		a.reads = append(a.reads, cfg.TableKeys...)
		if a.table.deleted >= 0 {
			a.reads = append(a.reads, a.table.deleted)
		}
	}
	a.windows.byStart = map[int64]*aggWindow{}
	if a.kind == Session {
		a.sessions = &aggSessions{}
	}
	a.schema, a.state = a.schemas()
	if a.table != nil {
		a.state = a.tableStateSchema()
	}
	a.spill.dir = cfg.SpillDir
	if a.spill.dir == "" {
		a.spill.dir = os.TempDir()
	}
	return a, nil
}

// setWindow checks the window and time column and sets the durations.
func (a *Aggregate) setWindow() error {
	w := a.cfg.Window
	switch w.Kind {
	case NoWindow:
		if a.cfg.Final {
			return fmt.Errorf("%w: EMIT FINAL needs a window", ErrAggregateConfig)
		}
		return nil
	case Tumbling:
		a.size, a.advance = w.Size.Milliseconds(), w.Size.Milliseconds()
	case Hopping:
		a.size, a.advance = w.Size.Milliseconds(), w.Advance.Milliseconds()
		if a.advance <= 0 || a.advance > a.size {
			return fmt.Errorf("%w: hopping window advance %v is not in (0, size]", ErrAggregateConfig, w.Advance)
		}
	case Session:
		a.gap = w.Gap.Milliseconds()
		if a.gap <= 0 {
			return fmt.Errorf("%w: session gap %v is under 1ms", ErrAggregateConfig, w.Gap)
		}
	default:
		return fmt.Errorf("%w: unknown window kind %d", ErrAggregateConfig, w.Kind)
	}
	if w.Kind != Session && a.size <= 0 {
		return fmt.Errorf("%w: window size %v is under 1ms", ErrAggregateConfig, w.Size)
	}
	a.grace = w.grace().Milliseconds()
	t := a.cfg.Time
	if t < 0 || t >= a.cfg.Input.NumFields() || aggPhysOf(a.cfg.Input.Field(t).Type) != aggPhysInt64 {
		return fmt.Errorf("%w: event time column %d is not a TIMESTAMP or BIGINT input column", ErrAggregateConfig, t)
	}
	return nil
}

// buildAggs makes the empty aggregates (which NewAggregate validated)
// and, for a table aggregation, the empty table state.
func (a *Aggregate) buildAggs() {
	a.aggs, a.taggs = a.aggs[:0], a.taggs[:0]
	var stores map[int]aggArgStore
	if a.cfg.Table {
		a.table, stores = a.newTable()
	}
	for _, f := range a.cfg.Aggs {
		if a.table == nil {
			fn, _ := newAggFunc(f, a.cfg.Input)
			a.aggs = append(a.aggs, fn)
			continue
		}
		fn := newAggTableFunc(f, a.cfg.Input, stores[f.Arg])
		a.aggs = append(a.aggs, fn)
		a.taggs = append(a.taggs, fn.(aggTableFunc))
	}
	a.groups = aggGroups{aggs: a.aggs}
}

// schemas returns the output schema and the schema of the state tables.
func (a *Aggregate) schemas() (out, state *arrow.Schema) {
	ts := expr.Timestamp
	i64 := arrow.PrimitiveTypes.Int64
	var of, sf []arrow.Field
	sf = append(sf, arrow.Field{Name: "window_start", Type: i64}, arrow.Field{Name: "window_end", Type: i64})
	if a.tombstones() {
		sf = append(sf,
			arrow.Field{Name: "emitted_start", Type: i64, Nullable: true},
			arrow.Field{Name: "emitted_end", Type: i64, Nullable: true})
	}
	for i, k := range a.cfg.Keys {
		f := a.cfg.Input.Field(k)
		of = append(of, arrow.Field{Name: f.Name, Type: f.Type, Nullable: f.Nullable})
		sf = append(sf, arrow.Field{Name: fmt.Sprintf("key%d", i), Type: f.Type})
	}
	if a.kind != NoWindow {
		of = append(of, arrow.Field{Name: WindowStart, Type: ts}, arrow.Field{Name: WindowEnd, Type: ts})
	}
	for i, f := range a.aggs {
		of = append(of, arrow.Field{Name: a.cfg.Aggs[i].OutName, Type: f.outType(), Nullable: true})
		sf = append(sf, f.stateFields(fmt.Sprintf("agg%d_", i))...)
	}
	if a.tombstones() {
		of = append(of, arrow.Field{Name: Deleted, Type: arrow.FixedWidthTypes.Boolean})
	}
	return arrow.NewSchema(of, nil), arrow.NewSchema(sf, nil)
}

// tombstones reports whether the output retracts rows: session windows
// with EMIT CHANGES, and table aggregations.
func (a *Aggregate) tombstones() bool { return a.kind == Session && !a.cfg.Final || a.cfg.Table }

// Schema returns the output schema: the key columns, WINDOWSTART and
// WINDOWEND (TIMESTAMP) when windowed, one column per aggregate, and the
// Deleted column for session windows with EMIT CHANGES and for table
// aggregations.
func (a *Aggregate) Schema() *arrow.Schema { return a.schema }

// LateRecords returns how many records were dropped because their window
// had closed; a hopping record counts once per closed window.
func (a *Aggregate) LateRecords() int64 { return a.late }

// NullKeyRecords returns how many records were dropped because a GROUP BY
// column (or, aggregating a table, a table key column) was NULL.
func (a *Aggregate) NullKeyRecords() int64 { return a.nullKeys }

// InvalidTimeRecords returns how many records of a windowed aggregation
// were dropped because their event time was NULL or negative.
func (a *Aggregate) InvalidTimeRecords() int64 { return a.badTime }

// SpilledBytes returns how many bytes of state were written to spill files.
func (a *Aggregate) SpilledBytes() int64 { return a.spill.bytes }

// Close releases the state and removes the spill files.
func (a *Aggregate) Close() error {
	a.clear()
	return a.spill.close()
}

// clear drops all state.
func (a *Aggregate) clear() {
	for _, w := range a.windows.byStart {
		a.spill.remove(w)
	}
	a.buildAggs()
	a.windows = aggWindows{byStart: map[int64]*aggWindow{}}
	if a.sessions != nil {
		a.sessions = &aggSessions{}
	}
	a.changes = aggChanges{}
}

// memBytes estimates the memory of the state.
func (a *Aggregate) memBytes() int64 {
	per := int64(aggGroupMetaBytes)
	for _, f := range a.aggs {
		per += int64(f.groupBytes())
	}
	total := int64(a.groups.live) * per
	for _, f := range a.aggs {
		total += f.heapBytes()
	}
	for _, w := range a.windows.byStart {
		total += w.table.bytes() + 4*int64(cap(w.gids))
	}
	if a.sessions != nil {
		total += a.sessions.keys.bytes()
	}
	if a.table != nil {
		total += a.table.bytes()
	}
	return total
}

// aggAddSat returns a+b, saturated at the int64 range; b ≥ 0.
func aggAddSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// aggResize returns s with n zero elements, reusing its memory.
func aggResize[T any](s []T, n int) []T {
	s = slices.Grow(s[:0], n)[:n]
	clear(s)
	return s
}
