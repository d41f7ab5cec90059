package poison

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/streamfn/streamfn/internal/dev/emulators"
	"github.com/streamfn/streamfn/internal/dev/emulators/emutest"
)

var arrived = time.Date(2026, 11, 26, 12, 0, 0, 150000000, time.UTC)

func TestMessageFormat(t *testing.T) {
	m := Message{Reason: "userId: required, a non-empty string", ShardID: "shardId-000000000000", SequenceNumber: "4959",
		SubSequenceNumber: -1, PartitionKey: "user-1", ApproximateArrivalTimestamp: arrived, Payload: `{"type":"view"}`}
	want := `{"reason":"userId: required, a non-empty string","shardId":"shardId-000000000000","sequenceNumber":"4959",` +
		`"partitionKey":"user-1","approximateArrivalTimestamp":"2026-11-26T12:00:00.150Z","payload":"{\"type\":\"view\"}","payloadEncoding":"utf8"}`
	if got := string(m.AppendJSON(nil, MaxBodyBytes)); got != want {
		t.Fatalf("body\n got  %s\n want %s", got, want)
	}
	m.SubSequenceNumber = 3
	if got := string(m.AppendJSON(nil, MaxBodyBytes)); !strings.Contains(got, `"sequenceNumber":"4959","subSequenceNumber":3,`) {
		t.Fatalf("a KPL sub-record's message lacks subSequenceNumber: %s", got)
	}
}

func decodeBody(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, body)
	}
	return doc
}

func TestBinaryPayloadIsBase64(t *testing.T) {
	payload := "\xff\xfe\x00binary"
	m := Message{Reason: "not a JSON object", SubSequenceNumber: -1, Payload: payload}
	doc := decodeBody(t, m.AppendJSON(nil, MaxBodyBytes))
	if doc["payloadEncoding"] != "base64" {
		t.Fatalf("payloadEncoding = %v", doc["payloadEncoding"])
	}
	raw, err := base64.StdEncoding.DecodeString(doc["payload"].(string))
	if err != nil || string(raw) != payload {
		t.Fatalf("payload = %q, %v", raw, err)
	}
}

func TestTextPayloadSurvivesExactly(t *testing.T) {
	payload := "ctl\x01\n\"quote\" \\ \uFFFE\uFFFF ünï 🎉"
	m := Message{Reason: "r", SubSequenceNumber: -1, Payload: payload}
	body := m.AppendJSON(nil, MaxBodyBytes)
	if strings.ContainsRune(string(body), 0xFFFE) || strings.ContainsRune(string(body), 0xFFFF) {
		t.Fatal("the body holds characters SQS refuses")
	}
	if doc := decodeBody(t, body); doc["payload"] != payload || doc["payloadEncoding"] != "utf8" {
		t.Fatalf("payload = %q (%v)", doc["payload"], doc["payloadEncoding"])
	}
}

func TestHugePayloadIsTruncated(t *testing.T) {
	for _, payload := range []string{
		strings.Repeat("a", 1<<20),      // Kinesis's largest record
		strings.Repeat("\x01", 100<<10), // escapes grow sixfold
		strings.Repeat("é", 200<<10),    // two bytes each: no split characters
		strings.Repeat("\xff", 300<<10), // base64 grows by a third
	} {
		m := Message{Reason: "event is too big", SubSequenceNumber: -1, Payload: payload}
		body := m.AppendJSON(nil, MaxBodyBytes)
		if len(body) > MaxBodyBytes {
			t.Fatalf("body is %d bytes, over %d", len(body), MaxBodyBytes)
		}
		doc := decodeBody(t, body)
		sum := sha256.Sum256([]byte(payload))
		if doc["payloadTruncated"] != true || doc["payloadBytes"] != float64(len(payload)) || doc["payloadSha256"] != hex.EncodeToString(sum[:]) {
			t.Fatalf("truncation not described: truncated %v, bytes %v, sha256 %v", doc["payloadTruncated"], doc["payloadBytes"], doc["payloadSha256"])
		}
		kept := doc["payload"].(string)
		if doc["payloadEncoding"] == "base64" {
			raw, _ := base64.StdEncoding.DecodeString(kept)
			kept = string(raw)
		}
		if len(kept) < 1000 || !strings.HasPrefix(payload, kept) || doc["payloadEncoding"] == "utf8" && !utf8.ValidString(kept) {
			t.Fatalf("kept %d bytes; want a long prefix of the payload", len(kept))
		}
	}
}

// fakeSQS records batches and fails the entries whose body contains fail.
type fakeSQS struct {
	batches  [][]string
	fail     string
	failOnce bool
	err      error
}

func (f *fakeSQS) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	if f.err != nil {
		return nil, f.err
	}
	var bodies []string
	out := &sqs.SendMessageBatchOutput{}
	size := 0
	for _, e := range in.Entries {
		body := aws.ToString(e.MessageBody)
		size += len(body)
		bodies = append(bodies, body)
		if f.fail != "" && strings.Contains(body, f.fail) {
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), Message: aws.String("try again")})
			if f.failOnce {
				f.fail = ""
			}
			continue
		}
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id})
	}
	if len(in.Entries) > 10 || size > MaxBodyBytes {
		return nil, errors.New("AWS.SimpleQueueService.BatchRequestTooLong")
	}
	f.batches = append(f.batches, bodies)
	return out, nil
}

func messages(n int, payloadBytes int) []Message {
	var msgs []Message
	for i := range n {
		msgs = append(msgs, Message{Reason: "r", SequenceNumber: strconv.Itoa(i), SubSequenceNumber: -1, Payload: strings.Repeat("x", payloadBytes)})
	}
	return msgs
}

func TestQueueBatches(t *testing.T) {
	fake := &fakeSQS{}
	if errs := NewQueue(fake, "url").Send(t.Context(), messages(23, 100)); errs != nil {
		t.Fatalf("errors: %v", errs)
	}
	if got := lens(fake.batches); !slices.Equal(got, []int{10, 10, 3}) {
		t.Fatalf("batches of %v; want 10, 10, 3", got)
	}
	fake = &fakeSQS{}
	if errs := NewQueue(fake, "url").Send(t.Context(), messages(5, 100<<10)); errs != nil {
		t.Fatalf("errors: %v", errs)
	}
	if got := lens(fake.batches); !slices.Equal(got, []int{2, 2, 1}) { // two 100 KiB bodies per 256 KiB request
		t.Fatalf("batches of %v; want 2, 2, 1", got)
	}
}

func lens(batches [][]string) []int {
	var n []int
	for _, b := range batches {
		n = append(n, len(b))
	}
	return n
}

func TestQueueFailures(t *testing.T) {
	fake := &fakeSQS{fail: `"sequenceNumber":"3"`, failOnce: true}
	if errs := NewQueue(fake, "url").Send(t.Context(), messages(5, 10)); errs != nil {
		t.Fatalf("a transient entry failure should be retried: %v", errs)
	}
	fake = &fakeSQS{fail: `"sequenceNumber":"3"`}
	errs := NewQueue(fake, "url").Send(t.Context(), messages(5, 10))
	if len(errs) != 5 || errs[3] == nil || errs[0] != nil || errs[4] != nil {
		t.Fatalf("errors = %v; want only message 3 failed", errs)
	}
	fake = &fakeSQS{err: errors.New("connection refused")}
	errs = NewQueue(fake, "url").Send(t.Context(), messages(2, 10))
	if len(errs) != 2 || errs[0] == nil || errs[1] == nil || !strings.Contains(errs[0].Error(), "connection refused") {
		t.Fatalf("errors = %v; want both failed with the cause", errs)
	}
}

// TestQueueFauxqs sends through the real SQS client to fauxqs and reads
// the messages back.
func TestQueueFauxqs(t *testing.T) {
	ctx := t.Context()
	client := emutest.StartAll(t, emulators.SQS).SQS
	url := emutest.CreateQueue(t, client, "poison")
	msgs := messages(12, 50)
	msgs[4].Payload = "\xff\x00 not text"
	msgs[5].Payload = strings.Repeat("y", 300<<10) // truncated to fit
	if errs := NewQueue(client, url).Send(ctx, msgs); errs != nil {
		t.Fatalf("errors: %v", errs)
	}
	got := map[string]map[string]any{}
	for len(got) < len(msgs) {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			t.Fatalf("only %d of %d messages arrived", len(got), len(msgs))
		}
		for _, m := range out.Messages {
			doc := decodeBody(t, []byte(aws.ToString(m.Body)))
			got[doc["sequenceNumber"].(string)] = doc
		}
	}
	if got["4"]["payloadEncoding"] != "base64" || got["5"]["payloadTruncated"] != true || got["0"]["payload"] != strings.Repeat("x", 50) {
		t.Fatalf("messages: 4 %v, 5 truncated %v, 0 %v", got["4"]["payloadEncoding"], got["5"]["payloadTruncated"], got["0"]["payload"])
	}
}

// A KPL aggregate's message lists its bad sub-records, each with its own
// partition key, and carries the whole record as its payload.
func TestAggregateMessageListsBadSubRecords(t *testing.T) {
	aggregate := "\xf3\x89\x9a\xc2binary aggregate"
	m := Message{Reason: "2 of 5 sub-records are poison", ShardID: "shardId-000000000000", SequenceNumber: "4959", SubSequenceNumber: -1,
		PartitionKey: "user-1", ApproximateArrivalTimestamp: arrived, Payload: aggregate, SubRecords: 5,
		BadSubRecords: []SubRecord{{1, "user-7", "not a JSON object"}, {4, "user-9", "type: required"}}}
	got := string(m.AppendJSON(nil, MaxBodyBytes))
	want := `"partitionKey":"user-1","subRecordCount":5,"badSubRecordCount":2,"badSubRecords":[` +
		`{"subSequenceNumber":1,"partitionKey":"user-7","reason":"not a JSON object"},` +
		`{"subSequenceNumber":4,"partitionKey":"user-9","reason":"type: required"}],"approximateArrivalTimestamp"`
	if !strings.Contains(got, want) {
		t.Fatalf("body\n got  %s\n want it to contain %s", got, want)
	}
	doc := decodeBody(t, []byte(got))
	if raw, _ := base64.StdEncoding.DecodeString(doc["payload"].(string)); string(raw) != aggregate {
		t.Errorf("payload %q, want the whole aggregate", raw)
	}

	m.BadSubRecords = make([]SubRecord, 5000)
	m.SubRecords = 5000
	doc = decodeBody(t, m.AppendJSON(nil, MaxBodyBytes))
	if listed := doc["badSubRecords"].([]any); len(listed) != MaxListedSubRecords || doc["badSubRecordCount"] != 5000.0 {
		t.Errorf("%d listed, count %v; want %d listed and all 5000 counted", len(listed), doc["badSubRecordCount"], MaxListedSubRecords)
	}
}

// No SendMessageBatch call starts once the context has ended: the messages
// not yet sent fail with ErrNotSent, so their records are retried.
func TestQueueStopsAtTheDeadline(t *testing.T) {
	fake := &cancelAfter{after: 2}
	ctx, cancel := context.WithCancel(t.Context())
	fake.cancel = cancel
	errs := NewQueue(fake, "url").Send(ctx, messages(45, 10))
	if fake.calls != 2 {
		t.Fatalf("%d calls, want 2: none after the context ended", fake.calls)
	}
	for i, err := range errs {
		if sent := i < 20; sent != (err == nil) || (!sent && !errors.Is(err, ErrNotSent)) {
			t.Fatalf("message %d: error %v; want the first 20 sent and the rest ErrNotSent", i, err)
		}
	}
}

// cancelAfter is an SQS that takes every message and ends the context
// after its after-th call.
type cancelAfter struct {
	fakeSQS
	calls, after int
	cancel       context.CancelFunc
}

func (c *cancelAfter) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	c.calls++
	if c.calls == c.after {
		c.cancel()
	}
	return c.fakeSQS.SendMessageBatch(ctx, in, opts...)
}

// fakeS3 keeps what PutObject stores, and can refuse.
type fakeS3 struct {
	objects map[string][]byte
	err     error
}

func (f *fakeS3) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	if f.err != nil {
		return nil, f.err
	}
	body, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	if f.objects == nil {
		f.objects = map[string][]byte{}
	}
	f.objects[aws.ToString(in.Bucket)+"/"+aws.ToString(in.Key)] = body
	return &s3.PutObjectOutput{}, nil
}

// A payload too big for a message is stored whole in the bucket, and the
// message points at it: nothing a producer sent is cut.
func TestHugePayloadIsClaimChecked(t *testing.T) {
	sqsFake, s3Fake := &fakeSQS{}, &fakeS3{}
	q := NewQueue(sqsFake, "poison")
	q.Payloads, q.PayloadBucket = s3Fake, "failures-1a2b3c4"
	huge := Message{Reason: "not JSON", ShardID: "shardId-000000000001", SequenceNumber: "4959", SubSequenceNumber: 3,
		PartitionKey: "u", Payload: strings.Repeat("é", 300<<10)} // 600 KiB of text
	small := Message{Reason: "r", ShardID: "shardId-000000000001", SequenceNumber: "4960", SubSequenceNumber: -1, Payload: "{}"}
	if errs := q.Send(t.Context(), []Message{huge, small}); errs != nil {
		t.Fatalf("send: %v", errs)
	}
	stored := s3Fake.objects["failures-1a2b3c4/poison/shardId-000000000001/4959-3"]
	if string(stored) != huge.Payload {
		t.Fatalf("stored %d bytes, want the whole %d-byte payload", len(stored), len(huge.Payload))
	}
	var body struct {
		Reason    string  `json:"reason"`
		Payload   *string `json:"payload"`
		Truncated bool    `json:"payloadTruncated"`
		PayloadS3 struct {
			Bucket, Key, SHA256 string
			Bytes               int
		} `json:"payloadS3"`
	}
	if len(sqsFake.batches) != 1 || len(sqsFake.batches[0]) != 2 {
		t.Fatalf("batches %d", len(sqsFake.batches))
	}
	if err := json.Unmarshal([]byte(sqsFake.batches[0][0]), &body); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(huge.Payload))
	if body.Payload != nil || body.Truncated || body.PayloadS3.Bucket != "failures-1a2b3c4" || body.PayloadS3.Key != "poison/shardId-000000000001/4959-3" ||
		body.PayloadS3.Bytes != len(huge.Payload) || body.PayloadS3.SHA256 != hex.EncodeToString(sum[:]) || body.Reason != "not JSON" {
		t.Fatalf("message %s", sqsFake.batches[0][0])
	}
	if !strings.Contains(sqsFake.batches[0][1], `"payload":"{}"`) {
		t.Fatalf("a small payload stays in its message: %s", sqsFake.batches[0][1])
	}
	// If the bucket refuses, the message fails: the record is redelivered.
	s3Fake.err = errors.New("AccessDenied")
	errs := q.Send(t.Context(), []Message{huge, small})
	if errs == nil || errs[0] == nil || errs[1] != nil || !strings.Contains(errs[0].Error(), "s3://failures-1a2b3c4/poison/shardId-000000000001/4959-3") {
		t.Fatalf("errors %v", errs)
	}
}

// The hand-written encoder and Document agree: every message reads back
// as the document of its fields, whatever its payload.
func TestDocumentReadsWhatAppendJSONWrites(t *testing.T) {
	at := time.Date(2026, 11, 26, 12, 0, 0, 150e6, time.UTC)
	sub := 3
	for _, m := range []Message{
		{Reason: `userId: "x" is < 1`, ShardID: "shardId-000000000000", SequenceNumber: "4959", SubSequenceNumber: -1, PartitionKey: "user-1", ApproximateArrivalTimestamp: at, Payload: `{"eventId":"\u2028"}`},
		{Reason: "not UTF-8", ShardID: "shardId-000000000001", SequenceNumber: "4960", SubSequenceNumber: sub, PartitionKey: "k\x00", ApproximateArrivalTimestamp: at, Payload: "\xff\xfe\x00"},
		{Reason: "empty", ShardID: "s", SequenceNumber: "1", SubSequenceNumber: -1, ApproximateArrivalTimestamp: at},
		{Reason: "2 of 3 sub-records", ShardID: "s", SequenceNumber: "2", SubSequenceNumber: -1, PartitionKey: "agg", ApproximateArrivalTimestamp: at,
			Payload: "\xf3\x89", SubRecords: 3, BadSubRecords: []SubRecord{{0, "a", "x"}, {2, "c\"", "y"}}},
	} {
		var got Document
		body := m.AppendJSON(nil, MaxBodyBytes)
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		want := Document{Reason: m.Reason, ShardID: m.ShardID, SequenceNumber: m.SequenceNumber, PartitionKey: m.PartitionKey,
			ApproximateArrivalTimestamp: "2026-11-26T12:00:00.150Z", PayloadEncoding: "utf8", Payload: m.Payload}
		if m.SubSequenceNumber >= 0 {
			want.SubSequenceNumber = &sub
		}
		if m.SubRecords > 0 {
			want.SubRecordCount, want.BadSubRecordCount = m.SubRecords, len(m.BadSubRecords)
			for _, b := range m.BadSubRecords {
				want.BadSubRecords = append(want.BadSubRecords, SubDocument(b))
			}
		}
		if !utf8.ValidString(m.Payload) {
			want.PayloadEncoding, want.Payload = "base64", base64.StdEncoding.EncodeToString([]byte(m.Payload))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s\n got  %+v\n want %+v", body, got, want)
		}
		if payload, err := got.DecodedPayload(); err != nil || string(payload) != m.Payload {
			t.Errorf("payload %q, %v; want %q", payload, err, m.Payload)
		}
		// The claim-check form points at the payload instead.
		var claim Document
		if err := json.Unmarshal(m.AppendClaimCheckJSON(nil, "b"), &claim); err != nil || claim.PayloadS3 == nil ||
			claim.PayloadS3.Key != m.PayloadKey() || claim.PayloadS3.Bytes != len(m.Payload) || claim.Payload != "" {
			t.Errorf("claim check %+v, %v", claim, err)
		}
	}
}
