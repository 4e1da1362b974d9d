package main

// Shared plumbing for the client commands (topic, produce, consume, group,
// cluster, bench): the --brokers/--timeout flags, building franz-go clients,
// turning Kafka errors into readable messages, and small output helpers.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	defaultBrokers = "127.0.0.1:9092"
	defaultTimeout = 10 * time.Second
	clientID       = "strata-cli"
)

// clientFlags are the connection flags every client command has.
type clientFlags struct {
	brokers []string
	timeout time.Duration
}

// addClientFlags registers --brokers and --timeout on cmd.
func addClientFlags(cmd *cobra.Command) *clientFlags {
	cf := &clientFlags{}
	cmd.Flags().StringSliceVar(&cf.brokers, "brokers", []string{defaultBrokers},
		"comma-separated list of broker host:port addresses to bootstrap from")
	cmd.Flags().DurationVar(&cf.timeout, "timeout", defaultTimeout,
		"how long to wait for the brokers to answer")
	return cf
}

// seeds validates and returns the broker list.
func (cf *clientFlags) seeds() ([]string, error) {
	var out []string
	for _, b := range cf.brokers {
		b = strings.TrimSpace(b)
		if b == "" {
			continue
		}
		host, port, err := net.SplitHostPort(b)
		if err != nil || host == "" {
			return nil, fmt.Errorf("invalid --brokers address %q: want host:port (e.g. %s)", b, defaultBrokers)
		}
		if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
			return nil, fmt.Errorf("invalid --brokers address %q: port %q is not a number between 1 and 65535", b, port)
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil, errors.New("--brokers is empty: give at least one host:port")
	}
	if cf.timeout <= 0 {
		return nil, fmt.Errorf("invalid --timeout %s: must be positive", cf.timeout)
	}
	return out, nil
}

// kgoOpts are the connection options shared by every client.
func (cf *clientFlags) kgoOpts() ([]kgo.Opt, error) {
	seeds, err := cf.seeds()
	if err != nil {
		return nil, err
	}
	return []kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ClientID(clientID),
		kgo.DialTimeout(cf.timeout),
		kgo.RetryTimeout(cf.timeout),
	}, nil
}

// newClient builds a franz-go client with the connection flags plus extra.
func (cf *clientFlags) newClient(extra ...kgo.Opt) (*kgo.Client, error) {
	opts, err := cf.kgoOpts()
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("creating Kafka client: %w", err)
	}
	return cl, nil
}

// newAdmin builds an admin client; closing it closes the underlying client.
func (cf *clientFlags) newAdmin() (*kadm.Client, error) {
	cl, err := cf.newClient()
	if err != nil {
		return nil, err
	}
	adm := kadm.NewClient(cl)
	adm.SetTimeoutMillis(int32(min(cf.timeout.Milliseconds(), 1<<31-1)))
	return adm, nil
}

// wrap turns a request-level error into one that says what went wrong in
// words a person can act on.
func (cf *clientFlags) wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%s: interrupted", what)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, kgo.ErrClientClosed):
		return fmt.Errorf("%s: no answer from %s within %s (is a broker running there? see --brokers and --timeout)",
			what, strings.Join(cf.brokers, ","), cf.timeout)
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return fmt.Errorf("%s: cannot reach brokers %s: %v", what, strings.Join(cf.brokers, ","), err)
	}
	return fmt.Errorf("%s: %s", what, kafkaErrString(err, ""))
}

// kafkaErrString renders err (usually a *kerr.Error) and an optional extra
// message from the broker, e.g.
// "TOPIC_ALREADY_EXISTS: The topic has already been created. (topic exists)".
func kafkaErrString(err error, msg string) string {
	if err == nil {
		return ""
	}
	var s string
	var ke *kerr.Error
	if errors.As(err, &ke) {
		s = ke.Message + ": " + ke.Description
		// Some brokers repeat the code or its description in the message.
		if strings.Contains(msg, ke.Message) || strings.Contains(msg, ke.Description) {
			msg = ""
		}
	} else {
		s = err.Error()
	}
	if msg != "" && !strings.Contains(s, msg) {
		s += " (" + msg + ")"
	}
	return s
}

// isKafkaErr reports whether err is the Kafka error target.
func isKafkaErr(err error, target *kerr.Error) bool {
	return errors.Is(err, target)
}

// commandContext returns a context canceled on Ctrl-C / SIGTERM.
func commandContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	parent := cmd.Context()
	if parent == nil {
		parent = context.Background()
	}
	return signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
}

// parseKeyValues parses repeated "k=v" flag values. The value may be empty
// ("k=") but the key may not; duplicate keys are an error.
func parseKeyValues(flag string, items []string) (map[string]string, []string, error) {
	m := make(map[string]string, len(items))
	var order []string
	for _, it := range items {
		k, v, ok := strings.Cut(it, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, nil, fmt.Errorf("invalid --%s %q: want key=value", flag, it)
		}
		if _, dup := m[k]; dup {
			return nil, nil, fmt.Errorf("invalid --%s: %q given twice", flag, k)
		}
		m[k] = v
		order = append(order, k)
	}
	return m, order, nil
}

// newTable returns a tabwriter for aligned columns.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// joinInt32s renders a list of broker or partition numbers: "1,2,3".
func joinInt32s(xs []int32) string {
	if len(xs) == 0 {
		return "-"
	}
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(int(x))
	}
	return strings.Join(s, ",")
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// orDash renders empty strings as "-" so table columns stay aligned.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// withTimeout bounds one round of requests by --timeout.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}
