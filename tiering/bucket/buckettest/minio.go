package buckettest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// MinIO is a real MinIO server started for a test.
type MinIO struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string
	SecretKey string
}

// MinIO's root credentials in tests.
const (
	minioUser     = "strata-test"
	minioPassword = "strata-test-secret"
)

// MinIOBinary finds the minio server binary: $STRATA_MINIO_BIN, then
// minio on PATH, then $(go env GOPATH)/bin/minio (where
// e2e/scripts/install-deps.sh puts it).
func MinIOBinary() (string, bool) {
	if p := os.Getenv("STRATA_MINIO_BIN"); p != "" {
		return p, true
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p, true
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "minio")
		if _, err := os.Stat(p); err == nil {
			return p, true
		}
	}
	return "", false
}

// StartMinIO starts a MinIO server on loopback with its data in a
// temporary directory, stopped when the test ends. Without a minio binary
// the test is skipped, unless CI is set, where that is a failure: CI
// installs it.
func StartMinIO(t testing.TB) *MinIO {
	t.Helper()
	bin, ok := MinIOBinary()
	if !ok {
		if os.Getenv("CI") != "" {
			t.Fatal("minio not found: run e2e/scripts/install-deps.sh")
		}
		t.Skip("minio not found (run e2e/scripts/install-deps.sh, or set STRATA_MINIO_BIN)")
	}
	addr, console := freeAddr(t), freeAddr(t)
	cmd := exec.Command(bin, "server", t.TempDir(), "--address", addr, "--console-address", console, "--quiet")
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+minioUser, "MINIO_ROOT_PASSWORD="+minioPassword,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off")
	logPath := filepath.Join(t.TempDir(), "minio.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start minio: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logFile.Close()
	})
	m := &MinIO{Endpoint: "http://" + addr, AccessKey: minioUser, SecretKey: minioPassword}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(m.Endpoint + "/minio/health/live")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return m
			}
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(logPath)
			t.Fatalf("minio did not become ready at %s: %v\n%s", addr, err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// CreateBucket makes a bucket on the server.
func (m *MinIO) CreateBucket(t testing.TB, name string) {
	t.Helper()
	cli, err := minio.New(strings.TrimPrefix(m.Endpoint, "http://"), &minio.Options{
		Creds: credentials.NewStaticV4(m.AccessKey, m.SecretKey, ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cli.MakeBucket(ctx, name, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr())
}
