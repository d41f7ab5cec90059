// Command processor is the streamfn processor Lambda function: it consumes
// the Kinesis stream and keeps per-user features in DynamoDB. It builds to
// bootstrap for the provided.al2023 runtime. The logic lives in
// internal/processor; this file only wires it to the environment.
package main

import (
	"context"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/streamfn/streamfn/internal/aws/poison"
	"github.com/streamfn/streamfn/internal/aws/store"
	"github.com/streamfn/streamfn/internal/lambdafn/gctune"
	"github.com/streamfn/streamfn/internal/lambdafn/telemetry"
	"github.com/streamfn/streamfn/internal/processor"
)

func main() {
	logger := telemetry.NewLogger(os.Stdout, os.Getenv)
	gctune.Apply(os.Getenv) // collect less often: the function has memory to spare, CPU is billed
	cfg, err := processor.ConfigFromEnv(os.Getenv)
	if err != nil {
		logger.Error("processor cannot start", "error", err.Error())
		os.Exit(1)
	}
	// Endpoints come from AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_SQS
	// when they are set (the local run), from the region otherwise.
	// Up to WRITE_CONCURRENCY requests run at once. Keep that many
	// connections open between invocations (the SDK keeps 10 per host), or
	// every invocation dials the rest again: in AWS a TLS handshake each.
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConnsPerHost = cfg.WriteConcurrency
		t.MaxIdleConns = max(t.MaxIdleConns, 2*cfg.WriteConcurrency)
	})
	awsConfig, err := config.LoadDefaultConfig(context.Background(), config.WithHTTPClient(httpClient))
	if err != nil {
		logger.Error("processor cannot start: loading the AWS configuration", "error", err.Error())
		os.Exit(1)
	}
	features := store.NewDynamoDB(dynamodb.NewFromConfig(awsConfig), cfg.TableName, cfg.TTLAttribute)
	poisonQueue := poison.NewQueue(sqs.NewFromConfig(awsConfig), cfg.PoisonQueueURL)
	if cfg.PoisonPayloadBucket != "" {
		poisonQueue.PayloadBucket = cfg.PoisonPayloadBucket
		poisonQueue.Payloads = s3.NewFromConfig(awsConfig, func(o *s3.Options) {
			// An endpoint of its own (AWS_ENDPOINT_URL_S3: an S3-compatible
			// store) takes path-style requests; AWS takes both.
			o.UsePathStyle = os.Getenv("AWS_ENDPOINT_URL_S3") != ""
		})
	}
	lambda.Start(processor.New(cfg, processor.Deps{Store: features, Poison: poisonQueue, Logger: logger, Metrics: os.Stdout}))
}
