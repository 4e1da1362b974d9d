package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
)

// maxLineBytes bounds one stdin line (one record) for produce.
const maxLineBytes = 64 << 20

// producerSettings are the delivery flags shared by produce and bench.
type producerSettings struct {
	acks              string
	compression       string
	idempotent        bool
	idempotentChanged bool
}

// parseAcks maps --acks to franz-go's setting.
func parseAcks(s string) (kgo.Acks, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "all", "-1":
		return kgo.AllISRAcks(), nil
	case "1", "leader":
		return kgo.LeaderAck(), nil
	case "0", "none":
		return kgo.NoAck(), nil
	}
	return kgo.Acks{}, fmt.Errorf("invalid --acks %q: want all, 1 or 0", s)
}

// parseCompression maps --compression to a franz-go codec.
func parseCompression(s string) (kgo.CompressionCodec, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("invalid --compression %q: want none, gzip, snappy, lz4 or zstd", s)
}

// opts validates the settings and turns them into producer options.
// Idempotence needs acks=all; it is switched off automatically for other acks
// unless the user explicitly asked for it, which is an error.
func (ps producerSettings) opts() ([]kgo.Opt, error) {
	acks, err := parseAcks(ps.acks)
	if err != nil {
		return nil, err
	}
	codec, err := parseCompression(ps.compression)
	if err != nil {
		return nil, err
	}
	opts := []kgo.Opt{kgo.RequiredAcks(acks), kgo.ProducerBatchCompression(codec)}
	all := acks == kgo.AllISRAcks()
	switch {
	case ps.idempotent && !all && ps.idempotentChanged:
		return nil, fmt.Errorf("--idempotent needs --acks all (got --acks %s); pass --idempotent=false", ps.acks)
	case !ps.idempotent || !all:
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	return opts, nil
}

// recordTemplate holds what every produced record shares.
type recordTemplate struct {
	topic     string
	keySep    string
	headers   []kgo.RecordHeader
	partition int32 // -1 = let the partitioner choose
}

// parseHeaders parses repeated --header k=v (duplicates allowed, order kept).
func parseHeaders(items []string) ([]kgo.RecordHeader, error) {
	var hs []kgo.RecordHeader
	for _, it := range items {
		k, v, ok := strings.Cut(it, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("invalid --header %q: want key=value", it)
		}
		hs = append(hs, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	return hs, nil
}

// lineRecord builds the record for one input line (without its newline).
// With a key separator, the key is everything before its first occurrence;
// a line without the separator has no key.
func (t recordTemplate) lineRecord(line []byte) *kgo.Record {
	r := &kgo.Record{Topic: t.topic, Value: line, Headers: t.headers}
	if t.partition >= 0 {
		r.Partition = t.partition
	}
	if t.keySep != "" {
		if k, v, ok := bytes.Cut(line, []byte(t.keySep)); ok {
			r.Key, r.Value = k, v
		}
	}
	return r
}

// readLines calls fn for every line of r with the trailing "\n" or "\r\n"
// removed; a final line without a newline counts too.
func readLines(r io.Reader, fn func(n int, line []byte) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A long line: collect it.
			buf := append([]byte(nil), line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				if len(buf) > maxLineBytes {
					return fmt.Errorf("line %d is longer than %d bytes", n, maxLineBytes)
				}
				line, err = br.ReadSlice('\n')
				buf = append(buf, line...)
			}
			line = buf
		} else {
			line = append([]byte(nil), line...)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("reading line %d: %w", n, err)
		}
		if len(line) == 0 && errors.Is(err, io.EOF) {
			return nil
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if ferr := fn(n, line); ferr != nil {
			return ferr
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
	}
}

func newProduceCmd() *cobra.Command {
	var (
		ps        producerSettings
		keySep    string
		headers   []string
		partition int32
		value     string
		key       string
		verbose   bool
	)
	cmd := &cobra.Command{
		Use:   "produce TOPIC",
		Short: "Write records to a topic, one per line of standard input",
		Long: `Read standard input and produce one record per line (the newline is not part
of the record). With --key-separator, the text before the first separator is the
record key and the rest its value; lines without the separator have no key.
--value produces a single record without reading standard input.

Nothing is printed on success unless --verbose, which prints partition@offset
for each record. If any record fails, the failures are reported and the command
exits non-zero.`,
		Example: `  echo hello | strata produce greetings
  printf 'user-1:{"n":1}\nuser-2:{"n":2}\n' | strata produce events --key-separator :
  strata produce events --value '{"n":3}' --key user-3 --header source=cli --verbose
  strata produce events --acks 1 --compression zstd < records.txt`,
		Args: cobra.ExactArgs(1),
	}
	cf := addClientFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&keySep, "key-separator", "", "split each line into key and value at the first occurrence of this string")
	f.StringArrayVar(&headers, "header", nil, "add a header key=value to every record (repeatable)")
	f.Int32Var(&partition, "partition", -1, "produce every record to this partition (-1 = by key hash, or spread)")
	f.StringVar(&ps.acks, "acks", "all", "acknowledgements to wait for: all, 1 or 0")
	f.StringVar(&ps.compression, "compression", "none", "batch compression: none, gzip, snappy, lz4 or zstd")
	f.BoolVar(&ps.idempotent, "idempotent", true, "idempotent producer (needs --acks all; turned off automatically for other acks)")
	f.StringVar(&value, "value", "", "produce this one value instead of reading standard input")
	f.StringVar(&key, "key", "", "key for the record given with --value")
	f.BoolVarP(&verbose, "verbose", "v", false, "print partition@offset for every record produced")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		topic := args[0]
		ps.idempotentChanged = cmd.Flags().Changed("idempotent")
		popts, err := ps.opts()
		if err != nil {
			return err
		}
		hs, err := parseHeaders(headers)
		if err != nil {
			return err
		}
		if partition < -1 {
			return fmt.Errorf("invalid --partition %d", partition)
		}
		valueSet := cmd.Flags().Changed("value")
		if cmd.Flags().Changed("key") && !valueSet {
			return errors.New("--key only goes with --value; for standard input use --key-separator")
		}
		opts := append(popts, kgo.DefaultProduceTopic(topic), kgo.RecordDeliveryTimeout(cf.timeout))
		if partition >= 0 {
			opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
		}
		cl, err := cf.newClient(opts...)
		if err != nil {
			return err
		}
		defer cl.Close()
		ctx, cancel := commandContext(cmd)
		defer cancel()

		tmpl := recordTemplate{topic: topic, keySep: keySep, headers: hs, partition: partition}
		p := &producer{cl: cl, out: cmd.OutOrStdout(), verbose: verbose, topic: topic}
		if valueSet {
			r := &kgo.Record{Topic: topic, Value: []byte(value), Headers: hs, Partition: max(partition, 0)}
			if cmd.Flags().Changed("key") {
				r.Key = []byte(key)
			}
			p.produce(ctx, 1, r)
		} else {
			err = readLines(cmd.InOrStdin(), func(n int, line []byte) error {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				p.produce(ctx, n, tmpl.lineRecord(line))
				return nil
			})
		}
		// Wait for every record in flight, even after Ctrl-C: the
		// delivery timeout bounds this.
		flushCtx, cancelFlush := context.WithTimeout(context.Background(), cf.timeout+5*time.Second)
		defer cancelFlush()
		if ferr := cl.Flush(flushCtx); ferr != nil && err == nil {
			err = cf.wrap(fmt.Sprintf("flush records to topic %q", topic), ferr)
		}
		if perr := p.result(); perr != nil {
			return perr
		}
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("produce to topic %q: interrupted after %d records", topic, p.total)
		}
		return err
	}
	return cmd
}

// producer produces records and tallies the outcome.
type producer struct {
	cl      *kgo.Client
	out     io.Writer
	verbose bool
	topic   string

	mu       sync.Mutex
	total    int
	failed   int
	failures []string // the first maxReportedFailures, "record N: error"
}

const maxReportedFailures = 10

func (p *producer) produce(ctx context.Context, n int, r *kgo.Record) {
	p.mu.Lock()
	p.total++
	p.mu.Unlock()
	p.cl.Produce(ctx, r, func(r *kgo.Record, err error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if err != nil {
			p.failed++
			if len(p.failures) < maxReportedFailures {
				p.failures = append(p.failures, fmt.Sprintf("record %d: %s", n, kafkaErrString(err, "")))
			}
			return
		}
		if p.verbose {
			fmt.Fprintf(p.out, "%d@%d\n", r.Partition, r.Offset)
		}
	})
}

// result is nil if every record was produced, else an error that says how
// many failed and why (records are numbered by input line).
func (p *producer) result() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failed == 0 {
		return nil
	}
	if p.total == 1 {
		return fmt.Errorf("produce to topic %q failed: %s", p.topic, strings.TrimPrefix(p.failures[0], "record 1: "))
	}
	more := ""
	if p.failed > len(p.failures) {
		more = fmt.Sprintf("\n  ... and %d more", p.failed-len(p.failures))
	}
	return fmt.Errorf("produce to topic %q: %d of %d records failed:\n  %s%s",
		p.topic, p.failed, p.total, strings.Join(p.failures, "\n  "), more)
}
