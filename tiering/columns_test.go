package tiering

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-log/strata/meta"
	"github.com/strata-log/strata/tiering/segment"
)

// fakeColumns writes, for topic 1 only, an object listing each part's
// partition and batch count; it fails for topic 3.
type fakeColumns struct {
	mu    sync.Mutex
	calls []string
}

func (c *fakeColumns) Columns(_ context.Context, topic [16]byte, parts []segment.PartitionData) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for _, p := range parts {
		if p.TopicID != topic {
			return nil, fmt.Errorf("part of topic %x given for topic %x", p.TopicID, topic)
		}
		fmt.Fprintf(&b, "p%d:%d ", p.Partition, len(p.Batches))
	}
	c.calls = append(c.calls, fmt.Sprintf("%x:%s", topic[0], b.String()))
	switch topic[0] {
	case 1:
		return []byte(b.String()), nil
	case 3:
		return nil, errors.New("no catalog")
	}
	return nil, nil
}

// TestTypedColumnsBesideSegments: a round writes one typed object per
// topic that has columns, names it in that topic's refs only, survives a
// failing Columns, keeps the object while a manifest names it (merges
// write new ones) and collects it after.
func TestTypedColumnsBesideSegments(t *testing.T) {
	cfg := map[string]string{meta.ConfigSegmentBytes: "1000000"}
	typed0, typed1 := newTestLog(1, 0, cfg), newTestLog(1, 1, cfg)
	plain, failing := newTestLog(2, 0, cfg), newTestLog(3, 0, cfg)
	logs := []*testLog{typed0, typed1, plain, failing}
	f := newFixture(t, Config{}, logs...)
	cols := &fakeColumns{}
	f.tierer.SetColumns(cols)
	now := time.Now()
	const rounds = mergeMinRun + 1
	for r := range rounds {
		for _, l := range logs {
			l.append(t, 5, now.UnixMilli()+int64(r), now)
		}
		f.round(true)
	}
	for _, l := range logs {
		m := f.tierer.manifest(l.id)
		for _, s := range m.Segments {
			want := ""
			if l.id.Topic[0] == 1 {
				want = columnsObject(s.Object, l.id.Topic)
			}
			if s.Columns != want {
				t.Fatalf("%s: segment %s names columns %q, want %q", l.id, s.Object, s.Columns, want)
			}
			if want == "" {
				continue
			}
			rc, err := f.bucket.Get(f.ctx, want)
			if err != nil {
				t.Fatalf("%s: %v", want, err)
			}
			body, _ := io.ReadAll(rc)
			rc.Close()
			if string(body) != "p0:1 p1:1 " {
				t.Fatalf("%s holds %q, want both partitions of topic 1 in one object", want, body)
			}
		}
	}
	if n := len(cols.calls); n != 3*rounds {
		t.Fatalf("Columns called %d times, want once per topic per round (%d): %q", n, 3*rounds, cols.calls)
	}

	// A merge rewrites the segments, with new typed objects; the old ones
	// are garbage with their segments.
	before := f.objects()
	if did, err := f.tierer.maintain(f.ctx); err != nil || !did {
		t.Fatalf("maintain = %v, %v; want a merge", did, err)
	}
	m := f.tierer.manifest(typed0.id)
	if len(m.Segments) != 1 || m.Segments[0].Columns == "" || slices.Contains(before, m.Segments[0].Columns) {
		t.Fatalf("after the merge: %+v, want one segment with new typed columns", m.Segments)
	}
	if n, err := f.tierer.CollectGarbage(f.ctx); err != nil || n != 0 {
		t.Fatalf("collected %d young objects, %v", n, err)
	}
	f.clock = time.Now().Add(time.Hour)
	n, err := f.tierer.CollectGarbage(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 * rounds; n != want {
		t.Fatalf("collected %d objects, want the %d merged segments and their typed columns", n, want)
	}
	for _, o := range f.objects() {
		if o != m.Segments[0].Object && o != m.Segments[0].Columns {
			t.Errorf("object %s left after the collection", o)
		}
	}
	segs, man, err := f.tierer.Segments(f.ctx, typed0.id.Topic, typed0.id.Partition, 3)
	if err != nil || len(segs) != 1 || segs[0].Columns != m.Segments[0].Columns || man.EndOffset() != 5*rounds {
		t.Fatalf("Segments = %+v, end %d, %v", segs, man.EndOffset(), err)
	}
}
