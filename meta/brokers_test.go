package meta_test

import (
	"errors"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/strata-log/strata/meta"
	"github.com/strata-log/strata/meta/metatest"
)

func waitClosed(t testing.TB, ch <-chan struct{}, what string, within time.Duration) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(within):
		t.Fatalf("%s: not closed after %s", what, within)
	}
}

func assertOpen(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
		t.Fatalf("%s: closed unexpectedly", what)
	default:
	}
}

func brokerIDs(t testing.TB, st *meta.Store) []int32 {
	t.Helper()
	bs, err := st.Brokers(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	var ids []int32
	for _, b := range bs {
		ids = append(ids, b.ID)
	}
	return ids
}

func TestRegisterBrokers(t *testing.T) {
	st := metatest.Shared(t)
	ctx := testCtx(t)
	if bs, err := st.Brokers(ctx); err != nil || len(bs) != 0 {
		t.Fatalf("Brokers on empty store = %v, %v", bs, err)
	}

	infos := []meta.BrokerInfo{
		{ID: 10, Host: "h10", Port: 9092, Rack: "r1", HTTPAddr: "h10:8080"},
		{ID: 2, Host: "h2", Port: 9093},
		{ID: 1, Host: "h1", Port: 9094, Rack: "r2"},
	}
	regs := map[int32]*meta.Registration{}
	for _, info := range infos {
		r, err := st.RegisterBroker(ctx, info, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		if r.Info() != info || r.LeaseID() == 0 {
			t.Fatalf("registration info %+v lease %x", r.Info(), r.LeaseID())
		}
		regs[info.ID] = r
	}
	bs, err := st.Brokers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 3 || bs[0] != infos[2] || bs[1] != infos[1] || bs[2] != infos[0] {
		t.Fatalf("Brokers() = %+v, want sorted by id", bs)
	}

	// The key is attached to the registration's lease.
	resp, err := st.Client().Get(ctx, st.Prefix()+"/brokers/10")
	if err != nil || len(resp.Kvs) != 1 || clientv3.LeaseID(resp.Kvs[0].Lease) != regs[10].LeaseID() {
		t.Fatalf("broker key = %v, %v", resp, err)
	}

	// Duplicate id while the first registration lives.
	_, err = st.RegisterBroker(ctx, meta.BrokerInfo{ID: 2, Host: "imposter", Port: 1}, time.Second)
	if !errors.Is(err, meta.ErrBrokerIDInUse) {
		t.Fatalf("duplicate RegisterBroker err = %v, want ErrBrokerIDInUse", err)
	}
	if bs, _ := st.Brokers(ctx); bs[1].Host != "h2" {
		t.Fatalf("duplicate registration overwrote: %+v", bs[1])
	}
	assertOpen(t, regs[2].Lost(), "Lost of the registration a duplicate tried to take")

	// Close revokes: key gone, Lost closed, id free again.
	if err := regs[2].Close(); err != nil {
		t.Fatal(err)
	}
	if err := regs[2].Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	waitClosed(t, regs[2].Lost(), "Lost after Close", time.Second)
	if ids := brokerIDs(t, st); len(ids) != 2 || ids[0] != 1 || ids[1] != 10 {
		t.Fatalf("brokers after Close = %v", ids)
	}
	r, err := st.RegisterBroker(ctx, meta.BrokerInfo{ID: 2, Host: "h2b", Port: 1}, time.Second)
	if err != nil {
		t.Fatalf("re-register after Close: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	assertOpen(t, regs[1].Lost(), "Lost of an unrelated registration")

	if _, err := st.RegisterBroker(ctx, meta.BrokerInfo{ID: -1}, time.Second); err == nil {
		t.Fatal("negative broker id accepted")
	}
}

func TestRegistrationOutlivesTTL(t *testing.T) {
	st := metatest.Shared(t)
	ctx := testCtx(t)
	// etcd's minimum TTL here is 2s; keep-alives must hold it well past that.
	r, err := st.RegisterBroker(ctx, meta.BrokerInfo{ID: 1, Host: "h", Port: 1}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	time.Sleep(5 * time.Second)
	assertOpen(t, r.Lost(), "Lost")
	if ids := brokerIDs(t, st); len(ids) != 1 {
		t.Fatalf("brokers after 5s = %v", ids)
	}
}

func TestRegistrationLostOnRevoke(t *testing.T) {
	st := metatest.Shared(t)
	ctx := testCtx(t)
	r, err := st.RegisterBroker(ctx, meta.BrokerInfo{ID: 7, Host: "h", Port: 1}, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// Someone else (an operator, a fencing controller) revokes the lease.
	if _, err := sharedClient(t).Revoke(ctx, r.LeaseID()); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, r.Lost(), "Lost after revoke", 10*time.Second)
	if ids := brokerIDs(t, st); len(ids) != 0 {
		t.Fatalf("brokers after revoke = %v", ids)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close after the lease is gone: %v", err)
	}
}

func TestRegistrationLostOnKeyDelete(t *testing.T) {
	st := metatest.Shared(t)
	ctx := testCtx(t)
	r, err := st.RegisterBroker(ctx, meta.BrokerInfo{ID: 3, Host: "h", Port: 1}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := st.Client().Delete(ctx, st.Prefix()+"/brokers/3"); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, r.Lost(), "Lost after key delete", 10*time.Second)
}

// A broker that dies (its client stops renewing) loses its key after the TTL.
func TestRegistrationExpiresWhenBrokerDies(t *testing.T) {
	shared := metatest.Shared(t)
	ctx := testCtx(t)
	cli, err := meta.NewClient(metatest.SharedEndpoints(t))
	if err != nil {
		t.Fatal(err)
	}
	dying := meta.NewStore(cli, shared.Prefix())
	r, err := dying.RegisterBroker(ctx, meta.BrokerInfo{ID: 4, Host: "h", Port: 1}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if ids := brokerIDs(t, shared); len(ids) != 1 {
		t.Fatalf("brokers = %v", ids)
	}
	cli.Close() // the broker process "dies": no revoke, no more keep-alives
	waitClosed(t, r.Lost(), "Lost after client close", 10*time.Second)

	deadline := time.Now().Add(15 * time.Second)
	for len(brokerIDs(t, shared)) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("dead broker's key still present 15s after its 2s lease stopped being renewed")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The id is free for a new registration.
	r2, err := shared.RegisterBroker(ctx, meta.BrokerInfo{ID: 4, Host: "h", Port: 1}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	r2.Close()
}
