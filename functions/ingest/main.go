// Command ingest is the streamfn ingest Lambda function behind the Function
// URL: it writes the activity events clients POST to the Kinesis stream. It
// builds to bootstrap for the provided.al2023 runtime. The logic lives in
// internal/ingest; this file only wires it to the environment.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/streamfn/streamfn/internal/aws/streamwriter"
	"github.com/streamfn/streamfn/internal/ingest"
	"github.com/streamfn/streamfn/internal/lambdafn/gctune"
	"github.com/streamfn/streamfn/internal/lambdafn/telemetry"
)

func main() {
	logger := telemetry.NewLogger(os.Stdout, os.Getenv)
	gctune.Apply(os.Getenv) // collect less often: the function has memory to spare, CPU is billed
	cfg, err := ingest.ConfigFromEnv(os.Getenv)
	if err != nil {
		logger.Error("ingest cannot start", "error", err.Error())
		os.Exit(1)
	}
	// The endpoint comes from AWS_ENDPOINT_URL_KINESIS when it is set.
	awsConfig, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		logger.Error("ingest cannot start: loading the AWS configuration", "error", err.Error())
		os.Exit(1)
	}
	// The stream writer owns retries, bounded by the invocation's deadline;
	// the SDK's own retries would stack on top of them.
	client := kinesis.NewFromConfig(awsConfig, func(o *kinesis.Options) { o.RetryMaxAttempts = 1 })
	handler := ingest.NewHandler(cfg, ingest.Deps{
		Writer:  streamwriter.New(client, cfg.StreamName, streamwriter.Options{ThrottleBudget: cfg.ThrottleRetry}),
		Logger:  logger,
		Metrics: os.Stdout,
	})
	// The handler decodes the Function URL event itself (Handler.Invoke):
	// faster than aws-lambda-go's reflection for bodies of hundreds of events.
	lambda.Start(handler)
}
