// Package redrive turns the records a Kinesis event-source mapping gave
// up on back into processed events. It is the logic of the redrive tool
// (go run ./scripts/redrive, make redrive) and of the local run's
// -redrive; both reach AWS, or a local run through its endpoints file,
// with the same aws-sdk-go-v2 clients.
//
//   - Find reads every on-failure record: the objects of the failure
//     bucket (with the invocation's payload) or the messages of the
//     failures queue (metadata only), and says for each whether its
//     records are still in the stream.
//   - Replay invokes the processor with each failed batch: the S3
//     object's payload as it is, or, from queue metadata, the range
//     re-read from the stream and rebuilt as the exact event Lambda sends
//     (kinesisevent.Events). A record is deleted only after its replay succeeded.
//     The processor's idempotence makes a replay safe to repeat.
//   - Poison resends poison records that are valid now (after a schema
//     fix) through the normal path: PutRecords keyed by userId.
package redrive

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Target names the pipeline's resources, from its stack outputs.
type Target struct {
	Stack            string `json:"stack"`
	Source           string `json:"source"`           // where the names came from: a local run's endpoints file or pulumi
	Bucket           string `json:"bucket,omitempty"` // the failure bucket; "" when the stack has none
	FailuresQueueURL string `json:"failuresQueueUrl,omitempty"`
	PoisonQueueURL   string `json:"poisonQueueUrl,omitempty"`
	StreamName       string `json:"streamName"`
	StreamARN        string `json:"streamArn"`
	Processor        string `json:"processorFunctionName"`
}

// The AWS APIs the tool calls: the operator's IAM policy needs exactly
// these (README, "Redrive").
type (
	S3API interface {
		ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
		GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
		DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, opts ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
	}
	SQSAPI interface {
		ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
		DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
		ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
		GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	}
	KinesisAPI interface {
		GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, opts ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error)
		GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error)
		PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
	}
	LambdaAPI interface {
		Invoke(ctx context.Context, in *lambda.InvokeInput, opts ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
		GetFunctionConfiguration(ctx context.Context, in *lambda.GetFunctionConfigurationInput, opts ...func(*lambda.Options)) (*lambda.GetFunctionConfigurationOutput, error)
	}
)

// Tool is the redrive tool for one pipeline.
type Tool struct {
	Target  Target
	S3      S3API
	SQS     SQSAPI
	Kinesis KinesisAPI
	Lambda  LambdaAPI
	// Progress, when set, is told how far a long step is: done of total
	// items of what.
	Progress func(what string, done, total int)
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (t *Tool) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

func (t *Tool) progress(what string, done, total int) {
	if t.Progress != nil {
		t.Progress(what, done, total)
	}
}
