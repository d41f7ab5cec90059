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

	"github.com/streamfn/streamfn/internal/aws/store"
	"github.com/streamfn/streamfn/internal/features"
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
		first, err := p.Process(t.Context(), payload)
		if err != nil || first.FailedSequenceNumber != "1000" {
			t.Fatalf("n=%d: first delivery %+v, %v; want a failure at u-y's record", n, first, err)
		}
		again, err := p.Process(t.Context(), payload) // Lambda resumes at the failure: the whole batch
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
	p := New(Config{TableName: "features", PoisonQueueURL: "poison", Horizons: features.Horizons{Duplicate: 60}}, Deps{Store: mem, Poison: &queue{}})
	for from := 0; from < len(records); from += 50 {
		if out, err := p.Process(t.Context(), kinesisEvent(t, records[from:from+50])); err != nil || out.Applied != 50 {
			t.Fatalf("%+v, %v", out, err)
		}
	}
	// The retry of events 0..9, resent 45 s after they first arrived.
	var retry []kinesisRecord
	for i := range 10 {
		retry = append(retry, kinesisRecord{pk: "u", seq: fmt.Sprint(2000 + i), data: viewJSON(fmt.Sprint("e-", i), "u"), arrival: at.Add(45 * time.Second)})
	}
	out, err := p.Process(t.Context(), kinesisEvent(t, retry))
	if err != nil || out.DuplicatesSkipped != 10 || out.Applied != 0 {
		t.Fatalf("late retry: %+v, %v; want 10 duplicates skipped", out, err)
	}
	if got := mem.Item("u").EventCount; got != 300 {
		t.Fatalf("count %d, want 300", got)
	}
	// The duplicates moved their entries to their own arrival, so a
	// redelivery of them finds them: one write, of the item's size.
	if item := mem.Item("u"); item.Bytes < 300*21 || out.MaxItemBytes != item.Bytes || out.Writes != 1 {
		t.Fatalf("item of %d bytes for 300 events within the horizon; outcome %+v", item.Bytes, out)
	}
}

// A redelivered producer duplicate: the first delivery skips D (its
// original O is in the set) and applies X, whose arrival ages O's entry
// out. When Lambda redelivers the batch (another user failed), D must still
// be skipped: its entry moved to D's own arrival when D was skipped.
func TestRedeliveredDuplicateStaysSkipped(t *testing.T) {
	a := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	mem := &store.Memory{}
	p := New(Config{TableName: "features", PoisonQueueURL: "poison", Horizons: features.Horizons{Duplicate: 900, Redelivery: 3600}}, Deps{Store: &failOnce{Store: mem, users: map[string]bool{"u-y": true}}, Poison: &queue{}})

	if _, err := p.Process(t.Context(), kinesisEvent(t, []kinesisRecord{
		{pk: "u-x", seq: "900", data: viewJSON("O", "u-x"), arrival: a},
	})); err != nil {
		t.Fatal(err)
	}
	batch := kinesisEvent(t, []kinesisRecord{
		{pk: "u-y", seq: "1000", data: viewJSON("Y", "u-y"), arrival: a.Add(890 * time.Second)},
		{pk: "u-x", seq: "1001", data: viewJSON("O", "u-x"), arrival: a.Add(890 * time.Second)}, // D: the client's retry of O
		{pk: "u-x", seq: "1002", data: viewJSON("X", "u-x"), arrival: a.Add((900 + features.LagAllowance + 5) * time.Second)},
	})
	if first, err := p.Process(t.Context(), batch); err != nil || first.FailedSequenceNumber != "1000" {
		t.Fatalf("first delivery: %+v, %v", first, err)
	}
	again, err := p.Process(t.Context(), batch)
	if err != nil || again.FailedSequenceNumber != "" {
		t.Fatalf("redelivery: %+v, %v", again, err)
	}
	if got := mem.Item("u-x").EventCount; got != 2 {
		t.Errorf("u-x counted %d events, want 2 (O and X); redelivery %+v", got, again)
	}
}

// The redrive tool marks its invocations; the response then says what the
// replay did, and counts what the processor could not vouch for.
func TestRedriveReport(t *testing.T) {
	a := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	mem := &store.Memory{}
	p := New(Config{TableName: "features", PoisonQueueURL: "poison", Horizons: features.Horizons{Duplicate: 60, Redelivery: 60}}, Deps{Store: mem, Poison: &queue{}})
	gaveUp := []kinesisRecord{{pk: "u", seq: "101", data: viewJSON("e101", "u"), arrival: a.Add(time.Second)}}
	for _, b := range [][]kinesisRecord{
		{{pk: "u", seq: "100", data: viewJSON("e100", "u"), arrival: a}},
		// 101 was given up; 102 applied an hour later.
		{{pk: "u", seq: "102", data: viewJSON("e102", "u"), arrival: a.Add(time.Hour)}},
	} {
		if _, err := p.Invoke(t.Context(), kinesisEvent(t, b)); err != nil {
			t.Fatal(err)
		}
	}
	// Not a redrive: the plain response, exactly.
	plain, _ := p.Invoke(t.Context(), kinesisEvent(t, gaveUp))
	if string(plain) != `{"batchItemFailures":[]}` {
		t.Fatalf("plain response %s", plain)
	}
	resp, err := p.Invoke(redriveContext(t.Context()), kinesisEvent(t, append(gaveUp, kinesisRecord{pk: "u", seq: "103", data: viewJSON("e103", "u"), arrival: a.Add(time.Hour)})))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"batchItemFailures":[],"redrive":{"applied":1,"recovered":0,"skipped":1,"beyondHorizon":1,"poison":0}}`
	if string(resp) != want {
		t.Fatalf("redrive response\n got  %s\n want %s", resp, want)
	}
}
