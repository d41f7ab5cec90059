package processor

import (
	"cmp"
	"time"

	"github.com/streamfn/streamfn/internal/features"
	"github.com/streamfn/streamfn/internal/lambdafn/env"
	"github.com/streamfn/streamfn/internal/lambdafn/telemetry"
)

// Config is the processor's settings. The Pulumi program sets them as the
// function's environment variables; ConfigFromEnv reads them.
type Config struct {
	// TableName is the DynamoDB table of feature items (TABLE_NAME, required).
	TableName string
	// PoisonQueueURL is the SQS queue for rejected records (POISON_QUEUE_URL,
	// required).
	PoisonQueueURL string
	// PoisonPayloadBucket holds poison payloads too large for an SQS
	// message (POISON_PAYLOAD_BUCKET, the stack's failures bucket; optional:
	// without it such payloads are cut, and marked so).
	PoisonPayloadBucket string
	// TTLAttribute is the table's TTL attribute (TTL_ATTRIBUTE, default
	// expiresAt).
	TTLAttribute string
	// FeatureTTLDays is how long an item lives after its last write
	// (FEATURE_TTL_DAYS, default 0: items never expire).
	FeatureTTLDays int
	// MetricsNamespace is the EMF namespace (METRICS_NAMESPACE, default
	// streamfn).
	MetricsNamespace string
	// FunctionName is the EMF dimension (AWS_LAMBDA_FUNCTION_NAME, which
	// Lambda sets; default processor).
	FunctionName string
	// WriteConcurrency bounds the users read and written at once
	// (WRITE_CONCURRENCY, 1..256, default 16).
	WriteConcurrency int
	// DeadlineMargin is the remaining time under which no new write starts
	// (DEADLINE_MARGIN_MS, 100..60000, default 3000).
	DeadlineMargin time.Duration
	// Horizons are how long each user's item remembers the eventIds it
	// applied: DEDUP_HORIZON_SECONDS (streamfn:dedupHorizonSeconds,
	// 60..86400, default 900) and REDELIVERY_HORIZON_SECONDS (the
	// mapping's maximum record age, or the stream's retention when records
	// never expire; 60..31536000, default 86400). See package features.
	Horizons features.Horizons
	// WriteAttempts bounds the tries of one user's write when other writers
	// keep changing the item (WRITE_ATTEMPTS, 1..20, default 5).
	WriteAttempts int
}

// Defaults returns the settings a deployment need not give (the capacity
// planner models the processor with them).
func Defaults() Config { return defaults }

// defaults are the settings a deployment need not give: ConfigFromEnv's
// defaults, and what withDefaults fills in.
var defaults = Config{
	TTLAttribute:     "expiresAt",
	MetricsNamespace: telemetry.DefaultNamespace,
	FunctionName:     "processor",
	WriteConcurrency: 16,
	DeadlineMargin:   3 * time.Second,
	WriteAttempts:    5,
}

// ConfigFromEnv reads the settings, reporting every missing or malformed
// one at once.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	r := env.New(getenv)
	cfg := Config{
		TableName:           r.String(EnvTableName, "the DynamoDB table of user features (the stack's tableName output)"),
		PoisonQueueURL:      r.String(EnvPoisonQueueURL, "the URL of the SQS queue for rejected records (the stack's poisonQueueUrl output)"),
		TTLAttribute:        r.Optional(EnvTTLAttribute, defaults.TTLAttribute),
		PoisonPayloadBucket: r.Optional(EnvPoisonPayloadBucket, ""),
		FeatureTTLDays:      r.Int(EnvFeatureTTLDays, 0, 0, 3650),
		MetricsNamespace:    r.Optional(telemetry.EnvMetricsNamespace, defaults.MetricsNamespace),
		FunctionName:        r.Optional("AWS_LAMBDA_FUNCTION_NAME", defaults.FunctionName),
		WriteConcurrency:    r.Int(EnvWriteConcurrency, defaults.WriteConcurrency, 1, 256),
		DeadlineMargin:      time.Duration(r.Int(EnvDeadlineMarginMs, int(defaults.DeadlineMargin/time.Millisecond), 100, 60000)) * time.Millisecond,
		Horizons: features.Horizons{
			Duplicate:  int64(r.Int(EnvDedupHorizonSeconds, features.DefaultDuplicateHorizon, features.MinDuplicateHorizon, features.MaxDuplicateHorizon)),
			Redelivery: int64(r.Int(EnvRedeliveryHorizonSeconds, features.DefaultRedeliveryHorizon, 60, 365*24*3600)),
		},
		WriteAttempts: r.Int(EnvWriteAttempts, defaults.WriteAttempts, 1, 20),
	}
	return cfg, r.Err()
}

// The variables ConfigFromEnv reads, by these names only: the Pulumi
// program sets them, and the local run and the redrive tool read some back
// from the function's configuration.
const (
	EnvTableName                = "TABLE_NAME"
	EnvPoisonQueueURL           = "POISON_QUEUE_URL"
	EnvPoisonPayloadBucket      = "POISON_PAYLOAD_BUCKET"
	EnvTTLAttribute             = "TTL_ATTRIBUTE"
	EnvFeatureTTLDays           = "FEATURE_TTL_DAYS"
	EnvWriteConcurrency         = "WRITE_CONCURRENCY"
	EnvDeadlineMarginMs         = "DEADLINE_MARGIN_MS"
	EnvDedupHorizonSeconds      = "DEDUP_HORIZON_SECONDS"
	EnvRedeliveryHorizonSeconds = "REDELIVERY_HORIZON_SECONDS"
	EnvWriteAttempts            = "WRITE_ATTEMPTS"
)

// withDefaults fills the zero fields of a Config built in code (tests, the
// benchmark) with ConfigFromEnv's defaults.
func (c Config) withDefaults() Config {
	c.TTLAttribute = cmp.Or(c.TTLAttribute, defaults.TTLAttribute)
	c.MetricsNamespace = cmp.Or(c.MetricsNamespace, defaults.MetricsNamespace)
	c.FunctionName = cmp.Or(c.FunctionName, defaults.FunctionName)
	if c.WriteConcurrency <= 0 {
		c.WriteConcurrency = defaults.WriteConcurrency
	}
	if c.DeadlineMargin <= 0 {
		c.DeadlineMargin = defaults.DeadlineMargin
	}
	if c.WriteAttempts <= 0 {
		c.WriteAttempts = defaults.WriteAttempts
	}
	return c
}
