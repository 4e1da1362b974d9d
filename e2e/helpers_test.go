package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestMain(m *testing.M) {
	code := m.Run()
	RemoveBinary()
	os.Exit(code)
}

// client is a franz-go client of addr, closed when the test ends.
func client(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.MetadataMinAge(100 * time.Millisecond),
		kgo.RetryTimeout(20 * time.Second),
	}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func admin(t testing.TB, addr string) *kadm.Client {
	return kadm.NewClient(client(t, addr))
}

func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func createTopic(t testing.TB, adm *kadm.Client, topic string, partitions int32) {
	t.Helper()
	resp, err := adm.CreateTopic(ctxFor(t, 20*time.Second), partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s with %d partitions: %v", topic, partitions, err)
	}
}

// offsets lists the start and end offsets of every partition of topic.
func offsets(t testing.TB, adm *kadm.Client, topic string) (start, end map[int32]int64) {
	t.Helper()
	list := func(what string, f func(context.Context, ...string) (kadm.ListedOffsets, error)) map[int32]int64 {
		l, err := f(ctxFor(t, 20*time.Second), topic)
		if err == nil {
			err = l.Error()
		}
		if err != nil {
			t.Fatalf("list %s offsets of %s: %v", what, topic, err)
		}
		out := map[int32]int64{}
		l.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
		return out
	}
	return list("start", adm.ListStartOffsets), list("end", adm.ListEndOffsets)
}

// consumeAll reads topic from its start up to the end offsets listed when
// it is called, and checks that each partition's offsets run gaplessly from
// 0 to its end. It returns the records in order per partition.
func consumeAll(t testing.TB, addr, topic string) (map[int32][]*kgo.Record, map[int32]int64) {
	t.Helper()
	adm := admin(t, addr)
	start, end := offsets(t, adm, topic)
	if len(end) == 0 {
		t.Fatalf("topic %s: no partitions listed", topic)
	}
	for p, off := range start {
		if off != 0 {
			t.Errorf("%s/%d: start offset %d, want 0 (nothing was deleted)", topic, p, off)
		}
	}
	want := 0
	for _, e := range end {
		want += int(e)
	}
	cl := client(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx := ctxFor(t, 45*time.Second)
	got := map[int32][]*kgo.Record{}
	n := 0
	for n < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records of %s: %v", n, want, topic, ctx.Err())
		}
		fs.EachError(func(tp string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", tp, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= end[r.Partition] {
				return // produced after we listed the end offsets
			}
			got[r.Partition] = append(got[r.Partition], r)
			n++
		})
	}
	for p, recs := range got {
		for i, r := range recs {
			if r.Offset != int64(i) {
				t.Fatalf("%s/%d: record #%d has offset %d, want %d (offsets must be gapless from 0)", topic, p, i, r.Offset, i)
			}
		}
	}
	return got, end
}

// httpGet fetches url and returns the status code and body.
func httpGet(t testing.TB, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxFor(t, 10*time.Second), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

// requireKcat returns the path of kcat. Without it the test is skipped,
// unless $CI is set, where a missing kcat is a broken setup and fails.
func requireKcat(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err == nil {
		return path
	}
	if ci := os.Getenv("CI"); ci != "" && ci != "false" && ci != "0" {
		t.Fatalf("kcat not found but CI=%s: the CI setup must install it (apt-get install -y kcat): %v", ci, err)
	}
	t.Skipf("kcat not installed (apt-get install -y kcat); skipping outside CI: %v", err)
	return ""
}

// kcat runs kcat against broker with args, feeding it stdin, and returns
// its stdout. It fails the test if kcat fails or runs for more than 60s.
func kcat(t testing.TB, broker, stdin string, args ...string) string {
	t.Helper()
	out, errOut, err := kcatRun(t, broker, stdin, args...)
	if err != nil {
		t.Fatalf("kcat %s: %v\nstderr:\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

func kcatRun(t testing.TB, broker, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	bin := requireKcat(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"-b", broker}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	if ctx.Err() != nil {
		err = errors.Join(err, ctx.Err())
	}
	return out.String(), errOut.String(), err
}
