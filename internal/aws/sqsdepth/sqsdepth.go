// Package sqsdepth reads how many messages an SQS queue holds, from the
// queue's approximate counts. It is the one reading of those attributes for
// every tool: the local run's live view and verify, inspect and redrive.
//
// The counts are approximate and eventually consistent: see
// https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-resources-required-process-messages.html
// and GetQueueAttributes,
// https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_GetQueueAttributes.html
package sqsdepth

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// API is the call Read makes; *sqs.Client has it.
type API interface {
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// Depth is a queue's messages by state.
type Depth struct {
	Visible  int `json:"visible"`  // ApproximateNumberOfMessages: ready to receive
	InFlight int `json:"inFlight"` // ApproximateNumberOfMessagesNotVisible: received, not yet deleted
	Delayed  int `json:"delayed"`  // ApproximateNumberOfMessagesDelayed: not yet ready
}

// Held is the messages a receiver can get now or once their visibility
// timeout ends: visible and in flight.
func (d Depth) Held() int { return d.Visible + d.InFlight }

// attributes are the three counts Read asks for, with where each goes.
var attributes = []struct {
	name  types.QueueAttributeName
	field func(*Depth) *int
}{
	{types.QueueAttributeNameApproximateNumberOfMessages, func(d *Depth) *int { return &d.Visible }},
	{types.QueueAttributeNameApproximateNumberOfMessagesNotVisible, func(d *Depth) *int { return &d.InFlight }},
	{types.QueueAttributeNameApproximateNumberOfMessagesDelayed, func(d *Depth) *int { return &d.Delayed }},
}

// Read returns the queue's depth. An attribute that is missing or not a
// count is an error naming it: a queue whose depth is unknown must not
// read as empty.
func Read(ctx context.Context, client API, queueURL string) (Depth, error) {
	names := make([]types.QueueAttributeName, len(attributes))
	for i, a := range attributes {
		names[i] = a.name
	}
	out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(queueURL), AttributeNames: names})
	if err != nil {
		return Depth{}, fmt.Errorf("counting the messages in %s: %w", queueURL, err)
	}
	var d Depth
	for _, a := range attributes {
		raw, ok := out.Attributes[string(a.name)]
		n, err := strconv.Atoi(raw)
		if !ok || err != nil || n < 0 {
			return Depth{}, fmt.Errorf("counting the messages in %s: attribute %s is %q, want a count", queueURL, a.name, raw)
		}
		*a.field(&d) = n
	}
	return d, nil
}
