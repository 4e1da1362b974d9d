package exec

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/compute"
	"github.com/apache/arrow/go/v17/arrow/ipc"
)

// TestAggregateSnapshotRestore runs half the input, snapshots, restores
// into a new operator and runs the rest: the output must be exactly the
// output of an uninterrupted run.
func TestAggregateSnapshotRestore(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		name      string
		window    WindowSpec
		final     bool
		maxMemory int64
	}{
		{"no window", WindowSpec{}, false, 0},
		{"tumbling final", WindowSpec{Kind: Tumbling, Size: 10 * ms, Grace: 5 * ms}, true, 0},
		{"tumbling final spilled", WindowSpec{Kind: Tumbling, Size: 10 * ms, Grace: 40 * ms}, true, 1},
		{"hopping changes", WindowSpec{Kind: Hopping, Size: 12 * ms, Advance: 4 * ms, Grace: 3 * ms}, false, 0},
		{"hopping final", WindowSpec{Kind: Hopping, Size: 12 * ms, Advance: 4 * ms, Grace: 3 * ms}, true, 0},
		{"session changes", WindowSpec{Kind: Session, Gap: 4 * ms, Grace: 2 * ms}, false, 0},
		{"session final", WindowSpec{Kind: Session, Gap: 4 * ms, Grace: 2 * ms}, true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, _ := aggTestCtx(t)
			cfg := AggregateConfig{Input: aggTestInput, Keys: []int{aggColK}, Time: aggColTime, Window: tc.window,
				Aggs: aggDiffAggs, Final: tc.final, MaxMemoryBytes: tc.maxMemory, SpillDir: t.TempDir()}
			steps := append(aggRandomSteps(rand.New(rand.NewPCG(7, 7)), 40), aggAdvance(1<<40))
			whole, a := aggDiffRun(t, ctx, cfg, steps, 0)
			halves, b := aggDiffRun(t, ctx, cfg, steps, len(steps)/2)
			if len(whole) == 0 || !slices.Equal(whole, halves) {
				t.Errorf("restored run emitted\n%q\nuninterrupted\n%q", halves, whole)
			}
			if a.LateRecords() != b.LateRecords() || a.NullKeyRecords() != b.NullKeyRecords() ||
				a.InvalidTimeRecords() != b.InvalidTimeRecords() || a.seq != b.seq {
				t.Errorf("counters differ after restore")
			}
			if tc.maxMemory > 0 && b.SpilledBytes() <= a.SpilledBytes()/2 {
				t.Errorf("spilled %d bytes, uninterrupted %d", b.SpilledBytes(), a.SpilledBytes())
			}
		})
	}
}

func TestAggregateRestoreRejects(t *testing.T) {
	ctx, mem := aggTestCtx(t)
	cfg := AggregateConfig{Input: aggTestInput, Keys: []int{aggColK}, Time: aggColTime,
		Window: WindowSpec{Kind: Tumbling, Size: time.Second}, Aggs: []AggFunc{aggStar("C")}}
	a, _ := aggNew(t, cfg)
	rec := aggRecord(mem, 0, []aggRow{{T: 1, K: "a"}})
	defer rec.Release()
	if err := a.Push(ctx, rec); err != nil {
		t.Fatal(err)
	}
	var snap bytes.Buffer
	if err := a.Snapshot(ctx, &snap); err != nil {
		t.Fatal(err)
	}
	for name, modify := range map[string]func(*AggregateConfig){
		"other window":     func(c *AggregateConfig) { c.Window.Size = 2 * time.Second },
		"other emit":       func(c *AggregateConfig) { c.Final = true },
		"other aggregates": func(c *AggregateConfig) { c.Aggs = []AggFunc{aggOf("SUM", aggColV)} },
	} {
		t.Run(name, func(t *testing.T) {
			other := cfg
			modify(&other)
			b, _ := aggNew(t, other)
			if err := b.Restore(ctx, bytes.NewReader(snap.Bytes())); !errors.Is(err, ErrAggregateSnapshot) {
				t.Errorf("restore error %v, want ErrAggregateSnapshot", err)
			}
		})
	}
	t.Run("garbage", func(t *testing.T) {
		b, _ := aggNew(t, cfg)
		if err := b.Restore(ctx, bytes.NewReader([]byte("not a snapshot"))); !errors.Is(err, ErrAggregateSnapshot) {
			t.Errorf("restore error %v, want ErrAggregateSnapshot", err)
		}
	})
}

// aggRewriteVersion returns snap with its version metadata set to v.
func aggRewriteVersion(t *testing.T, ctx context.Context, snap []byte, v string) []byte {
	t.Helper()
	rdr, err := ipc.NewReader(bytes.NewReader(snap), ipc.WithAllocator(compute.GetAllocator(ctx)))
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	md := rdr.Schema().Metadata()
	keys, vals := slices.Clone(md.Keys()), slices.Clone(md.Values())
	vals[md.FindKey(aggMetaVersion)] = v
	md = arrow.NewMetadata(keys, vals)
	var out bytes.Buffer
	w := ipc.NewWriter(&out, ipc.WithSchema(arrow.NewSchema(rdr.Schema().Fields(), &md)), ipc.WithAllocator(compute.GetAllocator(ctx)))
	for rdr.Next() {
		if err := w.Write(rdr.Record()); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestAggregateRestoreVersion1 restores a version 1 snapshot of a stream
// aggregation, whose format version 2 keeps; tables need version 2.
func TestAggregateRestoreVersion1(t *testing.T) {
	ctx, mem := aggTestCtx(t)
	cfg := AggregateConfig{Input: aggTestInput, Keys: []int{aggColK}, Aggs: []AggFunc{aggStar("C")}}
	a, _ := aggNew(t, cfg)
	rec := aggRecord(mem, 0, []aggRow{{K: "a"}, {K: "a"}})
	defer rec.Release()
	if err := a.Push(ctx, rec); err != nil {
		t.Fatal(err)
	}
	var snap bytes.Buffer
	if err := a.Snapshot(ctx, &snap); err != nil {
		t.Fatal(err)
	}
	b, sink := aggNew(t, cfg)
	if err := b.Restore(ctx, bytes.NewReader(aggRewriteVersion(t, ctx, snap.Bytes(), "1"))); err != nil {
		t.Fatal(err)
	}
	if err := b.Push(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if want := []string{"a|4"}; !slices.Equal(sink.rows, want) {
		t.Errorf("emitted %q, want %q", sink.rows, want)
	}

	table := aggTableConfig(aggStar("C"))
	c, _ := aggNew(t, table)
	trec := aggTableRecord(mem, 0, []aggTRow{{ID: "a", K: "x"}})
	defer trec.Release()
	if err := c.Push(ctx, trec); err != nil {
		t.Fatal(err)
	}
	snap.Reset()
	if err := c.Snapshot(ctx, &snap); err != nil {
		t.Fatal(err)
	}
	d, _ := aggNew(t, table)
	if err := d.Restore(ctx, bytes.NewReader(aggRewriteVersion(t, ctx, snap.Bytes(), "1"))); !errors.Is(err, ErrAggregateSnapshot) {
		t.Errorf("restore of a version 1 table snapshot: error %v, want ErrAggregateSnapshot", err)
	}
}
