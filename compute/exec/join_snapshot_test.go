package exec

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestJoinSnapshotRestore interrupts runs with a snapshot, a new join and a
// Restore, and checks that they emit exactly what uninterrupted runs emit.
func TestJoinSnapshotRestore(t *testing.T) {
	for _, k := range []joinKind{joinStreamStream, joinStreamTable, joinTableTable} {
		t.Run([]string{"", "StreamStream", "StreamTable", "TableTable"}[k], func(t *testing.T) {
			for seed := range uint64(40) {
				t.Run(fmt.Sprint(seed), func(t *testing.T) {
					rng := rand.New(rand.NewPCG(seed, 100+uint64(k)))
					cfg, _ := joinCase(rng, k)
					g := &joinGen{rng: rng, tables: k.tables(), keys: 1 + rng.IntN(8), disorder: rng.IntN(30), now: 1000}
					ops := g.ops(20 + rng.IntN(40))

					sink := &joinSink{t: t}
					j := joinNew(t, k, cfg, sink, joinCompactMin)
					want := joinRunOps(t, j, &cfg, sink, ops, 0)
					j.Close()

					cuts := []int{rng.IntN(len(ops)), rng.IntN(len(ops))}
					slices.Sort(cuts)
					sink = &joinSink{t: t}
					j = joinNew(t, k, cfg, sink, []int{1, joinCompactMin}[rng.IntN(2)])
					var got []string
					from := 0
					for _, cut := range append(cuts, len(ops)) {
						got = append(got, joinRunOps(t, j, &cfg, sink, ops[from:cut], from)...)
						from = cut
						if cut == len(ops) {
							break
						}
						var buf bytes.Buffer
						ctx, _ := joinTestCtx(t)
						if err := j.Snapshot(ctx, &buf); err != nil {
							t.Fatal(err)
						}
						late := joinLate(j)
						j.Close()
						j = joinNew(t, k, cfg, sink, joinCompactMin)
						if err := j.Restore(ctx, &buf); err != nil {
							t.Fatal(err)
						}
						if buf.Len() != 0 {
							t.Fatalf("Restore left %d bytes", buf.Len())
						}
						if got := joinLate(j); got != late {
							t.Errorf("LateRecords() = %d after Restore, want %d", got, late)
						}
					}
					j.Close()
					if strings.Join(got, "\n") != strings.Join(want, "\n") {
						t.Errorf("cut at %v:\ngot\n  %s\nwant\n  %s", cuts, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
					}
				})
			}
		})
	}
}

func joinLate(j joinPorts) int64 {
	if ss, ok := j.(*StreamStreamJoin); ok {
		return ss.LateRecords()
	}
	return 0
}

func TestJoinRestoreErrors(t *testing.T) {
	ctx, mem := joinTestCtx(t)
	cfg := joinTestConfig(InnerJoin, false, true, false)
	sink := &joinSink{t: t, cols: joinLabelCols}
	st := joinNew(t, joinStreamTable, cfg, sink, joinCompactMin)
	defer st.Close()
	joinRunSteps(t, ctx, mem, st, &cfg, sink, []joinStep{jStep(jR(jrt(1, 1, "t", false)))})
	var good bytes.Buffer
	if err := st.Snapshot(ctx, &good); err != nil {
		t.Fatal(err)
	}
	ssCfg := joinTestConfig(InnerJoin, false, false, false)
	ss := joinNew(t, joinStreamStream, ssCfg, &joinSink{t: t}, joinCompactMin)
	defer ss.Close()
	otherSchema := joinTestConfig(InnerJoin, false, true, false)
	otherSchema.Right = joinTestSchema(false, true)
	otherSchema.RightPrefix = "C_"
	st2 := joinNew(t, joinStreamTable, otherSchema, &joinSink{t: t}, joinCompactMin)
	defer st2.Close()
	version := bytes.Clone(good.Bytes())
	version[4]++
	for _, c := range []struct {
		name string
		j    joinPorts
		data []byte
	}{
		{"empty", st, nil},
		{"garbage", st, []byte("not a snapshot at all, clearly")},
		{"version", st, version},
		{"truncated", st, good.Bytes()[:good.Len()-10]},
		{"other kind", ss, good.Bytes()},
		{"other schema", st2, good.Bytes()},
	} {
		if err := c.j.Restore(ctx, bytes.NewReader(c.data)); !errors.Is(err, ErrJoinSnapshot) {
			t.Errorf("%s: err = %v, want ErrJoinSnapshot", c.name, err)
		}
	}
	// The failed restores left the state as it was.
	joinRunSteps(t, ctx, mem, st, &cfg, sink, []joinStep{jStep(jL(jls(2, 1, "s")), "2 0 0 s t")})
}
