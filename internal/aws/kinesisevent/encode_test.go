package kinesisevent

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

func TestCheckpointRules(t *testing.T) {
	batch := []string{"100", "200", "300"}
	tests := []struct {
		name       string
		payload    string
		failedFrom int
		whole      bool
	}{
		{"empty response", ``, -1, false},
		{"null", `null`, -1, false},
		{"empty object", `{}`, -1, false},
		{"empty list", `{"batchItemFailures":[]}`, -1, false},
		{"null list", `{"batchItemFailures":null}`, -1, false},
		{"one failure", `{"batchItemFailures":[{"itemIdentifier":"200"}]}`, 1, false},
		{"lowest wins", `{"batchItemFailures":[{"itemIdentifier":"300"},{"itemIdentifier":"100"}]}`, 0, false},
		{"empty identifier", `{"batchItemFailures":[{"itemIdentifier":""}]}`, 0, true},
		{"null identifier", `{"batchItemFailures":[{"itemIdentifier":null}]}`, 0, true},
		{"bad key name", `{"batchItemFailures":[{"itemId":"200"}]}`, 0, true},
		{"unknown identifier", `{"batchItemFailures":[{"itemIdentifier":"999"}]}`, 0, true},
		{"not JSON", `oops`, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from, whole := Checkpoint([]byte(tt.payload), batch)
			if from != tt.failedFrom || whole != tt.whole {
				t.Errorf("checkpoint(%q) = %d, %v; want %d, %v", tt.payload, from, whole, tt.failedFrom, tt.whole)
			}
		})
	}
}

func TestEncodeEventRoundTrips(t *testing.T) {
	src := Source{ShardID: "shardId-000000000003", StreamARN: "arn:s", Region: "eu-west-1", InvokeIdentityARN: "arn:role"}
	arrival := time.UnixMilli(1764158930123)
	data := []byte{0xf3, 0x89, 0x9a, 0xc2, 0, 1, 2}
	ev := Event([][]byte{src.Element("4959", `key "quoted"`, data, arrival)})
	var got events.KinesisEvent
	if err := json.Unmarshal(ev, &got); err != nil {
		t.Fatalf("%s: %v", ev, err)
	}
	r := got.Records[0]
	if string(r.Kinesis.Data) != string(data) || r.Kinesis.PartitionKey != `key "quoted"` ||
		r.Kinesis.ApproximateArrivalTimestamp.Time.Sub(arrival).Abs() > time.Millisecond || r.EventID != "shardId-000000000003:4959" {
		t.Errorf("round trip = %+v", r)
	}
}

// appendJSONString writes what encoding/json writes, on its fast path and
// off it.
func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "shardId-000000000000", "49590338271490256608559692538361571095921575989136588898",
		"arn:aws:kinesis:us-east-1:123456789012:stream/s", `a"b`, `a\b`, "<b>&", "é", "\x7f", "\x1f", "line\u2028sep", "bad\xffutf8", "~ !#$%'()*+,-./:;=?@[]^_`{|}"} {
		want, _ := json.Marshal(s)
		if got := appendJSONString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("appendJSONString(%q) = %s, want %s", s, got[1:], want)
		}
	}
}
