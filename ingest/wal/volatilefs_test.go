package wal

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestVolatileFile checks the volatile file's model: writes are visible
// through the handle at once and reach the base file only at Sync; Close
// loses what was not synced.
func TestVolatileFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	f, err := NewVolatileFS(OSFS()).OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	onDisk := func() string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	read := func(off int64, n int) (string, error) {
		b := make([]byte, n)
		m, err := f.ReadAt(b, off)
		return string(b[:m]), err
	}
	if _, err := f.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	if got, err := read(0, 3); got != "abc" || err != nil {
		t.Fatalf("read pending = %q, %v", got, err)
	}
	if got := onDisk(); got != "" {
		t.Fatalf("unsynced write reached the disk: %q", got)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if got := onDisk(); got != "abc" {
		t.Fatalf("after Sync the disk holds %q", got)
	}
	f.Write([]byte("def"))
	if fi, err := f.Stat(); err != nil || fi.Size() != 6 {
		t.Fatalf("Stat = %v, %v; want size 6", fi, err)
	}
	if got, err := read(1, 5); got != "bcdef" || err != nil {
		t.Fatalf("read across synced and pending = %q, %v", got, err)
	}
	if got, err := read(0, 2); got != "ab" || err != nil {
		t.Fatalf("read inside the synced part = %q, %v", got, err)
	}
	if got, err := read(4, 5); got != "ef" || err != io.EOF {
		t.Fatalf("read past the end = %q, %v; want \"ef\", EOF", got, err)
	}
	if err := f.Truncate(4); err != nil {
		t.Fatal(err)
	}
	if got, _ := read(0, 6); got != "abcd" {
		t.Fatalf("after Truncate(4) the file reads %q", got)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got := onDisk(); got != "abc" {
		t.Fatalf("after Close without Sync the disk holds %q, want only the synced \"abc\"", got)
	}
}

// TestVolatileFSLosesUnsyncedEntries kills a WAL (it is never closed)
// while an fsync is stuck: reopened from the disk, the WAL holds exactly
// the entries synced before.
func TestVolatileFSLosesUnsyncedEntries(t *testing.T) {
	dir := t.TempDir()
	efs := NewErrorFS(NewVolatileFS(OSFS()))
	w := mustOpen(t, Options{Dir: dir, FS: efs, Logger: testLogger(t)})
	for i := range 5 {
		if _, err := w.AppendSync(entry(i)); err != nil {
			t.Fatal(err)
		}
	}
	release, entered := make(chan struct{}), make(chan struct{}, 1)
	efs.SetInjector(blockingSync(release, entered))
	if _, err := w.Append(entry(5), func(Position, error) {}); err != nil {
		t.Fatal(err)
	}
	<-entered // the frame is written, its fsync has not happened

	after := mustOpen(t, Options{Dir: dir, Logger: testLogger(t)})
	got := replayAll(t, after, Position{})
	if len(got) != 5 {
		t.Fatalf("after the crash the WAL holds %d entries, want the 5 synced", len(got))
	}
	for i, r := range got {
		if !bytes.Equal(r.data, entry(i)) {
			t.Fatalf("entry %d differs", i)
		}
	}
	mustClose(t, after)
	close(release)
	mustClose(t, w)
}
