package eventgen

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamfn/streamfn/internal/activity"
	"github.com/streamfn/streamfn/internal/aws/kpl"
)

var update = flag.Bool("update", false, "rewrite testdata/seed1.jsonl")

// TestStable pins the generator's output: other tools' tests and the
// benchmark file depend on the same seed giving the same bytes forever.
// Run with -update only for an intended change, and say so in the commit.
func TestStable(t *testing.T) {
	g := New(Options{Seed: 1})
	var out bytes.Buffer
	for range 5 {
		_, line := g.NextJSON()
		out.Write(line)
		out.WriteByte('\n')
	}
	payload, kind := g.Malformed()
	out.WriteString(kind + ": " + string(payload) + "\n")
	if *update {
		if err := os.WriteFile("testdata/seed1.jsonl", out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("testdata/seed1.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("seed 1 no longer gives testdata/seed1.jsonl:\n%s", out.Bytes())
	}
}

func TestEventsAreValidAndRealistic(t *testing.T) {
	g := New(Options{Seed: 2, Users: 50})
	types := map[activity.Type]int{}
	users := map[string]bool{}
	size := 0
	var last activity.Event
	const n = 5000
	for i := range n {
		ev, data := g.NextJSON()
		parsed, err := activity.ParseValid(data)
		if err != nil {
			t.Fatalf("event %d is invalid: %v\n%s", i, err, data)
		}
		parsed.TS = ev.TS
		if parsed != ev {
			t.Fatalf("event %d: JSON decodes to %+v, Next returned %+v", i, parsed, ev)
		}
		if i > 0 && !ev.TS.After(last.TS) {
			t.Fatalf("ts does not increase: %v then %v", last.TS, ev.TS)
		}
		if ev.HasPrice {
			text := strconv.FormatFloat(ev.Price, 'f', -1, 64)
			if dot := strings.IndexByte(text, '.'); dot >= 0 && len(text)-dot-1 > 2 {
				t.Fatalf("price %s has more than 2 decimals", text)
			}
		}
		if !strings.Contains(string(data), `"context":{"page":`) {
			t.Fatalf("event %d lacks the unknown fields: %s", i, data)
		}
		types[ev.Type]++
		users[ev.UserID] = true
		size += len(data)
		last = ev
	}
	if len(users) != 50 {
		t.Errorf("%d distinct users, want 50", len(users))
	}
	for _, typ := range activity.Types {
		if types[typ] < n/20 {
			t.Errorf("only %d %s events in %d", types[typ], typ, n)
		}
	}
	if avg := size / n; avg < 780 || avg > 950 {
		t.Errorf("average event is %d bytes, want about 850", avg)
	}
}

func TestMalformedBreaksOneRuleEach(t *testing.T) {
	want := map[string]string{
		"eventId missing": "eventId", "eventId too long": "eventId", "userId missing": "userId", "type not allowed": "type",
		"productId missing": "productId", "price negative": "price", "quantity not an integer": "quantity", "ts not RFC 3339": "ts",
	}
	g := New(Options{Seed: 3})
	for range 3 * len(MalformedKinds) {
		payload, kind := g.Malformed()
		_, err := activity.ParseValid(payload)
		var fe *activity.FieldError
		if err == nil || !asFieldError(err, &fe) {
			t.Fatalf("%s: payload accepted or odd error %v:\n%.300s", kind, err, payload)
		}
		if field, ok := want[kind]; ok && fe.Field != field {
			t.Fatalf("%s: the error names %q (%v)", kind, fe.Field, err)
		}
		if kind == "over the size limit" && len(payload) <= activity.MaxEventBytes {
			t.Fatalf("oversize payload is only %d bytes", len(payload))
		}
	}
}

func asFieldError(err error, target **activity.FieldError) bool {
	fe, ok := err.(*activity.FieldError)
	*target = fe
	return ok
}

func TestBatch(t *testing.T) {
	g := New(Options{Seed: 4, Users: 30})
	b := g.Batch(BatchOptions{Records: 400, BadFraction: 0.1, DuplicateFraction: 0.1})
	var ev events.KinesisEvent
	if err := json.Unmarshal(b.JSON(), &ev); err != nil {
		t.Fatalf("JSON is not an events.KinesisEvent: %v", err)
	}
	if len(ev.Records) != 400 || len(b.Records) != 400 {
		t.Fatalf("%d Kinesis records, %d user records; want 400", len(ev.Records), len(b.Records))
	}
	bad, dups := 0, 0
	seen := map[string]bool{}
	for i, r := range ev.Records {
		br := b.Records[i]
		if r.EventID != "shardId-000000000000:"+r.Kinesis.SequenceNumber || r.Kinesis.SequenceNumber != br.SequenceNumber ||
			len(r.Kinesis.SequenceNumber) != 56 || !bytes.Equal(r.Kinesis.Data, br.Payload) || r.EventSourceArn == "" || r.AwsRegion != "us-east-1" {
			t.Fatalf("record %d: %+v", i, r)
		}
		if i > 0 && r.Kinesis.SequenceNumber <= ev.Records[i-1].Kinesis.SequenceNumber {
			t.Fatalf("sequence numbers do not increase at %d", i)
		}
		switch {
		case br.Malformed != "":
			bad++
		case br.Duplicate:
			dups++
			if !seen[br.Event.EventID] {
				t.Fatalf("record %d is marked a duplicate of an unseen event", i)
			}
		default:
			if seen[br.Event.EventID] {
				t.Fatalf("record %d repeats an eventId without being marked a duplicate", i)
			}
			seen[br.Event.EventID] = true
		}
	}
	if bad < 20 || bad > 60 || dups < 20 || dups > 60 {
		t.Fatalf("%d bad and %d duplicate records in 400 at 10%% each", bad, dups)
	}
	// A second batch continues the shard's sequence.
	next := g.Batch(BatchOptions{Records: 1})
	if next.Records[0].SequenceNumber <= b.Records[399].SequenceNumber {
		t.Fatal("the next batch's sequence numbers must continue upwards")
	}
}

func TestBatchAggregates(t *testing.T) {
	b := New(Options{Seed: 5}).Batch(BatchOptions{Records: 10, Aggregate: 4})
	if len(b.Event.Records) != 10 || len(b.Records) != 40 {
		t.Fatalf("%d Kinesis records holding %d user records; want 10 holding 40", len(b.Event.Records), len(b.Records))
	}
	for i, r := range b.Event.Records {
		subs, err := kpl.Unpack(r.Kinesis.Data)
		if err != nil {
			t.Fatal(err)
		}
		for j, s := range subs {
			br := b.Records[4*i+j]
			if br.SubIndex != j || br.SequenceNumber != r.Kinesis.SequenceNumber || !bytes.Equal(s.Data, br.Payload) || string(s.PartitionKey) != br.PartitionKey {
				t.Fatalf("record %d sub %d does not match %+v", i, j, br)
			}
		}
	}
}
