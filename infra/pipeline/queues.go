package pipeline

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sqs"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/streamfn/streamfn/infra/config"
)

// failuresQueueRetentionSeconds is SQS's maximum, 14 days: the failures queue holds batch
// metadata only (shard, sequence numbers), no personal data, and waits for a human who may be
// on holiday. The poison queue holds payloads, so its retention is a stack key
// (streamfn:poisonRetentionDays; README, Data protection).
const failuresQueueRetentionSeconds = 14 * 24 * 3600

// newQueues creates the queue of records the processor rejects (with their payloads) and,
// with failureDestination sqs, the mapping's on-failure destination (batch metadata). Each
// queue refuses requests without TLS.
func newQueues(ctx *pulumi.Context, cfg *config.Config, opts ...pulumi.ResourceOption) (failures, poison *sqs.Queue, err error) {
	newQueue := func(name string, retentionSeconds int) (*sqs.Queue, error) {
		q, err := sqs.NewQueue(ctx, name, &sqs.QueueArgs{
			SqsManagedSseEnabled:    pulumi.Bool(true),
			MessageRetentionSeconds: pulumi.Int(retentionSeconds),
		}, opts...)
		if err != nil {
			return nil, fmt.Errorf("creating the %s queue: %w", name, err)
		}
		policy := q.Arn.ApplyT(func(arn string) (string, error) {
			return tlsOnlyQueuePolicy(arn).JSON()
		}).(pulumi.StringOutput)
		if _, err := sqs.NewQueuePolicy(ctx, name+"-policy", &sqs.QueuePolicyArgs{QueueUrl: q.Url, Policy: policy}, opts...); err != nil {
			return nil, fmt.Errorf("creating the %s queue's policy: %w", name, err)
		}
		return q, nil
	}
	if cfg.FailureDestination == config.FailureDestinationSQS {
		if failures, err = newQueue("failures", failuresQueueRetentionSeconds); err != nil {
			return nil, nil, err
		}
	}
	if poison, err = newQueue("poison", cfg.PoisonRetentionDays*24*3600); err != nil {
		return nil, nil, err
	}
	return failures, poison, nil
}

// tlsOnlyQueuePolicy denies every request to the queue that does not use TLS, as AWS
// recommends (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-security-best-practices.html).
// Lambda and the processor reach the queue over HTTPS, so the deny never touches them.
func tlsOnlyQueuePolicy(queueARN string) PolicyDocument {
	return PolicyDocument{Version: policyVersion, Statement: []Statement{{
		Sid:       "DenyInsecureTransport",
		Effect:    "Deny",
		Principal: map[string]any{"AWS": "*"},
		Action:    []string{"sqs:*"},
		Resource:  []string{queueARN},
		Condition: map[string]map[string]any{"Bool": {"aws:SecureTransport": "false"}},
	}}}
}
