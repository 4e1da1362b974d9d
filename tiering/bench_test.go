package tiering

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-log/strata/ingest/batch"
	"github.com/strata-log/strata/meta/metatest"
	"github.com/strata-log/strata/tiering/bucket"
)

// BenchmarkTieringRequests measures what tiering costs in object-store
// requests and bytes: a producer writes 1 KiB JSON-like records at 64 MiB/s
// spread over 1, 100 or 1000 partitions, and the loop runs as in a broker
// (a round and a maintenance step every 250 ms of simulated time, default
// settings). It reports PUTs per GiB produced, for sealing alone and in
// all (sealing, merging, pages), and stored bytes per produced byte once
// merging has settled.
//
//	go test ./tiering -run '^$' -bench TieringRequests -benchtime 1x
func BenchmarkTieringRequests(b *testing.B) {
	for _, parts := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("partitions=%d", parts), func(b *testing.B) {
			for range b.N {
				benchTiering(b, parts, 512<<20)
			}
		})
	}
}

func benchTiering(b *testing.B, parts int, total int64) {
	const (
		rate   = 64 << 20 // bytes per second
		tick   = 250 * time.Millisecond
		record = 1024
	)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, uint64(parts)))
	src := &testSource{}
	for p := range parts {
		src.logs = append(src.logs, newTestLog(1, int32(p), nil))
	}
	counted := &flakyBucket{Bucket: bucket.NewMemory()}
	store := metatest.Shared(b)
	for _, l := range src.logs {
		if _, err := store.ClaimLeadership(ctx, l.id.Topic, l.id.Partition, 1, []int32{1}); err != nil {
			b.Fatal(err)
		}
	}
	tr, err := New(ctx, Config{}, src, store, counted)
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	clock := time.Now()
	tr.now = func() time.Time { return clock }

	var produced int64
	perTick := int64(rate * tick.Seconds())
	b.ResetTimer()
	for produced < total {
		// One tick of produce: batches of up to 16 records to random
		// partitions.
		for sent := int64(0); sent < perTick; {
			l := src.logs[rng.IntN(parts)]
			n := 1 + rng.IntN(16)
			l.appendRecords(b, n, record, clock, rng)
			sent += int64(n * record)
		}
		produced += perTick
		clock = clock.Add(tick)
		if err := tr.Round(ctx, false); err != nil {
			b.Fatal(err)
		}
		if _, err := tr.maintain(ctx); err != nil {
			b.Fatal(err)
		}
	}
	// Let merging settle, as an idle broker would.
	for range 10000 {
		clock = clock.Add(tick)
		did, err := tr.maintain(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if !did {
			break
		}
	}
	b.StopTimer()
	puts := counted.uploads.Load()
	clock = clock.Add(time.Hour)
	if _, err := tr.CollectGarbage(ctx); err != nil {
		b.Fatal(err)
	}
	var stored int64
	err = counted.Iter(ctx, segmentsPrefix, func(name string) error {
		a, err := counted.Attributes(ctx, name)
		stored += a.Size
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	gib := float64(produced) / (1 << 30)
	b.ReportMetric(testutil.ToFloat64(tr.m.uploads)/gib, "seal-PUTs/GiB")
	b.ReportMetric(float64(puts)/gib, "PUTs/GiB")
	b.ReportMetric(float64(stored)/float64(produced), "stored/produced")
	b.ReportMetric(float64(produced)/b.Elapsed().Seconds()/(1<<20), "MiB/s")
}

// appendRecords adds a batch of n JSON-like records of about size bytes.
func (l *testLog) appendRecords(t testing.TB, n, size int, at time.Time, rng *rand.Rand) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	recs := make([]kmsg.Record, n)
	for i := range recs {
		v := fmt.Appendf(nil, `{"user":%d,"session":"%016x","event":"%s","amount":%d.%02d,"note":"`,
			rng.IntN(1e6), rng.Uint64(), []string{"view", "click", "buy", "refund"}[rng.IntN(4)], rng.IntN(1000), rng.IntN(100))
		for len(v) < size-2 {
			v = append(v, "abcdefghijklmnopqrstuvwxyz0123456789 "[rng.IntN(37)])
		}
		recs[i] = kmsg.Record{OffsetDelta: int32(i), Key: fmt.Appendf(nil, "user-%d", rng.IntN(1e6)), Value: append(v, '"', '}')}
	}
	raw, err := batch.Build(batch.Header{BaseOffset: l.next, FirstTimestamp: at.UnixMilli(), ProducerID: -1, BaseSequence: -1}, recs)
	if err != nil {
		t.Fatal(err)
	}
	l.batches = append(l.batches, raw)
	l.appended = append(l.appended, at)
	l.next += int64(n)
}

// BenchmarkColdRead replays a partition from tiered objects in 1 MiB
// reads (a consumer's fetches), through an in-memory bucket.
func BenchmarkColdRead(b *testing.B) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	l := newTestLog(1, 0, nil)
	src := &testSource{logs: []*testLog{l}}
	store := metatest.Shared(b)
	if _, err := store.ClaimLeadership(ctx, l.id.Topic, l.id.Partition, 1, []int32{1}); err != nil {
		b.Fatal(err)
	}
	tr, err := New(ctx, Config{}, src, store, bucket.NewMemory())
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	for range 8 {
		for range 500 {
			l.appendRecords(b, 16, 1024, time.Now(), rng)
		}
		if err := tr.Round(ctx, true); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	var total int64
	for range b.N {
		next := int64(0)
		for {
			out, err := tr.Read(ctx, l.id, next, 1<<20, true)
			if err != nil {
				b.Fatal(err)
			}
			if len(out) == 0 {
				break
			}
			total += int64(len(out))
			for len(out) > 0 {
				h, _ := batch.ReadHeader(out)
				next = h.LastOffset() + 1
				out = out[h.Size():]
			}
		}
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds()/1e6, "MB/s")
}
