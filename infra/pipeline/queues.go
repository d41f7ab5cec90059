package pipeline

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sqs"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/streamfn/streamfn/infra/config"
)

// queueRetentionSeconds is SQS's maximum, 14 days: failed batches and poison records wait
// for a human, who may be on holiday.
const queueRetentionSeconds = 14 * 24 * 3600

// newQueues creates the queue of records the processor rejects (with their payloads) and,
// with failureDestination sqs, the mapping's on-failure destination (batch metadata).
func newQueues(ctx *pulumi.Context, cfg *config.Config, opts ...pulumi.ResourceOption) (failures, poison *sqs.Queue, err error) {
	newQueue := func(name string) (*sqs.Queue, error) {
		q, err := sqs.NewQueue(ctx, name, &sqs.QueueArgs{
			SqsManagedSseEnabled:    pulumi.Bool(true),
			MessageRetentionSeconds: pulumi.Int(queueRetentionSeconds),
		}, opts...)
		if err != nil {
			return nil, fmt.Errorf("creating the %s queue: %w", name, err)
		}
		return q, nil
	}
	if cfg.FailureDestination == config.FailureDestinationSQS {
		if failures, err = newQueue("failures"); err != nil {
			return nil, nil, err
		}
	}
	if poison, err = newQueue("poison"); err != nil {
		return nil, nil, err
	}
	return failures, poison, nil
}
