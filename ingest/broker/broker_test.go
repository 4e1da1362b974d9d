package broker

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-log/strata/ingest/batch"
)

func TestProduceConsumeEveryCodec(t *testing.T) {
	tb := startTestBroker(t, nil, "")
	adm := tb.admin(t)
	codecs := map[string]kgo.CompressionCodec{
		"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
		"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
	}
	for name, codec := range codecs {
		t.Run(name, func(t *testing.T) {
			topic := "codec-" + name
			createTopic(t, adm, topic, 3, nil)
			prod := tb.client(t, kgo.ProducerBatchCompression(codec), kgo.DefaultProduceTopic(topic))
			const n = 300
			want := map[string]string{}
			var recs []*kgo.Record
			for i := range n {
				k, v := fmt.Sprintf("key-%d", i), fmt.Sprintf("value-%d-%s", i, bytes.Repeat([]byte("x"), i%50))
				want[k] = v
				recs = append(recs, &kgo.Record{Key: []byte(k), Value: []byte(v), Headers: []kgo.RecordHeader{{Key: "h", Value: []byte(k)}}})
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				t.Fatalf("produce: %v", err)
			}
			got := consumeAll(t, tb, topic, n)
			if len(got) != n {
				t.Fatalf("got %d records, want %d", len(got), n)
			}
			perPartition := map[int32]int64{}
			for _, r := range got {
				if want[string(r.Key)] != string(r.Value) {
					t.Fatalf("record %s = %q, want %q", r.Key, r.Value, want[string(r.Key)])
				}
				if len(r.Headers) != 1 || string(r.Headers[0].Value) != string(r.Key) {
					t.Fatalf("record %s headers %v", r.Key, r.Headers)
				}
				if r.Offset != perPartition[r.Partition] {
					t.Fatalf("partition %d: offset %d, want %d (gapless)", r.Partition, r.Offset, perPartition[r.Partition])
				}
				perPartition[r.Partition]++
				delete(want, string(r.Key))
			}
		})
	}
}

// rawConn speaks the protocol directly, for requests clients would never
// send (duplicates, gaps, garbage).
type rawConn struct {
	t    *testing.T
	nc   net.Conn
	corr int32
}

func dialRaw(t *testing.T, tb *testBroker) *rawConn {
	nc, err := net.Dial("tcp", tb.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc}
}

func (c *rawConn) request(req kmsg.Request) kmsg.Response {
	c.t.Helper()
	c.corr++
	buf := make([]byte, 4, 256)
	buf = binary.BigEndian.AppendUint16(buf, uint16(req.Key()))
	buf = binary.BigEndian.AppendUint16(buf, uint16(req.GetVersion()))
	buf = binary.BigEndian.AppendUint32(buf, uint32(c.corr))
	buf = binary.BigEndian.AppendUint16(buf, 4)
	buf = append(buf, "test"...)
	if req.IsFlexible() {
		buf = append(buf, 0)
	}
	buf = req.AppendTo(buf)
	binary.BigEndian.PutUint32(buf, uint32(len(buf)-4))
	c.nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.nc.Write(buf); err != nil {
		c.t.Fatal(err)
	}
	var size [4]byte
	if _, err := io.ReadFull(c.nc, size[:]); err != nil {
		c.t.Fatalf("read response: %v", err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c.nc, body); err != nil {
		c.t.Fatal(err)
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != c.corr {
		c.t.Fatalf("correlation id %d, want %d", got, c.corr)
	}
	body = body[4:]
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if resp.IsFlexible() && req.Key() != apiVersionsKey {
		body = body[1:]
	}
	if err := resp.ReadFrom(body); err != nil {
		c.t.Fatalf("decode response: %v", err)
	}
	return resp
}

// recordBatch builds a v2 batch of n records for producer pid at seq.
func recordBatch(pid int64, epoch int16, seq int32, n int) []byte {
	recs := make([]kmsg.Record, n)
	for i := range recs {
		recs[i] = kmsg.Record{OffsetDelta: int32(i), Value: []byte(fmt.Sprintf("v%d", i))}
	}
	raw, err := batch.Build(batch.Header{FirstTimestamp: time.Now().UnixMilli(), ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq}, recs)
	if err != nil {
		panic(err)
	}
	return raw
}

func produceRaw(c *rawConn, topic string, batch []byte) kmsg.ProduceResponseTopicPartition {
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(9)
	req.Acks = -1
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return c.request(req).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
}

func TestIdempotentSequences(t *testing.T) {
	tb := startTestBroker(t, nil, "")
	createTopic(t, tb.admin(t), "idem", 1, nil)
	c := dialRaw(t, tb)
	ipr := kmsg.NewPtrInitProducerIDRequest()
	ipr.SetVersion(4)
	init := c.request(ipr).(*kmsg.InitProducerIDResponse)
	if init.ErrorCode != 0 || init.ProducerID < 0 {
		t.Fatalf("init producer id: %+v", init)
	}
	pid := init.ProducerID

	first := produceRaw(c, "idem", recordBatch(pid, 0, 0, 3))
	if first.ErrorCode != 0 || first.BaseOffset != 0 {
		t.Fatalf("first batch: code %d offset %d", first.ErrorCode, first.BaseOffset)
	}
	second := produceRaw(c, "idem", recordBatch(pid, 0, 3, 2))
	if second.ErrorCode != 0 || second.BaseOffset != 3 {
		t.Fatalf("second batch: code %d offset %d", second.ErrorCode, second.BaseOffset)
	}
	// A retry of the first batch is acknowledged with its original offset
	// and not written again.
	dup := produceRaw(c, "idem", recordBatch(pid, 0, 0, 3))
	if dup.ErrorCode != 0 || dup.BaseOffset != 0 {
		t.Fatalf("duplicate: code %d offset %d, want 0 and offset 0", dup.ErrorCode, dup.BaseOffset)
	}
	gap := produceRaw(c, "idem", recordBatch(pid, 0, 10, 1))
	if gap.ErrorCode != kerr.OutOfOrderSequenceNumber.Code {
		t.Fatalf("gap: code %d, want OUT_OF_ORDER_SEQUENCE_NUMBER", gap.ErrorCode)
	}
	fenced := produceRaw(c, "idem", recordBatch(pid, -1+0, 5, 1))
	if fenced.ErrorCode == 0 {
		t.Fatalf("old epoch accepted")
	}
	if hw := tb.offsets(t, "idem", 0).HighWatermark; hw != 5 {
		t.Fatalf("high watermark %d, want 5 (duplicate written twice?)", hw)
	}

	// Producer state survives a restart: the retry is still recognised.
	store, dir := tb.store, tb.dir
	tb.stop(t)
	tb2 := startTestBroker(t, store, dir)
	c2 := dialRaw(t, tb2)
	dup2 := produceRaw(c2, "idem", recordBatch(pid, 0, 3, 2))
	if dup2.ErrorCode != 0 || dup2.BaseOffset != 3 {
		t.Fatalf("duplicate after restart: code %d offset %d, want offset 3", dup2.ErrorCode, dup2.BaseOffset)
	}
	next := produceRaw(c2, "idem", recordBatch(pid, 0, 5, 1))
	if next.ErrorCode != 0 || next.BaseOffset != 5 {
		t.Fatalf("next after restart: code %d offset %d", next.ErrorCode, next.BaseOffset)
	}
}

func (tb *testBroker) offsets(t *testing.T, topic string, p int32) partitionOffsets {
	t.Helper()
	ti := tb.topic(topic)
	if ti == nil {
		t.Fatalf("no topic %s", topic)
	}
	o := tb.localLog(ti, p).Offsets()
	return partitionOffsets{o.LogStart, o.HighWatermark}
}

type partitionOffsets struct{ LogStart, HighWatermark int64 }

func TestIdempotentProducerClient(t *testing.T) {
	tb := startTestBroker(t, nil, "")
	createTopic(t, tb.admin(t), "idem-client", 2, nil)
	prod := tb.client(t, kgo.DefaultProduceTopic("idem-client"), kgo.RequiredAcks(kgo.AllISRAcks()))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for i := range 2000 {
		wg.Add(1)
		prod.Produce(ctx, &kgo.Record{Key: []byte(fmt.Sprint(i % 7)), Value: []byte(fmt.Sprint(i))}, func(_ *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d produce errors, first: %v", len(errs), errs[0])
	}
	got := consumeAll(t, tb, "idem-client", 2000)
	seen := map[string]bool{}
	for _, r := range got {
		if seen[string(r.Value)] {
			t.Fatalf("value %s twice", r.Value)
		}
		seen[string(r.Value)] = true
	}
}

func TestListOffsetsByTimestamp(t *testing.T) {
	tb := startTestBroker(t, nil, "")
	adm := tb.admin(t)
	createTopic(t, adm, "times", 1, nil)
	prod := tb.client(t, kgo.DefaultProduceTopic("times"), kgo.ProducerLinger(0))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	base := time.UnixMilli(1_700_000_000_000)
	for i := range 10 {
		// Timestamps 0, 10, ..., 90 seconds past base, one batch each;
		// record 5 carries the largest timestamp.
		ts := base.Add(time.Duration(i*10) * time.Second)
		if i == 5 {
			ts = base.Add(time.Hour)
		}
		if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte{byte(i)}, Timestamp: ts}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	check := func(ts int64, wantOffset int64) {
		t.Helper()
		res, err := adm.ListOffsetsAfterMilli(ctx, ts, "times")
		if err != nil {
			t.Fatal(err)
		}
		o, _ := res.Lookup("times", 0)
		if o.Err != nil || o.Offset != wantOffset {
			t.Fatalf("offset after %d: %d (%v), want %d", ts, o.Offset, o.Err, wantOffset)
		}
	}
	check(base.UnixMilli(), 0)
	check(base.Add(25*time.Second).UnixMilli(), 3)
	check(base.Add(90*time.Second).UnixMilli(), 5) // record 5's hour-late timestamp qualifies first
	start, err := adm.ListStartOffsets(ctx, "times")
	if err != nil {
		t.Fatal(err)
	}
	end, err := adm.ListEndOffsets(ctx, "times")
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := start.Lookup("times", 0); s.Offset != 0 {
		t.Fatalf("start offset %d", s.Offset)
	}
	if e, _ := end.Lookup("times", 0); e.Offset != 10 {
		t.Fatalf("end offset %d", e.Offset)
	}
	// Max timestamp (-3) through a raw request.
	c := dialRaw(t, tb)
	req := kmsg.NewPtrListOffsetsRequest()
	req.SetVersion(7)
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = "times"
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp = listMaxTimestamp
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	mp := c.request(req).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
	if mp.ErrorCode != 0 || mp.Offset != 5 || mp.Timestamp != base.Add(time.Hour).UnixMilli() {
		t.Fatalf("max timestamp: %+v", mp)
	}
}

func TestConsumerGroupRebalance(t *testing.T) {
	tb := startTestBroker(t, nil, "")
	createTopic(t, tb.admin(t), "grouped", 4, nil)
	prod := tb.client(t, kgo.DefaultProduceTopic("grouped"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const n = 400
	for i := range n {
		prod.Produce(ctx, &kgo.Record{Value: []byte(fmt.Sprint(i))}, nil)
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	seen := map[string]int{}
	consume := func(cl *kgo.Client, stop <-chan struct{}) {
		for {
			select {
			case <-stop:
				return
			default:
			}
			pctx, pcancel := context.WithTimeout(ctx, 200*time.Millisecond)
			fs := cl.PollFetches(pctx)
			pcancel()
			mu.Lock()
			for _, r := range fs.Records() {
				seen[string(r.Value)]++
			}
			mu.Unlock()
			if err := cl.CommitUncommittedOffsets(ctx); err != nil && ctx.Err() == nil {
				t.Errorf("commit: %v", err)
			}
		}
	}
	groupOpts := []kgo.Opt{kgo.ConsumerGroup("g1"), kgo.ConsumeTopics("grouped"), kgo.DisableAutoCommit(),
		kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.SessionTimeout(2 * time.Second), kgo.HeartbeatInterval(100 * time.Millisecond)}
	c1 := tb.client(t, groupOpts...)
	stop1 := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); consume(c1, stop1) }()
	time.Sleep(500 * time.Millisecond)
	c2 := tb.client(t, groupOpts...) // joins: a rebalance splits the partitions
	stop2 := make(chan struct{})
	wg.Add(1)
	go func() { defer wg.Done(); consume(c2, stop2) }()

	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		done := len(seen) == n
		mu.Unlock()
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stop1)
	close(stop2)
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("group consumed %d distinct records, want %d", len(seen), n)
	}
	// Both members got partitions at some point: describe the group.
	adm := tb.admin(t)
	c2.LeaveGroup()
	c1.LeaveGroup()
	offs, err := adm.FetchOffsets(ctx, "g1")
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	offs.Each(func(o kadm.OffsetResponse) { total += o.At })
	if total != n {
		t.Fatalf("committed offsets sum to %d, want %d", total, n)
	}
	groups, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := groups["g1"]; !ok {
		t.Fatalf("ListGroups misses g1: %v", groups.Groups())
	}
}

func TestRestartKeepsRecordsTopicsAndOffsets(t *testing.T) {
	tb := startTestBroker(t, nil, "")
	adm := tb.admin(t)
	createTopic(t, adm, "durable", 2, map[string]*string{"retention.ms": ptr("3600000")})
	prod := tb.client(t, kgo.DefaultProduceTopic("durable"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 100 {
		if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "durable", Partition: 0, At: 7, Metadata: "meta-7"})
	if resp, err := adm.CommitOffsets(ctx, "g-durable", offs); err != nil || resp.Error() != nil {
		t.Fatalf("commit: %v %v", err, resp.Error())
	}
	store, dir := tb.store, tb.dir
	tb.stop(t)

	tb2 := startTestBroker(t, store, dir)
	got := consumeAll(t, tb2, "durable", 100)
	vals := make([]string, 0, len(got))
	for _, r := range got {
		vals = append(vals, string(r.Value))
	}
	sort.Strings(vals)
	if len(vals) != 100 {
		t.Fatalf("%d records after restart", len(vals))
	}
	adm2 := tb2.admin(t)
	fetched, err := adm2.FetchOffsets(ctx, "g-durable")
	if err != nil {
		t.Fatal(err)
	}
	o, ok := fetched.Lookup("durable", 0)
	if !ok || o.At != 7 || o.Metadata != "meta-7" {
		t.Fatalf("committed offset after restart: %+v", o)
	}
	cfgs, err := adm2.DescribeTopicConfigs(ctx, "durable")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := cfgs.On("durable", nil)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range rc.Configs {
		if c.Key == "retention.ms" && c.MaybeValue() == "3600000" {
			found = true
		}
	}
	if !found {
		t.Fatalf("retention.ms lost across restart: %+v", rc.Configs)
	}
	// New appends continue the offsets.
	p2 := tb2.client(t, kgo.DefaultProduceTopic("durable"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	r := &kgo.Record{Value: []byte("after"), Partition: 0}
	if err := p2.ProduceSync(ctx, r).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if want := tb2.offsets(t, "durable", 0).HighWatermark - 1; r.Offset != want {
		t.Fatalf("offset after restart %d, want %d", r.Offset, want)
	}
}

func ptr(s string) *string { return &s }

func TestBadInput(t *testing.T) {
	tb := startTestBroker(t, nil, "")
	adm := tb.admin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	createTopic(t, adm, "victim", 1, map[string]*string{"max.message.bytes": ptr("2000")})
	prod := tb.client(t, kgo.DefaultProduceTopic("victim"))
	if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte("safe")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	// Garbage frames and oversize sizes close the connection.
	for name, frame := range map[string][]byte{
		"oversize":    {0x7f, 0xff, 0xff, 0xff},
		"negative":    {0xff, 0xff, 0xff, 0xf0},
		"unknown key": append([]byte{0, 0, 0, 10}, 0x7f, 0x00, 0, 0, 0, 0, 0, 1, 0, 0),
		"truncated":   append([]byte{0, 0, 0, 12}, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0xff, 0xff),
	} {
		nc, err := net.Dial("tcp", tb.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		nc.Write(frame)
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = nc.Read(make([]byte, 1))
		var ne net.Error
		if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
			t.Errorf("%s: connection not closed (err %v)", name, err)
		}
		nc.Close()
	}

	c := dialRaw(t, tb)
	// Bad CRC.
	b := recordBatch(-1, -1, -1, 2)
	b[len(b)-1] ^= 0xff
	if p := produceRaw(c, "victim", b); p.ErrorCode != kerr.CorruptMessage.Code {
		t.Errorf("bad crc: code %d, want CORRUPT_MESSAGE", p.ErrorCode)
	}
	// Too large.
	random := make([]byte, 5000)
	rand.Read(random)
	big := &kgo.Record{Value: random}
	if err := prod.ProduceSync(ctx, big).FirstErr(); !errors.Is(err, kerr.MessageTooLarge) {
		t.Errorf("oversize record: %v, want MESSAGE_TOO_LARGE", err)
	}
	// Unknown topic, invalid names, bad partition counts.
	if p := produceRaw(c, "no-such-topic-raw", recordBatch(-1, -1, -1, 1)); p.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("unknown topic: code %d", p.ErrorCode)
	}
	for name, parts := range map[string]int32{"bad/name": 1, "": 1, "..": 1, "neg-parts": -5, "zero-parts": 0} {
		resp, err := adm.CreateTopic(ctx, parts, 1, nil, name)
		if err == nil && resp.Err == nil {
			t.Errorf("create topic %q with %d partitions accepted", name, parts)
		}
	}
	resp, _ := adm.CreateTopic(ctx, 1, 1, map[string]*string{"cleanup.policy": ptr("sometimes")}, "bad-config")
	if !errors.Is(resp.Err, kerr.InvalidConfig) {
		t.Errorf("bad config: %v, want INVALID_CONFIG", resp.Err)
	}
	// Fetch out of range.
	fr := kmsg.NewPtrFetchRequest()
	fr.SetVersion(11)
	fr.MaxBytes = 1 << 20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "victim"
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.FetchOffset = 1000
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	fr.Topics = append(fr.Topics, ft)
	if code := c.request(fr).(*kmsg.FetchResponse).Topics[0].Partitions[0].ErrorCode; code != kerr.OffsetOutOfRange.Code {
		t.Errorf("fetch out of range: code %d", code)
	}
	// Transactions are refused clearly.
	tid := "tx"
	ipr := kmsg.NewPtrInitProducerIDRequest()
	ipr.SetVersion(4)
	ipr.TransactionalID = &tid
	if code := c.request(ipr).(*kmsg.InitProducerIDResponse).ErrorCode; code == 0 {
		t.Errorf("transactional InitProducerId accepted")
	}

	// The acknowledged record is untouched and the broker still serves.
	got := consumeAll(t, tb, "victim", 1)
	if string(got[0].Value) != "safe" {
		t.Fatalf("record after bad input: %q", got[0].Value)
	}
}

func TestFetchLongPoll(t *testing.T) {
	tb := startTestBroker(t, nil, "")
	createTopic(t, tb.admin(t), "poll", 1, nil)
	c := dialRaw(t, tb)
	fr := kmsg.NewPtrFetchRequest()
	fr.SetVersion(11)
	fr.MaxWaitMillis, fr.MinBytes, fr.MaxBytes = 5000, 1, 1<<20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "poll"
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	fr.Topics = append(fr.Topics, ft)

	go func() {
		time.Sleep(300 * time.Millisecond)
		prod := tb.client(t, kgo.DefaultProduceTopic("poll"))
		prod.ProduceSync(context.Background(), &kgo.Record{Value: []byte("wake")})
	}()
	start := time.Now()
	sp := c.request(fr).(*kmsg.FetchResponse).Topics[0].Partitions[0]
	took := time.Since(start)
	if sp.ErrorCode != 0 || len(sp.RecordBatches) == 0 || sp.HighWatermark != 1 {
		t.Fatalf("long poll: code %d, %d bytes, hw %d", sp.ErrorCode, len(sp.RecordBatches), sp.HighWatermark)
	}
	if took >= 5*time.Second {
		t.Fatalf("long poll waited the full max wait (%s) despite new data", took)
	}

	// A fetch with nothing to return waits MaxWait and returns empty.
	fp.FetchOffset = 1
	ft.Partitions[0] = fp
	fr.MaxWaitMillis = 200
	start = time.Now()
	sp = c.request(fr).(*kmsg.FetchResponse).Topics[0].Partitions[0]
	if sp.ErrorCode != 0 || len(sp.RecordBatches) != 0 || time.Since(start) < 150*time.Millisecond {
		t.Fatalf("empty long poll: code %d, %d bytes, after %s", sp.ErrorCode, len(sp.RecordBatches), time.Since(start))
	}
	if sp.RecordBatches == nil {
		t.Fatal("empty long poll: a null record set, which librdkafka refuses; want an empty one")
	}
}

func TestLogAppendTimeAndDeleteRecords(t *testing.T) {
	tb := startTestBroker(t, nil, "")
	adm := tb.admin(t)
	createTopic(t, adm, "lat", 1, map[string]*string{"message.timestamp.type": ptr("LogAppendTime")})
	prod := tb.client(t, kgo.DefaultProduceTopic("lat"), kgo.ProducerLinger(0))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	old := time.UnixMilli(1000)
	before := time.Now().Add(-time.Second)
	for i := range 5 {
		if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte{byte(i)}, Timestamp: old}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	got := consumeAll(t, tb, "lat", 5)
	for _, r := range got {
		if r.Timestamp.Before(before) || r.Attrs.TimestampType() != 1 {
			t.Fatalf("record %d: timestamp %v type %d, want broker time", r.Offset, r.Timestamp, r.Attrs.TimestampType())
		}
	}
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "lat", Partition: 0, At: 3})
	resp, err := adm.DeleteRecords(ctx, offs)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := resp.Lookup("lat", 0); r.Err != nil || r.LowWatermark != 3 {
		t.Fatalf("delete records: %+v", r)
	}
	start, _ := adm.ListStartOffsets(ctx, "lat")
	if s, _ := start.Lookup("lat", 0); s.Offset != 3 {
		t.Fatalf("start offset after delete: %d", s.Offset)
	}
	// The new start survives a restart.
	store, dir := tb.store, tb.dir
	tb.stop(t)
	tb2 := startTestBroker(t, store, dir)
	if got := tb2.offsets(t, "lat", 0); got.LogStart != 3 || got.HighWatermark != 5 {
		t.Fatalf("after restart: %+v", got)
	}
}
