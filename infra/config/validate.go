package config

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/streamfn/streamfn/internal/features"
)

// Problem is one rejected value.
type Problem struct {
	Key   string // fully qualified, e.g. "streamfn:parallelizationFactor"
	Value string // the value as configured
	Rule  string // what is allowed, e.g. "must be 1..10"
	Fix   string // how to fix it
}

func (p Problem) String() string {
	s := fmt.Sprintf("%s = %s: %s", p.Key, displayValue(p.Value), p.Rule)
	if p.Fix != "" {
		s += "; fix: " + p.Fix
	}
	return s
}

func displayValue(v string) string {
	if v == "" {
		return `""`
	}
	return v
}

// ValidationError holds every problem of a configuration. Its message has one line per problem.
type ValidationError struct {
	// Stack, when set, is named in every fix: pulumi config set --stack <Stack> ...
	Stack    string
	Problems []Problem
}

func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		p.Fix = WithStack(p.Fix, e.Stack)
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// WithStack names the stack in every pulumi config command of a fix, so that it can be
// pasted whichever stack is selected.
func WithStack(fix, stack string) string {
	if stack == "" {
		return fix
	}
	return strings.NewReplacer(
		"pulumi config set ", "pulumi config set --stack "+stack+" ",
		"pulumi config rm ", "pulumi config rm --stack "+stack+" ",
	).Replace(fix)
}

// Hard limits from the AWS documentation of each service.
const (
	maxShards = 10000 // sanity bound; the account quota (500 or 200 by region) is usually lower

	minRetentionHours = 24
	maxRetentionHours = 8760

	maxBatchSize          = 10000
	maxBatchWindowSeconds = 300
	maxParallelization    = 10
	maxRetryAttempts      = 10000
	minRecordAgeSeconds   = 60
	maxRecordAgeSeconds   = 604800
	maxTumblingWindow     = 900

	minMemoryMB       = 128
	maxMemoryMB       = 10240
	maxTimeoutSeconds = 900

	maxFeatureTTLDays = 3650

	// Failed batches are for replaying; a year is the stream's longest retention.
	maxFailureRetentionDays = 365

	// The processor's DEDUP_HORIZON_SECONDS range.
	minDedupHorizonSeconds = features.MinDuplicateHorizon
	maxDedupHorizonSeconds = features.MaxDuplicateHorizon

	// An ON_DEMAND stream starts with 4 MB/s of write capacity, i.e. 4 shards, and grows
	// from there; fewer concurrent invocations than 4 x parallelization throttle it at once.
	OnDemandInitialShards = 4

	maxTags = 48 // AWS allows 50 per resource; the program adds project and stack

	// Filters per event-source mapping: 5 by default, adjustable to 10
	// (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
	maxFilterQuota = 10
)

// logRetentionValues are the retention periods CloudWatch Logs accepts (PutRetentionPolicy).
var logRetentionValues = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

var (
	applicationLogLevels = []string{"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}
	systemLogLevels      = []string{"DEBUG", "INFO", "WARN"}

	regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`)
	// A KMS key ARN. Aliases are rejected on purpose: IAM statements cannot be scoped to an
	// alias, and the functions' roles must name the exact key.
	kmsKeyARNPattern = regexp.MustCompile(`^arn:(aws[a-z-]*):kms:([a-z0-9-]+):(\d{12}):key/([A-Za-z0-9-]+)$`)
	emailPattern     = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s.]+$`)
	tagKeyPattern    = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$`)
	// Values must not be empty. Public reports against the AWS provider show empty
	// default-tag values dropped, clearing other tags, or diffing on every run on log groups
	// and roles, both of which the program creates; a value of one character or more has
	// none of these problems, so the rule is cheaper than proving the provider safe.
	tagValuePattern = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,256}$`)
)

// Validate checks every value against AWS's limits and the cross-key rules, and returns all
// problems at once as a *ValidationError (nil when the configuration is good).
func (c *Config) Validate() error {
	v := newValidator(nil)
	c.validate(v)
	return v.err()
}

// validate adds every problem to v. A key v already holds a problem for is not checked again,
// and a cross-key rule runs only when the keys it reads are valid: a fix is never computed
// from a value that is itself wrong.
func (c *Config) validate(v *validator) {

	// Region and stream.
	if !regionPattern.MatchString(c.Region) && v.valid(RegionKey) {
		v.add(RegionKey, c.Region, "must be an AWS region such as us-east-1", "pulumi config set aws:region us-east-1")
	}
	v.oneOf(Key("streamMode"), c.StreamMode, []string{StreamModeProvisioned, StreamModeOnDemand})
	switch {
	case !v.valid(Key("shardCount")):
	case c.StreamMode == StreamModeProvisioned:
		if c.ShardCount < 1 || c.ShardCount > maxShards {
			v.add(Key("shardCount"), strconv.Itoa(c.ShardCount),
				fmt.Sprintf("a PROVISIONED stream needs 1..%d shards (0 means unset)", maxShards),
				"pulumi config set streamfn:shardCount 1 (one shard per 1 MB/s or 1,000 records/s of writes), or set streamfn:streamMode ON_DEMAND")
		}
	case c.StreamMode == StreamModeOnDemand:
		if c.ShardCount != 0 {
			v.add(Key("shardCount"), strconv.Itoa(c.ShardCount),
				"has no meaning with ON_DEMAND, where AWS manages the shards; it must stay 0 (unset)",
				"pulumi config rm streamfn:shardCount, or set streamfn:streamMode PROVISIONED")
		}
	}
	v.between(Key("retentionHours"), c.RetentionHours, minRetentionHours, maxRetentionHours, "")
	if c.KMSKeyID != "" && v.valid(Key("kmsKeyId")) {
		m := kmsKeyARNPattern.FindStringSubmatch(c.KMSKeyID)
		switch {
		case m == nil:
			v.add(Key("kmsKeyId"), c.KMSKeyID,
				"must be empty (AWS-managed alias/aws/kinesis) or a KMS key ARN arn:aws:kms:<region>:<account>:key/<id>; aliases cannot be scoped in IAM",
				"aws kms describe-key --key-id <alias> --query KeyMetadata.Arn, then pulumi config set streamfn:kmsKeyId <that ARN>")
		case m[2] != c.Region && v.valid(RegionKey):
			v.add(Key("kmsKeyId"), c.KMSKeyID,
				fmt.Sprintf("the key is in %s but the stream is in %s; Kinesis needs a key in the stream's region", m[2], c.Region),
				"use a key from "+c.Region)
		}
	}

	// Event-source mapping.
	v.between(Key("batchSize"), c.BatchSize, 1, maxBatchSize, "")
	v.between(Key("batchWindowSeconds"), c.BatchWindowSeconds, 0, maxBatchWindowSeconds, "")
	v.between(Key("parallelizationFactor"), c.ParallelizationFactor, 1, maxParallelization, "")
	v.oneOf(Key("startingPosition"), c.StartingPosition,
		[]string{StartingPositionTrimHorizon, StartingPositionLatest, StartingPositionAtTimestamp})
	if c.StartingPosition == StartingPositionAtTimestamp {
		if _, err := NormalizeTimestamp(c.StartingPositionTimestamp); err != nil {
			v.add(Key("startingPositionTimestamp"), c.StartingPositionTimestamp, err.Error(),
				"pulumi config set streamfn:startingPositionTimestamp "+timestampFix(c.StartingPositionTimestamp))
		}
	} else if c.StartingPositionTimestamp != "" && v.valid(Key("startingPosition")) {
		v.add(Key("startingPositionTimestamp"), c.StartingPositionTimestamp,
			"is only used with streamfn:startingPosition AT_TIMESTAMP",
			"pulumi config rm streamfn:startingPositionTimestamp, or set streamfn:startingPosition AT_TIMESTAMP")
	}
	if c.MaxRetryAttempts != Unbounded {
		v.between(Key("maxRetryAttempts"), c.MaxRetryAttempts, 0, maxRetryAttempts, "or -1 for unbounded")
	}
	if c.MaxRecordAgeSeconds != Unbounded {
		v.between(Key("maxRecordAgeSeconds"), c.MaxRecordAgeSeconds, minRecordAgeSeconds, maxRecordAgeSeconds, "or -1 for unbounded")
		if retention := c.RetentionHours * 3600; v.valid(Key("retentionHours"), Key("maxRecordAgeSeconds")) && c.MaxRecordAgeSeconds > retention {
			v.add(Key("maxRecordAgeSeconds"), strconv.Itoa(c.MaxRecordAgeSeconds),
				fmt.Sprintf("must not exceed the stream retention (streamfn:retentionHours %d = %d s): records expire from the stream first", c.RetentionHours, retention),
				fmt.Sprintf("pulumi config set streamfn:maxRecordAgeSeconds %d, or raise streamfn:retentionHours", retention))
		}
	}
	if c.MaxRetryAttempts == Unbounded && c.MaxRecordAgeSeconds == Unbounded && v.valid(Key("maxRetryAttempts"), Key("maxRecordAgeSeconds")) {
		v.add(Key("maxRetryAttempts"), "-1",
			"cannot be -1 while streamfn:maxRecordAgeSeconds is also -1: one poison batch would then be retried until it expires, stalling its shard for the whole retention period",
			"bound one of them, e.g. pulumi config set streamfn:maxRetryAttempts 5")
	}
	v.between(Key("tumblingWindowSeconds"), c.TumblingWindowSeconds, 0, maxTumblingWindow, "0 turns it off")
	v.oneOf(Key("consumer"), c.Consumer, []string{ConsumerShared, ConsumerEFO})
	v.between(Key("mappingFilterQuota"), c.MappingFilterQuota, 1, maxFilterQuota,
		"Lambda's default quota is 5 filters per mapping; ask AWS for up to 10")
	c.validateFilters(v)
	c.validateRetiredKeys(v)

	// Functions.
	v.between(Key("processorMemoryMb"), c.ProcessorMemoryMB, minMemoryMB, maxMemoryMB, "")
	v.between(Key("processorTimeoutSeconds"), c.ProcessorTimeoutSeconds, 1, maxTimeoutSeconds, "")
	v.between(Key("ingestMemoryMb"), c.IngestMemoryMB, minMemoryMB, maxMemoryMB, "")
	v.between(Key("ingestTimeoutSeconds"), c.IngestTimeoutSeconds, 1, maxTimeoutSeconds, "")
	v.between(Key("featureTtlDays"), c.FeatureTTLDays, 0, maxFeatureTTLDays, "0 = items never expire")
	v.between(Key("dedupHorizonSeconds"), c.DedupHorizonSeconds, minDedupHorizonSeconds, maxDedupHorizonSeconds, "")
	if c.DedupHorizonSeconds >= minDedupHorizonSeconds && c.IngestTimeoutSeconds >= 1 && c.DedupHorizonSeconds <= c.IngestTimeoutSeconds {
		v.add(Key("dedupHorizonSeconds"), strconv.Itoa(c.DedupHorizonSeconds),
			fmt.Sprintf("must be more than streamfn:ingestTimeoutSeconds (%d): a client resends a request only after it timed out, so a shorter horizon misses every retry", c.IngestTimeoutSeconds),
			fmt.Sprintf("pulumi config set streamfn:dedupHorizonSeconds %d", max(900, 4*c.IngestTimeoutSeconds)))
	}

	inputsValid := v.valid(Key("streamMode"), Key("shardCount"), Key("parallelizationFactor"))
	switch {
	case c.ProcessorConcurrency == Unreserved || !v.valid(Key("processorConcurrency")):
	case !inputsValid && c.ProcessorConcurrency < 1:
		v.add(Key("processorConcurrency"), strconv.Itoa(c.ProcessorConcurrency),
			"must be -1 (unreserved) or at least shards x parallelizationFactor",
			"pulumi config set streamfn:processorConcurrency -1")
	case inputsValid:
		shards, shardSource := c.ShardCount, fmt.Sprintf("streamfn:shardCount %d", c.ShardCount)
		if c.StreamMode == StreamModeOnDemand {
			shards, shardSource = OnDemandInitialShards, fmt.Sprintf("an ON_DEMAND stream's initial %d shards", OnDemandInitialShards)
		}
		need := shards * c.ParallelizationFactor
		if c.ProcessorConcurrency < 1 || c.ProcessorConcurrency < need {
			v.add(Key("processorConcurrency"), strconv.Itoa(c.ProcessorConcurrency),
				fmt.Sprintf("must be -1 (unreserved) or at least shards x parallelizationFactor = %s x %d = %d, or the shards are throttled",
					shardSource, c.ParallelizationFactor, need),
				fmt.Sprintf("pulumi config set streamfn:processorConcurrency %d (or -1)", max(need, 1)))
		}
	}
	if c.IngestConcurrency != Unreserved && c.IngestConcurrency < 1 && v.valid(Key("ingestConcurrency")) {
		v.add(Key("ingestConcurrency"), strconv.Itoa(c.IngestConcurrency),
			"must be -1 (unreserved) or at least 1; 0 would reject every request",
			"pulumi config set streamfn:ingestConcurrency -1")
	}
	switch {
	case !v.valid(Key("ingestProvisionedConcurrency")):
	case c.IngestProvisionedConcurrency < 0:
		v.add(Key("ingestProvisionedConcurrency"), strconv.Itoa(c.IngestProvisionedConcurrency),
			"must be 0 (none) or more", "pulumi config set streamfn:ingestProvisionedConcurrency 0")
	case c.IngestConcurrency >= 1 && v.valid(Key("ingestConcurrency")) && c.IngestProvisionedConcurrency > c.IngestConcurrency:
		v.add(Key("ingestProvisionedConcurrency"), strconv.Itoa(c.IngestProvisionedConcurrency),
			fmt.Sprintf("must not exceed streamfn:ingestConcurrency (%d): Lambda keeps provisioned environments inside the reserved ones", c.IngestConcurrency),
			fmt.Sprintf("lower it to %d or raise streamfn:ingestConcurrency", c.IngestConcurrency))
	}
	v.oneOf(Key("failureDestination"), c.FailureDestination, []string{FailureDestinationS3, FailureDestinationSQS})
	v.between(Key("failureRetentionDays"), c.FailureRetentionDays, 1, maxFailureRetentionDays, "")
	v.between(Key("poisonRetentionDays"), c.PoisonRetentionDays, 1, maxPoisonRetentionDays,
		"SQS keeps a message at most 14 days; the poison queue holds personal data, so keep only what triage needs")
	v.oneOf(Key("ingestAuth"), c.IngestAuth, []string{IngestAuthIAM, IngestAuthNone})
	c.validatePublicURL(v)
	v.between(Key("ingestThrottleRetryMs"), c.IngestThrottleRetryMs, minThrottleRetryMs, maxThrottleRetryMs,
		"how long ingest retries a throttled write before it answers 503 with Retry-After")
	v.oneOf(Key("architecture"), c.Architecture, []string{ArchitectureArm64, ArchitectureX8664})
	if !slices.Contains(logRetentionValues, c.LogRetentionDays) && v.valid(Key("logRetentionDays")) {
		v.add(Key("logRetentionDays"), strconv.Itoa(c.LogRetentionDays),
			"must be one of CloudWatch Logs' retention periods: "+joinInts(logRetentionValues),
			fmt.Sprintf("pulumi config set streamfn:logRetentionDays %d", nearest(logRetentionValues, c.LogRetentionDays)))
	}
	v.oneOf(Key("logLevel"), c.LogLevel, applicationLogLevels)
	v.oneOf(Key("systemLogLevel"), c.SystemLogLevel, systemLogLevels)
	switch {
	case !v.valid(Key("metricsNamespace")):
	case c.MetricsNamespace == "" || len(c.MetricsNamespace) > 255:
		v.add(Key("metricsNamespace"), c.MetricsNamespace, "must be 1..255 characters",
			"pulumi config set streamfn:metricsNamespace streamfn")
	case strings.HasPrefix(c.MetricsNamespace, "AWS/"):
		v.add(Key("metricsNamespace"), c.MetricsNamespace, `must not start with "AWS/", which CloudWatch reserves`,
			"pulumi config set streamfn:metricsNamespace streamfn")
	}

	// Alarms and tags.
	switch {
	case !v.valid(Key("iteratorAgeAlarmSeconds")):
	case c.IteratorAgeAlarmSeconds < 1:
		v.add(Key("iteratorAgeAlarmSeconds"), strconv.Itoa(c.IteratorAgeAlarmSeconds), "must be at least 1",
			"pulumi config set streamfn:iteratorAgeAlarmSeconds 300")
	case c.MaxRecordAgeSeconds != Unbounded && v.valid(Key("maxRecordAgeSeconds")) &&
		c.IteratorAgeAlarmSeconds >= c.MaxRecordAgeSeconds:
		v.add(Key("iteratorAgeAlarmSeconds"), strconv.Itoa(c.IteratorAgeAlarmSeconds),
			fmt.Sprintf("must be below streamfn:maxRecordAgeSeconds (%d), or the alarm fires only after records were already discarded", c.MaxRecordAgeSeconds),
			fmt.Sprintf("pulumi config set streamfn:iteratorAgeAlarmSeconds %d", c.MaxRecordAgeSeconds/2))
	}
	if c.AlarmEmail != "" && v.valid(Key("alarmEmail")) && !emailPattern.MatchString(c.AlarmEmail) {
		v.add(Key("alarmEmail"), c.AlarmEmail, "must be an e-mail address such as oncall@example.com, or empty for none",
			"pulumi config set streamfn:alarmEmail oncall@example.com")
	}
	c.validateTags(v)
}

func (c *Config) validateTags(v *validator) {
	if !v.valid(Key("tags")) {
		return
	}
	if len(c.Tags) > maxTags {
		v.add(Key("tags"), fmt.Sprintf("(%d tags)", len(c.Tags)),
			fmt.Sprintf("at most %d tags: AWS allows 50 per resource and the program adds project and stack", maxTags),
			"drop some tags")
	}
	for _, k := range slices.Sorted(maps.Keys(c.Tags)) {
		val := c.Tags[k]
		path := Key("tags") + "." + k
		switch {
		case k == "project" || k == "stack":
			v.add(path, val, "is set by the program (project and stack name) and cannot be overridden",
				"remove it from streamfn:tags")
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			v.add(path, val, `tag keys must not start with "aws:", which AWS reserves`, "rename the tag")
		case !tagKeyPattern.MatchString(k):
			v.add(path, val, "tag keys must be 1..128 letters, digits, spaces or _ . : / = + - @", "rename the tag")
		case val == "":
			v.add(path, val, "tag values must not be empty: the AWS provider drops empty default-tag values on some resources or shows a diff on every run",
				"give it a value, e.g. pulumi config set --path 'streamfn:tags."+k+"' none, or remove the tag")
		case !tagValuePattern.MatchString(val):
			v.add(path, val, "tag values must be 1..256 letters, digits, spaces or _ . : / = + - @", "change the value")
		}
	}
}

type validator struct {
	problems []Problem
	invalid  map[string]bool // keys with a problem
}

// newValidator starts from the problems loading found (values that did not parse).
func newValidator(problems []Problem) *validator {
	v := &validator{invalid: map[string]bool{}}
	for _, p := range problems {
		v.problems = append(v.problems, p)
		v.invalid[p.Key] = true
	}
	return v
}

func (v *validator) add(key, value, rule, fix string) {
	v.problems = append(v.problems, Problem{Key: key, Value: value, Rule: rule, Fix: fix})
	v.invalid[key] = true
}

// valid reports whether none of keys has a problem so far.
func (v *validator) valid(keys ...string) bool {
	for _, k := range keys {
		if v.invalid[k] {
			return false
		}
	}
	return true
}

func (v *validator) between(key string, value, lo, hi int, note string) {
	if (value >= lo && value <= hi) || !v.valid(key) {
		return
	}
	rule := fmt.Sprintf("must be %d..%d", lo, hi)
	if note != "" {
		rule += " (" + note + ")"
	}
	nearest := min(max(value, lo), hi)
	v.add(key, strconv.Itoa(value), rule, fmt.Sprintf("pulumi config set %s %d", key, nearest))
}

func (v *validator) oneOf(key, value string, allowed []string) {
	if slices.Contains(allowed, value) || !v.valid(key) {
		return
	}
	rule := "must be one of " + strings.Join(allowed, ", ") + " (exactly as AWS spells them)"
	fix := "pulumi config set " + key + " " + allowed[0]
	for _, a := range allowed {
		if strings.EqualFold(a, value) {
			fix = "pulumi config set " + key + " " + a
		}
	}
	v.add(key, value, rule, fix)
}

func (v *validator) err() error {
	if len(v.problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: v.problems}
}

// nearest returns the allowed value closest to v (the smaller one on a tie).
func nearest(allowed []int, v int) int {
	best := allowed[0]
	for _, a := range allowed {
		if abs(a-v) < abs(best-v) {
			best = a
		}
	}
	return best
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func joinInts(values []int) string {
	s := make([]string, len(values))
	for i, n := range values {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}

// The range of streamfn:ingestThrottleRetryMs. Below 100 ms a throttled
// write barely gets one retry; above 5 s a flood against a throttled stream
// holds five times as many Lambda environments as its request rate.
const (
	minThrottleRetryMs = 100
	maxThrottleRetryMs = 5000
)

// validatePublicURL holds a public Function URL (ingestAuth NONE) to a bound:
// anyone may call it, so unreserved concurrency would let one caller use the
// account's whole Lambda concurrency and starve every other function in the
// region. The processor is reserved too: public writes fill the stream, and
// its reads must not compete with ingest for the same unreserved pool.
func (c *Config) validatePublicURL(v *validator) {
	if c.IngestAuth != IngestAuthNone {
		return
	}
	if c.IngestConcurrency == Unreserved {
		v.add(Key("ingestConcurrency"), strconv.Itoa(c.IngestConcurrency),
			"must be reserved (1 or more) when streamfn:ingestAuth is NONE: anyone may call a public URL, and unreserved ingest could take the account's whole Lambda concurrency",
			"pulumi config set streamfn:ingestConcurrency 50   (requests in flight = rate x duration; README, Trust model), or keep streamfn:ingestAuth AWS_IAM")
	}
	if c.ProcessorConcurrency == Unreserved {
		need := c.ShardCount * c.ParallelizationFactor
		if c.StreamMode == StreamModeOnDemand {
			need = OnDemandInitialShards * c.ParallelizationFactor
		}
		v.add(Key("processorConcurrency"), strconv.Itoa(c.ProcessorConcurrency),
			"must be reserved when streamfn:ingestAuth is NONE: a public URL fills the stream, and the processor must not compete for the account's unreserved concurrency",
			fmt.Sprintf("pulumi config set streamfn:processorConcurrency %d   (shards x parallelizationFactor), or keep streamfn:ingestAuth AWS_IAM", max(need, 1)))
	}
}

// maxPoisonRetentionDays is SQS's longest message retention, 14 days.
const maxPoisonRetentionDays = 14
