package run

import (
	"testing"
	"time"

	"github.com/streamfn/streamfn/internal/emulators"
	"github.com/streamfn/streamfn/internal/local/deploy"
)

func TestURLID(t *testing.T) {
	for in, want := range map[string]string{
		"https://abc123.lambda-url.us-east-1.on.aws/": "abc123",
		"":           "local",
		"not a url:": "local",
	} {
		if got := urlID(in); got != want {
			t.Errorf("urlID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFunctionEnvPointsTheSDKAtTheStandIns(t *testing.T) {
	f := deploy.Function{
		Environment: map[string]string{"POISON_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/poison", "TABLE_NAME": "t"},
		LogFormat:   "JSON", LogLevel: "INFO",
	}
	set := &emulatorSet{
		kinesis:  &emulators.Server{Endpoint: "http://127.0.0.1:1"},
		dynamodb: &emulators.Server{Endpoint: "http://127.0.0.1:2"},
		sqs:      &emulators.Server{Endpoint: "http://127.0.0.1:3"},
	}
	env := functionEnv(f, "eu-west-1", map[string]string{"https://sqs.us-east-1.amazonaws.com/123456789012/poison": "http://127.0.0.1:3/000000000000/poison"}, set)
	want := map[string]string{
		"POISON_QUEUE_URL":          "http://127.0.0.1:3/000000000000/poison",
		"TABLE_NAME":                "t",
		"AWS_LAMBDA_LOG_FORMAT":     "JSON",
		"AWS_LAMBDA_LOG_LEVEL":      "INFO",
		"AWS_REGION":                "eu-west-1",
		"AWS_ENDPOINT_URL_KINESIS":  "http://127.0.0.1:1",
		"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:2",
		"AWS_ENDPOINT_URL_SQS":      "http://127.0.0.1:3",
		"AWS_ENDPOINT_URL_S3":       "http://127.0.0.1:3", // fauxqs serves S3 too
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	if env["AWS_ACCESS_KEY_ID"] == "" || env["AWS_SECRET_ACCESS_KEY"] == "" {
		t.Error("no dummy credentials: the SDK would look for real ones")
	}
	// With -outage the functions reach the table through the proxy.
	set.tableEndpoint = "http://127.0.0.1:4"
	if env := functionEnv(f, "eu-west-1", nil, set); env["AWS_ENDPOINT_URL_DYNAMODB"] != "http://127.0.0.1:4" {
		t.Errorf("with an outage, AWS_ENDPOINT_URL_DYNAMODB = %q, want the proxy", env["AWS_ENDPOINT_URL_DYNAMODB"])
	}
}

func TestMappingConfigCarriesEveryKnob(t *testing.T) {
	d := &deploy.Deployment{
		Region:    "eu-west-1",
		Stream:    deploy.Stream{Name: "s", ARN: "arn:aws:kinesis:eu-west-1:1:stream/s"},
		Processor: deploy.Function{ARN: "arn:aws:lambda:eu-west-1:1:function:p", RoleARN: "arn:aws:iam::1:role/r"},
		Mapping: deploy.Mapping{
			BatchSize: 7, MaximumBatchingWindow: 3 * time.Second, ParallelizationFactor: 4, StartingPosition: "LATEST",
			MaximumRetryAttempts: 2, MaximumRecordAge: time.Minute, BisectBatchOnFunctionError: true, ReportBatchItemFailures: true,
		},
	}
	cfg := mappingConfig(d, clients{}, "http://127.0.0.1:3/000000000000/failures")
	if cfg.StreamName != "s" || cfg.StreamARN != d.Stream.ARN || cfg.FunctionARN != d.Processor.ARN || cfg.InvokeIdentityARN != d.Processor.RoleARN ||
		cfg.Region != "eu-west-1" || cfg.BatchSize != 7 || cfg.MaximumBatchingWindow != 3*time.Second || cfg.ParallelizationFactor != 4 ||
		cfg.StartingPosition != "LATEST" || cfg.MaximumRetryAttempts != 2 || cfg.MaximumRecordAge != time.Minute ||
		!cfg.BisectBatchOnFunctionError || !cfg.ReportBatchItemFailures || cfg.Destination == nil {
		t.Errorf("config = %+v", cfg)
	}
	if cfg := mappingConfig(d, clients{}, ""); cfg.Destination != nil {
		t.Error("a mapping without an on-failure destination got one")
	}
}
