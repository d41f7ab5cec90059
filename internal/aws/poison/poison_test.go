package poison

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
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

// TestDocumentReadsWhatAppendJSONWrites holds the hand-written encoder and
// Document, the tools' contract, to each other: every form of body the
// encoder writes reads back as the document its message should give, field
// by field; every key it writes is one of Document's tags, exactly; and
// every field of Document is written by some form. A tag renamed on either
// side (payloadTruncated, payloadSha256, payloadS3's sha256, ...) fails
// here, although encoding/json would silently leave the field empty, and
// the redrive tool decides from PayloadTruncated and PayloadS3 whether a
// payload can be resent.
func TestDocumentReadsWhatAppendJSONWrites(t *testing.T) {
	const at = "2026-11-26T12:00:00.150Z" // arrived, as the body writes it
	// Escapes, and characters SQS refuses unescaped.
	text := "{\"eventId\":\"\u2028\",\"q\":\"\\\"<>&\x01\uFFFE\"}"
	binary := "\xff\xfe\x00\xf3\x89"
	// 400 KiB of UTF-8, and 400 KiB once in base64: both are cut.
	bigText := strings.Repeat("é", 200<<10)
	bigBinary := strings.Repeat("\xff", 300<<10)
	aggregate := "\xf3\x89\x9a\xc2" + strings.Repeat("\x00kpl", 1000)
	kilobyte := strings.Repeat("x", 1000)
	bad := []SubRecord{{0, "user-7", "not a JSON object"}, {4, "user-\"9", "type: required"}}
	var manyBad []SubRecord
	for i := range MaxListedSubRecords + 50 {
		manyBad = append(manyBad, SubRecord{i, "user-" + strconv.Itoa(i), "price: not a number"})
	}
	listed := func(subs []SubRecord) []SubDocument {
		var docs []SubDocument
		for _, s := range subs[:min(len(subs), MaxListedSubRecords)] {
			docs = append(docs, SubDocument(s))
		}
		return docs
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	hash := func(s string) string { sum := sha256.Sum256([]byte(s)); return hex.EncodeToString(sum[:]) }
	zero, three := 0, 3
	plain := func(seq, payload string) Message {
		return Message{Reason: "userId: required", ShardID: "shardId-000000000001", SequenceNumber: seq, SubSequenceNumber: -1,
			PartitionKey: "user-1", ApproximateArrivalTimestamp: arrived, Payload: payload}
	}
	header := func(seq string) Document {
		return Document{Reason: "userId: required", ShardID: "shardId-000000000001", SequenceNumber: seq, PartitionKey: "user-1", ApproximateArrivalTimestamp: at}
	}
	with := func(m Message, change func(*Message)) Message { change(&m); return m }
	doc := func(d Document, change func(*Document)) Document { change(&d); return d }
	inMessage := func(m *Message) []byte { return m.AppendJSON(nil, MaxBodyBytes) }
	claimChecked := func(m *Message) []byte { return m.AppendClaimCheckJSON(nil, "failures-1a2b3c4") }

	// Each field of Document and of the types inside it, and whether some
	// form below wrote it.
	written := map[string]bool{}
	for _, typ := range []reflect.Type{reflect.TypeFor[Document](), reflect.TypeFor[PayloadPointer](), reflect.TypeFor[SubDocument]()} {
		for _, f := range reflect.VisibleFields(typ) {
			written[typ.Name()+"."+f.Name] = false
		}
	}
	cases := []struct {
		name   string
		m      Message
		encode func(*Message) []byte
		want   Document
		cut    bool // the payload is cut: want.Payload is a prefix of the message's
	}{
		{"utf8 payload", plain("1", text), inMessage,
			doc(header("1"), func(d *Document) { d.Payload, d.PayloadEncoding = text, "utf8" }), false},
		{"base64 payload", plain("2", binary), inMessage,
			doc(header("2"), func(d *Document) { d.Payload, d.PayloadEncoding = b64(binary), "base64" }), false},
		{"empty payload", plain("3", ""), inMessage,
			doc(header("3"), func(d *Document) { d.PayloadEncoding = "utf8" }), false},
		{"KPL sub-record", with(plain("4", text), func(m *Message) { m.SubSequenceNumber, m.PartitionKey = 3, "sub-key" }), inMessage,
			doc(header("4"), func(d *Document) {
				d.SubSequenceNumber, d.PartitionKey, d.Payload, d.PayloadEncoding = &three, "sub-key", text, "utf8"
			}), false},
		{"KPL sub-record 0", with(plain("5", binary), func(m *Message) { m.SubSequenceNumber = 0 }), inMessage,
			doc(header("5"), func(d *Document) { d.SubSequenceNumber, d.Payload, d.PayloadEncoding = &zero, b64(binary), "base64" }), false},
		{"KPL aggregate with bad sub-records", with(plain("6", aggregate), func(m *Message) { m.SubRecords, m.BadSubRecords = 5, bad }), inMessage,
			doc(header("6"), func(d *Document) {
				d.SubRecordCount, d.BadSubRecordCount, d.BadSubRecords = 5, 2, listed(bad)
				d.Payload, d.PayloadEncoding = b64(aggregate), "base64"
			}), false},
		{"KPL aggregate with more bad sub-records than are listed", with(plain("7", aggregate), func(m *Message) { m.SubRecords, m.BadSubRecords = 1000, manyBad }), inMessage,
			doc(header("7"), func(d *Document) {
				d.SubRecordCount, d.BadSubRecordCount, d.BadSubRecords = 1000, len(manyBad), listed(manyBad)
				d.Payload, d.PayloadEncoding = b64(aggregate), "base64"
			}), false},
		{"utf8 payload cut", plain("8", bigText), inMessage,
			doc(header("8"), func(d *Document) {
				d.PayloadEncoding, d.PayloadTruncated, d.PayloadBytes, d.PayloadSHA256 = "utf8", true, len(bigText), hash(bigText)
			}), true},
		{"base64 payload cut", with(plain("9", bigBinary), func(m *Message) { m.SubSequenceNumber = 3 }), inMessage,
			doc(header("9"), func(d *Document) {
				d.SubSequenceNumber = &three
				d.PayloadEncoding, d.PayloadTruncated, d.PayloadBytes, d.PayloadSHA256 = "base64", true, len(bigBinary), hash(bigBinary)
			}), true},
		// A body with room for no byte of the payload: the last resort of AppendJSON.
		{"payload cut to nothing", plain("10", kilobyte), func(m *Message) []byte { return m.AppendJSON(nil, len(m.appendJSON(nil, "", true))) },
			doc(header("10"), func(d *Document) {
				d.PayloadEncoding, d.PayloadTruncated, d.PayloadBytes, d.PayloadSHA256 = "utf8", true, len(kilobyte), hash(kilobyte)
			}), true},
		{"claim-checked payload", plain("11", bigText), claimChecked,
			doc(header("11"), func(d *Document) {
				d.PayloadS3 = &PayloadPointer{Bucket: "failures-1a2b3c4", Key: "poison/shardId-000000000001/11", Bytes: len(bigText), SHA256: hash(bigText)}
			}), false},
		{"claim-checked KPL sub-record", with(plain("12", bigBinary), func(m *Message) { m.SubSequenceNumber = 3 }), claimChecked,
			doc(header("12"), func(d *Document) {
				d.SubSequenceNumber = &three
				d.PayloadS3 = &PayloadPointer{Bucket: "failures-1a2b3c4", Key: "poison/shardId-000000000001/12-3", Bytes: len(bigBinary), SHA256: hash(bigBinary)}
			}), false},
		{"claim-checked KPL aggregate", with(plain("13", aggregate), func(m *Message) { m.SubRecords, m.BadSubRecords = 5, bad }), claimChecked,
			doc(header("13"), func(d *Document) {
				d.SubRecordCount, d.BadSubRecordCount, d.BadSubRecords = 5, 2, listed(bad)
				d.PayloadS3 = &PayloadPointer{Bucket: "failures-1a2b3c4", Key: "poison/shardId-000000000001/13", Bytes: len(aggregate), SHA256: hash(aggregate)}
			}), false},
	}
	ran := 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ran++
			body := c.encode(&c.m)
			checkKeys(t, body)
			var got Document // read as the tools read it
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("the body does not read as a Document: %v", err)
			}
			decoded, err := got.DecodedPayload()
			switch {
			case err != nil:
				t.Errorf("DecodedPayload: %v", err)
			case c.want.PayloadS3 != nil:
				if got.Payload != "" {
					t.Errorf("a claim-checked body carries payload %q too", got.Payload)
				}
			case c.cut:
				if !strings.HasPrefix(c.m.Payload, string(decoded)) || len(decoded) >= len(c.m.Payload) || got.PayloadEncoding == "utf8" && !utf8.Valid(decoded) {
					t.Errorf("kept %d bytes; want a shorter prefix of the %d-byte payload, whole characters", len(decoded), len(c.m.Payload))
				}
				c.want.Payload = got.Payload // where the cut falls is the encoder's to choose
			case string(decoded) != c.m.Payload:
				t.Errorf("DecodedPayload %q, want %q", decoded, c.m.Payload)
			}
			for _, d := range fieldDifferences(reflect.ValueOf(got), reflect.ValueOf(c.want)) {
				t.Error(d)
			}
			markWritten(written, got)
		})
	}
	if ran < len(cases) {
		return // -run chose some forms: the others may write the rest
	}
	for _, field := range slices.Sorted(maps.Keys(written)) {
		if !written[field] {
			t.Errorf("no form here writes %s: the encoder and Document disagree, or a form is missing", field)
		}
	}
}

// markWritten sets written[Type.Field] for each field of doc, and of the
// types inside it, that holds a value.
func markWritten(written map[string]bool, doc Document) {
	mark := func(v reflect.Value) {
		for _, f := range reflect.VisibleFields(v.Type()) {
			if !v.FieldByIndex(f.Index).IsZero() {
				written[v.Type().Name()+"."+f.Name] = true
			}
		}
	}
	mark(reflect.ValueOf(doc))
	if doc.PayloadS3 != nil {
		mark(reflect.ValueOf(*doc.PayloadS3))
	}
	for _, s := range doc.BadSubRecords {
		mark(reflect.ValueOf(s))
	}
}

// fieldDifferences names each field, by its JSON key, in which got and
// want differ.
func fieldDifferences(got, want reflect.Value) []string {
	var diffs []string
	for _, f := range reflect.VisibleFields(got.Type()) {
		g, w := got.FieldByIndex(f.Index), want.FieldByIndex(f.Index)
		if reflect.DeepEqual(g.Interface(), w.Interface()) {
			continue
		}
		key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		show := func(v reflect.Value) string {
			if v.Kind() == reflect.Pointer && !v.IsNil() {
				v = v.Elem()
			}
			s := fmt.Sprintf("%+v", v.Interface())
			if len(s) > 120 {
				s = s[:120] + "..."
			}
			return s
		}
		diffs = append(diffs, fmt.Sprintf("%s (Document.%s): got %s, want %s", key, f.Name, show(g), show(w)))
	}
	return diffs
}

// checkKeys fails for every key of body, at any depth, that is not exactly
// (case and all) a JSON tag of the Document type that reads it: encoding/json
// matches keys case-insensitively and drops unknown ones without a word.
func checkKeys(t *testing.T, body []byte) {
	t.Helper()
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, body)
	}
	unknown := map[string]bool{}
	var check func(path string, obj map[string]any, typ reflect.Type)
	check = func(path string, obj map[string]any, typ reflect.Type) {
		tags := map[string]reflect.Type{}
		for _, f := range reflect.VisibleFields(typ) {
			key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			tags[key] = f.Type
		}
		for key, value := range obj {
			ft, ok := tags[key]
			if !ok {
				if name := fmt.Sprintf("%s%q", path, key); !unknown[name] {
					unknown[name] = true
					t.Errorf("the body writes %s, which is no json tag of %s", name, typ.Name())
				}
				continue
			}
			for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			switch v := value.(type) {
			case map[string]any:
				check(path+key+".", v, ft)
			case []any:
				for _, e := range v {
					if o, ok := e.(map[string]any); ok {
						check(path+key+"[].", o, ft)
					}
				}
			}
		}
	}
	check("", raw, reflect.TypeFor[Document]())
}
