package esm

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamfn/streamfn/internal/aws/failure"
	"github.com/streamfn/streamfn/internal/dev/local/lambdaenv"
)

// oneShard is a stream of one shard, shardId-000000000000, that counts the
// calls made to it; the fakes below embed it.
type oneShard struct {
	reads, iterators atomic.Int64
}

func (*oneShard) DescribeStream(context.Context, *kinesis.DescribeStreamInput, ...func(*kinesis.Options)) (*kinesis.DescribeStreamOutput, error) {
	return &kinesis.DescribeStreamOutput{StreamDescription: &types.StreamDescription{
		Shards: []types.Shard{{ShardId: aws.String("shardId-000000000000")}},
	}}, nil
}

// brokenKinesis has one shard whose iterator always expires and can never
// be had again: a stream that failed for good.
type brokenKinesis struct{ oneShard }

func (k *brokenKinesis) GetShardIterator(context.Context, *kinesis.GetShardIteratorInput, ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	if k.iterators.Add(1) == 1 {
		return &kinesis.GetShardIteratorOutput{ShardIterator: aws.String("it-1")}, nil // the starting one
	}
	return nil, errors.New("ResourceNotFoundException: stream gone")
}

func (k *brokenKinesis) GetRecords(context.Context, *kinesis.GetRecordsInput, ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	k.reads.Add(1)
	return nil, &types.ExpiredIteratorException{Message: aws.String("expired")}
}

type noFunction struct{}

func (noFunction) Invoke(context.Context, []byte) (lambdaenv.Result, error) {
	return lambdaenv.Result{}, nil
}

// runFor runs a mapping of one lane on stream for d.
func runFor(t *testing.T, stream Kinesis, d time.Duration) *Mapping {
	t.Helper()
	m, err := New(Config{StreamName: "s", BatchSize: 10, ParallelizationFactor: 1, StartingPosition: "TRIM_HORIZON",
		MaximumRetryAttempts: 1, MaximumRecordAge: time.Hour}, stream, noFunction{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		t.Fatal(err)
	}
	return m
}

// A read that keeps failing backs off and is counted, with its error and
// shard, instead of spinning (it made about 226,000 calls in 200 ms) and
// looking idle.
func TestPollerBacksOffAndCountsReadErrors(t *testing.T) {
	k := &brokenKinesis{}
	m := runFor(t, k, 700*time.Millisecond)
	// 100, 200 and 400 ms of backoff fit in 700 ms: a handful of reads.
	if reads := k.reads.Load(); reads > 10 {
		t.Errorf("%d GetRecords calls in 700 ms: the poller does not back off", reads)
	}
	st := m.Stats().Shards[0]
	if st.ReadErrors < 2 || !strings.Contains(st.LastError, "shardId-000000000000") || !strings.Contains(st.LastError, "stream gone") {
		t.Errorf("shard stats %+v: want the read errors counted, and the last one naming the shard and the cause", st)
	}
}

// expiringKinesis hands out iterators readily, but each has expired by the
// time it is used: GetShardIterator always succeeds, GetRecords always
// fails.
type expiringKinesis struct{ oneShard }

func (k *expiringKinesis) GetShardIterator(context.Context, *kinesis.GetShardIteratorInput, ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	k.iterators.Add(1)
	return &kinesis.GetShardIteratorOutput{ShardIterator: aws.String("it")}, nil
}

func (k *expiringKinesis) GetRecords(context.Context, *kinesis.GetRecordsInput, ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	k.reads.Add(1)
	return nil, &types.ExpiredIteratorException{Message: aws.String("Iterator expired")}
}

// Iterators that keep expiring even though new ones are had are a failure
// like any other: the poller backs off and counts them, instead of
// replacing each at once (it made about 316,000 GetRecords and
// GetShardIterator calls in 200 ms, with no read error counted).
func TestPollerBacksOffOnIteratorsThatKeepExpiring(t *testing.T) {
	k := &expiringKinesis{}
	m := runFor(t, k, 700*time.Millisecond)
	// The first expiry is replaced at once, then 100, 200 and 400 ms of
	// backoff fit in 700 ms: a handful of calls.
	if reads, iterators := k.reads.Load(), k.iterators.Load(); reads > 10 || iterators > 10 {
		t.Errorf("%d GetRecords and %d GetShardIterator calls in 700 ms: the poller does not back off", reads, iterators)
	}
	st := m.Stats().Shards[0]
	if st.ReadErrors < 2 || !strings.Contains(st.LastError, "shardId-000000000000") || !strings.Contains(st.LastError, "Iterator expired") {
		t.Errorf("shard stats %+v: want the expiries after the first counted, and the last one naming the shard and the cause", st)
	}
}

// routineExpiryKinesis has one shard whose first iterator reads a record,
// whose next expires once (as an iterator unused for five minutes does),
// and whose replacement reads on.
type routineExpiryKinesis struct {
	oneShard
	mu          sync.Mutex
	expiredAt   time.Time // when GetRecords refused "it-2"
	resumedFrom string    // the sequence number the replacement starts after
	nextReadAt  time.Time // the first read after the expiry
}

func (k *routineExpiryKinesis) GetShardIterator(_ context.Context, in *kinesis.GetShardIteratorInput, _ ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if in.ShardIteratorType == types.ShardIteratorTypeAfterSequenceNumber {
		k.resumedFrom = aws.ToString(in.StartingSequenceNumber)
		return &kinesis.GetShardIteratorOutput{ShardIterator: aws.String("it-3")}, nil
	}
	return &kinesis.GetShardIteratorOutput{ShardIterator: aws.String("it-1")}, nil
}

func (k *routineExpiryKinesis) GetRecords(_ context.Context, in *kinesis.GetRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch aws.ToString(in.ShardIterator) {
	case "it-1":
		return &kinesis.GetRecordsOutput{NextShardIterator: aws.String("it-2"), Records: []types.Record{{
			SequenceNumber: aws.String("49001"), PartitionKey: aws.String("u1"), Data: []byte("{}"), ApproximateArrivalTimestamp: aws.Time(time.Now()),
		}}}, nil
	case "it-2":
		k.expiredAt = time.Now()
		return nil, &types.ExpiredIteratorException{Message: aws.String("Iterator expired")}
	default:
		if k.nextReadAt.IsZero() {
			k.nextReadAt = time.Now()
		}
		return &kinesis.GetRecordsOutput{NextShardIterator: aws.String("it-3")}, nil
	}
}

// One expiry between good reads is routine: the iterator is replaced at
// once, after the last record read, and no read error is counted.
func TestPollerReplacesARoutineExpiryAtOnce(t *testing.T) {
	k := &routineExpiryKinesis{}
	m, err := New(Config{StreamName: "s", BatchSize: 10, ParallelizationFactor: 1, StartingPosition: "TRIM_HORIZON",
		MaximumRetryAttempts: 1, MaximumRecordAge: time.Hour, PollInterval: time.Millisecond}, k, noFunction{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		t.Fatal(err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.resumedFrom != "49001" || k.nextReadAt.IsZero() {
		t.Fatalf("resumed after %q, read again: %v; want the iterator replaced after the last record read, 49001", k.resumedFrom, !k.nextReadAt.IsZero())
	}
	if wait := k.nextReadAt.Sub(k.expiredAt); wait >= minReadBackoff {
		t.Errorf("the read after a routine expiry waited %s: want it at once, without backoff", wait)
	}
	if st := m.Stats().Shards[0]; st.ReadErrors != 0 || st.LastError != "" {
		t.Errorf("shard stats %+v: a routine expiry is not a read error", st)
	}
}

// A destination that refuses a record is counted with its error, not dropped.
func TestDestinationErrorIsKept(t *testing.T) {
	calls := 0
	m := &Mapping{cfg: Config{StreamName: "s", RetryBackoff: time.Microsecond, Destination: func(context.Context, failure.Document) error {
		calls++
		return errors.New("AccessDenied: s3:PutObject")
	}}}
	m.discard(t.Context(), &shard{id: "shardId-000000000001"}, []record{{sequenceNumber: "7"}, {sequenceNumber: "9"}}, failure.RetryAttemptsExhausted, 1, nil)
	st := m.Stats()
	if calls != 5 || st.DestinationErrors != 1 || !strings.Contains(st.LastDestinationError, "AccessDenied") ||
		!strings.Contains(st.LastDestinationError, "shardId-000000000001 (7..9)") {
		t.Errorf("%d calls, stats %+v", calls, st)
	}

	// A mapping that is stopping leaves the records in the stream: the
	// destination refused nothing, and the report must not say it did.
	calls = 0
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	m = &Mapping{cfg: Config{StreamName: "s", RetryBackoff: time.Microsecond, Destination: func(ctx context.Context, _ failure.Document) error {
		calls++
		return ctx.Err()
	}}}
	m.discard(ctx, &shard{id: "shardId-000000000001"}, []record{{sequenceNumber: "7"}}, failure.RetryAttemptsExhausted, 1, nil)
	if st := m.Stats(); calls != 1 || st.DestinationErrors != 0 || st.LastDestinationError != "" {
		t.Errorf("stopping: %d calls, stats %+v; want one try and no destination error", calls, st)
	}
}
