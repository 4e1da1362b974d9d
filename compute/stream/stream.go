package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/strata-log/strata/compute/plan"
	"github.com/strata-log/strata/compute/schema"
	"github.com/strata-log/strata/compute/sql"
)

// Config configures a Builder.
type Config struct {
	// Brokers are the Kafka addresses Run reads and writes through.
	Brokers []string
	// StateDir is the application's directory of checkpoints: where each
	// topology's input positions and operator state are kept, so that Run
	// resumes where the previous Run stopped. Empty: no checkpoints, every
	// Run starts from its sources' configured offsets with empty state.
	// One Run at a time per StateDir.
	StateDir string
	// CommitInterval is how often Run checkpoints a topology into StateDir
	// while it runs (default 5s); it also checkpoints when it stops.
	CommitInterval time.Duration
	// Logger gets the records skipped because they do not decode (nil:
	// discarded).
	Logger *slog.Logger
	// Allocator for batches and operator state (nil: the Go allocator).
	Allocator memory.Allocator
}

// Serde says how a topic's records map to columns: the columns (keys
// marked with Key, decoded from the record key, the others from the
// value) and the key and value formats (see compute/schema).
type Serde struct {
	cols       []schema.Column
	key, value schema.Format
}

// Raw is the serde of records taken as they are: a KEY column and a VALUE
// column, both BYTES in the KAFKA format (NULL for a null key or value).
func Raw() Serde {
	return Serde{
		cols:  []schema.Column{{Name: "KEY", Type: schema.Bytes, Key: true}, {Name: "VALUE", Type: schema.Bytes}},
		key:   schema.Format{Kind: schema.Kafka},
		value: schema.Format{Kind: schema.Kafka},
	}
}

// JSON is the serde of JSON values holding cols; a key column (Key set)
// is read from the record key in the KAFKA format (ksqlDB's default key
// format).
func JSON(cols ...schema.Column) Serde {
	return Serde{cols: cols, key: schema.Format{Kind: schema.Kafka}, value: schema.Format{Kind: schema.JSON}}
}

// NewSerde is the serde of cols with keys in format key and values in
// format value.
func NewSerde(key, value schema.Format, cols ...schema.Column) Serde {
	return Serde{cols: cols, key: key, value: value}
}

// SourceOption configures a source stream.
type SourceOption func(*sourceOptions)

type sourceOptions struct {
	latest bool
}

// FromLatest makes a source start at the end of its topic rather than at
// its earliest offset, when Run has no checkpoint of it.
func FromLatest() SourceOption { return func(o *sourceOptions) { o.latest = true } }

// Builder builds topologies of streams; Run runs them.
type Builder struct {
	cfg   Config
	nodes []*node
	errs  []error

	mu      sync.Mutex
	running bool
}

// NewBuilder returns a Builder.
func NewBuilder(cfg Config) *Builder { return &Builder{cfg: cfg} }

// Err returns the errors of building so far (they are also Run's).
func (b *Builder) Err() error { return errors.Join(b.errs...) }

// Stream returns the stream of a topic's records decoded with serde.
func (b *Builder) Stream(topic string, serde Serde, opts ...SourceOption) Stream {
	op := fmt.Sprintf("Stream(%q)", topic)
	s, err := schema.New(serde.cols...)
	if err != nil {
		return b.fail(op, err)
	}
	n := &node{kind: kSource, shape: shape{schema: s.Arrow(), name: nameOf(topic), key: serde.key, value: serde.value}}
	for _, c := range s.Keys() {
		n.keys = append(n.keys, c.Name)
	}
	if len(n.keys) == 0 {
		n.key = schema.Format{}
	}
	if err := n.check(); err != nil {
		return b.fail(op, err)
	}
	n.src = &plan.Source{Name: n.name, Kind: sql.Stream, Topic: topic, Schema: s, KeyFormat: n.key, ValueFormat: n.value}
	var o sourceOptions
	for _, opt := range opts {
		opt(&o)
	}
	n.latest = o.latest
	n.desc = "SOURCE " + topic
	return b.add(n)
}

func (b *Builder) fail(op string, err error) Stream {
	err = fmt.Errorf("stream: %s: %w", op, err)
	b.errs = append(b.errs, err)
	return Stream{b: b, err: err}
}

func (b *Builder) add(n *node, inputs ...*node) Stream {
	n.id = len(b.nodes)
	b.nodes = append(b.nodes, n)
	n.inputs = inputs
	for side, in := range inputs {
		in.outs = append(in.outs, edge{to: n, side: side})
	}
	return Stream{b: b, n: n}
}

// nameOf is the default name of a topic's stream: upper case, with '_' for
// characters that are not letters, digits or '_'.
func nameOf(topic string) string {
	return strings.ToUpper(regexp.MustCompile(`[^A-Za-z0-9_]`).ReplaceAllString(topic, "_"))
}

// Stream is an unbounded sequence of rows, each with the pseudo columns
// ROWTIME, ROWPARTITION and ROWOFFSET and the stream's columns; its
// methods return new streams derived from it. A Stream whose building
// failed carries the error (Err) and its methods do nothing.
type Stream struct {
	b   *Builder
	n   *node
	err error
}

// Err returns the error that building s met, if any.
func (s Stream) Err() error {
	if s.b == nil {
		return errors.New("stream: the zero Stream")
	}
	return s.err
}

// Schema returns the schema of s's batches: the pseudo columns, then its
// columns (nil if s has an error).
func (s Stream) Schema() *arrow.Schema {
	if s.n == nil {
		return nil
	}
	return s.n.schema
}

// Keys returns the names of s's key columns, which To writes to the record
// key.
func (s Stream) Keys() []string {
	if s.n == nil {
		return nil
	}
	return append([]string(nil), s.n.keys...)
}

// derive calls build unless s has an error, and records build's error.
func (s Stream) derive(op string, build func() (*node, []*node, error)) Stream {
	if err := s.Err(); err != nil {
		return s
	}
	n, inputs, err := build()
	if err != nil {
		return s.b.fail(op, err)
	}
	return s.b.add(n, inputs...)
}

// As returns s named name: the name SQL expressions may qualify its
// columns with, and the prefix of its columns in a join's output. A
// source's name is its topic's, upper case, with '_' for other characters
// than letters, digits and '_'.
func (s Stream) As(name string) Stream {
	return s.derive(fmt.Sprintf("As(%q)", name), func() (*node, []*node, error) {
		if name == "" {
			return nil, nil, errors.New("empty name")
		}
		n := s.n.next(kPass)
		n.name = name
		return n, []*node{s.n}, nil
	})
}

// WithFormats returns s with records written (To) and encoded for Map,
// Filter, Foreach and Print in the given key and value formats. A JSON key
// of one column is its bare value, as ksqlDB writes keys.
func (s Stream) WithFormats(key, value schema.Format) Stream {
	return s.derive("WithFormats", func() (*node, []*node, error) {
		n := s.n.next(kPass)
		n.key, n.value = key, value
		if len(n.keys) == 0 {
			n.key = schema.Format{}
		} else if key.Kind == schema.JSON && len(n.keys) == 1 {
			n.key.Unwrapped = true
		}
		return n, []*node{s.n}, n.check()
	})
}

// To writes s's rows to a topic, one record each: the key columns encoded
// as the key, the others as the value, in s's formats, with ROWTIME as the
// timestamp. A missing topic is created with as many partitions as the
// largest source topic of the topology.
func (s Stream) To(topic string) {
	s.derive(fmt.Sprintf("To(%q)", topic), func() (*node, []*node, error) {
		n := s.n.next(kTo)
		n.topic = topic
		n.desc = "TO " + topic
		return n, []*node{s.n}, nil
	})
}

// Foreach calls fn with each row, encoded as a record in s's formats.
func (s Stream) Foreach(fn func(Record)) {
	s.derive("Foreach", func() (*node, []*node, error) {
		n := s.n.next(kForeach)
		n.foreach = fn
		return n, []*node{s.n}, nil
	})
}

// Print writes each row to w as one line "key, value" (null for a null
// key or value), encoded in s's formats.
func (s Stream) Print(w io.Writer) {
	s.derive("Print", func() (*node, []*node, error) {
		n := s.n.next(kForeach)
		n.foreach = func(r Record) {
			show := func(b []byte) []byte {
				if b == nil {
					return []byte("null")
				}
				return b
			}
			fmt.Fprintf(w, "%s, %s\n", show(r.Key), show(r.Value))
		}
		return n, []*node{s.n}, nil
	})
}

// MapBatch returns the stream of fn's outputs, batch at a time: fn gets
// each batch of s (pseudo columns first; ctx carries the allocator,
// compute.GetAllocator) and returns a batch, which the stream releases
// (returning the input batch itself is fine), or nil for none. The output
// has the columns cols declares, in that order (none: s's columns),
// preceded by the pseudo columns, or without them if it has as many rows
// as its input, whose pseudo columns it then gets.
func (s Stream) MapBatch(fn func(ctx context.Context, rec arrow.Record) (arrow.Record, error), cols ...schema.Column) Stream {
	return s.derive("MapBatch", func() (*node, []*node, error) {
		n := s.n.next(kMapBatch)
		n.batch = fn
		if len(cols) > 0 {
			if _, err := schema.New(cols...); err != nil {
				return nil, nil, err
			}
			fields := append([]arrow.Field(nil), s.n.schema.Fields()[:schema.NumPseudoColumns]...)
			n.keys = nil
			for _, c := range cols {
				fields = append(fields, arrow.Field{Name: c.Name, Type: c.Type.Arrow(), Nullable: true})
				if c.Key {
					n.keys = append(n.keys, c.Name)
				}
			}
			n.schema = arrow.NewSchema(fields, nil)
			n.key, n.value = jsonFormats(n.keys)
		}
		return n, []*node{s.n}, nil
	})
}

// kind is the kind of a node of a topology.
type kind int

const (
	kSource   kind = iota
	kPass          // As, WithFormats: the rows as they are
	kQuery         // Where, Select, Aggregate: an engine pipeline
	kJoin          // a join: an engine pipeline with two inputs
	kMap           // Map: row at a time
	kFilter        // Filter: row at a time
	kMapBatch      // MapBatch
	kTo            // To
	kForeach       // Foreach and Print
)

// shape is what a stream's rows look like.
type shape struct {
	schema     *arrow.Schema // pseudo columns, then the columns
	keys       []string      // the key columns
	key, value schema.Format // how Map and To encode them
	name       string        // the stream's name in SQL
}

// edge leads from a node to the input side of another.
type edge struct {
	to   *node
	side int
}

// node is a step of a topology: a stream and how it is computed from its
// inputs.
type node struct {
	shape
	id     int
	kind   kind
	inputs []*node
	outs   []edge
	desc   string // what it does, for checkpoints' signatures

	src     *plan.Source // kSource
	latest  bool
	query   *plan.Query // kQuery, kJoin
	mapRow  func(Record) (Record, bool)
	filter  func(Record) bool
	batch   func(context.Context, arrow.Record) (arrow.Record, error)
	foreach func(Record)
	topic   string // kTo
}

// next returns a node of kind k with n's shape.
func (n *node) next(k kind) *node {
	out := &node{kind: k, shape: n.shape}
	out.keys = append([]string(nil), n.keys...)
	return out
}

// columns returns the columns of n's rows: their types, and the keys
// marked if markKeys.
func (n *node) columns(markKeys bool) ([]schema.Column, error) {
	keys := map[string]bool{}
	for _, k := range n.keys {
		keys[k] = markKeys
	}
	var cols []schema.Column
	for _, f := range n.schema.Fields()[schema.NumPseudoColumns:] {
		t, err := schema.FromArrow(f.Type)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", f.Name, err)
		}
		cols = append(cols, schema.Column{Name: f.Name, Type: t, Key: keys[f.Name]})
	}
	return cols, nil
}

// sourceSchema is the schema.Schema of n's rows, keys first.
func (n *node) sourceSchema() (*schema.Schema, error) {
	cols, err := n.columns(true)
	if err != nil {
		return nil, err
	}
	return schema.New(cols...)
}

// check reports whether n's formats can encode its columns.
func (n *node) check() error {
	s, err := n.sourceSchema()
	if err != nil {
		return err
	}
	if _, err := schema.NewEncoder(s.Keys(), n.key); err != nil {
		return fmt.Errorf("key format: %w", err)
	}
	if _, err := schema.NewEncoder(s.Values(), n.value); err != nil {
		return fmt.Errorf("value format: %w", err)
	}
	return nil
}

// jsonFormats are the formats of a stream whose columns a query made: JSON
// keys (a single key column unwrapped, as ksqlDB writes them) and values.
func jsonFormats(keys []string) (key, value schema.Format) {
	value = schema.Format{Kind: schema.JSON}
	if len(keys) > 0 {
		key = schema.Format{Kind: schema.JSON, Unwrapped: len(keys) == 1}
	}
	return key, value
}
