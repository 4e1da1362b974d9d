package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ---- record formatting ----

type formatMode int

const (
	formatText formatMode = iota
	formatJSON
	formatTemplate
)

// recordFormatter renders consumed records, one per line.
type recordFormatter struct {
	mode         formatMode
	printKey     bool
	printOffset  bool
	printHeaders bool
	sep          string
	tmpl         []tmplPart
}

// tmplPart is a literal or a %-verb of a --format template.
type tmplPart struct {
	lit  string
	verb byte // 0 for a literal
}

// newRecordFormatter validates --format: "text" (default), "json", or a
// template with %-verbs (see the consume help).
func newRecordFormatter(format string, printKey, printOffset, printHeaders bool, sep string) (*recordFormatter, error) {
	f := &recordFormatter{printKey: printKey, printOffset: printOffset, printHeaders: printHeaders, sep: sep}
	switch strings.ToLower(format) {
	case "", "text":
		f.mode = formatText
		return f, nil
	case "json":
		f.mode = formatJSON
		return f, nil
	}
	if !strings.Contains(format, "%") {
		return nil, fmt.Errorf("invalid --format %q: want text, json, or a template such as '%%p@%%o %%k=%%s'", format)
	}
	parts, err := parseTemplate(format)
	if err != nil {
		return nil, err
	}
	f.mode, f.tmpl = formatTemplate, parts
	return f, nil
}

const templateVerbs = "tpokshTKS%"

func parseTemplate(s string) ([]tmplPart, error) {
	var parts []tmplPart
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, tmplPart{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '%':
			if i+1 >= len(s) || !strings.ContainsRune(templateVerbs, rune(s[i+1])) {
				return nil, fmt.Errorf("invalid --format %q: unknown verb at %q (want one of %%t %%p %%o %%k %%s %%h %%T %%K %%S %%%%)", s, s[i:min(i+2, len(s))])
			}
			i++
			if s[i] == '%' {
				lit.WriteByte('%')
				continue
			}
			flush()
			parts = append(parts, tmplPart{verb: s[i]})
		case '\\':
			if i+1 < len(s) {
				switch s[i+1] {
				case 'n':
					lit.WriteByte('\n')
					i++
					continue
				case 't':
					lit.WriteByte('\t')
					i++
					continue
				case '\\':
					lit.WriteByte('\\')
					i++
					continue
				}
			}
			lit.WriteByte(c)
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	// Every record ends its line unless the template says otherwise.
	if n := len(parts); n == 0 || parts[n-1].verb != 0 || !strings.HasSuffix(parts[n-1].lit, "\n") {
		parts = append(parts, tmplPart{lit: "\n"})
	}
	return parts, nil
}

// jsonRecord is the --format json shape of a record.
type jsonRecord struct {
	Topic         string       `json:"topic"`
	Partition     int32        `json:"partition"`
	Offset        int64        `json:"offset"`
	Timestamp     int64        `json:"timestamp"`
	Key           *string      `json:"key"`
	KeyEncoding   string       `json:"key_encoding,omitempty"`
	Value         *string      `json:"value"`
	ValueEncoding string       `json:"value_encoding,omitempty"`
	Headers       []jsonHeader `json:"headers"`
}

type jsonHeader struct {
	Key           string  `json:"key"`
	Value         *string `json:"value"`
	ValueEncoding string  `json:"value_encoding,omitempty"`
}

// jsonBytes renders b as a JSON string: as is when it is UTF-8, otherwise
// base64 with encoding "base64". nil stays null.
func jsonBytes(b []byte) (*string, string) {
	if b == nil {
		return nil, ""
	}
	if utf8.Valid(b) {
		s := string(b)
		return &s, ""
	}
	s := base64.StdEncoding.EncodeToString(b)
	return &s, "base64"
}

// format appends r's line (with its trailing newline) to buf.
func (f *recordFormatter) format(buf []byte, r *kgo.Record) []byte {
	switch f.mode {
	case formatJSON:
		jr := jsonRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset,
			Timestamp: r.Timestamp.UnixMilli(), Headers: []jsonHeader{}}
		jr.Key, jr.KeyEncoding = jsonBytes(r.Key)
		jr.Value, jr.ValueEncoding = jsonBytes(r.Value)
		for _, h := range r.Headers {
			jh := jsonHeader{Key: h.Key}
			jh.Value, jh.ValueEncoding = jsonBytes(h.Value)
			jr.Headers = append(jr.Headers, jh)
		}
		// No HTML escaping: values are printed for people and tools, not
		// embedded in web pages. Encode adds the newline.
		out := bytes.NewBuffer(buf)
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(jr); err != nil { // cannot happen for these types
			fmt.Fprintf(out, "{\"error\":%q}\n", err.Error())
		}
		return out.Bytes()
	case formatTemplate:
		for _, p := range f.tmpl {
			if p.verb == 0 {
				buf = append(buf, p.lit...)
				continue
			}
			switch p.verb {
			case 't':
				buf = append(buf, r.Topic...)
			case 'p':
				buf = strconv.AppendInt(buf, int64(r.Partition), 10)
			case 'o':
				buf = strconv.AppendInt(buf, r.Offset, 10)
			case 'k':
				buf = append(buf, r.Key...)
			case 's':
				buf = append(buf, r.Value...)
			case 'h':
				buf = appendHeaders(buf, r.Headers)
			case 'T':
				buf = strconv.AppendInt(buf, r.Timestamp.UnixMilli(), 10)
			case 'K':
				buf = strconv.AppendInt(buf, int64(len(r.Key)), 10)
			case 'S':
				buf = strconv.AppendInt(buf, int64(len(r.Value)), 10)
			}
		}
		return buf
	}
	if f.printOffset {
		buf = strconv.AppendInt(buf, int64(r.Partition), 10)
		buf = append(buf, '@')
		buf = strconv.AppendInt(buf, r.Offset, 10)
		buf = append(buf, f.sep...)
	}
	if f.printHeaders {
		buf = appendHeaders(buf, r.Headers)
		buf = append(buf, f.sep...)
	}
	if f.printKey {
		buf = append(buf, r.Key...)
		buf = append(buf, f.sep...)
	}
	buf = append(buf, r.Value...)
	return append(buf, '\n')
}

// appendHeaders renders headers as k=v,k2=v2.
func appendHeaders(buf []byte, hs []kgo.RecordHeader) []byte {
	for i, h := range hs {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, h.Key...)
		buf = append(buf, '=')
		buf = append(buf, h.Value...)
	}
	return buf
}

// ---- start positions ----

// parseFromTime parses --from-time: RFC 3339 or unix milliseconds.
func parseFromTime(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms < 0 {
			return 0, fmt.Errorf("invalid --from-time %q: unix milliseconds cannot be negative", s)
		}
		return ms, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UnixMilli(), nil
		}
	}
	return 0, fmt.Errorf("invalid --from-time %q: want RFC 3339 (e.g. 2024-05-01T12:00:00Z) or unix milliseconds (e.g. 1714564800000)", s)
}

// startMode says where consumption begins.
type startMode int

const (
	startEnd startMode = iota
	startBeginning
	startOffset
	startTime
)

// partitionBounds are one partition's log start and high watermark.
type partitionBounds struct{ start, end int64 }

// planStarts picks the first offset to read for every partition. offset is
// used for startOffset: non-negative means that absolute offset, negative
// means that many records before the end. timeOffsets (startTime) are the
// ListOffsets answers by timestamp; a partition missing there (or -1) has no
// record at or after the time, so it starts at its end. Offsets are clamped
// to [start, end].
func planStarts(bounds map[int32]partitionBounds, mode startMode, offset int64, timeOffsets map[int32]int64) map[int32]int64 {
	out := make(map[int32]int64, len(bounds))
	for p, b := range bounds {
		var at int64
		switch mode {
		case startBeginning:
			at = b.start
		case startEnd:
			at = b.end
		case startOffset:
			at = offset
			if offset < 0 {
				at = b.end + offset
			}
		case startTime:
			at = b.end
			if o, ok := timeOffsets[p]; ok && o >= 0 {
				at = o
			}
		}
		at = max(at, b.start)
		at = min(at, b.end)
		out[p] = at
	}
	return out
}

// progress tracks, for consumption without --follow, which partitions still
// have records below the high watermark seen at start.
type progress struct {
	mu      sync.Mutex
	pending map[int32]int64 // partition -> end offset to reach
}

func newProgress() *progress { return &progress{pending: map[int32]int64{}} }

// add starts tracking p, which must be read from at up to end.
func (pr *progress) add(p int32, at, end int64) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if at < end {
		pr.pending[p] = end
	} else {
		delete(pr.pending, p)
	}
}

func (pr *progress) remove(p int32) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	delete(pr.pending, p)
}

// saw notes a record and reports whether it is below the partition's end
// (records past the end of a finished partition are not printed).
func (pr *progress) saw(p int32, offset int64) bool {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	end, ok := pr.pending[p]
	if !ok {
		return false
	}
	if offset+1 >= end {
		delete(pr.pending, p)
	}
	return offset < end
}

func (pr *progress) done() bool {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return len(pr.pending) == 0
}

// ---- command ----

type consumeOptions struct {
	fromBeginning bool
	offset        int64
	fromTime      string
	partition     int32
	group         string
	maxMessages   int
	format        string
	printKey      bool
	printOffset   bool
	printHeaders  bool
	separator     string
	follow        bool

	offsetSet bool
	timeSet   bool
}

// validate checks flag combinations before anything talks to a broker.
func (o *consumeOptions) validate() (startMode, int64, error) {
	n := 0
	for _, b := range []bool{o.fromBeginning, o.offsetSet, o.timeSet} {
		if b {
			n++
		}
	}
	if n > 1 {
		return 0, 0, errors.New("--from-beginning, --offset and --from-time are exclusive: give at most one")
	}
	if o.maxMessages < 0 {
		return 0, 0, fmt.Errorf("invalid --max-messages %d", o.maxMessages)
	}
	if o.partition < -1 {
		return 0, 0, fmt.Errorf("invalid --partition %d", o.partition)
	}
	if o.group != "" {
		switch {
		case o.offsetSet:
			return 0, 0, errors.New("--offset cannot be used with --group: a group resumes from its committed offsets")
		case o.timeSet:
			return 0, 0, errors.New("--from-time cannot be used with --group: a group resumes from its committed offsets")
		case o.partition >= 0:
			return 0, 0, errors.New("--partition cannot be used with --group: the group assigns partitions")
		}
	}
	switch {
	case o.fromBeginning:
		return startBeginning, 0, nil
	case o.offsetSet:
		return startOffset, o.offset, nil
	case o.timeSet:
		ms, err := parseFromTime(o.fromTime)
		return startTime, ms, err
	}
	return startEnd, 0, nil
}

func newConsumeCmd() *cobra.Command {
	var o consumeOptions
	cmd := &cobra.Command{
		Use:   "consume TOPIC",
		Short: "Print records from a topic",
		Long: `Read records from a topic and print them, by default one value per line.

Where to start (at most one; default: the end of each partition):
  --from-beginning    the log start of every partition
  --offset N          offset N of every partition (or of --partition P);
                      a negative N means N records before the end
  --from-time T       the first record at or after T (RFC 3339 or unix ms)
  --group G           consume as member G of a consumer group: resume from the
                      group's committed offsets (or the end, or the beginning
                      with --from-beginning, if it has none) and commit as it goes

Without --follow the command exits once it has read up to the high watermark
each partition had at start (like kcat -e); with --follow it keeps waiting for
new records. Ctrl-C exits cleanly (a group member leaves its group).

Output (--format):
  text (default)  the value; --print-offset, --print-headers and --print-key
                  prefix partition@offset, k=v,k=v headers and the key, each
                  followed by --separator (a tab by default)
  json            one object per line: {"topic","partition","offset",
                  "timestamp" (unix ms),"key","value","headers":[{"key","value"}]};
                  keys/values that are not UTF-8 are base64 with
                  "key_encoding"/"value_encoding": "base64"
  a template      with %t topic, %p partition, %o offset, %k key, %s value,
                  %h headers, %T timestamp (unix ms), %K key size, %S value size,
                  %% a percent sign, and \n \t escapes; a newline ends each record`,
		Example: `  strata consume events --from-beginning
  strata consume events --from-beginning -n 10 --print-key --print-offset
  strata consume events --partition 2 --offset 1000 --format json
  strata consume events --from-time 2024-05-01T12:00:00Z --format '%p@%o %k=%s'
  strata consume events --group audit --follow`,
		Args: cobra.ExactArgs(1),
	}
	cf := addClientFlags(cmd)
	f := cmd.Flags()
	f.BoolVar(&o.fromBeginning, "from-beginning", false, "start at the log start of every partition")
	f.Int64Var(&o.offset, "offset", 0, "start at this offset (negative: this many records before the end)")
	f.StringVar(&o.fromTime, "from-time", "", "start at the first record at or after this time (RFC 3339 or unix ms)")
	f.Int32Var(&o.partition, "partition", -1, "read only this partition (-1 = all)")
	f.StringVar(&o.group, "group", "", "consume as a member of this consumer group, committing offsets")
	f.IntVarP(&o.maxMessages, "max-messages", "n", 0, "exit after this many records (0 = no limit)")
	f.StringVar(&o.format, "format", "text", "output: text, json, or a %-template (see above)")
	f.BoolVar(&o.printKey, "print-key", false, "text format: print the key before the value")
	f.BoolVar(&o.printOffset, "print-offset", false, "text format: print partition@offset first")
	f.BoolVar(&o.printHeaders, "print-headers", false, "text format: print headers as k=v,k=v")
	f.StringVar(&o.separator, "separator", "\t", "text format: what follows each printed field")
	f.BoolVar(&o.follow, "follow", false, "keep waiting for new records instead of exiting at the end")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		o.offsetSet = cmd.Flags().Changed("offset")
		o.timeSet = cmd.Flags().Changed("from-time")
		mode, arg, err := o.validate()
		if err != nil {
			return err
		}
		fm, err := newRecordFormatter(o.format, o.printKey, o.printOffset, o.printHeaders, o.separator)
		if err != nil {
			return err
		}
		ctx, cancel := commandContext(cmd)
		defer cancel()
		c := &consumer{cf: cf, opts: o, topic: args[0], fm: fm, out: cmd.OutOrStdout(), errOut: cmd.ErrOrStderr()}
		if o.group != "" {
			return c.runGroup(ctx)
		}
		return c.runDirect(ctx, mode, arg)
	}
	return cmd
}

type consumer struct {
	cf     *clientFlags
	opts   consumeOptions
	topic  string
	fm     *recordFormatter
	out    io.Writer
	errOut io.Writer

	printed int
	buf     []byte
}

// topicBounds checks the topic exists and lists its partitions' offsets.
func (c *consumer) topicBounds(ctx context.Context, adm *kadm.Client) (map[int32]partitionBounds, error) {
	ctx, cancel := withTimeout(ctx, c.cf.timeout)
	defer cancel()
	details, err := adm.ListTopics(ctx, c.topic)
	if err != nil {
		return nil, c.cf.wrap(fmt.Sprintf("consume topic %q", c.topic), err)
	}
	d, ok := details[c.topic]
	if !ok {
		return nil, fmt.Errorf("consume topic %q: not in the broker's metadata", c.topic)
	}
	if d.Err != nil {
		return nil, fmt.Errorf("consume topic %q: %s", c.topic, kafkaErrString(d.Err, ""))
	}
	if c.opts.partition >= 0 {
		if _, ok := d.Partitions[c.opts.partition]; !ok {
			return nil, fmt.Errorf("consume topic %q: no partition %d (the topic has %d partitions)", c.topic, c.opts.partition, len(d.Partitions))
		}
	}
	starts, err := adm.ListStartOffsets(ctx, c.topic)
	if err != nil {
		return nil, c.cf.wrap(fmt.Sprintf("list start offsets of topic %q", c.topic), err)
	}
	ends, err := adm.ListEndOffsets(ctx, c.topic)
	if err != nil {
		return nil, c.cf.wrap(fmt.Sprintf("list end offsets of topic %q", c.topic), err)
	}
	bounds := map[int32]partitionBounds{}
	for p := range d.Partitions {
		if c.opts.partition >= 0 && p != c.opts.partition {
			continue
		}
		s, okS := starts.Lookup(c.topic, p)
		e, okE := ends.Lookup(c.topic, p)
		switch {
		case !okS || !okE:
			return nil, fmt.Errorf("consume topic %q: no offsets for partition %d", c.topic, p)
		case s.Err != nil:
			return nil, fmt.Errorf("consume topic %q partition %d: log start offset: %s", c.topic, p, kafkaErrString(s.Err, ""))
		case e.Err != nil:
			return nil, fmt.Errorf("consume topic %q partition %d: high watermark: %s", c.topic, p, kafkaErrString(e.Err, ""))
		}
		bounds[p] = partitionBounds{start: s.Offset, end: e.Offset}
	}
	return bounds, nil
}

// runDirect consumes the partitions directly, without a group.
func (c *consumer) runDirect(ctx context.Context, mode startMode, arg int64) error {
	adm, err := c.cf.newAdmin()
	if err != nil {
		return err
	}
	defer adm.Close()
	bounds, err := c.topicBounds(ctx, adm)
	if err != nil {
		return err
	}
	var timeOffsets map[int32]int64
	if mode == startTime {
		tctx, cancel := withTimeout(ctx, c.cf.timeout)
		listed, err := adm.ListOffsetsAfterMilli(tctx, arg, c.topic)
		cancel()
		if err != nil {
			return c.cf.wrap(fmt.Sprintf("list offsets by time of topic %q", c.topic), err)
		}
		timeOffsets = map[int32]int64{}
		listed.Each(func(lo kadm.ListedOffset) {
			if lo.Err == nil {
				timeOffsets[lo.Partition] = lo.Offset
			}
		})
	}
	starts := planStarts(bounds, mode, arg, timeOffsets)
	pr := newProgress()
	assign := map[int32]kgo.Offset{}
	for p, at := range starts {
		pr.add(p, at, bounds[p].end)
		assign[p] = kgo.NewOffset().At(at)
	}
	if !c.opts.follow && pr.done() {
		if mode == startEnd {
			fmt.Fprintf(c.errOut, "strata: nothing to read: consumption starts at the end of topic %q (use --from-beginning or --follow)\n", c.topic)
		}
		return nil
	}
	cl, err := c.cf.newClient(
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{c.topic: assign}),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.KeepControlRecords(),
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	return c.loop(ctx, cl, pr, true, func() (bool, error) { return true, nil })
}

// runGroup consumes as a member of --group.
func (c *consumer) runGroup(ctx context.Context) error {
	adm, err := c.cf.newAdmin()
	if err != nil {
		return err
	}
	defer adm.Close()
	if _, err := c.topicBounds(ctx, adm); err != nil {
		return err
	}
	reset := kgo.NewOffset().AtEnd()
	if c.opts.fromBeginning {
		reset = kgo.NewOffset().AtStart()
	}
	pr := newProgress()
	var (
		mu        sync.Mutex
		assigned  bool // the group has assigned us partitions at least once
		assignErr error
	)
	onAssigned := func(actx context.Context, _ *kgo.Client, a map[string][]int32) {
		var err error
		if !c.opts.follow && len(a[c.topic]) > 0 {
			err = c.trackAssigned(actx, adm, pr, a[c.topic])
		}
		mu.Lock()
		defer mu.Unlock()
		assigned = true
		if err != nil && assignErr == nil {
			assignErr = err
		}
	}
	onRevoked := func(rctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
		// Overriding the revoke callback means committing here ourselves.
		if err := cl.CommitUncommittedOffsets(rctx); err != nil && rctx.Err() == nil {
			fmt.Fprintf(c.errOut, "strata: committing offsets of group %q: %s\n", c.opts.group, kafkaErrString(err, ""))
		}
		for _, p := range revoked[c.topic] {
			pr.remove(p)
		}
	}
	onLost := func(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
		for _, p := range lost[c.topic] {
			pr.remove(p)
		}
	}
	cl, err := c.cf.newClient(
		kgo.ConsumerGroup(c.opts.group),
		kgo.ConsumeTopics(c.topic),
		kgo.ConsumeResetOffset(reset),
		kgo.OnPartitionsAssigned(onAssigned),
		kgo.OnPartitionsRevoked(onRevoked),
		kgo.OnPartitionsLost(onLost),
		kgo.KeepControlRecords(),
	)
	if err != nil {
		return err
	}
	defer func() {
		// Commit what was printed and leave the group, even after Ctrl-C.
		cctx, cancel := context.WithTimeout(context.Background(), c.cf.timeout)
		defer cancel()
		if err := cl.CommitUncommittedOffsets(cctx); err != nil {
			fmt.Fprintf(c.errOut, "strata: committing offsets of group %q: %s\n", c.opts.group, kafkaErrString(err, ""))
		}
		_ = cl.LeaveGroupContext(cctx)
		cl.Close()
	}()
	err = c.loop(ctx, cl, pr, false, func() (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		return assigned, assignErr
	})
	return err
}

// trackAssigned works out, for newly assigned partitions, where the group
// will start and the high watermark to reach.
func (c *consumer) trackAssigned(ctx context.Context, adm *kadm.Client, pr *progress, parts []int32) error {
	ctx, cancel := withTimeout(ctx, c.cf.timeout)
	defer cancel()
	bounds, err := c.topicBounds(ctx, adm)
	if err != nil {
		return err
	}
	committed, err := adm.FetchOffsetsForTopics(ctx, c.opts.group, c.topic)
	if err != nil {
		return c.cf.wrap(fmt.Sprintf("fetch committed offsets of group %q", c.opts.group), err)
	}
	for _, p := range parts {
		b, ok := bounds[p]
		if !ok {
			continue
		}
		at := b.end
		if c.opts.fromBeginning {
			at = b.start
		}
		if o, ok := committed.Lookup(c.topic, p); ok && o.Err == nil && o.At >= 0 {
			at = o.At
		}
		pr.add(p, at, b.end)
	}
	return nil
}

// pollInterval bounds one poll without --follow, so the end is noticed even
// when no records arrive.
const pollInterval = 250 * time.Millisecond

// loop polls and prints until every partition reached its end (without
// --follow), the record limit, or Ctrl-C. ready reports whether the
// partitions to read are known yet (a group member must be assigned first)
// and any error found while learning them. filterPastEnd drops records past
// a partition's starting high watermark.
func (c *consumer) loop(ctx context.Context, cl *kgo.Client, pr *progress, filterPastEnd bool, ready func() (bool, error)) error {
	for {
		if c.opts.maxMessages > 0 && c.printed >= c.opts.maxMessages {
			return nil
		}
		if !c.opts.follow {
			ok, err := ready()
			if err != nil {
				return err
			}
			if ok && pr.done() {
				return nil
			}
		}
		limit := 0
		if c.opts.maxMessages > 0 {
			limit = c.opts.maxMessages - c.printed
		}
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if !c.opts.follow {
			pctx, cancel = context.WithTimeout(ctx, pollInterval)
		}
		fetches := cl.PollRecords(pctx, limit)
		cancel()
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return nil // Ctrl-C: a clean exit
		}
		if err := c.fetchError(fetches); err != nil {
			return err
		}
		c.buf = c.buf[:0]
		for r := range fetches.RecordsAll() {
			if !c.opts.follow {
				if below := pr.saw(r.Partition, r.Offset); filterPastEnd && !below {
					continue
				}
			}
			// Control records (a leader change's first entry, transaction
			// markers) are kept only so that a partition whose log ends with
			// one reaches its end.
			if r.Attrs.IsControl() {
				continue
			}
			if c.opts.maxMessages > 0 && c.printed >= c.opts.maxMessages {
				break
			}
			c.buf = c.fm.format(c.buf, r)
			c.printed++
		}
		if len(c.buf) > 0 {
			if _, err := c.out.Write(c.buf); err != nil {
				return fmt.Errorf("writing output: %w", err)
			}
		}
	}
}

// fetchError returns the first real error in fetches; context errors from
// our own poll timeouts are not errors.
func (c *consumer) fetchError(fetches kgo.Fetches) error {
	var first error
	fetches.EachError(func(t string, p int32, err error) {
		if first != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return
		}
		if t == "" {
			first = fmt.Errorf("consume topic %q: %s", c.topic, kafkaErrString(err, ""))
			return
		}
		first = fmt.Errorf("consume topic %q partition %d: %s", t, p, kafkaErrString(err, ""))
	})
	return first
}
