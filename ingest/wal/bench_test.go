package wal

import (
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
)

func benchWAL(b *testing.B, noSync bool) *WAL {
	w, err := Open(Options{
		Dir:    b.TempDir(),
		NoSync: noSync,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	return w
}

func reportGroupCommit(b *testing.B, before, after Stats) {
	appends := float64(after.Appends - before.Appends)
	if f := after.Fsyncs - before.Fsyncs; f > 0 {
		b.ReportMetric(appends/float64(f), "appends/fsync")
	}
	if f := after.Flushes - before.Flushes; f > 0 {
		b.ReportMetric(appends/float64(f), "appends/flush")
	}
}

// BenchmarkAppend: parallel Appends of 1 KiB entries that do not wait for
// their own durability (the done callback just counts), on the OS file
// system. Throughput is bounded by the flusher and the 16 MiB back-pressure.
func BenchmarkAppend(b *testing.B) {
	for _, bc := range []struct {
		name   string
		noSync bool
	}{{"fsync", false}, {"nosync", true}} {
		b.Run(bc.name, func(b *testing.B) {
			w := benchWAL(b, bc.noSync)
			defer w.Close()
			data := make([]byte, 1024)
			var failed atomic.Int64
			done := func(_ Position, err error) {
				if err != nil {
					failed.Add(1)
				}
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			before := w.Stats()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := w.Append(data, done); err != nil {
						b.Error(err)
						return
					}
				}
			})
			if _, err := w.AppendSync(data); err != nil { // wait for everything
				b.Fatal(err)
			}
			b.StopTimer()
			if failed.Load() != 0 {
				b.Fatal("appends failed")
			}
			reportGroupCommit(b, before, w.Stats())
		})
	}
}

// BenchmarkAppendSync: 64 goroutines per CPU, each waiting for its 1 KiB
// entry to be durable before appending the next (a producer with acks=all).
// This is where group commit matters.
func BenchmarkAppendSync(b *testing.B) {
	for _, bc := range []struct {
		name   string
		noSync bool
	}{{"fsync", false}, {"nosync", true}} {
		b.Run(bc.name, func(b *testing.B) {
			w := benchWAL(b, bc.noSync)
			defer w.Close()
			data := make([]byte, 1024)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.SetParallelism(64)
			before := w.Stats()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := w.AppendSync(data); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			reportGroupCommit(b, before, w.Stats())
		})
	}
}

// BenchmarkReadAt: random-access reads of durable 1 KiB entries.
func BenchmarkReadAt(b *testing.B) {
	w := benchWAL(b, true)
	defer w.Close()
	data := make([]byte, 1024)
	var positions []Position
	for range 4096 {
		pos, err := w.AppendSync(data)
		if err != nil {
			b.Fatal(err)
		}
		positions = append(positions, pos)
	}
	var mu sync.Mutex
	next := 0
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		i := next
		next += 977
		mu.Unlock()
		buf := make([]byte, 0, 2048)
		for pb.Next() {
			i = (i + 1) % len(positions)
			if _, err := w.ReadAt(positions[i], buf); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
