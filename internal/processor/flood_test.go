package processor

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/streamfn/streamfn/internal/aws/kpl"
	"github.com/streamfn/streamfn/internal/aws/poison"
	"github.com/streamfn/streamfn/internal/aws/store"
	"github.com/streamfn/streamfn/internal/dev/eventgen"
	"github.com/streamfn/streamfn/internal/features"
	"github.com/streamfn/streamfn/internal/lambdafn/telemetry"
)

// heapQueue is a poison.Sender that keeps what it is sent and the heap in
// use when it is called: the processor's peak, with every message built.
type heapQueue struct {
	queue
	heapAtSend uint64
}

func (q *heapQueue) Send(ctx context.Context, msgs []poison.Message) []error {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	q.heapAtSend = max(q.heapAtSend, m.HeapAlloc)
	return q.queue.Send(ctx, msgs)
}

// floodAggregate is a KPL aggregate of about size bytes whose n
// sub-records are all poison (not JSON), each under its own partition key.
func floodAggregate(n, size int) []byte {
	data := []byte(strings.Repeat("x", max(1, size/n-12)))
	subs := make([]kpl.Record, n)
	for i := range subs {
		subs[i] = kpl.Record{PartitionKey: fmt.Appendf(nil, "pk-%d", i%50), Data: data}
	}
	return kpl.Aggregate(subs)
}

// The smallest memory a stack may give the processor (processorMemoryMb).
const smallestMemoryMB = 128

// One bad KPL aggregate is one poison message, however many sub-records it
// holds, and the processor's heap stays far below the smallest memory a
// stack may give it: for one 1 MiB aggregate of tiny sub-records (refused
// whole beyond kpl.MaxRecords), one of exactly kpl.MaxRecords bad
// sub-records, and four such aggregates in one invocation (a 6 MB payload).
func TestKPLFloodIsOneMessagePerRecordWithinMemory(t *testing.T) {
	const mib = 1 << 20
	tooMany := floodAggregate(150_000, mib)
	atCap := floodAggregate(kpl.MaxRecords, mib)
	cases := []struct {
		name       string
		aggregates [][]byte
		listed     int // bad sub-records listed in each message
	}{
		{"1 MiB, 150000 sub-records", [][]byte{tooMany}, 0},
		{"1 MiB, MaxRecords bad sub-records", [][]byte{atCap}, kpl.MaxRecords},
		{"4 x 1 MiB in one invocation", [][]byte{atCap, atCap, atCap, tooMany}, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			payload := kinesisDoc(t, c.aggregates)
			q := &heapQueue{}
			p := newProcessor(&store.Memory{}, q)
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			out, err := p.Process(t.Context(), payload)
			if err != nil {
				t.Fatal(err)
			}
			if len(q.sent) != len(c.aggregates) || out.FailedSequenceNumber != "" {
				t.Fatalf("%d poison messages for %d bad Kinesis records (failed %q)", len(q.sent), len(c.aggregates), out.FailedSequenceNumber)
			}
			for i, m := range q.sent {
				if c.listed >= 0 && len(m.BadSubRecords) != c.listed {
					t.Errorf("message lists %d bad sub-records, want %d: %.200s", len(m.BadSubRecords), c.listed, m.Reason)
				}
				if m.Payload != string(c.aggregates[i]) {
					t.Errorf("payload is %d bytes, want the whole %d-byte aggregate", len(m.Payload), len(c.aggregates[i]))
				}
				if body := m.AppendJSON(nil, poison.MaxBodyBytes); len(body) > poison.MaxBodyBytes {
					t.Errorf("message body is %d bytes, over SQS's %d", len(body), poison.MaxBodyBytes)
				}
			}
			grown := float64(q.heapAtSend-min(q.heapAtSend, before.HeapAlloc)) / mib
			t.Logf("%s: payload %.1f MiB, %d messages, heap grew %.1f MiB by the send (HeapAlloc %.1f MiB)",
				c.name, float64(len(payload))/mib, len(q.sent), grown, float64(q.heapAtSend)/mib)
			if grown > smallestMemoryMB/2 {
				t.Errorf("heap grew %.1f MiB, more than half of the smallest function memory (%d MB)", grown, smallestMemoryMB)
			}
		})
	}
}

// A rejected or bad KPL sub-record is reported under its own partition
// key, not the aggregate's: in badSubRecords, and in the message of a
// purchase the merge rejects.
func TestSubRecordPoisonCarriesItsOwnPartitionKey(t *testing.T) {
	purchase := func(id string) []byte {
		return []byte(`{"eventId":"` + id + `","userId":"u1","type":"purchase","productId":"p","price":60000000000000000000000000000000,"ts":"2026-11-26T12:00:00Z"}`)
	}
	agg := kpl.Aggregate([]kpl.Record{
		{PartitionKey: []byte("pk-first"), Data: purchase("e1")},
		{PartitionKey: []byte("pk-second"), Data: purchase("e2")}, // pushes purchaseTotal past its bound
		{PartitionKey: []byte("pk-third"), Data: []byte("not json")},
	})
	q := &queue{}
	out, err := newProcessor(&store.Memory{}, q).Process(t.Context(), kinesisDoc(t, [][]byte{agg}))
	if err != nil {
		t.Fatal(err)
	}
	if len(q.sent) != 2 || out.Poison != 2 {
		t.Fatalf("%d messages (Poison %d): %+v; want the rejected purchase and the aggregate's bad sub-record", len(q.sent), out.Poison, q.sent)
	}
	for _, m := range q.sent {
		switch {
		case m.SubSequenceNumber == 1:
			if m.PartitionKey != "pk-second" || !strings.Contains(m.Reason, "purchaseTotal") {
				t.Errorf("rejected purchase reported as %+v; want partition key pk-second", m)
			}
		case m.SubSequenceNumber == -1:
			if len(m.BadSubRecords) != 1 || m.BadSubRecords[0].PartitionKey != "pk-third" || m.BadSubRecords[0].SubSequenceNumber != 2 {
				t.Errorf("bad sub-records %+v; want sub-record 2 under pk-third", m.BadSubRecords)
			}
		default:
			t.Errorf("unexpected message %+v", m)
		}
	}
}

// unreadable is a store whose item of one user another tool wrote: Load
// returns the other users with a *store.UnreadableError naming it.
type unreadable struct {
	store.Store
	user string
}

func (u *unreadable) Load(ctx context.Context, ids []string) (map[string]*features.Item, error) {
	items, err := u.Store.Load(ctx, ids)
	if err != nil || !slices.Contains(ids, u.user) {
		return items, err
	}
	delete(items, u.user)
	return items, &store.UnreadableError{Table: "features", Users: map[string]error{u.user: errors.New("purchaseTotal: want a number (N)")}}
}

// One unreadable item fails its user alone: the other users of its
// BatchGetItem chunk are written, and the response names the bad user's
// first record.
func TestUnreadableItemFailsOnlyItsUser(t *testing.T) {
	b := batch(21, eventgen.BatchOptions{Records: 200})
	bad := b.Records[0].Event.UserID
	st := &store.Memory{}
	out, err := newProcessor(&unreadable{Store: st, user: bad}, &queue{}).Process(t.Context(), b.JSON())
	if err != nil {
		t.Fatal(err)
	}
	if out.UsersFailed != 1 || out.FailedSequenceNumber != b.Records[0].SequenceNumber {
		t.Fatalf("%d users failed, failed sequence %q; want only %s, from its first record %s", out.UsersFailed, out.FailedSequenceNumber, bad, b.Records[0].SequenceNumber)
	}
	if st.Item(bad) != nil || st.Len() != out.Users-1 {
		t.Fatalf("%d items stored for %d users; want every user but %s", st.Len(), out.Users, bad)
	}
}

// A user whose events hit a per-user cap is counted in UserCapHits (the
// metric the processor-user-caps alarm watches) and logged with the
// userId: categories beyond features.MaxCategories and a purchase beyond
// purchaseTotal's range.
func TestUserCapHitsAreCountedAndLogged(t *testing.T) {
	var records [][]byte
	for i := range features.MaxCategories + 3 {
		records = append(records, fmt.Appendf(nil, `{"eventId":"c%d","userId":"junk","type":"view","productId":"p","category":"c%d","ts":"2026-11-26T12:00:00Z"}`, i, i))
	}
	for i := range 2 {
		records = append(records, fmt.Appendf(nil, `{"eventId":"b%d","userId":"rich","type":"purchase","productId":"p","price":60000000000000000000000000000000,"ts":"2026-11-26T12:00:00Z"}`, i))
	}
	var logs, metrics strings.Builder
	log := telemetry.NewLogger(&logs, func(string) string { return "" })
	p := New(Config{TableName: "features", PoisonQueueURL: "poison"}, Deps{Store: &store.Memory{}, Poison: &queue{}, Logger: log, Metrics: &metrics})
	out, err := p.Process(t.Context(), kinesisDoc(t, records))
	if err != nil {
		t.Fatal(err)
	}
	if out.UserCapHits != 4 || out.Poison != 1 {
		t.Fatalf("UserCapHits %d, Poison %d; want 3 categories and 1 purchase over the caps, the purchase poisoned", out.UserCapHits, out.Poison)
	}
	for _, user := range []string{"userId=junk", "userId=rich"} {
		if !strings.Contains(logs.String(), UserCapMessage) || !strings.Contains(logs.String(), user) {
			t.Errorf("no %q log line naming %s:\n%s", UserCapMessage, user, logs.String())
		}
	}
	if !strings.Contains(metrics.String(), `"UserCapHits":4`) {
		t.Errorf("EMF line lacks UserCapHits 4: %s", metrics.String())
	}
}

// Logs at INFO and above carry no value of an event beyond its userId: a
// poison record's reason, which quotes the bad value, is logged at DEBUG
// only (it is in the poison queue's message).
func TestInfoLogsCarryNoEventValues(t *testing.T) {
	const secret = "session-of-a-real-person"
	bad := []byte(`{"eventId":"e1","userId":"u1","type":"` + secret + `","productId":"p","ts":"2026-11-26T12:00:00Z"}`)
	for level, wantSecret := range map[string]bool{"INFO": false, "DEBUG": true} {
		var logs strings.Builder
		log := telemetry.NewLogger(&logs, func(name string) string {
			return map[string]string{"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": level}[name]
		})
		q := &queue{}
		p := New(Config{TableName: "features", PoisonQueueURL: "poison"}, Deps{Store: &store.Memory{}, Poison: q, Logger: log})
		if _, err := p.Process(t.Context(), kinesisDoc(t, [][]byte{bad})); err != nil {
			t.Fatal(err)
		}
		if len(q.sent) != 1 || !strings.Contains(q.sent[0].Reason, secret) {
			t.Fatalf("poison messages %+v: want the reason, with the value, in the queue", q.sent)
		}
		if got := strings.Contains(logs.String(), secret); got != wantSecret {
			t.Errorf("at %s the logs hold the event's value: %v, want %v\n%s", level, got, wantSecret, logs.String())
		}
	}
}
