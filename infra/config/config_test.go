package config_test

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/streamfn/streamfn/infra/config"
	"github.com/streamfn/streamfn/infra/stackconfig"
)

const projectDir = "../.."

// defaults are Pulumi.yaml's values, so each case states only what it changes.
func defaults(t *testing.T) map[string]string {
	t.Helper()
	project, err := stackconfig.ReadProject(projectDir)
	if err != nil {
		t.Fatal(err)
	}
	values, err := project.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	// Pulumi.yaml leaves shardCount unset (0), which PROVISIONED rejects; a stack file sets it.
	values[config.Key("shardCount")] = "1"
	return values
}

func load(t *testing.T, overrides map[string]string) (*config.Config, error) {
	t.Helper()
	values := defaults(t)
	maps.Copy(values, overrides)
	return config.Load(func(key string) (string, bool) {
		v, ok := values[key]
		return v, ok
	})
}

func TestDefaultsAreValid(t *testing.T) {
	cfg, err := load(t, nil)
	if err != nil {
		t.Fatalf("Pulumi.yaml's defaults (with a shard count) are rejected:\n%v", err)
	}
	if cfg.StreamMode != config.StreamModeProvisioned || cfg.BatchSize != 100 || !cfg.BisectOnError ||
		cfg.ProcessorConcurrency != config.Unreserved || cfg.Region != "us-east-1" || cfg.IngestAuth != config.IngestAuthIAM {
		t.Errorf("defaults loaded wrong: %+v", cfg)
	}
	if len(cfg.Tags) != 0 {
		t.Errorf("tags default = %v, want empty", cfg.Tags)
	}
}

// TestKeysMatchPulumiYAML holds the loader and Pulumi.yaml to the same set of keys: a key the
// loader reads without a declaration has no default, and a declared key nobody reads is dead.
func TestKeysMatchPulumiYAML(t *testing.T) {
	project, err := stackconfig.ReadProject(projectDir)
	if err != nil {
		t.Fatal(err)
	}
	read, declared := config.Keys(), project.Keys()
	if !slices.Equal(read, declared) {
		t.Errorf("the loader reads %v\nbut Pulumi.yaml declares %v", read, declared)
	}
	for key, decl := range project.Config {
		if strings.HasPrefix(key, config.Namespace+":") {
			if decl.Type == "" || decl.Description == "" || decl.Default == nil {
				t.Errorf("Pulumi.yaml: %s needs a type, a description and a default (got %+v)", key, decl)
			}
		}
	}
}

func TestValidationRules(t *testing.T) {
	tests := []struct {
		name      string
		overrides map[string]string
		wantKey   string // "" = valid
		wantText  string // part of the message
	}{
		{"region ok", map[string]string{"aws:region": "eu-west-1"}, "", ""},
		{"region bad", map[string]string{"aws:region": "Europe"}, "aws:region", "AWS region"},

		{"stream mode on demand", map[string]string{"streamfn:streamMode": "ON_DEMAND", "streamfn:shardCount": "0"}, "", ""},
		{"stream mode spelling", map[string]string{"streamfn:streamMode": "on_demand"}, "streamfn:streamMode", "PROVISIONED, ON_DEMAND"},
		{"shards unset with provisioned", map[string]string{"streamfn:shardCount": "0"}, "streamfn:shardCount", "PROVISIONED stream needs 1..10000"},
		{"shards max", map[string]string{"streamfn:shardCount": "10000"}, "", ""},
		{"shards too many", map[string]string{"streamfn:shardCount": "10001"}, "streamfn:shardCount", "1..10000"},
		{"shards with on demand", map[string]string{"streamfn:streamMode": "ON_DEMAND", "streamfn:shardCount": "2"}, "streamfn:shardCount", "no meaning with ON_DEMAND"},

		{"retention min", map[string]string{"streamfn:retentionHours": "24"}, "", ""},
		{"retention max", map[string]string{"streamfn:retentionHours": "8760"}, "", ""},
		{"retention low", map[string]string{"streamfn:retentionHours": "23"}, "streamfn:retentionHours", "must be 24..8760"},
		{"retention high", map[string]string{"streamfn:retentionHours": "8761"}, "streamfn:retentionHours", "must be 24..8760"},

		{"kms key ok", map[string]string{"streamfn:kmsKeyId": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}, "", ""},
		{"kms alias", map[string]string{"streamfn:kmsKeyId": "alias/mine"}, "streamfn:kmsKeyId", "aliases cannot be scoped"},
		{"kms other region", map[string]string{"streamfn:kmsKeyId": "arn:aws:kms:eu-west-1:111122223333:key/1234abcd"}, "streamfn:kmsKeyId", "key in the stream's region"},

		{"batch size min", map[string]string{"streamfn:batchSize": "1"}, "", ""},
		{"batch size max", map[string]string{"streamfn:batchSize": "10000"}, "", ""},
		{"batch size zero", map[string]string{"streamfn:batchSize": "0"}, "streamfn:batchSize", "must be 1..10000"},
		{"batch size high", map[string]string{"streamfn:batchSize": "10001"}, "streamfn:batchSize", "must be 1..10000"},
		{"batch window max", map[string]string{"streamfn:batchWindowSeconds": "300"}, "", ""},
		{"batch window high", map[string]string{"streamfn:batchWindowSeconds": "301"}, "streamfn:batchWindowSeconds", "must be 0..300"},
		{"batch window negative", map[string]string{"streamfn:batchWindowSeconds": "-1"}, "streamfn:batchWindowSeconds", "must be 0..300"},
		{"parallelization max", map[string]string{"streamfn:parallelizationFactor": "10"}, "", ""},
		{"parallelization high", map[string]string{"streamfn:parallelizationFactor": "12"}, "streamfn:parallelizationFactor", "= 12: must be 1..10"},
		{"parallelization zero", map[string]string{"streamfn:parallelizationFactor": "0"}, "streamfn:parallelizationFactor", "must be 1..10"},

		{"starting latest", map[string]string{"streamfn:startingPosition": "LATEST"}, "", ""},
		{"starting spelling", map[string]string{"streamfn:startingPosition": "latest"}, "streamfn:startingPosition", "pulumi config set streamfn:startingPosition LATEST"},
		{"at timestamp ok", map[string]string{"streamfn:startingPosition": "AT_TIMESTAMP", "streamfn:startingPositionTimestamp": "2025-01-31T00:00:00Z"}, "", ""},
		{"at timestamp missing", map[string]string{"streamfn:startingPosition": "AT_TIMESTAMP"}, "streamfn:startingPositionTimestamp", "RFC 3339"},
		{"timestamp without at timestamp", map[string]string{"streamfn:startingPositionTimestamp": "2025-01-31T00:00:00Z"}, "streamfn:startingPositionTimestamp", "only used with"},

		{"retries unbounded", map[string]string{"streamfn:maxRetryAttempts": "-1"}, "", ""},
		{"retries zero", map[string]string{"streamfn:maxRetryAttempts": "0"}, "", ""},
		{"retries max", map[string]string{"streamfn:maxRetryAttempts": "10000"}, "", ""},
		{"retries high", map[string]string{"streamfn:maxRetryAttempts": "10001"}, "streamfn:maxRetryAttempts", "0..10000 (or -1"},
		{"retries -2", map[string]string{"streamfn:maxRetryAttempts": "-2"}, "streamfn:maxRetryAttempts", "0..10000"},
		{"record age unbounded", map[string]string{"streamfn:maxRecordAgeSeconds": "-1"}, "", ""},
		{"record age min", map[string]string{"streamfn:maxRecordAgeSeconds": "60", "streamfn:iteratorAgeAlarmSeconds": "30"}, "", ""},
		{"record age low", map[string]string{"streamfn:maxRecordAgeSeconds": "59"}, "streamfn:maxRecordAgeSeconds", "60..604800"},
		{"record age max", map[string]string{"streamfn:maxRecordAgeSeconds": "604800", "streamfn:retentionHours": "168"}, "", ""},
		{"record age high", map[string]string{"streamfn:maxRecordAgeSeconds": "604801", "streamfn:retentionHours": "8760"}, "streamfn:maxRecordAgeSeconds", "60..604800"},
		{"record age beyond retention", map[string]string{"streamfn:maxRecordAgeSeconds": "90000"}, "streamfn:maxRecordAgeSeconds", "must not exceed the stream retention"},
		{"both unbounded", map[string]string{"streamfn:maxRetryAttempts": "-1", "streamfn:maxRecordAgeSeconds": "-1"}, "streamfn:maxRetryAttempts", "stalling its shard"},
		{"tumbling max", map[string]string{"streamfn:tumblingWindowSeconds": "900"}, "", ""},
		{"tumbling high", map[string]string{"streamfn:tumblingWindowSeconds": "901"}, "streamfn:tumblingWindowSeconds", "0..900"},

		{"processor memory min", map[string]string{"streamfn:processorMemoryMb": "128"}, "", ""},
		{"processor memory max", map[string]string{"streamfn:processorMemoryMb": "10240"}, "", ""},
		{"processor memory low", map[string]string{"streamfn:processorMemoryMb": "127"}, "streamfn:processorMemoryMb", "128..10240"},
		{"processor memory high", map[string]string{"streamfn:processorMemoryMb": "10241"}, "streamfn:processorMemoryMb", "128..10240"},
		{"processor timeout max", map[string]string{"streamfn:processorTimeoutSeconds": "900"}, "", ""},
		{"processor timeout zero", map[string]string{"streamfn:processorTimeoutSeconds": "0"}, "streamfn:processorTimeoutSeconds", "1..900"},
		{"processor timeout high", map[string]string{"streamfn:processorTimeoutSeconds": "901"}, "streamfn:processorTimeoutSeconds", "1..900"},
		{"ingest memory low", map[string]string{"streamfn:ingestMemoryMb": "64"}, "streamfn:ingestMemoryMb", "128..10240"},
		{"ingest timeout high", map[string]string{"streamfn:ingestTimeoutSeconds": "1000"}, "streamfn:ingestTimeoutSeconds", "1..900"},
		{"feature ttl off", map[string]string{"streamfn:featureTtlDays": "0"}, "", ""},
		{"feature ttl negative", map[string]string{"streamfn:featureTtlDays": "-1"}, "streamfn:featureTtlDays", "0..3650"},

		{"processor concurrency enough", map[string]string{"streamfn:shardCount": "4", "streamfn:parallelizationFactor": "2", "streamfn:processorConcurrency": "8"}, "", ""},
		{"processor concurrency short", map[string]string{"streamfn:shardCount": "4", "streamfn:parallelizationFactor": "2", "streamfn:processorConcurrency": "7"}, "streamfn:processorConcurrency", "4 x 2 = 8"},
		{"processor concurrency zero", map[string]string{"streamfn:processorConcurrency": "0"}, "streamfn:processorConcurrency", "shards are throttled"},
		{"processor concurrency on demand", map[string]string{"streamfn:streamMode": "ON_DEMAND", "streamfn:shardCount": "0", "streamfn:processorConcurrency": "3"}, "streamfn:processorConcurrency", "initial 4 shards"},
		{"ingest concurrency zero", map[string]string{"streamfn:ingestConcurrency": "0"}, "streamfn:ingestConcurrency", "reject every request"},
		{"ingest concurrency ok", map[string]string{"streamfn:ingestConcurrency": "10"}, "", ""},
		{"provisioned within reserved", map[string]string{"streamfn:ingestConcurrency": "10", "streamfn:ingestProvisionedConcurrency": "10"}, "", ""},
		{"provisioned over reserved", map[string]string{"streamfn:ingestConcurrency": "10", "streamfn:ingestProvisionedConcurrency": "11"}, "streamfn:ingestProvisionedConcurrency", "must not exceed streamfn:ingestConcurrency"},
		{"provisioned negative", map[string]string{"streamfn:ingestProvisionedConcurrency": "-1"}, "streamfn:ingestProvisionedConcurrency", "0 (none) or more"},
		{"auth none", map[string]string{"streamfn:ingestAuth": "NONE"}, "", ""},
		{"auth bad", map[string]string{"streamfn:ingestAuth": "IAM"}, "streamfn:ingestAuth", "AWS_IAM, NONE"},

		{"architecture x86", map[string]string{"streamfn:architecture": "x86_64"}, "", ""},
		{"architecture spelling", map[string]string{"streamfn:architecture": "amd64"}, "streamfn:architecture", "arm64, x86_64"},
		{"log retention ok", map[string]string{"streamfn:logRetentionDays": "3653"}, "", ""},
		{"log retention bad", map[string]string{"streamfn:logRetentionDays": "10"}, "streamfn:logRetentionDays", "logRetentionDays 7"},
		{"log level bad", map[string]string{"streamfn:logLevel": "info"}, "streamfn:logLevel", "set streamfn:logLevel INFO"},
		{"system log level bad", map[string]string{"streamfn:systemLogLevel": "ERROR"}, "streamfn:systemLogLevel", "DEBUG, INFO, WARN"},
		{"namespace reserved", map[string]string{"streamfn:metricsNamespace": "AWS/Lambda"}, "streamfn:metricsNamespace", "reserves"},
		{"namespace empty", map[string]string{"streamfn:metricsNamespace": ""}, "streamfn:metricsNamespace", "1..255"},

		{"alarm below record age", map[string]string{"streamfn:iteratorAgeAlarmSeconds": "3599"}, "", ""},
		{"alarm at record age", map[string]string{"streamfn:iteratorAgeAlarmSeconds": "3600"}, "streamfn:iteratorAgeAlarmSeconds", "already discarded"},
		{"alarm zero", map[string]string{"streamfn:iteratorAgeAlarmSeconds": "0"}, "streamfn:iteratorAgeAlarmSeconds", "at least 1"},
		{"email ok", map[string]string{"streamfn:alarmEmail": "oncall@example.com"}, "", ""},
		{"email bad", map[string]string{"streamfn:alarmEmail": "oncall"}, "streamfn:alarmEmail", "e-mail address"},

		{"tags ok", map[string]string{"streamfn:tags": `{"team":"data","cost-center":"42"}`}, "", ""},
		{"tags reserved", map[string]string{"streamfn:tags": `{"stack":"x"}`}, "streamfn:tags.stack", "set by the program"},
		{"tags aws prefix", map[string]string{"streamfn:tags": `{"aws:thing":"x"}`}, "streamfn:tags.aws:thing", `"aws:"`},
		{"tags not an object", map[string]string{"streamfn:tags": `["a"]`}, "streamfn:tags", "object of string values"},

		{"integer unparsable", map[string]string{"streamfn:batchSize": "lots"}, "streamfn:batchSize", "whole number"},
		{"boolean unparsable", map[string]string{"streamfn:bisectOnError": "maybe"}, "streamfn:bisectOnError", "true or false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, tt.overrides)
			if tt.wantKey == "" {
				if err != nil {
					t.Fatalf("rejected a good configuration:\n%v", err)
				}
				return
			}
			var invalid *config.ValidationError
			if !errors.As(err, &invalid) {
				t.Fatalf("got %v, want a *config.ValidationError naming %s", err, tt.wantKey)
			}
			line := lineFor(invalid, tt.wantKey)
			if line == "" {
				t.Fatalf("no problem names %s; got:\n%v", tt.wantKey, err)
			}
			if !strings.Contains(line, tt.wantText) {
				t.Errorf("message %q does not say %q", line, tt.wantText)
			}
			if !strings.HasPrefix(line, tt.wantKey+" = ") || !strings.Contains(line, "fix: ") {
				t.Errorf("message %q should read '<key> = <value>: <rule>; fix: <how>'", line)
			}
		})
	}
}

func lineFor(err *config.ValidationError, key string) string {
	for _, p := range err.Problems {
		if p.Key == key {
			return p.String()
		}
	}
	return ""
}

func TestAllProblemsAtOnce(t *testing.T) {
	_, err := load(t, map[string]string{
		"streamfn:parallelizationFactor": "12",
		"streamfn:batchSize":             "0",
		"streamfn:architecture":          "ARM",
		"streamfn:logRetentionDays":      "2",
		"streamfn:alarmEmail":            "x",
	})
	var invalid *config.ValidationError
	if !errors.As(err, &invalid) {
		t.Fatalf("got %v, want *config.ValidationError", err)
	}
	want := []string{"streamfn:parallelizationFactor", "streamfn:batchSize", "streamfn:architecture", "streamfn:logRetentionDays", "streamfn:alarmEmail"}
	var got []string
	for _, p := range invalid.Problems {
		got = append(got, p.Key)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("problems for %v, want exactly %v", got, want)
	}
	if lines := strings.Split(invalid.Error(), "\n"); len(lines) != len(want) {
		t.Errorf("message has %d lines, want one per problem:\n%s", len(lines), invalid.Error())
	}
	if !strings.Contains(invalid.Error(), "streamfn:parallelizationFactor = 12: must be 1..10") {
		t.Errorf("message lacks the documented example line:\n%s", invalid.Error())
	}
}

func TestMissingKeyIsAProblemNotAPanic(t *testing.T) {
	values := defaults(t)
	delete(values, config.Key("batchSize"))
	_, err := config.Load(func(key string) (string, bool) { v, ok := values[key]; return v, ok })
	var invalid *config.ValidationError
	if !errors.As(err, &invalid) || lineFor(invalid, "streamfn:batchSize") == "" {
		t.Fatalf("got %v, want a problem naming streamfn:batchSize", err)
	}
}

// A value that does not parse is reported with the rules of every other
// key, and no cross-key rule reads it or another invalid value.
func TestParseErrorsAndRulesInOnePass(t *testing.T) {
	_, err := load(t, map[string]string{
		"streamfn:shardCount":            "two",
		"streamfn:batchSize":             "0",
		"streamfn:parallelizationFactor": "12",
		"streamfn:processorConcurrency":  "3",
	})
	var invalid *config.ValidationError
	if !errors.As(err, &invalid) {
		t.Fatalf("got %v, want *config.ValidationError", err)
	}
	var got []string
	for _, p := range invalid.Problems {
		got = append(got, p.Key)
	}
	slices.Sort(got)
	want := []string{"streamfn:batchSize", "streamfn:parallelizationFactor", "streamfn:shardCount"}
	if !slices.Equal(got, want) {
		t.Errorf("problems for %v, want exactly %v (processorConcurrency cannot be judged against an invalid parallelizationFactor):\n%v", got, want, invalid)
	}
	invalid.Stack = "dev"
	if !strings.Contains(invalid.Error(), "fix: pulumi config set --stack dev streamfn:batchSize 1") {
		t.Errorf("fixes do not name the stack:\n%v", invalid)
	}
}
