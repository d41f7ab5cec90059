package ingest

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/klauspost/compress/zstd"

	"github.com/streamfn/streamfn/internal/activity"
)

// The bodies real clients, SDKs, load balancers and proxies send, each
// with the answer it must get. These are regression tests for issue 12.

func gzipped(t testing.TB, s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func zlibbed(s string) []byte {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func rawDeflated(s string) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.DefaultCompression)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func zstded(s string) []byte {
	enc, _ := zstd.NewWriter(nil)
	return enc.EncodeAll([]byte(s), nil)
}

// encodedRequest is a request whose body is data, base64-encoded as a
// Function URL passes binary bodies, with the given headers.
func encodedRequest(t testing.TB, contentType string, data []byte, headers map[string]string) events.LambdaFunctionURLRequest {
	req := functionURLRequest(t, contentType, base64.StdEncoding.EncodeToString(data))
	req.IsBase64Encoded = true
	for k, v := range headers {
		req.Headers[k] = v
	}
	return req
}

// hundred is an NDJSON body of 100 valid events.
func hundred() string {
	var lines []string
	for i := range 100 {
		lines = append(lines, fmt.Sprintf(`{"eventId":"e-%d","userId":"u-%d","type":"view","productId":"p-1","ts":"2026-11-26T12:00:00Z"}`, i, i%7))
	}
	return ndjson(lines...)
}

// Item 1: a compressed body is decoded, never read as garbage.
func TestCompressedBodies(t *testing.T) {
	body := hundred()
	for _, c := range []struct {
		name, encoding string
		data           []byte
	}{
		{"gzip", "gzip", gzipped(t, body)},
		{"x-gzip", "x-gzip", gzipped(t, body)},
		{"GZIP upper case", "GZIP", gzipped(t, body)},
		{"deflate (zlib, RFC 9110)", "deflate", zlibbed(body)},
		{"deflate sent raw", "deflate", rawDeflated(body)},
		{"zstd", "zstd", zstded(body)},
		{"gzip then identity", "gzip, identity", gzipped(t, body)},
		{"twice", "gzip, gzip", gzipped(t, string(gzipped(t, body)))},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			resp := h.do(t, encodedRequest(t, "application/x-ndjson", c.data, map[string]string{"content-encoding": c.encoding}))
			if resp.StatusCode != 202 || resp.Body != `{"accepted":100,"rejected":[]}` {
				t.Fatalf("%d %s", resp.StatusCode, resp.Body)
			}
			if got := len(h.stream.Written()); got != 100 {
				t.Fatalf("wrote %d records, want 100", got)
			}
		})
	}
	t.Run("gzip JSON array", func(t *testing.T) {
		h := newHarness(t)
		resp := h.do(t, encodedRequest(t, "application/json", gzipped(t, array(view1, cart1)), map[string]string{"content-encoding": "gzip"}))
		if resp.StatusCode != 202 || resp.Body != `{"accepted":2,"rejected":[]}` {
			t.Fatalf("%d %s", resp.StatusCode, resp.Body)
		}
	})
}

func TestCompressedBodiesRefused(t *testing.T) {
	bomb := make([]byte, MaxBodyBytes+1) // zeros compress about a thousandfold
	cases := []struct {
		name, encoding string
		data           []byte
		status         int
		says           []string
	}{
		{"brotli", "br", []byte("\x0b\x02\x80{}\x03"), 415, []string{`Content-Encoding \"br\" is not supported`, "gzip, deflate, zstd", `"allowedEncodings":["gzip","deflate","zstd","identity"]`}},
		{"compress", "compress", []byte("x"), 415, []string{`\"compress\" is not supported`}},
		{"not gzip", "gzip", []byte(view1), 400, []string{"Content-Encoding: gzip but is not valid gzip data"}},
		{"truncated gzip", "gzip", gzipped(t, hundred())[:200], 400, []string{"not valid gzip data"}},
		{"decompression bomb", "gzip", gzipped(t, string(bomb)), 413, []string{"decoded from Content-Encoding gzip is more than 6291456 bytes", `"maxBodyBytes":6291456`}},
		{"zstd bomb", "zstd", zstded(string(bomb)), 413, []string{"decoded from Content-Encoding zstd", `"maxBodyBytes":6291456`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			resp := h.do(t, encodedRequest(t, "application/x-ndjson", c.data, map[string]string{"content-encoding": c.encoding}))
			if resp.StatusCode != c.status {
				t.Fatalf("%d %s, want %d", resp.StatusCode, resp.Body, c.status)
			}
			for _, s := range c.says {
				if !strings.Contains(resp.Body, s) {
					t.Errorf("body %s does not say %s", resp.Body, s)
				}
			}
			if len(h.stream.Written()) != 0 {
				t.Fatal("wrote records")
			}
		})
	}
}

// Item 2: a UTF-8 byte order mark before the body is skipped.
func TestByteOrderMark(t *testing.T) {
	const bom = "\uFEFF"
	for _, c := range []struct {
		name, contentType, body, want string
	}{
		{"JSON object", "application/json", bom + view1, `{"accepted":1,"rejected":[]}`},
		{"JSON array", "application/json", bom + array(view1, cart1), `{"accepted":2,"rejected":[]}`},
		{"NDJSON", "application/x-ndjson", bom + ndjson(view1, cart1), `{"accepted":2,"rejected":[]}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			resp := h.do(t, functionURLRequest(t, c.contentType, c.body))
			if resp.StatusCode != 202 || resp.Body != c.want {
				t.Fatalf("%d %s, want 202 %s", resp.StatusCode, resp.Body, c.want)
			}
			if got := string(h.stream.Written()[0].Data); got != view1 {
				t.Fatalf("record %q, want %q", got, view1)
			}
		})
	}
}

type eventReply struct {
	Accepted int `json:"accepted"`
	Rejected []struct {
		Index  int      `json:"index"`
		Error  string   `json:"error"`
		Errors []string `json:"errors"`
	} `json:"rejected"`
}

func send(t *testing.T, event string) (eventReply, *harness) {
	t.Helper()
	h := newHarness(t)
	resp := h.do(t, functionURLRequest(t, "application/json", event))
	var reply eventReply
	if resp.StatusCode != 202 || json.Unmarshal([]byte(resp.Body), &reply) != nil {
		t.Fatalf("%d %s", resp.StatusCode, resp.Body)
	}
	return reply, h
}

// Item 3: ts by RFC 3339's grammar, written to the stream as sent.
func TestTimestamps(t *testing.T) {
	reply, _ := send(t, `{"eventId":"e","userId":"u","type":"search","ts":"2026-11-26T2:00:00Z"}`)
	if reply.Accepted != 0 || len(reply.Rejected) != 1 || !strings.HasPrefix(reply.Rejected[0].Error, `ts: "2026-11-26T2:00:00Z" is not an RFC 3339 timestamp: the hour must be 2 digits`) {
		t.Fatalf("one-digit hour: %+v", reply)
	}
	const lower = `{"eventId":"e","userId":"u","type":"search","ts":"2026-11-26t12:00:00z"}`
	reply, h := send(t, lower)
	if reply.Accepted != 1 {
		t.Fatalf("lower-case t and z: %+v", reply)
	}
	if got := string(h.stream.Written()[0].Data); got != lower {
		t.Fatalf("record %s, want ts as sent: %s", got, lower)
	}
	reply, _ = send(t, `{"eventId":"e","userId":"u","type":"search","ts":"2016-12-31T23:59:60Z"}`)
	if reply.Accepted != 1 {
		t.Fatalf("leap second: %+v", reply)
	}
}

// Item 4: every problem of an event at once.
func TestEveryProblemOfAnEvent(t *testing.T) {
	reply, _ := send(t, `{"userId":42,"price":"cheap","ts":"yesterday"}`)
	if len(reply.Rejected) != 1 {
		t.Fatalf("%+v", reply)
	}
	got := reply.Rejected[0].Errors
	want := []string{"userId: must be a string", "type: required", "price: must be a number >= 0", "ts: \"yesterday\" is not an RFC 3339 timestamp"}
	if len(got) != len(want) {
		t.Fatalf("errors %q, want %d of them", got, len(want))
	}
	for k := range want {
		if !strings.HasPrefix(got[k], want[k]) {
			t.Errorf("error %d is %q, want it to start %q", k, got[k], want[k])
		}
	}
	if reply.Rejected[0].Error != strings.Join(got, "; ") {
		t.Errorf("error %q is not the errors joined", reply.Rejected[0].Error)
	}
}

// Item 5: >= and × come out as they are.
func TestMessagesAreNotHTMLEscaped(t *testing.T) {
	h := newHarness(t)
	resp := h.do(t, functionURLRequest(t, "application/json", `{"eventId":"e","userId":"u","type":"search","price":-1,"ts":"2026-11-26T12:00:00Z"}`))
	if !strings.Contains(resp.Body, "must be a finite number >= 0") || strings.Contains(resp.Body, `\u003e`) {
		t.Fatalf("body %s", resp.Body)
	}
	// And through Invoke, the function's entry point.
	payload, _ := json.Marshal(functionURLRequest(t, "application/json", `{"eventId":"e","userId":"u","type":"search","price":-1,"ts":"2026-11-26T12:00:00Z"}`))
	out, err := h.handler.Invoke(t.Context(), payload)
	if err != nil || bytes.Contains(out, []byte(`u003e`)) || !bytes.Contains(out, []byte(`>= 0`)) {
		t.Fatalf("Invoke: %s %v", out, err)
	}
}

// Item 7: the partition key, the item and the record agree, because ingest
// rejects what readers could read differently.
func TestOneReadingOfEachEvent(t *testing.T) {
	const rest = `"eventId":"e","type":"search","ts":"2026-11-26T12:00:00Z"`
	cases := []struct {
		name, event, says string
	}{
		{"case-variant key", `{"userId":"alice","USERID":"mallory",` + rest + `}`, `USERID: keys are case-sensitive`},
		{"duplicate key", `{"userId":"alice","userId":"mallory",` + rest + `}`, `userId: appears more than once`},
		{"invalid UTF-8 ff", "{\"userId\":\"a\xffb\"," + rest + "}", "userId: is not valid UTF-8"},
		{"invalid UTF-8 fe", "{\"userId\":\"a\xfeb\"," + rest + "}", "userId: is not valid UTF-8"},
		{"replacement character", `{"userId":"a\uFFFDb",` + rest + `}`, "userId: character U+FFFD"},
		{"lone surrogate", `{"userId":"\ud800",` + rest + `}`, `userId: holds \ud800, half of a UTF-16 surrogate pair`},
		{"NUL", `{"userId":"a\u0000",` + rest + `}`, "userId: character U+0000"},
		{"bidi override", `{"userId":"a\u202Eb",` + rest + `}`, "userId: character U+202E"},
		{"zero-width joiner", `{"userId":"a\u200Db",` + rest + `}`, "userId: character U+200D"},
		{"NFD look-alike", `{"userId":"jose\u0301",` + rest + `}`, "userId: character U+0301"},
		{"eventId control character", `{"userId":"u","eventId":"e\n","type":"search","ts":"2026-11-26T12:00:00Z"}`, "eventId: character U+000A"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reply, h := send(t, c.event)
			if reply.Accepted != 0 || len(reply.Rejected) != 1 || !strings.Contains(reply.Rejected[0].Error, c.says) {
				t.Fatalf("%+v, want rejected saying %q", reply, c.says)
			}
			if len(h.stream.Written()) != 0 {
				t.Fatal("wrote a record")
			}
		})
	}
	// What is accepted, every reader reads alike: the partition key is the
	// userId encoding/json (case-insensitive, last wins) reads from the
	// record.
	reply, h := send(t, `{"userId":"\u0061lice","x":{"USERID":"m"},"ctx":{"userId":"m"},`+rest+`}`)
	if reply.Accepted != 1 {
		t.Fatalf("%+v", reply)
	}
	record := h.stream.Written()[0]
	var other struct{ UserID string }
	if err := json.Unmarshal(record.Data, &other); err != nil || other.UserID != "alice" || record.PartitionKey != "alice" {
		t.Fatalf("partition key %q, encoding/json reads %q (%v)", record.PartitionKey, other.UserID, err)
	}
	if ev, err := activity.ParseValid(record.Data); err != nil || ev.UserID != record.PartitionKey {
		t.Fatalf("the processor reads %q (%v), the partition key is %q", ev.UserID, err, record.PartitionKey)
	}
}

// Item 8: a purchase amount the processor would poison is rejected here.
func TestPurchaseAmountBounds(t *testing.T) {
	for _, c := range []struct{ price, quantity, says string }{
		{"1e300", "1", "price: price 1e+300: exceeds the 38 significant digits a DynamoDB number holds"},
		{"1e25", "100000000", "price: price 1e+25 × quantity 100000000"},
	} {
		reply, h := send(t, `{"eventId":"e","userId":"u","type":"purchase","productId":"p","price":`+c.price+`,"quantity":`+c.quantity+`,"ts":"2026-11-26T12:00:00Z"}`)
		if reply.Accepted != 0 || len(reply.Rejected) != 1 || !strings.Contains(reply.Rejected[0].Error, c.says) {
			t.Fatalf("price %s × %s: %+v, want rejected saying %q", c.price, c.quantity, reply, c.says)
		}
		if len(h.stream.Written()) != 0 {
			t.Fatal("wrote a record")
		}
	}
	// A view with that price is not a purchase: the processor does not
	// add it up, so it is accepted.
	if reply, _ := send(t, `{"eventId":"e","userId":"u","type":"view","productId":"p","price":1e300,"ts":"2026-11-26T12:00:00Z"}`); reply.Accepted != 1 {
		t.Fatalf("%+v", reply)
	}
}

// The whole kind: every header and body property clients vary.
func TestWhatClientsVary(t *testing.T) {
	cases := []struct {
		name, contentType, body string
		headers                 map[string]string
		base64                  bool
		status                  int
		says                    string // in the answer
	}{
		{name: "charset utf-8", contentType: "application/json; charset=utf-8", body: view1, status: 202, says: `"accepted":1`},
		{name: "charset UTF8 quoted", contentType: `application/json; charset="UTF8"`, body: view1, status: 202, says: `"accepted":1`},
		{name: "charset latin-1", contentType: "application/json; charset=iso-8859-1", body: view1, status: 415, says: "JSON must be UTF-8"},
		{name: "upper-case media type", contentType: "Application/JSON", body: view1, status: 202, says: `"accepted":1`},
		{name: "application/x-ndjson", contentType: "application/x-ndjson", body: ndjson(view1, cart1), status: 202, says: `"accepted":2`},
		{name: "application/ndjson", contentType: "application/ndjson", body: ndjson(view1, cart1), status: 202, says: `"accepted":2`},
		{name: "application/jsonl", contentType: "application/jsonl", body: ndjson(view1, cart1), status: 202, says: `"accepted":2`},
		{name: "application/x-jsonlines", contentType: "application/x-jsonlines", body: ndjson(view1, cart1), status: 202, says: `"accepted":2`},
		{name: "application/json-seq", contentType: "application/json-seq", body: "\x1e" + view1 + "\n\x1e" + cart1 + "\n", status: 202, says: `"accepted":2`},
		{name: "json-seq with a bad record", contentType: "application/json-seq", body: "\x1e" + view1 + "\n\x1e{\"userId\":\n\x1e" + cart1 + "\n", status: 202, says: `"accepted":2,"rejected":[{"index":1,`},
		{name: "json-seq without RS", contentType: "application/json-seq", body: view1 + "\n", status: 400, says: "record separator RS (0x1E)"},
		{name: "text/plain", contentType: "text/plain", body: view1, status: 415, says: `"allowed":["application/json",`},
		{name: "CRLF line ends", contentType: "application/x-ndjson", body: view1 + "\r\n" + cart1 + "\r\n", status: 202, says: `"accepted":2`},
		{name: "no trailing newline", contentType: "application/x-ndjson", body: view1 + "\n" + cart1, status: 202, says: `"accepted":2`},
		{name: "empty lines", contentType: "application/x-ndjson", body: "\n\n" + view1 + "\n\r\n\n" + cart1 + "\n\n", status: 202, says: `"accepted":2`},
		{name: "base64 on", contentType: "application/json", body: base64.StdEncoding.EncodeToString([]byte(view1)), base64: true, status: 202, says: `"accepted":1`},
		{name: "base64 on, not base64", contentType: "application/json", body: "{not base64", base64: true, status: 400, says: "not valid base64"},
		{name: "base64 off, looks like base64", contentType: "application/json", body: base64.StdEncoding.EncodeToString([]byte(view1)), status: 400, says: "body is not a JSON object or array"},
		{name: "transfer-encoding chunked", contentType: "application/json", body: view1, headers: map[string]string{"transfer-encoding": "chunked"}, status: 202, says: `"accepted":1`},
		{name: "content-encoding identity", contentType: "application/json", body: view1, headers: map[string]string{"content-encoding": "identity"}, status: 202, says: `"accepted":1`},
		{name: "very long line", contentType: "application/x-ndjson", body: `{"eventId":"e","userId":"u","type":"search","ts":"2026-11-26T12:00:00Z","pad":"` + strings.Repeat("x", 40<<10) + "\"}\n" + view1, status: 202, says: `"accepted":1,"rejected":[{"index":0,"error":"event is 41041 bytes; at most 32768 allowed`},
		{name: "raw NUL byte", contentType: "application/x-ndjson", body: "{\"eventId\":\"e\",\"userId\":\"a\x00\",\"type\":\"search\",\"ts\":\"2026-11-26T12:00:00Z\"}\n" + view1, status: 202, says: `"index":0,"error":"invalid JSON at byte 26: control character 0x00 in a string`},
		{name: "NUL between lines", contentType: "application/x-ndjson", body: view1 + "\n\x00\n" + cart1, status: 202, says: `"accepted":2,"rejected":[{"index":1,"error":"not a JSON object"`},
		{name: "invalid UTF-8 in an unknown field", contentType: "application/x-ndjson", body: "{\"eventId\":\"e\",\"userId\":\"u\",\"type\":\"search\",\"ts\":\"2026-11-26T12:00:00Z\",\"q\":\"\xc3\x28\"}\n" + view1, status: 202, says: `"index":0,"error":"q: is not valid UTF-8`},
		{name: "duplicate key in a nested object", contentType: "application/json", body: `{"eventId":"e","userId":"u","type":"search","ts":"2026-11-26T12:00:00Z","ctx":{"a":1,"a":2}}`, status: 202, says: `ctx: holds the key \"a\" more than once`},
		{name: "price 1e400", contentType: "application/json", body: `{"eventId":"e","userId":"u","type":"search","price":1e400,"ts":"2026-11-26T12:00:00Z"}`, status: 202, says: "price: 1e400 is out of range"},
		{name: "price -0", contentType: "application/json", body: `{"eventId":"e","userId":"u","type":"search","price":-0,"ts":"2026-11-26T12:00:00Z"}`, status: 202, says: "price: -0 is out of range"},
		{name: "1e400 and -0 in unknown fields are kept", contentType: "application/json", body: `{"eventId":"e","userId":"u","type":"search","ts":"2026-11-26T12:00:00Z","n":1e400,"z":-0}`, status: 202, says: `"accepted":1`},
		{name: "deeply nested value", contentType: "application/x-ndjson", body: `{"eventId":"e","userId":"u","type":"search","ts":"2026-11-26T12:00:00Z","x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "}\n" + view1, status: 202, says: `"index":0,"error":"x: nests deeper than 64 levels`},
		{name: "deeply nested JSON body", contentType: "application/json", body: strings.Repeat("[", 100000) + strings.Repeat("]", 100000), status: 400, says: "not valid JSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			req := functionURLRequest(t, c.contentType, c.body)
			req.IsBase64Encoded = c.base64
			for k, v := range c.headers {
				req.Headers[k] = v
			}
			resp := h.do(t, req)
			if resp.StatusCode != c.status || !strings.Contains(resp.Body, c.says) {
				t.Fatalf("%d %s\nwant %d saying %s", resp.StatusCode, resp.Body, c.status, c.says)
			}
		})
	}
}
