package esm

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamfn/streamfn/internal/aws/failure"
	"github.com/streamfn/streamfn/internal/dev/local/lambdaenv"
)

// brokenKinesis has one shard whose iterator always expires and can never
// be had again: a stream that failed for good.
type brokenKinesis struct {
	reads, iterators atomic.Int64
}

func (k *brokenKinesis) DescribeStream(context.Context, *kinesis.DescribeStreamInput, ...func(*kinesis.Options)) (*kinesis.DescribeStreamOutput, error) {
	return &kinesis.DescribeStreamOutput{StreamDescription: &types.StreamDescription{
		Shards: []types.Shard{{ShardId: aws.String("shardId-000000000000")}},
	}}, nil
}

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

// A read that keeps failing backs off and is counted, with its error and
// shard, instead of spinning (it made about 226,000 calls in 200 ms) and
// looking idle.
func TestPollerBacksOffAndCountsReadErrors(t *testing.T) {
	k := &brokenKinesis{}
	m, err := New(Config{StreamName: "s", BatchSize: 10, ParallelizationFactor: 1, StartingPosition: "TRIM_HORIZON",
		MaximumRetryAttempts: 1, MaximumRecordAge: time.Hour}, k, noFunction{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 700*time.Millisecond)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		t.Fatal(err)
	}
	// 100, 200 and 400 ms of backoff fit in 700 ms: a handful of reads.
	if reads := k.reads.Load(); reads > 10 {
		t.Errorf("%d GetRecords calls in 700 ms: the poller does not back off", reads)
	}
	st := m.Stats().Shards[0]
	if st.ReadErrors < 2 || !strings.Contains(st.LastError, "shardId-000000000000") || !strings.Contains(st.LastError, "stream gone") {
		t.Errorf("shard stats %+v: want the read errors counted, and the last one naming the shard and the cause", st)
	}
}

// A destination that refuses a record is counted with its error, not dropped.
func TestDestinationErrorIsKept(t *testing.T) {
	calls := 0
	m := &Mapping{cfg: Config{StreamName: "s", Destination: func(context.Context, failure.Document) error {
		calls++
		return errors.New("AccessDenied: s3:PutObject")
	}}}
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // no waiting between the tries
	m.discard(ctx, &shard{id: "shardId-000000000001"}, []record{{sequenceNumber: "7"}, {sequenceNumber: "9"}}, failure.RetryAttemptsExhausted, 1, nil)
	st := m.Stats()
	if calls != 5 || st.DestinationErrors != 1 || !strings.Contains(st.LastDestinationError, "AccessDenied") ||
		!strings.Contains(st.LastDestinationError, "shardId-000000000001 (7..9)") {
		t.Errorf("%d calls, stats %+v", calls, st)
	}
}
