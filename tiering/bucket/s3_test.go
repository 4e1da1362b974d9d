package bucket_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/strata-log/strata/tiering/bucket"
	"github.com/strata-log/strata/tiering/bucket/buckettest"
)

// TestS3 runs the acceptance test against a real MinIO, directly and
// through a prefix, and checks that a missing bucket and bad credentials
// are reported as such.
func TestS3(t *testing.T) {
	m := buckettest.StartMinIO(t)
	m.CreateBucket(t, "strata")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := bucket.S3Config{Endpoint: m.Endpoint, Bucket: "strata", Region: "us-east-1", AccessKey: m.AccessKey, SecretKey: m.SecretKey, Addressing: "path"}
	b, err := bucket.NewS3(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("acceptance", func(t *testing.T) { buckettest.AcceptanceTest(t, b) })
	t.Run("prefixed", func(t *testing.T) { buckettest.AcceptanceTest(t, bucket.WithPrefix(b, "cluster-1")) })

	missing := cfg
	missing.Bucket = "no-such-bucket"
	if _, err := bucket.NewS3(ctx, missing); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing bucket: %v", err)
	}
	badCreds := cfg
	badCreds.SecretKey = "wrong"
	if _, err := bucket.NewS3(ctx, badCreds); err == nil || !strings.Contains(err.Error(), "credentials") {
		t.Errorf("bad credentials: %v", err)
	}
	for _, bad := range []bucket.S3Config{{Endpoint: "127.0.0.1:9000", Bucket: "b"}, {Endpoint: m.Endpoint}, {Endpoint: m.Endpoint, Bucket: "b", Addressing: "sideways"}} {
		if _, err := bucket.NewS3(ctx, bad); err == nil {
			t.Errorf("config %+v accepted", bad)
		}
	}
}
