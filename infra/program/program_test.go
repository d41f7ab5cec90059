package program_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"

	"github.com/streamfn/streamfn/infra/config"
	"github.com/streamfn/streamfn/infra/mocks"
	"github.com/streamfn/streamfn/infra/names"
	"github.com/streamfn/streamfn/infra/pipeline"
	"github.com/streamfn/streamfn/infra/program"
	"github.com/streamfn/streamfn/infra/stackconfig"
)

const projectDir = "../.."

// result is one run of the real program under the mocks.
type result struct {
	monitor *mocks.Monitor
	outputs map[string]any
}

// runProgram runs program.Run for a stack with some config overridden. It does not set the
// root directory, so the program finds the project by walking up from this package's folder,
// as it must when Pulumi runs it from infra/.
func runProgram(t *testing.T, stack string, overrides map[string]string) (*result, error) {
	t.Helper()
	return runStack(t, stack, mocks.Options{Stack: stack}, overrides)
}

// runStack runs the program with the config of stack configStack under the stack name and
// deployed state of mock.
func runStack(t *testing.T, configStack string, mock mocks.Options, overrides map[string]string) (*result, error) {
	t.Helper()
	values, err := stackconfig.Load(projectDir, configStack)
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(values, overrides)
	stack := mock.Stack
	mock.Project, mock.Region = "streamfn", values[config.RegionKey]
	r := &result{monitor: mocks.New(mock)}
	err = pulumi.RunErr(func(ctx *pulumi.Context) error {
		if err := program.Run(ctx); err != nil {
			return err
		}
		r.outputs = map[string]any{}
		for name, v := range ctx.GetCurrentExportMap() {
			out, err := internals.UnsafeAwaitOutput(ctx.Context(), pulumi.ToOutput(v))
			if err != nil {
				return err
			}
			if !out.Known {
				return fmt.Errorf("output %s is unknown", name)
			}
			r.outputs[name] = mocks.ToJSON(resource.NewPropertyValue(out.Value))
		}
		return nil
	}, pulumi.WithMocks("streamfn", stack, r.monitor), func(info *pulumi.RunInfo) { info.Config = values })
	return r, err
}

func mustRun(t *testing.T, stack string, overrides map[string]string) *result {
	t.Helper()
	r, err := runProgram(t, stack, overrides)
	if err != nil {
		t.Fatalf("running the program for %s: %v", stack, err)
	}
	return r
}

// Runs are cached per test binary: each builds both functions, and the tests only read them.
var (
	runsMu sync.Mutex
	runs   = map[string]*result{}
)

func cachedRun(t *testing.T, name, stack string, overrides map[string]string) *result {
	t.Helper()
	runsMu.Lock()
	defer runsMu.Unlock()
	if r, ok := runs[name]; ok {
		return r
	}
	r := mustRun(t, stack, overrides)
	runs[name] = r
	return r
}

func devRun(t *testing.T) *result  { return cachedRun(t, "dev", "dev", nil) }
func prodRun(t *testing.T) *result { return cachedRun(t, "prod", "prod", nil) }
func knobRun(t *testing.T) *result { return cachedRun(t, "knobs", "dev", knobValues) }

// knobValues sets every key to a non-default value that the rules accept together.
var knobValues = map[string]string{
	"aws:region":                            "eu-west-1",
	"streamfn:streamMode":                   "PROVISIONED",
	"streamfn:shardCount":                   "3",
	"streamfn:retentionHours":               "48",
	"streamfn:kmsKeyId":                     customKey,
	"streamfn:batchSize":                    "250",
	"streamfn:batchWindowSeconds":           "5",
	"streamfn:parallelizationFactor":        "4",
	"streamfn:startingPosition":             "AT_TIMESTAMP",
	"streamfn:startingPositionTimestamp":    "2025-01-31T01:00:00+01:00",
	"streamfn:maxRetryAttempts":             "7",
	"streamfn:maxRecordAgeSeconds":          "7200",
	"streamfn:bisectOnError":                "false",
	"streamfn:failureDestination":           "sqs",
	"streamfn:failureRetentionDays":         "30",
	"streamfn:poisonRetentionDays":          "2",
	"streamfn:tumblingWindowSeconds":        "120",
	"streamfn:mappingEnabled":               "false",
	"streamfn:processorMemoryMb":            "2048",
	"streamfn:processorTimeoutSeconds":      "120",
	"streamfn:processorConcurrency":         "20",
	"streamfn:featureTtlDays":               "30",
	"streamfn:dedupHorizonSeconds":          "1800",
	"streamfn:ingestMemoryMb":               "1024",
	"streamfn:ingestTimeoutSeconds":         "20",
	"streamfn:ingestConcurrency":            "50",
	"streamfn:ingestProvisionedConcurrency": "5",
	"streamfn:ingestAuth":                   "NONE",
	"streamfn:ingestThrottleRetryMs":        "1500",
	"streamfn:architecture":                 "x86_64",
	"streamfn:logRetentionDays":             "14",
	"streamfn:logLevel":                     "WARN",
	"streamfn:systemLogLevel":               "INFO",
	"streamfn:metricsNamespace":             "shop/activity",
	"streamfn:iteratorAgeAlarmSeconds":      "600",
	"streamfn:alarmEmail":                   "oncall@example.com",
	"streamfn:tags":                         `{"team":"data"}`,
	"streamfn:protectData":                  "true",
	"streamfn:retiredKmsKeyIds":             `["` + retiredKey + `"]`,
	"streamfn:mappingMetrics":               "false",
	"streamfn:consumer":                     "efo",
	"streamfn:mappingFilters":               `["{\"data\":{\"type\":[\"purchase\"]}}", "{\"data\":{\"value\":[{\"numeric\":[\">\",100]}]}}"]`,
	"streamfn:mappingFilterQuota":           "6",
}

const retiredKey = "arn:aws:kms:eu-west-1:111122223333:key/retired-0000"

const customKey = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

const (
	tStream      = "aws:kinesis/stream:Stream"
	tFunction    = "aws:lambda/function:Function"
	tMapping     = "aws:lambda/eventSourceMapping:EventSourceMapping"
	tURL         = "aws:lambda/functionUrl:FunctionUrl"
	tAlias       = "aws:lambda/alias:Alias"
	tProvisioned = "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig"
	tPermission  = "aws:lambda/permission:Permission"
	tRole        = "aws:iam/role:Role"
	tRolePolicy  = "aws:iam/rolePolicy:RolePolicy"
	tQueue       = "aws:sqs/queue:Queue"
	tQueuePol    = "aws:sqs/queuePolicy:QueuePolicy"
	tTable       = "aws:dynamodb/table:Table"
	tLogGroup    = "aws:cloudwatch/logGroup:LogGroup"
	tAlarm       = "aws:cloudwatch/metricAlarm:MetricAlarm"
	tDashboard   = "aws:cloudwatch/dashboard:Dashboard"
	tTopic       = "aws:sns/topic:Topic"
	tTopicPol    = "aws:sns/topicPolicy:TopicPolicy"
	tSubscribe   = "aws:sns/topicSubscription:TopicSubscription"
	tKey         = "aws:kms/key:Key"
	tBucket      = "aws:s3/bucketV2:BucketV2"
	tBucketSSE   = "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2"
	tPublicBlock = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
	tOwnership   = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
	tBucketPol   = "aws:s3/bucketPolicy:BucketPolicy"
	tLifecycle   = "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2"
	tProvider    = "pulumi:providers:aws"
	tConsumer    = "aws:kinesis/streamConsumer:StreamConsumer"
)

func find(t *testing.T, r *result, typ, name string) mocks.Registration {
	t.Helper()
	reg, ok := r.monitor.Find(typ, name)
	if !ok {
		t.Fatalf("no %s named %s was registered", typ, name)
	}
	return reg
}

// lookup follows a dotted path through maps and arrays ("loggingConfig.logFormat",
// "architectures.0").
func lookup(v any, path string) (any, bool) {
	for _, part := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[part]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

func resourceSet(r *result) []string {
	var set []string
	for _, reg := range r.monitor.Registrations() {
		set = append(set, reg.Type+" "+reg.Name)
	}
	slices.Sort(set)
	return set
}

var baseResources = []string{
	tProvider + " aws",
	pipeline.ComponentType + " pipeline",
	tStream + " stream",
	tTable + " features",
	tQueue + " poison",
	tQueuePol + " poison-policy",
	tBucket + " failures",
	tBucketSSE + " failures-encryption",
	tPublicBlock + " failures-public-access",
	tOwnership + " failures-ownership",
	tBucketPol + " failures-policy",
	tLifecycle + " failures-lifecycle",
	tLogGroup + " ingest-logs",
	tLogGroup + " processor-logs",
	tRole + " ingest-role",
	tRole + " processor-role",
	tRolePolicy + " ingest-policy",
	tRolePolicy + " processor-policy",
	tFunction + " ingest",
	tFunction + " processor",
	tMapping + " processor-stream",
	tURL + " ingest-url",
	tKey + " alarms-key",
	tTopic + " alarms",
	tTopicPol + " alarms-policy",
	tAlarm + " processor-iterator-age",
	tAlarm + " processor-outside-exactly-once",
	tAlarm + " processor-user-caps",
	tAlarm + " processor-errors",
	tAlarm + " processor-throttles",
	tAlarm + " ingest-throttles",
	tAlarm + " failed-batches",
	tAlarm + " poison-queue-depth",
	tAlarm + " stream-write-throttled",
	tDashboard + " dashboard",
}

func TestResourceSet(t *testing.T) {
	tests := []struct {
		name  string
		run   func(*testing.T) *result
		extra []string
	}{
		{"dev", devRun, nil},
		// prod keeps ingest warm: a published version, the alias and provisioned concurrency.
		{"prod", prodRun, []string{tAlias + " ingest-live", tProvisioned + " ingest-provisioned"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := append(slices.Clone(baseResources), tt.extra...)
			slices.Sort(want)
			if got := resourceSet(tt.run(t)); !slices.Equal(got, want) {
				t.Errorf("resources:\n  got  %v\n  want %v", got, want)
			}
		})
	}
}

func TestEveryChildBelongsToThePipeline(t *testing.T) {
	for _, reg := range knobRun(t).monitor.Registrations() {
		switch {
		case reg.Type == tProvider || reg.Type == pipeline.ComponentType:
			if reg.Parent != "" {
				t.Errorf("%s %s has parent %q, want the stack", reg.Type, reg.Name, reg.Parent)
			}
		case reg.Parent != "pipeline":
			t.Errorf("%s %s has parent %q, want pipeline", reg.Type, reg.Name, reg.Parent)
		}
	}
}

// check says that input path (or, with the "options." prefix, resource option) of a
// resource holds want. want may be absent{} (not set) or contains("...") (a substring of a
// string value). A check with no type marks a key that shapes validation only.
type check struct {
	typ, name, path string
	want            any
}

type absent struct{}

type contains string

func (c check) holds(reg mocks.Registration) (any, bool) {
	source, path := reg.Inputs, c.path
	if rest, ok := strings.CutPrefix(c.path, "options."); ok {
		source, path = reg.Options, rest
	}
	got, ok := lookup(source, path)
	switch want := c.want.(type) {
	case absent:
		return got, !ok
	case contains:
		s, _ := got.(string)
		return got, strings.Contains(s, string(want))
	}
	return got, ok && got == c.want
}

// knobChecks says where each config key must land. TestEveryKnobIsChecked keeps it complete.
var knobChecks = map[string][]check{
	"aws:region":                     {{tProvider, "aws", "region", "eu-west-1"}},
	"streamfn:streamMode":            {{tStream, "stream", "streamModeDetails.streamMode", "PROVISIONED"}},
	"streamfn:shardCount":            {{tStream, "stream", "shardCount", 3.0}},
	"streamfn:retentionHours":        {{tStream, "stream", "retentionPeriod", 48.0}},
	"streamfn:kmsKeyId":              {{tStream, "stream", "kmsKeyId", customKey}, {tStream, "stream", "encryptionType", "KMS"}},
	"streamfn:batchSize":             {{tMapping, "processor-stream", "batchSize", 250.0}},
	"streamfn:batchWindowSeconds":    {{tMapping, "processor-stream", "maximumBatchingWindowInSeconds", 5.0}},
	"streamfn:parallelizationFactor": {{tMapping, "processor-stream", "parallelizationFactor", 4.0}},
	"streamfn:startingPosition":      {{tMapping, "processor-stream", "startingPosition", "AT_TIMESTAMP"}},
	// Given with +01:00; the mapping gets the whole-second UTC form the provider reads back.
	"streamfn:startingPositionTimestamp": {{tMapping, "processor-stream", "startingPositionTimestamp", "2025-01-31T00:00:00Z"}},
	"streamfn:maxRetryAttempts":          {{tMapping, "processor-stream", "maximumRetryAttempts", 7.0}},
	"streamfn:maxRecordAgeSeconds": {
		{tMapping, "processor-stream", "maximumRecordAgeInSeconds", 7200.0},
		// The processor keeps other keys' eventIds as long as Lambda may redeliver them.
		{tFunction, "processor", "environment.variables.REDELIVERY_HORIZON_SECONDS", "7200"},
	},
	"streamfn:bisectOnError": {{tMapping, "processor-stream", "bisectBatchOnFunctionError", false}},
	// sqs: the failures queue exists (and is the destination: TestFixedMappingSettings).
	"streamfn:failureDestination":      {{tQueue, "failures", "messageRetentionSeconds", 1209600.0}},
	"streamfn:failureRetentionDays":    {{tLifecycle, "failures-lifecycle", "rules.0.expiration.days", 30.0}},
	"streamfn:poisonRetentionDays":     {{tQueue, "poison", "messageRetentionSeconds", 172800.0}},
	"streamfn:tumblingWindowSeconds":   {{tMapping, "processor-stream", "tumblingWindowInSeconds", 120.0}},
	"streamfn:mappingEnabled":          {{tMapping, "processor-stream", "enabled", false}},
	"streamfn:processorMemoryMb":       {{tFunction, "processor", "memorySize", 2048.0}},
	"streamfn:processorTimeoutSeconds": {{tFunction, "processor", "timeout", 120.0}},
	"streamfn:processorConcurrency":    {{tFunction, "processor", "reservedConcurrentExecutions", 20.0}},
	"streamfn:featureTtlDays":          {{tFunction, "processor", "environment.variables.FEATURE_TTL_DAYS", "30"}},
	"streamfn:dedupHorizonSeconds":     {{tFunction, "processor", "environment.variables.DEDUP_HORIZON_SECONDS", "1800"}},
	"streamfn:ingestMemoryMb":          {{tFunction, "ingest", "memorySize", 1024.0}},
	"streamfn:ingestTimeoutSeconds":    {{tFunction, "ingest", "timeout", 20.0}},
	"streamfn:ingestConcurrency":       {{tFunction, "ingest", "reservedConcurrentExecutions", 50.0}},
	"streamfn:ingestProvisionedConcurrency": {
		{tProvisioned, "ingest-provisioned", "provisionedConcurrentExecutions", 5.0},
		{tProvisioned, "ingest-provisioned", "qualifier", "live"},
		{tFunction, "ingest", "publish", true},
		{tAlias, "ingest-live", "functionVersion", "1"},
		{tURL, "ingest-url", "qualifier", "live"},
	},
	"streamfn:ingestAuth": {
		{tURL, "ingest-url", "authorizationType", "NONE"},
		{tPermission, pipeline.PublicURLPermission, "functionUrlAuthType", "NONE"},
		{tPermission, pipeline.PublicURLPermission, "action", "lambda:InvokeFunctionUrl"},
		{tPermission, pipeline.PublicURLPermission, "qualifier", "live"},
	},
	"streamfn:ingestThrottleRetryMs": {{tFunction, "ingest", "environment.variables.THROTTLE_RETRY_MS", "1500"}},
	"streamfn:architecture": {
		{tFunction, "ingest", "architectures.0", "x86_64"},
		{tFunction, "processor", "architectures.0", "x86_64"},
	},
	"streamfn:logRetentionDays": {
		{tLogGroup, "ingest-logs", "retentionInDays", 14.0},
		{tLogGroup, "processor-logs", "retentionInDays", 14.0},
	},
	"streamfn:logLevel": {
		{tFunction, "ingest", "loggingConfig.applicationLogLevel", "WARN"},
		{tFunction, "processor", "loggingConfig.applicationLogLevel", "WARN"},
	},
	"streamfn:systemLogLevel": {
		{tFunction, "ingest", "loggingConfig.systemLogLevel", "INFO"},
		{tFunction, "processor", "loggingConfig.systemLogLevel", "INFO"},
	},
	"streamfn:metricsNamespace": {
		{tFunction, "ingest", "environment.variables.METRICS_NAMESPACE", "shop/activity"},
		{tFunction, "processor", "environment.variables.METRICS_NAMESPACE", "shop/activity"},
	},
	"streamfn:iteratorAgeAlarmSeconds": {{tAlarm, "processor-iterator-age", "threshold", 600000.0}},
	"streamfn:alarmEmail": {
		{tSubscribe, "alarms-email", "endpoint", "oncall@example.com"},
		{tSubscribe, "alarms-email", "protocol", "email"},
	},
	"streamfn:protectData": {
		{tStream, "stream", "options.protect", true},
		{tTable, "features", "options.protect", true},
		{tTable, "features", "deletionProtectionEnabled", true},
	},
	"streamfn:retiredKmsKeyIds": {{tRolePolicy, "processor-policy", "policy", contains(`"Resource":["` + customKey + `","` + retiredKey + `"]`)}},
	"streamfn:mappingMetrics":   {{tMapping, "processor-stream", "metricsConfig", absent{}}},
	"streamfn:consumer": {
		{tConsumer, "processor-consumer", "name", "streamfn-processor"},
		{tMapping, "processor-stream", "eventSourceArn", contains(":stream/stream-")},
		{tMapping, "processor-stream", "eventSourceArn", contains("/consumer/streamfn-processor:")},
	},
	"streamfn:mappingFilters": {
		{tMapping, "processor-stream", "filterCriteria.filters.0.pattern", `{"data":{"type":["purchase"]}}`},
		{tMapping, "processor-stream", "filterCriteria.filters.1.pattern", `{"data":{"value":[{"numeric":[">",100]}]}}`},
	},
	// Only validation reads it; the config tests hold it.
	"streamfn:mappingFilterQuota": {{}},
	"streamfn:tags": {
		{tProvider, "aws", "defaultTags.tags.team", "data"},
		{tProvider, "aws", "defaultTags.tags.project", "streamfn"},
		{tProvider, "aws", "defaultTags.tags.stack", "dev"},
	},
}

func TestEveryKnobLandsOnItsInput(t *testing.T) {
	r := knobRun(t)
	for _, key := range slices.Sorted(maps.Keys(knobChecks)) {
		for _, c := range knobChecks[key] {
			if c.typ == "" {
				continue
			}
			t.Run(key+"/"+c.name+"."+c.path, func(t *testing.T) {
				if got, ok := c.holds(find(t, r, c.typ, c.name)); !ok {
					t.Errorf("%s %s %s = %v, want %#v", c.typ, c.name, c.path, got, c.want)
				}
			})
		}
	}
	// x86_64 must also build for amd64, not only say so.
	for _, fn := range program.Functions {
		archive, _ := lookup(find(t, r, tFunction, fn).Inputs, "code.archive")
		if path, _ := archive.(string); !strings.Contains(path, "/.build/x86_64/") {
			t.Errorf("%s ships %v, want an archive built under .build/x86_64", fn, archive)
		}
	}
}

func TestEveryKnobIsChecked(t *testing.T) {
	checked := slices.Sorted(maps.Keys(knobChecks))
	if keys := config.Keys(); !slices.Equal(checked, keys) {
		t.Errorf("knobChecks covers %v\nbut the config has %v", checked, keys)
	}
	if set := slices.Sorted(maps.Keys(knobValues)); !slices.Equal(set, config.Keys()) {
		t.Errorf("knobValues sets %v\nbut the config has %v", set, config.Keys())
	}
}

func TestFixedMappingSettings(t *testing.T) {
	for name, r := range map[string]*result{"dev": devRun(t), "knobs": knobRun(t)} {
		m := find(t, r, tMapping, "processor-stream").Inputs
		if got, _ := lookup(m, "functionResponseTypes"); fmt.Sprint(got) != "[ReportBatchItemFailures]" {
			t.Errorf("%s: functionResponseTypes = %v", name, got)
		}
		// dev keeps failureDestination's default, s3; knobs sets sqs.
		failures := find(t, r, tBucket, "failures").Outputs["arn"]
		if name == "knobs" {
			failures = find(t, r, tQueue, "failures").Outputs["arn"]
		}
		if got, _ := lookup(m, "destinationConfig.onFailure.destinationArn"); got != failures {
			t.Errorf("%s: on-failure destination = %v, want %v", name, got, failures)
		}
		if got, _ := lookup(m, "metricsConfig.metrics"); name == "dev" && fmt.Sprint(got) != "[EventCount]" {
			t.Errorf("%s: mapping metrics = %v, want [EventCount] (the failed-batches alarm reads them)", name, got)
		}
		if got, _ := lookup(m, "eventSourceArn"); !strings.HasPrefix(got.(string), find(t, r, tStream, "stream").Outputs["arn"].(string)) {
			t.Errorf("%s: the mapping reads %v, neither the stream nor its consumer", name, got)
		}
	}
	dev := find(t, devRun(t), tMapping, "processor-stream").Inputs
	for _, absent := range []string{"tumblingWindowInSeconds", "startingPositionTimestamp"} {
		if v, ok := dev[absent]; ok {
			t.Errorf("dev sets %s = %v, want it unset", absent, v)
		}
	}
}

func TestOnDemandStream(t *testing.T) {
	r := mustRun(t, "dev", map[string]string{"streamfn:streamMode": "ON_DEMAND", "streamfn:shardCount": "0"})
	stream := find(t, r, tStream, "stream").Inputs
	if got, _ := lookup(stream, "streamModeDetails.streamMode"); got != "ON_DEMAND" {
		t.Errorf("stream mode = %v", got)
	}
	if v, ok := stream["shardCount"]; ok {
		t.Errorf("ON_DEMAND stream sets shardCount = %v", v)
	}
	// An ON_DEMAND stream throttles too (twice its previous peak, or a hot partition key).
	alarm, ok := r.monitor.Find(tAlarm, "stream-write-throttled")
	if !ok {
		t.Fatal("ON_DEMAND stream has no write-throttling alarm")
	}
	if alarm.Inputs["metricName"] != "WriteProvisionedThroughputExceeded" || !strings.Contains(alarm.Inputs["alarmDescription"].(string), "ON_DEMAND") {
		t.Errorf("ON_DEMAND throttling alarm = %v / %v", alarm.Inputs["metricName"], alarm.Inputs["alarmDescription"])
	}
}

func TestFunctionWiring(t *testing.T) {
	r := devRun(t)
	table := find(t, r, tTable, "features").Outputs
	poison := find(t, r, tQueue, "poison").Outputs
	stream := find(t, r, tStream, "stream").Outputs
	tests := []struct {
		fn   string
		path string
		want any
	}{
		{"processor", "environment.variables.TABLE_NAME", table["name"]},
		{"processor", "environment.variables.POISON_QUEUE_URL", poison["url"]},
		{"processor", "environment.variables.TTL_ATTRIBUTE", "expiresAt"},
		{"ingest", "environment.variables.STREAM_NAME", stream["name"]},
		{"ingest", "runtime", "provided.al2023"},
		{"ingest", "handler", "bootstrap"},
		{"ingest", "loggingConfig.logFormat", "JSON"},
		{"ingest", "loggingConfig.logGroup", "/streamfn/dev/ingest"},
		{"processor", "loggingConfig.logGroup", "/streamfn/dev/processor"},
		{"processor", "architectures.0", "arm64"},
		{"processor", "reservedConcurrentExecutions", -1.0},
		{"ingest", "publish", false},
		{"processor", "role", find(t, r, tRole, "processor-role").Outputs["arn"]},
		{"ingest", "role", find(t, r, tRole, "ingest-role").Outputs["arn"]},
	}
	for _, tt := range tests {
		if got, _ := lookup(find(t, r, tFunction, tt.fn).Inputs, tt.path); got != tt.want {
			t.Errorf("%s %s = %v, want %v", tt.fn, tt.path, got, tt.want)
		}
	}
	if _, ok := r.monitor.Find(tPermission, pipeline.PublicURLPermission); ok {
		t.Error("dev (AWS_IAM) has a public URL permission")
	}
	if got, _ := lookup(find(t, r, tURL, "ingest-url").Inputs, "authorizationType"); got != "AWS_IAM" {
		t.Errorf("ingest URL auth = %v, want AWS_IAM by default", got)
	}
}

func TestArchiveHashIsTheShippedArchive(t *testing.T) {
	// Fresh runs, not the cached one: later runs rewrite the same archive path.
	r := mustRun(t, "dev", nil)
	for _, fn := range program.Functions {
		reg := find(t, r, tFunction, fn)
		path, _ := lookup(reg.Inputs, "code.archive")
		data, err := os.ReadFile(path.(string))
		if err != nil {
			t.Fatalf("%s: reading its archive: %v", fn, err)
		}
		sum := sha256.Sum256(data)
		want := base64.StdEncoding.EncodeToString(sum[:])
		if reg.Inputs["sourceCodeHash"] != want || reg.Outputs["codeSha256"] != want {
			t.Errorf("%s: sourceCodeHash %v / codeSha256 %v, but the archive hashes to %s",
				fn, reg.Inputs["sourceCodeHash"], reg.Outputs["codeSha256"], want)
		}
	}
	// A second run of the same source ships the same archive: preview shows no change.
	again := mustRun(t, "dev", nil)
	for _, fn := range program.Functions {
		if a, b := find(t, r, tFunction, fn).Inputs["sourceCodeHash"], find(t, again, tFunction, fn).Inputs["sourceCodeHash"]; a != b {
			t.Errorf("%s: two runs of the same source give %v and %v", fn, a, b)
		}
	}
}

func TestEncryptionAtRest(t *testing.T) {
	for name, r := range map[string]*result{"dev": devRun(t), "knobs": knobRun(t)} {
		stream := find(t, r, tStream, "stream").Inputs
		if stream["encryptionType"] != "KMS" || stream["kmsKeyId"] == "" || stream["kmsKeyId"] == nil {
			t.Errorf("%s: stream encryption = %v / %v", name, stream["encryptionType"], stream["kmsKeyId"])
		}
		for _, q := range []string{"failures", "poison"} {
			reg, ok := r.monitor.Find(tQueue, q)
			if (ok || q == "poison") && reg.Inputs["sqsManagedSseEnabled"] != true {
				t.Errorf("%s: queue %s is not encrypted", name, q)
			}
		}
		table := find(t, r, tTable, "features").Inputs
		if got, _ := lookup(table, "serverSideEncryption.enabled"); got != true {
			t.Errorf("%s: table encryption = %v", name, got)
		}
		if got, _ := lookup(table, "pointInTimeRecovery.enabled"); got != true {
			t.Errorf("%s: table point-in-time recovery = %v", name, got)
		}
		key := find(t, r, tKey, "alarms-key")
		if find(t, r, tTopic, "alarms").Inputs["kmsMasterKeyId"] != key.Outputs["arn"] {
			t.Errorf("%s: the alarm topic is not encrypted with the alarm key", name)
		}
		if key.Inputs["enableKeyRotation"] != true {
			t.Errorf("%s: the alarm key does not rotate", name)
		}
	}
	if got := find(t, devRun(t), tStream, "stream").Inputs["kmsKeyId"]; got != "alias/aws/kinesis" {
		t.Errorf("default stream key = %v, want alias/aws/kinesis", got)
	}
}

func TestTableShape(t *testing.T) {
	table := find(t, devRun(t), tTable, "features").Inputs
	for path, want := range map[string]any{
		"hashKey": "userId", "billingMode": "PAY_PER_REQUEST",
		"attributes.0.name": "userId", "attributes.0.type": "S",
		"ttl.attributeName": "expiresAt", "ttl.enabled": true,
	} {
		if got, _ := lookup(table, path); got != want {
			t.Errorf("table %s = %v, want %v", path, got, want)
		}
	}
}

func TestAlarmsNotifyTheTopic(t *testing.T) {
	r := knobRun(t)
	topic := find(t, r, tTopic, "alarms").Outputs["arn"]
	for _, reg := range r.monitor.Registrations() {
		if reg.Type != tAlarm {
			continue
		}
		if got, _ := lookup(reg.Inputs, "alarmActions.0"); got != topic {
			t.Errorf("alarm %s alarmActions = %v, want the topic %v", reg.Name, got, topic)
		}
		// OK actions would also fire on each new alarm's first evaluation: a mail per alarm
		// on every fresh deploy (README, "Alarms").
		if got, ok := reg.Inputs["okActions"]; ok && fmt.Sprint(got) != "[]" {
			t.Errorf("alarm %s notifies on OK: %v", reg.Name, got)
		}
		if dims, _ := reg.Inputs["dimensions"].(map[string]any); len(dims) != 1 {
			t.Errorf("alarm %s dimensions = %v, want exactly one resource", reg.Name, reg.Inputs["dimensions"])
		}
	}
	processorName := find(t, r, tFunction, "processor").Outputs["name"]
	if got, _ := lookup(find(t, r, tAlarm, "processor-iterator-age").Inputs, "dimensions.FunctionName"); got != processorName {
		t.Errorf("iterator age alarm watches %v, want the processor %v", got, processorName)
	}
	// The exactly-once alarm watches the processor's own EMF metric.
	outside := find(t, r, tAlarm, "processor-outside-exactly-once").Inputs
	namespace, _ := lookup(find(t, r, tFunction, "processor").Inputs, "environment.variables.METRICS_NAMESPACE")
	if outside["namespace"] != namespace || outside["metricName"] != "DedupUnverified" {
		t.Errorf("exactly-once alarm watches %v/%v, want %v/DedupUnverified", outside["namespace"], outside["metricName"], namespace)
	}
	if got, _ := lookup(outside, "dimensions.FunctionName"); got != processorName {
		t.Errorf("exactly-once alarm watches %v, want the processor %v", got, processorName)
	}
	// So does the per-user caps alarm (README, "Per-user caps").
	caps := find(t, r, tAlarm, "processor-user-caps").Inputs
	if caps["namespace"] != namespace || caps["metricName"] != "UserCapHits" {
		t.Errorf("per-user caps alarm watches %v/%v, want %v/UserCapHits", caps["namespace"], caps["metricName"], namespace)
	}
	if got, _ := lookup(caps, "dimensions.FunctionName"); got != processorName {
		t.Errorf("per-user caps alarm watches %v, want the processor %v", got, processorName)
	}
}

// dashboardMetrics returns "namespace name" -> the dimension value of each metric on the
// dashboard.
func dashboardMetrics(t *testing.T, r *result) map[string]string {
	t.Helper()
	body, _ := find(t, r, tDashboard, "dashboard").Inputs["dashboardBody"].(string)
	var parsed struct {
		Widgets []struct {
			Properties struct {
				Metrics [][]any `json:"metrics"`
			} `json:"properties"`
		} `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(body), &parsed); err != nil {
		t.Fatalf("dashboard body is not JSON: %v\n%s", err, body)
	}
	metrics := map[string]string{}
	for _, w := range parsed.Widgets {
		for _, m := range w.Properties.Metrics {
			metrics[fmt.Sprint(m[0], " ", m[1])] = fmt.Sprint(m[3])
		}
	}
	return metrics
}

func TestDashboard(t *testing.T) {
	r := devRun(t)
	metrics := dashboardMetrics(t, r)
	for _, want := range []string{
		"AWS/Kinesis IncomingRecords", "AWS/Kinesis WriteProvisionedThroughputExceeded",
		"AWS/Lambda IteratorAge", "AWS/Lambda Errors", "AWS/Lambda Throttles", "AWS/Lambda ConcurrentExecutions",
		"AWS/SQS ApproximateNumberOfMessagesVisible", "AWS/Lambda Duration", "streamfn Records",
	} {
		if _, ok := metrics[want]; !ok {
			t.Errorf("dashboard lacks %s", want)
		}
	}
	// Mapping metrics (on by default) replace the stream-wide GetRecords.Records estimate.
	uuid := find(t, r, tMapping, "processor-stream").Outputs["uuid"]
	for _, name := range []string{"PolledEventCount", "FilteredOutEventCount", "FailedInvokeEventCount", "DroppedEventCount"} {
		if got, ok := metrics["AWS/Lambda "+name]; !ok || got != uuid {
			t.Errorf("dashboard shows AWS/Lambda %s for %q (shown: %v), want the mapping %v", name, got, ok, uuid)
		}
	}
	if _, ok := metrics["AWS/Kinesis GetRecords.Records"]; ok {
		t.Error("with mapping metrics the dashboard still estimates reads from GetRecords.Records")
	}
	if got, _ := lookup(find(t, r, tMapping, "processor-stream").Inputs, "metricsConfig.metrics.0"); got != "EventCount" {
		t.Errorf("mapping metricsConfig = %v, want EventCount by default", got)
	}

	// Without them, the estimate comes back and the mapping panel goes.
	off := dashboardMetrics(t, knobRun(t))
	if _, ok := off["AWS/Kinesis GetRecords.Records"]; !ok {
		t.Error("without mapping metrics the dashboard shows no reads")
	}
	if _, ok := off["AWS/Lambda PolledEventCount"]; ok {
		t.Error("without mapping metrics the dashboard shows PolledEventCount, which does not exist")
	}
}

func TestStackOutputs(t *testing.T) {
	r := devRun(t)
	names := []string{pipeline.OutputStreamName, pipeline.OutputStreamARN, pipeline.OutputIngestFunctionName,
		pipeline.OutputProcessorFunctionName, pipeline.OutputIngestURL, pipeline.OutputTableName,
		pipeline.OutputFailureBucketName, pipeline.OutputPoisonQueueURL, pipeline.OutputAlarmTopicARN, pipeline.OutputDashboardURL}
	if got := slices.Sorted(maps.Keys(r.outputs)); !slices.Equal(got, slices.Sorted(slices.Values(names))) {
		t.Errorf("outputs %v, want exactly %v", got, names)
	}
	patterns := map[string]string{
		"streamArn":         `^arn:aws:kinesis:us-east-1:123456789012:stream/stream-[0-9a-f]{7}$`,
		"failureBucketName": `^failures-[0-9a-f]{7}$`,
		"poisonQueueUrl":    `^https://sqs\.us-east-1\.amazonaws\.com/123456789012/poison-[0-9a-f]{7}$`,
		"ingestUrl":         `^https://[0-9a-z]{32}\.lambda-url\.us-east-1\.on\.aws/$`,
		"alarmTopicArn":     `^arn:aws:sns:us-east-1:123456789012:alarms-[0-9a-f]{7}$`,
		"dashboardUrl":      `^https://us-east-1\.console\.aws\.amazon\.com/cloudwatch/home\?region=us-east-1#dashboards:name=streamfn-dev-[0-9a-f]{8}$`,
	}
	for name, pattern := range patterns {
		if s, _ := r.outputs[name].(string); !regexp.MustCompile(pattern).MatchString(s) {
			t.Errorf("output %s = %q, want %s", name, s, pattern)
		}
	}
	if r.outputs["streamName"] != find(t, r, tStream, "stream").Outputs["name"] ||
		r.outputs["tableName"] != find(t, r, tTable, "features").Outputs["name"] ||
		r.outputs["processorFunctionName"] != find(t, r, tFunction, "processor").Outputs["name"] {
		t.Errorf("outputs do not name the resources: %v", r.outputs)
	}
}

func TestInvalidConfigRegistersNothing(t *testing.T) {
	r, err := runProgram(t, "dev", map[string]string{
		"streamfn:parallelizationFactor": "12",
		"streamfn:architecture":          "arm",
	})
	var invalid *config.ValidationError
	if !errors.As(err, &invalid) {
		t.Fatalf("got %v, want a *config.ValidationError", err)
	}
	if len(invalid.Problems) != 2 {
		t.Errorf("got %d problems, want both at once:\n%v", len(invalid.Problems), invalid)
	}
	if regs := r.monitor.Registrations(); len(regs) != 0 {
		t.Errorf("%d resources were registered before the config was rejected", len(regs))
	}
}

// Changing startingPosition, startingPositionTimestamp or the source replaces the mapping, and
// Lambda refuses a second mapping of one source and function: the old one must go first.
func TestMappingIsDeletedBeforeItIsReplaced(t *testing.T) {
	for name, r := range map[string]*result{"dev": devRun(t), "knobs": knobRun(t)} {
		m := find(t, r, tMapping, "processor-stream")
		if m.Options["deleteBeforeReplace"] != true {
			t.Errorf("%s: mapping options %v, want deleteBeforeReplace", name, m.Options)
		}
		if deps, _ := m.Options["dependsOn"].([]any); !slices.Contains(deps, any("processor-policy")) {
			t.Errorf("%s: the mapping does not wait for the processor's policy: %v", name, m.Options)
		}
	}
}

func TestDataIsProtected(t *testing.T) {
	for _, tt := range []struct {
		name    string
		run     func(*testing.T) *result
		protect bool
	}{{"prod", prodRun, true}, {"dev", devRun, false}} {
		r := tt.run(t)
		for _, res := range []struct{ typ, name string }{{tStream, "stream"}, {tTable, "features"}, {tBucket, "failures"}} {
			if got := find(t, r, res.typ, res.name).Options["protect"] == true; got != tt.protect {
				t.Errorf("%s: %s protect = %v, want %v", tt.name, res.name, got, tt.protect)
			}
		}
		if got := find(t, r, tTable, "features").Inputs["deletionProtectionEnabled"]; got != tt.protect {
			t.Errorf("%s: table deletion protection = %v, want %v", tt.name, got, tt.protect)
		}
	}
	// Nothing else is protected: a protected queue or role would block a routine replacement.
	for _, reg := range prodRun(t).monitor.Registrations() {
		if reg.Options["protect"] == true && reg.Type != tStream && reg.Type != tTable && reg.Type != tBucket {
			t.Errorf("prod protects %s %s", reg.Type, reg.Name)
		}
	}
}

func TestSharedConsumerReadsTheStream(t *testing.T) {
	r := devRun(t)
	if _, ok := r.monitor.Find(tConsumer, "processor-consumer"); ok {
		t.Error("dev (consumer shared) registers an enhanced fan-out consumer")
	}
	if got := find(t, r, tMapping, "processor-stream").Inputs["eventSourceArn"]; got != find(t, r, tStream, "stream").Outputs["arn"] {
		t.Errorf("dev mapping reads %v, want the stream", got)
	}
	k := knobRun(t)
	consumer := find(t, k, tConsumer, "processor-consumer")
	if consumer.Inputs["streamArn"] != find(t, k, tStream, "stream").Outputs["arn"] {
		t.Errorf("the consumer is on %v, not the stream", consumer.Inputs["streamArn"])
	}
	if got := find(t, k, tMapping, "processor-stream").Inputs["eventSourceArn"]; got != consumer.Outputs["arn"] {
		t.Errorf("efo mapping reads %v, want the consumer %v", got, consumer.Outputs["arn"])
	}
}

// A change the deployed stream cannot take in one update is refused during preview, with the
// steps to take.
func TestDeployedStreamRefusesImpossibleChanges(t *testing.T) {
	deployed := func(shards int, key string) mocks.Options {
		return mocks.Options{Stack: "prod", DeployedShards: shards, DeployedStreamKey: key}
	}
	// prod has 8 shards; a stream deployed with 1 cannot go to 8 in one UpdateShardCount.
	_, err := runStack(t, "prod", deployed(1, ""), nil)
	if err == nil || !strings.Contains(err.Error(), "streamfn:shardCount") || !strings.Contains(err.Error(), "2, then 4, then 8") {
		t.Errorf("1 -> 8 shards: got %v, want a refusal listing 2, 4, 8", err)
	}
	if _, err := runStack(t, "prod", deployed(4, ""), nil); err != nil {
		t.Errorf("4 -> 8 shards is one step AWS accepts: %v", err)
	}

	// Dropping the customer key the stream uses would leave records no one can decrypt.
	const old = "arn:aws:kms:us-east-1:111122223333:key/old-key"
	_, err = runStack(t, "prod", deployed(8, old), nil)
	if err == nil || !strings.Contains(err.Error(), "streamfn:kmsKeyId") || !strings.Contains(err.Error(), "streamfn:retiredKmsKeyIds[0]' "+old) {
		t.Errorf("dropping %s: got %v, want a refusal naming streamfn:retiredKmsKeyIds", old, err)
	}
	r, err := runStack(t, "prod", deployed(8, old), map[string]string{"streamfn:retiredKmsKeyIds": `["` + old + `"]`})
	if err != nil {
		t.Fatalf("with the old key retired: %v", err)
	}
	if policy, _ := find(t, r, tRolePolicy, "processor-policy").Inputs["policy"].(string); !strings.Contains(policy, old) {
		t.Errorf("the processor lost kms:Decrypt on the retired key: %s", policy)
	}

	// A preview role that may not read the stream skips the check (with a warning); it never
	// blocks the update on its own.
	denied := mocks.Options{Stack: "prod", StreamReadError: "AccessDeniedException: not authorized to perform: kinesis:DescribeStreamSummary"}
	if _, err := runStack(t, "prod", denied, nil); err != nil {
		t.Errorf("with the stream unreadable: %v, want the check skipped", err)
	}
}

// physicalNames are the names each resource type carries and the rule AWS holds them to.
var physicalNames = []struct {
	typ, field string // field: "inputs.x" or "outputs.x"
	rule       names.Rule
}{
	{tStream, "outputs.name", names.Stream},
	{tTable, "outputs.name", names.Table},
	{tQueue, "outputs.name", names.Queue},
	{tRole, "outputs.name", names.Role},
	{tFunction, "outputs.name", names.Function},
	{tLogGroup, "inputs.name", names.LogGroup},
	{tDashboard, "inputs.dashboardName", names.Dashboard},
	{tTopic, "outputs.name", names.Topic},
	{tTopic, "inputs.displayName", names.TopicDisplayName},
	{tAlarm, "outputs.name", names.Alarm},
	{tConsumer, "inputs.name", names.Consumer},
}

// Every physical name is valid for every stack name Pulumi accepts, and the dashboard of one
// stack name deployed twice into an account is not shared.
func TestPhysicalNamesForAwkwardStackNames(t *testing.T) {
	stacks := []string{"qa.eu", "QA.EU", "-lead.", "x..y", "192.168.0.1", strings.Repeat("stack.name-", 10)[:100]}
	for _, stack := range stacks {
		t.Run(stack, func(t *testing.T) {
			r, err := runStack(t, "dev", mocks.Options{Stack: stack}, map[string]string{"streamfn:consumer": "efo"})
			if err != nil {
				t.Fatalf("stack %q: %v", stack, err)
			}
			checked := 0
			for _, pn := range physicalNames {
				for _, reg := range r.monitor.Registrations() {
					if reg.Type != pn.typ {
						continue
					}
					source, field, _ := strings.Cut(pn.field, ".")
					values := reg.Inputs
					if source == "outputs" {
						values = reg.Outputs
					}
					name, _ := values[field].(string)
					if err := pn.rule.Check(name); err != nil {
						t.Errorf("%s %s: %v", reg.Type, reg.Name, err)
					}
					checked++
				}
			}
			if checked < 20 {
				t.Errorf("checked only %d names", checked)
			}
		})
	}
}

// Two deployments of one stack name into an account must not share a dashboard (PutDashboard
// overwrites silently): the name carries a hash of the stream's ARN, whose stream name has
// Pulumi's random suffix.
func TestDashboardBelongsToItsStream(t *testing.T) {
	r := devRun(t)
	arn := find(t, r, tStream, "stream").Outputs["arn"].(string)
	got := find(t, r, tDashboard, "dashboard").Inputs["dashboardName"]
	if want := "streamfn-dev-" + names.Hash(arn, 8); got != want {
		t.Errorf("dashboard name %v, want %s (from the stream %s)", got, want, arn)
	}
}
