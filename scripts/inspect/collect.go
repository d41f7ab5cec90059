package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	kintypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/streamfn/streamfn/infra/pipeline"
	"github.com/streamfn/streamfn/internal/activity"
	"github.com/streamfn/streamfn/internal/aws/failure"
	"github.com/streamfn/streamfn/internal/aws/poison"
	"github.com/streamfn/streamfn/internal/aws/sqsdepth"
	"github.com/streamfn/streamfn/internal/aws/store"
	"github.com/streamfn/streamfn/internal/features"
	"github.com/streamfn/streamfn/internal/ops/endpoints"
	"github.com/streamfn/streamfn/internal/ops/stackoutputs"
)

// Report is everything inspect shows: the -json document. The tables are
// a view of it.
type Report struct {
	Stack  string `json:"stack"`
	Source string `json:"source"` // where the names and endpoints came from
	At     string `json:"at"`     // when it was read, RFC 3339

	User     *User         `json:"user,omitempty"`
	TopUsers *TopUsers     `json:"topUsers,omitempty"`
	Queues   []Queue       `json:"queues,omitempty"`
	Poison   []PoisonEntry `json:"newestPoison,omitempty"`
	Failures []Failure     `json:"failures,omitempty"`
	// FailuresUnread says why the failure records could not be read.
	FailuresUnread string  `json:"failuresUnread,omitempty"`
	Shards         []Shard `json:"shards,omitempty"`
}

// User is one user's features item.
type User struct {
	UserID         string           `json:"userId"`
	Found          bool             `json:"found"`
	EventCount     int64            `json:"eventCount"`
	TypeCounts     map[string]int64 `json:"typeCounts"`
	CategoryCounts map[string]int64 `json:"categoryCounts"`
	LastEventAt    string           `json:"lastEventAt,omitempty"`
	RecentProducts []string         `json:"recentProducts"`
	PurchaseTotal  string           `json:"purchaseTotal"`
	Version        int64            `json:"version"`
}

// TopUsers are the users with the most events among those scanned.
type TopUsers struct {
	Scanned   int  `json:"itemsScanned"`
	Truncated bool `json:"truncated"` // the scan stopped at -scan-limit items
	Users     []struct {
		UserID        string `json:"userId"`
		EventCount    int64  `json:"eventCount"`
		LastEventAt   string `json:"lastEventAt,omitempty"`
		PurchaseTotal string `json:"purchaseTotal"`
	} `json:"users"`
}

// Queue is one queue's depth.
type Queue struct {
	Name string `json:"name"` // the stack output naming it
	URL  string `json:"url"`
	sqsdepth.Depth
}

// PoisonEntry is one poison-queue message: a record the processor rejected.
type PoisonEntry struct {
	SentAt         string `json:"sentAt"`
	Reason         string `json:"reason"`
	ShardID        string `json:"shardId"`
	SequenceNumber string `json:"sequenceNumber"`
	PartitionKey   string `json:"partitionKey"`
	PayloadBytes   int    `json:"payloadBytes"`
}

// Failure is one on-failure destination document: a discarded batch.
type Failure struct {
	SentAt              string `json:"sentAt"`
	Condition           string `json:"condition"`
	InvokeCount         int    `json:"approximateInvokeCount"`
	FunctionError       string `json:"functionError,omitempty"`
	ShardID             string `json:"shardId"`
	StartSequenceNumber string `json:"startSequenceNumber"`
	EndSequenceNumber   string `json:"endSequenceNumber"`
	BatchSize           int    `json:"batchSize"`
}

// Shard is one shard's iterator age.
type Shard struct {
	ShardID string `json:"shardId"`
	Open    bool   `json:"open"`
	// IteratorAgeMs is the age of the oldest record the processor has not
	// finished: the first record after the highest sequence number that
	// any user's item records for this shard. 0: none is waiting.
	IteratorAgeMs int64 `json:"iteratorAgeMs"`
	// Position is that highest sequence number, "" when no item records
	// one (nothing processed yet on this shard, or only rejected records).
	Position string `json:"processedUpTo,omitempty"`
}

// clients are what inspect reads.
type clients struct {
	kinesis  *kinesis.Client
	dynamodb *dynamodb.Client
	sqs      *sqs.Client
	s3       *s3.Client // nil when the endpoints file names no S3 endpoint
}

// names are the pipeline's resources, from the stack outputs (the names
// infra/pipeline exports).
type names struct {
	stream, table, poisonURL string
	// The on-failure destination: the failures bucket (failureDestination
	// s3, the default), or the failures queue (sqs).
	failuresURL, failureBucket string
}

func namesFrom(o stackoutputs.Outputs) (names, error) {
	var n names
	var errs []error
	get := func(key string, into *string) {
		v, err := o.String(key)
		errs = append(errs, err)
		*into = v
	}
	get(pipeline.OutputStreamName, &n.stream)
	get(pipeline.OutputTableName, &n.table)
	get(pipeline.OutputPoisonQueueURL, &n.poisonURL)
	n.failuresURL, _ = o.String(pipeline.OutputFailuresQueueURL)
	n.failureBucket, _ = o.String(pipeline.OutputFailureBucketName)
	return n, errors.Join(errs...)
}

func readUser(ctx context.Context, c clients, n names, userID string) (*User, error) {
	items, err := store.NewDynamoDB(c.dynamodb, n.table, "").Load(ctx, []string{userID})
	if err != nil {
		return nil, fmt.Errorf("reading user %s from table %s: %w", userID, n.table, err)
	}
	it, ok := items[userID]
	u := &User{UserID: userID, Found: ok, TypeCounts: map[string]int64{}, CategoryCounts: map[string]int64{}, RecentProducts: []string{}, PurchaseTotal: "0"}
	if !ok {
		return u, nil
	}
	u.EventCount, u.Version, u.PurchaseTotal = it.EventCount, it.Version, it.PurchaseTotal.String()
	for _, t := range activity.Types {
		if c := it.TypeCount(t); c > 0 {
			u.TypeCounts[t.String()] = c
		}
	}
	for k, v := range it.CategoryCounts {
		u.CategoryCounts[k] = v
	}
	if !it.LastEventAt.IsZero() {
		u.LastEventAt = it.LastEventAt.UTC().Format(time.RFC3339Nano)
	}
	for _, p := range it.RecentProducts {
		u.RecentProducts = append(u.RecentProducts, p.ProductID)
	}
	return u, nil
}

// scanned is what one pass over the table finds: the top users and each
// shard's highest processed position.
type scanned struct {
	top   *TopUsers
	marks map[string]features.Position // shard id -> highest mark
}

// scanTable reads at most limit items, only the attributes inspect shows.
func scanTable(ctx context.Context, c clients, n names, limit, top int) (*scanned, error) {
	s := &scanned{top: &TopUsers{}, marks: map[string]features.Position{}}
	type row struct {
		user, last, total string
		count             int64
	}
	var rows []row
	var start map[string]ddbtypes.AttributeValue
	for {
		out, err := c.dynamodb.Scan(ctx, &dynamodb.ScanInput{
			TableName:                aws.String(n.table),
			ExclusiveStartKey:        start,
			ProjectionExpression:     aws.String("#u, #c, #l, #p, #m"),
			ExpressionAttributeNames: map[string]string{"#u": store.AttrUserID, "#c": store.AttrEventCount, "#l": store.AttrLastEventAt, "#p": store.AttrPurchaseTotal, "#m": store.AttrSequenceMarks},
			Limit:                    aws.Int32(int32(min(1000, limit-s.top.Scanned))),
		})
		if err != nil {
			return nil, fmt.Errorf("scanning table %s: %w", n.table, err)
		}
		for _, item := range out.Items {
			r := row{user: attrS(item[store.AttrUserID]), last: attrS(item[store.AttrLastEventAt]), total: attrN(item[store.AttrPurchaseTotal])}
			r.count, _ = strconv.ParseInt(attrN(item[store.AttrEventCount]), 10, 64)
			rows = append(rows, r)
			if m, ok := item[store.AttrSequenceMarks].(*ddbtypes.AttributeValueMemberM); ok {
				for key, v := range m.Value {
					shard, _, _ := strings.Cut(key, "/") // features.MarkKey: shard id, then "/" and a partition key
					pos, ok := parseMark(attrS(v))
					if !ok {
						continue
					}
					if old, seen := s.marks[shard]; !seen || features.ComparePositions(pos, old) > 0 {
						s.marks[shard] = pos
					}
				}
			}
		}
		s.top.Scanned += len(out.Items)
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		if s.top.Scanned >= limit {
			s.top.Truncated = true
			break
		}
		start = out.LastEvaluatedKey
	}
	slices.SortFunc(rows, func(a, b row) int {
		if a.count != b.count {
			return int(b.count - a.count)
		}
		return strings.Compare(a.user, b.user)
	})
	for _, r := range rows[:min(top, len(rows))] {
		s.top.Users = append(s.top.Users, struct {
			UserID        string `json:"userId"`
			EventCount    int64  `json:"eventCount"`
			LastEventAt   string `json:"lastEventAt,omitempty"`
			PurchaseTotal string `json:"purchaseTotal"`
		}{r.user, r.count, r.last, r.total})
	}
	return s, nil
}

// parseMark reads store's "<sequence number>/<sub-index>".
func parseMark(s string) (features.Position, bool) {
	seq, sub, ok := strings.Cut(s, "/")
	n, err := strconv.Atoi(sub)
	if !ok || err != nil || seq == "" {
		return features.Position{}, false
	}
	return features.Position{Sequence: seq, Sub: n}, true
}

func attrS(v ddbtypes.AttributeValue) string {
	if s, ok := v.(*ddbtypes.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

func attrN(v ddbtypes.AttributeValue) string {
	if s, ok := v.(*ddbtypes.AttributeValueMemberN); ok {
		return s.Value
	}
	return ""
}

func readQueues(ctx context.Context, c clients, n names) ([]Queue, error) {
	var queues []Queue
	for _, q := range []struct{ name, url string }{{pipeline.OutputPoisonQueueURL, n.poisonURL}, {pipeline.OutputFailuresQueueURL, n.failuresURL}} {
		if q.url == "" {
			continue // failureDestination s3: no failures queue
		}
		depth, err := sqsdepth.Read(ctx, c.sqs, q.url)
		if err != nil {
			return nil, err
		}
		queues = append(queues, Queue{Name: strings.TrimSuffix(q.name, "Url"), URL: q.url, Depth: depth})
	}
	return queues, nil
}

type message struct {
	sentAt time.Time
	body   string
}

// peekLimit bounds the messages one peek reads: 10 receives of 10.
const peekLimit = 100

// peek receives up to peekLimit messages, newest first, and makes each
// visible again at once (ChangeMessageVisibility to 0: the SDK cannot send
// a receive's VisibilityTimeout of 0, as 0 means "the queue's default").
// They stay in the queue; only their receive count grows.
func peek(ctx context.Context, c clients, url string) ([]message, error) {
	seen := map[string]bool{}
	var msgs []message
	for len(msgs) < peekLimit {
		out, err := c.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, VisibilityTimeout: 1,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameSentTimestamp},
		})
		if err != nil {
			return nil, fmt.Errorf("peeking at %s: %w", url, err)
		}
		var release []sqstypes.ChangeMessageVisibilityBatchRequestEntry
		fresh := 0
		for i, m := range out.Messages {
			release = append(release, sqstypes.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
			id := aws.ToString(m.MessageId)
			if seen[id] {
				continue
			}
			seen[id], fresh = true, fresh+1
			ms, _ := strconv.ParseInt(m.Attributes[string(sqstypes.MessageSystemAttributeNameSentTimestamp)], 10, 64)
			msgs = append(msgs, message{sentAt: time.UnixMilli(ms).UTC(), body: aws.ToString(m.Body)})
		}
		if len(release) > 0 {
			// Best effort: a message not released shows again after 1 s.
			_, _ = c.sqs.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(url), Entries: release})
		}
		if fresh == 0 {
			break
		}
	}
	slices.SortStableFunc(msgs, func(a, b message) int { return b.sentAt.Compare(a.sentAt) })
	return msgs, nil
}

// readPoison returns the newest max poison messages, and the shard and
// sequence number of every one peeked at: rejected records, which no
// item's high-water mark passes.
func readPoison(ctx context.Context, c clients, n names, max int) ([]PoisonEntry, map[string]bool, error) {
	msgs, err := peek(ctx, c, n.poisonURL)
	if err != nil {
		return nil, nil, err
	}
	entries := []PoisonEntry{}
	for _, m := range msgs {
		e := PoisonEntry{SentAt: m.sentAt.Format(time.RFC3339)}
		var doc poison.Document
		if err := json.Unmarshal([]byte(m.body), &doc); err != nil {
			e.Reason = "(not a poison document: " + err.Error() + ")"
		} else {
			e.Reason, e.ShardID, e.SequenceNumber, e.PartitionKey, e.PayloadBytes = doc.Reason, doc.ShardID, doc.SequenceNumber, doc.PartitionKey, doc.PayloadBytes
			if payload, err := doc.DecodedPayload(); e.PayloadBytes == 0 && err == nil {
				e.PayloadBytes = len(payload)
			}
		}
		entries = append(entries, e)
	}
	rejected := map[string]bool{}
	for _, e := range entries {
		rejected[e.ShardID+"/"+e.SequenceNumber] = true
	}
	return entries[:min(max, len(entries))], rejected, nil
}

// errNoS3 means the failures bucket cannot be read: the endpoints file
// names no S3 endpoint (the local run has no S3 stand-in yet).
var errNoS3 = errors.New("the failure records are in the failures bucket, and the endpoints file names no S3 endpoint (" + endpoints.S3 + ")")

func readFailures(ctx context.Context, c clients, n names, max int) ([]Failure, error) {
	var msgs []message
	var err error
	switch {
	case n.failuresURL != "":
		msgs, err = peek(ctx, c, n.failuresURL)
	case n.failureBucket != "" && c.s3 == nil:
		return nil, errNoS3
	case n.failureBucket != "":
		msgs, err = newestObjects(ctx, c, n.failureBucket, max)
	}
	if err != nil {
		return nil, err
	}
	msgs = msgs[:min(max, len(msgs))]
	failures := []Failure{}
	for _, m := range msgs {
		f := Failure{SentAt: m.sentAt.Format(time.RFC3339)}
		var doc failure.Document
		if err := json.Unmarshal([]byte(m.body), &doc); err != nil {
			f.Condition = "(not a failure document: " + err.Error() + ")"
		} else {
			b := doc.KinesisBatchInfo
			f.Condition, f.InvokeCount = doc.RequestContext.Condition, doc.RequestContext.ApproximateInvokeCount
			f.ShardID, f.StartSequenceNumber, f.EndSequenceNumber, f.BatchSize = b.ShardID, b.StartSequenceNumber, b.EndSequenceNumber, b.BatchSize
			if doc.ResponseContext != nil {
				f.FunctionError = doc.ResponseContext.FunctionError
			}
		}
		failures = append(failures, f)
	}
	return failures, nil
}

// newestObjects reads the max newest objects of the failures bucket, each
// one failure record (failure.ObjectKey's layout), newest first. It lists
// at most 10,000 keys.
func newestObjects(ctx context.Context, c clients, bucket string, max int) ([]message, error) {
	var objects []s3types.Object
	pages := s3.NewListObjectsV2Paginator(c.s3, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for pages.HasMorePages() && len(objects) < 10000 {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing the failures bucket %s: %w", bucket, err)
		}
		objects = append(objects, page.Contents...)
	}
	slices.SortStableFunc(objects, func(a, b s3types.Object) int { return aws.ToTime(b.LastModified).Compare(aws.ToTime(a.LastModified)) })
	var msgs []message
	for _, o := range objects[:min(max, len(objects))] {
		out, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
		if err != nil {
			return nil, fmt.Errorf("reading s3://%s/%s: %w", bucket, aws.ToString(o.Key), err)
		}
		body, err := io.ReadAll(io.LimitReader(out.Body, 64<<20))
		out.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("reading s3://%s/%s: %w", bucket, aws.ToString(o.Key), err)
		}
		msgs = append(msgs, message{sentAt: aws.ToTime(o.LastModified).UTC(), body: string(body)})
	}
	return msgs, nil
}

// readShards lists the stream's shards and, for each, the age of the first
// record after the highest position the table records for it, skipping the
// rejected records (shard/sequence) found in the poison queue.
func readShards(ctx context.Context, c clients, n names, marks map[string]features.Position, rejected map[string]bool, now time.Time) ([]Shard, error) {
	var shards []Shard
	var token *string
	for {
		in := &kinesis.ListShardsInput{NextToken: token}
		if token == nil {
			in.StreamName = aws.String(n.stream)
		}
		out, err := c.kinesis.ListShards(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("listing the shards of stream %s: %w", n.stream, err)
		}
		for _, sh := range out.Shards {
			id := aws.ToString(sh.ShardId)
			s := Shard{ShardID: id, Open: sh.SequenceNumberRange == nil || sh.SequenceNumberRange.EndingSequenceNumber == nil}
			in := &kinesis.GetShardIteratorInput{StreamName: aws.String(n.stream), ShardId: aws.String(id), ShardIteratorType: kintypes.ShardIteratorTypeTrimHorizon}
			if pos, ok := marks[id]; ok {
				s.Position = pos.Sequence
				in.ShardIteratorType, in.StartingSequenceNumber = kintypes.ShardIteratorTypeAfterSequenceNumber, aws.String(pos.Sequence)
			}
			age, err := firstRecordAge(ctx, c, in, func(seq string) bool { return rejected[id+"/"+seq] }, now)
			if err != nil {
				return nil, fmt.Errorf("reading shard %s of stream %s: %w", id, n.stream, err)
			}
			s.IteratorAgeMs = age.Milliseconds()
			shards = append(shards, s)
		}
		if out.NextToken == nil {
			return shards, nil
		}
		token = out.NextToken
	}
}

// firstRecordAge is the age of the first record at the iterator that is
// not skipped, 0 when there is none. A GetRecords answer may be empty while
// records follow (Kinesis reads a shard in steps), so it follows the
// iterator while MillisBehindLatest says there is more, a few calls at
// most: each counts against the shard's 5 reads per second.
func firstRecordAge(ctx context.Context, c clients, in *kinesis.GetShardIteratorInput, skip func(sequence string) bool, now time.Time) (time.Duration, error) {
	it, err := c.kinesis.GetShardIterator(ctx, in)
	if err != nil {
		return 0, err
	}
	iterator := it.ShardIterator
	for range 4 {
		out, err := c.kinesis.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iterator, Limit: aws.Int32(1000)})
		if err != nil {
			return 0, err
		}
		for _, r := range out.Records {
			if !skip(aws.ToString(r.SequenceNumber)) {
				return max(0, now.Sub(aws.ToTime(r.ApproximateArrivalTimestamp))), nil
			}
		}
		if out.NextShardIterator == nil || aws.ToInt64(out.MillisBehindLatest) == 0 {
			return 0, nil
		}
		iterator = out.NextShardIterator
	}
	return 0, nil
}
