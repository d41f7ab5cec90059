package redrive

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/streamfn/streamfn/internal/aws/kinesisevent"
	"github.com/streamfn/streamfn/internal/aws/lambdaquota"
	"github.com/streamfn/streamfn/internal/processor"
)

// ReplayOptions tune Replay.
type ReplayOptions struct {
	// DryRun reads and rebuilds every batch and says what would happen,
	// but invokes nothing and deletes nothing.
	DryRun bool
	// Concurrency is how many failure records are replayed at once
	// (default 1: one invocation at a time, as the mapping runs one lane).
	Concurrency int
}

// Replay statuses.
const (
	StatusReplayed    = "replayed"
	StatusWouldReplay = "would replay"
	StatusLost        = "lost"
	StatusFailed      = "failed"
)

// Replayed is what happened to one on-failure record.
type Replayed struct {
	Failure
	Status      string `json:"status"`
	Invocations int    `json:"invocations"` // events sent (or that would be)
	Bytes       int    `json:"bytes"`
	Deleted     bool   `json:"deleted"`
	Error       string `json:"error,omitempty"`
	// Processor is what the processor says the replay did (its redrive
	// report): applied, recovered, skipped, and beyondHorizon, the skipped
	// records nothing can vouch were applied.
	Processor processor.RedriveReport `json:"processor"`
}

// ReplayReport is the JSON document of `redrive replay -json`.
type ReplayReport struct {
	Target              Target     `json:"target"`
	At                  string     `json:"at"`
	DryRun              bool       `json:"dryRun"`
	DedupHorizonSeconds float64    `json:"dedupHorizonSeconds"`
	Results             []Replayed `json:"results"`
	// RecordsReplayed counts the records of every record replayed (or, with
	// -dry-run, that would be).
	RecordsReplayed int `json:"recordsReplayed"`
	// BeyondHorizon totals the processor's beyondHorizon: records skipped
	// as already applied without the exactly-once guarantee to vouch for it.
	BeyondHorizon int      `json:"beyondHorizon"`
	Failed        int      `json:"failed"`
	Lost          []Range  `json:"lost"`
	Warnings      []string `json:"warnings,omitempty"`
	Problems      []string `json:"problems,omitempty"`
}

// Replay invokes the processor with every failed batch and deletes each
// on-failure record whose replay succeeded.
func (t *Tool) Replay(ctx context.Context, opts ReplayOptions) (*ReplayReport, error) {
	proc, err := t.ProcessorConfig(ctx)
	if err != nil {
		return nil, err
	}
	found, problems, err := t.Find(ctx, proc.DedupHorizon, !opts.DryRun)
	if err != nil {
		return nil, err
	}
	r := &ReplayReport{
		Target: t.Target, At: t.now().UTC().Format(time.RFC3339), DryRun: opts.DryRun, DedupHorizonSeconds: proc.DedupHorizon.Seconds(),
		Results: make([]Replayed, len(found)), Problems: problems,
	}
	ranges := MergeRanges(found)
	r.Warnings = horizonWarnings(ranges, proc.DedupHorizon)
	workers := max(1, opts.Concurrency)
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for range workers {
		wg.Go(func() {
			for i := range next {
				res := t.replayOne(ctx, found[i], proc, opts.DryRun)
				mu.Lock()
				r.Results[i] = res
				done++
				t.progress("replaying", done, len(found))
				mu.Unlock()
			}
		})
	}
	t.progress("replaying", 0, len(found))
	for i := range found {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var lost []Failure
	for _, res := range r.Results {
		switch res.Status {
		case StatusReplayed, StatusWouldReplay:
			r.RecordsReplayed += res.Records
			r.BeyondHorizon += res.Processor.BeyondHorizon
		case StatusFailed:
			r.Failed++
		case StatusLost:
			lost = append(lost, res.Failure)
		}
	}
	r.Lost = LostRanges(MergeRanges(lost))
	if r.BeyondHorizon > 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("the processor skipped %d replayed records as already applied without the exactly-once guarantee to vouch for it: they arrived longer ago than its duplicate horizon (its log names the users; README, \"Exactly once: the guarantee\")", r.BeyondHorizon))
	}
	return r, nil
}

func (t *Tool) replayOne(ctx context.Context, f Failure, proc Processor, dryRun bool) (res Replayed) {
	res = Replayed{Failure: f}
	defer func() {
		// A held queue message that was not deleted goes back at once.
		if f.receipt != "" && !res.Deleted {
			t.release(context.WithoutCancel(ctx), t.Target.FailuresQueueURL, message{id: f.MessageID, receipt: f.receipt})
		}
	}()
	events, err := t.rebuild(ctx, f, proc)
	if errors.Is(err, errLeftTheStream) {
		res.Status, res.Lost, res.Error = StatusLost, true, err.Error()
		return res
	}
	if err != nil {
		res.Status, res.Error = StatusFailed, err.Error()
		return res
	}
	res.Invocations = len(events)
	for _, e := range events {
		res.Bytes += len(e)
	}
	if dryRun {
		res.Status = StatusWouldReplay
		return res
	}
	for _, e := range events {
		report, err := t.invoke(ctx, e)
		if err != nil {
			res.Status, res.Error = StatusFailed, err.Error()
			return res
		}
		res.Processor.Applied += report.Applied
		res.Processor.Recovered += report.Recovered
		res.Processor.Skipped += report.Skipped
		res.Processor.BeyondHorizon += report.BeyondHorizon
		res.Processor.Poison += report.Poison
	}
	res.Status = StatusReplayed
	if err := t.deleteFailure(ctx, f); err != nil {
		res.Error = "replayed, but the record was not deleted (a replay again is harmless): " + err.Error()
		return res
	}
	res.Deleted = true
	return res
}

var errLeftTheStream = errors.New("records left the stream")

// rebuild returns the invocations that replay a failure record: its
// payload, or its range read again from the stream.
func (t *Tool) rebuild(ctx context.Context, f Failure, proc Processor) ([][]byte, error) {
	if f.HasPayload {
		if len(f.Doc.Payload) > lambdaquota.SyncInvocationPayloadBytes {
			return nil, fmt.Errorf("the payload is %d bytes, over Lambda's %d", len(f.Doc.Payload), lambdaquota.SyncInvocationPayloadBytes)
		}
		return [][]byte{[]byte(f.Doc.Payload)}, nil
	}
	if !f.InStream {
		return nil, fmt.Errorf("%w: %s %s..%s is below the shard's trim horizon and the record has no payload", errLeftTheStream, f.ShardID, f.StartSequenceNumber, f.EndSequenceNumber)
	}
	records, err := t.ReadRange(ctx, f.ShardID, f.StartSequenceNumber, f.EndSequenceNumber)
	if err != nil {
		return nil, err
	}
	if len(records) == 0 || aws.ToString(records[0].SequenceNumber) != f.StartSequenceNumber {
		return nil, fmt.Errorf("%w: %s %s..%s: its first record is no longer in the stream", errLeftTheStream, f.ShardID, f.StartSequenceNumber, f.EndSequenceNumber)
	}
	src := kinesisevent.Source{ShardID: f.ShardID, StreamARN: t.Target.StreamARN, Region: regionOf(t.Target.StreamARN), InvokeIdentityARN: proc.Role}
	return kinesisevent.Events(src, records, lambdaquota.SyncInvocationPayloadBytes), nil
}

// rangePage is the records ReadRange asks for per GetRecords call.
const rangePage = 1000

// ReadRange reads a shard's records from start to end, both included:
// GetShardIterator AT_SEQUENCE_NUMBER, then GetRecords pages until the end.
func (t *Tool) ReadRange(ctx context.Context, shardID, start, end string) ([]ktypes.Record, error) {
	it, err := t.Kinesis.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
		StreamName: aws.String(t.Target.StreamName), ShardId: aws.String(shardID),
		ShardIteratorType: ktypes.ShardIteratorTypeAtSequenceNumber, StartingSequenceNumber: aws.String(start),
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s %s..%s: %w", shardID, start, end, explain(err))
	}
	iterator := it.ShardIterator
	var records []ktypes.Record
	for empty := 0; iterator != nil && empty < 20; {
		// Pages of a batch's size or so: a range is one batch, and a read of
		// Kinesis's maximum would carry thousands of records past its end.
		out, err := t.Kinesis.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iterator, Limit: aws.Int32(rangePage)})
		if err != nil {
			var throttled *ktypes.ProvisionedThroughputExceededException
			if errors.As(err, &throttled) {
				time.Sleep(time.Second)
				continue
			}
			return nil, fmt.Errorf("reading %s %s..%s: %w", shardID, start, end, explain(err))
		}
		for _, rec := range out.Records {
			if SequenceLess(end, aws.ToString(rec.SequenceNumber)) {
				return records, nil
			}
			records = append(records, rec)
			if aws.ToString(rec.SequenceNumber) == end {
				return records, nil
			}
		}
		if len(out.Records) == 0 {
			if aws.ToInt64(out.MillisBehindLatest) == 0 {
				empty++
			}
		}
		iterator = out.NextShardIterator
	}
	return records, nil
}

// redriveClientContext marks the invocations as the redrive tool's
// (processor.RedriveClientContextKey): the processor then reports what the
// replay did, and what it could not vouch for.
var redriveClientContext = func() string {
	b, _ := json.Marshal(map[string]any{"custom": map[string]string{processor.RedriveClientContextKey: "1"}})
	return base64.StdEncoding.EncodeToString(b)
}()

// invoke sends one event to the processor and checks that every record
// was applied: no function error and no batchItemFailures. It returns the
// processor's redrive report.
func (t *Tool) invoke(ctx context.Context, event []byte) (processor.RedriveReport, error) {
	backoff := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		out, err := t.Lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(t.Target.Processor), Payload: event,
			ClientContext: aws.String(redriveClientContext)})
		var throttled *ltypes.TooManyRequestsException
		if errors.As(err, &throttled) && attempt < 20 {
			select {
			case <-ctx.Done():
				return processor.RedriveReport{}, ctx.Err()
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		if err != nil {
			return processor.RedriveReport{}, fmt.Errorf("invoking %s: %w", t.Target.Processor, explain(err))
		}
		if out.FunctionError != nil {
			return processor.RedriveReport{}, fmt.Errorf("the processor failed (%s): %s", aws.ToString(out.FunctionError), trim(out.Payload))
		}
		seqs, err := sequenceNumbers(event)
		if err != nil {
			return processor.RedriveReport{}, err
		}
		if from, whole := kinesisevent.Checkpoint(out.Payload, seqs); whole || from >= 0 {
			return processor.RedriveReport{}, fmt.Errorf("the processor did not apply every record (it answered %s): left for the next replay", trim(out.Payload))
		}
		var resp struct {
			Redrive processor.RedriveReport `json:"redrive"`
		}
		_ = json.Unmarshal(out.Payload, &resp) // an older processor sends no report
		return resp.Redrive, nil
	}
}

func sequenceNumbers(event []byte) ([]string, error) {
	var e struct {
		Records []struct {
			Kinesis struct {
				SequenceNumber string `json:"sequenceNumber"`
			} `json:"kinesis"`
		} `json:"Records"`
	}
	if err := json.Unmarshal(event, &e); err != nil {
		return nil, fmt.Errorf("the payload is not a Kinesis event: %w", err)
	}
	seqs := make([]string, len(e.Records))
	for i, r := range e.Records {
		seqs[i] = r.Kinesis.SequenceNumber
	}
	return seqs, nil
}

func (t *Tool) deleteFailure(ctx context.Context, f Failure) error {
	if f.Key != "" {
		_, err := t.S3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(t.Target.Bucket), Key: aws.String(f.Key)})
		if err != nil {
			return fmt.Errorf("deleting s3://%s/%s: %w", t.Target.Bucket, f.Key, explain(err))
		}
		return nil
	}
	_, err := t.SQS.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(t.Target.FailuresQueueURL), ReceiptHandle: aws.String(f.receipt)})
	if err != nil {
		return fmt.Errorf("deleting message %s from %s: %w", f.MessageID, t.Target.FailuresQueueURL, explain(err))
	}
	return nil
}

// regionOf is the region of an ARN, "" when it is not one.
func regionOf(resourceARN string) string {
	a, err := arn.Parse(resourceARN)
	if err != nil {
		return ""
	}
	return a.Region
}

func trim(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}
