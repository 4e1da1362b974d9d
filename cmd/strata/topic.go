package main

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func newTopicCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "topic",
		Short: "Create, list, describe, alter and delete topics",
		Long: `Manage topics on any Kafka-compatible cluster (Strata or otherwise).

Every subcommand takes --brokers (default 127.0.0.1:9092) and --timeout.`,
		Example: `  strata topic create orders --partitions 6 --config retention.ms=86400000
  strata topic list
  strata topic describe orders
  strata topic alter orders --partitions 12 --config retention.ms=3600000
  strata topic delete orders`,
	}
	cmd.AddCommand(newTopicCreateCmd(), newTopicListCmd(), newTopicDescribeCmd(),
		newTopicDeleteCmd(), newTopicAlterCmd())
	return cmd
}

// ---- create ----

func newTopicCreateCmd() *cobra.Command {
	var (
		partitions   int32
		replication  int16
		configs      []string
		ifNotExists  bool
		validateOnly bool
	)
	cmd := &cobra.Command{
		Use:   "create NAME...",
		Short: "Create one or more topics",
		Long: `Create topics with the given partition count, replication factor and topic
configs. --replication-factor -1 (the default) lets the broker choose.

Note: on this command --config sets a topic config (key=value, repeatable),
not the YAML settings file; name that file with STRATA_CONFIG instead (it is
read only when no --config is given).`,
		Example: `  strata topic create orders
  strata topic create orders --partitions 6 --config retention.ms=86400000 --config cleanup.policy=compact
  strata topic create orders --if-not-exists
  strata topic create orders --partitions 6 --validate-only`,
		Args: cobra.MinimumNArgs(1),
	}
	cf := addClientFlags(cmd)
	cmd.Flags().Int32Var(&partitions, "partitions", 1, "number of partitions")
	cmd.Flags().Int16Var(&replication, "replication-factor", -1, "replicas per partition (-1 = broker default)")
	cmd.Flags().StringArrayVar(&configs, "config", nil, "topic config as key=value (repeatable)")
	cmd.Flags().BoolVar(&ifNotExists, "if-not-exists", false, "succeed if the topic already exists")
	cmd.Flags().BoolVar(&validateOnly, "validate-only", false, "ask the broker to check the request without creating anything")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if partitions < 1 && partitions != -1 {
			return fmt.Errorf("invalid --partitions %d: must be at least 1", partitions)
		}
		if replication < 1 && replication != -1 {
			return fmt.Errorf("invalid --replication-factor %d: must be at least 1, or -1 for the broker default", replication)
		}
		cfgs, err := topicConfigMap(configs)
		if err != nil {
			return err
		}
		adm, err := cf.newAdmin()
		if err != nil {
			return err
		}
		defer adm.Close()
		ctx, cancel := commandContext(cmd)
		defer cancel()
		ctx, cancelT := withTimeout(ctx, cf.timeout)
		defer cancelT()

		var resps kadm.CreateTopicResponses
		if validateOnly {
			resps, err = adm.ValidateCreateTopics(ctx, partitions, replication, cfgs, args...)
		} else {
			resps, err = adm.CreateTopics(ctx, partitions, replication, cfgs, args...)
		}
		if err != nil {
			return cf.wrap("create topic "+quoteList(args), err)
		}
		out := cmd.OutOrStdout()
		var failed []string
		for _, name := range args {
			r, ok := resps[name]
			if !ok {
				failed = append(failed, fmt.Sprintf("topic %q: no answer from the broker", name))
				continue
			}
			switch {
			case r.Err == nil:
				verb := "created"
				if validateOnly {
					verb = "validated (not created)"
				}
				fmt.Fprintf(out, "%s topic %q%s\n", verb, name, createdSuffix(r))
			case ifNotExists && isKafkaErr(r.Err, kerr.TopicAlreadyExists):
				fmt.Fprintf(out, "topic %q already exists\n", name)
			default:
				failed = append(failed, fmt.Sprintf("topic %q: %s", name, kafkaErrString(r.Err, r.ErrMessage)))
			}
		}
		return joinFailures("create", failed)
	}
	return cmd
}

func createdSuffix(r kadm.CreateTopicResponse) string {
	if r.NumPartitions <= 0 {
		return ""
	}
	rf := fmt.Sprint(r.ReplicationFactor)
	if r.ReplicationFactor <= 0 {
		rf = "broker default"
	}
	return fmt.Sprintf(" (partitions %d, replication factor %s)", r.NumPartitions, rf)
}

// topicConfigMap parses --config k=v values into what CreateTopics wants.
func topicConfigMap(items []string) (map[string]*string, error) {
	kv, _, err := parseKeyValues("config", items)
	if err != nil {
		return nil, err
	}
	if len(kv) == 0 {
		return nil, nil
	}
	out := make(map[string]*string, len(kv))
	for k, v := range kv {
		out[k] = kadm.StringPtr(v)
	}
	return out, nil
}

// ---- list ----

func newTopicListCmd() *cobra.Command {
	var internal bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List topics with their partition count and replication factor",
		Example: `  strata topic list
  strata topic list --brokers broker-1:9092,broker-2:9092`,
		Args: cobra.NoArgs,
	}
	cf := addClientFlags(cmd)
	cmd.Flags().BoolVar(&internal, "internal", false, "also list internal topics (e.g. __consumer_offsets)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		adm, err := cf.newAdmin()
		if err != nil {
			return err
		}
		defer adm.Close()
		ctx, cancel := commandContext(cmd)
		defer cancel()
		ctx, cancelT := withTimeout(ctx, cf.timeout)
		defer cancelT()
		var details kadm.TopicDetails
		if internal {
			details, err = adm.ListTopicsWithInternal(ctx)
		} else {
			details, err = adm.ListTopics(ctx)
		}
		if err != nil {
			return cf.wrap("list topics", err)
		}
		writeTopicList(cmd.OutOrStdout(), details)
		return nil
	}
	return cmd
}

// writeTopicList prints NAME / PARTITIONS / REPLICATION-FACTOR, sorted by name.
func writeTopicList(w io.Writer, details kadm.TopicDetails) {
	tw := newTable(w)
	fmt.Fprintln(tw, "NAME\tPARTITIONS\tREPLICATION-FACTOR")
	for _, d := range details.Sorted() {
		if d.Err != nil {
			fmt.Fprintf(tw, "%s\t-\t-\t(%s)\n", d.Topic, kafkaErrString(d.Err, ""))
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\n", d.Topic, len(d.Partitions), d.Partitions.NumReplicas())
	}
	tw.Flush()
}

// ---- describe ----

// topicDescription is everything "topic describe" prints for one topic.
type topicDescription struct {
	Detail    kadm.TopicDetail
	Start     map[int32]kadm.ListedOffset
	End       map[int32]kadm.ListedOffset
	Configs   []kadm.Config
	ConfigErr error
}

func newTopicDescribeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "describe NAME...",
		Short: "Show partitions, leaders, offsets and configs of topics",
		Long: `For each topic print its partitions (leader, leader epoch, replicas, in-sync
replicas, log start offset and high watermark) and its configs with where each
value comes from ("default" marks values nobody set).`,
		Example: `  strata topic describe orders
  strata topic describe orders payments`,
		Args: cobra.MinimumNArgs(1),
	}
	cf := addClientFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		adm, err := cf.newAdmin()
		if err != nil {
			return err
		}
		defer adm.Close()
		ctx, cancel := commandContext(cmd)
		defer cancel()
		ctx, cancelT := withTimeout(ctx, cf.timeout)
		defer cancelT()

		details, err := adm.ListTopics(ctx, args...)
		if err != nil {
			return cf.wrap("describe topic "+quoteList(args), err)
		}
		var failed []string
		var ok []string
		for _, name := range args {
			d, found := details[name]
			switch {
			case !found:
				failed = append(failed, fmt.Sprintf("topic %q: not in the broker's metadata", name))
			case d.Err != nil:
				failed = append(failed, fmt.Sprintf("topic %q: %s", name, kafkaErrString(d.Err, "")))
			default:
				ok = append(ok, name)
			}
		}
		var starts, ends kadm.ListedOffsets
		var rcs kadm.ResourceConfigs
		if len(ok) > 0 {
			if starts, err = adm.ListStartOffsets(ctx, ok...); err != nil {
				return cf.wrap("list start offsets of "+quoteList(ok), err)
			}
			if ends, err = adm.ListEndOffsets(ctx, ok...); err != nil {
				return cf.wrap("list end offsets of "+quoteList(ok), err)
			}
			rcs, err = adm.DescribeTopicConfigs(ctx, ok...)
			if err != nil {
				// Offsets and partitions are still worth printing.
				rcs = nil
				failed = append(failed, cf.wrap("describe configs of "+quoteList(ok), err).Error())
			}
		}
		out := cmd.OutOrStdout()
		for i, name := range ok {
			if i > 0 {
				fmt.Fprintln(out)
			}
			desc := topicDescription{Detail: details[name], Start: starts[name], End: ends[name]}
			for _, rc := range rcs {
				if rc.Name == name {
					desc.Configs = rc.Configs
					if rc.Err != nil {
						desc.ConfigErr = errors.New(kafkaErrString(rc.Err, rc.ErrMessage))
					}
				}
			}
			writeTopicDescription(out, desc)
		}
		return joinFailures("describe", failed)
	}
	return cmd
}

// writeTopicDescription prints one topic's description.
func writeTopicDescription(w io.Writer, d topicDescription) {
	t := d.Detail
	fmt.Fprintf(w, "Topic: %s\n", t.Topic)
	if t.ID != (kadm.TopicID{}) {
		fmt.Fprintf(w, "ID: %s\n", t.ID)
	}
	if t.IsInternal {
		fmt.Fprintln(w, "Internal: true")
	}
	fmt.Fprintf(w, "Partitions: %d\nReplication factor: %d\n\n", len(t.Partitions), t.Partitions.NumReplicas())

	tw := newTable(w)
	fmt.Fprintln(tw, "PARTITION\tLEADER\tEPOCH\tREPLICAS\tISR\tLOG-START\tHIGH-WATERMARK")
	for _, p := range t.Partitions.Sorted() {
		leader := "none"
		if p.Leader >= 0 {
			leader = fmt.Sprint(p.Leader)
		}
		line := fmt.Sprintf("%d\t%s\t%d\t%s\t%s\t%s\t%s", p.Partition, leader, p.LeaderEpoch,
			joinInt32s(p.Replicas), joinInt32s(p.ISR), listedOffsetCell(d.Start, p.Partition), listedOffsetCell(d.End, p.Partition))
		if p.Err != nil {
			line += "\t(" + kafkaErrString(p.Err, "") + ")"
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()

	fmt.Fprintln(w)
	switch {
	case d.ConfigErr != nil:
		fmt.Fprintf(w, "Configs: unavailable: %v\n", d.ConfigErr)
		return
	case len(d.Configs) == 0:
		fmt.Fprintln(w, "Configs: none reported")
		return
	}
	tw = newTable(w)
	fmt.Fprintln(tw, "CONFIG\tVALUE\tSOURCE")
	configs := append([]kadm.Config(nil), d.Configs...)
	sort.Slice(configs, func(i, j int) bool { return configs[i].Key < configs[j].Key })
	for _, c := range configs {
		val := c.MaybeValue()
		switch {
		case c.Sensitive:
			val = "(sensitive)"
		case c.Value == nil:
			continue // not set anywhere
		case val == "":
			val = `""`
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Key, val, configSourceLabel(c.Source))
	}
	tw.Flush()
}

func listedOffsetCell(m map[int32]kadm.ListedOffset, p int32) string {
	o, ok := m[p]
	if !ok || o.Err != nil {
		return "?"
	}
	return fmt.Sprint(o.Offset)
}

// configSourceLabel says where a config value comes from; "default" marks
// values that nobody set.
func configSourceLabel(s kmsg.ConfigSource) string {
	switch s {
	case kmsg.ConfigSourceDynamicTopicConfig:
		return "topic"
	case kmsg.ConfigSourceDynamicBrokerConfig:
		return "broker"
	case kmsg.ConfigSourceDynamicDefaultBrokerConfig:
		return "cluster default"
	case kmsg.ConfigSourceStaticBrokerConfig:
		return "broker config file"
	case kmsg.ConfigSourceDefaultConfig:
		return "default"
	default:
		return strings.ToLower(s.String())
	}
}

// ---- delete ----

func newTopicDeleteCmd() *cobra.Command {
	var ifExists bool
	cmd := &cobra.Command{
		Use:     "delete NAME...",
		Aliases: []string{"rm"},
		Short:   "Delete topics and all their data",
		Example: `  strata topic delete orders
  strata topic delete orders payments --if-exists`,
		Args: cobra.MinimumNArgs(1),
	}
	cf := addClientFlags(cmd)
	cmd.Flags().BoolVar(&ifExists, "if-exists", false, "succeed if a topic does not exist")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		adm, err := cf.newAdmin()
		if err != nil {
			return err
		}
		defer adm.Close()
		ctx, cancel := commandContext(cmd)
		defer cancel()
		ctx, cancelT := withTimeout(ctx, cf.timeout)
		defer cancelT()
		resps, err := adm.DeleteTopics(ctx, args...)
		if err != nil {
			return cf.wrap("delete topic "+quoteList(args), err)
		}
		out := cmd.OutOrStdout()
		var failed []string
		for _, name := range args {
			r, ok := resps[name]
			switch {
			case !ok:
				failed = append(failed, fmt.Sprintf("topic %q: no answer from the broker", name))
			case r.Err == nil:
				fmt.Fprintf(out, "deleted topic %q\n", name)
			case ifExists && isKafkaErr(r.Err, kerr.UnknownTopicOrPartition):
				fmt.Fprintf(out, "topic %q does not exist\n", name)
			default:
				failed = append(failed, fmt.Sprintf("topic %q: %s", name, kafkaErrString(r.Err, r.ErrMessage)))
			}
		}
		return joinFailures("delete", failed)
	}
	return cmd
}

// ---- alter ----

func newTopicAlterCmd() *cobra.Command {
	var (
		configs    []string
		deletes    []string
		partitions int
	)
	cmd := &cobra.Command{
		Use:   "alter NAME...",
		Short: "Change topic configs or grow the partition count",
		Long: `Set configs (--config key=value), remove configs so they fall back to their
defaults (--delete-config key), and/or raise the partition count to
--partitions N (the new total; partitions can only be added).

Config changes use IncrementalAlterConfigs, so configs you do not name keep
their values. Note: on this command --config sets a topic config, not the
YAML settings file; name that file with STRATA_CONFIG instead (it is read only
when no --config is given).`,
		Example: `  strata topic alter orders --config retention.ms=3600000
  strata topic alter orders --delete-config retention.ms
  strata topic alter orders --partitions 12`,
		Args: cobra.MinimumNArgs(1),
	}
	cf := addClientFlags(cmd)
	cmd.Flags().StringArrayVar(&configs, "config", nil, "set a topic config, key=value (repeatable)")
	cmd.Flags().StringArrayVar(&deletes, "delete-config", nil, "remove a topic config so the default applies (repeatable)")
	cmd.Flags().IntVar(&partitions, "partitions", 0, "grow every named topic to this many partitions in total")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		alters, err := alterConfigList(configs, deletes)
		if err != nil {
			return err
		}
		if cmd.Flags().Changed("partitions") && partitions < 1 {
			return fmt.Errorf("invalid --partitions %d: must be at least 1", partitions)
		}
		if len(alters) == 0 && partitions == 0 {
			return errors.New("nothing to change: give --config, --delete-config or --partitions")
		}
		adm, err := cf.newAdmin()
		if err != nil {
			return err
		}
		defer adm.Close()
		ctx, cancel := commandContext(cmd)
		defer cancel()
		ctx, cancelT := withTimeout(ctx, cf.timeout)
		defer cancelT()
		out := cmd.OutOrStdout()
		var failed []string

		if len(alters) > 0 {
			resps, err := adm.AlterTopicConfigs(ctx, alters, args...)
			if err != nil {
				return cf.wrap("alter configs of "+quoteList(args), err)
			}
			for _, name := range args {
				r, err := resps.On(name, nil)
				switch {
				case err != nil:
					failed = append(failed, fmt.Sprintf("topic %q: no answer from the broker", name))
				case r.Err != nil:
					failed = append(failed, fmt.Sprintf("topic %q: configs: %s", name, kafkaErrString(r.Err, r.ErrMessage)))
				default:
					fmt.Fprintf(out, "altered configs of topic %q\n", name)
				}
			}
		}
		if partitions > 0 {
			resps, err := adm.UpdatePartitions(ctx, partitions, args...)
			if err != nil {
				return cf.wrap("add partitions to "+quoteList(args), err)
			}
			for _, name := range args {
				r, ok := resps[name]
				switch {
				case !ok:
					failed = append(failed, fmt.Sprintf("topic %q: no answer from the broker", name))
				case r.Err != nil:
					failed = append(failed, fmt.Sprintf("topic %q: partitions: %s", name, kafkaErrString(r.Err, r.ErrMessage)))
				default:
					fmt.Fprintf(out, "topic %q now has %d partitions\n", name, partitions)
				}
			}
		}
		return joinFailures("alter", failed)
	}
	return cmd
}

// alterConfigList turns --config and --delete-config into incremental ops.
func alterConfigList(sets, deletes []string) ([]kadm.AlterConfig, error) {
	kv, order, err := parseKeyValues("config", sets)
	if err != nil {
		return nil, err
	}
	var out []kadm.AlterConfig
	for _, k := range order {
		out = append(out, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: kadm.StringPtr(kv[k])})
	}
	seen := map[string]bool{}
	for _, k := range deletes {
		k = strings.TrimSpace(k)
		if k == "" || strings.Contains(k, "=") {
			return nil, fmt.Errorf("invalid --delete-config %q: want a config name such as retention.ms", k)
		}
		if _, set := kv[k]; set {
			return nil, fmt.Errorf("config %q is both set with --config and removed with --delete-config", k)
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
	}
	return out, nil
}

// joinFailures turns per-item failures into one error (nil if none).
func joinFailures(verb string, failed []string) error {
	switch len(failed) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("%s failed: %s", verb, failed[0])
	default:
		return fmt.Errorf("%s failed for %d items:\n  %s", verb, len(failed), strings.Join(failed, "\n  "))
	}
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
