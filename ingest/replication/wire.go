// Package replication carries a partition leader's log to its followers
// and their acknowledgements back: one TCP connection from each broker to
// each other broker it leads partitions for, carrying every such
// partition, with the rules of ingest/quorum (fencing, truncation to the
// point of agreement, acknowledgement of durable ends).
//
// The leader side (Peer) pushes each partition's batches from where the
// follower's log ends, as fast as the follower acknowledges them, and
// reports every acknowledged durable end to the partition's quorum
// tracker. The follower side (Server) appends them through the
// partition's replica path (partition.Log.AppendReplica: group commit in
// the follower's WAL) and answers once they are durable.
//
// The wire format is documented in docs/format/replication.md.
package replication

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/strata-log/strata/ingest/quorum"
)

// Frame types.
const (
	frameHello    = 1 // either side, first: broker id
	frameAppend   = 2 // leader → follower: batches continuing the follower's log
	frameAck      = 3 // follower → leader: durable end
	frameReject   = 4 // follower → leader: refused, with the follower's log summary
	frameTruncate = 5 // leader → follower: truncate to an offset
)

// Reject codes.
const (
	rejectFenced   = 1 // the follower has seen a newer epoch
	rejectMismatch = 2 // the batches do not continue the follower's log
	rejectStorage  = 3 // the follower cannot write
	rejectUnknown  = 4 // the follower does not hold the partition
)

// maxFrame bounds a frame: a batch is at most a WAL entry (64 MiB).
const maxFrame = 80 << 20

// ErrFrame is wrapped by errors about malformed frames.
var ErrFrame = errors.New("replication: malformed frame")

// partitionKey names a partition on the wire.
type partitionKey struct {
	Topic     [16]byte
	Partition int32
}

// frame is one decoded frame; which fields are set depends on Type.
type frame struct {
	Type    byte
	Broker  int32 // hello
	Key     partitionKey
	Epoch   int32
	HW      int64         // append: the leader's high watermark
	Batches [][]byte      // append
	End     int64         // ack: durable end; truncate: new end
	Code    int16         // reject
	Log     quorum.LogEnd // reject: the follower's log
}

// appendFrame encodes f (without copying the batches more than once).
func appendFrame(dst []byte, f *frame) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, f.Type)
	switch f.Type {
	case frameHello:
		dst = binary.BigEndian.AppendUint32(dst, uint32(f.Broker))
	case frameAppend:
		dst = appendKey(dst, f)
		dst = binary.BigEndian.AppendUint64(dst, uint64(f.HW))
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(f.Batches)))
		for _, b := range f.Batches {
			dst = binary.BigEndian.AppendUint32(dst, uint32(len(b)))
			dst = append(dst, b...)
		}
	case frameAck, frameTruncate:
		dst = appendKey(dst, f)
		dst = binary.BigEndian.AppendUint64(dst, uint64(f.End))
	case frameReject:
		dst = appendKey(dst, f)
		dst = binary.BigEndian.AppendUint16(dst, uint16(f.Code))
		dst = binary.BigEndian.AppendUint64(dst, uint64(f.Log.End))
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(f.Log.Epochs)))
		for _, e := range f.Log.Epochs {
			dst = binary.BigEndian.AppendUint32(dst, uint32(e.Epoch))
			dst = binary.BigEndian.AppendUint64(dst, uint64(e.Start))
		}
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

func appendKey(dst []byte, f *frame) []byte {
	dst = append(dst, f.Key.Topic[:]...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(f.Key.Partition))
	return binary.BigEndian.AppendUint32(dst, uint32(f.Epoch))
}

// readFrame reads one frame from r. buf is reused for the body.
func readFrame(r io.Reader, buf []byte) (*frame, []byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, buf, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n < 1 || n > maxFrame {
		return nil, buf, fmt.Errorf("%w: length %d", ErrFrame, n)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, buf, fmt.Errorf("%w: %d-byte body: %v", ErrFrame, n, err)
	}
	f, err := decodeFrame(buf)
	return f, buf, err
}

// decodeFrame decodes a frame body (type byte onward). Batches alias body.
func decodeFrame(body []byte) (*frame, error) {
	d := decoder{b: body}
	f := &frame{Type: d.u8()}
	switch f.Type {
	case frameHello:
		f.Broker = int32(d.u32())
	case frameAppend:
		d.key(f)
		f.HW = int64(d.u64())
		n := d.u32()
		if n > uint32(len(d.b)) {
			return nil, fmt.Errorf("%w: %d batches in %d bytes", ErrFrame, n, len(d.b))
		}
		for range n {
			l := d.u32()
			f.Batches = append(f.Batches, d.bytes(int(l)))
		}
	case frameAck, frameTruncate:
		d.key(f)
		f.End = int64(d.u64())
	case frameReject:
		d.key(f)
		f.Code = int16(d.u16())
		f.Log.End = int64(d.u64())
		n := d.u32()
		if n > uint32(len(d.b)) {
			return nil, fmt.Errorf("%w: %d epochs in %d bytes", ErrFrame, n, len(d.b))
		}
		for range n {
			f.Log.Epochs = append(f.Log.Epochs, quorum.EpochStart{Epoch: int32(d.u32()), Start: int64(d.u64())})
		}
	default:
		return nil, fmt.Errorf("%w: type %d", ErrFrame, f.Type)
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: type %d: %v", ErrFrame, f.Type, d.err)
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: type %d: %d trailing bytes", ErrFrame, f.Type, len(d.b))
	}
	return f, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil || n < 0 || n > len(d.b) {
		d.fail()
		return nil
	}
	out := d.b[:n:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errors.New("truncated")
	}
	d.b = nil
}

func (d *decoder) u8() byte {
	b := d.bytes(1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (d *decoder) u16() uint16 {
	b := d.bytes(2)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint16(b)
}

func (d *decoder) u32() uint32 {
	b := d.bytes(4)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

func (d *decoder) u64() uint64 {
	b := d.bytes(8)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func (d *decoder) key(f *frame) {
	copy(f.Key.Topic[:], d.bytes(16))
	f.Key.Partition = int32(d.u32())
	f.Epoch = int32(d.u32())
}
