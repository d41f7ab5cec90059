package deploy

import (
	"strings"
	"testing"
	"time"

	"github.com/streamfn/streamfn/infra/config"
	"github.com/streamfn/streamfn/infra/plan"
)

const (
	streamARN  = "arn:aws:kinesis:eu-west-1:123456789012:stream/stream-1a"
	poisonURL  = "https://sqs.eu-west-1.amazonaws.com/123456789012/poison-2b"
	failureURL = "https://sqs.eu-west-1.amazonaws.com/123456789012/failures-3c"
)

// handMadePlan is a plan shaped like the program's, with every knob set to
// a value that is nobody's default.
func handMadePlan() *plan.Plan {
	fn := func(memory, timeout, reserved float64, env map[string]any) map[string]any {
		return map[string]any{
			"memorySize": memory, "timeout": timeout, "reservedConcurrentExecutions": reserved,
			"role":          "arn:aws:iam::123456789012:role/r",
			"environment":   map[string]any{"variables": env},
			"loggingConfig": map[string]any{"logFormat": "JSON", "applicationLogLevel": "DEBUG"},
		}
	}
	return &plan.Plan{
		Stack: "test",
		Resources: []plan.Resource{
			{Type: TypeStream, Name: "stream", Inputs: map[string]any{"shardCount": 3.0, "retentionPeriod": 48.0, "streamModeDetails": map[string]any{"streamMode": "PROVISIONED"}}},
			{Type: TypeTable, Name: "features", Inputs: map[string]any{
				"hashKey": "userId", "attributes": []any{map[string]any{"name": "userId", "type": "S"}},
				"ttl": map[string]any{"attributeName": "expiresAt", "enabled": true},
			}},
			{Type: TypeQueue, Name: "failures", Inputs: map[string]any{}},
			{Type: TypeQueue, Name: "poison", Inputs: map[string]any{}},
			{Type: TypeBucket, Name: "failures", Inputs: map[string]any{}},
			{Type: TypeFunction, Name: "ingest", Inputs: fn(384, 7, -1, map[string]any{"STREAM_NAME": "stream-1a"})},
			{Type: TypeFunction, Name: "processor", Inputs: fn(768, 42, 9, map[string]any{"TABLE_NAME": "features-4d", "POISON_QUEUE_URL": poisonURL})},
			{Type: TypeMapping, Name: "processor-stream", Inputs: map[string]any{
				"eventSourceArn": streamARN, "functionName": "arn:aws:lambda:eu-west-1:123456789012:function:processor-5e",
				"batchSize": 250.0, "maximumBatchingWindowInSeconds": 2.0, "parallelizationFactor": 3.0,
				"startingPosition": "LATEST", "maximumRetryAttempts": 4.0, "maximumRecordAgeInSeconds": 600.0,
				"bisectBatchOnFunctionError": true, "enabled": true, "functionResponseTypes": []any{"ReportBatchItemFailures"},
				"destinationConfig": map[string]any{"onFailure": map[string]any{"destinationArn": "arn:aws:sqs:eu-west-1:123456789012:failures-3c"}},
			}},
			{Type: TypeFunctionURL, Name: "ingest-url", Inputs: map[string]any{"authorizationType": "NONE", "functionName": "ingest-6f"}},
		},
		Outputs: map[string]any{
			"streamName": "stream-1a", "streamArn": streamARN, "tableName": "features-4d",
			"failuresQueueUrl": failureURL, "poisonQueueUrl": poisonURL, "failureBucketName": "failures-7a",
			"ingestFunctionName": "ingest-6f", "processorFunctionName": "processor-5e",
			"ingestUrl": "https://x.lambda-url.eu-west-1.on.aws/",
		},
	}
}

func TestFromReadsEveryKnob(t *testing.T) {
	d, err := From(handMadePlan())
	if err != nil {
		t.Fatal(err)
	}
	if d.Region != "eu-west-1" || d.AccountID != "123456789012" {
		t.Errorf("region/account = %s/%s", d.Region, d.AccountID)
	}
	if d.Stream != (Stream{Name: "stream-1a", ARN: streamARN, Mode: "PROVISIONED", Shards: 3, RetentionHours: 48}) {
		t.Errorf("stream = %+v", d.Stream)
	}
	if d.Table.Name != "features-4d" || d.Table.HashKey != "userId" || d.Table.TTLAttribute != "expiresAt" || len(d.Table.Attributes) != 1 || d.Table.Attributes[0] != (Attribute{"userId", "S"}) {
		t.Errorf("table = %+v", d.Table)
	}
	if q, _ := d.Queue("poison"); q.Name != "poison-2b" || q.URL != poisonURL {
		t.Errorf("poison queue = %+v", q)
	}
	p := d.Processor
	if p.Name != "processor-5e" || p.MemoryMB != 768 || p.Timeout != 42*time.Second || p.ReservedConcurrency != 9 ||
		p.LogFormat != "JSON" || p.LogLevel != "DEBUG" || p.ARN != "arn:aws:lambda:eu-west-1:123456789012:function:processor-5e" {
		t.Errorf("processor = %+v", p)
	}
	if i := d.Ingest; i.Name != "ingest-6f" || i.MemoryMB != 384 || i.Timeout != 7*time.Second || i.ReservedConcurrency != -1 {
		t.Errorf("ingest = %+v", i)
	}
	want := Mapping{
		Enabled: true, BatchSize: 250, MaximumBatchingWindow: 2 * time.Second, ParallelizationFactor: 3,
		StartingPosition: "LATEST", MaximumRetryAttempts: 4, MaximumRecordAge: 10 * time.Minute,
		BisectBatchOnFunctionError: true, ReportBatchItemFailures: true, OnFailure: "failures", OnFailureType: TypeQueue,
	}
	if d.Mapping != want {
		t.Errorf("mapping = %+v\nwant      %+v", d.Mapping, want)
	}
	if d.URL.AuthType != "NONE" {
		t.Errorf("url = %+v", d.URL)
	}
}

func TestEnvMapsQueueURLsAndLogging(t *testing.T) {
	d, err := From(handMadePlan())
	if err != nil {
		t.Fatal(err)
	}
	env := d.Processor.Env(map[string]string{poisonURL: "http://127.0.0.1:9/000000000000/poison-2b"})
	if env["POISON_QUEUE_URL"] != "http://127.0.0.1:9/000000000000/poison-2b" || env["TABLE_NAME"] != "features-4d" ||
		env["AWS_LAMBDA_LOG_FORMAT"] != "JSON" || env["AWS_LAMBDA_LOG_LEVEL"] != "DEBUG" {
		t.Errorf("env = %v", env)
	}
	if d.Processor.Environment["POISON_QUEUE_URL"] != poisonURL {
		t.Error("Env changed the plan's own map")
	}
	if got := d.Ingest.Concurrency(5); got != 5 {
		t.Errorf("unreserved ingest concurrency = %d, want the cap 5", got)
	}
	if got := d.Processor.Concurrency(5); got != 9 {
		t.Errorf("reserved processor concurrency = %d, want 9", got)
	}
}

func TestOnDemandGetsFourShards(t *testing.T) {
	p := handMadePlan()
	p.Resources[0].Inputs = map[string]any{"streamModeDetails": map[string]any{"streamMode": "ON_DEMAND"}}
	d, err := From(p)
	if err != nil {
		t.Fatal(err)
	}
	if d.Stream.Shards != config.OnDemandInitialShards {
		t.Errorf("ON_DEMAND shards = %d, want %d", d.Stream.Shards, config.OnDemandInitialShards)
	}
}

func TestFromReportsEveryProblem(t *testing.T) {
	p := handMadePlan()
	p.Resources = p.Resources[1:] // no stream
	delete(p.Outputs, "tableName")
	for i, r := range p.Resources {
		if r.Name == "processor-stream" {
			p.Resources[i].Inputs["destinationConfig"] = map[string]any{"onFailure": map[string]any{"destinationArn": "arn:aws:sns:eu-west-1:123456789012:topic"}}
		}
	}
	_, err := From(p)
	if err == nil {
		t.Fatal("From accepted a broken plan")
	}
	for _, want := range []string{`aws:kinesis/stream:Stream named "stream"`, "stack output tableName", "on-failure destination"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

// The real program's dev stack: the same path the local run takes.
func TestFromTheDevStack(t *testing.T) {
	p, err := plan.Run(plan.Options{Dir: "../../../..", Stack: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := From(p)
	if err != nil {
		t.Fatal(err)
	}
	if d.Stream.Shards != 1 || d.Mapping.BatchSize != 100 || d.Mapping.ParallelizationFactor != 1 || d.Processor.Environment["TABLE_NAME"] != d.Table.Name ||
		d.Ingest.Environment["STREAM_NAME"] != d.Stream.Name || d.Mapping.OnFailure != FailuresName || d.Mapping.OnFailureType != TypeBucket ||
		d.FailureBucket.Name == "" || d.FailureBucket.ARN != "arn:aws:s3:::"+d.FailureBucket.Name {
		t.Errorf("dev deployment = %+v", d)
	}
	if _, ok := d.Queue(FailuresName); ok {
		t.Error("dev sends failed batches to the bucket; it has no failures queue")
	}
}

// With streamfn:failureDestination s3 the mapping's on-failure destination
// is the failure bucket and there is no failures queue.
func TestFromReadsTheFailureBucketDestination(t *testing.T) {
	p := handMadePlan()
	var resources []plan.Resource
	for _, r := range p.Resources {
		switch {
		case r.Type == TypeQueue && r.Name == FailuresName:
			continue
		case r.Type == TypeMapping:
			r.Inputs["destinationConfig"] = map[string]any{"onFailure": map[string]any{"destinationArn": "arn:aws:s3:::failures-7a"}}
		}
		resources = append(resources, r)
	}
	p.Resources = resources
	delete(p.Outputs, "failuresQueueUrl")
	d, err := From(p)
	if err != nil {
		t.Fatal(err)
	}
	if d.FailureBucket != (Bucket{Name: "failures-7a", ARN: "arn:aws:s3:::failures-7a"}) || d.Mapping.OnFailureType != TypeBucket {
		t.Fatalf("bucket %+v, mapping on failure %q (%s)", d.FailureBucket, d.Mapping.OnFailure, d.Mapping.OnFailureType)
	}
	if len(d.Queues) != 1 || d.Queues[0].Logical != PoisonName {
		t.Fatalf("queues %+v, want only poison", d.Queues)
	}
	// The local mapping's UUID is stable for the stack, and a UUID.
	if u := d.MappingUUID(); u != d.MappingUUID() || len(u) != 36 {
		t.Fatalf("MappingUUID %q", u)
	}

	// A bucket that is not the stack's is refused.
	for i, r := range p.Resources {
		if r.Type == TypeMapping {
			p.Resources[i].Inputs["destinationConfig"] = map[string]any{"onFailure": map[string]any{"destinationArn": "arn:aws:s3:::someone-elses"}}
		}
	}
	if _, err := From(p); err == nil || !strings.Contains(err.Error(), "someone-elses") {
		t.Fatalf("another bucket as destination: %v", err)
	}
}

func TestARNRegionAccount(t *testing.T) {
	tests := []struct{ arn, region, account string }{
		{streamARN, "eu-west-1", "123456789012"},
		{"arn:aws:logs:eu-west-1:123456789012:log-group:/streamfn/dev/ingest:*", "eu-west-1", "123456789012"}, // ':' and '/' in the resource
		{"arn:aws:iam::123456789012:role/r", "", "123456789012"},
		{"arn:aws:kinesis:eu-west-1:123456789012", "", ""}, // no resource
		{"stream-1a", "", ""},
	}
	for _, tt := range tests {
		if region, account := arnRegionAccount(tt.arn); region != tt.region || account != tt.account {
			t.Errorf("arnRegionAccount(%q) = %q, %q, want %q, %q", tt.arn, region, account, tt.region, tt.account)
		}
	}
}
