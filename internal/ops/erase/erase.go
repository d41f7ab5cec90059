// Package erase erases one user's personal data from a stack: the feature
// item becomes a suppression record (store.Erase) that keeps replays from
// recreating it, the user's poison messages are deleted with their
// claim-checked payloads, and the failures bucket's batches that hold the
// user's events are listed: a batch holds many users' records, so it cannot
// lose one user's alone, and it expires with failureRetentionDays.
//
// It reaches AWS and the local run the same way: the SDK's clients, whose
// endpoints come from the standard AWS_ENDPOINT_URL_<SERVICE> variables.
package erase

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/streamfn/streamfn/internal/aws/failure"
	"github.com/streamfn/streamfn/internal/aws/kpl"
	"github.com/streamfn/streamfn/internal/aws/poison"
	"github.com/streamfn/streamfn/internal/aws/sqsdepth"
	"github.com/streamfn/streamfn/internal/aws/store"
)

// SQSAPI is the part of the SQS client erasure uses.
type SQSAPI interface {
	ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(context.Context, *sqs.DeleteMessageInput, ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	ChangeMessageVisibility(context.Context, *sqs.ChangeMessageVisibilityInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
	sqsdepth.API
}

// S3API is the part of the S3 client erasure uses.
type S3API interface {
	ListObjectsV2(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	DeleteObject(context.Context, *s3.DeleteObjectInput, ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

// Target is one stack's stores (its stack outputs) and how long its stream
// keeps records.
type Target struct {
	Store          store.Store
	SQS            SQSAPI
	S3             S3API // nil: the bucket is not searched
	PoisonQueueURL string
	Bucket         string
	// Retention is the stream's retention: the suppression record expires
	// that long after the erasure (plus a day), when no replay can bring
	// the user's old records back.
	Retention time.Duration
	DryRun    bool
}

// Report says what was erased, and what must be handled by hand. It is
// the tool's -json output.
type Report struct {
	UserID string `json:"userId"`
	DryRun bool   `json:"dryRun"`
	// Item: the user's feature item existed and was replaced with the
	// suppression record (or would be, in a dry run).
	Item             bool      `json:"item"`
	SuppressionUntil time.Time `json:"suppressionUntil"`
	// PoisonMessages are the deleted poison messages (shardId/sequenceNumber).
	PoisonMessages []string `json:"poisonMessages"`
	// PoisonShared are the deleted messages that also held other users'
	// records (a KPL aggregate): they are gone from the queue too.
	PoisonShared []string `json:"poisonShared"`
	// FailureObjects are the failures bucket's objects that hold the
	// user's events among others': delete or rewrite them by hand, or let
	// them expire (failureRetentionDays).
	FailureObjects []string `json:"failureObjects"`
}

// Erase erases userID's data from t. Poison messages are received with a
// visibility timeout, checked and deleted; the others are made visible
// again before it returns.
func Erase(ctx context.Context, t Target, userID string, now time.Time) (Report, error) {
	r := Report{UserID: userID, DryRun: t.DryRun, PoisonMessages: []string{}, PoisonShared: []string{}, FailureObjects: []string{}}
	expires := now.Add(t.Retention + 24*time.Hour)
	r.SuppressionUntil = expires.UTC().Truncate(time.Second)
	if t.DryRun {
		items, err := t.Store.Load(ctx, []string{userID})
		if err != nil {
			return r, fmt.Errorf("reading the item of user %q: %w", userID, err)
		}
		r.Item = items[userID] != nil && items[userID].EventCount > 0
	} else {
		existed, err := store.Erase(ctx, t.Store, userID, now, expires.Unix())
		if err != nil {
			return r, err
		}
		r.Item = existed
	}
	if err := erasePoison(ctx, t, userID, &r); err != nil {
		return r, err
	}
	if t.S3 != nil && t.Bucket != "" {
		if err := findFailureObjects(ctx, t, userID, &r); err != nil {
			return r, err
		}
	}
	return r, nil
}

// mentions reports whether a poison message concerns userID, and whether
// it also holds other users' records.
func mentions(doc *poison.Document, userID string) (concerns, shared bool) {
	quoted, _ := json.Marshal(userID)
	field := append([]byte(`"userId":`), quoted...)
	payload, _ := doc.DecodedPayload()
	concerns = doc.PartitionKey == userID || bytes.Contains(payload, field)
	others := false
	for _, s := range doc.BadSubRecords {
		if s.PartitionKey == userID {
			concerns = true
		} else {
			others = true
		}
	}
	return concerns, concerns && (others || doc.SubRecordCount > len(doc.BadSubRecords))
}

// receiveAllWithin bounds the reading of the poison queue.
const receiveAllWithin = 30 * time.Second

func erasePoison(ctx context.Context, t Target, userID string, r *Report) error {
	var hidden []string // receipt handles of the messages kept, to release
	defer func() {
		for _, h := range hidden {
			// Best effort: a message not released reappears after the
			// visibility timeout anyway.
			_, _ = t.SQS.ChangeMessageVisibility(context.WithoutCancel(ctx), &sqs.ChangeMessageVisibilityInput{
				QueueUrl: aws.String(t.PoisonQueueURL), ReceiptHandle: aws.String(h), VisibilityTimeout: 0})
		}
	}()
	// Every message visible now must be read: empty receives alone can
	// come while messages remain (a receive samples the queue's servers),
	// and a message not read is a message not erased.
	depth, err := sqsdepth.Read(ctx, t.SQS, t.PoisonQueueURL)
	if err != nil {
		return fmt.Errorf("reading the poison queue %s: %w", t.PoisonQueueURL, err)
	}
	deadline := time.Now().Add(receiveAllWithin)
	seen := map[string]bool{}
	for empty := 0; empty < 2 || len(seen) < depth.Visible; {
		if time.Now().After(deadline) {
			if len(seen) < depth.Visible {
				return fmt.Errorf("read %d of the poison queue's %d visible messages within %s (another reader holds some?): nothing of the rest was erased; run the erasure again", len(seen), depth.Visible, receiveAllWithin)
			}
			break
		}
		out, err := t.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(t.PoisonQueueURL),
			MaxNumberOfMessages: 10, VisibilityTimeout: 300, WaitTimeSeconds: 1})
		if err != nil {
			return fmt.Errorf("reading the poison queue %s: %w", t.PoisonQueueURL, err)
		}
		fresh := 0
		for _, m := range out.Messages {
			id := aws.ToString(m.MessageId)
			if seen[id] {
				continue
			}
			seen[id], fresh = true, fresh+1
			var doc poison.Document
			if json.Unmarshal([]byte(aws.ToString(m.Body)), &doc) != nil {
				hidden = append(hidden, aws.ToString(m.ReceiptHandle))
				continue
			}
			concerns, shared := mentions(&doc, userID)
			if !concerns || t.DryRun {
				hidden = append(hidden, aws.ToString(m.ReceiptHandle))
				if !concerns {
					continue
				}
			}
			if !t.DryRun {
				if err := deleteMessage(ctx, t, m, &doc); err != nil {
					return err
				}
			}
			name := doc.ShardID + "/" + doc.SequenceNumber
			r.PoisonMessages = append(r.PoisonMessages, name)
			if shared {
				r.PoisonShared = append(r.PoisonShared, name)
			}
		}
		if fresh == 0 {
			empty++
		} else {
			empty = 0
		}
	}
	return nil
}

func deleteMessage(ctx context.Context, t Target, m sqstypes.Message, doc *poison.Document) error {
	if doc.PayloadS3 != nil && t.S3 != nil {
		if _, err := t.S3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(doc.PayloadS3.Bucket), Key: aws.String(doc.PayloadS3.Key)}); err != nil {
			return fmt.Errorf("deleting the poison payload s3://%s/%s: %w", doc.PayloadS3.Bucket, doc.PayloadS3.Key, err)
		}
	}
	if _, err := t.SQS.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(t.PoisonQueueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
		return fmt.Errorf("deleting poison message %s: %w", aws.ToString(m.MessageId), err)
	}
	return nil
}

// findFailureObjects lists the bucket's failed batches (not the poison
// payloads, which erasePoison handles) that hold the user's events.
func findFailureObjects(ctx context.Context, t Target, userID string, r *Report) error {
	quoted, _ := json.Marshal(userID)
	needles := [][]byte{append([]byte(`"userId":`), quoted...), append([]byte(`"partitionKey":`), quoted...)}
	var token *string
	for {
		out, err := t.S3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(t.Bucket), ContinuationToken: token})
		if err != nil {
			return fmt.Errorf("listing the failures bucket %s: %w", t.Bucket, err)
		}
		for _, o := range out.Contents {
			key := aws.ToString(o.Key)
			if strings.HasPrefix(key, "poison/") {
				continue
			}
			obj, err := t.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(t.Bucket), Key: o.Key})
			if err != nil {
				return fmt.Errorf("reading s3://%s/%s: %w", t.Bucket, key, err)
			}
			body, err := io.ReadAll(obj.Body)
			obj.Body.Close()
			if err != nil {
				return fmt.Errorf("reading s3://%s/%s: %w", t.Bucket, key, err)
			}
			if holdsUser(body, needles) {
				r.FailureObjects = append(r.FailureObjects, key)
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			return nil
		}
		token = out.NextContinuationToken
	}
}

// holdsUser looks for the user in a failed batch: in its partition keys,
// and in its records' data (base64 in the invocation payload).
func holdsUser(body []byte, needles [][]byte) bool {
	doc, err := failure.Parse(body)
	if err != nil || doc.Payload == "" {
		return bytes.Contains(body, needles[1]) // metadata only: the partition keys are all there is
	}
	var event struct {
		Records []struct {
			Kinesis struct {
				PartitionKey string `json:"partitionKey"`
				Data         []byte `json:"data"` // base64, decoded by encoding/json
			} `json:"kinesis"`
		} `json:"Records"`
	}
	if json.Unmarshal([]byte(doc.Payload), &event) != nil {
		return bytes.Contains([]byte(doc.Payload), needles[1])
	}
	for _, rec := range event.Records {
		if bytes.Contains(rec.Kinesis.Data, needles[0]) || bytes.Contains(append([]byte(`"partitionKey":`), jsonString(rec.Kinesis.PartitionKey)...), needles[1]) {
			return true
		}
		if kpl.IsAggregated(rec.Kinesis.Data) {
			if subs, err := kpl.Unpack(rec.Kinesis.Data); err == nil {
				for _, sub := range subs {
					if bytes.Contains(sub.Data, needles[0]) {
						return true
					}
				}
			}
		}
	}
	return false
}

func jsonString(s string) []byte { b, _ := json.Marshal(s); return b }
