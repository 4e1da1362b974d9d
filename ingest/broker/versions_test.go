package broker

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestAPIVersions(t *testing.T) {
	tb := startTestBroker(t, nil, "")
	c := dialRaw(t, tb)
	for _, v := range []int16{0, 3, 4} {
		req := kmsg.NewPtrApiVersionsRequest()
		req.SetVersion(v)
		req.ClientSoftwareName, req.ClientSoftwareVersion = "test", "1"
		resp := c.request(req).(*kmsg.ApiVersionsResponse)
		if resp.ErrorCode != 0 {
			t.Fatalf("v%d: error %d", v, resp.ErrorCode)
		}
		keys := map[int16]kmsg.ApiVersionsResponseApiKey{}
		for _, k := range resp.ApiKeys {
			keys[k.ApiKey] = k
		}
		for key, min := range map[int16]int16{0: 0, 1: 0, 2: 0, 3: 0, 8: 0, 9: 0, 10: 0, 11: 0, 12: 0, 13: 0, 14: 0, 15: 0, 16: 0, 18: 0, 19: 0, 20: 0, 21: 0, 22: 0, 23: 0, 32: 0, 33: 0, 37: 0, 42: 0, 44: 0, 47: 0, 60: 0} {
			k, ok := keys[key]
			if !ok || k.MinVersion != min || k.MaxVersion < min {
				t.Errorf("v%d: %s advertised as %+v (present %v)", v, kmsg.NameForKey(key), k, ok)
			}
		}
		for _, hidden := range []int16{24, 26, 68, 76} {
			if _, ok := keys[hidden]; ok {
				t.Errorf("v%d: %s advertised but not implemented", v, kmsg.NameForKey(hidden))
			}
		}
	}

	// A v2 produce (old message format) is refused per partition.
	createTopic(t, tb.admin(t), "old-format", 1, nil)
	pr := kmsg.NewPtrProduceRequest()
	pr.SetVersion(2)
	pr.Acks = 1
	pr.TimeoutMillis = 1000
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = "old-format"
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Records = []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 14, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	pt.Partitions = append(pt.Partitions, pp)
	pr.Topics = append(pr.Topics, pt)
	if code := c.request(pr).(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode; code != kerr.UnsupportedForMessageFormat.Code {
		t.Fatalf("v2 produce with a magic 1 message set: code %d, want UNSUPPORTED_FOR_MESSAGE_FORMAT", code)
	}
	// A hidden API answers with its error instead of closing.
	eh := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	eh.SetVersion(0)
	eh.Group = "g"
	if code := c.request(eh).(*kmsg.ConsumerGroupHeartbeatResponse).ErrorCode; code != kerr.UnsupportedVersion.Code {
		t.Fatalf("ConsumerGroupHeartbeat: code %d, want UNSUPPORTED_VERSION", code)
	}
	// The connection still works.
	mr := kmsg.NewPtrMetadataRequest()
	mr.SetVersion(12)
	if resp := c.request(mr).(*kmsg.MetadataResponse); len(resp.Brokers) != 1 || resp.ClusterID == nil {
		t.Fatalf("metadata after refused requests: %+v", resp)
	}
}

// TestFetchByteLimits checks KIP-74: partition and total limits, and the
// first batch returned whole even when it is larger than both.
func TestFetchByteLimits(t *testing.T) {
	tb := startTestBroker(t, nil, "")
	createTopic(t, tb.admin(t), "limits", 2, nil)
	prod := tb.client(t, kgo.DefaultProduceTopic("limits"), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0), kgo.ProducerBatchCompression(kgo.NoCompression()))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range 20 {
		for p := range int32(2) {
			r := &kgo.Record{Partition: p, Value: make([]byte, 1000+i)}
			if err := prod.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	c := dialRaw(t, tb)
	fetch := func(maxBytes, partMax int32) []kmsg.FetchResponseTopicPartition {
		fr := kmsg.NewPtrFetchRequest()
		fr.SetVersion(11)
		fr.MaxBytes = maxBytes
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic = "limits"
		for p := range int32(2) {
			fp := kmsg.NewFetchRequestTopicPartition()
			fp.Partition, fp.PartitionMaxBytes = p, partMax
			ft.Partitions = append(ft.Partitions, fp)
		}
		fr.Topics = append(fr.Topics, ft)
		return c.request(fr).(*kmsg.FetchResponse).Topics[0].Partitions
	}
	batches := func(b []byte) int {
		n := 0
		for len(b) > 0 {
			h := mustParse(t, b)
			b = b[h:]
			n++
		}
		return n
	}
	// Tiny limits: one whole batch for the first partition, nothing more.
	ps := fetch(10, 10)
	if batches(ps[0].RecordBatches) != 1 || len(ps[1].RecordBatches) != 0 {
		t.Fatalf("tiny limits: %d and %d bytes", len(ps[0].RecordBatches), len(ps[1].RecordBatches))
	}
	// Partition limit of ~5 batches, generous total.
	ps = fetch(1<<20, 5*1100)
	for i, p := range ps {
		if n := batches(p.RecordBatches); n < 4 || n > 5 || len(p.RecordBatches) > 5*1100 {
			t.Fatalf("partition %d: %d batches in %d bytes over a %d limit", i, n, len(p.RecordBatches), 5*1100)
		}
	}
	// Total limit smaller than two partitions' worth.
	ps = fetch(8*1100, 1<<20)
	if total := len(ps[0].RecordBatches) + len(ps[1].RecordBatches); total > 8*1100 || total == 0 {
		t.Fatalf("total limit: %d bytes", total)
	}
}

// mustParse returns the size of the batch at the start of b.
func mustParse(t *testing.T, b []byte) int {
	t.Helper()
	if len(b) < 12 {
		t.Fatalf("%d trailing bytes", len(b))
	}
	n := int(int32(uint32(b[8])<<24|uint32(b[9])<<16|uint32(b[10])<<8|uint32(b[11]))) + 12
	if n > len(b) {
		t.Fatalf("batch of %d bytes truncated to %d", n, len(b))
	}
	return n
}

// TestConsumerOffsetsTopic checks that __consumer_offsets, which Strata
// does not have (offsets live in etcd), is reported as an internal topic
// and cannot be created.
func TestConsumerOffsetsTopic(t *testing.T) {
	tb := startTestBroker(t, nil, "")
	c := dialRaw(t, tb)
	mr := kmsg.NewPtrMetadataRequest()
	mr.SetVersion(12)
	name := "__consumer_offsets"
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = &name
	mr.Topics = append(mr.Topics, rt)
	mr.AllowAutoTopicCreation = true
	st := c.request(mr).(*kmsg.MetadataResponse).Topics[0]
	if st.ErrorCode != 0 || !st.IsInternal || len(st.Partitions) != 1 || st.Partitions[0].Leader != tb.cfg.NodeID {
		t.Fatalf("metadata of %s: %+v", name, st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := tb.admin(t).CreateTopic(ctx, 1, 1, nil, name)
	if err == nil && resp.Err == nil {
		t.Fatalf("created %s", name)
	}
	if tb.topic(name) != nil {
		t.Fatalf("%s became an ordinary topic", name)
	}
}
