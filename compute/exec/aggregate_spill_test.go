package exec

import (
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"
)

// TestAggregateSpill runs tumbling and hopping EMIT FINAL aggregations
// with a tiny memory bound: windows spill, and the output is the output of
// an unbounded run.
func TestAggregateSpill(t *testing.T) {
	ms := time.Millisecond
	for _, window := range []WindowSpec{
		{Kind: Tumbling, Size: 10 * ms, Grace: 50 * ms},
		{Kind: Hopping, Size: 20 * ms, Advance: 5 * ms, Grace: 30 * ms},
	} {
		t.Run(window.Kind.String(), func(t *testing.T) {
			ctx, _ := aggTestCtx(t)
			dir := t.TempDir()
			cfg := AggregateConfig{Input: aggTestInput, Keys: []int{aggColK}, Time: aggColTime, Window: window,
				Aggs: aggDiffAggs, Final: true, SpillDir: dir}
			steps := append(aggRandomSteps(rand.New(rand.NewPCG(3, 3)), 60), aggAdvance(1<<40))
			want, _ := aggDiffRun(t, ctx, cfg, steps, 0)

			cfg.MaxMemoryBytes = 4 << 10
			a, sink := aggNew(t, cfg)
			var peak int64
			for i := range steps {
				aggRun(t, ctx, a, steps[i:i+1])
				peak = max(peak, a.memBytes())
				if i == len(steps)/2 {
					if entries, _ := os.ReadDir(dir); len(entries) == 0 {
						t.Error("no spill directory")
					}
				}
			}
			if !slices.Equal(sink.rows, want) {
				t.Errorf("spilling run emitted\n%q\nwant\n%q", sink.rows, want)
			}
			if a.SpilledBytes() == 0 {
				t.Error("nothing spilled")
			}
			if peak > cfg.MaxMemoryBytes {
				t.Errorf("state peaked at %d bytes over the %d bound", peak, cfg.MaxMemoryBytes)
			}
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("spill files left after Close: %v", entries)
			}
		})
	}
}
