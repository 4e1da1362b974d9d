package exec

// # Joins
//
// A join has two inputs. It is one state object with two input ports,
// Left() and Right(), each an Operator that the pipeline of that side pushes
// into; both ports emit the joined batches through the join's one Emit. The
// ports may be driven from different goroutines: the join serializes them
// and calls Emit under its lock, so the pipeline after the join sees one
// goroutine at a time. Close of a port marks that input finished; the state
// is released when both ports are closed or the join itself is Closed.
//
// Three joins exist, as in ksqlDB:
//
//   - [StreamStreamJoin]: two streams joined within a time window
//     (INNER, LEFT, RIGHT, FULL OUTER).
//   - [StreamTableJoin]: a stream (left) against a table's changelog (right)
//     (INNER, LEFT).
//   - [TableTableJoin]: two tables' changelogs (INNER, LEFT, RIGHT,
//     FULL OUTER).
//
// Rows match when all their key columns are equal (JoinConfig.LeftKeys and
// RightKeys, pairwise, of identical types). Values compare by their bytes,
// except that floating-point keys are normalized first: all NaNs are one
// key, and -0.0 is 0.0. A row with a NULL in any key column never matches
// anything (ksqlDB): an inner side drops it; the outer side of a
// stream-stream or stream-table join emits it at once with NULLs on the
// other side; a table changelog row with a NULL key is ignored.
//
// # Output
//
// The output batch (Schema()) has the pseudo columns first, then every
// column of the left input, then every column of the right input (pseudo
// columns and, for table inputs, the Deleted column excluded), named with
// JoinConfig.LeftPrefix and RightPrefix prepended, then, for table-table
// joins only, the Deleted column:
//
//	ROWTIME       stream-stream: the greater of the two rows' times, or
//	              the time of the row an outer row has; stream-table: the
//	              stream row's; table-table: the greater of the change's
//	              and that of the other side's row for the key, if any.
//	ROWPARTITION  of the driving row: the row whose arrival produced the
//	ROWOFFSET     output row (for outer rows emitted by Advance: the row
//	              itself; for table-table deletions: the changelog row).
//	…             left columns, then right columns; NULL on a side without
//	              a match (every output data column is nullable).
//	__DELETED     table-table only: true for a row that retracts its key.
//
// Each Push or Advance emits at most one batch per driving side.
//
// # Stream-stream joins
//
// A right row at time tr joins a left row at time tl when
// tl-Before <= tr <= tl+After (WITHIN n is Before = After = n). Each arriving
// row probes the other side's buffer and emits its matches at once, then is
// buffered itself. The window of a left row closes at tl+After, that of a
// right row at tr+Before; with W the watermark (the greatest value given to
// Advance on either port) and G the grace period:
//
//   - a row is late, counted by LateRecords and dropped (whatever its key),
//     when its own window closed more than G ago: tl+After+G < W,
//     tr+Before+G < W. A row with a NULL time is dropped and counted the
//     same way.
//   - a buffered row is final when W > t+Before+After+G: no row that is not
//     late can match it any more. Advance then emits the rows of an outer
//     side (LEFT: left rows, RIGHT: right rows, FULL: both) that never
//     matched, with NULLs on the other side, and evicts all final rows,
//     inner or outer.
//
// With these two rules a join emits exactly the rows of the relational join
// of all rows that were not late, whatever the order in which they arrived,
// and outer rows come as soon as W passes t+Before+After+G. (The looser
// rule of dropping only rows with t < W-Before-After-G, while evicting at
// t+Before+After+G, would accept rows some of whose partners were already
// evicted.) Advance emits the final left rows, then the final right rows,
// each in time order. Durations are truncated to milliseconds.
//
// # Stream-table joins
//
// The right input is a table's changelog, keyed by the join key (the
// table's primary key; foreign-key joins are not implemented). A changelog
// row replaces the key's row, or deletes the key when its Deleted column is
// true (NULL is false); table updates emit nothing. A stream row joins the table's row for
// its key at the moment it arrives; there are no windows, no late rows and
// Advance does nothing.
//
// # Table-table joins
//
// Both inputs are changelogs keyed by the join key (primary-key joins only).
// Each change emits the key's new joined row: an upsert on one side emits
// (new row, other side's row) when the other side has the key or this side
// is outer; a deletion emits (NULL, other side's row) when the other side
// has the key and is outer, and otherwise a row with Deleted=true when the
// key had a joined row. A deletion row carries the changelog row that caused
// it on its side (the key columns a tombstone holds) and NULLs on the other
// side. A NULL time of a table row reads as 0. Advance does nothing.
//
// # State
//
// Buffered rows are kept as references into the retained input batches,
// whose live rows are copied into one batch when the dead rows outnumber
// them (and number at least 64Ki), and are found through hash tables keyed
// by the encoded key bytes (or by an integer for keys of at most 8 bytes).
// Output columns are gathered from the referenced rows: fixed-width, boolean
// and binary columns directly, nested ones with the take kernel. Snapshot
// writes the buffered rows as Arrow IPC in a versioned format (see
// join_snapshot.go); Restore replaces the state with a snapshot's, after
// which the join emits exactly what the uninterrupted join would have.

import (
	"errors"
	"fmt"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/strata-log/strata/compute/schema"
)

// JoinType is the kind of a join: which sides keep their rows without a
// match.
type JoinType int

const (
	// InnerJoin emits matching pairs only.
	InnerJoin JoinType = iota
	// LeftJoin also emits left rows without a match, with NULLs on the right.
	LeftJoin
	// RightJoin also emits right rows without a match, with NULLs on the left.
	RightJoin
	// FullOuterJoin emits the rows of both sides without a match.
	FullOuterJoin
)

func (t JoinType) String() string {
	switch t {
	case InnerJoin:
		return "INNER"
	case LeftJoin:
		return "LEFT"
	case RightJoin:
		return "RIGHT"
	case FullOuterJoin:
		return "FULL OUTER"
	}
	return fmt.Sprintf("JoinType(%d)", int(t))
}

// keeps reports whether rows of side s are emitted without a match.
func (t JoinType) keeps(s joinSide) bool {
	if s == joinLeft {
		return t == LeftJoin || t == FullOuterJoin
	}
	return t == RightJoin || t == FullOuterJoin
}

// JoinConfig describes a join. Input schemas have the pseudo columns first
// (compute/schema); column indices are field indices of those schemas.
type JoinConfig struct {
	Type JoinType
	// Left and Right are the schemas of the input batches.
	Left, Right *arrow.Schema
	// LeftKeys and RightKeys are the equality columns, pairwise; at least
	// one pair, of identical types (else a *JoinKeyError).
	LeftKeys, RightKeys []int
	// LeftTime and RightTime are the event-time columns (ROWTIME, field 0,
	// unless the planner says otherwise): TIMESTAMP or BIGINT, milliseconds.
	LeftTime, RightTime int
	// Before and After bound a stream-stream join's window: a right row at
	// tr joins a left row at tl when tl-Before <= tr <= tl+After. Zero for
	// the other joins.
	Before, After time.Duration
	// Grace is how long past its window a late row is still joined
	// (stream-stream only).
	Grace time.Duration
	// LeftPrefix and RightPrefix are prepended to the names of the input
	// columns in the output (the planner passes the source aliases, "A_").
	LeftPrefix, RightPrefix string
}

// ErrJoinType is returned (wrapped) when a join does not support the
// requested JoinType, such as a RIGHT or FULL OUTER stream-table join.
var ErrJoinType = errors.New("exec: join type not supported")

// ErrJoinSnapshot is returned (wrapped) by Restore when the snapshot is not
// one of this join, or of an unknown version.
var ErrJoinSnapshot = errors.New("exec: invalid join snapshot")

// errJoinClosed is returned by the ports of a closed join.
var errJoinClosed = errors.New("exec: join is closed")

// JoinKeyError reports a pair of key columns that cannot be compared: their
// types differ (the planner casts one side) or the type has no equality
// (ARRAY, MAP, STRUCT).
type JoinKeyError struct {
	Pair        int // index into LeftKeys and RightKeys
	Left, Right arrow.DataType
}

func (e *JoinKeyError) Error() string {
	if arrow.TypeEqual(e.Left, e.Right) {
		return fmt.Sprintf("exec: join key %d: type %s cannot be a join key", e.Pair, e.Left)
	}
	return fmt.Sprintf("exec: join key %d: types differ: %s and %s", e.Pair, e.Left, e.Right)
}

// joinSide is one input of a join.
type joinSide int

const (
	joinLeft joinSide = iota
	joinRight
)

func (s joinSide) other() joinSide { return 1 - s }

// joinKind is the kind of join a config is validated for.
type joinKind uint8

const (
	joinStreamStream joinKind = iota + 1
	joinStreamTable
	joinTableTable
)

// tables reports whether the inputs of a join kind are changelogs.
func (k joinKind) tables() [2]bool {
	return [2]bool{k == joinTableTable, k != joinStreamStream}
}

// joinInput is what a join knows of one input.
type joinInput struct {
	schema  *arrow.Schema
	keys    []int
	time    int
	deleted int   // the Deleted column of a table input, or -1
	cols    []int // input fields copied to the output
	prefix  string
}

// joinLayout is the output layout of a join.
type joinLayout struct {
	schema  *arrow.Schema
	in      [2]joinInput
	deleted bool // a Deleted column ends the output
}

// newJoinLayout validates cfg for a join kind and returns its layout.
func newJoinLayout(cfg *JoinConfig, kind joinKind) (*joinLayout, error) {
	switch {
	case cfg.Type < InnerJoin || cfg.Type > FullOuterJoin:
		return nil, fmt.Errorf("%w: %v", ErrJoinType, cfg.Type)
	case kind == joinStreamTable && cfg.Type != InnerJoin && cfg.Type != LeftJoin:
		return nil, fmt.Errorf("%w: %v stream-table join", ErrJoinType, cfg.Type)
	case cfg.Before < 0 || cfg.After < 0 || cfg.Grace < 0:
		return nil, errors.New("exec: join window and grace must not be negative")
	case kind != joinStreamStream && (cfg.Before != 0 || cfg.After != 0 || cfg.Grace != 0):
		return nil, errors.New("exec: only stream-stream joins have a window and a grace period")
	case cfg.Left == nil || cfg.Right == nil:
		return nil, errors.New("exec: join input schema missing")
	case len(cfg.LeftKeys) == 0 || len(cfg.LeftKeys) != len(cfg.RightKeys):
		return nil, errors.New("exec: join needs as many left as right key columns, at least one")
	}
	tables := kind.tables()
	l := &joinLayout{deleted: kind == joinTableTable}
	fields := make([]arrow.Field, 0, cfg.Left.NumFields()+cfg.Right.NumFields())
	for s, sc := range [2]*arrow.Schema{cfg.Left, cfg.Right} {
		in := &l.in[s]
		*in = joinInput{schema: sc, keys: cfg.LeftKeys, time: cfg.LeftTime, deleted: -1, prefix: cfg.LeftPrefix}
		if s == int(joinRight) {
			in.keys, in.time, in.prefix = cfg.RightKeys, cfg.RightTime, cfg.RightPrefix
		}
		if err := in.validate(tables[s]); err != nil {
			return nil, fmt.Errorf("exec: join %s input: %w", [2]string{"left", "right"}[s], err)
		}
		if s == int(joinLeft) {
			fields = append(fields, sc.Field(schema.RowTimeIndex), sc.Field(schema.RowPartitionIndex), sc.Field(schema.RowOffsetIndex))
			fields[0].Type = sc.Field(in.time).Type
		}
		for _, c := range in.cols {
			f := sc.Field(c)
			fields = append(fields, arrow.Field{Name: in.prefix + f.Name, Type: f.Type, Nullable: true, Metadata: f.Metadata})
		}
	}
	for i := range cfg.LeftKeys {
		lt, rt := cfg.Left.Field(cfg.LeftKeys[i]).Type, cfg.Right.Field(cfg.RightKeys[i]).Type
		if !arrow.TypeEqual(lt, rt) || !joinKeyType(lt) {
			return nil, &JoinKeyError{Pair: i, Left: lt, Right: rt}
		}
	}
	for i := range schema.NumPseudoColumns {
		if lt, rt := cfg.Left.Field(i).Type, cfg.Right.Field(i).Type; i != schema.RowTimeIndex && !arrow.TypeEqual(lt, rt) {
			return nil, fmt.Errorf("exec: join inputs have different %s types: %s and %s", cfg.Left.Field(i).Name, lt, rt)
		}
	}
	if l.deleted {
		fields = append(fields, arrow.Field{Name: Deleted, Type: arrow.FixedWidthTypes.Boolean})
	}
	seen := make(map[string]bool, len(fields))
	for _, f := range fields {
		if seen[f.Name] {
			return nil, fmt.Errorf("exec: join output has two columns named %q (set distinct prefixes)", f.Name)
		}
		seen[f.Name] = true
	}
	l.schema = arrow.NewSchema(fields, nil)
	return l, nil
}

// validate checks an input's columns and fills in its deleted column and
// output columns.
func (in *joinInput) validate(table bool) error {
	sc, n := in.schema, in.schema.NumFields()
	pseudo := [schema.NumPseudoColumns]string{schema.RowTime, schema.RowPartition, schema.RowOffset}
	for i, name := range pseudo {
		if i >= n || sc.Field(i).Name != name {
			return fmt.Errorf("field %d is not the pseudo column %s", i, name)
		}
	}
	for _, k := range in.keys {
		if k < 0 || k >= n {
			return fmt.Errorf("key column %d out of range", k)
		}
	}
	if in.time < 0 || in.time >= n {
		return fmt.Errorf("time column %d out of range", in.time)
	}
	if id := sc.Field(in.time).Type.ID(); id != arrow.TIMESTAMP && id != arrow.INT64 {
		return fmt.Errorf("time column %s is %s, not TIMESTAMP or BIGINT", sc.Field(in.time).Name, sc.Field(in.time).Type)
	}
	for i := schema.NumPseudoColumns; i < n; i++ {
		if f := sc.Field(i); table && f.Name == Deleted {
			if f.Type.ID() != arrow.BOOL {
				return fmt.Errorf("column %s is %s, not BOOLEAN", Deleted, f.Type)
			}
			in.deleted = i
			continue
		}
		in.cols = append(in.cols, i)
	}
	return nil
}
