package meta_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/strata-log/strata/meta"
	"github.com/strata-log/strata/meta/metatest"
)

// claim creates the partitions' state, as a broker taking leadership
// does: a first manifest needs its partition to exist.
func claim(t *testing.T, s *meta.Store, id [16]byte, partitions ...int32) {
	t.Helper()
	for _, p := range partitions {
		if _, err := s.ClaimLeadership(context.Background(), id, p, 1, []int32{1}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestManifestCommit(t *testing.T) {
	s := metatest.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id := meta.NewTopicID()
	claim(t, s, id, 0)

	m, err := s.Manifest(ctx, id, 0)
	if err != nil || len(m.Segments) != 0 || m.Revision != 0 || m.EndOffset() != 0 {
		t.Fatalf("missing manifest: %+v %v", m, err)
	}
	m.Segments = append(m.Segments, meta.SegmentRef{Object: "o1", FirstOffset: 0, LastOffset: 99, Records: 100, Bytes: 1000})
	got, err := s.CommitManifests(ctx, []meta.ManifestUpdate{{TopicID: id, Partition: 0, Manifest: m}})
	if err != nil || len(got) != 1 || got[0].Revision == 0 {
		t.Fatalf("first commit: %+v %v", got, err)
	}
	// A commit based on the old revision loses.
	stale := m
	stale.Segments = append(stale.Segments, meta.SegmentRef{Object: "o-stale", FirstOffset: 100, LastOffset: 109})
	if _, err := s.CommitManifests(ctx, []meta.ManifestUpdate{{TopicID: id, Partition: 0, Manifest: stale}}); !errors.Is(err, meta.ErrManifestConflict) {
		t.Fatalf("stale commit: %v, want ErrManifestConflict", err)
	}
	cur, err := s.Manifest(ctx, id, 0)
	if err != nil || cur.Revision != got[0].Revision || len(cur.Segments) != 1 || cur.EndOffset() != 100 {
		t.Fatalf("after the stale commit: %+v %v", cur, err)
	}
	// Overlapping or malformed segments are refused before etcd.
	bad := cur
	bad.Segments = append(bad.Segments, meta.SegmentRef{Object: "o2", FirstOffset: 50, LastOffset: 150})
	if _, err := s.CommitManifests(ctx, []meta.ManifestUpdate{{TopicID: id, Partition: 0, Manifest: bad}}); err == nil || errors.Is(err, meta.ErrManifestConflict) {
		t.Fatalf("overlapping segment: %v", err)
	}
}

// TestManifestCommitAtomic checks that a multi-partition commit is all or
// nothing, and that beyond one transaction's capacity it still commits.
func TestManifestCommitAtomic(t *testing.T) {
	s := metatest.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id := meta.NewTopicID()
	claim(t, s, id, 0, 1)
	for p := int32(10); p < 160; p++ {
		claim(t, s, id, p)
	}
	update := func(p int32, m meta.Manifest, obj string) meta.ManifestUpdate {
		m.Segments = append(m.Segments, meta.SegmentRef{Object: obj, FirstOffset: m.EndOffset(), LastOffset: m.EndOffset() + 9})
		return meta.ManifestUpdate{TopicID: id, Partition: p, Manifest: m}
	}
	// Partition 1 moves on behind the uploader's back.
	if _, err := s.CommitManifests(ctx, []meta.ManifestUpdate{update(1, meta.Manifest{}, "other")}); err != nil {
		t.Fatal(err)
	}
	_, err := s.CommitManifests(ctx, []meta.ManifestUpdate{update(0, meta.Manifest{}, "obj"), update(1, meta.Manifest{}, "obj")})
	if !errors.Is(err, meta.ErrManifestConflict) {
		t.Fatalf("commit over a moved partition: %v", err)
	}
	if m, _ := s.Manifest(ctx, id, 0); len(m.Segments) != 0 {
		t.Fatalf("partition 0 committed although partition 1 conflicted: %+v", m)
	}
	// 150 partitions: more than one transaction holds.
	var ups []meta.ManifestUpdate
	for p := int32(10); p < 160; p++ {
		ups = append(ups, update(p, meta.Manifest{}, "big"))
	}
	got, err := s.CommitManifests(ctx, ups)
	if err != nil || len(got) != 150 {
		t.Fatalf("150 partitions: %d committed, %v", len(got), err)
	}
	for p := int32(10); p < 160; p++ {
		if m, err := s.Manifest(ctx, id, p); err != nil || len(m.Segments) != 1 || m.Segments[0].Object != "big" {
			t.Fatalf("partition %d: %+v %v", p, m, err)
		}
	}
}

// TestManifestConcurrentUploaders races uploaders that read, extend and
// commit the same manifest: every success must be kept and none lost.
func TestManifestConcurrentUploaders(t *testing.T) {
	s := metatest.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	id := meta.NewTopicID()
	claim(t, s, id, 0)
	var mu sync.Mutex
	committed := map[string]bool{}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				obj := fmt.Sprintf("w%d-%d", w, i)
				for {
					m, err := s.Manifest(ctx, id, 0)
					if err != nil {
						t.Error(err)
						return
					}
					m.Segments = append(m.Segments, meta.SegmentRef{Object: obj, FirstOffset: m.EndOffset(), LastOffset: m.EndOffset() + 4})
					_, err = s.CommitManifests(ctx, []meta.ManifestUpdate{{TopicID: id, Partition: 0, Manifest: m}})
					if errors.Is(err, meta.ErrManifestConflict) {
						continue
					}
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					committed[obj] = true
					mu.Unlock()
					break
				}
			}
		}()
	}
	wg.Wait()
	m, err := s.Manifest(ctx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Segments) != 40 || len(committed) != 40 || m.EndOffset() != 200 {
		t.Fatalf("%d segments, %d commits, end %d; want 40, 40, 200", len(m.Segments), len(committed), m.EndOffset())
	}
	for _, seg := range m.Segments {
		if !committed[seg.Object] {
			t.Fatalf("manifest names %s, which no uploader saw committed", seg.Object)
		}
	}
}

func TestDeleteTopicDeletesManifests(t *testing.T) {
	s := metatest.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topic, err := s.CreateTopic(ctx, meta.Topic{Name: "tiered", Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	claim(t, s, topic.ID, 0, 1)
	m := meta.Manifest{Segments: []meta.SegmentRef{{Object: "o", FirstOffset: 0, LastOffset: 9}}}
	if _, err := s.CommitManifests(ctx, []meta.ManifestUpdate{{TopicID: topic.ID, Partition: 1, Manifest: m}}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTopic(ctx, "tiered"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Manifest(ctx, topic.ID, 1); err != nil || len(got.Segments) != 0 {
		t.Fatalf("manifest after topic delete: %+v %v", got, err)
	}
	// An uploader that did not see the deletion cannot bring it back.
	if _, err := s.CommitManifests(ctx, []meta.ManifestUpdate{{TopicID: topic.ID, Partition: 0, Manifest: m}}); !errors.Is(err, meta.ErrManifestConflict) {
		t.Fatalf("first manifest of a deleted topic's partition: %v, want a conflict", err)
	}
	if got, err := s.Manifest(ctx, topic.ID, 0); err != nil || got.Revision != 0 {
		t.Fatalf("manifest of a deleted topic: %+v %v", got, err)
	}
}
