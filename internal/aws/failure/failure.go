// Package failure is the on-failure record of a Kinesis event-source
// mapping: the JSON document Lambda sends to the mapping's on-failure
// destination when it gives up on a batch, and, for an Amazon S3
// destination, the object key it writes it under. The local mapping writes
// these documents, the redrive tool and the local run's verification read
// them: one definition for all.
//
// The format is AWS's, "Retain discarded batch records for a Kinesis Data
// Streams event source in Lambda"
// (https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html):
// an SQS or SNS destination gets the metadata (requestContext,
// responseContext, version, timestamp, KinesisBatchInfo); an S3 destination
// also gets payload, the whole invocation as an escaped JSON string.
package failure

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Conditions Lambda gives up on a batch for.
const (
	RetryAttemptsExhausted = "RetryAttemptsExhausted"
	RecordAgeExceeded      = "RecordAgeExceeded"
)

// Document is one on-failure record.
type Document struct {
	RequestContext   RequestContext   `json:"requestContext"`
	ResponseContext  *ResponseContext `json:"responseContext,omitempty"`
	Version          string           `json:"version"`
	Timestamp        string           `json:"timestamp"`
	KinesisBatchInfo KinesisBatchInfo `json:"KinesisBatchInfo"`
	// Payload is the invocation Lambda last sent (a Kinesis event), as an
	// escaped JSON string; only S3 destinations get it.
	Payload string `json:"payload,omitempty"`
}

// RequestContext says why Lambda gave up and after how many invocations.
type RequestContext struct {
	RequestID              string `json:"requestId"`
	FunctionARN            string `json:"functionArn"`
	Condition              string `json:"condition"` // RetryAttemptsExhausted or RecordAgeExceeded
	ApproximateInvokeCount int    `json:"approximateInvokeCount"`
}

// ResponseContext is the last invocation's outcome; absent when the
// records expired before any invocation.
type ResponseContext struct {
	StatusCode      int    `json:"statusCode"`
	ExecutedVersion string `json:"executedVersion"`
	FunctionError   string `json:"functionError,omitempty"`
}

// KinesisBatchInfo locates the discarded records in the stream.
type KinesisBatchInfo struct {
	ShardID                         string `json:"shardId"`
	StartSequenceNumber             string `json:"startSequenceNumber"`
	EndSequenceNumber               string `json:"endSequenceNumber"`
	ApproximateArrivalOfFirstRecord string `json:"approximateArrivalOfFirstRecord"`
	ApproximateArrivalOfLastRecord  string `json:"approximateArrivalOfLastRecord"`
	BatchSize                       int    `json:"batchSize"`
	StreamARN                       string `json:"streamArn"`
}

// Metadata is the document without its payload: what an SQS or SNS
// destination gets.
func (d Document) Metadata() Document {
	d.Payload = ""
	return d
}

// TimeLayout is the documents' time format: UTC with milliseconds.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// Parse reads a document and checks what a replay needs: the shard, the
// sequence range and the batch size. An S3 document's payload must be a
// JSON object. Every problem is named with its field.
func Parse(data []byte) (Document, error) {
	var doc Document
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return Document{}, fmt.Errorf("not an on-failure record: %w", err)
	}
	if dec.More() {
		return Document{}, errors.New("not an on-failure record: more than one JSON value")
	}
	var problems []string
	info := doc.KinesisBatchInfo
	if info.ShardID == "" {
		problems = append(problems, "KinesisBatchInfo.shardId is missing")
	}
	if !isSequenceNumber(info.StartSequenceNumber) {
		problems = append(problems, fmt.Sprintf("KinesisBatchInfo.startSequenceNumber %q is not a sequence number (decimal digits)", info.StartSequenceNumber))
	}
	if !isSequenceNumber(info.EndSequenceNumber) {
		problems = append(problems, fmt.Sprintf("KinesisBatchInfo.endSequenceNumber %q is not a sequence number (decimal digits)", info.EndSequenceNumber))
	}
	if info.BatchSize < 1 {
		problems = append(problems, fmt.Sprintf("KinesisBatchInfo.batchSize %d: must be at least 1", info.BatchSize))
	}
	if doc.Payload != "" && !json.Valid([]byte(doc.Payload)) {
		problems = append(problems, "payload is not the invocation's JSON")
	}
	if len(problems) > 0 {
		return Document{}, fmt.Errorf("on-failure record: %s", strings.Join(problems, "; "))
	}
	return doc, nil
}

func isSequenceNumber(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Arrivals are the first and last records' arrival times; zero when a
// document does not say.
func (d Document) Arrivals() (first, last time.Time) {
	first, _ = time.Parse(TimeLayout, d.KinesisBatchInfo.ApproximateArrivalOfFirstRecord)
	last, _ = time.Parse(TimeLayout, d.KinesisBatchInfo.ApproximateArrivalOfLastRecord)
	return first, last
}

// KeyPrefix is where a mapping's records of one shard go in an S3
// destination: aws/lambda/<ESM-UUID>/<shardID>/.
func KeyPrefix(mappingUUID, shardID string) string {
	return "aws/lambda/" + mappingUUID + "/" + shardID + "/"
}

// ObjectKey is the key Lambda writes a record under in an S3 destination:
// aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<Random UUID>.
func ObjectKey(mappingUUID, shardID string, at time.Time, random uuid.UUID) string {
	at = at.UTC()
	return KeyPrefix(mappingUUID, shardID) + at.Format("2006/01/02/2006-01-02T15.04.05") + "-" + random.String()
}

// Key is an object key read back.
type Key struct {
	MappingUUID string
	ShardID     string
	At          time.Time // to the second
}

// ParseKey reads an object key of ObjectKey's layout.
func ParseKey(key string) (Key, error) {
	parts := strings.Split(key, "/")
	// aws, lambda, uuid, shard, YYYY, MM, DD, stamp-uuid
	if len(parts) != 8 || parts[0] != "aws" || parts[1] != "lambda" || parts[2] == "" || parts[3] == "" {
		return Key{}, fmt.Errorf("object key %q is not aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<UUID>", key)
	}
	const stamp = "2006-01-02T15.04.05"
	last := parts[7]
	if len(last) < len(stamp)+2 || last[len(stamp)] != '-' {
		return Key{}, fmt.Errorf("object key %q: the last part is not YYYY-MM-DDTHH.MM.SS-<UUID>", key)
	}
	at, err := time.Parse(stamp, last[:len(stamp)])
	if err != nil {
		return Key{}, fmt.Errorf("object key %q: %w", key, err)
	}
	if at.Format("2006/01/02") != parts[4]+"/"+parts[5]+"/"+parts[6] {
		return Key{}, fmt.Errorf("object key %q: the date folders do not match the time", key)
	}
	if _, err := uuid.Parse(last[len(stamp)+1:]); err != nil {
		return Key{}, fmt.Errorf("object key %q: %w", key, err)
	}
	return Key{MappingUUID: parts[2], ShardID: parts[3], At: at}, nil
}
