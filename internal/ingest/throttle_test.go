package ingest

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/streamfn/streamfn/internal/aws/streamwriter"
	"github.com/streamfn/streamfn/internal/aws/streamwriter/streamtest"
)

// ingestTimeout is the default streamfn:ingestTimeoutSeconds.
const ingestTimeout = 10 * time.Second

// throttledHandler is ingest as it runs in Lambda (the stream writer's
// default options) in front of a stream that throttles every entry.
func throttledHandler(budget time.Duration) (*Handler, *streamtest.Stream) {
	stream := &streamtest.Stream{Name: "activity", FailEntry: func(call, sent int, data []byte) string {
		return "ProvisionedThroughputExceededException"
	}}
	h := NewHandler(Config{}, Deps{Writer: streamwriter.New(stream, "activity", streamwriter.Options{ThrottleBudget: budget})})
	return h, stream
}

func throttledRequest(t testing.TB) events.LambdaFunctionURLRequest {
	return functionURLRequest(t, "application/x-ndjson", ndjson(view1, view1))
}

// A stream that keeps throttling is answered 503 with Retry-After once the
// throttle budget is spent, not when the invocation's deadline nears: the
// last PutRecords call starts within the budget, far from the 10 s deadline.
// (How long that takes is BenchmarkTimeTo503UnderThrottling's to report.)
func TestThrottledStreamIs503WithinTheThrottleBudget(t *testing.T) {
	const budget = 200 * time.Millisecond
	h, stream := throttledHandler(budget)
	ctx, cancel := context.WithTimeout(t.Context(), ingestTimeout)
	defer cancel()
	var last time.Time
	counting := &startRecorder{Stream: stream, last: &last}
	h.deps.Writer = streamwriter.New(counting, "activity", streamwriter.Options{ThrottleBudget: budget})
	begin := time.Now()
	resp, _ := h.Handle(ctx, throttledRequest(t))
	if resp.StatusCode != 503 || resp.Headers["Retry-After"] != retryAfterTransient {
		t.Fatalf("%d %v %s, want 503 with Retry-After %s", resp.StatusCode, resp.Headers, resp.Body, retryAfterTransient)
	}
	if len(stream.Calls()) < 2 {
		t.Errorf("%d PutRecords calls, want the throttled write retried within the budget", len(stream.Calls()))
	}
	if started := last.Sub(begin); started > budget {
		t.Errorf("the last PutRecords call started %v into the request, past the %v throttle budget", started, budget)
	}
}

// BenchmarkTimeTo503UnderThrottling reports how long a request against a
// stream that throttles everything waits for its 503, with the defaults of
// streamfn:ingestThrottleRetryMs and streamfn:ingestTimeoutSeconds: the time
// one Lambda environment is held per throttled request.
func BenchmarkTimeTo503UnderThrottling(b *testing.B) {
	h, _ := throttledHandler(streamwriter.DefaultThrottleBudget)
	req := throttledRequest(b)
	var total time.Duration
	for b.Loop() {
		ctx, cancel := context.WithTimeout(b.Context(), ingestTimeout)
		start := time.Now()
		resp, _ := h.Handle(ctx, req)
		total += time.Since(start)
		cancel()
		if resp.StatusCode != 503 {
			b.Fatalf("status %d, want 503", resp.StatusCode)
		}
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-to-503")
}

// startRecorder remembers when the last PutRecords call began.
type startRecorder struct {
	*streamtest.Stream
	last *time.Time
}

func (s *startRecorder) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	*s.last = time.Now()
	return s.Stream.PutRecords(ctx, in, opts...)
}
