package meta_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/strata-log/strata/meta"
)

func TestValidateTopicConfig(t *testing.T) {
	cases := []struct {
		name, value string
		ok          bool
	}{
		{"retention.ms", "-1", true},
		{"retention.ms", "0", true},
		{"retention.ms", "604800000", true},
		{"retention.ms", "9223372036854775807", true},
		{"retention.ms", "-2", false},
		{"retention.ms", "1.5", false},
		{"retention.ms", "", false},
		{"retention.ms", "9223372036854775808", false},
		{"retention.bytes", "-1", true},
		{"retention.bytes", "1073741824", true},
		{"retention.bytes", "-2", false},
		{"cleanup.policy", "delete", true},
		{"cleanup.policy", "compact", true},
		{"cleanup.policy", "compact,delete", true},
		{"cleanup.policy", "delete,compact", true},
		{"cleanup.policy", "compact, delete", true},
		{"cleanup.policy", "", false},
		{"cleanup.policy", "Delete", false},
		{"cleanup.policy", "delete,delete", false},
		{"cleanup.policy", "compact,", false},
		{"cleanup.policy", "forever", false},
		{"segment.bytes", "14", true},
		{"segment.bytes", "67108864", true},
		{"segment.bytes", "2147483647", true},
		{"segment.bytes", "13", false},
		{"segment.bytes", "2147483648", false}, // int, not long
		{"segment.ms", "1", true},
		{"segment.ms", "0", false},
		{"max.message.bytes", "0", true},
		{"max.message.bytes", "1048588", true},
		{"max.message.bytes", "-1", false},
		{"message.timestamp.type", "CreateTime", true},
		{"message.timestamp.type", "LogAppendTime", true},
		{"message.timestamp.type", "createtime", false},
		{"compression.type", "producer", true},
		{"compression.type", "uncompressed", true},
		{"compression.type", "zstd", true},
		{"compression.type", "lz4", true},
		{"compression.type", "snappy", true},
		{"compression.type", "gzip", true},
		{"compression.type", "none", false},
		{"compression.type", "brotli", false},
		{"delete.retention.ms", "0", true},
		{"delete.retention.ms", "-1", false},
		{"min.compaction.lag.ms", "0", true},
		{"min.compaction.lag.ms", "-1", false},
		{"min.insync.replicas", "1", true},
		{"min.insync.replicas", "3", true},
		{"min.insync.replicas", "0", false},
		{"min.insync.replicas", "x", false},
	}
	for _, c := range cases {
		err := meta.ValidateTopicConfig(c.name, c.value)
		if c.ok && err != nil {
			t.Errorf("ValidateTopicConfig(%q, %q) = %v, want ok", c.name, c.value, err)
		}
		if !c.ok {
			if !errors.Is(err, meta.ErrInvalidConfig) {
				t.Errorf("ValidateTopicConfig(%q, %q) = %v, want ErrInvalidConfig", c.name, c.value, err)
			} else if !strings.Contains(err.Error(), c.name) {
				t.Errorf("error %q does not name the key %q", err, c.name)
			}
		}
	}

	err := meta.ValidateTopicConfig("retention.ms", "-2")
	if want := `invalid topic config: invalid value "-2" for retention.ms: value must be at least -1`; err == nil || err.Error() != want {
		t.Errorf("message = %q, want %q", err, want)
	}
	err = meta.ValidateTopicConfig("retention.hours", "1")
	if !errors.Is(err, meta.ErrUnknownConfig) || !strings.Contains(err.Error(), "retention.hours") {
		t.Errorf("unknown config: %v", err)
	}
	if errors.Is(err, meta.ErrInvalidConfig) {
		t.Error("unknown config also reported as invalid value")
	}

	if err := meta.ValidateTopicConfigs(map[string]string{"segment.ms": "0", "retention.ms": "-5"}); err == nil || !strings.Contains(err.Error(), "retention.ms") {
		t.Errorf("ValidateTopicConfigs reports %v, want the first key in name order", err)
	}
	if err := meta.ValidateTopicConfigs(nil); err != nil {
		t.Errorf("ValidateTopicConfigs(nil) = %v", err)
	}
}

func TestTopicConfigDefs(t *testing.T) {
	defs := meta.TopicConfigDefs()
	want := map[string]string{
		"cleanup.policy":         "delete",
		"compression.type":       "producer",
		"delete.retention.ms":    "86400000",
		"max.message.bytes":      "1048588",
		"message.timestamp.type": "CreateTime",
		"min.compaction.lag.ms":  "0",
		"min.insync.replicas":    "2",
		"retention.bytes":        "-1",
		"retention.ms":           "-1",
		"segment.bytes":          "67108864",
		"segment.ms":             "60000",
	}
	if len(defs) != len(want) {
		t.Fatalf("%d defs, want %d", len(defs), len(want))
	}
	if !slices.IsSortedFunc(defs, func(a, b meta.ConfigDef) int { return strings.Compare(a.Name, b.Name) }) {
		t.Fatal("TopicConfigDefs not sorted by name")
	}
	types := []string{"long", "int", "string", "list", "boolean", "double"}
	for _, d := range defs {
		if want[d.Name] != d.Default {
			t.Errorf("%s default = %q, want %q", d.Name, d.Default, want[d.Name])
		}
		if !slices.Contains(types, d.Type) || d.Doc == "" || d.Validate == nil {
			t.Errorf("%s: type %q doc %q validate %v", d.Name, d.Type, d.Doc, d.Validate != nil)
		}
		if err := meta.ValidateTopicConfig(d.Name, d.Default); err != nil {
			t.Errorf("default of %s invalid: %v", d.Name, err)
		}
		if got, ok := meta.LookupConfigDef(d.Name); !ok || got.Name != d.Name {
			t.Errorf("LookupConfigDef(%s) = %v", d.Name, ok)
		}
	}
	// The returned slice is a copy.
	defs[0].Default = "mutated"
	if meta.TopicConfigDefs()[0].Default == "mutated" {
		t.Fatal("TopicConfigDefs exposes internal state")
	}
	if _, ok := meta.LookupConfigDef("nope"); ok {
		t.Fatal("LookupConfigDef(nope) ok")
	}
}

func TestConfigAccessors(t *testing.T) {
	cfg := map[string]string{"retention.ms": "5000", "segment.bytes": " 1024 ", "cleanup.policy": "compact,delete"}
	for name, want := range map[string]int64{
		"retention.ms":        5000,
		"segment.bytes":       1024,
		"retention.bytes":     -1,
		"segment.ms":          60000,
		"min.insync.replicas": 2,
		"cleanup.policy":      0, // not numeric
		"unknown":             0,
	} {
		if got := meta.ConfigInt64(cfg, name); got != want {
			t.Errorf("ConfigInt64(%s) = %d, want %d", name, got, want)
		}
	}
	if got := meta.ConfigInt64(nil, "retention.ms"); got != -1 {
		t.Errorf("ConfigInt64(nil, retention.ms) = %d, want -1 (infinite)", got)
	}
	if got := meta.ConfigValue(cfg, "compression.type"); got != "producer" {
		t.Errorf("ConfigValue default = %q", got)
	}
	if got := meta.ConfigValue(cfg, "cleanup.policy"); got != "compact,delete" {
		t.Errorf("ConfigValue explicit = %q", got)
	}
	if del, cmp := meta.CleanupPolicy(cfg); !del || !cmp {
		t.Errorf("CleanupPolicy(compact,delete) = %v,%v", del, cmp)
	}
	if del, cmp := meta.CleanupPolicy(nil); !del || cmp {
		t.Errorf("CleanupPolicy(default) = %v,%v", del, cmp)
	}
	if del, cmp := meta.CleanupPolicy(map[string]string{"cleanup.policy": "compact"}); del || !cmp {
		t.Errorf("CleanupPolicy(compact) = %v,%v", del, cmp)
	}
}

func TestValidateTopicName(t *testing.T) {
	long := strings.Repeat("a", 249)
	for _, name := range []string{"a", "A-b_c.d", "0", "...", "_", "-", long, "__consumer_offsets"} {
		if err := meta.ValidateTopicName(name); err != nil {
			t.Errorf("ValidateTopicName(%q) = %v, want ok", name, err)
		}
	}
	for _, name := range []string{"", ".", "..", long + "a", "a b", "a/b", "a\\b", "ü", "a\x00", "a:b", "a*", "tab\t"} {
		if err := meta.ValidateTopicName(name); !errors.Is(err, meta.ErrInvalidTopicName) {
			t.Errorf("ValidateTopicName(%q) = %v, want ErrInvalidTopicName", name, err)
		}
	}
}
