package processor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamfn/streamfn/internal/features"
	"github.com/streamfn/streamfn/internal/store"
)

// failOnce wraps a store and fails the first Save of each user in users.
type failOnce struct {
	store.Store
	mu    sync.Mutex
	users map[string]bool
}

func (f *failOnce) Save(ctx context.Context, item *features.Item) error {
	f.mu.Lock()
	fail := f.users[item.UserID]
	delete(f.users, item.UserID)
	f.mu.Unlock()
	if fail {
		return errors.New("InternalServerError: injected")
	}
	return f.Store.Save(ctx, item)
}

// kinesisRecord is one plain record of a test event: data is an activity
// event's JSON, arrival its ApproximateArrivalTimestamp.
type kinesisRecord struct {
	pk, seq, data string
	arrival       time.Time
}

func kinesisEvent(t *testing.T, records []kinesisRecord) []byte {
	t.Helper()
	var ev events.KinesisEvent
	for _, r := range records {
		ev.Records = append(ev.Records, events.KinesisEventRecord{
			EventSource: "aws:kinesis", EventVersion: "1.0", EventName: "aws:kinesis:record", AwsRegion: "us-east-1",
			EventID:           "shardId-000000000000:" + r.seq,
			EventSourceArn:    "arn:aws:kinesis:us-east-1:123456789012:stream/streamfn-dev",
			InvokeIdentityArn: "arn:aws:iam::123456789012:role/streamfn-dev-processor",
			Kinesis: events.KinesisRecord{
				KinesisSchemaVersion: "1.0", PartitionKey: r.pk, SequenceNumber: r.seq, Data: []byte(r.data),
				ApproximateArrivalTimestamp: events.SecondsEpochTime{Time: r.arrival},
			},
		})
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func viewJSON(eventID, userID string) string {
	return fmt.Sprintf(`{"eventId":%q,"userId":%q,"type":"view","productId":"p1","ts":"2026-11-26T12:00:00Z"}`, eventID, userID)
}

// The fault of issue 9, case 1: one event of u-y, then n of u-x, each under
// its own random partition key. u-y's first write fails, the response names
// u-y's sequence number, and Lambda redelivers the whole batch. Before the
// Seen set, u-x counted 168 of 100 events (an item kept marks for 32 lanes,
// and a 64-id window was the only fallback).
func TestRandomPartitionKeysRedelivered(t *testing.T) {
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for _, n := range []int{64, 65, 100, 500} {
		records := []kinesisRecord{{pk: "pk-y", seq: "1000", data: viewJSON("y-0", "u-y"), arrival: at}}
		for i := range n {
			records = append(records, kinesisRecord{pk: fmt.Sprintf("random-%d", i), seq: fmt.Sprint(1001 + i),
				data: viewJSON(fmt.Sprint("x-", i), "u-x"), arrival: at.Add(time.Duration(i) * time.Millisecond)})
		}
		payload := kinesisEvent(t, records)
		mem := &store.Memory{}
		p := newProcessor(&failOnce{Store: mem, users: map[string]bool{"u-y": true}}, &queue{})
		first, err := p.Process(context.Background(), payload)
		if err != nil || first.FailedSequenceNumber != "1000" {
			t.Fatalf("n=%d: first delivery %+v, %v; want a failure at u-y's record", n, first, err)
		}
		again, err := p.Process(context.Background(), payload) // Lambda resumes at the failure: the whole batch
		if err != nil || again.FailedSequenceNumber != "" {
			t.Fatalf("n=%d: redelivery %+v, %v", n, again, err)
		}
		if got := mem.Item("u-x").EventCount; got != int64(n) {
			t.Fatalf("n=%d: u-x counted %d events, want %d", n, got, n)
		}
		if got := mem.Item("u-y").EventCount; got != 1 {
			t.Fatalf("n=%d: u-y counted %d", n, got)
		}
		if again.DuplicatesSkipped != n || again.Unverified != 0 {
			t.Fatalf("n=%d: redelivery %+v; want %d skipped by the Seen set", n, again, n)
		}
	}
}

// The fault of issue 9, case 2: a client's retry of a request that timed
// out lands after more than 64 events of the same user, under the userId
// partition key and a new sequence number. Within the horizon it is skipped.
func TestLateClientRetryIsADuplicate(t *testing.T) {
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	var records []kinesisRecord
	for i := range 300 { // ~6.6 events/s for 45 s, as in the local run
		records = append(records, kinesisRecord{pk: "u", seq: fmt.Sprint(1000 + i), data: viewJSON(fmt.Sprint("e-", i), "u"),
			arrival: at.Add(time.Duration(i) * 150 * time.Millisecond)})
	}
	mem := &store.Memory{}
	p := New(Config{TableName: "features", PoisonQueueURL: "poison", Horizons: features.Horizons{Duplicate: 60}}, mem, &queue{}, nil, nil)
	for from := 0; from < len(records); from += 50 {
		if out, err := p.Process(context.Background(), kinesisEvent(t, records[from:from+50])); err != nil || out.Applied != 50 {
			t.Fatalf("%+v, %v", out, err)
		}
	}
	// The retry of events 0..9, resent 45 s after they first arrived.
	var retry []kinesisRecord
	for i := range 10 {
		retry = append(retry, kinesisRecord{pk: "u", seq: fmt.Sprint(2000 + i), data: viewJSON(fmt.Sprint("e-", i), "u"), arrival: at.Add(45 * time.Second)})
	}
	out, err := p.Process(context.Background(), kinesisEvent(t, retry))
	if err != nil || out.DuplicatesSkipped != 10 || out.Applied != 0 {
		t.Fatalf("late retry: %+v, %v; want 10 duplicates skipped", out, err)
	}
	if got := mem.Item("u").EventCount; got != 300 {
		t.Fatalf("count %d, want 300", got)
	}
	if item := mem.Item("u"); item.Bytes < 300*21 || out.MaxItemBytes != 0 {
		t.Fatalf("item of %d bytes for 300 events within the horizon; outcome %+v", item.Bytes, out)
	}
}
