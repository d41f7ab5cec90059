// Package esm emulates Lambda's Kinesis event-source mapping: it polls
// every shard of a stream and invokes a function with batches of records,
// with the mapping's knobs applied the way Lambda applies them:
//
//   - one poller per shard, reading from the starting position
//     (TRIM_HORIZON, LATEST or AT_TIMESTAMP);
//   - batches of up to BatchSize records (and at most
//     lambdaquota.SyncInvocationPayloadBytes of event),
//     gathered for up to the batching window;
//   - a parallelization factor N: records are spread over N lanes per
//     shard by a hash of their partition key, so records of one key stay in
//     order while up to N batches of a shard run at once;
//   - ReportBatchItemFailures: the batch is retried from the lowest
//     reported sequence number; an empty, null or unknown itemIdentifier
//     fails the whole batch;
//   - function errors (returned errors, crashes, timeouts) fail the whole
//     batch; with bisect on, a failed batch is split in two and each half is
//     retried, which does not count as a retry attempt;
//   - maximum retry attempts and maximum record age: records that run out of
//     either are discarded and their batch's metadata is sent to the
//     on-failure destination, in the document Lambda sends;
//   - throttled invocations are retried with backoff and do not count as
//     retry attempts (only the record age bounds them).
//
// Tumbling windows are not emulated: New rejects a mapping that sets one.
package esm

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/google/uuid"

	"github.com/streamfn/streamfn/internal/aws/failure"
	"github.com/streamfn/streamfn/internal/aws/kinesisevent"
	"github.com/streamfn/streamfn/internal/aws/lambdaquota"
	"github.com/streamfn/streamfn/internal/dev/local/lambdaenv"
)

// Invoker runs one synchronous invocation. It returns
// lambdaenv.ErrThrottled when the function has no free environment; a
// function failure is a Result with FunctionError set.
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) (lambdaenv.Result, error)
}

// Kinesis is the part of the Kinesis API the pollers use.
type Kinesis interface {
	DescribeStream(ctx context.Context, in *kinesis.DescribeStreamInput, opts ...func(*kinesis.Options)) (*kinesis.DescribeStreamOutput, error)
	GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, opts ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error)
}

// Config is one mapping, with Lambda's property names.
type Config struct {
	StreamName        string
	StreamARN         string
	FunctionARN       string // for the on-failure document
	InvokeIdentityARN string // the function's execution role, in every record
	Region            string

	BatchSize                  int
	MaximumBatchingWindow      time.Duration
	ParallelizationFactor      int
	StartingPosition           string // TRIM_HORIZON, LATEST or AT_TIMESTAMP
	StartingPositionTimestamp  time.Time
	MaximumRetryAttempts       int           // -1: until the records expire
	MaximumRecordAge           time.Duration // negative: no limit
	BisectBatchOnFunctionError bool
	ReportBatchItemFailures    bool
	TumblingWindow             time.Duration

	// Destination receives the on-failure record of every discarded
	// batch, with its Payload (the discarded records as one invocation, as
	// Lambda gives an S3 destination); an SQS or SNS destination drops the
	// payload (failure.Document.Metadata).
	// batch; nil discards silently, as a mapping without one does.
	Destination func(ctx context.Context, record failure.Document) error

	// PollInterval is the least time between two reads of a shard, unless
	// a read returned its limit of records (default 250ms; Lambda's base
	// rate is once per second, shorter keeps local latency low).
	PollInterval time.Duration
	// RetryBackoff is the first wait before a failed batch is retried; it
	// doubles per attempt up to 2s (default 100ms).
	RetryBackoff time.Duration
	// ShardBuffer caps the records read ahead per shard (default 10000).
	ShardBuffer int
}

func (c *Config) validate() error {
	var problems []string
	if c.BatchSize < 1 || c.BatchSize > 10000 {
		problems = append(problems, fmt.Sprintf("batchSize %d: must be 1..10000", c.BatchSize))
	}
	if c.MaximumBatchingWindow < 0 || c.MaximumBatchingWindow > 300*time.Second {
		problems = append(problems, fmt.Sprintf("maximumBatchingWindowInSeconds %s: must be 0..300s", c.MaximumBatchingWindow))
	}
	if c.ParallelizationFactor < 1 || c.ParallelizationFactor > 10 {
		problems = append(problems, fmt.Sprintf("parallelizationFactor %d: must be 1..10", c.ParallelizationFactor))
	}
	switch c.StartingPosition {
	case "TRIM_HORIZON", "LATEST":
	case "AT_TIMESTAMP":
		if c.StartingPositionTimestamp.IsZero() {
			problems = append(problems, "startingPosition AT_TIMESTAMP needs startingPositionTimestamp")
		}
	default:
		problems = append(problems, fmt.Sprintf("startingPosition %q: must be TRIM_HORIZON, LATEST or AT_TIMESTAMP", c.StartingPosition))
	}
	if c.MaximumRetryAttempts < -1 {
		problems = append(problems, fmt.Sprintf("maximumRetryAttempts %d: must be -1 or 0..10000", c.MaximumRetryAttempts))
	}
	if c.TumblingWindow > 0 {
		problems = append(problems, fmt.Sprintf("tumblingWindowInSeconds %s: tumbling windows are not emulated locally; set streamfn:tumblingWindowSeconds to 0 for the local run", c.TumblingWindow))
	}
	if c.StreamName == "" {
		problems = append(problems, "no stream name")
	}
	if len(problems) > 0 {
		return fmt.Errorf("event-source mapping: %s", strings.Join(problems, "; "))
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 250 * time.Millisecond
	}
	if c.RetryBackoff <= 0 {
		c.RetryBackoff = 100 * time.Millisecond
	}
	if c.ShardBuffer <= 0 {
		c.ShardBuffer = 10000
	}
	if c.ShardBuffer < c.BatchSize*c.ParallelizationFactor {
		c.ShardBuffer = c.BatchSize * c.ParallelizationFactor
	}
	return nil
}

// Mapping is a running event-source mapping.
type Mapping struct {
	cfg     Config
	kinesis Kinesis
	invoker Invoker

	shards []*shard
	ready  chan struct{}

	invocations, functionErrors, partialFailures, throttles, retries, bisections atomic.Int64
	recordsRead, recordsSucceeded, recordsDiscarded, destinationSent             atomic.Int64
	destinationErrors                                                            atomic.Int64
	readCalls, readNanos                                                         atomic.Int64
	invokeErrors                                                                 atomic.Int64

	samplesMu sync.Mutex
	samples   []Sample
	// lastDestinationError is the error of the last on-failure record the
	// destination refused five times (guarded by samplesMu).
	lastDestinationError error
}

// Sample is one invocation's iterator age, as Lambda's IteratorAge metric
// defines it: the age of the batch's last record when the batch is sent.
type Sample struct {
	At          time.Time
	IteratorAge time.Duration
	Records     int
}

// New checks the configuration; Run starts polling.
func New(cfg Config, client Kinesis, invoker Invoker) (*Mapping, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Mapping{cfg: cfg, kinesis: client, invoker: invoker, ready: make(chan struct{})}, nil
}

// Ready is closed once every shard's poller holds its starting iterator:
// from then on, records put to the stream are read even with LATEST.
func (m *Mapping) Ready() <-chan struct{} { return m.ready }

// Run polls every shard until ctx ends, then waits for in-flight
// invocations to return. It fails only if the stream cannot be described
// or a shard's starting iterator cannot be had.
func (m *Mapping) Run(ctx context.Context) error {
	out, err := m.kinesis.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(m.cfg.StreamName)})
	if err != nil {
		return fmt.Errorf("describing stream %s: %w", m.cfg.StreamName, err)
	}
	for _, s := range out.StreamDescription.Shards {
		sh := &shard{
			id:     aws.ToString(s.ShardId),
			source: kinesisevent.Source{ShardID: aws.ToString(s.ShardId), StreamARN: m.cfg.StreamARN, Region: m.cfg.Region, InvokeIdentityARN: m.cfg.InvokeIdentityARN},
			space:  make(chan struct{}, 1),
		}
		for range m.cfg.ParallelizationFactor {
			sh.lanes = append(sh.lanes, &lane{shard: sh, notify: make(chan struct{}, 1)})
		}
		m.shards = append(m.shards, sh)
	}
	iterators := make([]string, len(m.shards))
	for i, sh := range m.shards {
		it, err := m.startIterator(ctx, sh.id)
		if err != nil {
			return err
		}
		iterators[i] = it
	}
	close(m.ready)

	var wg sync.WaitGroup
	for i, sh := range m.shards {
		wg.Go(func() { m.poll(ctx, sh, iterators[i]) })
		for _, l := range sh.lanes {
			wg.Go(func() { m.runLane(ctx, l) })
		}
	}
	wg.Wait()
	return nil
}

func (m *Mapping) startIterator(ctx context.Context, shardID string) (string, error) {
	in := &kinesis.GetShardIteratorInput{
		StreamName:        aws.String(m.cfg.StreamName),
		ShardId:           aws.String(shardID),
		ShardIteratorType: types.ShardIteratorType(m.cfg.StartingPosition),
	}
	if m.cfg.StartingPosition == "AT_TIMESTAMP" {
		in.Timestamp = aws.Time(m.cfg.StartingPositionTimestamp)
	}
	out, err := m.kinesis.GetShardIterator(ctx, in)
	if err != nil {
		return "", fmt.Errorf("getting the %s iterator of %s/%s: %w", m.cfg.StartingPosition, m.cfg.StreamName, shardID, err)
	}
	return aws.ToString(out.ShardIterator), nil
}

// shard is one shard's poller state.
type shard struct {
	id     string
	source kinesisevent.Source
	lanes  []*lane
	space  chan struct{} // signalled when lanes take records out

	mu           sync.Mutex
	buffered     int       // records read and not yet finished
	lastSequence string    // the last record read
	lastArrival  time.Time // its arrival
	behind       bool      // the last read returned records: more may wait unread
	emptyReadAt  time.Time // the last read that found nothing new
	closed       bool      // the shard ended (no next iterator)
	readErrors   int64     // reads (GetRecords or GetShardIterator) that failed
	lastError    error     // the last of them
}

// readFailed counts a failed read and keeps its error.
func (sh *shard) readFailed(err error) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.readErrors++
	sh.lastError = err
}

// lane is one of a shard's parallelizationFactor ordered sub-streams.
type lane struct {
	shard  *shard
	notify chan struct{}

	mu       sync.Mutex
	queue    []record
	firstAt  time.Time // when the oldest queued record was queued
	inFlight []record  // the batch being invoked or retried
}

// The backoff after a failed read: it doubles per failure in a row.
const (
	minReadBackoff = 100 * time.Millisecond
	maxReadBackoff = 5 * time.Second
)

func (m *Mapping) poll(ctx context.Context, sh *shard, iterator string) {
	backoff := minReadBackoff
	// failed counts a failed read and waits before the next: every error
	// path goes through it, so no failure can make the poller spin.
	failed := func(err error) {
		sh.readFailed(fmt.Errorf("reading shard %s of %s: %w", sh.id, m.cfg.StreamName, err))
		sleep(ctx, backoff)
		backoff = min(2*backoff, maxReadBackoff)
	}
	// expiredInARow counts the iterators that expired with no successful
	// read between them. Kinesis expires an iterator unused for five
	// minutes, so one expiry is routine and is replaced at once, uncounted;
	// a second in a row means the new iterators do not work either, and it
	// is a failure like any other.
	expiredInARow := 0
	for ctx.Err() == nil {
		if !m.waitForSpace(ctx, sh) {
			return
		}
		if iterator == "" { // the last one expired
			it, err := m.resumeIterator(ctx, sh)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				failed(err)
				continue
			}
			iterator = it
		}
		started := time.Now()
		out, err := m.kinesis.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(iterator), Limit: aws.Int32(readLimit)})
		m.readCalls.Add(1)
		m.readNanos.Add(int64(time.Since(started)))
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			var expired *types.ExpiredIteratorException
			if errors.As(err, &expired) {
				iterator = "" // the next round resumes after the last record read
				if expiredInARow++; expiredInARow == 1 {
					continue
				}
				err = fmt.Errorf("%d iterators in a row expired before any read succeeded: %w", expiredInARow, err)
			}
			// Throughput exceeded, a passing fault or one that lasts: Lambda
			// backs off and polls again. Every error is counted and kept, so
			// a shard that fails for good does not look idle.
			failed(err)
			continue
		}
		expiredInARow = 0
		backoff = minReadBackoff
		if len(out.Records) == 0 {
			sh.mu.Lock()
			sh.emptyReadAt = started
			sh.behind = false
			sh.mu.Unlock()
		} else {
			m.dispatch(sh, out.Records)
		}
		if out.NextShardIterator == nil {
			sh.mu.Lock()
			sh.closed = true
			sh.mu.Unlock()
			return
		}
		iterator = aws.ToString(out.NextShardIterator)
		// A full read leaves records behind: read again at once, as Lambda
		// does until it catches up. Any other read got what the shard held,
		// so the next waits out the poll interval. Reading in a tight loop
		// instead would spend kinesalite's CPU, the pipeline's scarcest, on
		// the fixed cost of calls that each return a handful of records.
		if len(out.Records) < readLimit {
			sleep(ctx, m.cfg.PollInterval-time.Since(started))
		}
	}
}

// readLimit is the most records one GetRecords call asks for: Kinesis's
// maximum.
const readLimit = 10000

// resumeIterator replaces an expired iterator: after the last record read,
// or at the starting position when none was read yet.
func (m *Mapping) resumeIterator(ctx context.Context, sh *shard) (string, error) {
	sh.mu.Lock()
	last := sh.lastSequence
	sh.mu.Unlock()
	if last == "" {
		return m.startIterator(ctx, sh.id)
	}
	out, err := m.kinesis.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
		StreamName:             aws.String(m.cfg.StreamName),
		ShardId:                aws.String(sh.id),
		ShardIteratorType:      types.ShardIteratorTypeAfterSequenceNumber,
		StartingSequenceNumber: aws.String(last),
	})
	if err != nil {
		return "", fmt.Errorf("resuming after sequence number %s: %w", last, err)
	}
	return aws.ToString(out.ShardIterator), nil
}

func (m *Mapping) waitForSpace(ctx context.Context, sh *shard) bool {
	for {
		sh.mu.Lock()
		full := sh.buffered >= m.cfg.ShardBuffer
		sh.mu.Unlock()
		if !full {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-sh.space:
		}
	}
}

func (m *Mapping) dispatch(sh *shard, records []types.Record) {
	now := time.Now()
	byLane := make([][]record, len(sh.lanes))
	for _, r := range records {
		key := aws.ToString(r.PartitionKey)
		seq := aws.ToString(r.SequenceNumber)
		arrival := aws.ToTime(r.ApproximateArrivalTimestamp)
		i := LaneOf(key, len(sh.lanes))
		byLane[i] = append(byLane[i], record{
			sequenceNumber: seq,
			partitionKey:   key,
			arrival:        arrival,
			element:        sh.source.Element(seq, key, r.Data, arrival),
		})
	}
	sh.mu.Lock()
	sh.buffered += len(records)
	sh.lastSequence = aws.ToString(records[len(records)-1].SequenceNumber)
	sh.lastArrival = aws.ToTime(records[len(records)-1].ApproximateArrivalTimestamp)
	sh.behind = true
	sh.mu.Unlock()
	m.recordsRead.Add(int64(len(records)))
	for i, batch := range byLane {
		if len(batch) == 0 {
			continue
		}
		l := sh.lanes[i]
		l.mu.Lock()
		if len(l.queue) == 0 {
			l.firstAt = now
		}
		l.queue = append(l.queue, batch...)
		l.mu.Unlock()
		signal(l.notify)
	}
}

// LaneOf is the lane of a shard's parallelizationFactor lanes that a
// partition key's records go to: records of one key stay in order in one
// lane, as Lambda keeps them
// (https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html#kinesis-parallelization).
// Lambda does not document its hash; any fixed one gives the same order
// guarantee.
func LaneOf(partitionKey string, lanes int) int {
	if lanes <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(partitionKey))
	return int(h.Sum32() % uint32(lanes))
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// runLane takes batches off one lane, in order, and sees each through to
// success or discard before taking the next.
func (m *Mapping) runLane(ctx context.Context, l *lane) {
	for {
		batch, ok := m.nextBatch(ctx, l)
		if !ok {
			return
		}
		m.process(ctx, l, batch)
		l.mu.Lock()
		l.inFlight = nil
		l.mu.Unlock()
		sh := l.shard
		sh.mu.Lock()
		sh.buffered -= len(batch)
		sh.mu.Unlock()
		signal(sh.space)
	}
}

// nextBatch waits for records and for the batching window, then takes up
// to BatchSize records that fit in one invocation payload.
func (m *Mapping) nextBatch(ctx context.Context, l *lane) ([]record, bool) {
	for {
		l.mu.Lock()
		n := len(l.queue)
		wait := time.Duration(0)
		if n > 0 && n < m.cfg.BatchSize && m.cfg.MaximumBatchingWindow > 0 {
			wait = m.cfg.MaximumBatchingWindow - time.Since(l.firstAt)
		}
		if n > 0 && wait <= 0 {
			batch := takeBatch(&l.queue, m.cfg.BatchSize)
			if len(l.queue) > 0 {
				// What is left starts the next batch, and Lambda gathers
				// each batch for up to the window: records that did not
				// fit wait for more to join them, as in AWS, rather than
				// going alone the moment the lane is free.
				l.firstAt = time.Now()
			}
			l.inFlight = batch
			l.mu.Unlock()
			return batch, true
		}
		l.mu.Unlock()
		var timer *time.Timer
		var expired <-chan time.Time
		if wait > 0 {
			timer = time.NewTimer(wait)
			expired = timer.C
		}
		select {
		case <-ctx.Done():
			return nil, false
		case <-l.notify:
		case <-expired:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

func takeBatch(queue *[]record, batchSize int) []record {
	q := *queue
	n := min(batchSize, len(q))
	size := len(`{"Records":[]}`)
	for i := 0; i < n; i++ {
		size += len(q[i].element) + 1
		if size > lambdaquota.SyncInvocationPayloadBytes && i > 0 {
			n = i
			break
		}
	}
	batch := slices.Clone(q[:n])
	*queue = slices.Delete(q, 0, n)
	return batch
}

// process sees one batch through: invoke, retry, bisect, discard.
func (m *Mapping) process(ctx context.Context, l *lane, batch []record) {
	type part struct {
		records  []record
		attempts int // failed invocations that count against the retry quota
		invokes  int
		last     *lambdaenv.Result // the last invocation's result; nil before the first
	}
	work := []part{{records: batch}}
	throttleWait := m.cfg.RetryBackoff
	for len(work) > 0 && ctx.Err() == nil {
		p := &work[0]
		if expired := m.expired(p.records); expired > 0 {
			m.discard(ctx, l.shard, p.records[:expired], "RecordAgeExceeded", p.invokes, p.last)
			p.records = p.records[expired:]
			if len(p.records) == 0 {
				work = work[1:]
				continue
			}
		}
		m.sample(p.records)
		res, err := m.invoker.Invoke(ctx, encodeEvent(p.records))
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// Throttled, or the environment could not start: Lambda retries
			// with backoff until the records expire; no retry attempt is used.
			if errors.Is(err, lambdaenv.ErrThrottled) {
				m.throttles.Add(1)
			} else {
				m.invokeErrors.Add(1)
			}
			sleep(ctx, throttleWait)
			throttleWait = min(2*throttleWait, 5*time.Second)
			continue
		}
		throttleWait = m.cfg.RetryBackoff
		m.invocations.Add(1)
		p.invokes++
		p.last = &res
		if p.invokes > 1 {
			m.retries.Add(1)
		}

		failedFrom, functionError := m.outcome(res, p.records)
		if failedFrom < 0 {
			m.recordsSucceeded.Add(int64(len(p.records)))
			work = work[1:]
			continue
		}
		if functionError {
			m.functionErrors.Add(1)
			if m.cfg.BisectBatchOnFunctionError && len(p.records) > 1 {
				// Splitting does not use the retry quota.
				m.bisections.Add(1)
				half := len(p.records) / 2
				first := part{records: p.records[:half], attempts: p.attempts, invokes: p.invokes, last: p.last}
				second := part{records: p.records[half:], attempts: p.attempts, invokes: p.invokes, last: p.last}
				work = append([]part{first, second}, work[1:]...)
				continue
			}
		} else {
			m.partialFailures.Add(1)
			m.recordsSucceeded.Add(int64(failedFrom))
			p.records = p.records[failedFrom:]
		}
		p.attempts++
		if m.cfg.MaximumRetryAttempts >= 0 && p.attempts > m.cfg.MaximumRetryAttempts {
			m.discard(ctx, l.shard, p.records, "RetryAttemptsExhausted", p.invokes, p.last)
			work = work[1:]
			continue
		}
		sleep(ctx, min(m.cfg.RetryBackoff<<min(p.attempts-1, 5), 2*time.Second))
	}
}

// outcome reads an invocation's result: failedFrom is -1 when every record
// succeeded, else the index of the first record to retry; functionError
// says the whole batch failed.
func (m *Mapping) outcome(res lambdaenv.Result, batch []record) (failedFrom int, functionError bool) {
	if res.FunctionError != "" {
		return 0, true
	}
	if !m.cfg.ReportBatchItemFailures {
		return -1, false
	}
	seqs := make([]string, len(batch))
	for i, r := range batch {
		seqs[i] = r.sequenceNumber
	}
	return kinesisevent.Checkpoint(res.Payload, seqs)
}

// expired counts the leading records older than the maximum record age.
// Records of a shard arrive in order, so the old ones lead.
func (m *Mapping) expired(records []record) int {
	if m.cfg.MaximumRecordAge < 0 {
		return 0
	}
	cutoff := time.Now().Add(-m.cfg.MaximumRecordAge)
	n := 0
	for n < len(records) && records[n].arrival.Before(cutoff) {
		n++
	}
	return n
}

func (m *Mapping) sample(records []record) {
	last := records[len(records)-1]
	now := time.Now()
	m.samplesMu.Lock()
	m.samples = append(m.samples, Sample{At: now, IteratorAge: now.Sub(last.arrival), Records: len(records)})
	m.samplesMu.Unlock()
}

// Samples returns the iterator-age samples taken since the last call.
func (m *Mapping) Samples() []Sample {
	m.samplesMu.Lock()
	defer m.samplesMu.Unlock()
	out := m.samples
	m.samples = nil
	return out
}

func (m *Mapping) discard(ctx context.Context, sh *shard, records []record, condition string, invokes int, last *lambdaenv.Result) {
	m.recordsDiscarded.Add(int64(len(records)))
	if m.cfg.Destination == nil {
		return
	}
	doc := failure.Document{
		RequestContext: failure.RequestContext{
			RequestID:              uuid.NewString(),
			FunctionARN:            m.cfg.FunctionARN,
			Condition:              condition,
			ApproximateInvokeCount: invokes,
		},
		Version:   "1.0",
		Timestamp: time.Now().UTC().Format(failure.TimeLayout),
		KinesisBatchInfo: failure.KinesisBatchInfo{
			ShardID:                         sh.id,
			StartSequenceNumber:             records[0].sequenceNumber,
			EndSequenceNumber:               records[len(records)-1].sequenceNumber,
			ApproximateArrivalOfFirstRecord: records[0].arrival.UTC().Format(failure.TimeLayout),
			ApproximateArrivalOfLastRecord:  records[len(records)-1].arrival.UTC().Format(failure.TimeLayout),
			BatchSize:                       len(records),
			StreamARN:                       m.cfg.StreamARN,
		},
	}
	if last != nil {
		doc.ResponseContext = &failure.ResponseContext{StatusCode: 200, ExecutedVersion: "$LATEST", FunctionError: last.FunctionError}
	}
	doc.Payload = string(encodeEvent(records))
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = m.cfg.Destination(ctx, doc); err == nil {
			m.destinationSent.Add(1)
			return
		}
		if ctx.Err() != nil {
			// The mapping is stopping: the records stay in the stream, as
			// a disabled mapping leaves them, and the destination did not
			// refuse anything.
			return
		}
		sleep(ctx, time.Duration(attempt+1)*2*m.cfg.RetryBackoff)
	}
	if ctx.Err() != nil {
		return
	}
	m.destinationErrors.Add(1)
	m.samplesMu.Lock()
	m.lastDestinationError = fmt.Errorf("sending the on-failure record of %d records of %s (%s..%s): %w",
		len(records), sh.id, records[0].sequenceNumber, records[len(records)-1].sequenceNumber, err)
	m.samplesMu.Unlock()
}

// Stats are the mapping's counters and each shard's state. They are the
// mapping section of the local run's JSON report, so their keys are
// camelCase like the rest of it, and a duration says its unit.
type Stats struct {
	Invocations     int64 `json:"invocations"`
	FunctionErrors  int64 `json:"functionErrors"`  // invocations that failed as a whole
	PartialFailures int64 `json:"partialFailures"` // invocations that reported batchItemFailures
	// Throttles counts the invocations of this mapping the processor
	// refused. The processor pool counts them too, with any other caller's
	// (a redrive through the Lambda API): the run's views show the pool's.
	Throttles         int64 `json:"throttles"`
	InvokeErrors      int64 `json:"invokeErrors"` // invocations that could not be sent (no environment could start)
	Retries           int64 `json:"retries"`      // invocations that repeated records
	Bisections        int64 `json:"bisections"`
	RecordsRead       int64 `json:"recordsRead"`
	RecordsSucceeded  int64 `json:"recordsSucceeded"`
	RecordsDiscarded  int64 `json:"recordsDiscarded"`  // sent to the on-failure destination
	DestinationSent   int64 `json:"destinationSent"`   // documents sent
	DestinationErrors int64 `json:"destinationErrors"` // documents the destination refused five times
	// LastDestinationError says why the last of them was refused.
	LastDestinationError string        `json:"lastDestinationError"`
	ReadCalls            int64         `json:"readCalls"`  // GetRecords calls
	ReadTime             time.Duration `json:"readTimeNs"` // spent waiting for them, all shards together
	Shards               []ShardStats  `json:"shards"`
}

// ShardStats is one shard's state.
type ShardStats struct {
	ShardID string `json:"shardId"`
	// IteratorAge is how far behind the mapping is on this shard: the age of
	// the oldest record read and not yet finished or, while reads still
	// return records, of the last record read (kinesalite reports no
	// MillisBehindLatest, so unread records are known only by this);
	// 0 when caught up.
	IteratorAge time.Duration `json:"iteratorAgeNs"`
	Pending     int           `json:"pending"` // records read and not yet finished
	EmptyReadAt time.Time     `json:"emptyReadAt"`
	Closed      bool          `json:"closed"`
	// ReadErrors counts failed reads of the shard, and LastError says why
	// the last one failed ("" when none did).
	ReadErrors int64  `json:"readErrors"`
	LastError  string `json:"lastError"`
}

// Stats returns the counters.
func (m *Mapping) Stats() Stats {
	s := Stats{
		Invocations:       m.invocations.Load(),
		FunctionErrors:    m.functionErrors.Load(),
		PartialFailures:   m.partialFailures.Load(),
		Throttles:         m.throttles.Load(),
		InvokeErrors:      m.invokeErrors.Load(),
		Retries:           m.retries.Load(),
		Bisections:        m.bisections.Load(),
		RecordsRead:       m.recordsRead.Load(),
		RecordsSucceeded:  m.recordsSucceeded.Load(),
		RecordsDiscarded:  m.recordsDiscarded.Load(),
		DestinationSent:   m.destinationSent.Load(),
		DestinationErrors: m.destinationErrors.Load(),
		ReadCalls:         m.readCalls.Load(),
		ReadTime:          time.Duration(m.readNanos.Load()),
	}
	m.samplesMu.Lock()
	if m.lastDestinationError != nil {
		s.LastDestinationError = m.lastDestinationError.Error()
	}
	m.samplesMu.Unlock()
	now := time.Now()
	for _, sh := range m.shards {
		st := ShardStats{ShardID: sh.id}
		sh.mu.Lock()
		st.Pending = sh.buffered
		st.EmptyReadAt = sh.emptyReadAt
		st.Closed = sh.closed
		st.ReadErrors = sh.readErrors
		if sh.lastError != nil {
			st.LastError = sh.lastError.Error()
		}
		var oldest time.Time
		if sh.behind {
			oldest = sh.lastArrival
		}
		sh.mu.Unlock()
		for _, l := range sh.lanes {
			l.mu.Lock()
			for _, q := range [][]record{l.inFlight, l.queue} {
				if len(q) > 0 && (oldest.IsZero() || q[0].arrival.Before(oldest)) {
					oldest = q[0].arrival
				}
			}
			l.mu.Unlock()
		}
		if !oldest.IsZero() {
			st.IteratorAge = max(0, now.Sub(oldest))
		}
		s.Shards = append(s.Shards, st)
	}
	sort.Slice(s.Shards, func(i, j int) bool { return s.Shards[i].ShardID < s.Shards[j].ShardID })
	return s
}

// CaughtUp reports whether every shard has been read to its end after
// since (an empty read that started after it) and every record read has
// been finished: once producers stop, the mapping has drained.
func (m *Mapping) CaughtUp(since time.Time) bool {
	select {
	case <-m.ready:
	default:
		return false
	}
	for _, sh := range m.shards {
		sh.mu.Lock()
		done := sh.buffered == 0 && (sh.closed || sh.emptyReadAt.After(since))
		sh.mu.Unlock()
		if !done {
			return false
		}
	}
	return true
}

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
