// Package poison reports records the processor can never apply — not
// JSON, against the schema, a corrupt KPL aggregate, over the size limit —
// to the poison queue, one SQS message per record, so that they are kept
// for people to inspect instead of blocking the shard or being dropped.
//
// # Message format
//
// The body is one JSON object:
//
//	{"reason":"userId: required, a non-empty string",
//	 "shardId":"shardId-000000000000",
//	 "sequenceNumber":"4959...",
//	 "subSequenceNumber":3,                      // only for a KPL sub-record
//	 "partitionKey":"user-00042",
//	 "approximateArrivalTimestamp":"2026-11-26T12:00:00.150Z",
//	 "payload":"{\"eventId\":...}",
//	 "payloadEncoding":"utf8"}                   // or "base64"
//
// A KPL aggregate whose sub-records are poison is one message, however many
// of them are bad: its payload is the whole Kinesis record (base64), and
//
//	"subRecordCount":250,"badSubRecordCount":3,
//	"badSubRecords":[{"subSequenceNumber":0,"partitionKey":"user-1","reason":"..."},...]
//
// lists the bad ones (at most MaxListedSubRecords), each with its own
// partition key. One message per Kinesis record bounds the queue's traffic
// and the processor's memory by the batch, not by what an aggregate claims.
//
// payload holds the record's (or the KPL sub-record's) bytes: as text when
// they are valid UTF-8, otherwise base64.
//
// A payload too large for one SQS message (256 KiB) is never cut: it is
// stored whole in the failures bucket (the claim-check pattern), and the
// message carries a pointer instead of "payload":
//
//	"payloadS3":{"bucket":"failures-1a2b3c4","key":"poison/shardId-000000000000/4959...-3",
//	             "bytes":1048576,"sha256":"<hex of the payload>"}
//
// Only a Queue without a bucket (PayloadBucket empty) cuts the payload, and
// then marks the message "payloadTruncated":true with "payloadBytes" and
// "payloadSha256".
package poison

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/streamfn/streamfn/internal/activity"
)

// Message is one rejected record.
type Message struct {
	Reason         string
	ShardID        string
	SequenceNumber string
	// SubSequenceNumber is the KPL sub-record index, -1 for a plain record.
	SubSequenceNumber           int
	PartitionKey                string
	ApproximateArrivalTimestamp time.Time
	Payload                     string
	// SubRecords is the number of sub-records of an aggregate whose bad
	// sub-records BadSubRecords lists; 0 for other messages.
	SubRecords    int
	BadSubRecords []SubRecord
}

// SubRecord is one bad sub-record of a KPL aggregate.
type SubRecord struct {
	SubSequenceNumber int
	PartitionKey      string // the sub-record's own, not the aggregate's
	Reason            string
}

// MaxListedSubRecords bounds badSubRecords in one message, so that the
// list never crowds the payload out of SQS's 256 KiB; badSubRecordCount
// still counts them all.
const MaxListedSubRecords = 100

// Document is a message body as JSON reads it: the contract for the tools
// that read the poison queue (the redrive tool, the local run's verify).
// AppendJSON writes it by hand, for speed; a test holds the two equal.
type Document struct {
	Reason            string `json:"reason"`
	ShardID           string `json:"shardId"`
	SequenceNumber    string `json:"sequenceNumber"`
	SubSequenceNumber *int   `json:"subSequenceNumber,omitempty"`
	PartitionKey      string `json:"partitionKey"`
	// The bad sub-records of a KPL aggregate reported whole (at most
	// MaxListedSubRecords listed; badSubRecordCount counts them all).
	SubRecordCount    int           `json:"subRecordCount,omitempty"`
	BadSubRecordCount int           `json:"badSubRecordCount,omitempty"`
	BadSubRecords     []SubDocument `json:"badSubRecords,omitempty"`
	// ApproximateArrivalTimestamp is RFC 3339 UTC with milliseconds.
	ApproximateArrivalTimestamp string          `json:"approximateArrivalTimestamp"`
	Payload                     string          `json:"payload,omitempty"`
	PayloadEncoding             string          `json:"payloadEncoding,omitempty"` // utf8 or base64
	PayloadTruncated            bool            `json:"payloadTruncated,omitempty"`
	PayloadBytes                int             `json:"payloadBytes,omitempty"`
	PayloadSHA256               string          `json:"payloadSha256,omitempty"`
	PayloadS3                   *PayloadPointer `json:"payloadS3,omitempty"`
}

// SubDocument is one entry of a Document's badSubRecords.
type SubDocument struct {
	SubSequenceNumber int    `json:"subSequenceNumber"`
	PartitionKey      string `json:"partitionKey"`
	Reason            string `json:"reason"`
}

// PayloadPointer locates a claim-checked payload.
type PayloadPointer struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	Bytes  int    `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// DecodedPayload is the record's bytes, when the message holds them.
func (d *Document) DecodedPayload() ([]byte, error) {
	switch d.PayloadEncoding {
	case "base64":
		return base64.StdEncoding.DecodeString(d.Payload)
	case "utf8", "":
		return []byte(d.Payload), nil
	}
	return nil, fmt.Errorf("poison message: payloadEncoding %q is neither utf8 nor base64", d.PayloadEncoding)
}

// MaxBodyBytes keeps each message, and each SendMessageBatch call of up to
// ten, within SQS's 256 KiB limit on a request's message bodies.
const MaxBodyBytes = 256 << 10

// AppendJSON appends the message body, cutting the payload so the body
// stays within maxBody bytes.
func (m *Message) AppendJSON(dst []byte, maxBody int) []byte {
	start := len(dst)
	body := m.appendJSON(dst, m.Payload, false)
	if len(body)-start <= maxBody {
		return body
	}
	// Too big: shrink the payload until the body fits. Escapes make the
	// encoded size hard to predict, so measure instead of computing.
	keep := len(m.Payload)
	for keep > 0 {
		keep = keep * 3 / 4
		cut := m.Payload[:keep]
		for len(cut) > 0 && !utf8.ValidString(cut) && utf8.ValidString(m.Payload) {
			cut = cut[:len(cut)-1] // do not split a character of a text payload
		}
		body = m.appendJSON(dst[:start], cut, true)
		if len(body)-start <= maxBody {
			return body
		}
	}
	return m.appendJSON(dst[:start], "", true)
}

// PayloadKey is where a claim-checked payload goes in the bucket: one key
// per record (and KPL sub-record), so a retry overwrites, never adds.
func (m *Message) PayloadKey() string {
	key := "poison/" + m.ShardID + "/" + m.SequenceNumber
	if m.SubSequenceNumber >= 0 {
		key += "-" + strconv.Itoa(m.SubSequenceNumber)
	}
	return key
}

// AppendClaimCheckJSON appends the message body with a pointer to the
// payload stored at bucket/PayloadKey() instead of the payload.
func (m *Message) AppendClaimCheckJSON(dst []byte, bucket string) []byte {
	return m.appendBody(dst, "", false, bucket)
}

func (m *Message) appendJSON(dst []byte, payload string, truncated bool) []byte {
	return m.appendBody(dst, payload, truncated, "")
}

// appendBody writes the message: with the payload (cut when truncated), or,
// with a claimBucket, with a pointer to it.
//
// It is hand-written for speed, and encoding/json of the Document is not a
// drop-in: it leaves U+FFFE and U+FFFF as they are, which SQS refuses in a
// body (activity.AppendString escapes them). BenchmarkEncode (go test
// -run '^$' -bench . -benchmem ./internal/aws/poison; Go 1.26.8, linux/amd64,
// 2-vCPU Intel Xeon, median of 6 runs) against json.Marshal of the message's
// Document, each into a new slice as Send builds bodies:
//
//	message                             appendBody                       reused buffer        encoding/json
//	event against the schema (315 B)     1,908 ns   1,928 B   8 allocs      899 ns  1 alloc     1,659 ns     872 B  3 allocs
//	binary record (900 B, base64)        2,346 ns   2,056 B   7 allocs      988 ns  1 alloc     4,292 ns   4,330 B  5 allocs
//	KPL aggregate (22 KB, 100 listed)   68,538 ns  87,560 B  17 allocs   21,672 ns  1 alloc   119,454 ns 112,431 B  6 allocs
//
// Grown from nil it is about 15 % slower than encoding/json for a plain
// text event and about 1.8 times as fast for base64 payloads and
// aggregates; into a reused buffer, as Send writes every body of a batch
// into one, it is 1.8 to 5.5 times as fast.
func (m *Message) appendBody(dst []byte, payload string, truncated bool, claimBucket string) []byte {
	dst = append(dst, `{"reason":`...)
	dst = activity.AppendString(dst, m.Reason)
	dst = append(dst, `,"shardId":`...)
	dst = activity.AppendString(dst, m.ShardID)
	dst = append(dst, `,"sequenceNumber":`...)
	dst = activity.AppendString(dst, m.SequenceNumber)
	if m.SubSequenceNumber >= 0 {
		dst = append(dst, `,"subSequenceNumber":`...)
		dst = strconv.AppendInt(dst, int64(m.SubSequenceNumber), 10)
	}
	dst = append(dst, `,"partitionKey":`...)
	dst = activity.AppendString(dst, m.PartitionKey)
	if m.SubRecords > 0 {
		dst = append(dst, `,"subRecordCount":`...)
		dst = strconv.AppendInt(dst, int64(m.SubRecords), 10)
		dst = append(dst, `,"badSubRecordCount":`...)
		dst = strconv.AppendInt(dst, int64(len(m.BadSubRecords)), 10)
		dst = append(dst, `,"badSubRecords":[`...)
		for i, s := range m.BadSubRecords[:min(len(m.BadSubRecords), MaxListedSubRecords)] {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"subSequenceNumber":`...)
			dst = strconv.AppendInt(dst, int64(s.SubSequenceNumber), 10)
			dst = append(dst, `,"partitionKey":`...)
			dst = activity.AppendString(dst, s.PartitionKey)
			dst = append(dst, `,"reason":`...)
			dst = activity.AppendString(dst, s.Reason)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"approximateArrivalTimestamp":`...)
	dst = activity.AppendString(dst, m.ApproximateArrivalTimestamp.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	if claimBucket != "" {
		sum := sha256.Sum256([]byte(m.Payload))
		dst = append(dst, `,"payloadS3":{"bucket":`...)
		dst = activity.AppendString(dst, claimBucket)
		dst = append(dst, `,"key":`...)
		dst = activity.AppendString(dst, m.PayloadKey())
		dst = append(dst, `,"bytes":`...)
		dst = strconv.AppendInt(dst, int64(len(m.Payload)), 10)
		dst = append(dst, `,"sha256":"`...)
		dst = hex.AppendEncode(dst, sum[:])
		return append(dst, `"}}`...)
	}
	dst = append(dst, `,"payload":`...)
	// The encoding follows the whole payload, so a cut never changes it.
	if utf8.ValidString(m.Payload) {
		dst = activity.AppendString(dst, payload)
		dst = append(dst, `,"payloadEncoding":"utf8"`...)
	} else {
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, []byte(payload))
		dst = append(dst, `","payloadEncoding":"base64"`...)
	}
	if truncated {
		sum := sha256.Sum256([]byte(m.Payload))
		dst = append(dst, `,"payloadTruncated":true,"payloadBytes":`...)
		dst = strconv.AppendInt(dst, int64(len(m.Payload)), 10)
		dst = append(dst, `,"payloadSha256":"`...)
		dst = hex.AppendEncode(dst, sum[:])
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

// Sender sends poison messages.
type Sender interface {
	// Send sends msgs and returns one error per message, nil for those
	// sent. The slice is nil when every message was sent.
	Send(ctx context.Context, msgs []Message) []error
}

// SQSAPI is the part of the SQS client the queue uses.
type SQSAPI interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// S3API is the part of the S3 client the claim check uses.
type S3API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// Queue sends poison messages to an SQS queue with SendMessageBatch.
type Queue struct {
	client SQSAPI
	url    string
	// Attempts bounds how often an entry SQS failed is sent again.
	Attempts int
	// Payloads and PayloadBucket store the payloads too large for a
	// message (claim check); without them such payloads are cut.
	Payloads      S3API
	PayloadBucket string
}

// NewQueue returns a Sender for the queue at url.
func NewQueue(client SQSAPI, url string) *Queue { return &Queue{client: client, url: url, Attempts: 3} }

const maxBatchEntries = 10

// ErrNotSent is the error of messages Send did not try because the
// context ended first (its deadline, which callers set a margin before the
// invocation's): they were not sent, and the caller fails their records.
var ErrNotSent = errors.New("poison message not sent: the context ended before its turn")

// Send implements Sender. Messages go in batches of up to ten whose bodies
// add up to at most MaxBodyBytes; entries SQS fails are retried up to
// Attempts times in all. No call starts after ctx has ended: the messages
// still pending fail with ErrNotSent.
func (q *Queue) Send(ctx context.Context, msgs []Message) []error {
	var errs []error
	fail := func(i int, err error) {
		if errs == nil {
			errs = make([]error, len(msgs))
		}
		errs[i] = err
	}
	bodies := make([]string, len(msgs))
	var pending []int
	var scratch []byte // one buffer for every body: each is copied out as a string
	for i := range msgs {
		body := msgs[i].appendJSON(scratch[:0], msgs[i].Payload, false)
		switch {
		case len(body) <= MaxBodyBytes:
		case q.Payloads == nil || q.PayloadBucket == "":
			body = msgs[i].AppendJSON(body[:0], MaxBodyBytes) // cut, and marked as cut
		default:
			// Too big for a message: the whole payload to the bucket, a
			// pointer in the message. A failed put fails the message, so
			// Lambda redelivers the record: nothing is cut or lost.
			_, err := q.Payloads.PutObject(ctx, &s3.PutObjectInput{
				Bucket: aws.String(q.PayloadBucket), Key: aws.String(msgs[i].PayloadKey()),
				Body: strings.NewReader(msgs[i].Payload), ContentLength: aws.Int64(int64(len(msgs[i].Payload))),
			})
			if err != nil {
				fail(i, fmt.Errorf("storing the %d-byte poison payload in s3://%s/%s: %w", len(msgs[i].Payload), q.PayloadBucket, msgs[i].PayloadKey(), err))
				continue
			}
			body = msgs[i].AppendClaimCheckJSON(body[:0], q.PayloadBucket)
		}
		bodies[i], scratch = string(body), body
		pending = append(pending, i)
	}
	for attempt := 1; len(pending) > 0; attempt++ {
		var retry []int
		for len(pending) > 0 {
			n, size := 0, 0
			for n < len(pending) && n < maxBatchEntries && size+len(bodies[pending[n]]) <= MaxBodyBytes {
				size += len(bodies[pending[n]])
				n++
			}
			batch := pending[:n]
			pending = pending[n:]
			if err := ctx.Err(); err != nil {
				for _, i := range batch {
					fail(i, fmt.Errorf("%w: %w", ErrNotSent, context.Cause(ctx)))
				}
				continue
			}
			entries := make([]types.SendMessageBatchRequestEntry, len(batch))
			for j, i := range batch {
				entries[j] = types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(j)), MessageBody: aws.String(bodies[i])}
			}
			out, err := q.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.url), Entries: entries})
			if err != nil {
				for _, i := range batch {
					fail(i, fmt.Errorf("sending to poison queue %s: %w", q.url, err))
				}
				continue
			}
			for _, f := range out.Failed {
				j, convErr := strconv.Atoi(aws.ToString(f.Id))
				if convErr != nil || j < 0 || j >= len(batch) {
					continue
				}
				i := batch[j]
				err := fmt.Errorf("poison queue %s refused the message: %s: %s", q.url, aws.ToString(f.Code), aws.ToString(f.Message))
				if f.SenderFault || attempt >= q.Attempts {
					fail(i, err)
				} else {
					retry = append(retry, i)
				}
			}
			if len(out.Successful)+len(out.Failed) < len(batch) {
				// SQS must account for every entry; treat silence as failure.
				accounted := map[string]bool{}
				for _, s := range out.Successful {
					accounted[aws.ToString(s.Id)] = true
				}
				for _, f := range out.Failed {
					accounted[aws.ToString(f.Id)] = true
				}
				for j, i := range batch {
					if !accounted[strconv.Itoa(j)] {
						fail(i, errors.New("poison queue: SendMessageBatch did not report on the message"))
					}
				}
			}
		}
		pending = retry
	}
	return errs
}

// Discard is a Sender that drops every message and reports success. The
// benchmark uses it to time the processor without a network.
type Discard struct{}

// Send implements Sender.
func (Discard) Send(context.Context, []Message) []error { return nil }
