// Package config is the stack configuration of the streamfn pipeline: one typed struct,
// loaded once from Pulumi config and validated as a whole before any resource exists.
//
// Defaults are not repeated here. Pulumi.yaml declares every key with its default and
// Pulumi (or the offline plan) merges them, so the loader sees every key set.
package config

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Namespace is the Pulumi project name, which prefixes every project config key.
const Namespace = "streamfn"

// Stream capacity modes, spelled as Kinesis spells them.
const (
	StreamModeProvisioned = "PROVISIONED"
	StreamModeOnDemand    = "ON_DEMAND"
)

// Starting positions of the event-source mapping, spelled as Lambda spells them.
const (
	StartingPositionTrimHorizon = "TRIM_HORIZON"
	StartingPositionLatest      = "LATEST"
	StartingPositionAtTimestamp = "AT_TIMESTAMP"
)

// Lambda architectures, spelled as Lambda spells them.
const (
	ArchitectureArm64 = "arm64"
	ArchitectureX8664 = "x86_64"
)

// Function URL auth types, spelled as Lambda spells them.
const (
	IngestAuthIAM  = "AWS_IAM"
	IngestAuthNone = "NONE"
)

// Stream consumers of the event-source mapping: shared-throughput polling (GetRecords) or
// an enhanced fan-out consumer with its own 2 MB/s per shard.
const (
	ConsumerShared = "shared"
	ConsumerEFO    = "efo"
)

// Unreserved is the concurrency value meaning "no reserved concurrency".
const Unreserved = -1

// Unbounded is the retry/record-age value meaning "no limit" in the event-source mapping.
const Unbounded = -1

// Config is everything a stack can tune. Field comments name the Pulumi config key.
type Config struct {
	Region string // aws:region

	StreamMode     string // streamfn:streamMode
	ShardCount     int    // streamfn:shardCount (0 = unset)
	RetentionHours int    // streamfn:retentionHours
	KMSKeyID       string // streamfn:kmsKeyId ("" = alias/aws/kinesis)
	// RetiredKMSKeyIDs are keys the stream used before; the processor keeps kms:Decrypt on
	// them until the records they encrypted have expired.
	RetiredKMSKeyIDs []string // streamfn:retiredKmsKeyIds
	ProtectData      bool     // streamfn:protectData

	BatchSize                 int    // streamfn:batchSize
	BatchWindowSeconds        int    // streamfn:batchWindowSeconds
	ParallelizationFactor     int    // streamfn:parallelizationFactor
	StartingPosition          string // streamfn:startingPosition
	StartingPositionTimestamp string // streamfn:startingPositionTimestamp
	MaxRetryAttempts          int    // streamfn:maxRetryAttempts
	MaxRecordAgeSeconds       int    // streamfn:maxRecordAgeSeconds
	BisectOnError             bool   // streamfn:bisectOnError
	FailureDestination        string // streamfn:failureDestination
	FailureRetentionDays      int    // streamfn:failureRetentionDays
	TumblingWindowSeconds     int    // streamfn:tumblingWindowSeconds
	MappingEnabled            bool   // streamfn:mappingEnabled
	MappingMetrics            bool   // streamfn:mappingMetrics
	Consumer                  string // streamfn:consumer
	// MappingFilters are Lambda filter patterns, each a JSON document in a string.
	MappingFilters     []string // streamfn:mappingFilters
	MappingFilterQuota int      // streamfn:mappingFilterQuota

	ProcessorMemoryMB       int // streamfn:processorMemoryMb
	ProcessorTimeoutSeconds int // streamfn:processorTimeoutSeconds
	ProcessorConcurrency    int // streamfn:processorConcurrency (-1 = unreserved)
	FeatureTTLDays          int // streamfn:featureTtlDays
	DedupHorizonSeconds     int // streamfn:dedupHorizonSeconds

	IngestMemoryMB               int    // streamfn:ingestMemoryMb
	IngestTimeoutSeconds         int    // streamfn:ingestTimeoutSeconds
	IngestConcurrency            int    // streamfn:ingestConcurrency (-1 = unreserved)
	IngestProvisionedConcurrency int    // streamfn:ingestProvisionedConcurrency (0 = none)
	IngestAuth                   string // streamfn:ingestAuth

	Architecture     string // streamfn:architecture
	LogRetentionDays int    // streamfn:logRetentionDays
	LogLevel         string // streamfn:logLevel
	SystemLogLevel   string // streamfn:systemLogLevel
	MetricsNamespace string // streamfn:metricsNamespace

	IteratorAgeAlarmSeconds int               // streamfn:iteratorAgeAlarmSeconds
	AlarmEmail              string            // streamfn:alarmEmail
	Tags                    map[string]string // streamfn:tags
}

// Lookup returns the raw value of a fully qualified config key ("streamfn:batchSize",
// "aws:region") and whether it is set. *pulumi.Context's GetConfig has this shape.
type Lookup func(key string) (string, bool)

// Load reads every key into a Config and validates it. All problems, from unparsable values
// to broken cross-key rules, come back together as one *ValidationError.
func Load(lookup Lookup) (*Config, error) {
	l := loader{lookup: lookup}
	c := l.load()
	// One pass: the rules run on every value that parsed; a key whose value did not parse
	// is reported once, and no rule reads it.
	v := newValidator(l.problems)
	c.validate(v)
	if err := v.err(); err != nil {
		return nil, err
	}
	c.normalize()
	return c, nil
}

// normalize rewrites valid values into the one form AWS reads back, so that the next run
// sees no difference. Validate has accepted every value by then.
func (c *Config) normalize() {
	if c.StartingPositionTimestamp != "" {
		c.StartingPositionTimestamp, _ = NormalizeTimestamp(c.StartingPositionTimestamp)
	}
}

// Keys lists every fully qualified key Load reads, sorted. A test holds it equal to the
// keys Pulumi.yaml declares.
func Keys() []string {
	var keys []string
	l := loader{lookup: func(key string) (string, bool) {
		keys = append(keys, key)
		return "", false
	}}
	l.load()
	sort.Strings(keys)
	return keys
}

// Key returns the fully qualified name of a project key: Key("batchSize") = "streamfn:batchSize".
func Key(name string) string { return Namespace + ":" + name }

// RegionKey is the AWS provider's region key, which the program also reads.
const RegionKey = "aws:region"

type loader struct {
	lookup   Lookup
	problems []Problem
}

func (l *loader) load() *Config {
	c := &Config{}
	c.Region = l.str(RegionKey)

	c.StreamMode = l.str(Key("streamMode"))
	c.ShardCount = l.int(Key("shardCount"))
	c.RetentionHours = l.int(Key("retentionHours"))
	c.KMSKeyID = l.str(Key("kmsKeyId"))
	c.RetiredKMSKeyIDs = l.stringList(Key("retiredKmsKeyIds"))
	c.ProtectData = l.bool(Key("protectData"))

	c.BatchSize = l.int(Key("batchSize"))
	c.BatchWindowSeconds = l.int(Key("batchWindowSeconds"))
	c.ParallelizationFactor = l.int(Key("parallelizationFactor"))
	c.StartingPosition = l.str(Key("startingPosition"))
	c.StartingPositionTimestamp = l.str(Key("startingPositionTimestamp"))
	c.MaxRetryAttempts = l.int(Key("maxRetryAttempts"))
	c.MaxRecordAgeSeconds = l.int(Key("maxRecordAgeSeconds"))
	c.BisectOnError = l.bool(Key("bisectOnError"))
	c.FailureDestination = l.str(Key("failureDestination"))
	c.FailureRetentionDays = l.int(Key("failureRetentionDays"))
	c.TumblingWindowSeconds = l.int(Key("tumblingWindowSeconds"))
	c.MappingEnabled = l.bool(Key("mappingEnabled"))
	c.MappingMetrics = l.bool(Key("mappingMetrics"))
	c.Consumer = l.str(Key("consumer"))
	c.MappingFilters = l.stringList(Key("mappingFilters"))
	c.MappingFilterQuota = l.int(Key("mappingFilterQuota"))

	c.ProcessorMemoryMB = l.int(Key("processorMemoryMb"))
	c.ProcessorTimeoutSeconds = l.int(Key("processorTimeoutSeconds"))
	c.ProcessorConcurrency = l.int(Key("processorConcurrency"))
	c.FeatureTTLDays = l.int(Key("featureTtlDays"))
	c.DedupHorizonSeconds = l.int(Key("dedupHorizonSeconds"))

	c.IngestMemoryMB = l.int(Key("ingestMemoryMb"))
	c.IngestTimeoutSeconds = l.int(Key("ingestTimeoutSeconds"))
	c.IngestConcurrency = l.int(Key("ingestConcurrency"))
	c.IngestProvisionedConcurrency = l.int(Key("ingestProvisionedConcurrency"))
	c.IngestAuth = l.str(Key("ingestAuth"))

	c.Architecture = l.str(Key("architecture"))
	c.LogRetentionDays = l.int(Key("logRetentionDays"))
	c.LogLevel = l.str(Key("logLevel"))
	c.SystemLogLevel = l.str(Key("systemLogLevel"))
	c.MetricsNamespace = l.str(Key("metricsNamespace"))

	c.IteratorAgeAlarmSeconds = l.int(Key("iteratorAgeAlarmSeconds"))
	c.AlarmEmail = l.str(Key("alarmEmail"))
	c.Tags = l.stringMap(Key("tags"))
	return c
}

func (l *loader) raw(key string) (string, bool) {
	v, ok := l.lookup(key)
	if !ok {
		l.problems = append(l.problems, Problem{
			Key:   key,
			Value: "(not set)",
			Rule:  "every key needs a value, and Pulumi.yaml declares a default for each",
			Fix:   "make sure Pulumi.yaml still declares " + key + " with a default, or run: pulumi config set " + key + " <value>",
		})
	}
	return v, ok
}

func (l *loader) str(key string) string {
	v, _ := l.raw(key)
	return v
}

func (l *loader) int(key string) int {
	v, ok := l.raw(key)
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		l.problems = append(l.problems, Problem{Key: key, Value: v, Rule: "must be a whole number",
			Fix: "pulumi config set " + key + " <integer>"})
	}
	return n
}

func (l *loader) bool(key string) bool {
	v, ok := l.raw(key)
	if !ok {
		return false
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		l.problems = append(l.problems, Problem{Key: key, Value: v, Rule: "must be true or false",
			Fix: "pulumi config set " + key + " true|false"})
	}
	return b
}

// stringList reads an array-typed key of strings, which Pulumi hands over as JSON.
func (l *loader) stringList(key string) []string {
	v, ok := l.raw(key)
	if !ok || strings.TrimSpace(v) == "" {
		return nil
	}
	var list []string
	if err := json.Unmarshal([]byte(v), &list); err != nil {
		// Pulumi.yaml declares these lists' items as strings, which the Pulumi CLI enforces;
		// a filter pattern is therefore JSON inside a string.
		l.problems = append(l.problems, Problem{Key: key, Value: v, Rule: "must be a list of strings (a filter pattern is JSON written inside a string)",
			Fix: fmt.Sprintf(`write it as a list of strings in Pulumi.<stack>.yaml, e.g. %s: ['{"data":{"type":["purchase"]}}'], or pulumi config set --path '%s[0]' <value>`, key, key)})
	}
	return list
}

// stringMap reads an object-typed key, which Pulumi hands to programs as a JSON document.
func (l *loader) stringMap(key string) map[string]string {
	v, ok := l.raw(key)
	if !ok {
		return nil
	}
	m := map[string]string{}
	if strings.TrimSpace(v) == "" {
		return m
	}
	if err := json.Unmarshal([]byte(v), &m); err != nil {
		l.problems = append(l.problems, Problem{Key: key, Value: v,
			Rule: "must be an object of string values",
			Fix:  fmt.Sprintf(`pulumi config set --path '%s.team' data   (or write it as a map in Pulumi.<stack>.yaml)`, key)})
	}
	return m
}

// RedeliveryHorizonSeconds is the longest Lambda may deliver a record
// after its arrival: the mapping's maximum record age or, when records
// never expire, the stream's retention. The processor keeps the eventIds of
// records under other partition keys than the userId that long.
func (c *Config) RedeliveryHorizonSeconds() int {
	if c.MaxRecordAgeSeconds != Unbounded {
		return c.MaxRecordAgeSeconds
	}
	return c.RetentionHours * 3600
}

// The on-failure destinations (streamfn:failureDestination).
const (
	FailureDestinationS3  = "s3"
	FailureDestinationSQS = "sqs"
)
