// Package streamwriter writes records to a Kinesis data stream with
// PutRecords. It cuts the records into calls within Kinesis's limits, sends
// again only the entries Kinesis did not take, with exponential backoff and
// full jitter, and gives up a margin before the caller's deadline so that the
// caller still has time to answer. Its result names exactly the records that
// were not written: a record is written only when Kinesis returned it without
// an error code.
package streamwriter

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
)

// Kinesis's PutRecords limits. Newer streams may raise the record limit
// (UpdateMaxRecordSize); these are the defaults every stream honours.
const (
	MaxRecordsPerCall = 500
	MaxBytesPerCall   = 5 << 20 // data plus partition keys
	MaxRecordBytes    = 1 << 20 // data plus partition key
	MaxPartitionKey   = 256     // Unicode characters
)

// API is the part of the Kinesis client the writer uses, so that tests can
// inject throttling and partial failures.
type API interface {
	PutRecords(ctx context.Context, params *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
}

// Record is one record to write.
type Record struct {
	PartitionKey string
	Data         []byte
}

// Size is what the record counts against Kinesis's limits.
func (r Record) Size() int { return len(r.PartitionKey) + len(r.Data) }

// Options tune the retries. The zero value gives the defaults.
type Options struct {
	// BaseDelay caps the first retry's delay; each retry doubles the cap up
	// to MaxDelay, and the delay is drawn uniformly below it (full jitter),
	// so that throttled writers spread out instead of retrying in step.
	BaseDelay time.Duration // default 50ms
	MaxDelay  time.Duration // default 1s
	// Margin is kept free before the context's deadline: no call starts and
	// no call runs past deadline-Margin, so the caller can still answer.
	Margin time.Duration // default 500ms
	// Budget bounds the whole write when the context has no deadline.
	Budget time.Duration // default 10s
	// ThrottleBudget bounds the retries once Kinesis (or KMS) throttled an
	// entry: no call starts later than ThrottleBudget after Write began.
	// Without it a throttled caller would hold its Lambda environment until
	// the deadline margin, and a flood of requests against a throttled
	// stream would keep that many environments busy (issue 16).
	ThrottleBudget time.Duration // default 1s
}

func (o Options) withDefaults() Options {
	if o.BaseDelay <= 0 {
		o.BaseDelay = 50 * time.Millisecond
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = time.Second
	}
	o.MaxDelay = max(o.MaxDelay, o.BaseDelay)
	if o.Margin <= 0 {
		o.Margin = 500 * time.Millisecond
	}
	if o.Budget <= 0 {
		o.Budget = 10 * time.Second
	}
	if o.ThrottleBudget <= 0 {
		o.ThrottleBudget = DefaultThrottleBudget
	}
	return o
}

// DefaultThrottleBudget is Options.ThrottleBudget's default, and the
// default of the stack key streamfn:ingestThrottleRetryMs.
const DefaultThrottleBudget = time.Second

// Writer writes records to one stream. It is safe for concurrent use.
type Writer struct {
	client API
	stream string
	opts   Options
}

// New returns a writer to the stream named streamName.
func New(client API, streamName string, opts Options) *Writer {
	return &Writer{client: client, stream: streamName, opts: opts.withDefaults()}
}

// Result is the outcome of one Write.
type Result struct {
	// Unwritten holds the indexes (into the records given to Write) of the
	// records Kinesis did not take, ascending. Empty when all were written.
	Unwritten []int
	// Cause says why Unwritten is not empty (nil when it is): a refusal
	// when there was one, else the last transient error.
	Cause error
	// Code is the AWS error code behind Cause ("" when there is none, e.g. a
	// network error or an invalid record): safe to show a client, unlike
	// Cause, which names the account and the stream.
	Code string
	// Permanent is true when some record failed with an error that retrying
	// soon will not fix (a missing stream, denied access, an invalid record).
	Permanent bool

	Calls     int // PutRecords calls made
	Retries   int // entries sent again after they failed
	Throttled int // entry failures due to throttling (stream or KMS)
}

// Write writes records, in order, and returns which were not written.
func (w *Writer) Write(ctx context.Context, records []Record) Result {
	var res Result
	var state attemptState
	stop := w.stopAt(ctx)
	throttleStop := time.Now().Add(w.opts.ThrottleBudget)
	pending := make([]int, 0, len(records))
	var refused []int
	for i, r := range records {
		if err := checkRecord(r); err != nil {
			refused = append(refused, i)
			state.permanent = fmt.Errorf("record %d: %w", i, err)
			continue
		}
		pending = append(pending, i)
	}
	for attempt := 0; len(pending) > 0; attempt++ {
		if res.Throttled > 0 && throttleStop.Before(stop) {
			stop, state.throttleCapped = throttleStop, true
		}
		if attempt > 0 {
			delay := w.backoff(attempt)
			if !time.Now().Add(delay).Before(stop) {
				break
			}
			if err := sleep(ctx, delay); err != nil {
				state.transient = err
				break
			}
		}
		var again []int
		for _, chunk := range Chunks(records, pending) {
			if !time.Now().Before(stop) {
				again = append(again, chunk...)
				continue
			}
			if attempt > 0 {
				res.Retries += len(chunk)
			}
			failed, refusedNow := w.put(ctx, stop, records, chunk, &res, &state)
			again = append(again, failed...)
			refused = append(refused, refusedNow...)
		}
		pending = again
	}
	res.Unwritten = append(refused, pending...)
	slices.Sort(res.Unwritten)
	switch {
	case state.permanent != nil && len(refused) > 0:
		res.Cause, res.Permanent = state.permanent, true
	case len(pending) > 0 && state.transient != nil && state.throttleCapped:
		res.Cause = fmt.Errorf("%d records still throttled after retrying for %v: %w", len(pending), w.opts.ThrottleBudget, state.transient)
	case len(pending) > 0 && state.transient != nil:
		res.Cause = fmt.Errorf("%d records still failing %v before the deadline: %w", len(pending), w.opts.Margin, state.transient)
	case len(pending) > 0:
		res.Cause = fmt.Errorf("%d records not sent: less than %v was left before the deadline", len(pending), w.opts.Margin)
	}
	var apiErr smithy.APIError
	if errors.As(res.Cause, &apiErr) {
		res.Code = apiErr.ErrorCode()
	}
	return res
}

// attemptState keeps the last error of each kind seen during one Write.
type attemptState struct {
	transient error // retrying may help
	permanent error // retrying will not help
	// throttleCapped is set once throttling moved the stop time to the
	// throttle budget.
	throttleCapped bool
}

// put makes one call for chunk and sorts its records: failed may succeed
// when sent again, refused will not.
func (w *Writer) put(ctx context.Context, stop time.Time, records []Record, chunk []int, res *Result, state *attemptState) (failed, refused []int) {
	entries := make([]types.PutRecordsRequestEntry, len(chunk))
	for k, i := range chunk {
		entries[k] = types.PutRecordsRequestEntry{Data: records[i].Data, PartitionKey: aws.String(records[i].PartitionKey)}
	}
	callCtx, cancel := context.WithDeadline(ctx, stop)
	defer cancel()
	res.Calls++
	out, err := w.client.PutRecords(callCtx, &kinesis.PutRecordsInput{StreamName: aws.String(w.stream), Records: entries})
	if err != nil {
		err = fmt.Errorf("PutRecords to stream %s: %w", w.stream, err)
		if isThrottle(err) {
			res.Throttled += len(chunk)
		}
		if isRetryable(err) {
			// A call cut short by the margin's deadline says less than
			// the throttling (say) that kept the records pending.
			if state.transient == nil || callCtx.Err() == nil {
				state.transient = err
			}
			return chunk, nil
		}
		state.permanent = err
		return nil, chunk
	}
	if len(out.Records) != len(chunk) {
		// Kinesis promises one result per entry; without it no entry can be
		// known to be written.
		state.transient = fmt.Errorf("PutRecords to stream %s answered %d results for %d records", w.stream, len(out.Records), len(chunk))
		return chunk, nil
	}
	for k, entry := range out.Records {
		if entry.ErrorCode == nil {
			continue
		}
		code := *entry.ErrorCode
		err := fmt.Errorf("PutRecords to stream %s: %w", w.stream,
			&smithy.GenericAPIError{Code: code, Message: aws.ToString(entry.ErrorMessage)})
		if throttleCodes[code] {
			res.Throttled++
		}
		if retryableEntryCodes[code] {
			state.transient = err
			failed = append(failed, chunk[k])
		} else {
			state.permanent = err
			refused = append(refused, chunk[k])
		}
	}
	return failed, refused
}

// Chunks cuts the records at indexes into PutRecords calls, keeping their
// order: each chunk has at most MaxRecordsPerCall records and at most
// MaxBytesPerCall bytes. Every record must be at most MaxRecordBytes.
func Chunks(records []Record, indexes []int) [][]int {
	var chunks [][]int
	start, bytes := 0, 0
	for k, i := range indexes {
		size := records[i].Size()
		if k > start && (k-start == MaxRecordsPerCall || bytes+size > MaxBytesPerCall) {
			chunks = append(chunks, indexes[start:k:k])
			start, bytes = k, 0
		}
		bytes += size
	}
	if start < len(indexes) {
		chunks = append(chunks, indexes[start:len(indexes):len(indexes)])
	}
	return chunks
}

func checkRecord(r Record) error {
	switch {
	case r.PartitionKey == "":
		return errors.New("empty partition key; Kinesis needs 1 to 256 characters")
	case len(r.PartitionKey) > MaxPartitionKey && utf8.RuneCountInString(r.PartitionKey) > MaxPartitionKey:
		return fmt.Errorf("partition key has %d characters; Kinesis allows at most %d", utf8.RuneCountInString(r.PartitionKey), MaxPartitionKey)
	case r.Size() > MaxRecordBytes:
		return fmt.Errorf("record is %d bytes with its partition key; Kinesis allows at most %d", r.Size(), MaxRecordBytes)
	}
	return nil
}

func (w *Writer) stopAt(ctx context.Context) time.Time {
	if deadline, ok := ctx.Deadline(); ok {
		return deadline.Add(-w.opts.Margin)
	}
	return time.Now().Add(w.opts.Budget)
}

// backoff is the delay before retry number attempt (1, 2, ...): uniform in
// [0, min(MaxDelay, BaseDelay·2^(attempt-1))).
func (w *Writer) backoff(attempt int) time.Duration {
	ceiling := w.opts.MaxDelay
	if shift := attempt - 1; shift < 30 && w.opts.BaseDelay<<shift < ceiling {
		ceiling = w.opts.BaseDelay << shift
	}
	return rand.N(ceiling)
}

func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Entry error codes PutRecords documents, plus KMS throttling for streams
// encrypted with a KMS key.
var (
	retryableEntryCodes = map[string]bool{
		"ProvisionedThroughputExceededException": true,
		"InternalFailure":                        true,
		"KMSThrottlingException":                 true,
	}
	throttleCodes = map[string]bool{
		"ProvisionedThroughputExceededException": true,
		"KMSThrottlingException":                 true,
	}
	extraRetryableCallCodes = map[string]bool{
		"KMSThrottlingException":   true,
		"InternalFailure":          true,
		"InternalFailureException": true,
		"ServiceUnavailable":       true,
	}
)

// isRetryable says whether a failed call may succeed when made again: the
// SDK's own rules (throttling codes, 5xx, connection errors, timeouts) plus
// KMS throttling. A context that ended counts too: the entries are then
// simply not written, and no more calls start.
func isRetryable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && extraRetryableCallCodes[apiErr.ErrorCode()] {
		return true
	}
	return retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary
}

func isThrottle(err error) bool {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && throttleCodes[apiErr.ErrorCode()] {
		return true
	}
	return retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary
}
