package batch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// ErrTooLarge is wrapped by Decompress when a batch's records would
// decompress past the caller's limit: a guard against compression bombs.
var ErrTooLarge = errors.New("records decompress past the limit")

// zstdDecoder is shared: DecodeAll is safe for concurrent use.
var zstdDecoder, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(1<<31))

// xerialMagic starts snappy data in the xerial framing that Java clients
// send; others send one raw snappy block.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// Decompress returns the records section src of a batch compressed with
// codec (1 gzip, 2 snappy, 3 lz4, 4 zstd), refusing to produce more than
// limit bytes.
func Decompress(src []byte, codec int8, limit int) ([]byte, error) {
	switch codec {
	case 1:
		zr, err := gzip.NewReader(bytes.NewReader(src))
		if err != nil {
			return nil, fmt.Errorf("%w: gzip: %v", ErrCorrupt, err)
		}
		return readLimited(zr, limit, "gzip")
	case 2:
		if bytes.HasPrefix(src, xerialMagic) {
			return xerial(src, limit)
		}
		return snappyBlock(nil, src, limit)
	case 3:
		return readLimited(lz4.NewReader(bytes.NewReader(src)), limit, "lz4")
	case 4:
		if n, err := zstdFrameSize(src); err == nil && n > uint64(limit) {
			return nil, fmt.Errorf("%w: zstd frame declares %d bytes, limit %d", ErrTooLarge, n, limit)
		}
		out, err := zstdDecoder.DecodeAll(src, nil)
		if err != nil {
			return nil, fmt.Errorf("%w: zstd: %v", ErrCorrupt, err)
		}
		if len(out) > limit {
			return nil, fmt.Errorf("%w: zstd gave %d bytes, limit %d", ErrTooLarge, len(out), limit)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: %d", ErrUnsupportedCodec, codec)
}

func readLimited(r io.Reader, limit int, codec string) ([]byte, error) {
	out, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, codec, err)
	}
	if len(out) > limit {
		return nil, fmt.Errorf("%w: %s output over %d bytes", ErrTooLarge, codec, limit)
	}
	return out, nil
}

// snappyBlock appends the decoding of one raw snappy block to dst.
func snappyBlock(dst, src []byte, limit int) ([]byte, error) {
	n, err := s2.DecodedLen(src)
	if err != nil {
		return nil, fmt.Errorf("%w: snappy: %v", ErrCorrupt, err)
	}
	if len(dst)+n > limit {
		return nil, fmt.Errorf("%w: snappy block of %d bytes, limit %d", ErrTooLarge, n, limit)
	}
	out, err := s2.Decode(make([]byte, n), src)
	if err != nil {
		return nil, fmt.Errorf("%w: snappy: %v", ErrCorrupt, err)
	}
	return append(dst, out...), nil
}

// xerial decodes snappy in the xerial framing: the 8-byte magic, two
// 4-byte versions, then blocks each preceded by a 4-byte big-endian length.
func xerial(src []byte, limit int) ([]byte, error) {
	if len(src) < 16 {
		return nil, fmt.Errorf("%w: xerial snappy header truncated", ErrCorrupt)
	}
	src = src[16:]
	var out []byte
	for len(src) > 0 {
		if len(src) < 4 {
			return nil, fmt.Errorf("%w: xerial snappy block length truncated", ErrCorrupt)
		}
		n := binary.BigEndian.Uint32(src)
		src = src[4:]
		if uint64(n) > uint64(len(src)) {
			return nil, fmt.Errorf("%w: xerial snappy block of %d bytes past the end", ErrCorrupt, n)
		}
		var err error
		if out, err = snappyBlock(out, src[:n], limit); err != nil {
			return nil, err
		}
		src = src[n:]
	}
	return out, nil
}

// zstdFrameSize reads the content size a zstd frame header declares.
func zstdFrameSize(src []byte) (uint64, error) {
	var h zstd.Header
	if err := h.Decode(src); err != nil {
		return 0, err
	}
	if !h.HasFCS {
		return 0, errors.New("no content size")
	}
	return h.FrameContentSize, nil
}
