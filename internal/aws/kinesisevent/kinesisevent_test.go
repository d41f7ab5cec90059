package kinesisevent

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamfn/streamfn/internal/dev/eventgen"
)

// TestDecodeAWSExample decodes the example event of AWS's Lambda
// documentation (pretty-printed, as a test of whitespace handling).
func TestDecodeAWSExample(t *testing.T) {
	payload, err := os.ReadFile("testdata/aws-example.json")
	if err != nil {
		t.Fatal(err)
	}
	var d Decoder
	if _, ok := d.scan(payload, nil); !ok {
		t.Fatal("the fast path declined AWS's own example")
	}
	records, err := d.Decode(payload, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 2 {
		t.Fatalf("got %d records, want 2", len(records))
	}
	r := records[0]
	check := func(field string, got []byte, want string) {
		t.Helper()
		if string(got) != want {
			t.Errorf("%s = %q, want %q", field, got, want)
		}
	}
	check("ShardID", r.ShardID(), "shardId-000000000006")
	check("SequenceNumber", r.SequenceNumber, "49590338271490256608559692538361571095921575989136588898")
	check("PartitionKey", r.PartitionKey, "1")
	check("Data", r.Data, "Hello, this is a test.")
	check("EventSourceARN", r.EventSourceARN, "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream")
	check("AWSRegion", r.AWSRegion, "us-east-2")
	if r.ApproximateArrivalTimestamp != 1545084650.987 {
		t.Errorf("ApproximateArrivalTimestamp = %v, want 1545084650.987", r.ApproximateArrivalTimestamp)
	}
	check("second SequenceNumber", records[1].SequenceNumber, "49590338271490256608559692540925702759324208523137515618")
}

// TestDecodeMatchesAWSLambdaGo decodes a generated batch and compares every
// record with what aws-lambda-go's own types make of the same bytes.
func TestDecodeMatchesAWSLambdaGo(t *testing.T) {
	gen := eventgen.New(eventgen.Options{Seed: 7, Users: 20})
	batch := gen.Batch(eventgen.BatchOptions{Records: 50, BadFraction: 0.1, Aggregate: 0})
	payload := batch.JSON()
	var want events.KinesisEvent
	if err := json.Unmarshal(payload, &want); err != nil {
		t.Fatal(err)
	}
	var d Decoder
	got, err := d.Decode(payload, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want.Records) {
		t.Fatalf("got %d records, want %d", len(got), len(want.Records))
	}
	for i, w := range want.Records {
		g := got[i]
		if g.DataErr != nil {
			t.Fatalf("record %d: %v", i, g.DataErr)
		}
		if string(g.EventID) != w.EventID || string(g.SequenceNumber) != w.Kinesis.SequenceNumber ||
			string(g.PartitionKey) != w.Kinesis.PartitionKey || string(g.Data) != string(w.Kinesis.Data) ||
			string(g.EventSourceARN) != w.EventSourceArn || string(g.AWSRegion) != w.AwsRegion {
			t.Fatalf("record %d differs:\n got  %+v\n want %+v", i, g, w)
		}
	}
}

// TestDecodeUnusualDocuments covers documents the fast path leaves to the
// reference: the result must still be right.
func TestDecodeUnusualDocuments(t *testing.T) {
	record := func(fields string) string {
		return `{"Records":[{"eventID":"shardId-000000000001:42","eventSourceARN":"arn","awsRegion":"eu-west-1",` +
			`"kinesis":{"sequenceNumber":"42","partitionKey":"u1","data":"eyJ9","approximateArrivalTimestamp":1.5` + fields + `}}]}`
	}
	for _, c := range []struct{ name, doc, wantKey string }{
		{"escaped slash in data", strings.Replace(record(""), `"eyJ9"`, `"ey\/9"`, 1), "u1"},
		{"escaped partition key", strings.Replace(record(""), `"u1"`, `"\u0075\u0031"`, 1), "u1"},
		{"case-folded key wins as the last one", record(`,"PartitionKey":"u2"`), "u2"},
		{"repeated key: the last one wins", record(`,"partitionKey":"u3"`), "u3"},
		{"invalid UTF-8 is replaced", strings.Replace(record(""), `"u1"`, "\"u\xff\"", 1), "u\ufffd"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var d Decoder
			if _, ok := d.scan([]byte(c.doc), nil); ok {
				t.Fatal("the fast path accepted it")
			}
			records, err := d.Decode([]byte(c.doc), nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(records) != 1 || string(records[0].PartitionKey) != c.wantKey {
				t.Fatalf("got %+v, want partition key %q", records, c.wantKey)
			}
		})
	}
}

// TestDecodeBadData: data that is not base64 spoils its record only; a
// control character spoils the document, as in encoding/json.
func TestDecodeBadData(t *testing.T) {
	doc := func(data string) string {
		return `{"Records":[{"eventID":"s:1","eventSourceARN":"a","awsRegion":"r","kinesis":{"sequenceNumber":"1","partitionKey":"k","data":"` +
			data + `","approximateArrivalTimestamp":1}},{"eventID":"s:2","eventSourceARN":"a","awsRegion":"r","kinesis":{"sequenceNumber":"2","partitionKey":"k","data":"eyJ9","approximateArrivalTimestamp":1}}]}`
	}
	var d Decoder
	records, err := d.Decode([]byte(doc("not base64!")), nil)
	if err != nil {
		t.Fatal(err)
	}
	if records[0].DataErr == nil || string(records[0].Data) != "not base64!" {
		t.Fatalf("record 0: data %q, error %v; want the text as sent and an error", records[0].Data, records[0].DataErr)
	}
	if !strings.Contains(records[0].DataErr.Error(), "not valid base64") {
		t.Fatalf("error %q does not say what is wrong", records[0].DataErr)
	}
	if records[1].DataErr != nil || string(records[1].Data) != `{"}` {
		t.Fatalf("record 1 is good but got %q, %v", records[1].Data, records[1].DataErr)
	}
	if _, err := d.Decode([]byte(doc("ey\x01J9")), nil); err == nil {
		t.Fatal("a control character inside a JSON string must make the document invalid")
	}
}

// counter is a Visitor that records what it saw.
type counter struct {
	keys     []string
	restarts int
}

func (c *counter) Visit(_ int, r *Record) { c.keys = append(c.keys, string(r.PartitionKey)) }
func (c *counter) Restart()               { c.keys = nil; c.restarts++ }

func TestDecodeVisits(t *testing.T) {
	rec := func(key string) string {
		return `{"eventID":"s:1","eventSourceARN":"a","awsRegion":"r","kinesis":{"sequenceNumber":"1","partitionKey":"` + key +
			`","data":"eyJ9","approximateArrivalTimestamp":1}}`
	}
	var d Decoder
	var c counter
	if _, err := d.Decode([]byte(`{"Records":[`+rec("a")+`,`+rec("b")+`]}`), &c); err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.keys, ",") != "a,b" || c.restarts != 0 {
		t.Fatalf("visited %v with %d restarts", c.keys, c.restarts)
	}
	// The second record has an escape: the fast path gives up after the
	// first, and the visitor starts over with the reference's records.
	c = counter{}
	if _, err := d.Decode([]byte(`{"Records":[`+rec("a")+`,`+rec(`\u0062`)+`]}`), &c); err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.keys, ",") != "a,b" || c.restarts != 1 {
		t.Fatalf("visited %v with %d restarts; want a,b after one restart", c.keys, c.restarts)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, c := range []struct{ name, doc, want string }{
		{"not JSON", `{"Records":[`, "not a Kinesis event"},
		{"no Records", `{"Items":[]}`, `no "Records" array`},
		{"an SQS event", `{"Records":[{"messageId":"1","body":"x","eventSource":"aws:sqs"}]}`, "Records[0] has no eventID"},
		{"no data", `{"Records":[{"eventID":"s:1","eventSourceARN":"a","awsRegion":"r","kinesis":{"sequenceNumber":"1","partitionKey":"k","approximateArrivalTimestamp":1}}]}`, "kinesis.data"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var d Decoder
			_, err := d.Decode([]byte(c.doc), nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v, want one containing %q", err, c.want)
			}
		})
	}
	var d Decoder
	records, err := d.Decode([]byte(`{"Records":[]}`), nil)
	if err != nil || len(records) != 0 {
		t.Fatalf("empty batch: %v, %v", records, err)
	}
}

// FuzzDecodeMatchesReference is the differential test of the envelope
// scanner: whenever the fast path accepts a document, encoding/json reads
// the same records from it.
func FuzzDecodeMatchesReference(f *testing.F) {
	if aws, err := os.ReadFile("testdata/aws-example.json"); err == nil {
		f.Add(aws)
	}
	gen := eventgen.New(eventgen.Options{Seed: 1, Users: 3})
	f.Add(gen.Batch(eventgen.BatchOptions{Records: 2}).JSON())
	f.Add([]byte(`{"Records":[{"eventID":"s:1","eventSourceARN":"a","awsRegion":"r","kinesis":{"sequenceNumber":"1","partitionKey":"k","data":"","approximateArrivalTimestamp":0}}]}`))
	// A raw LF inside data: encoding/base64 skips it, JSON forbids it.
	f.Add([]byte("{\"Records\":[{\"eventID\":\"s:1\",\"eventSourceARN\":\"a\",\"awsRegion\":\"r\",\"kinesis\":{\"sequenceNumber\":\"1\",\"partitionKey\":\"k\",\"data\":\"e30=\n\",\"approximateArrivalTimestamp\":0}}]}"))
	f.Add([]byte("{\"Records\":[{\"eventID\":\"s:1\",\"eventSourceARN\":\"a\",\"awsRegion\":\"r\",\"kinesis\":{\"sequenceNumber\":\"1\",\"partitionKey\":\"k\",\"data\":\"e3\r\n\r\n0=\",\"approximateArrivalTimestamp\":0}}]}"))
	f.Fuzz(func(t *testing.T, payload []byte) {
		var fast, ref Decoder
		fastRecords, ok := fast.scan(payload, nil)
		refRecords, refErr := ref.decodeReference(payload)
		if !ok {
			return
		}
		if refErr != nil {
			t.Fatalf("fast path accepted what encoding/json rejects (%v): %q", refErr, payload)
		}
		if fast.Windowed() != ref.Windowed() {
			t.Fatalf("fast path says windowed=%v, encoding/json %v, on %q", fast.Windowed(), ref.Windowed(), payload)
		}
		if len(fastRecords) == 0 && len(refRecords) == 0 {
			return
		}
		if !sameRecords(fastRecords, refRecords) {
			t.Fatalf("fast path and encoding/json disagree on %q:\n fast %+v\n ref  %+v", payload, fastRecords, refRecords)
		}
		// Streaming through a Visitor shows each record with the same data.
		var streamed Decoder
		var c copier
		if _, err := streamed.Decode(payload, &c); err != nil {
			t.Fatalf("streaming failed: %v", err)
		}
		if len(c.data) != len(refRecords) {
			t.Fatalf("visited %d records, want %d", len(c.data), len(refRecords))
		}
		for i, r := range refRecords {
			if c.data[i] != string(r.Data) {
				t.Fatalf("record %d visited with data %q, want %q", i, c.data[i], r.Data)
			}
		}
	})
}

// copier is a Visitor that copies each record's data.
type copier struct{ data []string }

func (c *copier) Visit(_ int, r *Record) { c.data = append(c.data, string(r.Data)) }
func (c *copier) Restart()               { c.data = nil }

// sameRecords compares records field by field, errors by their text.
func sameRecords(a, b []Record) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if (x.DataErr == nil) != (y.DataErr == nil) || x.DataErr != nil && x.DataErr.Error() != y.DataErr.Error() {
			return false
		}
		x.DataErr, y.DataErr = nil, nil
		if !reflect.DeepEqual(x, y) {
			return false
		}
	}
	return true
}

// A mapping with a tumbling window sends window, state and more at the
// top level (AWS's example, as aws-lambda-go's KinesisTimeWindowEvent
// reads it). The records decode as usual, and Windowed says so.
func TestDecodeTumblingWindowEvent(t *testing.T) {
	doc, err := os.ReadFile("testdata/aws-tumbling-window.json")
	if err != nil {
		t.Fatal(err)
	}
	var lib events.KinesisTimeWindowEvent
	if err := json.Unmarshal(doc, &lib); err != nil || lib.Window.Start.IsZero() || len(lib.Records) != 1 {
		t.Fatalf("the fixture is not a KinesisTimeWindowEvent: %v %+v", err, lib)
	}
	var d Decoder
	if _, ok := d.scan(doc, nil); !ok || !d.Windowed() {
		t.Fatalf("fast path: ok=%v windowed=%v; want it taken and windowed", ok, d.Windowed())
	}
	records, err := d.Decode(doc, nil)
	if err != nil || len(records) != 1 || string(records[0].Data) != "Hello, this is a test." || !d.Windowed() {
		t.Fatalf("records %+v, err %v, windowed %v", records, err, d.Windowed())
	}

	plain := []byte(`{"Records":[]}`)
	for name, c := range map[string]struct {
		doc  []byte
		want bool
	}{
		"no window":                     {plain, false},
		"window null":                   {[]byte(`{"window":null,"Records":[]}`), false},
		"case-folded window":            {[]byte(`{"Window":{"start":"x"},"Records":[]}`), true},
		"the last window counts":        {[]byte(`{"window":{},"Records":[],"window":null}`), false},
		"after a windowed one, a plain": {plain, false},
	} {
		if name == "after a windowed one, a plain" {
			if _, err := d.Decode(doc, nil); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := d.Decode(c.doc, nil); err != nil || d.Windowed() != c.want {
			t.Errorf("%s: windowed %v (err %v), want %v", name, d.Windowed(), err, c.want)
		}
	}
}
