package metatest_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/strata-log/strata/meta"
	"github.com/strata-log/strata/meta/metatest"
)

func TestMain(m *testing.M) { os.Exit(metatest.Main(m)) }

func TestNewStore(t *testing.T) {
	st := metatest.NewStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if st.Prefix() != meta.DefaultPrefix {
		t.Fatalf("prefix %q", st.Prefix())
	}
	if _, err := st.CreateTopic(ctx, meta.Topic{Name: "t", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Topic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
}

func TestSharedIsolatesAndCleansUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var prefix string
	var cli *clientv3.Client
	t.Run("inner", func(t *testing.T) {
		a, b := metatest.Shared(t), metatest.Shared(t)
		if a.Prefix() == b.Prefix() {
			t.Fatalf("two Shared stores share prefix %q", a.Prefix())
		}
		if _, err := a.CreateTopic(ctx, meta.Topic{Name: "t", Partitions: 1}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Topic(ctx, "t"); !errors.Is(err, meta.ErrUnknownTopic) {
			t.Fatalf("b sees a's topic: %v", err)
		}
		prefix, cli = a.Prefix(), a.Client()
	})
	resp, err := cli.Get(ctx, prefix+"/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	if resp.Count != 0 {
		t.Fatalf("%d keys left under %s after the test ended", resp.Count, prefix)
	}
}
