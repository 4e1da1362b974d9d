package sql

import (
	"strings"
	"time"
)

// Pos is a position in the source text: a 1-based line and column, the
// column counted in runes. Every node embeds the Pos of its first token,
// except operator nodes, which record their operator's.
type Pos struct {
	Line, Col int
}

// Position returns p. Embedding Pos gives every node this method.
func (p Pos) Position() Pos { return p }

// Node is a node of the syntax tree. String returns canonical SQL that
// parses back to an equal tree (positions aside).
type Node interface {
	Position() Pos
	String() string
	format(w *writer)
}

// Statement is a statement of a script.
type Statement interface {
	Node
	statementNode()
}

func (*CreateSource) statementNode()   {}
func (*CreateAsSelect) statementNode() {}
func (*InsertInto) statementNode()     {}
func (*InsertValues) statementNode()   {}
func (*Query) statementNode()          {}
func (*Show) statementNode()           {}
func (*Describe) statementNode()       {}
func (*Drop) statementNode()           {}
func (*Terminate) statementNode()      {}
func (*Explain) statementNode()        {}
func (*SetProperty) statementNode()    {}
func (*UnsetProperty) statementNode()  {}
func (*Print) statementNode()          {}

// SourceKind tells streams from tables.
type SourceKind int

const (
	Stream SourceKind = iota
	Table
)

// String returns STREAM or TABLE.
func (k SourceKind) String() string { return [...]string{Stream: "STREAM", Table: "TABLE"}[k] }

// name returns "stream" or "table", for messages.
func (k SourceKind) name() string { return strings.ToLower(k.String()) }

// CreateSource is CREATE STREAM|TABLE with a column list and/or properties:
//
//	CREATE [OR REPLACE] STREAM [IF NOT EXISTS] name [(col TYPE [KEY], …)] [WITH (…)]
type CreateSource struct {
	Pos
	Kind        SourceKind
	OrReplace   bool
	IfNotExists bool
	Name        string
	Columns     []ColumnDef
	Props       []Property
}

// CreateAsSelect is a persistent query writing a new stream or table:
//
//	CREATE [OR REPLACE] STREAM|TABLE [IF NOT EXISTS] name [WITH (…)] AS SELECT …
type CreateAsSelect struct {
	Pos
	Kind        SourceKind
	OrReplace   bool
	IfNotExists bool
	Name        string
	Props       []Property
	Query       *Query
}

// InsertInto is a persistent query writing into an existing stream:
// INSERT INTO name [WITH (…)] SELECT ….
type InsertInto struct {
	Pos
	Target string
	Props  []Property
	Query  *Query
}

// InsertValues is INSERT INTO name [(col, …)] VALUES (expr, …).
type InsertValues struct {
	Pos
	Target  string
	Columns []string // nil when not given
	Values  []Expr
}

// ColumnKey says whether and how a column is declared as key.
type ColumnKey int

const (
	NotKey     ColumnKey = iota
	Key                  // KEY, in a stream
	PrimaryKey           // PRIMARY KEY, in a table
)

// String returns KEY or PRIMARY KEY, or "" for NotKey.
func (k ColumnKey) String() string {
	return [...]string{NotKey: "", Key: "KEY", PrimaryKey: "PRIMARY KEY"}[k]
}

// ColumnDef is a column of CREATE STREAM|TABLE: name TYPE [KEY|PRIMARY KEY].
type ColumnDef struct {
	Pos
	Name string
	Type Type
	Key  ColumnKey
}

// Property is NAME=literal in a WITH clause. Value is a string, number or
// boolean literal.
type Property struct {
	Pos
	Name  string
	Value *Literal
}

// ShowKind is what SHOW lists.
type ShowKind int

const (
	ShowStreams ShowKind = iota
	ShowTables
	ShowQueries
	ShowTopics
	ShowProperties
)

// String returns the word after SHOW, such as STREAMS.
func (k ShowKind) String() string {
	return [...]string{
		ShowStreams: "STREAMS", ShowTables: "TABLES", ShowQueries: "QUERIES",
		ShowTopics: "TOPICS", ShowProperties: "PROPERTIES",
	}[k]
}

// Show is SHOW|LIST STREAMS|TABLES|QUERIES|TOPICS [EXTENDED] or SHOW PROPERTIES.
type Show struct {
	Pos
	What     ShowKind
	Extended bool
}

// Describe is DESCRIBE name [EXTENDED].
type Describe struct {
	Pos
	Name     string
	Extended bool
}

// Drop is DROP STREAM|TABLE [IF EXISTS] name [DELETE TOPIC].
type Drop struct {
	Pos
	Kind        SourceKind
	IfExists    bool
	Name        string
	DeleteTopic bool
}

// Terminate is TERMINATE query_id or TERMINATE ALL.
type Terminate struct {
	Pos
	QueryID string // "" with All
	All     bool
}

// Explain is EXPLAIN followed by a statement or by a query ID.
type Explain struct {
	Pos
	Statement Statement // *Query, *CreateAsSelect or *InsertInto; nil with QueryID
	QueryID   string
}

// SetProperty is SET 'name' = 'value'.
type SetProperty struct {
	Pos
	Name, Value string
}

// UnsetProperty is UNSET 'name'.
type UnsetProperty struct {
	Pos
	Name string
}

// Print is PRINT topic [FROM BEGINNING] [INTERVAL n] [LIMIT n].
type Print struct {
	Pos
	Topic         string
	FromBeginning bool
	Interval      *int64 // print every nth record; nil when not given
	Limit         *int64 // nil when not given
}

// Query is a SELECT. Standing alone it is a push query (EMIT CHANGES) or
// a pull query.
type Query struct {
	Pos
	Select      []SelectItem
	From        Relation
	Joins       []Join
	Window      *Window
	Where       Expr // nil when absent, as are Having and Window
	GroupBy     []Expr
	PartitionBy []Expr
	Having      Expr
	Emit        EmitKind
	Limit       *int64 // nil when absent
}

// EmitKind is the EMIT clause of a query.
type EmitKind int

const (
	EmitNone    EmitKind = iota // no EMIT clause
	EmitChanges                 // EMIT CHANGES
	EmitFinal                   // EMIT FINAL
)

// String returns EMIT CHANGES or EMIT FINAL, or "" for EmitNone.
func (k EmitKind) String() string {
	return [...]string{EmitNone: "", EmitChanges: "EMIT CHANGES", EmitFinal: "EMIT FINAL"}[k]
}

// SelectItem is *, source.* or expr [AS alias].
type SelectItem struct {
	Pos
	Star   bool   // * or source.*
	Source string // the source of source.*, else ""
	Expr   Expr   // nil with Star
	Alias  string // "" when not given
}

// Relation is a source of a query: name [AS alias].
type Relation struct {
	Pos
	Name  string
	Alias string // "" when not given
}

// JoinType is the kind of a join.
type JoinType int

const (
	InnerJoin JoinType = iota
	LeftJoin
	RightJoin
	FullJoin
)

// String returns the canonical join keywords, such as LEFT JOIN.
func (t JoinType) String() string {
	return [...]string{InnerJoin: "JOIN", LeftJoin: "LEFT JOIN", RightJoin: "RIGHT JOIN", FullJoin: "FULL JOIN"}[t]
}

// Join is [INNER|LEFT|RIGHT|FULL] JOIN source [WITHIN …] ON expr.
type Join struct {
	Pos
	Type   JoinType
	Right  Relation
	Within *Within // nil when absent
	On     Expr
}

// Within is a join window: WITHIN n unit, or WITHIN (before, after),
// optionally followed by GRACE PERIOD n unit. The single form sets Before
// and After to the same span.
type Within struct {
	Pos
	Before, After TimeSpan
	Grace         *TimeSpan // nil when absent
}

// WindowKind is the kind of a WINDOW clause.
type WindowKind int

const (
	Tumbling WindowKind = iota
	Hopping
	Session
)

// String returns TUMBLING, HOPPING or SESSION.
func (k WindowKind) String() string {
	return [...]string{Tumbling: "TUMBLING", Hopping: "HOPPING", Session: "SESSION"}[k]
}

// Window is the WINDOW clause of an aggregation:
//
//	WINDOW TUMBLING (SIZE n unit [, RETENTION n unit] [, GRACE PERIOD n unit])
//	WINDOW HOPPING (SIZE n unit, ADVANCE BY n unit [, RETENTION …] [, GRACE PERIOD …])
//	WINDOW SESSION (n unit [, RETENTION …] [, GRACE PERIOD …])
type Window struct {
	Pos
	Kind      WindowKind
	Size      TimeSpan  // the session gap for SESSION windows
	Advance   *TimeSpan // HOPPING only
	Retention *TimeSpan // nil when absent
	Grace     *TimeSpan // nil when absent
}

// TimeUnit is the unit of a TimeSpan.
type TimeUnit int

const (
	Millisecond TimeUnit = iota
	Second
	Minute
	Hour
	Day
)

var timeUnits = [...]struct {
	singular, plural string
	d                time.Duration
}{
	Millisecond: {"MILLISECOND", "MILLISECONDS", time.Millisecond},
	Second:      {"SECOND", "SECONDS", time.Second},
	Minute:      {"MINUTE", "MINUTES", time.Minute},
	Hour:        {"HOUR", "HOURS", time.Hour},
	Day:         {"DAY", "DAYS", 24 * time.Hour},
}

// String returns the plural name of the unit, such as MINUTES.
func (u TimeUnit) String() string { return timeUnits[u].plural }

// Duration is the length of one unit.
func (u TimeUnit) Duration() time.Duration { return timeUnits[u].d }

// TimeSpan is a written duration such as 5 MINUTES.
type TimeSpan struct {
	Pos
	Value    int64
	Unit     TimeUnit
	Duration time.Duration // Value × Unit
}
