package verify

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamfn/streamfn/internal/activity"
	"github.com/streamfn/streamfn/internal/aws/failure"
	"github.com/streamfn/streamfn/internal/aws/kinesisevent"
	"github.com/streamfn/streamfn/internal/aws/kpl"
)

// The records of an on-failure record's payload, plain and KPL, are read
// back to their eventIds and sequence numbers.
func TestReadDiscardedFromThePayload(t *testing.T) {
	agg := kpl.Aggregate([]kpl.Record{{PartitionKey: []byte("u1"), Data: []byte(`{"eventId":"e4","userId":"u1"}`)}, {PartitionKey: []byte("u2"), Data: []byte(`{"eventId":"e6","userId":"u2"}`)}})
	records := []ktypes.Record{
		{SequenceNumber: aws.String("100"), PartitionKey: aws.String("u1"), Data: []byte(`{"eventId":"e2","userId":"u1"}`), ApproximateArrivalTimestamp: aws.Time(t0)},
		{SequenceNumber: aws.String("101"), PartitionKey: aws.String("r"), Data: agg, ApproximateArrivalTimestamp: aws.Time(t0)},
		{SequenceNumber: aws.String("102"), PartitionKey: aws.String("x"), Data: []byte("not json"), ApproximateArrivalTimestamp: aws.Time(t0)},
	}
	payload := string(kinesisevent.Events(kinesisevent.Source{ShardID: "shardId-000000000000"}, records, 0)[0])
	doc := failure.Document{KinesisBatchInfo: failure.KinesisBatchInfo{ShardID: "shardId-000000000000", StartSequenceNumber: "100", EndSequenceNumber: "102", BatchSize: 3}, Payload: payload}
	d, err := ReadDiscarded(t.Context(), []failure.Document{doc}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Records != 3 || len(d.EventIDs) != 3 || !d.EventIDs["e2"] || !d.EventIDs["e4"] || !d.EventIDs["e6"] || !d.Sequences["shardId-000000000000/102"] {
		t.Fatalf("%+v", d)
	}
	// Without a payload the range is read from the stream.
	doc.Payload = ""
	d, err = ReadDiscarded(t.Context(), []failure.Document{doc}, func(_ context.Context, shard, start, end string) ([]ktypes.Record, error) {
		if shard != "shardId-000000000000" || start != "100" || end != "102" {
			return nil, fmt.Errorf("read %s %s..%s", shard, start, end)
		}
		return records[:1], nil
	})
	if err != nil || d.Records != 1 || !d.EventIDs["e2"] {
		t.Fatalf("from the stream: %v, %+v", err, d)
	}
}

// Users with discarded events are checked against bounds: a discarded
// event may be missing or applied once, never twice; an event outside the
// discarded records may never be missing; other users stay exact.
func TestCompareWithDiscards(t *testing.T) {
	accepted := sample()
	discarded := Discarded{EventIDs: map[string]bool{"e2": true}}
	all := Expected(accepted)
	var withoutE2 []activity.Event
	for _, e := range accepted {
		if e.EventID != "e2" {
			withoutE2 = append(withoutE2, e)
		}
	}
	missing := Expected(withoutE2)
	now := time.Now()
	for name, tc := range map[string]struct {
		got  map[string]*Item
		want string // "" = no difference; else a field named in one
	}{
		"discarded event missing": {got: missing},
		"discarded event applied": {got: all},
		"counted twice": {got: func() map[string]*Item {
			g := Expected(accepted)
			g["u1"].EventCount++
			g["u1"].TypeCounts["add_to_cart"]++
			return g
		}(), want: "eventCount"},
		"another event of the user missing": {got: func() map[string]*Item {
			g := Expected(withoutE2)
			g["u1"].EventCount--
			return g
		}(), want: "eventCount"},
		"an unaffected user differs": {got: func() map[string]*Item {
			g := Expected(accepted)
			g["u2"].PurchaseTotal = 1
			return g
		}(), want: "purchaseTotal"},
	} {
		diffs, affected := CompareWithDiscards(accepted, discarded, tc.got, false, now)
		if affected != 1 {
			t.Errorf("%s: %d users affected, want 1", name, affected)
		}
		switch {
		case tc.want == "" && len(diffs) > 0:
			t.Errorf("%s: differences %v", name, diffs)
		case tc.want != "" && (len(diffs) == 0 || !strings.Contains(diffs[0].Field, tc.want)):
			t.Errorf("%s: differences %v, want one in %s", name, diffs, tc.want)
		}
	}
}
