// Package buckettest holds the acceptance test every bucket.Bucket
// implementation must pass: the local directory, memory, the decorators,
// and S3 against a real MinIO.
package buckettest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-log/strata/tiering/bucket"
)

// AcceptanceTest checks b's behaviour. b must be empty.
func AcceptanceTest(t *testing.T, b bucket.Bucket) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	list := func(prefix string) []string {
		t.Helper()
		var names []string
		if err := b.Iter(ctx, prefix, func(n string) error { names = append(names, n); return nil }); err != nil {
			t.Fatal(err)
		}
		return names
	}

	// Missing objects.
	if _, err := b.Get(ctx, "missing"); !bucket.IsNotFound(err) {
		t.Fatalf("get of a missing object: %v, want not found", err)
	}
	if _, err := b.GetRange(ctx, "missing", 0, 1); !bucket.IsNotFound(err) {
		t.Fatalf("ranged get of a missing object: %v, want not found", err)
	}
	if _, err := b.Attributes(ctx, "missing"); !bucket.IsNotFound(err) {
		t.Fatalf("attributes of a missing object: %v, want not found", err)
	}
	if ok, err := b.Exists(ctx, "missing"); ok || err != nil {
		t.Fatalf("exists of a missing object: %v %v", ok, err)
	}
	if err := b.Delete(ctx, "missing"); !bucket.IsNotFound(err) {
		t.Fatalf("delete of a missing object: %v, want not found", err)
	}
	if names := list(""); len(names) != 0 {
		t.Fatalf("new bucket lists %v", names)
	}

	// Upload, read whole and in ranges.
	payload := bytes.Repeat([]byte("0123456789"), 1000)
	before := time.Now().Add(-time.Minute)
	if err := b.Upload(ctx, "dir/sub/obj", bytes.NewReader(payload)); err != nil {
		t.Fatal(err)
	}
	if got := ReadRange(t, b, "dir/sub/obj", 0, -1); !bytes.Equal(got, payload) {
		t.Fatalf("get returned %d bytes, want %d", len(got), len(payload))
	}
	for _, r := range []struct{ off, length int64 }{{0, 10}, {5, 3}, {9990, 10}, {9995, 100}, {100, -1}, {10000, 5}, {0, 0}} {
		end := int64(len(payload))
		if r.length >= 0 {
			end = min(end, r.off+r.length)
		}
		want := payload[min(r.off, int64(len(payload))):end]
		if got := ReadRange(t, b, "dir/sub/obj", r.off, r.length); !bytes.Equal(got, want) {
			t.Fatalf("range %d+%d: got %d bytes, want %d", r.off, r.length, len(got), len(want))
		}
	}
	if _, err := b.GetRange(ctx, "dir/sub/obj", -1, 5); err == nil {
		t.Fatal("negative range offset accepted")
	}
	attrs, err := b.Attributes(ctx, "dir/sub/obj")
	if err != nil {
		t.Fatal(err)
	}
	if attrs.Size != int64(len(payload)) || attrs.LastModified.Before(before) || attrs.LastModified.After(time.Now().Add(time.Minute)) {
		t.Fatalf("attributes %+v", attrs)
	}
	if ok, err := b.Exists(ctx, "dir/sub/obj"); !ok || err != nil {
		t.Fatalf("exists: %v %v", ok, err)
	}
	// A directory-like prefix is not an object.
	if ok, _ := b.Exists(ctx, "dir/sub"); ok {
		t.Fatal("a prefix counts as an object")
	}

	// Overwrite replaces; empty objects exist.
	if err := b.Upload(ctx, "dir/sub/obj", strings.NewReader("short")); err != nil {
		t.Fatal(err)
	}
	if got := ReadRange(t, b, "dir/sub/obj", 0, -1); string(got) != "short" {
		t.Fatalf("after overwrite: %q", got)
	}
	if err := b.Upload(ctx, "empty", bytes.NewReader(nil)); err != nil {
		t.Fatal(err)
	}
	if a, err := b.Attributes(ctx, "empty"); err != nil || a.Size != 0 {
		t.Fatalf("empty object: %+v %v", a, err)
	}

	// A failing reader leaves no object behind.
	if err := b.Upload(ctx, "broken", io.MultiReader(strings.NewReader("part"), errReader{})); err == nil {
		t.Fatal("upload from a failing reader succeeded")
	}
	if ok, _ := b.Exists(ctx, "broken"); ok {
		t.Fatal("a failed upload left an object")
	}

	// Listing: lexical order, prefixes, early stop.
	for _, n := range []string{"a/1", "a/2", "a/10", "ab", "b/x/y"} {
		if err := b.Upload(ctx, n, strings.NewReader(n)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := list(""), []string{"a/1", "a/10", "a/2", "ab", "b/x/y", "dir/sub/obj", "empty"}; !slices.Equal(got, want) {
		t.Fatalf("list all: %v, want %v", got, want)
	}
	if got, want := list("a/"), []string{"a/1", "a/10", "a/2"}; !slices.Equal(got, want) {
		t.Fatalf("list a/: %v, want %v", got, want)
	}
	if got, want := list("a"), []string{"a/1", "a/10", "a/2", "ab"}; !slices.Equal(got, want) {
		t.Fatalf("list a: %v, want %v", got, want)
	}
	if got := list("nothing/"); len(got) != 0 {
		t.Fatalf("list nothing/: %v", got)
	}
	stop := errors.New("stop")
	n := 0
	if err := b.Iter(ctx, "", func(string) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Fatalf("iter stop: %v after %d", err, n)
	}

	// Bad names.
	for _, name := range []string{"", "/abs", "a//b", "../up", "a/./b", "trailing/"} {
		if err := b.Upload(ctx, name, strings.NewReader("x")); !errors.Is(err, bucket.ErrInvalidName) {
			t.Errorf("upload %q: %v, want an invalid name error", name, err)
		}
	}

	// Concurrent uploads and reads of distinct and shared names.
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("conc/%02d", i)
			data := bytes.Repeat([]byte{byte(i)}, 4096)
			if err := b.Upload(ctx, name, bytes.NewReader(data)); err != nil {
				errs <- err
				return
			}
			if err := b.Upload(ctx, "conc/shared", bytes.NewReader(data)); err != nil {
				errs <- err
				return
			}
			rc, err := b.Get(ctx, "conc/shared")
			if err != nil {
				errs <- err
				return
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				errs <- err
				return
			}
			// Whole objects only: all bytes equal, full length.
			if len(got) != 4096 || bytes.Count(got, got[:1]) != 4096 {
				errs <- fmt.Errorf("read a torn shared object of %d bytes", len(got))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := list("conc/"); len(got) != 17 {
		t.Fatalf("concurrent uploads listed %d objects, want 17", len(got))
	}

	// Delete.
	for _, name := range list("") {
		if err := b.Delete(ctx, name); err != nil {
			t.Fatalf("delete %s: %v", name, err)
		}
	}
	if names := list(""); len(names) != 0 {
		t.Fatalf("after deleting everything: %v", names)
	}
}

// ReadRange reads length bytes of name from off (-1: to the end), failing
// the test on any error.
func ReadRange(t testing.TB, b bucket.Bucket, name string, off, length int64) []byte {
	t.Helper()
	rc, err := b.GetRange(context.Background(), name, off, length)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("reader failed") }
