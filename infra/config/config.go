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

	BatchSize                 int    // streamfn:batchSize
	BatchWindowSeconds        int    // streamfn:batchWindowSeconds
	ParallelizationFactor     int    // streamfn:parallelizationFactor
	StartingPosition          string // streamfn:startingPosition
	StartingPositionTimestamp string // streamfn:startingPositionTimestamp
	MaxRetryAttempts          int    // streamfn:maxRetryAttempts
	MaxRecordAgeSeconds       int    // streamfn:maxRecordAgeSeconds
	BisectOnError             bool   // streamfn:bisectOnError
	TumblingWindowSeconds     int    // streamfn:tumblingWindowSeconds
	MappingEnabled            bool   // streamfn:mappingEnabled

	ProcessorMemoryMB       int // streamfn:processorMemoryMb
	ProcessorTimeoutSeconds int // streamfn:processorTimeoutSeconds
	ProcessorConcurrency    int // streamfn:processorConcurrency (-1 = unreserved)
	FeatureTTLDays          int // streamfn:featureTtlDays

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
	return c, nil
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

	c.BatchSize = l.int(Key("batchSize"))
	c.BatchWindowSeconds = l.int(Key("batchWindowSeconds"))
	c.ParallelizationFactor = l.int(Key("parallelizationFactor"))
	c.StartingPosition = l.str(Key("startingPosition"))
	c.StartingPositionTimestamp = l.str(Key("startingPositionTimestamp"))
	c.MaxRetryAttempts = l.int(Key("maxRetryAttempts"))
	c.MaxRecordAgeSeconds = l.int(Key("maxRecordAgeSeconds"))
	c.BisectOnError = l.bool(Key("bisectOnError"))
	c.TumblingWindowSeconds = l.int(Key("tumblingWindowSeconds"))
	c.MappingEnabled = l.bool(Key("mappingEnabled"))

	c.ProcessorMemoryMB = l.int(Key("processorMemoryMb"))
	c.ProcessorTimeoutSeconds = l.int(Key("processorTimeoutSeconds"))
	c.ProcessorConcurrency = l.int(Key("processorConcurrency"))
	c.FeatureTTLDays = l.int(Key("featureTtlDays"))

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
