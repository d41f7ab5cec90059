package redrive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"

	"github.com/streamfn/streamfn/internal/aws/failure"
	"github.com/streamfn/streamfn/internal/aws/sqsdepth"
	"github.com/streamfn/streamfn/internal/processor"
)

// Failure is one on-failure record: an object of the failure bucket or a
// message of the failures queue.
type Failure struct {
	// Where it is: the object's key, or the queue message's id.
	Key       string `json:"key,omitempty"`
	MessageID string `json:"messageId,omitempty"`

	ShardID             string    `json:"shardId"`
	StartSequenceNumber string    `json:"startSequenceNumber"`
	EndSequenceNumber   string    `json:"endSequenceNumber"`
	Records             int       `json:"records"`
	Condition           string    `json:"condition"`
	FirstArrival        time.Time `json:"firstArrival"`
	AgeSeconds          float64   `json:"ageSeconds"`
	// HasPayload says the record holds the records themselves (an S3
	// destination); without it they must be read again from the stream.
	HasPayload bool `json:"hasPayload"`
	// InStream says the range's first record is still in the stream (not
	// below the shard's trim horizon).
	InStream bool `json:"inStream"`
	// Lost: the records are neither in the record nor in the stream.
	Lost bool `json:"lost"`
	// BeyondHorizon: the records arrived longer ago than the processor's
	// duplicate horizon, so the exactly-once guarantee no longer covers a
	// replay of them (README, "Exactly once: the guarantee").
	BeyondHorizon bool `json:"beyondHorizon"`

	Doc     failure.Document `json:"-"`
	receipt string
}

// Where names the record for people.
func (f Failure) Where() string {
	if f.Key != "" {
		return f.Key
	}
	return "message " + f.MessageID
}

// Processor is what the tool reads of the processor function.
type Processor struct {
	ARN  string
	Role string // its execution role: invokeIdentityArn in every record
	// DedupHorizon is its DEDUP_HORIZON_SECONDS (streamfn:dedupHorizonSeconds).
	DedupHorizon time.Duration
}

// DefaultDedupHorizon is the processor's horizon when its environment
// does not set one (streamfn:dedupHorizonSeconds's default).
const DefaultDedupHorizon = 900 * time.Second

// ProcessorConfig reads the processor's configuration.
func (t *Tool) ProcessorConfig(ctx context.Context) (Processor, error) {
	out, err := t.Lambda.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(t.Target.Processor)})
	if err != nil {
		return Processor{}, fmt.Errorf("reading the processor function %s: %w", t.Target.Processor, explain(err))
	}
	p := Processor{ARN: aws.ToString(out.FunctionArn), Role: aws.ToString(out.Role), DedupHorizon: DefaultDedupHorizon}
	if out.Environment != nil {
		if s, ok := out.Environment.Variables[processor.EnvDedupHorizonSeconds]; ok {
			if n, err := strconv.Atoi(s); err == nil && n > 0 {
				p.DedupHorizon = time.Duration(n) * time.Second
			}
		}
	}
	return p, nil
}

// ErrNoDestination means the stack has neither a failure bucket nor a
// failures queue.
var ErrNoDestination = errors.New("the stack has no failure bucket and no failures queue (stack outputs failureBucketName, failuresQueueUrl)")

// Find reads every on-failure record, from the bucket or the queue. With
// hold, queue messages stay hidden from other readers until Release or
// Delete (replay holds them; list does not). Records that cannot be read
// are problems, never skipped silently.
func (t *Tool) Find(ctx context.Context, horizon time.Duration, hold bool) (found []Failure, problems []string, err error) {
	switch {
	case t.Target.Bucket != "":
		found, problems, err = t.findObjects(ctx)
	case t.Target.FailuresQueueURL != "":
		found, problems, err = t.findMessages(ctx, hold)
	default:
		return nil, nil, ErrNoDestination
	}
	if err != nil {
		return nil, nil, err
	}
	horizons := map[string]string{}
	now := t.now()
	for i := range found {
		f := &found[i]
		oldest, ok := horizons[f.ShardID]
		if !ok {
			if oldest, err = t.trimHorizon(ctx, f.ShardID); err != nil {
				return nil, nil, err
			}
			horizons[f.ShardID] = oldest
		}
		f.InStream = oldest != "" && !SequenceLess(f.StartSequenceNumber, oldest)
		f.Lost = !f.HasPayload && !f.InStream
		if !f.FirstArrival.IsZero() {
			f.AgeSeconds = now.Sub(f.FirstArrival).Seconds()
			f.BeyondHorizon = horizon > 0 && now.Sub(f.FirstArrival) > horizon
		}
	}
	sort.SliceStable(found, func(i, j int) bool {
		if found[i].ShardID != found[j].ShardID {
			return found[i].ShardID < found[j].ShardID
		}
		return SequenceLess(found[i].StartSequenceNumber, found[j].StartSequenceNumber)
	})
	return found, problems, nil
}

func fromDocument(doc failure.Document) Failure {
	info := doc.KinesisBatchInfo
	first, _ := doc.Arrivals()
	return Failure{
		ShardID: info.ShardID, StartSequenceNumber: info.StartSequenceNumber, EndSequenceNumber: info.EndSequenceNumber,
		Records: info.BatchSize, Condition: doc.RequestContext.Condition, FirstArrival: first,
		HasPayload: doc.Payload != "", Doc: doc,
	}
}

// FailurePrefix is where Lambda writes a mapping's on-failure records in
// an S3 destination.
const FailurePrefix = "aws/lambda/"

func (t *Tool) findObjects(ctx context.Context) ([]Failure, []string, error) {
	var keys []string
	pages := s3.NewListObjectsV2Paginator(t.S3, &s3.ListObjectsV2Input{Bucket: aws.String(t.Target.Bucket), Prefix: aws.String(FailurePrefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("listing s3://%s/%s: %w", t.Target.Bucket, FailurePrefix, explain(err))
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	var found []Failure
	var problems []string
	for i, key := range keys {
		t.progress("reading failure records", i, len(keys))
		if _, err := failure.ParseKey(key); err != nil {
			problems = append(problems, fmt.Sprintf("s3://%s/%s: %v", t.Target.Bucket, key, err))
			continue
		}
		data, err := t.getObject(ctx, key)
		if err != nil {
			return nil, nil, err
		}
		doc, err := failure.Parse(data)
		if err != nil {
			problems = append(problems, fmt.Sprintf("s3://%s/%s: %v", t.Target.Bucket, key, err))
			continue
		}
		f := fromDocument(doc)
		f.Key = key
		found = append(found, f)
	}
	t.progress("reading failure records", len(keys), len(keys))
	return found, problems, nil
}

func (t *Tool) getObject(ctx context.Context, key string) ([]byte, error) {
	out, err := t.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(t.Target.Bucket), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("reading s3://%s/%s: %w", t.Target.Bucket, key, explain(err))
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("reading s3://%s/%s: %w", t.Target.Bucket, key, err)
	}
	return data, nil
}

// holdFor is how long a queue message stays hidden while a replay holds
// it: longer than the replay of one batch can take.
const holdFor = 15 * 60

// message is one received queue message.
type message struct {
	id, receipt, body string
}

// receiveAll receives every message of a queue once, hidden for
// visibility seconds. Nothing else may receive from the queue meanwhile.
func (t *Tool) receiveAll(ctx context.Context, url string, visibility int32) ([]message, error) {
	depth, err := sqsdepth.Read(ctx, t.SQS, url)
	if err != nil {
		return nil, explain(err)
	}
	want := depth.Held()
	seen := map[string]bool{}
	var msgs []message
	for empty := 0; len(msgs) < want && empty < 3; {
		out, err := t.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: visibility,
		})
		if err != nil {
			return msgs, fmt.Errorf("receiving from %s: %w", url, explain(err))
		}
		if len(out.Messages) == 0 {
			empty++
		}
		for _, m := range out.Messages {
			id := aws.ToString(m.MessageId)
			if !seen[id] {
				seen[id] = true
				msgs = append(msgs, message{id: id, receipt: aws.ToString(m.ReceiptHandle), body: aws.ToString(m.Body)})
			}
		}
	}
	return msgs, nil
}

// release makes held messages visible again at once.
func (t *Tool) release(ctx context.Context, url string, msgs ...message) {
	for _, m := range msgs {
		_, _ = t.SQS.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String(m.receipt), VisibilityTimeout: 0})
	}
}

func (t *Tool) findMessages(ctx context.Context, hold bool) ([]Failure, []string, error) {
	visibility := int32(60)
	if hold {
		visibility = holdFor
	}
	msgs, err := t.receiveAll(ctx, t.Target.FailuresQueueURL, visibility)
	if !hold {
		defer t.release(context.WithoutCancel(ctx), t.Target.FailuresQueueURL, msgs...)
	}
	if err != nil {
		return nil, nil, err
	}
	var found []Failure
	var problems []string
	for _, m := range msgs {
		doc, err := failure.Parse([]byte(m.body))
		if err != nil {
			problems = append(problems, fmt.Sprintf("failures queue message %s: %v", m.id, err))
			if hold {
				t.release(ctx, t.Target.FailuresQueueURL, m)
			}
			continue
		}
		f := fromDocument(doc)
		f.MessageID, f.receipt = m.id, m.receipt
		found = append(found, f)
	}
	return found, problems, nil
}

// trimHorizon is the sequence number of the oldest record a shard still
// holds; "" when it holds none or no longer exists.
func (t *Tool) trimHorizon(ctx context.Context, shardID string) (string, error) {
	it, err := t.Kinesis.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
		StreamName: aws.String(t.Target.StreamName), ShardId: aws.String(shardID), ShardIteratorType: ktypes.ShardIteratorTypeTrimHorizon,
	})
	var missing *ktypes.ResourceNotFoundException
	if errors.As(err, &missing) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading shard %s of %s: %w", shardID, t.Target.StreamName, explain(err))
	}
	iterator := it.ShardIterator
	// An empty answer does not prove an empty shard: Kinesis may return
	// empty pages while it skips ahead. Read on while it is behind.
	for range 20 {
		out, err := t.Kinesis.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iterator, Limit: aws.Int32(1)})
		if err != nil {
			return "", fmt.Errorf("reading shard %s of %s: %w", shardID, t.Target.StreamName, explain(err))
		}
		if len(out.Records) > 0 {
			return aws.ToString(out.Records[0].SequenceNumber), nil
		}
		if out.NextShardIterator == nil || aws.ToInt64(out.MillisBehindLatest) == 0 {
			return "", nil
		}
		iterator = out.NextShardIterator
	}
	return "", nil
}

// SequenceLess orders Kinesis sequence numbers (decimal strings of up to
// 128 digits).
func SequenceLess(a, b string) bool {
	x, okA := new(big.Int).SetString(a, 10)
	y, okB := new(big.Int).SetString(b, 10)
	if !okA || !okB {
		return a < b
	}
	return x.Cmp(y) < 0
}

// explain adds what to do to the errors an operator meets first.
func explain(err error) error {
	var noBucket *s3types.NoSuchBucket
	if errors.As(err, &noBucket) {
		return fmt.Errorf("%w (the bucket does not exist: is the stack deployed with failureDestination s3, and is AWS_REGION its region?)", err)
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation":
			return fmt.Errorf("%w (the caller lacks a permission the tool needs: see the README, \"Redrive\", for the IAM policy)", err)
		case "ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException":
			return fmt.Errorf("%w (the AWS credentials are expired or invalid: refresh them, e.g. aws sso login)", err)
		case "NoSuchBucket":
			return fmt.Errorf("%w (the bucket does not exist: is the stack deployed with failureDestination s3?)", err)
		}
	}
	if strings.Contains(err.Error(), "failed to retrieve credentials") || strings.Contains(err.Error(), "no EC2 IMDS role found") {
		return fmt.Errorf("no AWS credentials: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or run against a local run: %w", err)
	}
	return err
}
