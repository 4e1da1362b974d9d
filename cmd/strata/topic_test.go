package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestTopicConfigMap(t *testing.T) {
	m, err := topicConfigMap([]string{"retention.ms=1000", "cleanup.policy=compact"})
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 || *m["retention.ms"] != "1000" || *m["cleanup.policy"] != "compact" {
		t.Errorf("got %v", m)
	}
	if m, err := topicConfigMap(nil); m != nil || err != nil {
		t.Errorf("empty: %v %v", m, err)
	}
	if _, err := topicConfigMap([]string{"retention.ms"}); err == nil || !strings.Contains(err.Error(), "want key=value") {
		t.Errorf("bad: %v", err)
	}
}

func TestAlterConfigList(t *testing.T) {
	got, err := alterConfigList([]string{"retention.ms=5", "segment.ms=7"}, []string{"cleanup.policy", "cleanup.policy"})
	if err != nil {
		t.Fatal(err)
	}
	want := []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("5")},
		{Op: kadm.SetConfig, Name: "segment.ms", Value: kadm.StringPtr("7")},
		{Op: kadm.DeleteConfig, Name: "cleanup.policy"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d ops, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Op != w.Op || g.Name != w.Name || (g.Value == nil) != (w.Value == nil) || (g.Value != nil && *g.Value != *w.Value) {
			t.Errorf("op %d = %+v, want %+v", i, g, w)
		}
	}
	for _, tc := range []struct {
		sets, deletes []string
		err           string
	}{
		{[]string{"a=1"}, []string{"a"}, `config "a" is both set with --config and removed with --delete-config`},
		{nil, []string{"a=1"}, `invalid --delete-config "a=1"`},
		{nil, []string{""}, `invalid --delete-config ""`},
		{[]string{"novalue"}, nil, `invalid --config "novalue"`},
	} {
		if _, err := alterConfigList(tc.sets, tc.deletes); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("alterConfigList(%q, %q) error = %v, want %q", tc.sets, tc.deletes, err, tc.err)
		}
	}
}

// Bad topic flags are rejected before anything talks to a broker.
func TestTopicFlagErrors(t *testing.T) {
	clearStrataEnv(t)
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"topic", "create", "t", "--partitions", "0"}, "invalid --partitions 0: must be at least 1"},
		{[]string{"topic", "create", "t", "--replication-factor", "0"}, "invalid --replication-factor 0"},
		{[]string{"topic", "create", "t", "--config", "retention.ms"}, `invalid --config "retention.ms": want key=value`},
		{[]string{"topic", "create"}, "requires at least 1 arg"},
		{[]string{"topic", "alter", "t"}, "nothing to change: give --config, --delete-config or --partitions"},
		{[]string{"topic", "alter", "t", "--partitions", "0"}, "invalid --partitions 0"},
		{[]string{"topic", "describe"}, "requires at least 1 arg"},
		{[]string{"topic", "delete"}, "requires at least 1 arg"},
		{[]string{"topic", "list", "extra"}, "unknown command"},
	} {
		_, _, err := runCLI(t, "", tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%v: error = %v, want containing %q", tc.args, err, tc.err)
		}
	}
}

func TestWriteTopicList(t *testing.T) {
	details := kadm.TopicDetails{
		"orders": {Topic: "orders", Partitions: kadm.PartitionDetails{
			0: {Partition: 0, Replicas: []int32{1, 2, 3}},
			1: {Partition: 1, Replicas: []int32{2, 3, 1}},
		}},
		"a":      {Topic: "a", Partitions: kadm.PartitionDetails{0: {Partition: 0, Replicas: []int32{1}}}},
		"broken": {Topic: "broken", Err: kerr.UnknownTopicOrPartition},
	}
	var buf bytes.Buffer
	writeTopicList(&buf, details)
	want := `NAME    PARTITIONS  REPLICATION-FACTOR
a       1           1
broken  -           -  (UNKNOWN_TOPIC_OR_PARTITION: This server does not host this topic-partition.)
orders  2           3
`
	if buf.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestWriteTopicDescription(t *testing.T) {
	d := topicDescription{
		Detail: kadm.TopicDetail{Topic: "orders", Partitions: kadm.PartitionDetails{
			1: {Partition: 1, Leader: -1, LeaderEpoch: 3, Replicas: []int32{2, 1}, ISR: []int32{2}, Err: kerr.LeaderNotAvailable},
			0: {Partition: 0, Leader: 1, LeaderEpoch: 7, Replicas: []int32{1, 2}, ISR: []int32{1, 2}},
		}},
		Start: map[int32]kadm.ListedOffset{0: {Offset: 10}, 1: {Offset: 0}},
		End:   map[int32]kadm.ListedOffset{0: {Offset: 42}, 1: {Err: kerr.LeaderNotAvailable}},
		Configs: []kadm.Config{
			{Key: "retention.ms", Value: kadm.StringPtr("86400000"), Source: kmsg.ConfigSourceDynamicTopicConfig},
			{Key: "cleanup.policy", Value: kadm.StringPtr("delete"), Source: kmsg.ConfigSourceDefaultConfig},
			{Key: "password", Sensitive: true, Source: kmsg.ConfigSourceDynamicBrokerConfig},
			{Key: "unset.thing", Source: kmsg.ConfigSourceDefaultConfig},
			{Key: "empty", Value: kadm.StringPtr(""), Source: kmsg.ConfigSourceStaticBrokerConfig},
		},
	}
	var buf bytes.Buffer
	writeTopicDescription(&buf, d)
	want := `Topic: orders
Partitions: 2
Replication factor: 2

PARTITION  LEADER  EPOCH  REPLICAS  ISR  LOG-START  HIGH-WATERMARK
0          1       7      1,2       1,2  10         42
1          none    3      2,1       2    0          ?  (LEADER_NOT_AVAILABLE: There is no leader for this topic-partition as we are in the middle of a leadership election.)

CONFIG          VALUE        SOURCE
cleanup.policy  delete       default
empty           ""           broker config file
password        (sensitive)  broker
retention.ms    86400000     topic
`
	if buf.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", buf.String(), want)
	}

	buf.Reset()
	d.Configs, d.ConfigErr = nil, errors.New("TOPIC_AUTHORIZATION_FAILED")
	writeTopicDescription(&buf, d)
	if !strings.HasSuffix(buf.String(), "\nConfigs: unavailable: TOPIC_AUTHORIZATION_FAILED\n") {
		t.Errorf("config error not shown:\n%s", buf.String())
	}
}

func TestConfigSourceLabel(t *testing.T) {
	for s, want := range map[kmsg.ConfigSource]string{
		kmsg.ConfigSourceDynamicTopicConfig:         "topic",
		kmsg.ConfigSourceDefaultConfig:              "default",
		kmsg.ConfigSourceDynamicDefaultBrokerConfig: "cluster default",
		kmsg.ConfigSourceDynamicBrokerLoggerConfig:  "dynamic_broker_logger_config",
	} {
		if got := configSourceLabel(s); got != want {
			t.Errorf("configSourceLabel(%v) = %q, want %q", s, got, want)
		}
	}
}

func TestJoinFailures(t *testing.T) {
	if joinFailures("create", nil) != nil {
		t.Error("no failures should be nil")
	}
	if err := joinFailures("create", []string{`topic "a": boom`}); err.Error() != `create failed: topic "a": boom` {
		t.Errorf("one: %q", err)
	}
	if err := joinFailures("delete", []string{"x", "y"}); err.Error() != "delete failed for 2 items:\n  x\n  y" {
		t.Errorf("two: %q", err)
	}
}
