package engine

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strata-log/strata/compute/plan"
	"github.com/strata-log/strata/compute/schema"
	"github.com/strata-log/strata/compute/sql"
	"github.com/strata-log/strata/meta"
)

// Kinds of meta.SQLObject.
const (
	kindSource = "source"
	kindQuery  = "query"
)

// catalog is the streams and tables, read from etcd for each statement.
type catalog map[string]*plan.Source

func (c catalog) Source(name string) (*plan.Source, bool) {
	s, ok := c[name]
	return s, ok
}

// catalog loads the sources from etcd.
func (e *Engine) catalog(ctx context.Context) (catalog, error) {
	objs, err := e.cfg.Meta.SQLObjects(ctx, kindSource)
	if err != nil {
		return nil, fmt.Errorf("read the catalog: %w", err)
	}
	c := catalog{}
	for _, o := range objs {
		st, err := sql.ParseStatement(o.Statement)
		if err != nil {
			return nil, fmt.Errorf("catalog entry %s: %w", o.Name, err)
		}
		cs, ok := st.(*sql.CreateSource)
		if !ok {
			return nil, fmt.Errorf("catalog entry %s is not a CREATE STREAM or TABLE", o.Name)
		}
		src, err := sourceOf(cs)
		if err != nil {
			return nil, fmt.Errorf("catalog entry %s: %w", o.Name, err)
		}
		c[src.Name] = src
	}
	return c, nil
}

// props is a WITH clause, by upper-case name.
type props map[string]*sql.Literal

func propsOf(ps []sql.Property) props {
	out := props{}
	for _, p := range ps {
		out[strings.ToUpper(p.Name)] = p.Value
	}
	return out
}

func (p props) str(name, def string) string {
	if l, ok := p[name]; ok {
		return l.Text
	}
	return def
}

// known are the WITH properties the engine understands.
var known = map[string]bool{"KAFKA_TOPIC": true, "VALUE_FORMAT": true, "KEY_FORMAT": true, "FORMAT": true,
	"PARTITIONS": true, "REPLICAS": true, "TIMESTAMP": true, "VALUE_DELIMITER": true}

// sourceOf builds a catalog source from its CREATE statement.
func sourceOf(cs *sql.CreateSource) (*plan.Source, error) {
	p := propsOf(cs.Props)
	for _, pr := range cs.Props {
		if !known[strings.ToUpper(pr.Name)] {
			return nil, errorAt(&pr, "unknown property %s; known: KAFKA_TOPIC, VALUE_FORMAT, KEY_FORMAT, FORMAT, PARTITIONS, REPLICAS, TIMESTAMP, VALUE_DELIMITER", pr.Name)
		}
	}
	if len(cs.Columns) == 0 {
		return nil, errorAt(cs, "%s %s declares no columns: list them, e.g. (id INT KEY, name STRING)", cs.Kind, cs.Name)
	}
	var cols []schema.Column
	for _, c := range cs.Columns {
		t, err := plan.SchemaType(c.Type)
		if err != nil {
			return nil, errorAt(&c, "column %s: %v", c.Name, err)
		}
		cols = append(cols, schema.Column{Name: c.Name, Type: t, Key: c.Key != sql.NotKey})
	}
	s, err := schema.New(cols...)
	if err != nil {
		return nil, errorAt(cs, "%v", err)
	}
	valueFormat, err := formatOf(p.str("VALUE_FORMAT", p.str("FORMAT", "JSON")))
	if err != nil {
		return nil, errorAt(cs, "VALUE_FORMAT: %v", err)
	}
	keyFormat := schema.Format{Kind: schema.None}
	if s.NumKeys() > 0 {
		if keyFormat, err = formatOf(p.str("KEY_FORMAT", p.str("FORMAT", "KAFKA"))); err != nil {
			return nil, errorAt(cs, "KEY_FORMAT: %v", err)
		}
		if keyFormat.Kind == schema.JSON && s.NumKeys() == 1 {
			keyFormat.Unwrapped = true
		}
	}
	if cs.Kind == sql.Table && s.NumKeys() == 0 {
		return nil, errorAt(cs, "table %s needs a PRIMARY KEY column", cs.Name)
	}
	src := &plan.Source{Name: cs.Name, Kind: cs.Kind, Topic: p.str("KAFKA_TOPIC", strings.ToLower(cs.Name)),
		Schema: s, KeyFormat: keyFormat, ValueFormat: valueFormat}
	if ts := p.str("TIMESTAMP", ""); ts != "" {
		ts = strings.ToUpper(ts)
		i, ok := s.Index(ts)
		if !ok {
			return nil, errorAt(cs, "TIMESTAMP column %s is not a column of %s", ts, cs.Name)
		}
		if k := s.Column(i).Type.Kind(); k != schema.KindTimestamp && k != schema.KindBigInt {
			return nil, errorAt(cs, "TIMESTAMP column %s must be a TIMESTAMP or BIGINT (epoch ms), not %s", ts, s.Column(i).Type)
		}
		src.Timestamp = ts
	}
	return src, nil
}

func formatOf(name string) (schema.Format, error) {
	switch strings.ToUpper(name) {
	case "JSON":
		return schema.Format{Kind: schema.JSON}, nil
	case "KAFKA":
		return schema.Format{Kind: schema.Kafka}, nil
	case "DELIMITED":
		return schema.Format{Kind: schema.Delimited}, nil
	case "NONE":
		return schema.Format{Kind: schema.None}, nil
	}
	return schema.Format{}, fmt.Errorf("unknown format %q: use JSON, KAFKA, DELIMITED or NONE", name)
}

// createSource runs CREATE STREAM|TABLE: the topic must exist, or
// PARTITIONS creates it.
func (e *Engine) createSource(ctx context.Context, cs *sql.CreateSource, res Result) error {
	src, err := sourceOf(cs)
	if err != nil {
		return err
	}
	p := propsOf(cs.Props)
	if err := e.ensureTopic(ctx, src.Topic, p); err != nil {
		return errorAt(cs, "%v", err)
	}
	err = e.cfg.Meta.CreateSQLObject(ctx, meta.SQLObject{Kind: kindSource, Name: src.Name, Statement: cs.String(), CreatedMs: time.Now().UnixMilli()}, cs.OrReplace)
	if err != nil {
		if cs.IfNotExists && strings.Contains(err.Error(), "exists") {
			return res.Status(Status{Statement: cs.String(), Message: fmt.Sprintf("%s %s already exists", strings.ToLower(cs.Kind.String()), src.Name)})
		}
		return errorAt(cs, "%s %s already exists", strings.ToLower(cs.Kind.String()), src.Name)
	}
	return res.Status(Status{Statement: cs.String(), Message: fmt.Sprintf("%s %s created", titleCase(cs.Kind.String()), src.Name)})
}

// ensureTopic checks that topic exists, or creates it when the WITH clause
// gives PARTITIONS.
func (e *Engine) ensureTopic(ctx context.Context, topic string, p props) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.cfg.Brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	td, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return err
	}
	if t, ok := td[topic]; ok && t.Err == nil {
		return nil
	}
	lit, ok := p["PARTITIONS"]
	if !ok {
		return fmt.Errorf("topic %s does not exist: create it, or give PARTITIONS in the WITH clause", topic)
	}
	n, err := strconv.Atoi(lit.Text)
	if err != nil || n < 1 {
		return fmt.Errorf("PARTITIONS=%s: want a positive number", lit.Text)
	}
	rf := int16(-1)
	if l, ok := p["REPLICAS"]; ok {
		r, err := strconv.Atoi(l.Text)
		if err != nil || r < 1 {
			return fmt.Errorf("REPLICAS=%s: want a positive number", l.Text)
		}
		rf = int16(r)
	}
	resp, err := adm.CreateTopic(ctx, int32(n), rf, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return nil
}

func titleCase(s string) string { return s[:1] + strings.ToLower(s[1:]) }
