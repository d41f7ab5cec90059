package streamwriter

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/streamfn/streamfn/internal/aws/streamwriter/streamtest"
)

func newFakeStream() *streamtest.Stream { return &streamtest.Stream{Name: "events"} }

func records(n int) []Record {
	rs := make([]Record, n)
	for i := range rs {
		rs[i] = Record{PartitionKey: fmt.Sprintf("user-%d", i%7), Data: fmt.Appendf(nil, `{"n":%d}`, i)}
	}
	return rs
}

// fast keeps retry tests quick: tiny delays, a small margin.
var fast = Options{BaseDelay: time.Millisecond, MaxDelay: 4 * time.Millisecond, Margin: 20 * time.Millisecond, Budget: time.Second}

func deadline(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestChunksRespectKinesisLimits(t *testing.T) {
	small := func(n int) []Record { return records(n) }
	const mib = 1 << 20
	sized := func(sizes ...int) []Record {
		rs := make([]Record, len(sizes))
		for i, s := range sizes {
			rs[i] = Record{PartitionKey: "k", Data: make([]byte, s-1)} // the key's byte counts
		}
		return rs
	}
	keyed := func(key string, n, dataBytes int) []Record {
		rs := make([]Record, n)
		for i := range rs {
			rs[i] = Record{PartitionKey: key, Data: make([]byte, dataBytes)}
		}
		return rs
	}
	tests := []struct {
		name    string
		records []Record
		want    []int // chunk lengths
	}{
		{"empty", nil, nil},
		{"one", small(1), []int{1}},
		{"exactly 500", small(500), []int{500}},
		{"501 records", small(501), []int{500, 1}},
		{"1000 records", small(1000), []int{500, 500}},
		{"1234 records", small(1234), []int{500, 500, 234}},
		{"exactly 5 MiB", sized(mib, mib, mib, mib, mib), []int{5}},
		{"one byte over 5 MiB", sized(mib, mib, mib, mib, mib, 1), []int{5, 1}},
		{"bytes before count", sized(append(slices.Repeat([]int{mib / 2}, 10), 10, 10)...), []int{10, 2}},
		{"keys fill it exactly", keyed("k", 10, mib/2-1), []int{10}},
		{"keys count too", keyed("kk", 10, mib/2-1), []int{9, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			all := make([]int, len(tt.records))
			for i := range all {
				all[i] = i
			}
			chunks := Chunks(tt.records, all)
			var lens, flat []int
			for _, c := range chunks {
				lens = append(lens, len(c))
				flat = append(flat, c...)
				bytes := 0
				for _, i := range c {
					bytes += tt.records[i].Size()
				}
				if len(c) > MaxRecordsPerCall || bytes > MaxBytesPerCall {
					t.Errorf("chunk of %d records, %d bytes: over the limits", len(c), bytes)
				}
			}
			if !slices.Equal(lens, tt.want) {
				t.Errorf("chunk sizes %v, want %v", lens, tt.want)
			}
			if !slices.Equal(flat, all) {
				t.Errorf("chunks do not cover the records in order: %v", flat)
			}
		})
	}
}

func TestChunksOfASubset(t *testing.T) {
	rs := records(10)
	got := Chunks(rs, []int{1, 4, 9})
	if len(got) != 1 || !slices.Equal(got[0], []int{1, 4, 9}) {
		t.Fatalf("Chunks = %v, want [[1 4 9]]", got)
	}
}

func TestWriteAllAtOnce(t *testing.T) {
	stream := newFakeStream()
	rs := records(1200)
	res := New(stream, "events", fast).Write(deadline(t, 5*time.Second), rs)
	if len(res.Unwritten) != 0 || res.Cause != nil {
		t.Fatalf("unwritten %v, cause %v", res.Unwritten, res.Cause)
	}
	if res.Calls != 3 || res.Retries != 0 || res.Throttled != 0 {
		t.Errorf("calls %d retries %d throttled %d, want 3 0 0", res.Calls, res.Retries, res.Throttled)
	}
	assertWrittenOnce(t, stream, rs, nil)
}

// Throttled and failed entries are sent again, alone, until they succeed;
// entries Kinesis took are never sent twice.
func TestWriteRetriesOnlyFailedEntries(t *testing.T) {
	stream := newFakeStream()
	rs := records(700)
	flaky := map[string]int{} // data -> how many times it fails before it is taken
	for i := 0; i < len(rs); i += 9 {
		flaky[string(rs[i].Data)] = 1 + i%3
	}
	codes := []string{"ProvisionedThroughputExceededException", "InternalFailure", "KMSThrottlingException"}
	stream.FailEntry = func(call, sent int, data []byte) string {
		if sent <= flaky[string(data)] {
			return codes[sent%len(codes)]
		}
		return ""
	}
	res := New(stream, "events", fast).Write(deadline(t, 5*time.Second), rs)
	if len(res.Unwritten) != 0 || res.Cause != nil {
		t.Fatalf("unwritten %v, cause %v", res.Unwritten, res.Cause)
	}
	assertWrittenOnce(t, stream, rs, nil)

	wantRetries, wantThrottled := 0, 0
	for _, fails := range flaky {
		wantRetries += fails
		for sent := 1; sent <= fails; sent++ {
			if codes[sent%len(codes)] != "InternalFailure" {
				wantThrottled++
			}
		}
	}
	if res.Retries != wantRetries || res.Throttled != wantThrottled {
		t.Errorf("retries %d throttled %d, want %d %d", res.Retries, res.Throttled, wantRetries, wantThrottled)
	}
	// First round: 500 + 200 entries. Every later call holds only entries
	// that failed before.
	calls := stream.Calls()
	if len(calls[0]) != 500 || len(calls[1]) != 200 {
		t.Fatalf("first calls sent %d and %d entries, want 500 and 200", len(calls[0]), len(calls[1]))
	}
	for _, call := range calls[2:] {
		for _, data := range call {
			if flaky[data] == 0 {
				t.Fatalf("entry %s was sent again though it never failed", data)
			}
		}
	}
	if res.Calls != len(calls) {
		t.Errorf("Calls = %d, stream saw %d", res.Calls, len(calls))
	}
}

// Entries that never succeed are reported, exactly, once the deadline margin
// is reached; the others are written once.
func TestWriteReportsExactlyTheUnwritten(t *testing.T) {
	stream := newFakeStream()
	rs := records(600)
	stuck := map[string]bool{}
	var want []int
	for _, i := range []int{0, 17, 499, 500, 599} {
		stuck[string(rs[i].Data)] = true
		want = append(want, i)
	}
	stream.FailEntry = func(call, sent int, data []byte) string {
		if stuck[string(data)] {
			return "ProvisionedThroughputExceededException"
		}
		return ""
	}
	ctx := deadline(t, 300*time.Millisecond)
	parentDeadline, _ := ctx.Deadline()
	calls := &callDeadlines{Stream: stream}
	res := New(calls, "events", fast).Write(ctx, rs)
	if !slices.Equal(res.Unwritten, want) {
		t.Fatalf("unwritten %v, want %v", res.Unwritten, want)
	}
	if res.Permanent || res.Code != "ProvisionedThroughputExceededException" || !strings.Contains(res.Cause.Error(), "ProvisionedThroughputExceededException") {
		t.Errorf("cause %v (permanent %v): want the throttling error, not permanent", res.Cause, res.Permanent)
	}
	// No call may run past the deadline less the margin: each gets a
	// context that ends there.
	for i, d := range calls.deadlines {
		if d.IsZero() || d.After(parentDeadline.Add(-fast.Margin)) {
			t.Errorf("call %d could run until %v, past the deadline less the %v margin (%v)", i+1, d, fast.Margin, parentDeadline.Add(-fast.Margin))
		}
	}
	if res.Calls < 3 {
		t.Errorf("only %d calls: the stuck entries were not retried", res.Calls)
	}
	assertWrittenOnce(t, stream, rs, want)
}

func TestWriteRetriesWholeCallErrors(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		throttled bool
	}{
		{"throttled call", &types.ProvisionedThroughputExceededException{Message: aws.String("Rate exceeded")}, true},
		{"KMS throttling", &types.KMSThrottlingException{Message: aws.String("slow down")}, true},
		{"internal failure", &smithy.GenericAPIError{Code: "InternalFailure", Message: "oops"}, false},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream := newFakeStream()
			stream.FailCall = func(call int) error {
				if call <= 2 {
					return tt.err
				}
				return nil
			}
			rs := records(10)
			res := New(stream, "events", fast).Write(deadline(t, 5*time.Second), rs)
			if len(res.Unwritten) != 0 || res.Cause != nil {
				t.Fatalf("unwritten %v, cause %v", res.Unwritten, res.Cause)
			}
			if res.Calls != 3 || res.Retries != 20 {
				t.Errorf("calls %d retries %d, want 3 and 20", res.Calls, res.Retries)
			}
			if wantThrottled := map[bool]int{true: 20}[tt.throttled]; res.Throttled != wantThrottled {
				t.Errorf("throttled %d, want %d", res.Throttled, wantThrottled)
			}
			assertWrittenOnce(t, stream, rs, nil)
		})
	}
}

// Errors that retrying will not fix end the write at once.
func TestWriteStopsOnPermanentErrors(t *testing.T) {
	stream := newFakeStream()
	stream.FailCall = func(int) error {
		return &types.ResourceNotFoundException{Message: aws.String("Stream events under account 123456789012 not found.")}
	}
	res := New(stream, "events", fast).Write(deadline(t, 5*time.Second), records(3))
	if !slices.Equal(res.Unwritten, []int{0, 1, 2}) || !res.Permanent || res.Calls != 1 {
		t.Fatalf("unwritten %v permanent %v calls %d: want all three, permanent, one call", res.Unwritten, res.Permanent, res.Calls)
	}
	if res.Code != "ResourceNotFoundException" || !strings.Contains(res.Cause.Error(), "stream events") {
		t.Errorf("cause %q does not name the error and the stream", res.Cause)
	}
}

func TestWriteDoesNotRetryUnknownEntryCodes(t *testing.T) {
	stream := newFakeStream()
	rs := records(4)
	stream.FailEntry = func(call, sent int, data []byte) string {
		if string(data) == string(rs[2].Data) {
			return "KMSAccessDeniedException"
		}
		return ""
	}
	res := New(stream, "events", fast).Write(deadline(t, 5*time.Second), rs)
	if !slices.Equal(res.Unwritten, []int{2}) || !res.Permanent || res.Calls != 1 || res.Code != "KMSAccessDeniedException" {
		t.Fatalf("unwritten %v permanent %v calls %d code %q: want [2], permanent, one call, KMSAccessDeniedException", res.Unwritten, res.Permanent, res.Calls, res.Code)
	}
	assertWrittenOnce(t, stream, rs, []int{2})
}

// A response without one result per entry proves nothing, so the whole
// call's entries count as failed and are sent again.
func TestWriteDistrustsShortAnswers(t *testing.T) {
	stream := newFakeStream()
	stream.ShortAnswer = func(call int) bool { return call == 1 }
	rs := records(5)
	res := New(stream, "events", fast).Write(deadline(t, 5*time.Second), rs)
	if len(res.Unwritten) != 0 || res.Calls != 2 || res.Retries != 5 {
		t.Fatalf("unwritten %v calls %d retries %d: want none, 2, 5", res.Unwritten, res.Calls, res.Retries)
	}
}

func TestWriteMakesNoCallInsideTheMargin(t *testing.T) {
	stream := newFakeStream()
	res := New(stream, "events", Options{Margin: time.Second}).Write(deadline(t, 500*time.Millisecond), records(3))
	if !slices.Equal(res.Unwritten, []int{0, 1, 2}) || res.Calls != 0 || res.Permanent {
		t.Fatalf("unwritten %v calls %d permanent %v: want all, no call, transient", res.Unwritten, res.Calls, res.Permanent)
	}
	if !strings.Contains(res.Cause.Error(), "deadline") {
		t.Errorf("cause %q does not mention the deadline", res.Cause)
	}
}

func TestWriteRefusesRecordsKinesisWouldReject(t *testing.T) {
	stream := newFakeStream()
	rs := records(4)
	rs[1].PartitionKey = ""
	rs[3].Data = make([]byte, MaxRecordBytes)
	res := New(stream, "events", fast).Write(deadline(t, 5*time.Second), rs)
	if !slices.Equal(res.Unwritten, []int{1, 3}) || !res.Permanent || res.Code != "" {
		t.Fatalf("unwritten %v permanent %v code %q, want [1 3], permanent, no AWS code", res.Unwritten, res.Permanent, res.Code)
	}
	if !strings.Contains(res.Cause.Error(), "record 3") || !strings.Contains(res.Cause.Error(), "at most 1048576") {
		t.Errorf("cause %q should name record 3 and the limit", res.Cause)
	}
	assertWrittenOnce(t, stream, rs, []int{1, 3})
}

func TestBackoffIsFullJitterUnderADoublingCap(t *testing.T) {
	w := New(nil, "events", Options{BaseDelay: 10 * time.Millisecond, MaxDelay: 80 * time.Millisecond})
	tests := []struct {
		attempt int
		ceiling time.Duration
	}{{1, 10 * time.Millisecond}, {2, 20 * time.Millisecond}, {3, 40 * time.Millisecond}, {4, 80 * time.Millisecond}, {5, 80 * time.Millisecond}, {64, 80 * time.Millisecond}}
	for _, tt := range tests {
		var largest time.Duration
		for range 2000 {
			d := w.backoff(tt.attempt)
			if d < 0 || d >= tt.ceiling {
				t.Fatalf("attempt %d: delay %v outside [0, %v)", tt.attempt, d, tt.ceiling)
			}
			largest = max(largest, d)
		}
		// Uniform draws: 2000 of them reach the top quarter of the range.
		if largest < tt.ceiling*3/4 {
			t.Errorf("attempt %d: largest of 2000 delays %v, want near %v", tt.attempt, largest, tt.ceiling)
		}
	}
}

// assertWrittenOnce checks that every record except those at unwritten was
// taken exactly once and those were never taken.
func assertWrittenOnce(t *testing.T, stream *streamtest.Stream, rs []Record, unwritten []int) {
	t.Helper()
	for i, r := range rs {
		got := stream.TimesWritten(r.Data)
		want := 1
		if slices.Contains(unwritten, i) {
			want = 0
		}
		if got != want {
			t.Errorf("record %d (%s) written %d times, want %d", i, r.Data, got, want)
		}
	}
}

// callDeadlines records the deadline of each PutRecords call's context.
type callDeadlines struct {
	*streamtest.Stream
	deadlines []time.Time
}

func (c *callDeadlines) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	d, _ := ctx.Deadline()
	c.deadlines = append(c.deadlines, d)
	return c.Stream.PutRecords(ctx, in, opts...)
}

// callStarts records when each PutRecords call began.
type callStarts struct {
	*streamtest.Stream
	starts []time.Time
}

func (c *callStarts) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	c.starts = append(c.starts, time.Now())
	return c.Stream.PutRecords(ctx, in, opts...)
}

// A stream that keeps throttling is retried for ThrottleBudget, not until
// the deadline: no call starts later than the budget after Write began, and
// the cause says the budget ran out. (The time to the answer is measured by
// ingest's BenchmarkTimeTo503UnderThrottling.)
func TestWriteStopsRetryingThrottlingAfterTheThrottleBudget(t *testing.T) {
	for _, code := range []string{"ProvisionedThroughputExceededException", "KMSThrottlingException"} {
		t.Run(code, func(t *testing.T) {
			stream := &callStarts{Stream: newFakeStream()}
			stream.FailEntry = func(call, sent int, data []byte) string { return code }
			opts := fast
			opts.ThrottleBudget = 50 * time.Millisecond
			res := New(stream, "events", opts).Write(deadline(t, 30*time.Second), records(3))
			if len(res.Unwritten) != 3 {
				t.Fatalf("unwritten %v, want all 3", res.Unwritten)
			}
			if res.Permanent || res.Cause == nil || !strings.Contains(res.Cause.Error(), "throttled after retrying for 50ms") {
				t.Errorf("cause %v (permanent %v), want the throttle budget named", res.Cause, res.Permanent)
			}
			if len(stream.starts) < 2 {
				t.Fatalf("%d calls, want retries within the budget", len(stream.starts))
			}
			// Write decides to start a call within the budget; the fake
			// sees the call a moment later, more so on a busy machine (it
			// flaked in CI at 50.02 ms). A writer that ignored the budget
			// would keep calling until the 30 s deadline, far past the slack.
			const slack = 5 * time.Millisecond
			first, last := stream.starts[0], stream.starts[len(stream.starts)-1]
			if last.Sub(first) > opts.ThrottleBudget+slack {
				t.Errorf("a call started %v after the first call, past the %v throttle budget", last.Sub(first), opts.ThrottleBudget)
			}
		})
	}
}

// Errors other than throttling keep being retried until the deadline margin:
// the throttle budget is about throttling only.
func TestWriteRetriesInternalFailuresPastTheThrottleBudget(t *testing.T) {
	stream := newFakeStream()
	stream.FailEntry = func(call, sent int, data []byte) string {
		if sent <= 3 {
			return "InternalFailure"
		}
		return ""
	}
	opts := fast
	opts.BaseDelay, opts.MaxDelay, opts.ThrottleBudget = 20*time.Millisecond, 20*time.Millisecond, time.Nanosecond
	res := New(stream, "events", opts).Write(deadline(t, 30*time.Second), records(2))
	if len(res.Unwritten) != 0 || res.Throttled != 0 {
		t.Fatalf("unwritten %v throttled %d, want every record written after its InternalFailures", res.Unwritten, res.Throttled)
	}
}
