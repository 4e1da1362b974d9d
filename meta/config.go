package meta

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Topic config names Strata understands.
const (
	ConfigCleanupPolicy        = "cleanup.policy"
	ConfigCompressionType      = "compression.type"
	ConfigDeleteRetentionMs    = "delete.retention.ms"
	ConfigMaxMessageBytes      = "max.message.bytes"
	ConfigMessageTimestampType = "message.timestamp.type"
	ConfigMinCompactionLagMs   = "min.compaction.lag.ms"
	ConfigMinInsyncReplicas    = "min.insync.replicas"
	ConfigRetentionBytes       = "retention.bytes"
	ConfigRetentionMs          = "retention.ms"
	ConfigSegmentBytes         = "segment.bytes"
	ConfigSegmentMs            = "segment.ms"
)

// Config value types, as Kafka's DescribeConfigs names them.
const (
	ConfigTypeLong    = "long"
	ConfigTypeInt     = "int"
	ConfigTypeString  = "string"
	ConfigTypeList    = "list"
	ConfigTypeBoolean = "boolean"
	ConfigTypeDouble  = "double"
)

// ConfigDef describes one topic-level config: its Kafka name, Strata's
// default, its Kafka type and how a value is validated.
type ConfigDef struct {
	Name     string
	Default  string
	Type     string // "long", "int", "string", "list", "boolean" or "double"
	Doc      string
	Validate func(string) error // returns the reason a value is invalid
}

var configDefs = []ConfigDef{
	{
		Name: ConfigCleanupPolicy, Default: "delete", Type: ConfigTypeList,
		Doc:      `"delete" removes old segments by retention; "compact" keeps the latest record per key; "compact,delete" does both.`,
		Validate: validateCleanupPolicy,
	},
	{
		Name: ConfigCompressionType, Default: "producer", Type: ConfigTypeString,
		Doc:      `Compression codec for stored batches: "producer" keeps the producer's codec; or one of uncompressed, zstd, lz4, snappy, gzip.`,
		Validate: oneOf("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"),
	},
	{
		Name: ConfigDeleteRetentionMs, Default: "86400000", Type: ConfigTypeLong,
		Doc:      "How long delete tombstones are retained on compacted topics.",
		Validate: longAtLeast(0),
	},
	{
		Name: ConfigMaxMessageBytes, Default: "1048588", Type: ConfigTypeInt,
		Doc:      "Largest record batch size (after compression) the topic accepts.",
		Validate: intAtLeast(0),
	},
	{
		Name: ConfigMessageTimestampType, Default: "CreateTime", Type: ConfigTypeString,
		Doc:      "Whether record timestamps are the producer's (CreateTime) or the broker's append time (LogAppendTime).",
		Validate: oneOf("CreateTime", "LogAppendTime"),
	},
	{
		Name: ConfigMinCompactionLagMs, Default: "0", Type: ConfigTypeLong,
		Doc:      "Minimum time a record stays uncompacted.",
		Validate: longAtLeast(0),
	},
	{
		// Kafka's default is 1. Strata defaults to 2; it takes effect once
		// replication exists (until then every partition has one replica and
		// this config is stored but not enforced).
		Name: ConfigMinInsyncReplicas, Default: "2", Type: ConfigTypeInt,
		Doc:      "Minimum in-sync replicas for acks=all produce requests. Strata's default is 2 (Kafka's is 1); enforced once replication is in place.",
		Validate: intAtLeast(1),
	},
	{
		Name: ConfigRetentionBytes, Default: "-1", Type: ConfigTypeLong,
		Doc:      "Maximum partition size before old segments are deleted; -1 means unlimited.",
		Validate: longAtLeast(-1),
	},
	{
		// Kafka's default is 604800000 (7 days); Strata keeps data forever
		// unless told otherwise.
		Name: ConfigRetentionMs, Default: "-1", Type: ConfigTypeLong,
		Doc:      "How long records are kept before deletion; -1 (Strata's default) means forever.",
		Validate: longAtLeast(-1),
	},
	{
		// Kafka's default is 1073741824 (1 GiB); Strata uses 64 MiB.
		Name: ConfigSegmentBytes, Default: "67108864", Type: ConfigTypeInt,
		Doc:      "Untiered bytes at which a partition's WAL data is sealed into object storage (Strata default 64 MiB).",
		Validate: intAtLeast(14),
	},
	{
		// Kafka's default is 604800000 (7 days). In Strata a roll seals the
		// data into object storage, which a broker's disk waits for: one
		// minute keeps the WAL short and costs one PUT per broker a minute
		// on an idle cluster.
		Name: ConfigSegmentMs, Default: "60000", Type: ConfigTypeLong,
		Doc:      "Longest time acknowledged data stays only in the WAL before it is sealed into object storage (Strata default 1 minute).",
		Validate: longAtLeast(1),
	},
}

var configDefsByName = func() map[string]*ConfigDef {
	slices.SortFunc(configDefs, func(a, b ConfigDef) int { return strings.Compare(a.Name, b.Name) })
	m := make(map[string]*ConfigDef, len(configDefs))
	for i := range configDefs {
		m[configDefs[i].Name] = &configDefs[i]
	}
	return m
}()

// TopicConfigDefs returns the topic configs Strata understands, sorted by
// name. The slice is a copy; callers may modify it.
func TopicConfigDefs() []ConfigDef { return slices.Clone(configDefs) }

// LookupConfigDef returns the definition of the named topic config.
func LookupConfigDef(name string) (ConfigDef, bool) {
	d, ok := configDefsByName[name]
	if !ok {
		return ConfigDef{}, false
	}
	return *d, true
}

// ValidateTopicConfig checks one topic config. An unknown name yields an
// error wrapping ErrUnknownConfig; an invalid value one wrapping
// ErrInvalidConfig that names the key and the reason, e.g.
// `invalid topic config: invalid value "-2" for retention.ms: value must be at least -1`.
func ValidateTopicConfig(name, value string) error {
	d, ok := configDefsByName[name]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownConfig, name)
	}
	if err := d.Validate(value); err != nil {
		return fmt.Errorf("%w: invalid value %q for %s: %v", ErrInvalidConfig, value, name, err)
	}
	return nil
}

// ValidateTopicConfigs checks every entry of configs (in name order, so the
// first error reported is deterministic).
func ValidateTopicConfigs(configs map[string]string) error {
	names := make([]string, 0, len(configs))
	for n := range configs {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := ValidateTopicConfig(n, configs[n]); err != nil {
			return err
		}
	}
	return nil
}

// ConfigValue returns the explicit value of name in topicConfigs, or its
// default when not set. Unknown names yield "".
func ConfigValue(topicConfigs map[string]string, name string) string {
	if v, ok := topicConfigs[name]; ok {
		return v
	}
	if d, ok := configDefsByName[name]; ok {
		return d.Default
	}
	return ""
}

// ConfigInt64 returns the explicit or default value of a numeric ("long" or
// "int") topic config. A value that does not parse (which validation
// prevents) yields the default; unknown or non-numeric configs yield 0.
func ConfigInt64(topicConfigs map[string]string, name string) int64 {
	d, ok := configDefsByName[name]
	if !ok {
		return 0
	}
	def, err := strconv.ParseInt(d.Default, 10, 64)
	if err != nil {
		return 0
	}
	v, ok := topicConfigs[name]
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return def
	}
	return n
}

// CleanupPolicy reports which cleanup policies apply to a topic with these
// configs.
func CleanupPolicy(topicConfigs map[string]string) (deletePolicy, compactPolicy bool) {
	for p := range strings.SplitSeq(ConfigValue(topicConfigs, ConfigCleanupPolicy), ",") {
		switch strings.TrimSpace(p) {
		case "delete":
			deletePolicy = true
		case "compact":
			compactPolicy = true
		}
	}
	return deletePolicy, compactPolicy
}

func validateCleanupPolicy(v string) error {
	seen := map[string]bool{}
	for p := range strings.SplitSeq(v, ",") {
		p = strings.TrimSpace(p)
		switch p {
		case "delete", "compact":
		default:
			return fmt.Errorf(`each policy must be "delete" or "compact", got %q`, p)
		}
		if seen[p] {
			return fmt.Errorf("policy %q listed twice", p)
		}
		seen[p] = true
	}
	return nil
}

func oneOf(allowed ...string) func(string) error {
	return func(v string) error {
		if slices.Contains(allowed, v) {
			return nil
		}
		return fmt.Errorf("value must be one of %s", strings.Join(allowed, ", "))
	}
}

func longAtLeast(lo int64) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return fmt.Errorf("not a 64-bit integer")
		}
		if n < lo {
			return fmt.Errorf("value must be at least %d", lo)
		}
		return nil
	}
}

func intAtLeast(lo int64) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n > math.MaxInt32 || n < math.MinInt32 {
			return fmt.Errorf("not a 32-bit integer")
		}
		if n < lo {
			return fmt.Errorf("value must be at least %d", lo)
		}
		return nil
	}
}

// MaxTopicNameLength is Kafka's limit on topic name length.
const MaxTopicNameLength = 249

// ValidateTopicName applies Kafka's topic naming rules: non-empty, at most
// 249 characters, only ASCII letters, digits, '.', '_' and '-', and not "."
// or "..". Errors wrap ErrInvalidTopicName.
func ValidateTopicName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: name is empty", ErrInvalidTopicName)
	case name == "." || name == "..":
		return fmt.Errorf("%w: %q is not allowed", ErrInvalidTopicName, name)
	case len(name) > MaxTopicNameLength:
		return fmt.Errorf("%w: name is %d characters, the maximum is %d", ErrInvalidTopicName, len(name), MaxTopicNameLength)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: %q contains a character other than ASCII alphanumerics, '.', '_' and '-'", ErrInvalidTopicName, name)
		}
	}
	return nil
}
