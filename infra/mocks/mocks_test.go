package mocks_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/streamfn/streamfn/infra/mocks"
)

func TestOutputsLookLikeAWS(t *testing.T) {
	m := mocks.New(mocks.Options{Project: "streamfn", Stack: "dev", Region: "eu-central-1"})
	tests := []struct {
		typ, name string
		inputs    map[string]any
		key, want string // want is a prefix; names end in the 7-hex autoname suffix
	}{
		{"aws:kinesis/stream:Stream", "stream", nil, "arn", "arn:aws:kinesis:eu-central-1:123456789012:stream/stream-"},
		{"aws:sqs/queue:Queue", "poison", nil, "url", "https://sqs.eu-central-1.amazonaws.com/123456789012/poison-"},
		{"aws:dynamodb/table:Table", "features", nil, "arn", "arn:aws:dynamodb:eu-central-1:123456789012:table/features-"},
		{"aws:iam/role:Role", "ingest-role", nil, "arn", "arn:aws:iam::123456789012:role/ingest-role-"},
		{"aws:cloudwatch/logGroup:LogGroup", "logs", map[string]any{"name": "/streamfn/dev/ingest"}, "arn", "arn:aws:logs:eu-central-1:123456789012:log-group:/streamfn/dev/ingest"},
		{"aws:lambda/function:Function", "ingest", map[string]any{"sourceCodeHash": "abc="}, "codeSha256", "abc="},
		{"aws:lambda/functionUrl:FunctionUrl", "ingest-url", map[string]any{"functionName": "ingest-1234567"}, "functionUrl", "https://"},
	}
	for _, tt := range tests {
		_, state, err := m.NewResource(pulumi.MockResourceArgs{
			TypeToken: tt.typ, Name: tt.name, Custom: true, Inputs: resource.NewPropertyMapFromMap(tt.inputs),
		})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := state[resource.PropertyKey(tt.key)].V.(string)
		if !strings.HasPrefix(got, tt.want) {
			t.Errorf("%s %s: %s = %q, want prefix %q", tt.typ, tt.name, tt.key, got, tt.want)
		}
	}
	// Stable: the same stack and logical name give the same physical name in a new monitor.
	again := mocks.New(mocks.Options{Project: "streamfn", Stack: "dev", Region: "eu-central-1"})
	_, a, _ := again.NewResource(pulumi.MockResourceArgs{TypeToken: "aws:kinesis/stream:Stream", Name: "stream", Custom: true})
	first, _ := m.Find("aws:kinesis/stream:Stream", "stream")
	if a["name"].V != first.Outputs["name"] {
		t.Errorf("autonames differ between runs: %v vs %v", a["name"].V, first.Outputs["name"])
	}
	if url, _ := m.Find("aws:lambda/functionUrl:FunctionUrl", "ingest-url"); !strings.HasSuffix(url.Outputs["functionUrl"].(string), ".lambda-url.eu-central-1.on.aws/") {
		t.Errorf("function URL %v", url.Outputs["functionUrl"])
	}
}

func TestUnknownInvokeIsAnError(t *testing.T) {
	m := mocks.New(mocks.Options{Project: "streamfn", Stack: "dev"})
	if _, err := m.Call(pulumi.MockCallArgs{Token: "aws:ec2/getAmi:getAmi"}); err == nil || !strings.Contains(err.Error(), "aws:ec2/getAmi:getAmi") {
		t.Errorf("got %v, want an error naming the invoke", err)
	}
	out, err := m.Call(pulumi.MockCallArgs{Token: "aws:index/getCallerIdentity:getCallerIdentity"})
	if err != nil || out["accountId"].V != mocks.Account {
		t.Errorf("getCallerIdentity = %v, %v", out, err)
	}
}

func TestToJSON(t *testing.T) {
	v := resource.NewPropertyValue(map[string]any{
		"n": 3, "s": "x", "list": []any{true},
	})
	secret := resource.MakeSecret(resource.NewProperty("hidden"))
	got := mocks.ToJSON(v).(map[string]any)
	if got["n"] != 3.0 || got["s"] != "x" || got["list"].([]any)[0] != true {
		t.Errorf("ToJSON = %v", got)
	}
	if mocks.ToJSON(secret) != "hidden" {
		t.Errorf("secrets should be unwrapped, got %v", mocks.ToJSON(secret))
	}
}

// getStream answers as AWS does: not found before the first deploy, the open shards and the
// key of the deployed stream after it.
func TestGetStreamReportsTheDeployedStream(t *testing.T) {
	args := pulumi.MockCallArgs{Token: "aws:kinesis/getStream:getStream", Args: resource.NewPropertyMapFromMap(map[string]any{"name": "stream-1234567"})}
	if _, err := mocks.New(mocks.Options{Stack: "dev"}).Call(args); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("a never-deployed stream: %v, want not found", err)
	}
	const key = "arn:aws:kms:us-east-1:111122223333:key/k"
	out, err := mocks.New(mocks.Options{Stack: "dev", DeployedShards: 3, DeployedStreamKey: key}).Call(args)
	if err != nil {
		t.Fatal(err)
	}
	if shards := out["openShards"].ArrayValue(); len(shards) != 3 || out["kmsKeyId"].StringValue() != key || out["name"].StringValue() != "stream-1234567" {
		t.Errorf("getStream = %v", out)
	}
}

func TestStreamConsumerARN(t *testing.T) {
	m := mocks.New(mocks.Options{Stack: "dev"})
	_, state, err := m.NewResource(pulumi.MockResourceArgs{TypeToken: "aws:kinesis/streamConsumer:StreamConsumer", Name: "c", Custom: true,
		Inputs: resource.NewPropertyMapFromMap(map[string]any{"name": "streamfn-processor", "streamArn": "arn:aws:kinesis:us-east-1:123456789012:stream/s"})})
	if err != nil {
		t.Fatal(err)
	}
	// Kinesis's consumer ARN: the stream's ARN, /consumer/<name>:<registration time>.
	if got := state["arn"].StringValue(); got != "arn:aws:kinesis:us-east-1:123456789012:stream/s/consumer/streamfn-processor:1735689600" {
		t.Errorf("consumer ARN %s", got)
	}
}

// A resource's functionName input is a name or an ARN, qualified or not, as Lambda takes
// it; "" stands for an output not known yet, which is passed on as it is.
func TestFunctionNameOrARN(t *testing.T) {
	m := mocks.New(mocks.Options{Project: "streamfn", Stack: "dev", Region: "eu-central-1"})
	const fnARN = "arn:aws:lambda:eu-central-1:123456789012:function:processor-1234567"
	tests := []struct{ functionName, want string }{
		{"processor-1234567", fnARN},
		{fnARN, fnARN},
		{fnARN + ":live", fnARN}, // ':' in the resource
		{"", "arn:aws:lambda:eu-central-1:123456789012:function:"},
	}
	for i, tt := range tests {
		_, state, err := m.NewResource(pulumi.MockResourceArgs{
			TypeToken: "aws:lambda/eventSourceMapping:EventSourceMapping", Name: fmt.Sprintf("mapping-%d", i), Custom: true,
			Inputs: resource.NewPropertyMapFromMap(map[string]any{"functionName": tt.functionName}),
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := state["functionArn"].V.(string); got != tt.want {
			t.Errorf("functionName %q: functionArn = %q, want %q", tt.functionName, got, tt.want)
		}
	}
}
