package pipeline

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/streamfn/streamfn/infra/config"
)

// newMapping feeds the stream to the processor. Every Kinesis knob comes from config; partial
// batch responses are always on, because the processor reports the records it could not apply.
func newMapping(ctx *pulumi.Context, cfg *config.Config, p *StreamPipeline, opts ...pulumi.ResourceOption) (*lambda.EventSourceMapping, error) {
	args := &lambda.EventSourceMappingArgs{
		EventSourceArn:                 p.Stream.Arn,
		FunctionName:                   p.Processor.Function.Arn,
		Enabled:                        pulumi.Bool(cfg.MappingEnabled),
		StartingPosition:               pulumi.String(cfg.StartingPosition),
		BatchSize:                      pulumi.Int(cfg.BatchSize),
		MaximumBatchingWindowInSeconds: pulumi.Int(cfg.BatchWindowSeconds),
		ParallelizationFactor:          pulumi.Int(cfg.ParallelizationFactor),
		BisectBatchOnFunctionError:     pulumi.Bool(cfg.BisectOnError),
		MaximumRetryAttempts:           pulumi.Int(cfg.MaxRetryAttempts),
		MaximumRecordAgeInSeconds:      pulumi.Int(cfg.MaxRecordAgeSeconds),
		FunctionResponseTypes:          pulumi.StringArray{pulumi.String("ReportBatchItemFailures")},
		DestinationConfig: &lambda.EventSourceMappingDestinationConfigArgs{
			OnFailure: &lambda.EventSourceMappingDestinationConfigOnFailureArgs{
				DestinationArn: p.OnFailureDestinationARN(),
			},
		},
		// The EventCount metrics, OnFailureDestinationDeliveredEventCount among them, which
		// the failed-batches alarm watches.
		MetricsConfig: &lambda.EventSourceMappingMetricsConfigArgs{
			Metrics: pulumi.StringArray{pulumi.String("EventCount")},
		},
	}
	if cfg.StartingPosition == config.StartingPositionAtTimestamp {
		args.StartingPositionTimestamp = pulumi.String(cfg.StartingPositionTimestamp)
	}
	// Unset means off: Lambda's API allows 0..900 but the provider documents 1..900, and
	// leaving it out says "off" to both.
	if cfg.TumblingWindowSeconds > 0 {
		args.TumblingWindowInSeconds = pulumi.Int(cfg.TumblingWindowSeconds)
	}
	// Lambda checks the role's stream and queue permissions when it creates the mapping.
	opts = append(opts, pulumi.DependsOn([]pulumi.Resource{p.Processor.Policy}))
	mapping, err := lambda.NewEventSourceMapping(ctx, "processor-stream", args, opts...)
	if err != nil {
		return nil, fmt.Errorf("creating the stream to processor mapping: %w", err)
	}
	return mapping, nil
}

// OnFailureDestinationARN is where the mapping sends a batch it gives up on: the failures
// bucket (records with their payload) or, with failureDestination sqs, the failures queue.
func (p *StreamPipeline) OnFailureDestinationARN() pulumi.StringOutput {
	if p.FailuresQueue != nil {
		return p.FailuresQueue.Arn
	}
	return p.FailureBucket.Arn
}
