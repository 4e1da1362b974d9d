package exec

import (
	"fmt"
	"testing"
)

func TestStreamTableJoin(t *testing.T) {
	cases := []struct {
		name  string
		typ   JoinType
		steps []joinStep
	}{{
		name: "inner", typ: InnerJoin,
		steps: []joinStep{
			jStep(jL(jls(1, 1, "s0"))),
			jStep(jR(jrt(2, 1, "t1", false), jrt(2, 2, "t2", nil))),
			jStep(jL(jls(10, 1, "s1"), jls(11, 2, "s2"), jls(12, 3, "s3")), "10 0 1 s1 t1", "11 0 2 s2 t2"),
			jStep(jR(jrt(13, 1, "t1b", false), jrt(13, 2, nil, true))),
			jStep(jL(jls(14, 1, "s4"), jls(15, 2, "s5")), "14 0 4 s4 t1b"),
			jStep(jR(jrt(16, 2, "t2c", false), jrt(16, 1, nil, true), jrt(16, 2, "t2d", false))),
			jStep(jL(jls(17, 1, "s6"), jls(18, 2, "s7"), jls(19, nil, "s8")), "18 0 7 s7 t2d"),
			jStep(jR(jrt(20, nil, "tnull", false))),
			jStep(jL(jls(21, nil, "s9"))),
			jStep(jAdv(1000)),
		},
	}, {
		name: "left", typ: LeftJoin,
		steps: []joinStep{
			jStep(jL(jls(1, 1, "s0")), "1 0 0 s0 NULL"),
			jStep(jR(jrt(2, 1, "t1", false))),
			jStep(jL(jls(10, 1, "s1"), jls(11, 2, "s2"), jls(12, nil, "s3")), "10 0 1 s1 t1", "11 0 2 s2 NULL", "12 0 3 s3 NULL"),
			jStep(jR(jrt(13, 1, nil, true), jrt(13, 3, "t3", false))),
			jStep(jL(jls(14, 1, "s4"), jls(15, 3, "s5")), "14 0 4 s4 NULL", "15 0 5 s5 t3"),
			jStep(jR(jrt(16, 3, nil, true), jrt(16, 3, nil, true))), // deleting twice
			jStep(jL(jls(17, 3, "s6")), "17 0 6 s6 NULL"),
		},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, mem := joinTestCtx(t)
			cfg := joinTestConfig(c.typ, false, true, false)
			sink := &joinSink{t: t, cols: joinLabelCols}
			j, err := NewStreamTableJoin(cfg, sink.emit)
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			sink.schema = j.Schema()
			joinRunSteps(t, ctx, mem, j, &cfg, sink, c.steps)
		})
	}
}

// Rows print as "ROWTIME ROWPARTITION ROWOFFSET A_K2 B_K2 __DELETED".
func TestTableTableJoin(t *testing.T) {
	cases := []struct {
		name  string
		typ   JoinType
		steps []joinStep
	}{{
		name: "inner", typ: InnerJoin,
		steps: []joinStep{
			jStep(jL(jlt(1, 1, "a", false))),
			jStep(jR(jrt(2, 1, "x", false)), "2 1 0 a x false"),
			jStep(jL(jlt(3, 1, "a2", nil)), "3 0 1 a2 x false"),
			jStep(jR(jrt(4, 1, "x2", false), jrt(1, 1, "x3", false)), "4 1 1 a2 x2 false", "3 1 2 a2 x3 false"),
			jStep(jL(jlt(5, 1, nil, true)), "5 0 2 NULL NULL true"),
			jStep(jR(jrt(6, 1, nil, true))),
			jStep(jL(jlt(7, 2, "b", false), jlt(7, nil, "n", false))),
			jStep(jR(jrt(8, 2, nil, true), jrt(8, 3, nil, true), jrt(8, nil, "n", false))),
			jStep(jAdv(1000)),
		},
	}, {
		name: "left", typ: LeftJoin,
		steps: []joinStep{
			jStep(jL(jlt(1, 1, "a", false)), "1 0 0 a NULL false"),
			jStep(jR(jrt(2, 1, "x", false)), "2 1 0 a x false"),
			jStep(jR(jrt(3, 1, nil, true)), "3 1 1 a NULL false"),
			jStep(jL(jlt(4, 1, nil, true)), "4 0 1 NULL NULL true"),
			jStep(jR(jrt(5, 2, "y", false))),
			jStep(jL(jlt(6, 2, "b", false), jlt(7, 2, "b2", false)), "6 0 2 b y false", "7 0 3 b2 y false"),
			jStep(jR(jrt(8, 2, nil, true), jrt(9, 2, "y2", false)), "8 1 3 b2 NULL false", "9 1 4 b2 y2 false"),
		},
	}, {
		name: "right", typ: RightJoin,
		steps: []joinStep{
			jStep(jL(jlt(1, 1, "a", false))),
			jStep(jR(jrt(2, 1, "x", false), jrt(2, 2, "y", false)), "2 1 0 a x false", "2 1 1 NULL y false"),
			jStep(jL(jlt(3, 1, nil, true)), "3 0 1 NULL x false"),
			jStep(jR(jrt(4, 1, nil, true)), "4 1 2 NULL NULL true"),
			jStep(jL(jlt(5, 2, nil, true))),
		},
	}, {
		name: "full outer", typ: FullOuterJoin,
		steps: []joinStep{
			jStep(jL(jlt(1, 1, "a", false)), "1 0 0 a NULL false"),
			jStep(jR(jrt(2, 1, "x", false)), "2 1 0 a x false"),
			jStep(jL(jlt(3, 1, nil, true)), "3 0 1 NULL x false"),
			jStep(jR(jrt(4, 1, nil, true)), "4 1 1 NULL NULL true"),
			jStep(jR(jrt(5, 1, nil, true))),
			jStep(jL(jlt(6, 2, "b", false), jlt(6, 2, nil, true)), "6 0 2 b NULL false", "6 0 3 NULL NULL true"),
		},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, mem := joinTestCtx(t)
			cfg := joinTestConfig(c.typ, true, true, false)
			sink := &joinSink{t: t, cols: append(joinLabelCols[:len(joinLabelCols):len(joinLabelCols)], Deleted)}
			j, err := NewTableTableJoin(cfg, sink.emit)
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			sink.schema = j.Schema()
			joinRunSteps(t, ctx, mem, j, &cfg, sink, c.steps)
		})
	}
}

// TestJoinCompaction checks that a table updated many times does not keep
// its old batches.
func TestJoinCompaction(t *testing.T) {
	ctx, mem := joinTestCtx(t)
	cfg := joinTestConfig(InnerJoin, false, true, false)
	sink := &joinSink{t: t, cols: joinLabelCols}
	j, err := NewStreamTableJoin(cfg, sink.emit)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	j.table.store.compactMin = 8
	// Batch i updates keys 0-9, replaced by the next batch, and key
	// 100+i%5, replaced five batches later: without compaction the last
	// five batches would stay, 40 of their 55 rows dead.
	var steps []joinStep
	for i := range 100 {
		var rows []jrow
		for k := range 10 {
			rows = append(rows, jrt(int64(i), k, fmt.Sprint(i), false))
		}
		steps = append(steps, jStep(jR(append(rows, jrt(int64(i), 100+i%5, fmt.Sprint(i), false))...)))
	}
	steps = append(steps, jStep(jL(jls(1000, 5, "s"), jls(1000, 101, "s")), "1000 0 0 s 99", "1000 0 1 s 96"))
	joinRunSteps(t, ctx, mem, j, &cfg, sink, steps)
	st := &j.table.store
	if dead := st.nRetained - st.nLive; st.nLive != 15 || dead > max(8, st.nLive) {
		t.Errorf("%d live rows in %d retained", st.nLive, st.nRetained)
	}
}
