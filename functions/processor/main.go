// Command processor is the streamfn processor Lambda function: it consumes
// the Kinesis stream and keeps per-user features in DynamoDB. It builds to
// bootstrap for the provided.al2023 runtime. The logic lives in
// internal/processor; this file only wires it to the environment.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/streamfn/streamfn/internal/poison"
	"github.com/streamfn/streamfn/internal/processor"
	"github.com/streamfn/streamfn/internal/store"
	"github.com/streamfn/streamfn/internal/telemetry"
)

func main() {
	logger := telemetry.NewLogger(os.Stdout, os.Getenv)
	cfg, err := processor.ConfigFromEnv(os.Getenv)
	if err != nil {
		logger.Error("processor cannot start", "error", err.Error())
		os.Exit(1)
	}
	// Endpoints come from AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_SQS
	// when they are set (the local run), from the region otherwise.
	awsConfig, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		logger.Error("processor cannot start: loading the AWS configuration", "error", err.Error())
		os.Exit(1)
	}
	features := store.NewDynamoDB(dynamodb.NewFromConfig(awsConfig), cfg.TableName, cfg.TTLAttribute)
	poisonQueue := poison.NewQueue(sqs.NewFromConfig(awsConfig), cfg.PoisonQueueURL)
	lambda.Start(processor.New(cfg, features, poisonQueue, logger, os.Stdout))
}
