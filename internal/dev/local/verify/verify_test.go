package verify

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/streamfn/streamfn/internal/activity"
	"github.com/streamfn/streamfn/internal/aws/poison"
	"github.com/streamfn/streamfn/internal/dev/local/loadgen"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func ev(id, user string, typ activity.Type, product, category string, price float64, qty int64, sec int) activity.Event {
	return activity.Event{EventID: id, UserID: user, Type: typ, ProductID: product, Category: category,
		Price: price, HasPrice: price > 0, Quantity: qty, TS: t0.Add(time.Duration(sec) * time.Second)}
}

func sample() []activity.Event {
	return []activity.Event{
		ev("e1", "u1", activity.View, "p1", "shoes", 10, 1, 1),
		ev("e2", "u1", activity.AddToCart, "p2", "hats", 5, 2, 2),
		ev("e3", "u1", activity.Purchase, "p2", "hats", 5, 2, 3),
		ev("e4", "u1", activity.Search, "", "", 0, 1, 4),
		ev("e5", "u1", activity.View, "p1", "shoes", 10, 1, 5),
		ev("e3", "u1", activity.Purchase, "p2", "hats", 5, 2, 3), // a producer duplicate
		ev("e6", "u2", activity.Purchase, "p9", "", 2.5, 3, 1),
	}
}

func TestExpected(t *testing.T) {
	items := Expected(sample())
	u1 := items["u1"]
	if u1.EventCount != 5 {
		t.Errorf("eventCount = %d, want 5 (the duplicate eventId counts once)", u1.EventCount)
	}
	if got := counts(u1.TypeCounts); got != "{add_to_cart=1 purchase=1 search=1 view=2}" {
		t.Errorf("typeCounts = %s", got)
	}
	if got := counts(u1.CategoryCounts); got != "{hats=2 shoes=2}" {
		t.Errorf("categoryCounts = %s", got)
	}
	if !u1.LastEventAt.Equal(t0.Add(5 * time.Second)) {
		t.Errorf("lastEventAt = %v", u1.LastEventAt)
	}
	if got := strings.Join(u1.RecentProducts, ","); got != "p1,p2" {
		t.Errorf("recentProducts = %s, want p1 (viewed again last) before p2", got)
	}
	if u1.PurchaseTotal != 10 || items["u2"].PurchaseTotal != 7.5 {
		t.Errorf("purchaseTotal = %v / %v, want 10 and 7.5", u1.PurchaseTotal, items["u2"].PurchaseTotal)
	}
}

func TestRecentProductsKeepsTwentyNewest(t *testing.T) {
	var events []activity.Event
	for i := range 25 {
		events = append(events, ev(string(rune('a'+i)), "u", activity.View, "p"+string(rune('a'+i)), "", 0, 1, i))
	}
	got := Expected(events)["u"].RecentProducts
	if len(got) != 20 || got[0] != "py" || got[19] != "pf" {
		t.Errorf("recentProducts = %v; want the 20 newest, newest first", got)
	}
}

func TestCompareCatchesEachKindOfDifference(t *testing.T) {
	want := Expected(sample())
	clone := func() map[string]*Item {
		out := Expected(sample())
		return out
	}
	if diffs := Compare(want, clone(), false, t0); len(diffs) != 0 {
		t.Fatalf("equal items differ: %v", diffs)
	}
	tests := []struct {
		name   string
		break_ func(map[string]*Item)
		field  string
	}{
		{"wrong count", func(m map[string]*Item) { m["u1"].EventCount++ }, "eventCount"},
		{"missing user", func(m map[string]*Item) { delete(m, "u2") }, "item"},
		{"extra user", func(m map[string]*Item) { m["u3"] = &Item{UserID: "u3", EventCount: 1} }, "item"},
		{"recentProducts order", func(m map[string]*Item) { m["u1"].RecentProducts = []string{"p2", "p1"} }, "recentProducts"},
		{"type count", func(m map[string]*Item) { m["u1"].TypeCounts["view"] = 3 }, "typeCounts"},
		{"category count", func(m map[string]*Item) { m["u1"].CategoryCounts["socks"] = 1 }, "categoryCounts"},
		{"lastEventAt", func(m map[string]*Item) { m["u1"].LastEventAt = t0 }, "lastEventAt"},
		{"purchaseTotal", func(m map[string]*Item) { m["u2"].PurchaseTotal = 7.4 }, "purchaseTotal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := clone()
			tt.break_(got)
			diffs := Compare(want, got, false, t0)
			if len(diffs) != 1 || diffs[0].Field != tt.field {
				t.Errorf("differences = %v; want exactly one on %s", diffs, tt.field)
			}
		})
	}
	t.Run("expired TTL", func(t *testing.T) {
		got := clone()
		for _, it := range got {
			it.ExpiresAt = t0.Add(time.Hour).Unix()
		}
		got["u1"].ExpiresAt = 0
		if diffs := Compare(want, got, true, t0); len(diffs) != 1 || diffs[0].Field != "expiresAt" {
			t.Errorf("differences = %v; want expiresAt of u1", diffs)
		}
	})
}

func TestParseItemChecksTypes(t *testing.T) {
	raw := map[string]ddbtypes.AttributeValue{
		"userId":         &ddbtypes.AttributeValueMemberS{Value: "u1"},
		"eventCount":     &ddbtypes.AttributeValueMemberS{Value: "5"}, // wrong type
		"purchaseTotal":  &ddbtypes.AttributeValueMemberN{Value: "10.5"},
		"typeCounts":     &ddbtypes.AttributeValueMemberM{Value: map[string]ddbtypes.AttributeValue{"view": &ddbtypes.AttributeValueMemberN{Value: "2"}}},
		"lastEventAt":    &ddbtypes.AttributeValueMemberS{Value: "2026-11-26T12:00:05Z"},
		"recentProducts": &ddbtypes.AttributeValueMemberL{Value: []ddbtypes.AttributeValue{&ddbtypes.AttributeValueMemberS{Value: "p1"}}},
		"expiresAt":      &ddbtypes.AttributeValueMemberN{Value: "1800000000"},
	}
	it, diffs := parseItem(raw, "expiresAt")
	if len(diffs) != 1 || diffs[0].Field != "eventCount" {
		t.Errorf("differences = %v; want eventCount's type", diffs)
	}
	if it.UserID != "u1" || it.PurchaseTotal != 10.5 || it.TypeCounts["view"] != 2 || it.RecentProducts[0] != "p1" || it.ExpiresAt != 1800000000 {
		t.Errorf("item = %+v", it)
	}
}

func TestCheckPoison(t *testing.T) {
	direct := []loadgen.DirectRecord{
		{Kind: "not JSON", Payload: []byte(`{"half`), PartitionKey: "user-1", ShardID: "shardId-000000000000", SequenceNumber: "1"},
		{Kind: "not UTF-8", Payload: []byte{0xff, 0xfe}, PartitionKey: "user-2", ShardID: "shardId-000000000000", SequenceNumber: "2"},
		{Kind: "type not allowed", Payload: []byte(`{"type":"click"}`), PartitionKey: "user-3", ShardID: "shardId-000000000001", SequenceNumber: "3"},
	}
	// What the processor sends, from its own encoder.
	msg := func(seq, shard, key, payload, _ string) string {
		m := poison.Message{Reason: "bad", ShardID: shard, SequenceNumber: seq, SubSequenceNumber: -1, PartitionKey: key, Payload: payload}
		return string(m.AppendJSON(nil, poison.MaxBodyBytes))
	}
	bodies := []string{
		msg("1", "shardId-000000000000", "user-1", `{"half`, "utf8"),
		msg("1", "shardId-000000000000", "user-1", `{"half`, "utf8"), // reported again after a retry
		msg("2", "shardId-000000000000", "user-2", string([]byte{0xff, 0xfe}), "base64"),
		msg("9", "shardId-000000000000", "user-9", `{"valid":true}`, "utf8"), // a record that was not malformed
		msg("7", "shardId-000000000000", "user-1", `{"half`, "utf8"),         // record 1 put twice by a producer retry
	}
	found, diffs := CheckPoison(direct, bodies)
	if found != 2 {
		t.Errorf("found %d, want 2", found)
	}
	var fields []string
	for _, d := range diffs {
		fields = append(fields, d.Field+" "+d.Got)
	}
	joined := strings.Join(fields, "\n")
	if len(diffs) != 2 || !strings.Contains(joined, "shardId-000000000000/9") || !strings.Contains(joined, "not there") {
		t.Errorf("differences:\n%s\nwant the unexpected record 9 and the missing record 3", joined)
	}

	wrongPayload := []string{msg("3", "shardId-000000000001", "user-3", `{"type":"other"}`, "utf8")}
	if _, diffs := CheckPoison(direct[2:], wrongPayload); len(diffs) != 2 || !strings.HasPrefix(diffs[0].Field, "poison payload") {
		t.Errorf("a wrong payload: differences = %v", diffs)
	}
}

func TestCheckFailuresReportsEveryDocument(t *testing.T) {
	doc := `{"requestContext":{"condition":"RetryAttemptsExhausted"},"KinesisBatchInfo":{"shardId":"shardId-000000000000","startSequenceNumber":"1","endSequenceNumber":"5","batchSize":5}}`
	diffs := CheckFailures([]string{doc})
	if len(diffs) != 1 || !strings.Contains(diffs[0].Got, "5 records of shardId-000000000000 (1..5) discarded: RetryAttemptsExhausted") {
		t.Errorf("differences = %v", diffs)
	}
}

// lossyQueue is an SQS queue whose first receive answer is lost on the way,
// as when the SDK retries a receive whose response broke off.
type lossyQueue struct {
	mu       sync.Mutex
	bodies   []string
	hidden   map[int]time.Time
	answered int
}

func (q *lossyQueue) ReceiveMessage(_ context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := &sqs.ReceiveMessageOutput{}
	for i, b := range q.bodies {
		if len(out.Messages) == int(in.MaxNumberOfMessages) {
			break
		}
		if time.Now().Before(q.hidden[i]) {
			continue
		}
		q.hidden[i] = time.Now().Add(time.Duration(in.VisibilityTimeout) * time.Second)
		out.Messages = append(out.Messages, sqstypes.Message{MessageId: aws.String(strconv.Itoa(i)), Body: aws.String(b)})
	}
	q.answered++
	if q.answered == 1 {
		return &sqs.ReceiveMessageOutput{}, nil // lost: in flight, never seen
	}
	return out, nil
}

func (q *lossyQueue) GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	visible, inFlight := 0, 0
	for i := range q.bodies {
		if time.Now().Before(q.hidden[i]) {
			inFlight++
		} else {
			visible++
		}
	}
	return &sqs.GetQueueAttributesOutput{Attributes: map[string]string{
		"ApproximateNumberOfMessages": strconv.Itoa(visible), "ApproximateNumberOfMessagesNotVisible": strconv.Itoa(inFlight),
		"ApproximateNumberOfMessagesDelayed": "0",
	}}, nil
}

func TestDrainQueueRecoversALostReceive(t *testing.T) {
	q := &lossyQueue{hidden: map[int]time.Time{}}
	for i := range 25 {
		q.bodies = append(q.bodies, "m"+strconv.Itoa(i))
	}
	got, err := DrainQueue(t.Context(), q, "http://localhost/000000000000/q")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	want := append([]string(nil), q.bodies...)
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("drained %v, want every message once: %v", got, want)
	}
}
