package ingest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/google/uuid"

	"github.com/streamfn/streamfn/internal/activity"
	"github.com/streamfn/streamfn/internal/aws/streamwriter"
	"github.com/streamfn/streamfn/internal/aws/streamwriter/streamtest"
	"github.com/streamfn/streamfn/internal/lambdafn/telemetry"
)

// The events the tests send. view1 has its own eventId; view2 has none.
const (
	view1   = `{"eventId":"e-1","userId":"u-1","type":"view","productId":"p-1","ts":"2026-11-26T12:00:00Z"}`
	cart1   = `{"eventId":"e-2","userId":"u-2","type":"add_to_cart","productId":"p-2","price":9.5,"quantity":2,"ts":"2026-11-26T12:00:01Z"}`
	search1 = `{"eventId":"e-3","userId":"u-1","type":"search","ts":"2026-11-26T12:00:02Z","query":"red shoes"}`
	noUser  = `{"eventId":"e-4","type":"view","productId":"p-1","ts":"2026-11-26T12:00:03Z"}`
	click   = `{"eventId":"e-5","userId":"u-3","type":"click","ts":"2026-11-26T12:00:04Z"}`
	view2   = `{"userId":"u-4","type":"view","productId":"p-4","ts":"2026-11-26T12:00:05Z"}`
)

var jsonHeaders = map[string]string{"Content-Type": "application/json"}

// functionURLRequest is a real Function URL event (testdata) with the given
// content type and body.
func functionURLRequest(t testing.TB, contentType, body string) events.LambdaFunctionURLRequest {
	t.Helper()
	raw, err := os.ReadFile("testdata/function-url-post.json")
	if err != nil {
		t.Fatal(err)
	}
	var req events.LambdaFunctionURLRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		t.Fatal(err)
	}
	req.Body = body
	delete(req.Headers, "content-type")
	if contentType != "" {
		req.Headers["content-type"] = contentType
	}
	return req
}

// harness is a handler writing to an in-memory stream, with its logs and
// metrics captured.
type harness struct {
	handler *Handler
	stream  *streamtest.Stream
	metrics bytes.Buffer
	logs    bytes.Buffer
	ids     []string      // eventIds the handler assigned
	timeout time.Duration // the invocation's deadline
}

func newHarness(t testing.TB) *harness {
	h := &harness{stream: &streamtest.Stream{Name: "activity"}, timeout: 2 * time.Second}
	logger := telemetry.NewLogger(&h.logs, func(name string) string {
		return map[string]string{"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "DEBUG"}[name]
	})
	h.handler = NewHandler(Config{MetricsNamespace: "streamfn", FunctionName: "streamfn-dev-ingest"}, Deps{
		Writer: streamwriter.New(h.stream, "activity", streamwriter.Options{
			BaseDelay: time.Millisecond, MaxDelay: 4 * time.Millisecond, Margin: 20 * time.Millisecond,
		}),
		Logger:  logger,
		Metrics: &h.metrics,
		NewEventID: func() (string, error) {
			id, err := NewEventID()
			h.ids = append(h.ids, id)
			return id, err
		},
	})
	return h
}

func (h *harness) do(t testing.TB, req events.LambdaFunctionURLRequest) events.LambdaFunctionURLResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), h.timeout)
	defer cancel()
	resp, err := h.handler.Handle(ctx, req)
	if err != nil {
		t.Fatalf("Handle returned an error (Lambda would answer a bare 502): %v", err)
	}
	return resp
}

func ndjson(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

func array(elements ...string) string { return "[" + strings.Join(elements, ",") + "]" }

func TestHandlerAnswers(t *testing.T) {
	const (
		hint         = `send one event object or an array of event objects as application/json, or one event object per line as application/x-ndjson`
		unsupported  = `; ` + hint + `","allowed":["application/json","application/x-ndjson","application/ndjson","application/jsonl","application/x-jsonlines","application/json-seq"]}`
		manyEvents   = `{"message":"request holds 1001 events; at most 1000 are allowed per request: split it","maxEvents":1000}`
		manyLines    = `{"message":"request holds more than 1000 events; at most 1000 are allowed per request: split it","maxEvents":1000}`
		oneAccepted  = `{"accepted":1,"rejected":[]}`
		noUserReason = `"userId: required, a non-empty string"`
		clickReason  = `"type: \"click\" is not one of view, add_to_cart, purchase, search"`
	)
	tests := []struct {
		name        string
		method      string // POST when empty
		contentType string
		body        string
		base64      bool
		status      int
		headers     map[string]string // besides Content-Type
		wantBody    string
		written     []string // the records' data, in order
	}{
		{
			name: "one object", contentType: "application/json", body: view1,
			status: 202, wantBody: oneAccepted, written: []string{view1},
		},
		{
			name: "array, pretty-printed, fields the processor ignores kept", contentType: "application/json",
			body:   "[\n  " + strings.ReplaceAll(cart1, ",", ", ") + ",\n  " + search1 + "\n]\n",
			status: 202, wantBody: `{"accepted":2,"rejected":[]}`, written: []string{cart1, search1},
		},
		{
			name: "media type case and parameters", contentType: "Application/JSON; Charset=UTF-8", body: view1,
			status: 202, wantBody: oneAccepted, written: []string{view1},
		},
		{
			name: "mixed valid and invalid", contentType: "application/json",
			body:     array(view1, noUser, cart1, click, `"not an object"`, `{"eventId":"e-6","userId":"u-6","type":"view","ts":"2026-11-26T12:00:00Z"}`),
			status:   202,
			wantBody: `{"accepted":2,"rejected":[{"index":1,"error":` + noUserReason + `,"errors":[` + noUserReason + `]},{"index":3,"error":` + clickReason + `,"errors":[` + clickReason + `]},{"index":4,"error":"not a JSON object","errors":["not a JSON object"]},{"index":5,"error":"productId: required for type view","errors":["productId: required for type view"]}]}`,
			written:  []string{view1, cart1},
		},
		{
			name: "every event invalid is still 202: nothing to retry", contentType: "application/json", body: array(noUser, click),
			status:   202,
			wantBody: `{"accepted":0,"rejected":[{"index":0,"error":` + noUserReason + `,"errors":[` + noUserReason + `]},{"index":1,"error":` + clickReason + `,"errors":[` + clickReason + `]}]}`,
		},
		{
			name: "array with a malformed element", contentType: "application/json", body: `[` + view1 + `,{"userId":}]`,
			status:   400,
			wantBody: `{"message":"body is not valid JSON: invalid character '}' looking for beginning of value (at byte 105); ` + hint + `"}`,
		},
		{
			name: "malformed object after blank lines", contentType: "application/json", body: "\n\n" + `{"userId":"u-1",`,
			status:   400,
			wantBody: `{"message":"body is not valid JSON: unexpected end of JSON input (at byte 18); ` + hint + `"}`,
		},
		{
			name: "concatenated objects sent as JSON", contentType: "application/json", body: view1 + "\n" + cart1,
			status:   400,
			wantBody: `{"message":"body is not valid JSON: invalid character '{' after top-level value (at byte 94); ` + hint + `"}`,
		},
		{
			name: "empty body", contentType: "application/json", body: " \n",
			status: 400, wantBody: `{"message":"body is empty; ` + hint + `"}`,
		},
		{
			name: "empty array", contentType: "application/json", body: "[]",
			status: 400, wantBody: `{"message":"body holds no events; ` + hint + `"}`,
		},
		{
			name: "a no-break space is not JSON whitespace", contentType: "application/json", body: "\u00a0" + view1,
			status: 400, wantBody: `{"message":"body is not a JSON object or array; ` + hint + `"}`,
		},
		{
			name: "a JSON string", contentType: "application/json", body: `"view"`,
			status: 400, wantBody: `{"message":"body is not a JSON object or array; ` + hint + `"}`,
		},
		{
			name: "NDJSON with blank lines and a bad line", contentType: "application/x-ndjson",
			body:     "\r\n" + view1 + "\r\n\n" + `{"userId":` + "\n   \n" + search1 + "\n" + noUser,
			status:   202,
			wantBody: `{"accepted":2,"rejected":[{"index":1,"error":"invalid JSON: unexpected end of JSON input","errors":["invalid JSON: unexpected end of JSON input"]},{"index":3,"error":` + noUserReason + `,"errors":[` + noUserReason + `]}]}`,
			written:  []string{view1, search1},
		},
		{
			name: "NDJSON of blank lines only", contentType: "application/x-ndjson", body: "\n \n",
			status: 400, wantBody: `{"message":"body holds no events; ` + hint + `"}`,
		},
		{
			name: "base64 body", contentType: "application/x-ndjson", body: base64.StdEncoding.EncodeToString([]byte(ndjson(view1, cart1))), base64: true,
			status: 202, wantBody: `{"accepted":2,"rejected":[]}`, written: []string{view1, cart1},
		},
		{
			name: "bad base64", contentType: "application/json", body: "eyJ1c2VySWQi*", base64: true,
			status:   400,
			wantBody: `{"message":"body is marked base64-encoded (isBase64Encoded) but is not valid base64: illegal base64 data at input byte 12"}`,
		},
		{
			name: "1000 events fit", contentType: "application/json", body: array(repeatEvents(1000)...),
			status: 202, wantBody: `{"accepted":1000,"rejected":[]}`, written: repeatEvents(1000),
		},
		{
			name: "1001 events", contentType: "application/json", body: array(repeatEvents(1001)...),
			status: 413, wantBody: manyEvents,
		},
		{
			name: "1001 NDJSON lines", contentType: "application/x-ndjson", body: ndjson(repeatEvents(1001)...),
			status: 413, wantBody: manyLines,
		},
		{
			name: "body over 6 MiB", contentType: "application/json", body: array(view1) + strings.Repeat(" ", MaxBodyBytes),
			status:   413,
			wantBody: fmt.Sprintf(`{"message":"body is %d bytes; at most 6291456 (6 MiB, Lambda's payload limit) are allowed per request, compressed or not: split it","maxBodyBytes":6291456}`, len(array(view1))+MaxBodyBytes),
		},
		{
			name: "text/plain", contentType: "text/plain", body: view1,
			status: 415, wantBody: `{"message":"Content-Type \"text/plain\" is not supported` + unsupported,
		},
		{
			name: "no content type", body: view1,
			status: 415, wantBody: `{"message":"Content-Type is missing` + unsupported,
		},
		{
			name: "JSON in Latin-1", contentType: "application/json; charset=iso-8859-1", body: view1,
			status: 415, wantBody: `{"message":"charset \"iso-8859-1\" is not supported: JSON must be UTF-8` + unsupported,
		},
		{
			name: "GET", method: "GET", contentType: "application/json",
			status: 405, headers: map[string]string{"Allow": "POST"},
			wantBody: `{"message":"method GET is not allowed: send events with POST","allowed":["POST"]}`,
		},
		{
			name: "PUT", method: "PUT", contentType: "application/json", body: view1,
			status: 405, headers: map[string]string{"Allow": "POST"},
			wantBody: `{"message":"method PUT is not allowed: send events with POST","allowed":["POST"]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			req := functionURLRequest(t, tt.contentType, tt.body)
			req.IsBase64Encoded = tt.base64
			if tt.method != "" {
				req.RequestContext.HTTP.Method = tt.method
			}
			resp := h.do(t, req)
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			wantHeaders := maps.Clone(jsonHeaders)
			maps.Copy(wantHeaders, tt.headers)
			if !maps.Equal(resp.Headers, wantHeaders) {
				t.Errorf("headers %v, want %v", resp.Headers, wantHeaders)
			}
			if resp.Body != tt.wantBody {
				t.Errorf("body\n got %s\nwant %s", resp.Body, tt.wantBody)
			}
			if resp.IsBase64Encoded {
				t.Error("response body marked base64")
			}
			var got []string
			for _, r := range h.stream.Written() {
				got = append(got, string(r.Data))
				if ev, err := activity.ParseValid(r.Data); err != nil || r.PartitionKey != ev.UserID {
					t.Errorf("record %s: partition key %q, parse error %v", r.Data, r.PartitionKey, err)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.written, "\n") {
				t.Errorf("stream holds\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.written, "\n"))
			}
		})
	}
}

// repeatEvents returns n distinct valid events with eventIds.
func repeatEvents(n int) []string {
	events := make([]string, n)
	for i := range events {
		events[i] = fmt.Sprintf(`{"eventId":"e-%d","userId":"u-%d","type":"view","productId":"p-%d","ts":"2026-11-26T12:00:00Z"}`, i, i%50, i%7)
	}
	return events
}

func TestMissingEventIDGetsAUUIDv7(t *testing.T) {
	tests := []struct {
		name, event string
		// want is the record with the assigned id written as ID.
		want string
	}{
		{"absent", view2, `{"eventId":"ID","userId":"u-4","type":"view","productId":"p-4","ts":"2026-11-26T12:00:05Z"}`},
		{"null", `{"userId":"u-4","eventId":null,"type":"search","ts":"2026-11-26T12:00:05Z"}`,
			`{"eventId":"ID","userId":"u-4","type":"search","ts":"2026-11-26T12:00:05Z"}`},
		{"empty, last member", `{"userId":"u-4","type":"search","ts":"2026-11-26T12:00:05Z","eventId":""}`,
			`{"eventId":"ID","userId":"u-4","type":"search","ts":"2026-11-26T12:00:05Z"}`},
		{"escaped key, nested values kept", `{"event\u0049d":null, "userId":"u-4", "type":"search", "ts":"2026-11-26T12:00:05Z", "ctx":{"eventId":"inner","a":[1,{"b":"}"}]}}`,
			`{"eventId":"ID","userId":"u-4","type":"search","ts":"2026-11-26T12:00:05Z","ctx":{"eventId":"inner","a":[1,{"b":"}"}]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			resp := h.do(t, functionURLRequest(t, "application/json", tt.event))
			if resp.StatusCode != 202 || resp.Body != `{"accepted":1,"rejected":[]}` {
				t.Fatalf("%d %s", resp.StatusCode, resp.Body)
			}
			written := h.stream.Written()
			if len(h.ids) != 1 || len(written) != 1 {
				t.Fatalf("assigned %d ids, wrote %d records; want 1 and 1", len(h.ids), len(written))
			}
			id, err := uuid.Parse(h.ids[0])
			if err != nil || id.Version() != 7 {
				t.Fatalf("assigned eventId %q is not a UUIDv7 (version %d, %v)", h.ids[0], id.Version(), err)
			}
			if want := strings.Replace(tt.want, "ID", h.ids[0], 1); string(written[0].Data) != want {
				t.Errorf("record\n got %s\nwant %s", written[0].Data, want)
			}
			ev, err := activity.ParseValid(written[0].Data)
			if err != nil || ev.EventID != h.ids[0] {
				t.Errorf("the processor reads eventId %q (%v), want %q", ev.EventID, err, h.ids[0])
			}
		})
	}
}

func TestAssignedIDsAreDistinctAndTimeOrdered(t *testing.T) {
	h := newHarness(t)
	resp := h.do(t, functionURLRequest(t, "application/json", array(view2, view2, view2)))
	if resp.StatusCode != 202 || len(h.ids) != 3 {
		t.Fatalf("%d %s, %d ids", resp.StatusCode, resp.Body, len(h.ids))
	}
	if !(h.ids[0] < h.ids[1] && h.ids[1] < h.ids[2]) {
		t.Errorf("UUIDv7s not increasing: %v", h.ids)
	}
}

// An assigned eventId must not push an event over the size the processor
// accepts.
func TestAssignedIDMustFitTheEventLimit(t *testing.T) {
	padding := activity.MaxEventBytes - len(view2) - len(`,"note":""`)
	event := strings.TrimSuffix(view2, "}") + `,"note":"` + strings.Repeat("x", padding) + `"}`
	if len(event) != activity.MaxEventBytes {
		t.Fatalf("test event is %d bytes", len(event))
	}
	h := newHarness(t)
	resp := h.do(t, functionURLRequest(t, "application/json", array(event, view1)))
	// 32768 + len(`"eventId":"` + 36 + `",`) = 32817.
	want := `{"accepted":1,"rejected":[{"index":0,"error":"event is 32817 bytes with its assigned eventId; at most 32768 allowed: shorten it or send your own eventId","errors":["event is 32817 bytes with its assigned eventId; at most 32768 allowed: shorten it or send your own eventId"]}]}`
	if resp.StatusCode != 202 || resp.Body != want {
		t.Errorf("%d %s\nwant 202 %s", resp.StatusCode, resp.Body, want)
	}
}

func TestThrottledEntriesAreRetriedUntilWritten(t *testing.T) {
	h := newHarness(t)
	events := repeatEvents(700)
	h.stream.FailEntry = func(call, sent int, data []byte) string {
		if bytes.Contains(data, []byte(`"e-1`)) && sent <= 2 { // e-1, e-10.., e-100..: 111 events
			return "ProvisionedThroughputExceededException"
		}
		return ""
	}
	resp := h.do(t, functionURLRequest(t, "application/json", array(events...)))
	if resp.StatusCode != 202 || resp.Body != `{"accepted":700,"rejected":[]}` {
		t.Fatalf("%d %s", resp.StatusCode, resp.Body)
	}
	for i, e := range events {
		if n := h.stream.TimesWritten([]byte(e)); n != 1 {
			t.Errorf("event %d written %d times, want once", i, n)
		}
	}
	m := emf(t, &h.metrics)
	want := map[string]float64{"Accepted": 700, "Rejected": 0, "Unwritten": 0, "Throttled": 222, "Retries": 222, "PutRecordsCalls": 4, "RefusedRequests": 0}
	if !maps.Equal(m, want) {
		t.Errorf("metrics %v, want %v", m, want)
	}
}

// Events Kinesis never takes are answered 503 with exactly their request
// indexes, and the accepted count holds only what the stream took.
func TestUnwrittenEventsAre503WithTheirIndexes(t *testing.T) {
	h := newHarness(t)
	h.timeout = 200 * time.Millisecond
	h.stream.FailEntry = func(call, sent int, data []byte) string {
		if bytes.Contains(data, []byte(`"e-3"`)) || bytes.Contains(data, []byte(`"u-4"`)) {
			return "ProvisionedThroughputExceededException"
		}
		return ""
	}
	resp := h.do(t, functionURLRequest(t, "application/x-ndjson", ndjson(view1, noUser, search1, cart1, view2)))
	want := `{"accepted":2,"rejected":[{"index":1,"error":"userId: required, a non-empty string","errors":["userId: required, a non-empty string"]}],"unwritten":[2,4],` +
		`"message":"2 of 4 valid events were not written: the stream is throttling or unavailable; send the events listed in unwritten again after Retry-After seconds, each with its own eventId so a retry cannot count twice"}`
	if resp.StatusCode != 503 || resp.Body != want {
		t.Errorf("%d %s\nwant 503 %s", resp.StatusCode, resp.Body, want)
	}
	if !maps.Equal(resp.Headers, map[string]string{"Content-Type": "application/json", "Retry-After": "1"}) {
		t.Errorf("headers %v", resp.Headers)
	}
	if got := len(h.stream.Written()); got != 2 {
		t.Errorf("stream holds %d records, want 2", got)
	}
	m := emf(t, &h.metrics)
	if m["Accepted"] != 2 || m["Rejected"] != 1 || m["Unwritten"] != 2 || m["Throttled"] < 4 || m["Retries"] < 2 {
		t.Errorf("metrics %v", m)
	}
	if !strings.Contains(h.logs.String(), `"level":"WARN","message":"events not written before the deadline"`) {
		t.Errorf("no warning logged:\n%s", h.logs.String())
	}
}

func TestStreamRefusalIs503WithALongRetryAfter(t *testing.T) {
	h := newHarness(t)
	h.stream.FailCall = func(int) error {
		return &types.ResourceNotFoundException{Message: aws.String("Stream activity under account 123456789012 not found.")}
	}
	resp := h.do(t, functionURLRequest(t, "application/json", array(view1, cart1)))
	want := `{"accepted":0,"rejected":[],"unwritten":[0,1],"message":"2 of 2 valid events were not written: the stream refused them (ResourceNotFoundException) and retrying will not help until an operator fixes the stream or the function's permissions (see the ingest function's logs); send the events listed in unwritten again later"}`
	if resp.StatusCode != 503 || resp.Body != want || resp.Headers["Retry-After"] != "30" {
		t.Errorf("%d %v %s\nwant 503 Retry-After 30 %s", resp.StatusCode, resp.Headers, resp.Body, want)
	}
	if strings.Contains(resp.Body, "123456789012") {
		t.Error("the answer leaks the account id")
	}
	if !strings.Contains(h.logs.String(), "123456789012") {
		t.Error("the log lacks the full error")
	}
}

func TestEventIDFailureIs500AndWritesNothing(t *testing.T) {
	h := newHarness(t)
	h.handler.deps.NewEventID = func() (string, error) { return "", errors.New("no entropy") }
	resp := h.do(t, functionURLRequest(t, "application/json", array(view1, view2)))
	want := `{"message":"ingest failed before writing anything: nothing was written; send the request again"}`
	if resp.StatusCode != 500 || resp.Body != want {
		t.Errorf("%d %s", resp.StatusCode, resp.Body)
	}
	if len(h.stream.Calls()) != 0 {
		t.Error("the stream was called")
	}
}

func TestOneMetricsLineAndOneLogLinePerRequest(t *testing.T) {
	h := newHarness(t)
	h.do(t, functionURLRequest(t, "text/csv", "a,b"))
	h.do(t, functionURLRequest(t, "application/json", array(view1, click)))
	lines := strings.Split(strings.TrimSpace(h.metrics.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d EMF lines, want 2:\n%s", len(lines), h.metrics.String())
	}
	var doc struct {
		FunctionName string
		AWS          struct {
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
	}
	if err := json.Unmarshal([]byte(lines[1]), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.FunctionName != "streamfn-dev-ingest" || doc.AWS.CloudWatchMetrics[0].Namespace != "streamfn" {
		t.Errorf("EMF line %s", lines[1])
	}
	var names []string
	for _, m := range doc.AWS.CloudWatchMetrics[0].Metrics {
		names = append(names, m.Name+"/"+m.Unit)
	}
	if got := strings.Join(names, " "); got != "Accepted/Count Rejected/Count Unwritten/Count Throttled/Count Retries/Count PutRecordsCalls/Count RefusedRequests/Count" {
		t.Errorf("metrics %s", got)
	}
	first := emf(t, strings.NewReader(lines[0]))
	second := emf(t, strings.NewReader(lines[1]))
	if first["RefusedRequests"] != 1 || second["Accepted"] != 1 || second["Rejected"] != 1 || second["PutRecordsCalls"] != 1 {
		t.Errorf("metrics %v then %v", first, second)
	}
	var done int
	for line := range strings.Lines(h.logs.String()) {
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		if entry["message"] == "request done" {
			done++
			if entry["requestId"] != "c0ffee00-1234-4abc-8def-0123456789ab" {
				t.Errorf("log line without the request id: %s", line)
			}
		}
	}
	if done != 2 {
		t.Errorf("%d 'request done' lines, want 2:\n%s", done, h.logs.String())
	}
}

// emf reads the metric values of the last EMF line in r.
func emf(t *testing.T, r interface{ Read([]byte) (int, error) }) map[string]float64 {
	t.Helper()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var doc map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &doc); err != nil {
		t.Fatalf("EMF line %q: %v", lines[len(lines)-1], err)
	}
	values := map[string]float64{}
	for k, v := range doc {
		if f, ok := v.(float64); ok {
			values[k] = f
		}
	}
	return values
}

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr string
	}{
		{"all set", map[string]string{"STREAM_NAME": "streamfn-dev", "METRICS_NAMESPACE": "shop", "THROTTLE_RETRY_MS": "1500",
			"AWS_LAMBDA_FUNCTION_NAME": "streamfn-dev-ingest"}, Config{StreamName: "streamfn-dev", MetricsNamespace: "shop", FunctionName: "streamfn-dev-ingest", ThrottleRetry: 1500 * time.Millisecond}, ""},
		{"defaults", map[string]string{"STREAM_NAME": "streamfn-dev"}, Config{StreamName: "streamfn-dev", MetricsNamespace: "streamfn", FunctionName: "ingest", ThrottleRetry: time.Second}, ""},
		{"bad throttle retry", map[string]string{"STREAM_NAME": "streamfn-dev", "THROTTLE_RETRY_MS": "1s"}, Config{StreamName: "streamfn-dev", MetricsNamespace: "streamfn", FunctionName: "ingest", ThrottleRetry: time.Second},
			"configuration error:\n  THROTTLE_RETRY_MS = \"1s\": must be an integer in 1..900000 (unset means 1000)"},
		{"no stream", map[string]string{"METRICS_NAMESPACE": "shop"}, Config{MetricsNamespace: "shop", FunctionName: "ingest", ThrottleRetry: time.Second},
			"configuration error:\n  STREAM_NAME is not set: it must hold the name of the Kinesis data stream that ingest writes events to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ConfigFromEnv(func(k string) string { return tt.env[k] })
			if got != tt.want {
				t.Errorf("config %+v, want %+v", got, tt.want)
			}
			if (err == nil && tt.wantErr != "") || (err != nil && err.Error() != tt.wantErr) {
				t.Errorf("error %v, want %q", err, tt.wantErr)
			}
		})
	}
}
