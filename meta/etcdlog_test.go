package meta

import (
	"bytes"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"go.uber.org/zap"
)

func TestEtcdLoggerForwardsErrorsOnly(t *testing.T) {
	var buf bytes.Buffer
	lg := newEtcdLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), new(atomic.Bool))
	lg.Named("raft").With(zap.String("member", "m1")).Warn("noisy warning", zap.Int("n", 1))
	lg.Info("chatter")
	lg.Named("raft").With(zap.String("member", "m1")).Error("disk failed", zap.Int("n", 2), zap.Error(bytes.ErrTooLarge))
	out := buf.String()
	if strings.Contains(out, "noisy") || strings.Contains(out, "chatter") {
		t.Fatalf("below-error records forwarded:\n%s", out)
	}
	for _, want := range []string{"level=ERROR", `msg="disk failed"`, "component=etcd.raft", "member=m1", "n=2", "error="} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// nil logger: discard, and must not panic.
	newEtcdLogger(nil, nil).Error("dropped")
}
