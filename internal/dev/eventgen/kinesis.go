package eventgen

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/streamfn/streamfn/internal/activity"
	"github.com/streamfn/streamfn/internal/aws/kpl"
)

// BatchOptions shape one Kinesis invocation document.
type BatchOptions struct {
	// Records is the number of Kinesis records in the batch (default 100).
	Records int
	// BadFraction is the share of user records that are malformed (cycling
	// through MalformedKinds), 0..1.
	BadFraction float64
	// DuplicateFraction is the share of user records that resend a recent
	// valid event, byte for byte, under a new sequence number: what a
	// producer that retries a put does. 0..1.
	DuplicateFraction float64
	// Aggregate > 1 packs that many user records into each Kinesis record
	// as a KPL aggregate, so the batch holds Records*Aggregate user records.
	Aggregate int
	// ShardID is the shard the batch comes from (default
	// "shardId-000000000000"). Sequence numbers keep increasing per shard
	// across calls on one Generator.
	ShardID string
	// StreamARN is the event source (default
	// "arn:aws:kinesis:us-east-1:123456789012:stream/streamfn-dev").
	StreamARN string
	// FunctionRoleARN is the invokeIdentityArn (default
	// "arn:aws:iam::123456789012:role/streamfn-dev-processor").
	FunctionRoleARN string
	// ArrivalDelay is how long after its ts each record reached the stream
	// (default 150 ms). Records of one batch arrive in order.
	ArrivalDelay time.Duration
}

// Batch is one Kinesis invocation and what it contains.
type Batch struct {
	// Event is the document Lambda would send, in aws-lambda-go's types.
	Event events.KinesisEvent
	// Records lists every user record in delivery order: a plain Kinesis
	// record is one user record, an aggregate is several.
	Records []BatchRecord
}

// BatchRecord is one user record of a Batch.
type BatchRecord struct {
	SequenceNumber string
	// SubIndex is the record's index inside its KPL aggregate; -1 for a
	// plain record.
	SubIndex     int
	PartitionKey string
	Payload      []byte
	// Malformed is the MalformedKinds entry for a bad record, "" otherwise.
	Malformed string
	// Event is the decoded event of a good record (including duplicates).
	Event activity.Event
	// Duplicate marks a producer duplicate: Event's eventId was sent before.
	Duplicate bool
}

// JSON is the invocation document, as Lambda sends it: the shape of
// events.KinesisEvent, with approximateArrivalTimestamp in seconds with
// millisecond precision (1545084650.987), as AWS writes it.
// (events.SecondsEpochTime would write float noise: 1545084650.9869998.)
func (b Batch) JSON() []byte {
	type kinesis struct {
		events.KinesisRecord
		ApproximateArrivalTimestamp json.Number `json:"approximateArrivalTimestamp"`
	}
	type record struct {
		events.KinesisEventRecord
		Kinesis kinesis `json:"kinesis"`
	}
	doc := struct {
		Records []record `json:"Records"`
	}{Records: make([]record, len(b.Event.Records))}
	for i, r := range b.Event.Records {
		millis := r.Kinesis.ApproximateArrivalTimestamp.UnixMilli()
		doc.Records[i] = record{KinesisEventRecord: r, Kinesis: kinesis{
			KinesisRecord:               r.Kinesis,
			ApproximateArrivalTimestamp: json.Number(strconv.FormatFloat(float64(millis)/1000, 'f', -1, 64)),
		}}
	}
	out, err := json.Marshal(doc)
	if err != nil { // only plain strings, []byte and numbers: cannot fail
		panic(fmt.Sprintf("eventgen: marshalling a Kinesis event: %v", err))
	}
	return out
}

type shardState struct {
	prefix  string // the digits that stay the same within the shard
	counter uint64 // the digits that grow
}

type recentEvent struct {
	ev      activity.Event
	payload []byte
}

// sequenceNumber returns the shard's next sequence number: 56 decimal
// digits, like Kinesis's, strictly increasing within the shard and with
// irregular steps, as real ones have.
func (g *Generator) sequenceNumber(shardID string) string {
	s, ok := g.shards[shardID]
	if !ok {
		h := hashString(shardID)
		s = &shardState{prefix: fmt.Sprintf("4966%016d%016d", mix64(h)%1e16, mix64(h+1)%1e16), counter: mix64(h+2) % 1e17}
		g.shards[shardID] = s
	}
	s.counter += 1 + uint64(g.rng.intn(1<<20))
	return fmt.Sprintf("%s%020d", s.prefix, s.counter)
}

// Batch builds the next invocation document. Its valid events continue the
// generator's stream (Next), so successive batches continue one history.
func (g *Generator) Batch(opts BatchOptions) Batch {
	if opts.Records <= 0 {
		opts.Records = 100
	}
	if opts.ShardID == "" {
		opts.ShardID = "shardId-000000000000"
	}
	if opts.StreamARN == "" {
		opts.StreamARN = "arn:aws:kinesis:us-east-1:123456789012:stream/streamfn-dev"
	}
	if opts.FunctionRoleARN == "" {
		opts.FunctionRoleARN = "arn:aws:iam::123456789012:role/streamfn-dev-processor"
	}
	if opts.ArrivalDelay == 0 {
		opts.ArrivalDelay = 150 * time.Millisecond
	}
	region := "us-east-1"
	if parsed, err := arn.Parse(opts.StreamARN); err == nil && parsed.Region != "" {
		region = parsed.Region
	}
	perRecord := 1
	if opts.Aggregate > 1 {
		perRecord = opts.Aggregate
	}

	var batch Batch
	var lastTS time.Time
	for range opts.Records {
		seq := g.sequenceNumber(opts.ShardID)
		subs := make([]BatchRecord, perRecord)
		for i := range subs {
			subs[i] = g.userRecord(opts, seq)
			if perRecord > 1 {
				subs[i].SubIndex = i
			}
			if !subs[i].Event.TS.IsZero() {
				lastTS = subs[i].Event.TS
			}
		}
		if lastTS.IsZero() {
			lastTS = g.start
		}
		data, partitionKey := subs[0].Payload, subs[0].PartitionKey
		if perRecord > 1 {
			kr := make([]kpl.Record, len(subs))
			for i, s := range subs {
				kr[i] = kpl.Record{PartitionKey: []byte(s.PartitionKey), Data: s.Payload}
			}
			data = kpl.Aggregate(kr)
		}
		batch.Records = append(batch.Records, subs...)
		batch.Event.Records = append(batch.Event.Records, events.KinesisEventRecord{
			AwsRegion:         region,
			EventID:           opts.ShardID + ":" + seq,
			EventName:         "aws:kinesis:record",
			EventSource:       "aws:kinesis",
			EventSourceArn:    opts.StreamARN,
			EventVersion:      "1.0",
			InvokeIdentityArn: opts.FunctionRoleARN,
			Kinesis: events.KinesisRecord{
				ApproximateArrivalTimestamp: events.SecondsEpochTime{Time: lastTS.Add(opts.ArrivalDelay).Truncate(time.Millisecond)},
				Data:                        data,
				EncryptionType:              "KMS",
				PartitionKey:                partitionKey,
				SequenceNumber:              seq,
				KinesisSchemaVersion:        "1.0",
			},
		})
	}
	return batch
}

func (g *Generator) userRecord(opts BatchOptions, seq string) BatchRecord {
	rec := BatchRecord{SequenceNumber: seq, SubIndex: -1}
	switch pick := g.rng.float(); {
	case pick < opts.BadFraction:
		rec.Payload, rec.Malformed = g.Malformed()
		// Bad records keep a realistic partition key: the client meant some user.
		rec.PartitionKey = UserID(g.rng.intn(len(g.users)))
	case pick < opts.BadFraction+opts.DuplicateFraction && len(g.recent) > 0:
		again := g.recent[g.rng.intn(len(g.recent))]
		rec.Event, rec.Payload, rec.Duplicate = again.ev, again.payload, true
		rec.PartitionKey = again.ev.UserID
	default:
		rec.Event, rec.Payload = g.NextJSON()
		rec.PartitionKey = rec.Event.UserID
		const keep = 32
		if len(g.recent) == keep {
			copy(g.recent, g.recent[1:])
			g.recent = g.recent[:keep-1]
		}
		g.recent = append(g.recent, recentEvent{rec.Event, rec.Payload})
	}
	return rec
}
