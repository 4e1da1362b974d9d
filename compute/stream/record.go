package stream

import (
	"fmt"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/strata-log/strata/compute/schema"
)

// Record is a row of a stream as a Kafka record: its key and value columns
// encoded in the stream's formats (for Raw streams, the bytes as they
// came), ROWTIME as Time, and the partition and offset of the source
// record it comes from.
type Record struct {
	Key, Value []byte
	Time       time.Time
	Partition  int32
	Offset     int64
}

// Map returns the stream of fn's records, one for each row of s for which
// fn returns true, decoded back into s's columns (keys first) in s's
// formats. A record whose Time is zero keeps its input's. A record that
// does not decode is skipped and logged.
func (s Stream) Map(fn func(Record) (Record, bool)) Stream {
	return s.derive("Map", func() (*node, []*node, error) {
		n := s.n.next(kMap)
		n.mapRow = fn
		sc, err := s.n.sourceSchema()
		if err != nil {
			return nil, nil, err
		}
		n.schema = sc.Arrow()
		return n, []*node{s.n}, nil
	})
}

// Filter returns the rows of s for which fn returns true.
func (s Stream) Filter(fn func(Record) bool) Stream {
	return s.derive("Filter", func() (*node, []*node, error) {
		n := s.n.next(kFilter)
		n.filter = fn
		return n, []*node{s.n}, nil
	})
}

// rowCodec encodes the rows of a stream's batches as Records.
type rowCodec struct {
	key, value *schema.Encoder // key nil without key columns
}

func newRowCodec(sh *node) (*rowCodec, error) {
	sc, err := sh.sourceSchema()
	if err != nil {
		return nil, err
	}
	c := &rowCodec{}
	if sc.NumKeys() > 0 {
		if c.key, err = schema.NewEncoder(sc.Keys(), sh.key); err != nil {
			return nil, err
		}
	}
	if c.value, err = schema.NewEncoder(sc.Values(), sh.value); err != nil {
		return nil, err
	}
	return c, nil
}

// each calls fn with each row of rec as a Record.
func (c *rowCodec) each(rec arrow.Record, fn func(Record) error) error {
	ts, ok1 := rec.Column(schema.RowTimeIndex).(*array.Timestamp)
	part, ok2 := rec.Column(schema.RowPartitionIndex).(*array.Int32)
	off, ok3 := rec.Column(schema.RowOffsetIndex).(*array.Int64)
	if !ok1 || !ok2 || !ok3 {
		return fmt.Errorf("stream: batch %s does not start with the pseudo columns", rec.Schema())
	}
	for i := 0; i < int(rec.NumRows()); i++ {
		var r Record
		var err error
		if c.key != nil {
			if r.Key, err = c.key.Encode(rec, i, nil); err != nil {
				return err
			}
		}
		if r.Value, err = c.value.Encode(rec, i, nil); err != nil {
			return err
		}
		if ts.IsValid(i) {
			r.Time = time.UnixMilli(int64(ts.Value(i)))
		}
		r.Partition, r.Offset = part.Value(i), off.Value(i)
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}
