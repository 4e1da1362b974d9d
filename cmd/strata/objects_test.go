package main

import (
	"strings"
	"testing"

	"github.com/strata-log/strata/meta/metatest"
	"github.com/strata-log/strata/tiering/bucket/buckettest"
)

// TestObjectStoreFlags checks that bad object store settings stop a broker
// before it serves, with errors naming the flags, and that a missing
// bucket and refused credentials on a real MinIO are reported as such.
func TestObjectStoreFlags(t *testing.T) {
	clearStrataEnv(t)
	etcd := strings.Join(metatest.SharedEndpoints(t), ",")
	base := []string{"broker", "--id", "7", "--etcd-endpoints", etcd, "--data-dir", t.TempDir(),
		"--kafka-addr", "127.0.0.1:0", "--http-addr", ""}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--object-store-dir", t.TempDir(), "--s3-endpoint", "http://127.0.0.1:1"}, "choose one object store"},
		{[]string{"--s3-endpoint", "http://127.0.0.1:1"}, "--s3-bucket: required"},
		{[]string{"--s3-endpoint", "http://127.0.0.1:1", "--s3-bucket", "b", "--s3-access-key", "k"}, "give both or neither"},
		{[]string{"--s3-endpoint", "http://127.0.0.1:1", "--s3-bucket", "b", "--s3-addressing", "sideways"}, "--s3-addressing"},
		{[]string{"--s3-endpoint", "127.0.0.1:9000", "--s3-bucket", "b"}, "want http://host"},
	} {
		_, stdout, err := runCLI(t, "", append(append([]string{}, base...), tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error containing %q", tc.args, err, tc.want)
		}
		if strings.Contains(stdout, "strata ready") {
			t.Errorf("%v: the broker started", tc.args)
		}
	}

	m := buckettest.StartMinIO(t)
	m.CreateBucket(t, "present")
	s3 := []string{"--s3-endpoint", m.Endpoint, "--s3-region", "us-east-1", "--s3-access-key", m.AccessKey}
	_, _, err := runCLI(t, "", append(append(append([]string{}, base...), s3...), "--s3-secret-key", m.SecretKey, "--s3-bucket", "absent")...)
	if err == nil || !strings.Contains(err.Error(), `bucket "absent" does not exist`) {
		t.Errorf("missing bucket: %v", err)
	}
	_, _, err = runCLI(t, "", append(append(append([]string{}, base...), s3...), "--s3-secret-key", "wrong", "--s3-bucket", "present")...)
	if err == nil || !strings.Contains(err.Error(), "credentials refused") {
		t.Errorf("bad credentials: %v", err)
	}
}
