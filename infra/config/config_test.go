package config_test

import (
	"encoding/json"
	"errors"
	"maps"
	"os"
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
		{"at timestamp lower-case t and z", map[string]string{"streamfn:startingPosition": "AT_TIMESTAMP", "streamfn:startingPositionTimestamp": "2025-01-31t00:00:00z"}, "", ""},
		{"at timestamp one-digit hour", map[string]string{"streamfn:startingPosition": "AT_TIMESTAMP", "streamfn:startingPositionTimestamp": "2025-01-31T1:00:00Z"}, "streamfn:startingPositionTimestamp", "RFC 3339"},
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
		{"dedup horizon", map[string]string{"streamfn:dedupHorizonSeconds": "3600"}, "", ""},
		{"failure destination sqs", map[string]string{"streamfn:failureDestination": "sqs"}, "", ""},
		{"failure destination sns", map[string]string{"streamfn:failureDestination": "sns"}, "streamfn:failureDestination", "s3, sqs"},
		{"failure retention 0", map[string]string{"streamfn:failureRetentionDays": "0"}, "streamfn:failureRetentionDays", "1..365"},
		{"failure retention 366", map[string]string{"streamfn:failureRetentionDays": "366"}, "streamfn:failureRetentionDays", "1..365"},
		{"dedup horizon too short", map[string]string{"streamfn:dedupHorizonSeconds": "59"}, "streamfn:dedupHorizonSeconds", "60..86400"},
		{"dedup horizon too long", map[string]string{"streamfn:dedupHorizonSeconds": "86401"}, "streamfn:dedupHorizonSeconds", "60..86400"},
		{"dedup horizon within the ingest timeout", map[string]string{"streamfn:dedupHorizonSeconds": "120", "streamfn:ingestTimeoutSeconds": "120"},
			"streamfn:dedupHorizonSeconds", "more than streamfn:ingestTimeoutSeconds (120)"},
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
		{"tags empty value", map[string]string{"streamfn:tags": `{"owner":""}`}, "streamfn:tags.owner", "must not be empty"},
		{"tags blank-free value", map[string]string{"streamfn:tags": `{"owner":"-"}`}, "", ""},

		{"timestamp with offset", map[string]string{"streamfn:startingPosition": "AT_TIMESTAMP", "streamfn:startingPositionTimestamp": "2026-01-31T01:00:00+01:00"}, "", ""},
		{"timestamp with fraction", map[string]string{"streamfn:startingPosition": "AT_TIMESTAMP", "streamfn:startingPositionTimestamp": "2026-01-31T01:00:00.750+01:00"}, "streamfn:startingPositionTimestamp", "2026-01-31T00:00:00Z"},
		{"timestamp not rfc 3339", map[string]string{"streamfn:startingPosition": "AT_TIMESTAMP", "streamfn:startingPositionTimestamp": "2026-01-31 01:00"}, "streamfn:startingPositionTimestamp", "whole seconds such as"},

		{"consumer efo", map[string]string{"streamfn:consumer": "efo"}, "", ""},
		{"consumer unknown", map[string]string{"streamfn:consumer": "EFO"}, "streamfn:consumer", "shared, efo"},

		{"filters ok", map[string]string{"streamfn:mappingFilters": filters(`{"data":{"type":["purchase"]}}`, `{"data":{"value":[{"numeric":[">",100,"<=",500]}],"userId":[{"prefix":"u-"}]}}`)}, "", ""},
		{"filters all operators", map[string]string{"streamfn:mappingFilters": filters(`{"data":{"a":[{"anything-but":["x"]}],"b":[{"exists":false}],"c":[{"equals-ignore-case":"X"}],"d":[{"suffix":".png"}],"e":[null, "", 3, true]}}`)}, "", ""},
		{"filters not json", map[string]string{"streamfn:mappingFilters": filters(`{data:`)}, "streamfn:mappingFilters[0]", "not a JSON object"},
		{"filters on metadata", map[string]string{"streamfn:mappingFilters": filters(`{"partitionKey":["u1"]}`)}, "streamfn:mappingFilters[0]", `on "data" only`},
		{"filters bare value", map[string]string{"streamfn:mappingFilters": filters(`{"data":{"type":"purchase"}}`)}, "streamfn:mappingFilters[0]", "array of values"},
		{"filters unknown operator", map[string]string{"streamfn:mappingFilters": filters(`{"data":{"type":[{"wildcard":"p*"}]}}`)}, "streamfn:mappingFilters[0]", `operator "wildcard"`},
		{"filters bad numeric", map[string]string{"streamfn:mappingFilters": filters(`{"data":{"v":[{"numeric":[">","1"]}]}}`)}, "streamfn:mappingFilters[0]", "needs a number"},
		{"filters empty array", map[string]string{"streamfn:mappingFilters": filters(`{"data":{"v":[]}}`)}, "streamfn:mappingFilters[0]", "matches nothing"},
		{"filters too long", map[string]string{"streamfn:mappingFilters": filters(`{"data":{"v":["` + strings.Repeat("x", 4100) + `"]}}`)}, "streamfn:mappingFilters[0]", "Lambda allows 4096"},
		{"filters over quota", map[string]string{"streamfn:mappingFilters": filters(`{"data":{"a":[1]}}`, `{"data":{"a":[2]}}`, `{"data":{"a":[3]}}`, `{"data":{"a":[4]}}`, `{"data":{"a":[5]}}`, `{"data":{"a":[6]}}`)}, "streamfn:mappingFilters", "at most streamfn:mappingFilterQuota = 5"},
		{"filters within raised quota", map[string]string{"streamfn:mappingFilterQuota": "10", "streamfn:mappingFilters": filters(`{"data":{"a":[1]}}`, `{"data":{"a":[2]}}`, `{"data":{"a":[3]}}`, `{"data":{"a":[4]}}`, `{"data":{"a":[5]}}`, `{"data":{"a":[6]}}`)}, "", ""},
		{"filter quota above aws max", map[string]string{"streamfn:mappingFilterQuota": "11"}, "streamfn:mappingFilterQuota", "must be 1..10"},
		{"filters not a list", map[string]string{"streamfn:mappingFilters": `{"data":1}`}, "streamfn:mappingFilters", "list of strings"},
		// Pulumi.yaml declares string items, as the Pulumi CLI then enforces: a YAML map is refused.
		{"filters as yaml maps", map[string]string{"streamfn:mappingFilters": `[{"data":{"type":["purchase"]}}]`}, "streamfn:mappingFilters", "JSON written inside a string"},

		{"retired key ok", map[string]string{"streamfn:retiredKmsKeyIds": `["arn:aws:kms:us-east-1:111122223333:key/old"]`}, "", ""},
		{"retired key not an arn", map[string]string{"streamfn:retiredKmsKeyIds": `["alias/old"]`}, "streamfn:retiredKmsKeyIds[0]", "ARN of a KMS key"},
		{"retired key is current", map[string]string{"streamfn:kmsKeyId": "arn:aws:kms:us-east-1:111122223333:key/k", "streamfn:retiredKmsKeyIds": `["arn:aws:kms:us-east-1:111122223333:key/k"]`}, "streamfn:retiredKmsKeyIds[0]", "current streamfn:kmsKeyId"},

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

// startingPositionTimestamp follows RFC 3339's grammar, as ts does, and
// reaches the provider in the UTC form every RFC 3339 reader takes.
func TestStartingPositionTimestampIsNormalized(t *testing.T) {
	for in, want := range map[string]string{
		"2025-01-31t00:00:00z":      "2025-01-31T00:00:00Z",
		"2025-01-31T01:30:00+01:30": "2025-01-31T00:00:00Z",
		"2016-12-31T23:59:60Z":      "2017-01-01T00:00:00Z",
	} {
		c, err := load(t, map[string]string{"streamfn:startingPosition": "AT_TIMESTAMP", "streamfn:startingPositionTimestamp": in})
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if c.StartingPositionTimestamp != want {
			t.Errorf("%s became %s, want %s", in, c.StartingPositionTimestamp, want)
		}
	}
}

// The provider reads startingPositionTimestamp back as whole seconds in UTC; any other
// spelling of the instant would replace the mapping on every run.
func TestTimestampIsNormalizedToTheFormAWSReadsBack(t *testing.T) {
	for in, want := range map[string]string{
		"2026-01-31T01:00:00+01:00": "2026-01-31T00:00:00Z",
		"2026-01-31T00:00:00Z":      "2026-01-31T00:00:00Z",
		"2026-01-30T19:30:00-04:30": "2026-01-31T00:00:00Z",
		"2026-01-31T00:00:00.000Z":  "2026-01-31T00:00:00Z",
	} {
		cfg, err := load(t, map[string]string{"streamfn:startingPosition": "AT_TIMESTAMP", "streamfn:startingPositionTimestamp": in})
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if cfg.StartingPositionTimestamp != want {
			t.Errorf("%s loads as %s, want %s", in, cfg.StartingPositionTimestamp, want)
		}
	}
}

func TestShardSteps(t *testing.T) {
	tests := []struct {
		from, to int
		want     []int
	}{
		{1, 1, nil}, {1, 2, []int{2}}, {1, 8, []int{2, 4, 8}}, {1, 5, []int{2, 4, 5}},
		{8, 4, []int{4}}, {8, 1, []int{4, 2, 1}}, {9, 2, []int{5, 3, 2}}, {3, 1, []int{2, 1}},
		{500, 10000, []int{1000, 2000, 4000, 8000, 10000}},
	}
	for _, tt := range tests {
		got := config.ShardSteps(tt.from, tt.to)
		if !slices.Equal(got, tt.want) {
			t.Errorf("ShardSteps(%d, %d) = %v, want %v", tt.from, tt.to, got, tt.want)
		}
		// Every step is one UpdateShardCount call AWS accepts: at most double, at least half.
		prev := tt.from
		for _, n := range got {
			if n > 2*prev || 2*n < prev {
				t.Errorf("ShardSteps(%d, %d): step %d -> %d is beyond double or half", tt.from, tt.to, prev, n)
			}
			prev = n
		}
	}
}

func TestShardChangeIsCheckedAgainstTheDeployedStream(t *testing.T) {
	cfg, err := load(t, map[string]string{"streamfn:shardCount": "8"})
	if err != nil {
		t.Fatal(err)
	}
	for deployed, ok := range map[int]bool{0: true, 4: true, 8: true, 16: true, 1: false, 17: false} {
		p := cfg.CheckShardChange(deployed)
		if (p == nil) != ok {
			t.Errorf("deployed %d -> 8: problem %v, want ok=%v", deployed, p, ok)
		}
	}
	p := cfg.CheckShardChange(1)
	if p.Key != "streamfn:shardCount" || !strings.Contains(p.Fix, "2, then 4, then 8") || !strings.Contains(p.Fix, "3 runs") {
		t.Errorf("problem %v does not list the steps 2, 4, 8", p)
	}
	many, _ := load(t, map[string]string{"streamfn:shardCount": "10000"})
	if p := many.CheckShardChange(1); p == nil || !strings.Contains(p.Fix, "10 scalings") {
		t.Errorf("1 -> 10000 takes 14 steps, more than the 10 a day Kinesis allows: %v", p)
	}
	onDemand, _ := load(t, map[string]string{"streamfn:streamMode": "ON_DEMAND", "streamfn:shardCount": "0"})
	if p := onDemand.CheckShardChange(1); p != nil {
		t.Errorf("ON_DEMAND has no shard count to check: %v", p)
	}
}

func TestDroppingACustomerKeyNeedsItRetired(t *testing.T) {
	const old = "arn:aws:kms:us-east-1:111122223333:key/old"
	dropped, _ := load(t, nil)
	p := dropped.CheckKeyChange(old)
	if p == nil || p.Key != "streamfn:kmsKeyId" || !strings.Contains(p.Fix, "streamfn:retiredKmsKeyIds[0]' "+old) || !strings.Contains(p.Fix, "24 hours") {
		t.Fatalf("dropping %s: %v, want a refusal with the retiredKmsKeyIds step", old, p)
	}
	retired, _ := load(t, map[string]string{"streamfn:retiredKmsKeyIds": `["` + old + `"]`})
	if p := retired.CheckKeyChange(old); p != nil {
		t.Errorf("with the old key retired: %v", p)
	}
	if p := dropped.CheckKeyChange("alias/aws/kinesis"); p != nil {
		t.Errorf("the AWS-managed key needs no grant: %v", p)
	}
	same, _ := load(t, map[string]string{"streamfn:kmsKeyId": old})
	if p := same.CheckKeyChange(old); p != nil {
		t.Errorf("an unchanged key: %v", p)
	}
}

func TestRequiredAccountConcurrency(t *testing.T) {
	for _, tt := range []struct {
		processor, ingest string
		want              int
	}{{"-1", "-1", 100}, {"24", "200", 324}, {"24", "-1", 124}} {
		cfg, err := load(t, map[string]string{"streamfn:processorConcurrency": tt.processor, "streamfn:ingestConcurrency": tt.ingest})
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.RequiredAccountConcurrency(); got != tt.want {
			t.Errorf("processor %s, ingest %s: needs %d, want %d", tt.processor, tt.ingest, got, tt.want)
		}
	}
}

// The README's "Changing a running stack" table and config.Changes agree, and cover every key.
func TestChangesTableMatchesTheREADME(t *testing.T) {
	readme, err := os.ReadFile(projectDir + "/README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n### Changing a running stack\n")
	if !ok {
		t.Fatal(`README has no "### Changing a running stack" section`)
	}
	section, _, _ = strings.Cut(section, "\n### ")
	documented := map[string]string{}
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, " | ")
		if len(cells) < 3 || !strings.HasPrefix(line, "| `") {
			continue
		}
		key := strings.Trim(strings.TrimPrefix(cells[0], "| "), "`")
		if !strings.Contains(key, ":") {
			key = config.Key(key)
		}
		documented[key] = cells[1]
	}
	for _, key := range config.Keys() {
		change, ok := config.Changes[key]
		if !ok {
			t.Errorf("config.Changes does not say what changing %s does", key)
			continue
		}
		if got := documented[key]; got != string(change.Kind) {
			t.Errorf("README says changing %s is %q, config.Changes says %q", key, got, change.Kind)
		}
	}
	if len(documented) != len(config.Keys()) || len(config.Changes) != len(config.Keys()) {
		t.Errorf("README documents %d keys and config.Changes %d, but there are %d", len(documented), len(config.Changes), len(config.Keys()))
	}
	for _, key := range []string{"startingPosition", "startingPositionTimestamp", "consumer"} {
		if config.Changes[config.Key(key)].Kind != config.Replaces {
			t.Errorf("%s forces a new mapping in the provider, so it replaces", key)
		}
	}
	for _, key := range []string{"shardCount", "kmsKeyId", "ingestProvisionedConcurrency"} {
		if config.Changes[config.Key(key)].Kind != config.Steps {
			t.Errorf("%s needs steps", key)
		}
	}
}

// filters renders patterns as Pulumi hands a list of strings to the program.
func filters(patterns ...string) string {
	b, err := json.Marshal(patterns)
	if err != nil {
		panic(err)
	}
	return string(b)
}
