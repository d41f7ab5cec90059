package esm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamfn/streamfn/internal/aws/failure"
	"github.com/streamfn/streamfn/internal/aws/kinesisevent"
	"github.com/streamfn/streamfn/internal/dev/emulators"
	"github.com/streamfn/streamfn/internal/dev/emulators/emutest"
	"github.com/streamfn/streamfn/internal/dev/local/lambdaenv"
)

// One kinesalite serves every test; each test has its own stream.
var kinesalite *emulators.Server

// noKinesalite says why the tests that need kinesalite skip ("" when it runs).
var noKinesalite string

func TestMain(m *testing.M) {
	s, err := emulators.Start(emulators.Kinesis, emulators.Options{})
	if errors.Is(err, emulators.ErrNodeMissing) {
		// Every test still runs; those that need kinesalite skip one by one,
		// with the reason, as emutest.Start does.
		noKinesalite = err.Error()
		os.Exit(m.Run())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	kinesalite = s
	code := m.Run()
	if s.Exited() {
		fmt.Fprintf(os.Stderr, "kinesalite died during the tests:\n%s\n", s.Stderr())
		code = 1
	}
	s.Stop()
	os.Exit(code)
}

var streamCounter atomic.Int64

// newStream creates a stream with the given shard count and returns a
// client and its name.
func newStream(t *testing.T, shards int) (*kinesis.Client, string) {
	t.Helper()
	if noKinesalite != "" {
		t.Skip(noKinesalite)
	}
	client := kinesis.NewFromConfig(emutest.Config(kinesalite))
	name := fmt.Sprintf("esm-test-%d", streamCounter.Add(1))
	emutest.CreateStream(t, client, name, shards)
	return client, name
}

// put writes records with the given partition keys and data "key#i"; it
// returns the sequence numbers in order.
func put(t *testing.T, client *kinesis.Client, stream string, keys ...string) []string {
	t.Helper()
	entries := make([]types.PutRecordsRequestEntry, len(keys))
	for i, k := range keys {
		entries[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String(k), Data: fmt.Appendf(nil, "%s#%d", k, i)}
	}
	var seqs []string
	for len(entries) > 0 {
		n := min(500, len(entries))
		out, err := client.PutRecords(t.Context(), &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries[:n]})
		if err != nil || aws.ToInt32(out.FailedRecordCount) > 0 {
			t.Fatalf("PutRecords: %v %+v", err, out)
		}
		for _, r := range out.Records {
			seqs = append(seqs, aws.ToString(r.SequenceNumber))
		}
		entries = entries[n:]
	}
	return seqs
}

func baseConfig(stream string) Config {
	return Config{
		StreamName:                 stream,
		StreamARN:                  "arn:aws:kinesis:us-east-1:123456789012:stream/" + stream,
		FunctionARN:                "arn:aws:lambda:us-east-1:123456789012:function:processor",
		InvokeIdentityARN:          "arn:aws:iam::123456789012:role/processor-role",
		Region:                     "us-east-1",
		BatchSize:                  100,
		ParallelizationFactor:      1,
		StartingPosition:           "TRIM_HORIZON",
		MaximumRetryAttempts:       -1,
		MaximumRecordAge:           -1,
		ReportBatchItemFailures:    true,
		BisectBatchOnFunctionError: false,
		PollInterval:               20 * time.Millisecond,
		RetryBackoff:               time.Millisecond,
	}
}

// invocation is what the fake function saw.
type invocation struct {
	at    time.Time
	event events.KinesisEvent
}

func (inv invocation) data() []string {
	out := make([]string, len(inv.event.Records))
	for i, r := range inv.event.Records {
		out[i] = string(r.Kinesis.Data)
	}
	return out
}

// fakeFunction records every invocation and answers with respond.
type fakeFunction struct {
	mu          sync.Mutex
	invocations []invocation
	respond     func(n int, ev events.KinesisEvent) (lambdaenv.Result, error)
	running     atomic.Int32
	maxRunning  atomic.Int32
	delay       time.Duration
}

func (f *fakeFunction) Invoke(ctx context.Context, payload []byte) (lambdaenv.Result, error) {
	var ev events.KinesisEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return lambdaenv.Result{}, fmt.Errorf("the mapping sent an event aws-lambda-go cannot decode: %v", err)
	}
	r := f.running.Add(1)
	for peak := f.maxRunning.Load(); r > peak && !f.maxRunning.CompareAndSwap(peak, r); peak = f.maxRunning.Load() {
	}
	defer f.running.Add(-1)
	time.Sleep(f.delay)
	f.mu.Lock()
	n := len(f.invocations)
	f.invocations = append(f.invocations, invocation{at: time.Now(), event: ev})
	f.mu.Unlock()
	if f.respond == nil {
		return lambdaenv.Result{Payload: []byte(`{"batchItemFailures":[]}`)}, nil
	}
	return f.respond(n, ev)
}

func (f *fakeFunction) seen() []invocation {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]invocation(nil), f.invocations...)
}

// run starts the mapping and stops it when the test ends.
func run(t *testing.T, cfg Config, client *kinesis.Client, fn Invoker) *Mapping {
	t.Helper()
	m, err := New(cfg, client, fn)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-m.Ready():
	case err := <-done:
		t.Fatalf("Run ended before it was ready: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("mapping not ready within 10s")
	}
	return m
}

// eventually waits for cond, failing the test after 10 seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func delivered(f *fakeFunction) int {
	n := 0
	for _, inv := range f.seen() {
		n += len(inv.event.Records)
	}
	return n
}

func keys(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i%5)
	}
	return out
}

func TestBatchSizeAndTheEventLambdaSends(t *testing.T) {
	client, stream := newStream(t, 1)
	seqs := put(t, client, stream, keys("user-", 25)...)
	fn := &fakeFunction{}
	cfg := baseConfig(stream)
	cfg.BatchSize = 10
	m := run(t, cfg, client, fn)
	eventually(t, "25 records", func() bool { return delivered(fn) == 25 })

	var got []string
	for _, inv := range fn.seen() {
		if n := len(inv.event.Records); n > 10 {
			t.Errorf("batch of %d records; batch size is 10", n)
		}
		for _, r := range inv.event.Records {
			got = append(got, r.Kinesis.SequenceNumber)
		}
	}
	if strings.Join(got, ",") != strings.Join(seqs, ",") {
		t.Fatalf("sequence numbers delivered %v, want each once in order %v", got, seqs)
	}
	r := fn.seen()[0].event.Records[0]
	want := events.KinesisEventRecord{
		AwsRegion:         "us-east-1",
		EventID:           "shardId-000000000000:" + seqs[0],
		EventName:         "aws:kinesis:record",
		EventSource:       "aws:kinesis",
		EventSourceArn:    cfg.StreamARN,
		EventVersion:      "1.0",
		InvokeIdentityArn: cfg.InvokeIdentityARN,
	}
	if r.AwsRegion != want.AwsRegion || r.EventID != want.EventID || r.EventName != want.EventName ||
		r.EventSource != want.EventSource || r.EventSourceArn != want.EventSourceArn ||
		r.EventVersion != want.EventVersion || r.InvokeIdentityArn != want.InvokeIdentityArn {
		t.Errorf("record envelope = %+v, want %+v", r, want)
	}
	if r.Kinesis.KinesisSchemaVersion != "1.0" || r.Kinesis.PartitionKey != "user-0" || string(r.Kinesis.Data) != "user-0#0" {
		t.Errorf("kinesis part = %+v", r.Kinesis)
	}
	if age := time.Since(r.Kinesis.ApproximateArrivalTimestamp.Time); age < 0 || age > time.Minute {
		t.Errorf("approximateArrivalTimestamp %v is not the put time", r.Kinesis.ApproximateArrivalTimestamp.Time)
	}
	since := time.Now()
	eventually(t, "caught up", func() bool { return m.CaughtUp(since) })
	if s := m.Stats(); s.RecordsSucceeded != 25 || s.Invocations < 3 || s.Shards[0].IteratorAge != 0 {
		t.Errorf("stats = %+v", s)
	}
}

func TestBatchingWindowGathersRecords(t *testing.T) {
	client, stream := newStream(t, 1)
	fn := &fakeFunction{}
	cfg := baseConfig(stream)
	cfg.MaximumBatchingWindow = 700 * time.Millisecond
	run(t, cfg, client, fn)
	start := time.Now()
	put(t, client, stream, "a", "b")
	time.Sleep(200 * time.Millisecond)
	put(t, client, stream, "c")
	eventually(t, "3 records", func() bool { return delivered(fn) == 3 })
	invs := fn.seen()
	if len(invs) != 1 {
		t.Fatalf("%d invocations, want the window to gather all 3 records into 1", len(invs))
	}
	if waited := invs[0].at.Sub(start); waited < 600*time.Millisecond {
		t.Errorf("invoked after %s; the 700ms window should hold the batch", waited)
	}

	// A full batch does not wait for the window.
	cfg2 := baseConfig(stream + "-full")
	client2, stream2 := newStream(t, 1)
	cfg2.StreamName = stream2
	cfg2.BatchSize = 3
	cfg2.MaximumBatchingWindow = 5 * time.Second
	fn2 := &fakeFunction{}
	run(t, cfg2, client2, fn2)
	start = time.Now()
	put(t, client2, stream2, "a", "b", "c")
	eventually(t, "a full batch", func() bool { return delivered(fn2) == 3 })
	if took := fn2.seen()[0].at.Sub(start); took > 2*time.Second {
		t.Errorf("a full batch waited %s for the 5s window", took)
	}

	// What does not fit in a full batch starts the next one, which gathers
	// for its own window.
	client3, stream3 := newStream(t, 1)
	cfg3 := baseConfig(stream3)
	cfg3.BatchSize = 3
	cfg3.MaximumBatchingWindow = 700 * time.Millisecond
	fn3 := &fakeFunction{}
	run(t, cfg3, client3, fn3)
	put(t, client3, stream3, "a", "b", "c", "d", "e")
	eventually(t, "5 records", func() bool { return delivered(fn3) == 5 })
	invs = fn3.seen()
	if len(invs) != 2 || len(invs[0].event.Records) != 3 {
		t.Fatalf("%d invocations; want a full batch of 3, then the 2 left over", len(invs))
	}
	if gap := invs[1].at.Sub(invs[0].at); gap < 600*time.Millisecond {
		t.Errorf("the records left over went %s after the full batch; want them to wait for the 700ms window", gap)
	}
}

func TestParallelizationFactorKeepsEachKeyInOrder(t *testing.T) {
	client, stream := newStream(t, 2)
	var all []string
	for i := range 300 {
		all = append(all, fmt.Sprintf("key-%d", i%17))
	}
	put(t, client, stream, all...)
	fn := &fakeFunction{delay: 15 * time.Millisecond}
	cfg := baseConfig(stream)
	cfg.BatchSize = 10
	cfg.ParallelizationFactor = 3
	run(t, cfg, client, fn)
	eventually(t, "300 records", func() bool { return delivered(fn) == 300 })

	lastIndex := map[string]int{}
	for _, inv := range fn.seen() {
		for _, r := range inv.event.Records {
			var index int
			key, rest, _ := strings.Cut(string(r.Kinesis.Data), "#")
			fmt.Sscan(rest, &index)
			if prev, ok := lastIndex[key]; ok && index <= prev {
				t.Fatalf("key %s: record %d delivered after %d", key, index, prev)
			}
			lastIndex[key] = index
		}
	}
	if len(lastIndex) != 17 {
		t.Errorf("%d keys delivered, want 17", len(lastIndex))
	}
	if got := fn.maxRunning.Load(); got < 3 || got > 6 {
		t.Errorf("at most %d invocations ran at once; want more than 2 (2 shards x 3) and at most 6", got)
	}
}

func TestReportBatchItemFailuresResumesFromTheLowestFailure(t *testing.T) {
	client, stream := newStream(t, 1)
	seqs := put(t, client, stream, keys("u", 6)...)
	fn := &fakeFunction{respond: func(n int, ev events.KinesisEvent) (lambdaenv.Result, error) {
		if n == 0 {
			// Report records 4 and 2: the checkpoint is record 2.
			body := fmt.Sprintf(`{"batchItemFailures":[{"itemIdentifier":%q},{"itemIdentifier":%q}]}`, seqs[4], seqs[2])
			return lambdaenv.Result{Payload: []byte(body)}, nil
		}
		return lambdaenv.Result{Payload: []byte(`{"batchItemFailures":[]}`)}, nil
	}}
	m := run(t, baseConfig(stream), client, fn)
	eventually(t, "the retry", func() bool { return len(fn.seen()) == 2 })
	retry := fn.seen()[1]
	if got := retry.event.Records[0].Kinesis.SequenceNumber; got != seqs[2] || len(retry.event.Records) != 4 {
		t.Fatalf("retry starts at %s with %d records; want %s and 4 records", got, len(retry.event.Records), seqs[2])
	}
	eventually(t, "stats", func() bool { return m.Stats().RecordsSucceeded == 6 })
	if s := m.Stats(); s.PartialFailures != 1 || s.Retries != 1 {
		t.Errorf("stats = %+v; want 1 partial failure, 1 retry", s)
	}
}

func TestInvalidIdentifierRetriesTheWholeBatch(t *testing.T) {
	client, stream := newStream(t, 1)
	put(t, client, stream, "a", "b", "c")
	fn := &fakeFunction{respond: func(n int, ev events.KinesisEvent) (lambdaenv.Result, error) {
		if n == 0 {
			return lambdaenv.Result{Payload: []byte(`{"batchItemFailures":[{"itemIdentifier":""}]}`)}, nil
		}
		return lambdaenv.Result{}, nil
	}}
	run(t, baseConfig(stream), client, fn)
	eventually(t, "the retry", func() bool { return len(fn.seen()) == 2 })
	if got := fn.seen()[1].data(); len(got) != 3 {
		t.Errorf("retry carried %v; an empty identifier must fail the whole batch", got)
	}
}

// destination collects on-failure documents.
type destination struct {
	mu   sync.Mutex
	docs []failure.Document
}

func (d *destination) send(_ context.Context, doc failure.Document) error {
	// What the destination stores reads back as an on-failure record.
	body, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	if doc, err = failure.Parse(body); err != nil {
		return err
	}
	// The payload is the discarded records as one invocation.
	var ev events.KinesisEvent
	if err := json.Unmarshal([]byte(doc.Payload), &ev); err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	info := doc.KinesisBatchInfo
	if n := len(ev.Records); n != info.BatchSize || ev.Records[0].Kinesis.SequenceNumber != info.StartSequenceNumber ||
		ev.Records[n-1].Kinesis.SequenceNumber != info.EndSequenceNumber {
		return fmt.Errorf("payload of %d records does not match %+v", n, info)
	}
	d.mu.Lock()
	d.docs = append(d.docs, doc)
	d.mu.Unlock()
	return nil
}

func (d *destination) all() []failure.Document {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]failure.Document(nil), d.docs...)
}

func unhandled() (lambdaenv.Result, error) {
	return lambdaenv.Result{Payload: []byte(`{"errorMessage":"boom","errorType":"Error"}`), FunctionError: "Unhandled", ErrorType: "Error"}, nil
}

func TestBisectIsolatesTheBadRecordAndRetriesAreBounded(t *testing.T) {
	client, stream := newStream(t, 1)
	ks := []string{"a", "b", "c", "BAD", "e", "f", "g", "h"}
	seqs := put(t, client, stream, ks...)
	fn := &fakeFunction{respond: func(n int, ev events.KinesisEvent) (lambdaenv.Result, error) {
		for _, r := range ev.Records {
			if r.Kinesis.PartitionKey == "BAD" {
				return unhandled()
			}
		}
		return lambdaenv.Result{}, nil
	}}
	dest := &destination{}
	cfg := baseConfig(stream)
	cfg.BisectBatchOnFunctionError = true
	cfg.MaximumRetryAttempts = 2
	cfg.Destination = dest.send
	m := run(t, cfg, client, fn)
	eventually(t, "the discard", func() bool { return len(dest.all()) == 1 })
	doc := dest.all()[0]
	if doc.KinesisBatchInfo.BatchSize != 1 || doc.KinesisBatchInfo.StartSequenceNumber != seqs[3] || doc.KinesisBatchInfo.EndSequenceNumber != seqs[3] {
		t.Errorf("discarded %+v; want only the BAD record %s", doc.KinesisBatchInfo, seqs[3])
	}
	if doc.RequestContext.Condition != "RetryAttemptsExhausted" || doc.ResponseContext == nil || doc.ResponseContext.FunctionError != "Unhandled" {
		t.Errorf("document = %+v", doc)
	}
	eventually(t, "the others", func() bool { return m.Stats().RecordsSucceeded == 7 })
	// 8 -> 4+4 -> 2+2 (+4 ok) -> 1+1 (+2 ok) -> BAD x3 (1 + 2 retries).
	badInvokes := 0
	for _, inv := range fn.seen() {
		if d := inv.data(); len(d) == 1 && strings.HasPrefix(d[0], "BAD") {
			badInvokes++
		}
	}
	if badInvokes != 3 {
		t.Errorf("the lone bad record was invoked %d times; want 1 + 2 retries", badInvokes)
	}
}

func TestRetriesExhaustedSendsLambdasDocument(t *testing.T) {
	client, stream := newStream(t, 1)
	seqs := put(t, client, stream, "a", "b", "c")
	fn := &fakeFunction{respond: func(int, events.KinesisEvent) (lambdaenv.Result, error) { return unhandled() }}
	dest := &destination{}
	cfg := baseConfig(stream)
	cfg.MaximumRetryAttempts = 2
	cfg.Destination = dest.send
	m := run(t, cfg, client, fn)
	eventually(t, "the discard", func() bool { return len(dest.all()) == 1 })
	doc := dest.all()[0]
	info := doc.KinesisBatchInfo
	if doc.Version != "1.0" || doc.RequestContext.FunctionARN != cfg.FunctionARN || doc.RequestContext.ApproximateInvokeCount != 3 ||
		doc.RequestContext.RequestID == "" || info.ShardID != "shardId-000000000000" || info.StreamARN != cfg.StreamARN ||
		info.StartSequenceNumber != seqs[0] || info.EndSequenceNumber != seqs[2] || info.BatchSize != 3 {
		t.Errorf("document = %+v", doc)
	}
	for _, ts := range []string{doc.Timestamp, info.ApproximateArrivalOfFirstRecord, info.ApproximateArrivalOfLastRecord} {
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || !strings.HasSuffix(ts, "Z") {
			t.Errorf("timestamp %q is not ISO 8601 UTC: %v", ts, err)
		}
	}
	if len(fn.seen()) != 3 {
		t.Errorf("%d invocations; want 1 + 2 retries", len(fn.seen()))
	}
	since := time.Now()
	eventually(t, "drained", func() bool { return m.CaughtUp(since) })
	if s := m.Stats(); s.RecordsDiscarded != 3 || s.DestinationSent != 1 {
		t.Errorf("stats = %+v", s)
	}
}

// Records that expire after failed invocations go with the last one's
// response context, as Lambda's document describes the invocation.
func TestRecordAgeAfterFailuresKeepsTheResponseContext(t *testing.T) {
	client, stream := newStream(t, 1)
	put(t, client, stream, "a", "b")
	fn := &fakeFunction{respond: func(int, events.KinesisEvent) (lambdaenv.Result, error) {
		return lambdaenv.Result{Payload: []byte(`{"errorMessage":"boom","errorType":"Error"}`), FunctionError: "Unhandled", ErrorType: "Error"}, nil
	}}
	dest := &destination{}
	cfg := baseConfig(stream)
	cfg.MaximumRecordAge = 600 * time.Millisecond
	cfg.MaximumRetryAttempts = -1 // only the age ends it
	cfg.Destination = dest.send
	run(t, cfg, client, fn)
	eventually(t, "the discard", func() bool { return len(dest.all()) == 1 })
	doc := dest.all()[0]
	if doc.RequestContext.Condition != "RecordAgeExceeded" || doc.RequestContext.ApproximateInvokeCount < 1 ||
		doc.ResponseContext == nil || doc.ResponseContext.FunctionError != "Unhandled" {
		t.Errorf("document = %+v; want RecordAgeExceeded with the failed invocation's response context", doc)
	}
}

func TestRecordAgeExpiresThrottledRecords(t *testing.T) {
	client, stream := newStream(t, 1)
	put(t, client, stream, "a", "b")
	var calls atomic.Int32
	throttled := invokerFunc(func(context.Context, []byte) (lambdaenv.Result, error) {
		calls.Add(1)
		return lambdaenv.Result{}, lambdaenv.ErrThrottled
	})
	dest := &destination{}
	cfg := baseConfig(stream)
	cfg.MaximumRecordAge = 500 * time.Millisecond
	cfg.MaximumRetryAttempts = 0
	cfg.Destination = dest.send
	m := run(t, cfg, client, throttled)
	eventually(t, "the discard", func() bool { return len(dest.all()) == 1 })
	doc := dest.all()[0]
	if doc.RequestContext.Condition != "RecordAgeExceeded" || doc.ResponseContext != nil || doc.KinesisBatchInfo.BatchSize != 2 || doc.RequestContext.ApproximateInvokeCount != 0 {
		t.Errorf("document = %+v; want RecordAgeExceeded without a response context", doc)
	}
	if calls.Load() < 2 {
		t.Errorf("throttled %d times; throttles must be retried (and not count as retry attempts, which are 0 here)", calls.Load())
	}
	if s := m.Stats(); s.Throttles < 2 || s.Invocations != 0 {
		t.Errorf("stats = %+v", s)
	}
}

type invokerFunc func(context.Context, []byte) (lambdaenv.Result, error)

func (f invokerFunc) Invoke(ctx context.Context, p []byte) (lambdaenv.Result, error) {
	return f(ctx, p)
}

func TestTimeoutsAndCrashesAreRetried(t *testing.T) {
	client, stream := newStream(t, 1)
	put(t, client, stream, "a", "b")
	fn := &fakeFunction{respond: func(n int, ev events.KinesisEvent) (lambdaenv.Result, error) {
		switch n {
		case 0:
			return lambdaenv.Result{Payload: []byte(`{"errorMessage":"Task timed out after 1.00 seconds","errorType":"Sandbox.Timedout"}`), FunctionError: "Unhandled", ErrorType: "Sandbox.Timedout"}, nil
		case 1:
			return lambdaenv.Result{Payload: []byte(`{"errorType":"Runtime.ExitError"}`), FunctionError: "Unhandled", ErrorType: "Runtime.ExitError"}, nil
		}
		return lambdaenv.Result{}, nil
	}}
	cfg := baseConfig(stream)
	cfg.MaximumRetryAttempts = 2
	m := run(t, cfg, client, fn)
	eventually(t, "success", func() bool { return m.Stats().RecordsSucceeded == 2 })
	for i, inv := range fn.seen() {
		if len(inv.event.Records) != 2 {
			t.Errorf("invocation %d carried %d records; a timeout or crash retries the whole batch", i, len(inv.event.Records))
		}
	}
	if s := m.Stats(); s.FunctionErrors != 2 || s.RecordsDiscarded != 0 {
		t.Errorf("stats = %+v", s)
	}
}

func TestStartingPositions(t *testing.T) {
	t.Run("LATEST skips what was there", func(t *testing.T) {
		client, stream := newStream(t, 1)
		put(t, client, stream, "old")
		fn := &fakeFunction{}
		cfg := baseConfig(stream)
		cfg.StartingPosition = "LATEST"
		m := run(t, cfg, client, fn)
		put(t, client, stream, "new")
		eventually(t, "the new record", func() bool { return delivered(fn) >= 1 })
		since := time.Now()
		eventually(t, "caught up", func() bool { return m.CaughtUp(since) })
		if got := fn.seen()[0].data(); len(fn.seen()) != 1 || got[0] != "new#0" {
			t.Errorf("delivered %v; want only the record put after the start", got)
		}
	})
	t.Run("AT_TIMESTAMP starts at the time", func(t *testing.T) {
		client, stream := newStream(t, 1)
		put(t, client, stream, "before")
		time.Sleep(1100 * time.Millisecond) // kinesalite's timestamps have 1s resolution
		at := time.Now()
		time.Sleep(1100 * time.Millisecond)
		put(t, client, stream, "after")
		fn := &fakeFunction{}
		cfg := baseConfig(stream)
		cfg.StartingPosition = "AT_TIMESTAMP"
		cfg.StartingPositionTimestamp = at
		m := run(t, cfg, client, fn)
		since := time.Now()
		eventually(t, "caught up", func() bool { return m.CaughtUp(since) })
		var got []string
		for _, inv := range fn.seen() {
			got = append(got, inv.data()...)
		}
		if len(got) != 1 || got[0] != "after#0" {
			t.Errorf("delivered %v; want only the record after the timestamp", got)
		}
	})
}

func TestConfigErrorsNameTheKnob(t *testing.T) {
	cfg := baseConfig("s")
	cfg.BatchSize = 0
	cfg.ParallelizationFactor = 11
	cfg.StartingPosition = "EARLIEST"
	cfg.TumblingWindow = time.Minute
	_, err := New(cfg, nil, nil)
	if err == nil {
		t.Fatal("New accepted a bad config")
	}
	for _, want := range []string{"batchSize 0", "parallelizationFactor 11", `startingPosition "EARLIEST"`, "tumblingWindowInSeconds"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// Events rebuilds, from the records GetRecords returns, exactly the
// invocation the mapping sent (the on-failure record's payload), byte for
// byte; and it cuts larger sets of records at the size limit.
func TestEventsRebuildsTheInvocationTheMappingSent(t *testing.T) {
	client, stream := newStream(t, 1)
	put(t, client, stream, "a", `b "quoted"`, "c\u00e9")
	fn := &fakeFunction{respond: func(int, events.KinesisEvent) (lambdaenv.Result, error) { return unhandled() }}
	dest := &destination{}
	cfg := baseConfig(stream)
	cfg.MaximumRetryAttempts = 0
	cfg.Destination = dest.send
	run(t, cfg, client, fn)
	eventually(t, "the discard", func() bool { return len(dest.all()) == 1 })
	doc := dest.all()[0]

	ctx := t.Context()
	it, err := client.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: aws.String(doc.KinesisBatchInfo.ShardID),
		ShardIteratorType: types.ShardIteratorTypeAtSequenceNumber, StartingSequenceNumber: aws.String(doc.KinesisBatchInfo.StartSequenceNumber)})
	if err != nil {
		t.Fatal(err)
	}
	out, err := client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil {
		t.Fatal(err)
	}
	src := kinesisevent.Source{ShardID: doc.KinesisBatchInfo.ShardID, StreamARN: cfg.StreamARN, Region: cfg.Region, InvokeIdentityARN: cfg.InvokeIdentityARN}
	got := kinesisevent.Events(src, out.Records, 0)
	if len(got) != 1 || string(got[0]) != doc.Payload {
		t.Fatalf("rebuilt %d events:\n%s\nthe mapping sent:\n%s", len(got), got, doc.Payload)
	}

	// Cut at the limit: every record once, in order, each event within it.
	one := len(kinesisevent.Events(src, out.Records[:1], 0)[0])
	cut := kinesisevent.Events(src, out.Records, one+10)
	var seqs []string
	for _, ev := range cut {
		var k events.KinesisEvent
		if err := json.Unmarshal(ev, &k); err != nil {
			t.Fatal(err)
		}
		if len(ev) > one+10 && len(k.Records) > 1 {
			t.Errorf("an event of %d records, %d bytes, passes the limit %d", len(k.Records), len(ev), one+10)
		}
		for _, r := range k.Records {
			seqs = append(seqs, r.Kinesis.SequenceNumber)
		}
	}
	if len(cut) < 2 || len(seqs) != 3 || seqs[0] != doc.KinesisBatchInfo.StartSequenceNumber || seqs[2] != doc.KinesisBatchInfo.EndSequenceNumber {
		t.Fatalf("cut into %d events holding %v", len(cut), seqs)
	}
}

// Without Node.js the package must not pass having run nothing: the tests
// that need no stand-in run, the others skip each with its reason.
func TestWithoutNodeTestsSkipOneByOne(t *testing.T) {
	if os.Getenv("STREAMFN_ESM_NO_NODE") != "" || testing.Short() {
		t.Skip("the child run, or -short")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	dir := t.TempDir() // a PATH with go and nothing else: no node
	if err := os.Symlink(gobin, filepath.Join(dir, "go")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), gobin, "test", "-count=1", "-v", "-run", "TestConfigErrorsNameTheKnob$|TestBatchSizeAndTheEventLambdaSends$", ".")
	cmd.Env = append(os.Environ(), "PATH="+dir, "STREAMFN_ESM_NO_NODE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go test without node: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestConfigErrorsNameTheKnob") {
		t.Errorf("without node, the tests that need no stand-in did not run:\n%s", out)
	}
	if !strings.Contains(string(out), "--- SKIP: TestBatchSizeAndTheEventLambdaSends") || !strings.Contains(string(out), "node (Node.js") {
		t.Errorf("without node, a kinesalite test did not skip with the reason:\n%s", out)
	}
}
