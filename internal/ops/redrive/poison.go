package redrive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/streamfn/streamfn/internal/activity"
	"github.com/streamfn/streamfn/internal/aws/poison"
)

// PoisonOptions tune Poison.
type PoisonOptions struct {
	// Reason keeps only messages whose reason contains it; "" keeps all.
	Reason string
	DryRun bool
}

// Poison statuses.
const (
	StatusResent       = "resent"
	StatusWouldResend  = "would resend"
	StatusStillInvalid = "still invalid"
	StatusTruncated    = "truncated"
)

// PoisonResult is what happened to one poison message.
type PoisonResult struct {
	MessageID      string `json:"messageId"`
	Reason         string `json:"reason"`
	ShardID        string `json:"shardId"`
	SequenceNumber string `json:"sequenceNumber"`
	UserID         string `json:"userId,omitempty"`
	Status         string `json:"status"`
	Error          string `json:"error,omitempty"`
}

// PoisonReport is the JSON document of `redrive poison -json`.
type PoisonReport struct {
	Target       Target         `json:"target"`
	At           string         `json:"at"`
	DryRun       bool           `json:"dryRun"`
	Reason       string         `json:"reasonFilter,omitempty"`
	Resent       int            `json:"resent"`
	StillInvalid int            `json:"stillInvalid"`
	Failed       int            `json:"failed"`
	Skipped      int            `json:"skipped"` // other reasons
	Results      []PoisonResult `json:"results"`
	Problems     []string       `json:"problems,omitempty"`
}

// putRecordsLimit: PutRecords takes up to 500 records and 5 MB a call.
const (
	putRecordsMax   = 500
	putRecordsBytes = 5 << 20
)

// Poison resends every poison message that is valid now through the
// normal path, PutRecords keyed by userId, and deletes it from the queue
// once Kinesis took it. Messages still invalid, cut short or of another
// reason stay in the queue.
func (t *Tool) Poison(ctx context.Context, opts PoisonOptions) (*PoisonReport, error) {
	if t.Target.PoisonQueueURL == "" {
		return nil, fmt.Errorf("the stack has no poison queue (stack output poisonQueueUrl)")
	}
	r := &PoisonReport{Target: t.Target, At: t.now().UTC().Format(time.RFC3339), DryRun: opts.DryRun, Reason: opts.Reason, Results: []PoisonResult{}}
	msgs, err := t.receiveAll(ctx, t.Target.PoisonQueueURL, holdFor)
	if err != nil {
		t.release(context.WithoutCancel(ctx), t.Target.PoisonQueueURL, msgs...)
		return nil, err
	}
	type pending struct {
		msg    message
		result int
		data   []byte
		userID string
	}
	var resend []pending
	for _, msg := range msgs {
		var m poison.Document
		if err := json.Unmarshal([]byte(msg.body), &m); err != nil {
			r.Problems = append(r.Problems, fmt.Sprintf("poison message %s is not the processor's document: %v", msg.id, err))
			t.release(ctx, t.Target.PoisonQueueURL, msg)
			continue
		}
		if opts.Reason != "" && !strings.Contains(m.Reason, opts.Reason) {
			r.Skipped++
			t.release(ctx, t.Target.PoisonQueueURL, msg)
			continue
		}
		res := PoisonResult{MessageID: msg.id, Reason: m.Reason, ShardID: m.ShardID, SequenceNumber: m.SequenceNumber}
		data, err := t.poisonPayload(ctx, m)
		switch {
		case m.PayloadTruncated && m.PayloadS3 == nil:
			res.Status, res.Error = StatusTruncated, "the payload was cut to fit the message and has no copy in the bucket: it cannot be resent from here"
		case err != nil:
			res.Status, res.Error = StatusStillInvalid, err.Error()
		default:
			ev, err := activity.ParseValid(data)
			if err != nil {
				res.Status, res.Error = StatusStillInvalid, err.Error()
			} else {
				res.UserID = ev.UserID
			}
		}
		r.Results = append(r.Results, res)
		if res.Status != "" {
			if res.Status == StatusStillInvalid {
				r.StillInvalid++
			}
			t.release(ctx, t.Target.PoisonQueueURL, msg)
			continue
		}
		resend = append(resend, pending{msg: msg, result: len(r.Results) - 1, data: data, userID: res.UserID})
	}
	if opts.DryRun {
		for _, p := range resend {
			r.Results[p.result].Status = StatusWouldResend
			r.Resent++
			t.release(ctx, t.Target.PoisonQueueURL, p.msg)
		}
		return r, nil
	}
	for len(resend) > 0 {
		n, size := 0, 0
		for n < len(resend) && n < putRecordsMax && (n == 0 || size+len(resend[n].data)+len(resend[n].userID) <= putRecordsBytes) {
			size += len(resend[n].data) + len(resend[n].userID)
			n++
		}
		chunk := resend[:n]
		resend = resend[n:]
		entries := make([]ktypes.PutRecordsRequestEntry, len(chunk))
		for i, p := range chunk {
			entries[i] = ktypes.PutRecordsRequestEntry{Data: p.data, PartitionKey: aws.String(p.userID)}
		}
		out, err := t.Kinesis.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(t.Target.StreamName), Records: entries})
		for i, p := range chunk {
			res := &r.Results[p.result]
			switch {
			case err != nil:
				res.Status, res.Error = StatusFailed, fmt.Sprintf("PutRecords to %s: %v", t.Target.StreamName, explain(err))
			case i < len(out.Records) && out.Records[i].ErrorCode != nil:
				res.Status, res.Error = StatusFailed, fmt.Sprintf("PutRecords to %s: %s: %s", t.Target.StreamName, aws.ToString(out.Records[i].ErrorCode), aws.ToString(out.Records[i].ErrorMessage))
			default:
				res.Status = StatusResent
			}
			if res.Status != StatusResent {
				r.Failed++
				t.release(ctx, t.Target.PoisonQueueURL, p.msg)
				continue
			}
			r.Resent++
			if _, err := t.SQS.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(t.Target.PoisonQueueURL), ReceiptHandle: aws.String(p.msg.receipt)}); err != nil {
				res.Error = fmt.Sprintf("resent, but not deleted from the poison queue: %v", explain(err))
			}
		}
	}
	return r, nil
}

// poisonPayload is a poison record's bytes: from the message, or from
// the failure bucket when the processor claim-checked it there (checked
// against the pointer's size and SHA-256).
func (t *Tool) poisonPayload(ctx context.Context, m poison.Document) ([]byte, error) {
	p := m.PayloadS3
	if p == nil {
		return m.DecodedPayload()
	}
	out, err := t.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(p.Bucket), Key: aws.String(p.Key)})
	if err != nil {
		return nil, fmt.Errorf("reading the claim-checked payload s3://%s/%s: %w", p.Bucket, p.Key, explain(err))
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("reading the claim-checked payload s3://%s/%s: %w", p.Bucket, p.Key, err)
	}
	sum := sha256.Sum256(data)
	if len(data) != p.Bytes || !strings.EqualFold(hex.EncodeToString(sum[:]), p.SHA256) {
		return nil, fmt.Errorf("the claim-checked payload s3://%s/%s is %d bytes with SHA-256 %x, not the %d bytes and %s the message names", p.Bucket, p.Key, len(data), sum, p.Bytes, p.SHA256)
	}
	return data, nil
}
