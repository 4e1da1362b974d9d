package stream

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// A checkpoint is one file per topology in StateDir, topology-<n>.state
// (n counts the topologies in the order their first streams were built),
// replaced atomically (written aside, synced, renamed):
//
//	checkpointMagic
//	uvarint length, then a JSON checkpointHeader
//	each operator's snapshot, as long as the header says, in its order
//
// It is written between two batches, so that the positions and the state
// agree: a restarted topology neither loses nor repeats a row of its
// inputs (rows emitted after the last checkpoint are emitted again after a
// crash; a stop checkpoints first).
const checkpointMagic = "STRATA-STREAM-CHECKPOINT-1\n"

// checkpointHeader describes a checkpoint.
type checkpointHeader struct {
	// Sources are the topics of the topology's sources, in order; State
	// says which operator each snapshot is of. A checkpoint restores only
	// into a topology with the same of both.
	Sources []string `json:"sources"`
	State   []string `json:"state"`
	// Offsets are, for each source, the next offset of each partition.
	Offsets []map[int32]int64 `json:"offsets"`
	Sizes   []int             `json:"sizes"`
	Written time.Time         `json:"written"`
}

func (t *topology) checkpointPath() string {
	return filepath.Join(t.cfg.StateDir, fmt.Sprintf("topology-%d.state", t.idx))
}

func (t *topology) sourceTopics() []string {
	var out []string
	for _, s := range t.sources {
		out = append(out, s.src.Topic)
	}
	return out
}

// commit writes t's checkpoint, if there is a StateDir and the positions
// moved since the last one.
func (t *topology) commit(ctx context.Context) error {
	if t.cfg.StateDir == "" || !t.dirty {
		return nil
	}
	h := checkpointHeader{Sources: t.sourceTopics(), State: t.stateDesc, Offsets: t.positions, Written: time.Now().UTC()}
	var snaps bytes.Buffer
	for i, st := range t.state {
		n := snaps.Len()
		if err := st.Snapshot(ctx, &snaps); err != nil {
			return fmt.Errorf("checkpoint: operator %d: %w", i, err)
		}
		h.Sizes = append(h.Sizes, snaps.Len()-n)
	}
	hdr, err := json.Marshal(h)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	buf.WriteString(checkpointMagic)
	buf.Write(binary.AppendUvarint(nil, uint64(len(hdr))))
	buf.Write(hdr)
	buf.Write(snaps.Bytes())
	if err := writeFileAtomic(t.checkpointPath(), buf.Bytes()); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	t.lastCommit, t.dirty = time.Now(), false
	return nil
}

// restore loads t's checkpoint, if there is one.
func (t *topology) restore(ctx context.Context) error {
	if t.cfg.StateDir == "" {
		return nil
	}
	path := t.checkpointPath()
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("stream: checkpoint %s: %s", path, fmt.Sprintf(format, args...))
	}
	r := bufio.NewReader(bytes.NewReader(data))
	magic := make([]byte, len(checkpointMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != checkpointMagic {
		return bad("not a checkpoint")
	}
	n, err := binary.ReadUvarint(r)
	if err != nil || n > uint64(len(data)) {
		return bad("truncated")
	}
	hdr := make([]byte, n)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return bad("truncated")
	}
	var h checkpointHeader
	if err := json.Unmarshal(hdr, &h); err != nil {
		return bad("%v", err)
	}
	if !slices.Equal(h.Sources, t.sourceTopics()) || !slices.Equal(h.State, t.stateDesc) ||
		len(h.Offsets) != len(t.sources) || len(h.Sizes) != len(t.state) {
		return bad("it is of another topology (sources %q, state of %q; this one reads %q, state of %q): delete it to start over",
			h.Sources, h.State, t.sourceTopics(), t.stateDesc)
	}
	for i, st := range t.state {
		snap := make([]byte, h.Sizes[i])
		if _, err := io.ReadFull(r, snap); err != nil {
			return bad("truncated")
		}
		if err := st.Restore(ctx, bytes.NewReader(snap)); err != nil {
			return bad("operator %d: %v", i, err)
		}
	}
	for i, m := range h.Offsets {
		if m == nil {
			m = map[int32]int64{}
		}
		t.positions[i] = m
	}
	return nil
}

// writeFileAtomic replaces path with data: written aside, synced, renamed.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
