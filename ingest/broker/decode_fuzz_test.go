package broker

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzDecodeRequest feeds arbitrary request frames (everything after the
// size prefix) to the decoder. Invariants: it never panics; a frame it
// accepts names a served API, and the request it decoded re-encodes to a
// frame that decodes to the same bytes again.
func FuzzDecodeRequest(f *testing.F) {
	for _, req := range []kmsg.Request{
		func() kmsg.Request { r := kmsg.NewPtrApiVersionsRequest(); r.SetVersion(3); return r }(),
		func() kmsg.Request { r := kmsg.NewPtrMetadataRequest(); r.SetVersion(12); return r }(),
		func() kmsg.Request {
			r := kmsg.NewPtrProduceRequest()
			r.SetVersion(9)
			t := kmsg.NewProduceRequestTopic()
			t.Topic = "t"
			p := kmsg.NewProduceRequestTopicPartition()
			p.Records = recordBatch(-1, -1, -1, 2)
			t.Partitions = append(t.Partitions, p)
			r.Topics = append(r.Topics, t)
			return r
		}(),
		func() kmsg.Request { r := kmsg.NewPtrFetchRequest(); r.SetVersion(11); return r }(),
		func() kmsg.Request { r := kmsg.NewPtrJoinGroupRequest(); r.SetVersion(9); r.Group = "g"; return r }(),
	} {
		f.Add(frame(req, 1))
	}
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff})
	c := &conn{}
	f.Fuzz(func(t *testing.T, buf []byte) {
		if len(buf) < 8 {
			return
		}
		req, err := c.decode(buf)
		if err != nil {
			return
		}
		if lookupAPI(req.key) == nil {
			t.Fatalf("decoded unknown key %d", req.key)
		}
		if req.kreq == nil {
			return // ApiVersions of a version we answer with v0
		}
		again, err := c.decode(frame(req.kreq, req.corrID))
		if err != nil {
			t.Fatalf("re-encoded %s v%d does not decode: %v", kmsg.NameForKey(req.key), req.version, err)
		}
		if a, b := req.kreq.AppendTo(nil), again.kreq.AppendTo(nil); !bytes.Equal(a, b) {
			t.Fatalf("%s v%d: round trip changed the request", kmsg.NameForKey(req.key), req.version)
		}
	})
}

// frame encodes req as a request frame without the size prefix.
func frame(req kmsg.Request, corr int32) []byte {
	buf := binary.BigEndian.AppendUint16(nil, uint16(req.Key()))
	buf = binary.BigEndian.AppendUint16(buf, uint16(req.GetVersion()))
	buf = binary.BigEndian.AppendUint32(buf, uint32(corr))
	buf = binary.BigEndian.AppendUint16(buf, 1)
	buf = append(buf, 'c')
	if req.IsFlexible() {
		buf = append(buf, 0)
	}
	return req.AppendTo(buf)
}
