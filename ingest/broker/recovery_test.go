package broker

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strata-log/strata/ingest/group"
	"github.com/strata-log/strata/ingest/wal"
)

// TestWALDamageAtStart checks the broker's start on a damaged WAL: a torn
// tail is cut and everything before it served; damage in the middle stops
// the start with an error naming the file and offset.
func TestWALDamageAtStart(t *testing.T) {
	tb := startTestBroker(t, nil, "")
	createTopic(t, tb.admin(t), "damaged", 1, nil)
	prod := tb.client(t, kgo.DefaultProduceTopic("damaged"), kgo.ProducerLinger(0))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range 50 {
		if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	store, dir := tb.store, tb.dir
	tb.stop(t)
	seg := filepath.Join(dir, "wal", "00000000000000000001.wal")
	info, err := os.Stat(seg)
	if err != nil {
		t.Fatal(err)
	}

	// A torn tail: half a frame of garbage after the last entry.
	f, err := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0, 0, 0, 100, 1, 2, 3})
	f.Close()
	tb2 := startTestBroker(t, store, dir)
	if got := consumeAll(t, tb2, "damaged", 50); len(got) != 50 {
		t.Fatalf("%d records after a torn tail", len(got))
	}
	tb2.stop(t)
	if after, _ := os.Stat(seg); after.Size() != info.Size() {
		t.Fatalf("torn tail not truncated: %d bytes, want %d", after.Size(), info.Size())
	}

	// A flipped byte in the middle: the start fails and says where.
	raw, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 0xff
	if err := os.WriteFile(seg, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = New(ctx, Config{NodeID: 1, ListenAddr: "127.0.0.1:0", DataDir: dir, SessionTTL: 2 * time.Second,
		Group: group.Config{InitialRebalanceDelay: 10 * time.Millisecond}, Logger: testLogger()}, store)
	var ce *wal.CorruptionError
	if !errors.As(err, &ce) {
		t.Fatalf("start on a corrupt WAL: %v, want a CorruptionError", err)
	}
	if ce.Path != seg || ce.Offset <= 0 || ce.Offset > int64(len(raw)/2) || !strings.Contains(err.Error(), seg) {
		t.Fatalf("corruption reported as %v (path %s offset %d), want %s before offset %d", err, ce.Path, ce.Offset, seg, len(raw)/2)
	}
}
