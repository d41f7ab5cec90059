// Package pipeline is the streamfn pipeline as one Pulumi ComponentResource: a Kinesis stream,
// the ingest and processor functions with their roles and log groups, the event-source
// mapping, the failures and poison queues, the features table, the ingest Function URL, and
// the alarms and dashboard. Each AWS concept lives in its own file.
package pipeline

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/dynamodb"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kinesis"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sns"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sqs"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/streamfn/streamfn/infra/build"
	"github.com/streamfn/streamfn/infra/config"
)

// ComponentType is the component's type token.
const ComponentType = "streamfn:pipeline:StreamPipeline"

// StreamPipelineArgs is what the pipeline is built from.
type StreamPipelineArgs struct {
	// Config is the validated stack configuration.
	Config *config.Config
	// Ingest and Processor are the built function archives.
	Ingest, Processor build.Artifact
}

// StreamPipeline is the whole pipeline. Its fields are its children.
type StreamPipeline struct {
	pulumi.ResourceState

	Stream *kinesis.Stream
	// Consumer is the enhanced fan-out consumer the mapping reads through; nil with
	// streamfn:consumer shared.
	Consumer *kinesis.StreamConsumer
	Table    *dynamodb.Table
	// FailureBucket holds failed batches (with failureDestination s3) and
	// oversized poison payloads.
	FailureBucket *s3.BucketV2
	// FailuresQueue is the on-failure destination with failureDestination
	// sqs; nil with s3.
	FailuresQueue *sqs.Queue
	PoisonQueue   *sqs.Queue
	Ingest        *Function
	Processor     *Function
	Mapping       *lambda.EventSourceMapping
	IngestURL     *lambda.FunctionUrl
	AlarmTopic    *sns.Topic
	Alarms        []*cloudwatch.MetricAlarm
	Dashboard     *cloudwatch.Dashboard

	// DashboardURL opens the dashboard in the CloudWatch console.
	DashboardURL pulumi.StringOutput
}

// NewStreamPipeline registers the component and every child. Children inherit the
// component's providers, so an explicit provider passed with pulumi.Providers reaches them all.
func NewStreamPipeline(ctx *pulumi.Context, name string, args *StreamPipelineArgs, opts ...pulumi.ResourceOption) (*StreamPipeline, error) {
	if args == nil || args.Config == nil {
		return nil, fmt.Errorf("creating the stream pipeline: no configuration given")
	}
	cfg := args.Config
	p := &StreamPipeline{}
	if err := ctx.RegisterComponentResource(ComponentType, name, p, opts...); err != nil {
		return nil, fmt.Errorf("registering the stream pipeline component: %w", err)
	}
	child := pulumi.Parent(p)

	var err error
	if p.Stream, err = newStream(ctx, cfg, child); err != nil {
		return nil, err
	}
	// The stream's ARN once the deployed stream allows the configured change.
	streamARN := checkedStreamARN(ctx, cfg, p.Stream, child)
	source := streamARN
	if cfg.Consumer == config.ConsumerEFO {
		if p.Consumer, err = newConsumer(ctx, streamARN, child); err != nil {
			return nil, err
		}
		source = p.Consumer.Arn
	}
	if p.Table, err = newFeaturesTable(ctx, cfg, child); err != nil {
		return nil, err
	}
	if p.FailuresQueue, p.PoisonQueue, err = newQueues(ctx, cfg, child); err != nil {
		return nil, err
	}
	if p.FailureBucket, err = newFailureBucket(ctx, cfg, child); err != nil {
		return nil, err
	}
	if ctx.Stack() == ProdStack && LogsPersonalData(cfg.LogLevel) {
		if err := ctx.Log.Warn(DebugLogsOnProdWarning, nil); err != nil {
			return nil, fmt.Errorf("warning about DEBUG logs on prod: %w", err)
		}
	}
	if p.Processor, err = newProcessor(ctx, cfg, args.Processor, p, child); err != nil {
		return nil, err
	}
	if p.Ingest, err = newIngest(ctx, cfg, args.Ingest, p, child); err != nil {
		return nil, err
	}
	if p.Mapping, err = newMapping(ctx, cfg, p, source, child); err != nil {
		return nil, err
	}
	if p.IngestURL, err = newIngestURL(ctx, cfg, p.Ingest, child); err != nil {
		return nil, err
	}
	if p.AlarmTopic, p.Alarms, err = newAlarms(ctx, cfg, p, child); err != nil {
		return nil, err
	}
	if p.Dashboard, p.DashboardURL, err = newDashboard(ctx, cfg, p, child); err != nil {
		return nil, err
	}

	if err := ctx.RegisterResourceOutputs(p, p.Outputs()); err != nil {
		return nil, fmt.Errorf("registering the stream pipeline outputs: %w", err)
	}
	return p, nil
}

// The stack outputs: the component's outputs, which the program exports as they are. Tools
// (the local run, inspect, redrive) read a stack by these names.
const (
	OutputStreamName            = "streamName"
	OutputStreamARN             = "streamArn"
	OutputIngestFunctionName    = "ingestFunctionName"
	OutputProcessorFunctionName = "processorFunctionName"
	OutputIngestURL             = "ingestUrl"
	OutputTableName             = "tableName"
	OutputFailureBucketName     = "failureBucketName"
	OutputFailuresQueueURL      = "failuresQueueUrl" // only with failureDestination sqs
	OutputPoisonQueueURL        = "poisonQueueUrl"
	OutputAlarmTopicARN         = "alarmTopicArn"
	OutputDashboardURL          = "dashboardUrl"
)

// Outputs are the pipeline's outputs by name.
func (p *StreamPipeline) Outputs() pulumi.Map {
	outputs := pulumi.Map{
		OutputStreamName:            p.Stream.Name,
		OutputStreamARN:             p.Stream.Arn,
		OutputIngestFunctionName:    p.Ingest.Function.Name,
		OutputProcessorFunctionName: p.Processor.Function.Name,
		OutputIngestURL:             p.IngestURL.FunctionUrl,
		OutputTableName:             p.Table.Name,
		OutputFailureBucketName:     p.FailureBucket.Bucket,
		OutputPoisonQueueURL:        p.PoisonQueue.Url,
		OutputAlarmTopicARN:         p.AlarmTopic.Arn,
		OutputDashboardURL:          p.DashboardURL,
	}
	if p.FailuresQueue != nil {
		outputs[OutputFailuresQueueURL] = p.FailuresQueue.Url
	}
	return outputs
}
