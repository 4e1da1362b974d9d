package exec

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/compute"
	"github.com/apache/arrow/go/v17/arrow/ipc"
)

// A join snapshot is, little-endian:
//
//	header    joinSnapshotHeader
//	sections  Sides times: uint64 length, then an Arrow IPC stream of that
//	          many bytes holding the buffered rows of one side (the right
//	          side only for a stream-table join) as one batch
//
// The batch has the input's schema; a stream-stream join appends the
// boolean column joinMatchedField (the row has matched) and writes the rows
// in arrival order.
const joinSnapshotVersion = 1

var joinSnapshotMagic = [4]byte{'S', 'J', 'N', 'S'}

type joinSnapshotHeader struct {
	Magic     [4]byte
	Version   uint16
	Kind      joinKind
	Sides     uint8
	Watermark int64 // stream-stream only
	Late      int64 // stream-stream only
}

// writeJoinSnapshot writes h and then recs, one section each.
func writeJoinSnapshot(ctx context.Context, w io.Writer, h joinSnapshotHeader, recs ...arrow.Record) error {
	h.Magic, h.Version, h.Sides = joinSnapshotMagic, joinSnapshotVersion, uint8(len(recs))
	if err := binary.Write(w, binary.LittleEndian, &h); err != nil {
		return err
	}
	var buf bytes.Buffer
	for _, rec := range recs {
		buf.Reset()
		iw := ipc.NewWriter(&buf, ipc.WithSchema(rec.Schema()), ipc.WithAllocator(compute.GetAllocator(ctx)))
		if err := iw.Write(rec); err != nil {
			iw.Close()
			return err
		}
		if err := iw.Close(); err != nil {
			return err
		}
		if err := binary.Write(w, binary.LittleEndian, uint64(buf.Len())); err != nil {
			return err
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// readJoinSnapshot reads a snapshot of a join of the given kind whose
// sections have the given schemas. The caller releases the batches.
func readJoinSnapshot(ctx context.Context, r io.Reader, kind joinKind, schemas ...*arrow.Schema) (h joinSnapshotHeader, recs [][]arrow.Record, err error) {
	defer func() {
		if err != nil {
			releaseJoinBatches(recs)
			recs = nil
		}
	}()
	if err := binary.Read(r, binary.LittleEndian, &h); err != nil {
		return h, nil, fmt.Errorf("%w: %v", ErrJoinSnapshot, err)
	}
	switch {
	case h.Magic != joinSnapshotMagic:
		return h, nil, fmt.Errorf("%w: bad magic", ErrJoinSnapshot)
	case h.Version != joinSnapshotVersion:
		return h, nil, fmt.Errorf("%w: version %d, want %d", ErrJoinSnapshot, h.Version, joinSnapshotVersion)
	case h.Kind != kind || int(h.Sides) != len(schemas):
		return h, nil, fmt.Errorf("%w: not a snapshot of this kind of join", ErrJoinSnapshot)
	}
	recs = make([][]arrow.Record, len(schemas))
	for i, sc := range schemas {
		var n uint64
		if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
			return h, recs, fmt.Errorf("%w: %v", ErrJoinSnapshot, err)
		}
		lr := &io.LimitedReader{R: r, N: int64(n)}
		if recs[i], err = readJoinSection(ctx, lr, sc); err != nil {
			return h, recs, err
		}
		if _, err := io.Copy(io.Discard, lr); err != nil {
			return h, recs, err
		}
	}
	return h, recs, nil
}

func readJoinSection(ctx context.Context, r io.Reader, sc *arrow.Schema) (recs []arrow.Record, err error) {
	ir, err := ipc.NewReader(r, ipc.WithAllocator(compute.GetAllocator(ctx)))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrJoinSnapshot, err)
	}
	defer ir.Release()
	if !ir.Schema().Equal(sc) {
		return nil, fmt.Errorf("%w: schema %s, want %s", ErrJoinSnapshot, ir.Schema(), sc)
	}
	for ir.Next() {
		rec := ir.Record()
		rec.Retain()
		recs = append(recs, rec)
	}
	if err := ir.Err(); err != nil {
		releaseJoinBatches([][]arrow.Record{recs})
		return nil, fmt.Errorf("%w: %v", ErrJoinSnapshot, err)
	}
	return recs, nil
}

func releaseJoinBatches(recs [][]arrow.Record) {
	for _, rs := range recs {
		for _, r := range rs {
			r.Release()
		}
	}
}
