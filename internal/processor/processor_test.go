package processor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamfn/streamfn/internal/activity"
	"github.com/streamfn/streamfn/internal/aws/kpl"
	"github.com/streamfn/streamfn/internal/aws/poison"
	"github.com/streamfn/streamfn/internal/aws/store"
	"github.com/streamfn/streamfn/internal/dev/eventgen"
	"github.com/streamfn/streamfn/internal/features"
	"github.com/streamfn/streamfn/internal/lambdafn/telemetry"
)

// queue is a poison.Sender that keeps what it is sent and can refuse
// messages whose sequence number is in refuse.
type queue struct {
	mu     sync.Mutex
	sent   []poison.Message
	refuse map[string]bool
}

func (q *queue) Send(_ context.Context, msgs []poison.Message) []error {
	q.mu.Lock()
	defer q.mu.Unlock()
	var errs []error
	for i, m := range msgs {
		if q.refuse[m.SequenceNumber] {
			if errs == nil {
				errs = make([]error, len(msgs))
			}
			errs[i] = errors.New("queue refused it")
			continue
		}
		q.sent = append(q.sent, m)
	}
	return errs
}

// flaky wraps a store and fails every Save of the users in failSaves.
type flaky struct {
	store.Store
	failSaves map[string]bool
}

func (f *flaky) Save(ctx context.Context, item *features.Item) error {
	if f.failSaves[item.UserID] {
		return errors.New("ProvisionedThroughputExceededException: injected")
	}
	return f.Store.Save(ctx, item)
}

func newProcessor(st store.Store, q poison.Sender) *Processor {
	return New(Config{TableName: "features", PoisonQueueURL: "poison"}, Deps{Store: st, Poison: q})
}

func batch(seed int64, opts eventgen.BatchOptions) eventgen.Batch {
	return eventgen.New(eventgen.Options{Seed: seed, Users: 20}).Batch(opts)
}

// expected computes each user's features from a batch's good records the
// obvious way, with no idempotency machinery: the oracle for Process.
func expected(b eventgen.Batch) map[string]*features.Item {
	items := map[string]*features.Item{}
	seen := map[string]bool{}
	for _, r := range b.Records {
		if r.Malformed != "" || seen[r.Event.EventID] {
			continue
		}
		seen[r.Event.EventID] = true
		ev := r.Event
		it := items[ev.UserID]
		if it == nil {
			it = features.NewItem(ev.UserID)
			items[ev.UserID] = it
		}
		it.EventCount++
		it.TypeCounts[ev.Type-1]++
		if ev.Category != "" {
			it.CategoryCounts[ev.Category]++
		}
		if ev.TS.After(it.LastEventAt) {
			it.LastEventAt = ev.TS
		}
		if ev.Type == activity.Purchase {
			a, _ := features.PurchaseAmount(ev.Price, ev.Quantity)
			it.PurchaseTotal, _ = it.PurchaseTotal.Add(a)
		}
	}
	return items
}

func checkFeatures(t *testing.T, st *store.Memory, want map[string]*features.Item) {
	t.Helper()
	if st.Len() != len(want) {
		t.Fatalf("%d items stored, want %d", st.Len(), len(want))
	}
	for user, w := range want {
		got := st.Item(user)
		if got == nil {
			t.Fatalf("no item for %s", user)
		}
		if got.EventCount != w.EventCount || got.TypeCounts != w.TypeCounts || !reflect.DeepEqual(got.CategoryCounts, w.CategoryCounts) ||
			!got.LastEventAt.Equal(w.LastEventAt) || got.PurchaseTotal != w.PurchaseTotal {
			t.Fatalf("user %s:\n got  count %d types %v categories %v last %v total %s\n want count %d types %v categories %v last %v total %s",
				user, got.EventCount, got.TypeCounts, got.CategoryCounts, got.LastEventAt, got.PurchaseTotal,
				w.EventCount, w.TypeCounts, w.CategoryCounts, w.LastEventAt, w.PurchaseTotal)
		}
	}
}

func TestResponseBytes(t *testing.T) {
	for _, c := range []struct {
		failed   string
		windowed bool
		want     string
	}{
		{"", false, `{"batchItemFailures":[]}`},
		{"4959", false, `{"batchItemFailures":[{"itemIdentifier":"4959"}]}`},
		{"", true, `{"state":{},"batchItemFailures":[]}`},
		{"4959", true, `{"state":{},"batchItemFailures":[{"itemIdentifier":"4959"}]}`},
	} {
		got := AppendResponse(nil, c.failed, c.windowed)
		if string(got) != c.want {
			t.Errorf("AppendResponse(%q, %v) = %s, want %s", c.failed, c.windowed, got, c.want)
		}
		// What aws-lambda-go's response types read back.
		var resp events.KinesisTimeWindowEventResponse
		if err := json.Unmarshal(got, &resp); err != nil || (resp.State != nil) != c.windowed || len(resp.BatchItemFailures) != len(c.failed)/4 {
			t.Errorf("%s reads back as %+v (%v)", got, resp, err)
		}
	}
}

// A tumbling-window event is processed as any other, and the response
// carries the state Lambda requires of it.
func TestInvokeTumblingWindowEvent(t *testing.T) {
	b := batch(1, eventgen.BatchOptions{Records: 20})
	var doc map[string]any
	if err := json.Unmarshal(b.JSON(), &doc); err != nil {
		t.Fatal(err)
	}
	doc["window"] = map[string]string{"start": "2026-11-26T12:00:00Z", "end": "2026-11-26T12:01:00Z"}
	doc["state"] = map[string]string{}
	doc["isFinalInvokeForWindow"] = false
	payload, _ := json.Marshal(doc)

	st := &store.Memory{}
	proc := New(Config{TableName: "t", PoisonQueueURL: "q"}, Deps{Store: st, Poison: &queue{}})
	resp, err := proc.Invoke(t.Context(), payload)
	if err != nil {
		t.Fatal(err)
	}
	if string(resp) != `{"state":{},"batchItemFailures":[]}` {
		t.Fatalf("response %s; want the empty state and no failures", resp)
	}
	checkFeatures(t, st, expected(b))
	plain, err := proc.Invoke(t.Context(), b.JSON())
	if err != nil || string(plain) != `{"batchItemFailures":[]}` {
		t.Fatalf("the next, plain event answered %s (%v); want no state", plain, err)
	}
}

func TestInvokeAppliesBatch(t *testing.T) {
	b := batch(1, eventgen.BatchOptions{Records: 300})
	st := &store.Memory{}
	out, err := newProcessor(st, &queue{}).Invoke(t.Context(), b.JSON())
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `{"batchItemFailures":[]}` {
		t.Fatalf("response = %s", out)
	}
	checkFeatures(t, st, expected(b))
}

func TestSameBatchTwiceGivesSameItems(t *testing.T) {
	b := batch(2, eventgen.BatchOptions{Records: 200, DuplicateFraction: 0.1})
	st := &store.Memory{}
	p := newProcessor(st, &queue{})
	first, err := p.Process(t.Context(), b.JSON())
	if err != nil {
		t.Fatal(err)
	}
	snapshot := map[string]*features.Item{}
	for user := range expected(b) {
		snapshot[user] = st.Item(user)
	}
	second, err := p.Process(t.Context(), b.JSON())
	if err != nil {
		t.Fatal(err)
	}
	if second.Writes != 0 || second.Applied != 0 || second.ReplaysSkipped != first.Valid {
		t.Fatalf("second delivery: %+v; want no writes and every record a replay", second)
	}
	for user, want := range snapshot {
		if got := st.Item(user); !reflect.DeepEqual(got, want) {
			t.Fatalf("user %s changed on redelivery", user)
		}
	}
	checkFeatures(t, st, expected(b))
}

func TestRetryFromTheMiddle(t *testing.T) {
	b := batch(3, eventgen.BatchOptions{Records: 200})
	st := &store.Memory{}
	p := newProcessor(st, &queue{})
	if _, err := p.Process(t.Context(), b.JSON()); err != nil {
		t.Fatal(err)
	}
	// Lambda restarts from a reported failure at record 80: it delivers
	// records 80.. again. (This also proves that nothing stored keeps
	// memory the processor reuses for the next invocation.)
	retry := b
	retry.Event.Records = b.Event.Records[80:]
	out, err := p.Process(t.Context(), retry.JSON())
	if err != nil {
		t.Fatal(err)
	}
	if out.Applied != 0 || out.ReplaysSkipped != 120 {
		t.Fatalf("retry: %+v; want 120 replays", out)
	}
	checkFeatures(t, st, expected(b))
}

func TestProducerDuplicatesCountOnce(t *testing.T) {
	b := batch(4, eventgen.BatchOptions{Records: 300, DuplicateFraction: 0.2})
	dups := 0
	for _, r := range b.Records {
		if r.Duplicate {
			dups++
		}
	}
	if dups < 20 {
		t.Fatalf("the batch has only %d duplicates", dups)
	}
	st := &store.Memory{}
	out, err := newProcessor(st, &queue{}).Process(t.Context(), b.JSON())
	if err != nil {
		t.Fatal(err)
	}
	if out.DuplicatesSkipped != dups {
		t.Fatalf("duplicates skipped = %d, want %d", out.DuplicatesSkipped, dups)
	}
	checkFeatures(t, st, expected(b))
}

func TestPoisonRecords(t *testing.T) {
	b := batch(5, eventgen.BatchOptions{Records: 120, BadFraction: 0.25})
	q := &queue{}
	st := &store.Memory{}
	out, err := newProcessor(st, q).Invoke(t.Context(), b.JSON())
	if err != nil || string(out) != `{"batchItemFailures":[]}` {
		t.Fatalf("response %s, %v: poison records must never fail the batch", out, err)
	}
	var bad []eventgen.BatchRecord
	for _, r := range b.Records {
		if r.Malformed != "" {
			bad = append(bad, r)
		}
	}
	if len(q.sent) != len(bad) {
		t.Fatalf("%d poison messages, want %d", len(q.sent), len(bad))
	}
	kinds := map[string]bool{}
	for i, m := range q.sent {
		r := bad[i]
		kinds[r.Malformed] = true
		if m.SequenceNumber != r.SequenceNumber || m.Payload != string(r.Payload) || m.ShardID != "shardId-000000000000" ||
			m.PartitionKey != r.PartitionKey || m.SubSequenceNumber != -1 || m.Reason == "" {
			t.Fatalf("message %d = %+v\nfor record %+v", i, m, r)
		}
		if m.ApproximateArrivalTimestamp.IsZero() {
			t.Fatalf("message %d has no arrival time", i)
		}
	}
	if len(kinds) != len(eventgen.MalformedKinds) {
		t.Fatalf("only %d of %d kinds of bad record covered", len(kinds), len(eventgen.MalformedKinds))
	}
	checkFeatures(t, st, expected(b))
}

func TestPoisonReasons(t *testing.T) {
	g := eventgen.New(eventgen.Options{Seed: 9})
	want := map[string]string{
		"not JSON": "invalid JSON", "not UTF-8": "not a JSON object", "not a JSON object": "not a JSON object",
		"eventId missing": "eventId:", "eventId too long": "eventId:", "userId missing": "userId:", "type not allowed": "type:",
		"productId missing": "productId:", "price negative": "price:", "quantity not an integer": "quantity:",
		"ts not RFC 3339": "ts:", "over the size limit": "at most 32768",
	}
	for range eventgen.MalformedKinds {
		payload, kind := g.Malformed()
		doc := kinesisDoc(t, [][]byte{payload})
		q := &queue{}
		if _, err := newProcessor(&store.Memory{}, q).Process(t.Context(), doc); err != nil {
			t.Fatal(err)
		}
		if len(q.sent) != 1 || !strings.Contains(q.sent[0].Reason, want[kind]) {
			t.Errorf("%s: poison %+v, want a reason containing %q", kind, q.sent, want[kind])
		}
	}
}

// kinesisDoc wraps payloads into a one-shard invocation with sequence
// numbers 100, 200, ...
func kinesisDoc(t *testing.T, payloads [][]byte) []byte {
	t.Helper()
	type rec struct {
		EventID        string         `json:"eventID"`
		EventSourceARN string         `json:"eventSourceARN"`
		AWSRegion      string         `json:"awsRegion"`
		Kinesis        map[string]any `json:"kinesis"`
	}
	var doc struct {
		Records []rec `json:"Records"`
	}
	for i, p := range payloads {
		seq := fmt.Sprint((i + 1) * 100)
		doc.Records = append(doc.Records, rec{EventID: "shardId-000000000000:" + seq, EventSourceARN: "arn", AWSRegion: "us-east-1",
			Kinesis: map[string]any{"sequenceNumber": seq, "partitionKey": "k", "data": p, "approximateArrivalTimestamp": 1795694400.5}})
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPoisonQueueDownFailsTheRecord(t *testing.T) {
	b := batch(6, eventgen.BatchOptions{Records: 60, BadFraction: 0.2})
	var firstBad, secondBad string
	for _, r := range b.Records {
		if r.Malformed != "" {
			if firstBad == "" {
				firstBad = r.SequenceNumber
			} else if secondBad == "" {
				secondBad = r.SequenceNumber
			}
		}
	}
	q := &queue{refuse: map[string]bool{secondBad: true}}
	out, err := newProcessor(&store.Memory{}, q).Invoke(t.Context(), b.JSON())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"batchItemFailures":[{"itemIdentifier":"` + secondBad + `"}]}`
	if string(out) != want {
		t.Fatalf("response = %s, want %s", out, want)
	}
	if len(q.sent) == 0 || q.sent[0].SequenceNumber != firstBad {
		t.Fatal("the poison records the queue took must still be sent")
	}
}

func TestPartialFailureNamesLowestSequence(t *testing.T) {
	b := batch(7, eventgen.BatchOptions{Records: 200})
	// Fail two users; the response must name the lower of their first records.
	var users []string
	first := map[string]string{}
	for _, r := range b.Records {
		if _, ok := first[r.Event.UserID]; !ok {
			first[r.Event.UserID] = r.SequenceNumber
			users = append(users, r.Event.UserID)
		}
	}
	failing := map[string]bool{users[3]: true, users[7]: true}
	mem := &store.Memory{}
	p := newProcessor(&flaky{Store: mem, failSaves: failing}, &queue{})
	out, err := p.Invoke(t.Context(), b.JSON())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"batchItemFailures":[{"itemIdentifier":"` + first[users[3]] + `"}]}`
	if string(out) != want {
		t.Fatalf("response = %s\nwant       %s", out, want)
	}
	// Everyone else was written.
	if mem.Len() != len(users)-2 || mem.Item(users[3]) != nil {
		t.Fatalf("%d items stored; want all but the 2 failing users", mem.Len())
	}
	// Lambda restarts from the failure; once the store recovers, the items
	// end exactly as if nothing had failed.
	retry := b
	for i, r := range b.Event.Records {
		if r.Kinesis.SequenceNumber == first[users[3]] {
			retry.Event.Records = b.Event.Records[i:]
		}
	}
	p = newProcessor(mem, &queue{})
	if out, err := p.Invoke(t.Context(), retry.JSON()); err != nil || string(out) != `{"batchItemFailures":[]}` {
		t.Fatalf("retry: %s, %v", out, err)
	}
	checkFeatures(t, mem, expected(b))
}

// conflicting is a store whose first Save for each user loses to another
// writer, which adds its own event to the item first.
type conflicting struct {
	*store.Memory
	once sync.Map
}

func (c *conflicting) Save(ctx context.Context, item *features.Item) error {
	if _, done := c.once.LoadOrStore(item.UserID, true); !done {
		other := features.NewItem(item.UserID)
		if stored := c.Memory.Item(item.UserID); stored != nil {
			other = stored
		}
		other.EventCount += 1000 // the other writer's change
		if err := c.Memory.Save(ctx, other); err != nil {
			return err
		}
	}
	return c.Memory.Save(ctx, item)
}

func TestWriteConflictIsRetried(t *testing.T) {
	b := batch(8, eventgen.BatchOptions{Records: 50})
	st := &conflicting{Memory: &store.Memory{}}
	out, err := newProcessor(st, &queue{}).Process(t.Context(), b.JSON())
	if err != nil {
		t.Fatal(err)
	}
	want := expected(b)
	if out.WriteConflicts != len(want) || out.FailedSequenceNumber != "" {
		t.Fatalf("%+v: want one conflict per user and no failure", out)
	}
	for user, w := range want {
		if got := st.Item(user).EventCount; got != w.EventCount+1000 {
			t.Fatalf("user %s: eventCount %d, want %d: the other writer's change was lost", user, got, w.EventCount+1000)
		}
	}
}

// slowLoads is a store whose reads last until less than margin is left.
type slowLoads struct {
	store.Store
	margin time.Duration
}

func (s slowLoads) Load(ctx context.Context, ids []string) (map[string]*features.Item, error) {
	deadline, _ := ctx.Deadline()
	time.Sleep(time.Until(deadline) - s.margin + 10*time.Millisecond)
	return s.Store.Load(ctx, ids)
}

func TestDeadlineStopsNewWork(t *testing.T) {
	b := batch(10, eventgen.BatchOptions{Records: 50})
	st := &store.Memory{}
	// The reads use up the time: with less than the margin left, no write
	// starts, and the response names the first record instead of timing out.
	const margin = 100 * time.Millisecond
	p := New(Config{TableName: "t", PoisonQueueURL: "q", DeadlineMargin: margin}, Deps{Store: slowLoads{Store: st, margin: margin}, Poison: &queue{}})
	ctx, cancel := context.WithTimeout(t.Context(), 4*margin)
	defer cancel()
	out, err := p.Invoke(ctx, b.JSON())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"batchItemFailures":[{"itemIdentifier":"` + b.Records[0].SequenceNumber + `"}]}`
	if string(out) != want || st.Len() != 0 {
		t.Fatalf("response %s with %d items written; want no writes and %s", out, st.Len(), want)
	}
}

func TestDeadlineMarginFitsShortTimeouts(t *testing.T) {
	b := batch(16, eventgen.BatchOptions{Records: 20})
	st := &store.Memory{}
	// A margin longer than the whole timeout must not stop all work.
	p := New(Config{TableName: "t", PoisonQueueURL: "q", DeadlineMargin: time.Minute}, Deps{Store: st, Poison: &queue{}})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if out, err := p.Invoke(ctx, b.JSON()); err != nil || string(out) != `{"batchItemFailures":[]}` {
		t.Fatalf("response %s, %v", out, err)
	}
	checkFeatures(t, st, expected(b))
}

func TestKPLAggregates(t *testing.T) {
	b := batch(11, eventgen.BatchOptions{Records: 30, Aggregate: 5, BadFraction: 0.1})
	q := &queue{}
	st := &store.Memory{}
	out, err := newProcessor(st, q).Process(t.Context(), b.JSON())
	if err != nil {
		t.Fatal(err)
	}
	if out.Records != 30 || out.UserRecords != 150 {
		t.Fatalf("%+v: want 30 Kinesis records holding 150 user records", out)
	}
	checkFeatures(t, st, expected(b))
	var bad []eventgen.BatchRecord
	for _, r := range b.Records {
		if r.Malformed != "" {
			bad = append(bad, r)
		}
	}
	// One message per Kinesis record with bad sub-records, listing them
	// in order, each with its own partition key.
	badOf := map[string][]eventgen.BatchRecord{}
	var order []string
	for _, r := range bad {
		if badOf[r.SequenceNumber] == nil {
			order = append(order, r.SequenceNumber)
		}
		badOf[r.SequenceNumber] = append(badOf[r.SequenceNumber], r)
	}
	if len(q.sent) != len(order) || len(bad) == 0 || out.Poison != len(bad) {
		t.Fatalf("%d poison messages (Poison %d) for %d bad sub-records in %d Kinesis records", len(q.sent), out.Poison, len(bad), len(order))
	}
	for i, m := range q.sent {
		want := badOf[order[i]]
		if m.SequenceNumber != order[i] || m.SubSequenceNumber != -1 || m.SubRecords != 5 || len(m.BadSubRecords) != len(want) {
			t.Fatalf("message %d = %+v, want the aggregate %s with %d bad sub-records", i, m, order[i], len(want))
		}
		if !kpl.IsAggregated([]byte(m.Payload)) {
			t.Fatalf("message %d: payload is not the whole aggregate", i)
		}
		for j, s := range m.BadSubRecords {
			if s.SubSequenceNumber != want[j].SubIndex || s.PartitionKey != want[j].PartitionKey || s.Reason == "" {
				t.Fatalf("message %d, bad sub-record %d = %+v, want sub-record %d under partition key %q", i, j, s, want[j].SubIndex, want[j].PartitionKey)
			}
		}
	}
	// Redelivery of aggregates: the (sequence number, sub-index) marks
	// skip the sub-records under their user's key, the Seen set the others.
	again, err := newProcessor(st, &queue{}).Process(t.Context(), b.JSON())
	if err != nil || again.Applied != 0 || again.ReplaysSkipped+again.DuplicatesSkipped != out.Valid || again.DuplicatesSkipped == 0 {
		t.Fatalf("redelivery: %+v, %v", again, err)
	}
}

func TestCorruptAggregateIsPoison(t *testing.T) {
	g := eventgen.New(eventgen.Options{Seed: 12})
	_, one := g.NextJSON()
	_, two := g.NextJSON()
	agg := kpl.Aggregate([]kpl.Record{{PartitionKey: []byte("a"), Data: one}, {PartitionKey: []byte("b"), Data: two}})
	agg[len(agg)-1] ^= 0xff // break the MD5 trailer
	q := &queue{}
	st := &store.Memory{}
	out, err := newProcessor(st, q).Process(t.Context(), kinesisDoc(t, [][]byte{agg}))
	if err != nil {
		t.Fatal(err)
	}
	if out.FailedSequenceNumber != "" || st.Len() != 0 || len(q.sent) != 1 {
		t.Fatalf("%+v, %d items, %d messages: want the whole aggregate as one poison record", out, st.Len(), len(q.sent))
	}
	m := q.sent[0]
	if !strings.Contains(m.Reason, "MD5") || m.SubSequenceNumber != -1 || m.Payload != string(agg) {
		t.Fatalf("message %+v", m)
	}
}

func TestNotAKinesisEvent(t *testing.T) {
	_, err := newProcessor(&store.Memory{}, &queue{}).Invoke(t.Context(), []byte(`{"Records":[{"body":"an SQS message"}]}`))
	if err == nil || !strings.Contains(err.Error(), "not a Kinesis event") {
		t.Fatalf("error = %v", err)
	}
}

func TestLogsAndMetrics(t *testing.T) {
	b := batch(13, eventgen.BatchOptions{Records: 40, BadFraction: 0.1, DuplicateFraction: 0.1})
	var logs, metrics bytes.Buffer
	env := map[string]string{"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "INFO"}
	logger := telemetry.NewLogger(&logs, func(k string) string { return env[k] })
	p := New(Config{TableName: "t", PoisonQueueURL: "q", FunctionName: "streamfn-dev-processor"}, Deps{Store: &store.Memory{}, Poison: &queue{}, Logger: logger, Metrics: &metrics})
	out, err := p.Process(t.Context(), b.JSON())
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		if entry["level"] == nil || entry["message"] == nil || entry["timestamp"] == nil {
			t.Fatalf("log line lacks Lambda's keys: %s", line)
		}
	}
	var emf map[string]any
	if err := json.Unmarshal(metrics.Bytes(), &emf); err != nil {
		t.Fatalf("metrics are not one EMF line: %q", metrics.String())
	}
	for name, want := range map[string]int{"Records": out.Records, "Valid": out.Valid, "Poison": out.Poison,
		"DuplicatesSkipped": out.DuplicatesSkipped, "Writes": out.Writes} {
		if got, ok := emf[name].(float64); !ok || int(got) != want {
			t.Errorf("EMF %s = %v, want %d", name, emf[name], want)
		}
	}
	if _, ok := emf["MaxRecordAgeMs"].(float64); !ok || emf["FunctionName"] != "streamfn-dev-processor" {
		t.Errorf("EMF line %s", metrics.String())
	}
	if out.Poison == 0 || out.DuplicatesSkipped == 0 || out.Writes == 0 {
		t.Fatalf("the batch should exercise every counter: %+v", out)
	}
}

func TestConfigFromEnv(t *testing.T) {
	_, err := ConfigFromEnv(func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), "TABLE_NAME") || !strings.Contains(err.Error(), "POISON_QUEUE_URL") {
		t.Fatalf("error = %v; want one error naming both required settings", err)
	}
	env := map[string]string{"TABLE_NAME": "t", "POISON_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/poison",
		"FEATURE_TTL_DAYS": "30", "TTL_ATTRIBUTE": "expiresAt", "WRITE_CONCURRENCY": "4"}
	cfg, err := ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.FeatureTTLDays != 30 || cfg.WriteConcurrency != 4 || cfg.MetricsNamespace != "streamfn" || cfg.DeadlineMargin != 3*time.Second {
		t.Fatalf("config %+v", cfg)
	}
	env["WRITE_CONCURRENCY"] = "0"
	if _, err := ConfigFromEnv(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "WRITE_CONCURRENCY") {
		t.Fatalf("error = %v; want WRITE_CONCURRENCY out of range", err)
	}
}

func TestTTLIsRefreshedOnWrite(t *testing.T) {
	b := batch(14, eventgen.BatchOptions{Records: 10})
	st := &store.Memory{}
	p := New(Config{TableName: "t", PoisonQueueURL: "q", FeatureTTLDays: 30}, Deps{Store: st, Poison: &queue{}})
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	p.now = func() time.Time { return now }
	if _, err := p.Process(t.Context(), b.JSON()); err != nil {
		t.Fatal(err)
	}
	want := now.Add(30 * 24 * time.Hour).Unix()
	for user := range expected(b) {
		if got := st.Item(user).ExpiresAt; got != want {
			t.Fatalf("user %s expires at %d, want %d", user, got, want)
		}
	}
}

// TestOutOfOrderBatch: Lambda delivers a shard's records in order, but a
// batch that is not (or repeats a record) must still apply each event once.
func TestOutOfOrderBatch(t *testing.T) {
	b := batch(15, eventgen.BatchOptions{Records: 60})
	shuffled := b
	shuffled.Event.Records = append([]events.KinesisEventRecord{}, b.Event.Records...)
	slices.Reverse(shuffled.Event.Records)
	shuffled.Event.Records = append(shuffled.Event.Records, b.Event.Records[10], b.Event.Records[20])
	st := &store.Memory{}
	out, err := newProcessor(st, &queue{}).Process(t.Context(), shuffled.JSON())
	if err != nil {
		t.Fatal(err)
	}
	if out.ReplaysSkipped != 2 || out.Applied != 60 {
		t.Fatalf("%+v: want 60 applied and the 2 repeats skipped", out)
	}
	checkFeatures(t, st, expected(b))
}

// TestTwoShardsInOneBatch: Lambda sends one shard per batch, but a batch
// mixing two must still apply every event once, keeping a mark per shard.
func TestTwoShardsInOneBatch(t *testing.T) {
	g := eventgen.New(eventgen.Options{Seed: 17, Users: 10})
	a := g.Batch(eventgen.BatchOptions{Records: 30, ShardID: "shardId-000000000001"})
	b := g.Batch(eventgen.BatchOptions{Records: 30, ShardID: "shardId-000000000002"})
	mixed := a
	mixed.Event.Records = nil
	mixed.Records = append(append([]eventgen.BatchRecord{}, a.Records...), b.Records...)
	for i := range 30 {
		mixed.Event.Records = append(mixed.Event.Records, b.Event.Records[i], a.Event.Records[i])
	}
	st := &store.Memory{}
	p := newProcessor(st, &queue{})
	if _, err := p.Process(t.Context(), mixed.JSON()); err != nil {
		t.Fatal(err)
	}
	checkFeatures(t, st, expected(mixed))
	again, err := p.Process(t.Context(), mixed.JSON())
	if err != nil || again.Applied != 0 || again.ReplaysSkipped != 60 {
		t.Fatalf("redelivery: %+v, %v", again, err)
	}
	for user := range expected(mixed) {
		if marks := st.Item(user).Marks; len(marks) == 0 || len(marks) > 2 {
			t.Fatalf("user %s has marks %v", user, marks)
		}
	}
}

// A purchase the merge rejects (the user's total would overflow) lies
// behind the mark the user's item is saved with, so a redelivery skips it.
// It must reach the poison queue in the invocation that saves that item,
// even when a lower record of another user fails and Lambda redelivers
// from there.
func TestRejectedPurchaseReachesPoisonDespiteLowerFailure(t *testing.T) {
	ts := `"ts":"2026-11-26T12:00:00Z"`
	doc := kinesisDoc(t, [][]byte{
		[]byte(`{"eventId":"b1","userId":"B","type":"search",` + ts + `}`),                                // seq 100
		[]byte(`{"eventId":"a1","userId":"A","type":"purchase","productId":"p","price":6e31,` + ts + `}`), // seq 200
		[]byte(`{"eventId":"a2","userId":"A","type":"purchase","productId":"p","price":6e31,` + ts + `}`), // seq 300: over 10^32
	})
	mem := &store.Memory{}
	q := &queue{}
	out, err := newProcessor(&flaky{Store: mem, failSaves: map[string]bool{"B": true}}, q).Invoke(t.Context(), doc)
	if err != nil || string(out) != `{"batchItemFailures":[{"itemIdentifier":"100"}]}` {
		t.Fatalf("first delivery answered %s (%v); want a failure at B's record 100", out, err)
	}
	if len(q.sent) != 1 || q.sent[0].SequenceNumber != "300" || !strings.Contains(q.sent[0].Reason, "purchaseTotal") {
		t.Fatalf("poison after the first delivery: %+v; want record 300, rejected for the purchase total", q.sent)
	}
	// Lambda redelivers from 100; the store has recovered.
	out, err = newProcessor(mem, q).Invoke(t.Context(), doc)
	if err != nil || string(out) != `{"batchItemFailures":[]}` {
		t.Fatalf("redelivery answered %s (%v)", out, err)
	}
	if len(q.sent) != 1 {
		t.Fatalf("poison after the redelivery: %+v; want record 300 once", q.sent)
	}
	if a := mem.Item("A"); a == nil || a.EventCount != 1 || a.PurchaseTotal.String() != "60000000000000000000000000000000" {
		t.Fatalf("A = %+v; want one purchase of 6e31 counted", a)
	}
	if b := mem.Item("B"); b == nil || b.EventCount != 1 {
		t.Fatalf("B = %+v; want its search counted on the redelivery", b)
	}
}

// When the poison queue refuses a rejected purchase, the user's item is not
// saved, so the redelivery rejects and sends it again.
func TestRejectedPurchaseNotSentKeepsTheItemUnsaved(t *testing.T) {
	ts := `"ts":"2026-11-26T12:00:00Z"`
	doc := kinesisDoc(t, [][]byte{
		[]byte(`{"eventId":"a1","userId":"A","type":"purchase","productId":"p","price":6e31,` + ts + `}`), // seq 100
		[]byte(`{"eventId":"a2","userId":"A","type":"purchase","productId":"p","price":6e31,` + ts + `}`), // seq 200
	})
	mem := &store.Memory{}
	q := &queue{refuse: map[string]bool{"200": true}}
	out, err := newProcessor(mem, q).Invoke(t.Context(), doc)
	if err != nil || string(out) != `{"batchItemFailures":[{"itemIdentifier":"100"}]}` {
		t.Fatalf("answered %s (%v); want a failure at A's first record", out, err)
	}
	if mem.Item("A") != nil {
		t.Fatal("A's item was saved past a rejected record the poison queue did not take")
	}
	q.refuse = nil
	if out, err := newProcessor(mem, q).Invoke(t.Context(), doc); err != nil || string(out) != `{"batchItemFailures":[]}` {
		t.Fatalf("redelivery answered %s (%v)", out, err)
	}
	if len(q.sent) != 1 || q.sent[0].SequenceNumber != "200" {
		t.Fatalf("poison %+v; want record 200 once", q.sent)
	}
	if a := mem.Item("A"); a == nil || a.EventCount != 1 {
		t.Fatalf("A = %+v; want the first purchase counted once", a)
	}
}

// With parallelization, Lambda orders records per partition key: two KPL
// aggregates under different keys may be processed later one first. A
// user with events in both must have both counted (the reviewer's case:
// aggregate 200 under u3, then aggregate 100 under u1, both holding X).
func TestKPLAggregatesOnTwoLanesCountEveryEvent(t *testing.T) {
	ts := `"ts":"2026-11-26T12:00:00Z"`
	ev := func(id, user string) kpl.Record {
		return kpl.Record{PartitionKey: []byte(user), Data: []byte(`{"eventId":"` + id + `","userId":"` + user + `","type":"search",` + ts + `}`)}
	}
	one := func(seq, pk string, data []byte) []byte {
		doc, _ := json.Marshal(map[string]any{"Records": []map[string]any{{
			"eventID": "shardId-000000000000:" + seq, "eventSourceARN": "arn", "awsRegion": "us-east-1",
			"kinesis": map[string]any{"sequenceNumber": seq, "partitionKey": pk, "data": data, "approximateArrivalTimestamp": 1795694400.5},
		}}})
		return doc
	}
	later := one("200", "u3", kpl.Aggregate([]kpl.Record{ev("b1", "u3"), ev("x2", "X")}))
	earlier := one("100", "u1", kpl.Aggregate([]kpl.Record{ev("a1", "u1"), ev("x1", "X")}))
	mem := &store.Memory{}
	p := newProcessor(mem, &queue{})
	for _, doc := range [][]byte{later, earlier, later, earlier} { // then both redelivered
		if out, err := p.Invoke(t.Context(), doc); err != nil || string(out) != `{"batchItemFailures":[]}` {
			t.Fatalf("answered %s (%v)", out, err)
		}
	}
	if x := mem.Item("X"); x == nil || x.EventCount != 2 {
		t.Fatalf("X = %+v; want both of its events counted once", x)
	}
}
