package failure

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// AWS's example S3 record, with a real payload.
const example = `{
    "requestContext": {
        "requestId": "c9b8fa9f-5a7f-xmpl-af9c-0c604cde93a5",
        "functionArn": "arn:aws:lambda:us-east-2:123456789012:function:myfunction",
        "condition": "RetryAttemptsExhausted",
        "approximateInvokeCount": 1
    },
    "responseContext": {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled"
    },
    "version": "1.0",
    "timestamp": "2019-11-14T00:38:06.021Z",
    "KinesisBatchInfo": {
        "shardId": "shardId-000000000001",
        "startSequenceNumber": "49601189658422359378836298521827638475320189012309704722",
        "endSequenceNumber": "49601189658422359378836298522902373528957594348623495186",
        "approximateArrivalOfFirstRecord": "2019-11-14T00:38:04.835Z",
        "approximateArrivalOfLastRecord": "2019-11-14T00:38:05.580Z",
        "batchSize": 500,
        "streamArn": "arn:aws:kinesis:us-east-2:123456789012:stream/mystream"
    },
    "payload": "{\"Records\":[]}"
}`

func TestParseAWSExample(t *testing.T) {
	doc, err := Parse([]byte(example))
	if err != nil {
		t.Fatal(err)
	}
	if doc.RequestContext.Condition != RetryAttemptsExhausted || doc.ResponseContext.FunctionError != "Unhandled" ||
		doc.KinesisBatchInfo.BatchSize != 500 || doc.Payload != `{"Records":[]}` {
		t.Fatalf("%+v", doc)
	}
	first, last := doc.Arrivals()
	if !first.Equal(time.Date(2019, 11, 14, 0, 38, 4, 835e6, time.UTC)) || !last.After(first) {
		t.Fatalf("arrivals %v %v", first, last)
	}
	// Round trip: what the local mapping writes reads back the same.
	b, _ := json.Marshal(doc)
	again, err := Parse(b)
	if err != nil || !reflect.DeepEqual(again, doc) {
		t.Fatalf("round trip: %+v, %v", again, err)
	}
}

func TestParseNamesEveryProblem(t *testing.T) {
	_, err := Parse([]byte(`{"KinesisBatchInfo":{"startSequenceNumber":"12a","batchSize":0},"payload":"{"}`))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"shardId is missing", `startSequenceNumber "12a"`, `endSequenceNumber ""`, "batchSize 0", "payload is not"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v: does not say %q", err, want)
		}
	}
	for _, bad := range []string{``, `[]`, `{} {}`, `{"KinesisBatchInfo":1}`} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

func TestObjectKey(t *testing.T) {
	at := time.Date(2026, 11, 26, 9, 5, 7, 0, time.FixedZone("x", 3600))
	id := uuid.MustParse("0b1d9c3a-4d0e-4b7c-9a53-2f3f1c6a8e11")
	key := ObjectKey("f89f8514-cdd9-4602-9e1f-01a5b77d449b", "shardId-000000000003", at, id)
	want := "aws/lambda/f89f8514-cdd9-4602-9e1f-01a5b77d449b/shardId-000000000003/2026/11/26/2026-11-26T08.05.07-0b1d9c3a-4d0e-4b7c-9a53-2f3f1c6a8e11"
	if key != want {
		t.Fatalf("key %s\nwant %s", key, want)
	}
	k, err := ParseKey(key)
	if err != nil || k.MappingUUID != "f89f8514-cdd9-4602-9e1f-01a5b77d449b" || k.ShardID != "shardId-000000000003" || !k.At.Equal(at) {
		t.Fatalf("%+v, %v", k, err)
	}
	for _, bad := range []string{"", "aws/lambda/x", strings.Replace(key, "2026/11/26", "2026/11/27", 1), strings.Replace(key, "-0b1d", "-zz1d", 1), "poison/" + key} {
		if _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(example))
	f.Add([]byte(`{"KinesisBatchInfo":{"shardId":"s","startSequenceNumber":"1","endSequenceNumber":"2","batchSize":1}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := Parse(data)
		if err != nil {
			return
		}
		// Whatever parses is usable for a replay and survives a round trip.
		if doc.KinesisBatchInfo.ShardID == "" || doc.KinesisBatchInfo.BatchSize < 1 {
			t.Fatalf("accepted %+v", doc)
		}
		b, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Parse(b)
		if err != nil || again.KinesisBatchInfo != doc.KinesisBatchInfo || again.Payload != doc.Payload {
			t.Fatalf("round trip: %+v, %v", again, err)
		}
	})
}

func FuzzParseKey(f *testing.F) {
	f.Add("aws/lambda/f89f8514-cdd9-4602-9e1f-01a5b77d449b/shardId-000000000003/2026/11/26/2026-11-26T08.05.07-0b1d9c3a-4d0e-4b7c-9a53-2f3f1c6a8e11")
	f.Fuzz(func(t *testing.T, key string) {
		k, err := ParseKey(key)
		if err != nil {
			return
		}
		if !strings.HasPrefix(key, KeyPrefix(k.MappingUUID, k.ShardID)) {
			t.Fatalf("%q parsed as %+v", key, k)
		}
	})
}
