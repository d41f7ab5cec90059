package pipeline

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/streamfn/streamfn/infra/config"
)

// mappingEventCount is the metricsConfig value that turns on the mapping's event-count
// metrics (https://docs.aws.amazon.com/lambda/latest/api/API_EventSourceMappingMetricsConfig.html).
const mappingEventCount = "EventCount"

// newMapping feeds the stream to the processor. Every Kinesis knob comes from config; partial
// batch responses are always on, because the processor reports the records it could not apply.
//
// source is the stream's ARN, or the enhanced fan-out consumer's ARN with streamfn:consumer efo.
func newMapping(ctx *pulumi.Context, cfg *config.Config, p *StreamPipeline, source pulumi.StringOutput, opts ...pulumi.ResourceOption) (*lambda.EventSourceMapping, error) {
	args := &lambda.EventSourceMappingArgs{
		EventSourceArn:                 source,
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
	}
	if cfg.StartingPosition == config.StartingPositionAtTimestamp {
		// Already in the whole-second UTC form the provider reads back (config.NormalizeTimestamp).
		args.StartingPositionTimestamp = pulumi.String(cfg.StartingPositionTimestamp)
	}
	// Unset means off: Lambda's API allows 0..900 but the provider documents 1..900, and
	// leaving it out says "off" to both.
	if cfg.TumblingWindowSeconds > 0 {
		args.TumblingWindowInSeconds = pulumi.Int(cfg.TumblingWindowSeconds)
	}
	if cfg.MappingMetrics {
		args.MetricsConfig = &lambda.EventSourceMappingMetricsConfigArgs{
			Metrics: pulumi.StringArray{pulumi.String(mappingEventCount)},
		}
	}
	if len(cfg.MappingFilters) > 0 {
		filters := lambda.EventSourceMappingFilterCriteriaFilterArray{}
		for _, pattern := range cfg.MappingFilters {
			filters = append(filters, &lambda.EventSourceMappingFilterCriteriaFilterArgs{Pattern: pulumi.String(pattern)})
		}
		args.FilterCriteria = &lambda.EventSourceMappingFilterCriteriaArgs{Filters: filters}
	}
	opts = append(opts,
		// Lambda checks the role's stream and queue permissions when it creates the mapping.
		pulumi.DependsOn([]pulumi.Resource{p.Processor.Policy}),
		// startingPosition, startingPositionTimestamp and the source force a new mapping, and
		// Lambda refuses a second mapping of the same source and function
		// (ResourceConflictException), so the old one must go first. The new mapping then
		// starts at streamfn:startingPosition (README, "Changing a running stack").
		pulumi.DeleteBeforeReplace(true),
	)
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
