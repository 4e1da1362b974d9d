package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/compute"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strata-log/strata/compute/expr"
	"github.com/strata-log/strata/compute/plan"
	"github.com/strata-log/strata/compute/sql"
)

// insertValues runs INSERT INTO name [(cols)] VALUES (…): it writes one
// record to the stream's or table's topic; columns not listed are NULL.
func (e *Engine) insertValues(ctx context.Context, st *sql.InsertValues, res Result) error {
	cat, err := e.catalog(ctx)
	if err != nil {
		return err
	}
	src, ok := cat[st.Target]
	if !ok {
		return errorAt(st, "%s does not exist", st.Target)
	}
	names := st.Columns
	if names == nil {
		for i := 0; i < src.Schema.Len(); i++ {
			names = append(names, src.Schema.Column(i).Name)
		}
	}
	if len(names) != len(st.Values) {
		return errorAt(st, "%d columns but %d values", len(names), len(st.Values))
	}
	given := map[string]sql.Expr{}
	for i, n := range names {
		if _, ok := src.Schema.Index(n); !ok {
			return errorAt(st, "%s has no column %s", src.Name, n)
		}
		given[n] = st.Values[i]
	}
	// One row of the sink's columns, computed over an empty one-row batch.
	var exprs []expr.Expr
	var fields []arrow.Field
	b := plan.Binder()
	for i := 0; i < src.Schema.Len(); i++ {
		c := src.Schema.Column(i)
		x, err := expr.Literal(nil, expr.Null)
		if v, ok := given[c.Name]; ok {
			x, err = b.Bind(v)
		}
		if err == nil {
			x, err = expr.Cast(x, c.Type.Arrow())
		}
		if err != nil {
			return errorAt(st, "column %s: %v", c.Name, err)
		}
		exprs = append(exprs, x)
		fields = append(fields, arrow.Field{Name: c.Name, Type: c.Type.Arrow(), Nullable: true})
	}
	empty := array.NewRecord(arrow.NewSchema(nil, nil), nil, 1)
	defer empty.Release()
	row, err := expr.Project(compute.WithAllocator(ctx, e.mem), empty, exprs, schemaNames(fields))
	if err != nil {
		return errorAt(st, "%v", err)
	}
	defer row.Release()
	keyEnc, valEnc, err := encoders(src)
	if err != nil {
		return err
	}
	r := &kgo.Record{Topic: src.Topic, Timestamp: time.Now()}
	if keyEnc != nil {
		if r.Key, err = keyEnc.Encode(row, 0, nil); err != nil {
			return errorAt(st, "key: %v", err)
		}
	}
	if r.Value, err = valEnc.Encode(row, 0, nil); err != nil {
		return errorAt(st, "value: %v", err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.cfg.Brokers...), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
		return fmt.Errorf("insert into %s: %w", src.Name, err)
	}
	return res.Status(Status{Statement: st.String(), Message: fmt.Sprintf("1 row inserted into %s", src.Name)})
}

func schemaNames(fields []arrow.Field) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = f.Name
	}
	return out
}
