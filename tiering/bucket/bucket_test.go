package bucket_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-log/strata/tiering/bucket"
	"github.com/strata-log/strata/tiering/bucket/buckettest"
)

func TestMemory(t *testing.T) { buckettest.AcceptanceTest(t, bucket.NewMemory()) }

func TestFilesystem(t *testing.T) {
	dir := t.TempDir()
	b, err := bucket.NewFilesystem(dir)
	if err != nil {
		t.Fatal(err)
	}
	buckettest.AcceptanceTest(t, b)
	// Deleting everything leaves no empty directories or temporary files.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != ".tmp" {
			t.Errorf("left behind %s", e.Name())
		}
	}
	if tmp, _ := os.ReadDir(filepath.Join(dir, ".tmp")); len(tmp) != 0 {
		t.Errorf("left %d temporary files", len(tmp))
	}
}

func TestPrefixed(t *testing.T) {
	base := bucket.NewMemory()
	a := bucket.WithPrefix(base, "/cluster/a/")
	buckettest.AcceptanceTest(t, a)
	// Objects of another prefix are invisible: the acceptance test needs
	// an empty bucket and lists and deletes everything it sees.
	if err := a.Upload(context.Background(), "keep", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	buckettest.AcceptanceTest(t, bucket.WithPrefix(base, "cluster/b"))
	if ok, _ := base.Exists(context.Background(), "cluster/a/keep"); !ok {
		t.Fatal("another prefix's object was touched")
	}
}

func TestInstrumented(t *testing.T) {
	reg := prometheus.NewRegistry()
	b, err := bucket.WithMetrics(bucket.NewMemory(), reg, "test")
	if err != nil {
		t.Fatal(err)
	}
	buckettest.AcceptanceTest(t, b)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	totals := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			totals[mf.GetName()] += m.GetCounter().GetValue()
		}
	}
	if totals["strata_bucket_operations_total"] < 50 || totals["strata_bucket_uploaded_bytes_total"] < 10000 || totals["strata_bucket_downloaded_bytes_total"] < 10000 {
		t.Fatalf("metrics after the acceptance test: %v", totals)
	}
	if _, err := bucket.WithMetrics(bucket.NewMemory(), reg, "test"); err == nil {
		t.Fatal("registering the same bucket's metrics twice succeeded")
	}
}
