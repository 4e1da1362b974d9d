package tiering

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/strata-log/strata/meta"
	"github.com/strata-log/strata/tiering/segment"
)

// Columns makes typed copies of records. When a topic's values are
// declared (a SQL stream or table over it), tiering writes, beside each
// segment object, one object per such topic holding the records of its
// partitions in that segment as typed Parquet columns
// (docs/format/columns.md), and names it in their manifests
// (meta.SegmentRef.Columns): scans of the cold tier then read only the
// columns they need, and do not parse values at all. The SQL engine
// implements it and cmd wires it in; tiering knows nothing of schemas.
type Columns interface {
	// Columns returns the Parquet object holding the typed columns of
	// the records of parts, which all belong to topic, or nil when the
	// topic declares none. An error costs only the copy: the segment is
	// written without it and scans parse its values.
	Columns(ctx context.Context, topic [16]byte, parts []segment.PartitionData) ([]byte, error)
}

// columnsHolder lets SetColumns be called while the loop runs.
type columnsHolder struct{ c Columns }

// SetColumns makes the segments written from now on carry typed columns
// from c (nil: none).
func (t *Tierer) SetColumns(c Columns) { t.columns.Store(&columnsHolder{c}) }

// columnsObject names the typed columns of topic beside segment object
// name: under segments/ like it, so that the collector sees them.
func columnsObject(name string, topic [16]byte) string {
	return strings.TrimSuffix(name, ".parquet") + "." + hex.EncodeToString(topic[:]) + ".columns.parquet"
}

// writeColumns uploads the typed columns of each topic of parts beside
// segment object name, and returns their object names by topic. Failures
// are logged: the segment goes on without them.
func (t *Tierer) writeColumns(ctx context.Context, name string, parts []segment.PartitionData) map[[16]byte]string {
	h := t.columns.Load()
	if h == nil || h.c == nil {
		return nil
	}
	byTopic := map[[16]byte][]segment.PartitionData{}
	var order [][16]byte
	for _, p := range parts {
		if _, ok := byTopic[p.TopicID]; !ok {
			order = append(order, p.TopicID)
		}
		byTopic[p.TopicID] = append(byTopic[p.TopicID], p)
	}
	out := map[[16]byte]string{}
	for _, topic := range order {
		data, err := h.c.Columns(ctx, topic, byTopic[topic])
		if err != nil {
			t.m.columnFailures.Inc()
			t.log.Warn("typed columns not written; cold scans will parse the values", "object", name, "topic", fmt.Sprintf("%x", topic), "err", err)
			continue
		}
		if data == nil {
			continue
		}
		obj := columnsObject(name, topic)
		t.setInflight(obj, true)
		if err := t.upload(ctx, obj, data); err != nil {
			t.setInflight(obj, false)
			t.m.columnFailures.Inc()
			t.log.Warn("typed columns not uploaded; cold scans will parse the values", "object", obj, "err", err)
			continue
		}
		t.m.uploadBytes.Add(float64(len(data)))
		out[topic] = obj
	}
	return out
}

// Segments returns the tiered segments of a partition that hold offsets
// at or after from, in offset order (pages read through), and the
// partition's manifest, read from etcd now: a scan on any broker sees
// what the partition's leader last committed.
func (t *Tierer) Segments(ctx context.Context, topic [16]byte, partition int32, from int64) ([]meta.SegmentRef, meta.Manifest, error) {
	m, err := t.store.Manifest(ctx, topic, partition)
	if err != nil {
		return nil, m, err
	}
	var out []meta.SegmentRef
	err = t.walk(ctx, m.Segments, max(from, m.LogStart), nil, func(s *meta.SegmentRef) error {
		out = append(out, *s)
		return nil
	})
	return out, m, err
}
