package redrive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/uuid"

	"github.com/streamfn/streamfn/internal/aws/failure"
	"github.com/streamfn/streamfn/internal/aws/kinesisevent"
	"github.com/streamfn/streamfn/internal/aws/poison"
	"github.com/streamfn/streamfn/internal/dev/emulators"
	"github.com/streamfn/streamfn/internal/dev/emulators/emutest"
	"github.com/streamfn/streamfn/internal/dev/local/lambdaapi"
	"github.com/streamfn/streamfn/internal/dev/local/lambdaenv"
)

const (
	streamARN = "arn:aws:kinesis:us-east-1:123456789012:stream/redrive-test"
	role      = "arn:aws:iam::123456789012:role/processor"
)

// processor is a stand-in for the processor function behind the local
// Lambda API: it records every event and fails on demand.
type fakeProcessor struct {
	mu     sync.Mutex
	events [][]byte
	fail   bool
	// clientContexts are the ClientContexts the invocations carried.
	clientContexts []string
}

func (p *fakeProcessor) Invoke(ctx context.Context, payload []byte) (lambdaenv.Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clientContexts = append(p.clientContexts, lambdaenv.ClientContextOf(ctx))
	if p.fail {
		return lambdaenv.Result{Payload: []byte(`{"errorMessage":"table unavailable","errorType":"InternalServerError"}`), FunctionError: "Unhandled"}, nil
	}
	p.events = append(p.events, payload)
	// What the processor answers a redrive: one record beyond the horizon.
	return lambdaenv.Result{Payload: []byte(`{"batchItemFailures":[],"redrive":{"applied":0,"recovered":0,"skipped":1,"beyondHorizon":1,"poison":0}}`)}, nil
}

func (p *fakeProcessor) seen() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]byte(nil), p.events...)
}

type fixture struct {
	tool    *Tool
	s3      *s3.Client
	sqs     *sqs.Client
	kinesis *kinesis.Client
	fn      *fakeProcessor
	records []ktypes.Record
}

// newFixture starts kinesalite and fauxqs (SQS and S3), a stream with
// records, a bucket, both queues, and the processor behind the Lambda API.
func newFixture(t *testing.T, useBucket bool) *fixture {
	ctx := t.Context()
	emu := emutest.StartAll(t, emulators.Kinesis, emulators.SQS)
	f := &fixture{kinesis: emu.Kinesis, s3: emu.S3, sqs: emu.SQS, fn: &fakeProcessor{}}
	api := httptest.NewServer(lambdaapi.NewHandler(lambdaapi.Function{
		Name: "processor", ARN: "arn:aws:lambda:us-east-1:123456789012:function:processor", Role: role, Timeout: time.Minute, Invoker: f.fn,
		Environment: map[string]string{"DEDUP_HORIZON_SECONDS": "600"},
	}))
	t.Cleanup(api.Close)
	lcfg := emutest.Config(emu.Servers[emulators.Kinesis])
	lcfg.BaseEndpoint = aws.String(api.URL)

	emutest.CreateStream(t, f.kinesis, "redrive-test", 1)
	var entries []ktypes.PutRecordsRequestEntry
	for i := range 6 {
		entries = append(entries, ktypes.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprintf("user-%d", i%2)), Data: fmt.Appendf(nil, `{"eventId":"e-%d"}`, i)})
	}
	if _, err := f.kinesis.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("redrive-test"), Records: entries}); err != nil {
		t.Fatal(err)
	}
	it, _ := f.kinesis.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("redrive-test"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: ktypes.ShardIteratorTypeTrimHorizon})
	out, err := f.kinesis.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil || len(out.Records) != 6 {
		t.Fatalf("reading the records back: %v, %d", err, len(out.Records))
	}
	f.records = out.Records

	target := Target{Stack: "test", StreamName: "redrive-test", StreamARN: streamARN, Processor: "processor"}
	if _, err := f.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("failures-1a2b3c4")}); err != nil {
		t.Fatal(err)
	}
	target.FailuresQueueURL = emutest.CreateQueue(t, f.sqs, "failures")
	target.PoisonQueueURL = emutest.CreateQueue(t, f.sqs, "poison")
	if useBucket {
		target.Bucket = "failures-1a2b3c4"
		target.FailuresQueueURL = ""
	}
	f.tool = &Tool{Target: target, S3: f.s3, SQS: f.sqs, Kinesis: f.kinesis, Lambda: lambda.NewFromConfig(lcfg)}
	return f
}

var src = kinesisevent.Source{ShardID: "shardId-000000000000", StreamARN: streamARN, Region: "us-east-1", InvokeIdentityARN: role}

// document is the on-failure record of records, as Lambda writes it.
func document(records []ktypes.Record, payload bool) failure.Document {
	first, last := records[0], records[len(records)-1]
	doc := failure.Document{
		RequestContext: failure.RequestContext{RequestID: uuid.NewString(), FunctionARN: "arn:aws:lambda:us-east-1:123456789012:function:processor", Condition: failure.RetryAttemptsExhausted, ApproximateInvokeCount: 3},
		Version:        "1.0", Timestamp: time.Now().UTC().Format(failure.TimeLayout),
		KinesisBatchInfo: failure.KinesisBatchInfo{
			ShardID: src.ShardID, StartSequenceNumber: aws.ToString(first.SequenceNumber), EndSequenceNumber: aws.ToString(last.SequenceNumber),
			ApproximateArrivalOfFirstRecord: aws.ToTime(first.ApproximateArrivalTimestamp).UTC().Format(failure.TimeLayout),
			ApproximateArrivalOfLastRecord:  aws.ToTime(last.ApproximateArrivalTimestamp).UTC().Format(failure.TimeLayout),
			BatchSize:                       len(records), StreamARN: streamARN,
		},
	}
	if payload {
		doc.Payload = string(kinesisevent.Events(src, records, 0)[0])
	}
	return doc
}

func (f *fixture) putObject(t *testing.T, doc failure.Document) string {
	body, _ := json.Marshal(doc)
	key := failure.ObjectKey("3f1e0c2a-0000-4000-8000-000000000001", doc.KinesisBatchInfo.ShardID, time.Now(), uuid.New())
	if _, err := f.s3.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(f.tool.Target.Bucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	return key
}

func (f *fixture) sendMessage(t *testing.T, url string, v any) {
	body, _ := json.Marshal(v)
	if _, err := f.sqs.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(string(body))}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) objects(t *testing.T) int {
	out, err := f.s3.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String(f.tool.Target.Bucket)})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Contents)
}

// From S3 objects: list shows them (bisected halves merged), -dry-run
// changes nothing, replay sends each payload as it is and deletes each
// object only after its replay succeeded.
func TestReplayFromTheBucket(t *testing.T) {
	f := newFixture(t, true)
	ctx := t.Context()
	// Bisection: the batch's two halves are discarded separately.
	f.putObject(t, document(f.records[:3], true))
	f.putObject(t, document(f.records[2:5], true)) // overlaps the first
	f.putObject(t, document(f.records[5:], true))

	list, err := f.tool.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Failures) != 3 || len(list.Ranges) != 2 || list.Ranges[0].FailureRecords != 2 ||
		list.Ranges[0].EndSequenceNumber != aws.ToString(f.records[4].SequenceNumber) || len(list.Lost) != 0 {
		t.Fatalf("list: %d failures, ranges %+v, lost %+v", len(list.Failures), list.Ranges, list.Lost)
	}
	for _, fl := range list.Failures {
		if !fl.InStream || !fl.HasPayload || fl.AgeSeconds < 0 || fl.BeyondHorizon {
			t.Fatalf("failure %+v", fl)
		}
	}

	// Ranges older than the processor's duplicate horizon get a warning.
	if list.DedupHorizonSeconds != 600 || len(list.Warnings) != 0 {
		t.Fatalf("horizon %v, warnings %q", list.DedupHorizonSeconds, list.Warnings)
	}
	f.tool.Now = func() time.Time { return time.Now().Add(11 * time.Minute) }
	late, err := f.tool.List(ctx)
	if err != nil || len(late.Warnings) != 2 || !strings.Contains(late.Warnings[0], "dedupHorizonSeconds 600") || !late.Failures[0].BeyondHorizon {
		t.Fatalf("11 minutes later: %v, warnings %q", err, late.Warnings)
	}
	f.tool.Now = nil

	// A bucket that does not exist is a clear error.
	missing := *f.tool
	missing.Target.Bucket = "no-such-bucket"
	if _, err := missing.List(ctx); err == nil || !strings.Contains(err.Error(), "no-such-bucket") || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("a missing bucket: %v", err)
	}

	dry, err := f.tool.Replay(ctx, ReplayOptions{DryRun: true})
	if err != nil || dry.RecordsReplayed != 7 || len(f.fn.seen()) != 0 || f.objects(t) != 3 {
		t.Fatalf("dry run: %v, %+v; invoked %d, %d objects left", err, dry, len(f.fn.seen()), f.objects(t))
	}

	f.fn.fail = true
	failed, err := f.tool.Replay(ctx, ReplayOptions{})
	if err != nil || failed.Failed != 3 || f.objects(t) != 3 || !strings.Contains(failed.Results[0].Error, "table unavailable") {
		t.Fatalf("a failing processor: %v, %+v; %d objects left, want all 3", err, failed, f.objects(t))
	}
	f.fn.fail = false

	rep, err := f.tool.Replay(ctx, ReplayOptions{})
	if err != nil || rep.Failed != 0 || rep.RecordsReplayed != 7 || f.objects(t) != 0 {
		t.Fatalf("replay: %v, %+v; %d objects left", err, rep, f.objects(t))
	}
	seen := f.fn.seen()
	if len(seen) != 3 || string(seen[0]) != string(kinesisevent.Events(src, f.records[:3], 0)[0]) {
		t.Fatalf("the processor got %d events; the first:\n%s", len(seen), seen[0])
	}
	// Every invocation is marked as the redrive tool's, and what the
	// processor could not vouch for is reported.
	f.fn.mu.Lock()
	contexts := slices.Clone(f.fn.clientContexts)
	f.fn.mu.Unlock()
	for _, cc := range contexts[len(contexts)-3:] {
		if cc != redriveClientContext {
			t.Fatalf("client context %q, want the redrive marker %q", cc, redriveClientContext)
		}
	}
	if rep.BeyondHorizon != 3 || len(rep.Warnings) == 0 || !strings.Contains(rep.Warnings[len(rep.Warnings)-1], "skipped 3 replayed records") {
		t.Fatalf("report %+v: want the processor's 3 records beyond the horizon reported", rep)
	}
}

// From queue metadata: the range is read again from the stream and
// rebuilt as the exact event the mapping sends; a range below the trim
// horizon is reported lost, with its range, and its message stays.
func TestReplayFromTheQueueAndALostRange(t *testing.T) {
	f := newFixture(t, false)
	ctx := t.Context()
	f.sendMessage(t, f.tool.Target.FailuresQueueURL, document(f.records[1:4], false))
	gone := document(f.records[:1], false)
	oldest, _ := new(big.Int).SetString(aws.ToString(f.records[0].SequenceNumber), 10)
	gone.KinesisBatchInfo.StartSequenceNumber = new(big.Int).Sub(oldest, big.NewInt(2000)).String()
	gone.KinesisBatchInfo.EndSequenceNumber = new(big.Int).Sub(oldest, big.NewInt(1000)).String()
	f.sendMessage(t, f.tool.Target.FailuresQueueURL, gone)

	list, err := f.tool.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Failures) != 2 || len(list.Lost) != 1 || list.Lost[0].StartSequenceNumber != gone.KinesisBatchInfo.StartSequenceNumber {
		t.Fatalf("list: failures %+v, lost %+v", list.Failures, list.Lost)
	}

	rep, err := f.tool.Replay(ctx, ReplayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.RecordsReplayed != 3 || len(rep.Lost) != 1 || rep.Lost[0].EndSequenceNumber != gone.KinesisBatchInfo.EndSequenceNumber {
		t.Fatalf("replay: %+v", rep)
	}
	seen := f.fn.seen()
	if len(seen) != 1 || string(seen[0]) != string(kinesisevent.Events(src, f.records[1:4], 0)[0]) {
		t.Fatalf("the processor got %d events, want the rebuilt range:\n%s", len(seen), seen)
	}
	var ev events.KinesisEvent
	if err := json.Unmarshal(seen[0], &ev); err != nil || len(ev.Records) != 3 || ev.Records[0].InvokeIdentityArn != role {
		t.Fatalf("rebuilt event: %v %+v", err, ev)
	}
	// The replayed message is gone; the lost one stays, visible again.
	left, err := f.tool.List(ctx)
	if err != nil || len(left.Failures) != 1 || !left.Failures[0].Lost {
		t.Fatalf("after replay: %v, %+v", err, left.Failures)
	}
}

// Poison: valid payloads go back to the stream keyed by userId, still
// invalid ones and other reasons stay in the queue.
func TestPoisonResendsWhatIsValidNow(t *testing.T) {
	f := newFixture(t, true)
	ctx := t.Context()
	valid := `{"eventId":"e-fixed","userId":"user-9","type":"view","productId":"sku-1","category":"shoes","price":1.5,"ts":"2026-11-26T12:00:00Z"}`
	q := f.tool.Target.PoisonQueueURL
	f.sendMessage(t, q, poison.Document{Reason: "type: unknown", ShardID: src.ShardID, SequenceNumber: "1", Payload: valid, PayloadEncoding: "utf8"})
	f.sendMessage(t, q, poison.Document{Reason: "type: unknown", ShardID: src.ShardID, SequenceNumber: "2", Payload: `{"eventId":"e-2"}`, PayloadEncoding: "utf8"})
	f.sendMessage(t, q, poison.Document{Reason: "not JSON", ShardID: src.ShardID, SequenceNumber: "3", Payload: "bm90IGpzb24=", PayloadEncoding: "base64"})

	// Two payloads the processor claim-checked to the bucket: one intact,
	// one whose object does not match its pointer.
	big := strings.Replace(valid, "e-fixed", "e-big", 1)
	sum := sha256.Sum256([]byte(big))
	for i, key := range []string{"poison/shardId-000000000000/4-1", "poison/shardId-000000000000/5-1"} {
		if _, err := f.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(f.tool.Target.Bucket), Key: aws.String(key), Body: strings.NewReader(big[:len(big)-i])}); err != nil {
			t.Fatal(err)
		}
		f.sendMessage(t, q, poison.Document{Reason: "type: unknown", ShardID: src.ShardID, SequenceNumber: fmt.Sprint(4 + i), PayloadTruncated: true,
			PayloadS3: &poison.PayloadPointer{Bucket: f.tool.Target.Bucket, Key: key, Bytes: len(big), SHA256: hex.EncodeToString(sum[:])}})
	}

	list, err := f.tool.List(ctx)
	if err != nil || list.PoisonMessages != 5 || len(list.Poison) != 2 || list.Poison[0].Reason != "type: unknown" || list.Poison[0].Messages != 4 || list.Poison[0].InBucket != 2 {
		t.Fatalf("list: %v, %+v", err, list.Poison)
	}
	dry, err := f.tool.Poison(ctx, PoisonOptions{Reason: "type", DryRun: true})
	if err != nil || dry.Resent != 2 || dry.StillInvalid != 2 || dry.Skipped != 1 {
		t.Fatalf("dry run: %v, %+v", err, dry)
	}
	rep, err := f.tool.Poison(ctx, PoisonOptions{Reason: "type"})
	if err != nil || rep.Resent != 2 || rep.StillInvalid != 2 || rep.Skipped != 1 {
		t.Fatalf("poison: %v, %+v", err, rep)
	}
	for _, r := range rep.Results {
		if r.SequenceNumber == "5" && (r.Status != StatusStillInvalid || !strings.Contains(r.Error, "SHA-256")) {
			t.Errorf("a claim-checked payload that does not match its pointer: %+v", r)
		}
	}
	it, _ := f.kinesis.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("redrive-test"), ShardId: aws.String(src.ShardID),
		ShardIteratorType: ktypes.ShardIteratorTypeAfterSequenceNumber, StartingSequenceNumber: f.records[5].SequenceNumber})
	out, err := f.kinesis.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil || len(out.Records) != 2 || string(out.Records[0].Data) != valid || string(out.Records[1].Data) != big || aws.ToString(out.Records[0].PartitionKey) != "user-9" {
		t.Fatalf("the stream after poison: %v, %+v", err, out.Records)
	}
	after, err := f.tool.List(ctx)
	if err != nil || after.PoisonMessages != 3 {
		t.Fatalf("left in the poison queue: %v, %d, want 3", err, after.PoisonMessages)
	}
}

func TestMergeRanges(t *testing.T) {
	fl := func(shard, start, end string, n int) Failure {
		return Failure{ShardID: shard, StartSequenceNumber: start, EndSequenceNumber: end, Records: n, InStream: true}
	}
	got := MergeRanges([]Failure{fl("a", "10", "20", 3), fl("a", "15", "30", 4), fl("a", "31", "40", 2), fl("b", "5", "99", 1), fl("b", "100", "100", 1)})
	want := []string{"a 10..30 7 2", "a 31..40 2 1", "b 5..99 1 1", "b 100..100 1 1"}
	if len(got) != len(want) {
		t.Fatalf("%+v", got)
	}
	for i, r := range got {
		if s := fmt.Sprintf("%s %s..%s %d %d", r.ShardID, r.StartSequenceNumber, r.EndSequenceNumber, r.Records, r.FailureRecords); s != want[i] {
			t.Errorf("range %d = %s, want %s", i, s, want[i])
		}
	}
	if !SequenceLess("9", "10") || SequenceLess("10", "9") {
		t.Error("sequence numbers must compare as numbers")
	}
}

func TestRegionOf(t *testing.T) {
	tests := []struct{ arn, want string }{
		{"arn:aws:kinesis:eu-west-1:123456789012:stream/streamfn-dev", "eu-west-1"},
		{"arn:aws-cn:kinesis:cn-north-1:123456789012:stream/a:b", "cn-north-1"}, // ':' in the resource
		{"streamfn-dev", ""},
		{"arn:aws:kinesis:eu-west-1", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := regionOf(tt.arn); got != tt.want {
			t.Errorf("regionOf(%q) = %q, want %q", tt.arn, got, tt.want)
		}
	}
}
