package tiering

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"

	"github.com/strata-log/strata/meta"
)

// Manifest pages keep a partition's etcd manifest bounded under infinite
// retention. A manifest is a list of refs in offset order; a ref of level
// 0 names a segment, a ref of level n > 0 names a page: a JSON object in
// the bucket under pages/ holding refs of levels below n (format in
// docs/format/manifest.md). When a partition has more than maxRefs refs,
// the oldest run of pageFanout refs of one level folds into one ref of the
// next level, like the digits of a counter: a manifest holds at most about
// pageFanout refs per level, and levels grow with the logarithm of the
// history. On topics with retention the first pageFanout refs never fold,
// and retention unfolds the first ref when it is a page it would cut
// through, so that data expires segment by segment and folding and
// unfolding never undo each other.

const (
	maxRefs    = 256 // refs in a manifest before it folds
	pageFanout = 128 // refs folded into one page
	pagePrefix = "pages/"
	pageFormat = 1
)

// page is the JSON body of a page object.
type page struct {
	Version int               `json:"version"`
	Refs    []meta.SegmentRef `json:"refs"`
}

// pageCache keeps pages read from the bucket; they are immutable.
type pageCache struct {
	mu    sync.Mutex
	pages map[string][]meta.SegmentRef
}

// loadPage returns the refs of the page ref p names.
func (t *Tierer) loadPage(ctx context.Context, p *meta.SegmentRef) ([]meta.SegmentRef, error) {
	t.pages.mu.Lock()
	refs, ok := t.pages.pages[p.Object]
	t.pages.mu.Unlock()
	if ok {
		return refs, nil
	}
	rc, err := t.bucket.Get(ctx, p.Object)
	if err != nil {
		return nil, fmt.Errorf("manifest page %s: %w", p.Object, err)
	}
	defer rc.Close()
	raw, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("manifest page %s: %w", p.Object, err)
	}
	var pg page
	if err := json.Unmarshal(raw, &pg); err != nil || pg.Version != pageFormat {
		return nil, fmt.Errorf("manifest page %s: not a version %d page (%v)", p.Object, pageFormat, err)
	}
	t.pages.mu.Lock()
	if t.pages.pages == nil || len(t.pages.pages) >= 4*maxRefs {
		t.pages.pages = map[string][]meta.SegmentRef{} // crude bound: pages are re-read rarely
	}
	t.pages.pages[p.Object] = pg.Refs
	t.pages.mu.Unlock()
	return pg.Refs, nil
}

// errStop ends a walk early without an error.
var errStop = errors.New("stop walking")

// walk calls fn with every segment (level-0 ref) at or after offset from,
// in offset order, descending into pages; skip, if not nil, prunes refs
// (pages or segments) that cannot matter. fn returns errStop to end the
// walk.
func (t *Tierer) walk(ctx context.Context, refs []meta.SegmentRef, from int64, skip func(*meta.SegmentRef) bool, fn func(*meta.SegmentRef) error) error {
	i := sort.Search(len(refs), func(i int) bool { return refs[i].LastOffset >= from })
	for ; i < len(refs); i++ {
		r := &refs[i]
		if skip != nil && skip(r) {
			continue
		}
		if r.Level == 0 {
			if err := fn(r); err != nil {
				return err
			}
			continue
		}
		children, err := t.loadPage(ctx, r)
		if err != nil {
			return err
		}
		if err := t.walk(ctx, children, from, skip, fn); err != nil {
			return err
		}
	}
	return nil
}

// foldRun returns the first run of pageFanout adjacent refs of one level
// starting at or after index from, if refs has more than maxRefs.
func foldRun(refs []meta.SegmentRef, from int) (int, bool) {
	if len(refs) <= maxRefs {
		return 0, false
	}
	for i := from; i+pageFanout <= len(refs); {
		j := i + 1
		for j < len(refs) && j-i < pageFanout && refs[j].Level == refs[i].Level {
			j++
		}
		if j-i == pageFanout {
			return i, true
		}
		i = j
	}
	return 0, false
}

// fold moves refs [i, i+pageFanout) of the manifest into a new page
// object and returns the manifest with one page ref in their place.
func (t *Tierer) fold(ctx context.Context, id PartitionID, m *meta.Manifest, i int) (*meta.Manifest, error) {
	run := m.Segments[i : i+pageFanout]
	raw, err := json.Marshal(page{Version: pageFormat, Refs: run})
	if err != nil {
		return nil, err
	}
	ref := meta.SegmentRef{
		Object: newObjectName(fmt.Sprintf("%s%x/%d/", pagePrefix, id.Topic, id.Partition), ".json", t.now()),
		Level:  run[0].Level + 1, FirstOffset: run[0].FirstOffset, LastOffset: run[len(run)-1].LastOffset,
		MinTimestamp: run[0].MinTimestamp, MaxTimestamp: run[0].MaxTimestamp,
	}
	for _, r := range run {
		ref.MinTimestamp = min(ref.MinTimestamp, r.MinTimestamp)
		ref.MaxTimestamp = max(ref.MaxTimestamp, r.MaxTimestamp)
		ref.Records += r.Records
		ref.Bytes += r.Bytes
	}
	t.setInflight(ref.Object, true)
	if err := t.upload(ctx, ref.Object, raw); err != nil {
		t.setInflight(ref.Object, false)
		return nil, err
	}
	nm := *m
	nm.Segments = slices.Concat(m.Segments[:i], []meta.SegmentRef{ref}, m.Segments[i+pageFanout:])
	return &nm, nil
}

// unfold replaces the manifest's first ref, a page, by the refs it holds.
func (t *Tierer) unfold(ctx context.Context, m *meta.Manifest) (*meta.Manifest, error) {
	children, err := t.loadPage(ctx, &m.Segments[0])
	if err != nil {
		return nil, err
	}
	nm := *m
	nm.Segments = slices.Concat(children, m.Segments[1:])
	return &nm, nil
}

// liveObjects adds to live every object the refs name, pages and what
// they name included.
func (t *Tierer) liveObjects(ctx context.Context, refs []meta.SegmentRef, live map[string]bool) error {
	for i := range refs {
		r := &refs[i]
		live[r.Object] = true
		if r.Columns != "" {
			live[r.Columns] = true
		}
		if r.Level == 0 {
			continue
		}
		children, err := t.loadPage(ctx, r)
		if err != nil {
			return err
		}
		if err := t.liveObjects(ctx, children, live); err != nil {
			return err
		}
	}
	return nil
}
