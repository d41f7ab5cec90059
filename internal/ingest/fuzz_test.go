package ingest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamfn/streamfn/internal/activity"
	"github.com/streamfn/streamfn/internal/dev/eventgen"
)

// FuzzParseRequest checks, for any content type, content encoding and
// body: no panic; a refusal is a *Problem with a 4xx status and a message;
// otherwise every event index is either a record or a rejection, exactly
// once; every record is what the processor accepts, keyed by the userId
// that encoding/json (a case-insensitive, last-wins reader) reads too,
// within the size limit, compact, and carries the client's event unchanged
// but for an assigned eventId.
func FuzzParseRequest(f *testing.F) {
	g := eventgen.New(eventgen.Options{Seed: 7})
	var valid, malformed []string
	for range 4 {
		_, data := g.NextJSON()
		valid = append(valid, string(data))
	}
	for range eventgen.MalformedKinds {
		data, _ := g.Malformed()
		malformed = append(malformed, string(data))
	}
	seeds := []struct {
		contentType, body string
		base64            bool
		encoding          string
	}{
		{MediaJSON, view1, false, ""},
		{MediaJSON, array(view1, noUser, cart1, click, view2, `7`, `"x"`, `[]`, `null`), false, ""},
		{MediaJSON, array(append(valid, malformed...)...), false, ""},
		{MediaNDJSON, ndjson(append(malformed, valid...)...), false, ""},
		{MediaNDJSON, "\r\n" + view2 + "\r\n\n{\"userId\":\n  \n" + search1, false, ""},
		{MediaJSON + "; charset=utf-8", "[\n  " + strings.ReplaceAll(cart1, ",", ",\n    ") + "\n]", false, ""},
		{MediaJSON, `{"event\u0049d":null, "EVENTID":"", "userId":"u-4", "type":"search", "ts":"2026-11-26T12:00:05Z", "ctx":{"eventId":"x","a":[1,{"b":"}\"]"}]}}`, false, ""},
		{MediaJSON, `{"eventId":"a","userId":"u","type":"search","ts":"2026-11-26T12:00:05+02:00","eventId":null}`, false, ""},
		{MediaNDJSON, base64.StdEncoding.EncodeToString([]byte(ndjson(view1, view2))), true, ""},
		{MediaJSON, `[{"userId":}]`, false, ""},
		{"text/plain", view1, false, ""},
		{"application/json; charset=latin1", view1, false, ""},
		{MediaJSON, `[` + view1 + `] x`, false, ""},
		{MediaNDJSON, "{ \"userId\" : \"u\" , \"type\" : \"search\" , \"ts\" : \"2026-11-26T12:00:00Z\" , \"ctx\" : { \"a\" : [ 1 , \"x y\" , -2.5e1 ] } , \"n\" : true }", false, ""},
		// Issue 12: what real clients, SDKs and proxies send.
		{MediaNDJSON, base64.StdEncoding.EncodeToString(gzipped(f, ndjson(view1, view2, cart1))), true, "gzip"},
		{MediaJSON, base64.StdEncoding.EncodeToString(zlibbed(array(view1, cart1))), true, "deflate"},
		{MediaNDJSON, base64.StdEncoding.EncodeToString(zstded(ndjson(view1))), true, "zstd"},
		{MediaNDJSON, ndjson(view1), false, "br"},
		{MediaJSON, "\uFEFF" + view1, false, ""},
		{MediaNDJSON, "\uFEFF" + ndjson(view1, cart1), false, ""},
		{MediaJSON, `{"eventId":"e","userId":"u","type":"search","ts":"2026-11-26T2:00:00Z"}`, false, ""},
		{MediaJSON, `{"eventId":"e","userId":"u","type":"search","ts":"2026-11-26t12:00:00z"}`, false, ""},
		{MediaJSON, `{"eventId":"e","userId":"u","type":"search","ts":"1990-12-31T15:59:60-08:00"}`, false, ""},
		{MediaJSON, `{"userId":42,"price":"cheap","ts":"yesterday"}`, false, ""},
		{MediaJSON, `{"eventId":"e","userId":"alice","USERID":"mallory","type":"search","ts":"2026-11-26T12:00:00Z"}`, false, ""},
		{MediaNDJSON, "{\"eventId\":\"e\",\"userId\":\"a\xffb\",\"type\":\"search\",\"ts\":\"2026-11-26T12:00:00Z\"}\n" +
			`{"eventId":"e","userId":"a\ud800b","type":"search","ts":"2026-11-26T12:00:00Z"}` + "\n" +
			`{"eventId":"e","userId":"a\u202Eb\u200B\u0000","type":"search","ts":"2026-11-26T12:00:00Z"}`, false, ""},
		{MediaJSON, `{"eventId":"e","userId":"u","type":"purchase","productId":"p","price":1e300,"ts":"2026-11-26T12:00:00Z"}`, false, ""},
		{"application/jsonl; charset=UTF-8", view1 + "\r\n" + cart1, false, "identity"},
		{"application/x-jsonlines", "\n\n" + view1 + "\n\x00\n", false, ""},
		{MediaJSONSeq, "\x1e" + view1 + "\n\x1e" + cart1 + "\n", false, ""},
		{MediaJSONSeq, view1, false, ""},
		{MediaJSON, `{"eventId":"e","userId":"u","type":"search","ts":"2026-11-26T12:00:00Z","n":1e400,"z":-0,"d":{"a":1,"a":2},"x":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`, false, ""},
		{MediaJSON, `{"eventId":"e","userId":"u","type":"search","price":-0,"ts":"2026-11-26T12:00:00Z"}`, false, ""},
	}
	for _, s := range seeds {
		f.Add(s.contentType, []byte(s.body), s.base64, s.encoding)
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte, isBase64 bool, contentEncoding string) {
		req := events.LambdaFunctionURLRequest{
			Headers:         map[string]string{"content-type": contentType, "content-encoding": contentEncoding},
			Body:            string(body),
			IsBase64Encoded: isBase64,
		}
		req.RequestContext.HTTP.Method = http.MethodPost
		var assigned []string
		newEventID := func() (string, error) {
			id := fmt.Sprintf("01900000-0000-7000-8000-%012d", len(assigned))
			assigned = append(assigned, id)
			return id, nil
		}
		batch, err := ParseRequest(req, newEventID)
		if err != nil {
			var problem *Problem
			if !errors.As(err, &problem) {
				t.Fatalf("error %v is not a *Problem", err)
			}
			switch problem.Status {
			case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
			default:
				t.Fatalf("status %d for %v", problem.Status, problem)
			}
			if problem.Message == "" {
				t.Fatal("a refusal without a message")
			}
			return
		}

		if batch.Events < 1 || batch.Events > MaxEvents {
			t.Fatalf("%d events", batch.Events)
		}
		if len(batch.Records) != len(batch.Indexes) || len(batch.Records)+len(batch.Rejected) != batch.Events {
			t.Fatalf("%d records, %d indexes, %d rejected for %d events", len(batch.Records), len(batch.Indexes), len(batch.Rejected), batch.Events)
		}
		seen := make([]bool, batch.Events)
		mark := func(kind string, i, previous int) {
			if i < 0 || i >= batch.Events || seen[i] || i <= previous {
				t.Fatalf("%s index %d out of range, repeated or out of order (events %d)", kind, i, batch.Events)
			}
			seen[i] = true
		}
		previous := -1
		for _, i := range batch.Indexes {
			mark("record", i, previous)
			previous = i
		}
		previous = -1
		for _, r := range batch.Rejected {
			mark("rejected", r.Index, previous)
			previous = r.Index
			if r.Error == "" {
				t.Fatalf("rejection %d without a reason", r.Index)
			}
		}

		// What the client sent, event by event, to compare the records with.
		if isBase64 {
			if body, err = base64.StdEncoding.DecodeString(string(body)); err != nil {
				t.Fatal(err)
			}
		}
		decoded, problem := decodeContent(contentEncoding, string(body))
		if problem != nil {
			t.Fatalf("decoding again: %v", problem)
		}
		mediaType, _ := parseContentType(contentType)
		raws, problem := split(mediaType, strings.TrimPrefix(decoded, byteOrderMark))
		if problem != nil || len(raws) != batch.Events {
			t.Fatalf("split again: %v, %d events", problem, len(raws))
		}
		next := 0 // the next assigned id
		for k, record := range batch.Records {
			raw := raws[batch.Indexes[k]]
			sent, err := activity.Parse([]byte(raw))
			if err != nil {
				t.Fatalf("event %d was accepted though Parse says %v", batch.Indexes[k], err)
			}
			got, err := activity.ParseValid(record.Data)
			if err != nil {
				t.Fatalf("record %s is not what the processor accepts: %v", record.Data, err)
			}
			if record.PartitionKey != got.UserID || len(record.Data) > activity.MaxEventBytes {
				t.Fatalf("record %s: partition key %q, %d bytes", record.Data, record.PartitionKey, len(record.Data))
			}
			var other struct{ UserID, EventID string }
			if err := json.Unmarshal(record.Data, &other); err != nil || other.UserID != record.PartitionKey || other.EventID != got.EventID {
				t.Fatalf("record %s: encoding/json reads userId %q, eventId %q (%v); the partition key is %q, the eventId %q",
					record.Data, other.UserID, other.EventID, err, record.PartitionKey, got.EventID)
			}
			var compacted bytes.Buffer
			if err := json.Compact(&compacted, record.Data); err != nil || !bytes.Equal(compacted.Bytes(), record.Data) {
				t.Fatalf("record %s is not compact JSON (%v)", record.Data, err)
			}
			if sent.EventID != "" {
				compacted.Reset()
				if err := json.Compact(&compacted, []byte(raw)); err != nil || !bytes.Equal(compacted.Bytes(), record.Data) {
					t.Fatalf("record\n%s\nis not the client's event compacted\n%s", record.Data, compacted.Bytes())
				}
				continue
			}
			if next >= len(assigned) || got.EventID != assigned[next] {
				t.Fatalf("record %s: eventId %q, want assigned id number %d of %v", record.Data, got.EventID, next, assigned)
			}
			next++
			if !sameEvent(sent, got) {
				t.Fatalf("record %s changed the event: %+v, sent %+v", record.Data, got, sent)
			}
		}
	})
}

// sameEvent compares all but the eventId.
func sameEvent(sent, got activity.Event) bool {
	if !sent.TS.Equal(got.TS) {
		return false
	}
	sent.TS, got.TS = time.Time{}, time.Time{}
	sent.EventID = got.EventID
	return sent == got
}
