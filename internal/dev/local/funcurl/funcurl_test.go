package funcurl

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamfn/streamfn/internal/dev/local/lambdaenv"
)

type fakeInvoker struct {
	got    []byte
	result lambdaenv.Result
	err    error
}

func (f *fakeInvoker) Invoke(_ context.Context, payload []byte) (lambdaenv.Result, error) {
	f.got = payload
	return f.result, f.err
}

func serve(t *testing.T, inv *fakeInvoker, auth string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(NewHandler(Options{AccountID: "123456789012", Region: "eu-west-1", URLID: "abc123", AuthType: auth}, inv))
	t.Cleanup(srv.Close)
	return srv
}

func ok(body string) lambdaenv.Result {
	return lambdaenv.Result{Payload: []byte(body)}
}

func TestRequestBecomesAFunctionURLEvent(t *testing.T) {
	inv := &fakeInvoker{result: ok(`{"statusCode":202,"headers":{"content-type":"application/json"},"body":"{\"accepted\":1}"}`)}
	srv := serve(t, inv, "AWS_IAM")
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/events/x?a=1&a=2&b=3", strings.NewReader(`{"userId":"u"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Add("X-Custom", "one")
	req.Header.Add("X-Custom", "two")
	req.Header.Set("Cookie", "s=1; t=2")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()

	var ev events.LambdaFunctionURLRequest
	if err := json.Unmarshal(inv.got, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Version != "2.0" || ev.RawPath != "/events/x" || ev.RawQueryString != "a=1&a=2&b=3" {
		t.Errorf("path/query = %q %q %q", ev.Version, ev.RawPath, ev.RawQueryString)
	}
	if ev.Headers["content-type"] != "application/json" || ev.Headers["x-custom"] != "one,two" {
		t.Errorf("headers = %v; want lower-cased names, repeated values joined", ev.Headers)
	}
	if _, has := ev.Headers["cookie"]; has || strings.Join(ev.Cookies, "|") != "s=1|t=2" {
		t.Errorf("cookies = %v, headers = %v; cookies go to their own list", ev.Cookies, ev.Headers)
	}
	if ev.QueryStringParameters["a"] != "1,2" || ev.QueryStringParameters["b"] != "3" {
		t.Errorf("query parameters = %v", ev.QueryStringParameters)
	}
	if ev.Body != `{"userId":"u"}` || ev.IsBase64Encoded {
		t.Errorf("body = %q base64=%v; JSON is text", ev.Body, ev.IsBase64Encoded)
	}
	rc := ev.RequestContext
	if rc.HTTP.Method != "POST" || rc.HTTP.Path != "/events/x" || rc.HTTP.SourceIP != "127.0.0.1" || rc.HTTP.Protocol != "HTTP/1.1" ||
		rc.DomainName != "abc123.lambda-url.eu-west-1.on.aws" || rc.APIID != "abc123" || rc.RequestID == "" || rc.TimeEpoch == 0 {
		t.Errorf("requestContext = %+v", rc)
	}
	if rc.Authorizer == nil || rc.Authorizer.IAM == nil || rc.Authorizer.IAM.AccountID != "123456789012" {
		t.Errorf("AWS_IAM URL: authorizer = %+v", rc.Authorizer)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 202 || string(body) != `{"accepted":1}` || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("response = %d %q %v", resp.StatusCode, body, resp.Header)
	}
}

// A binary or compressed body reaches the function base64-encoded, its
// bytes and its content-encoding header unchanged, whatever its media type;
// text, and identity (no compression), stays text.
func TestBodyInTheEvent(t *testing.T) {
	compressed := "\x1f\x8b\x08\x00 plain ascii after a gzip header"[4:] // valid UTF-8 on purpose
	for _, tt := range []struct {
		contentType, encoding, body string
		base64                      bool
	}{
		{"application/octet-stream", "", "plain", true},
		{"application/json", "", "\xff\xfe not utf-8", true},
		{"application/x-ndjson", "gzip", compressed, true},
		{"application/x-ndjson", "deflate", compressed, true},
		{"application/x-ndjson", "br", compressed, true},
		{"application/x-ndjson", "gzip, identity", compressed, true},
		{"application/json", "identity", `{"a":1}`, false},
		{"application/json", "", `{"a":1}`, false},
	} {
		inv := &fakeInvoker{result: ok(`{"statusCode":202}`)}
		srv := serve(t, inv, "NONE")
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(tt.body))
		req.Header.Set("Content-Type", tt.contentType)
		if tt.encoding != "" {
			req.Header.Set("Content-Encoding", tt.encoding)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var ev events.LambdaFunctionURLRequest
		if err := json.Unmarshal(inv.got, &ev); err != nil {
			t.Fatal(err)
		}
		body := ev.Body
		if ev.IsBase64Encoded {
			decoded, _ := base64.StdEncoding.DecodeString(ev.Body)
			body = string(decoded)
		}
		if ev.IsBase64Encoded != tt.base64 || body != tt.body || ev.Headers["content-encoding"] != tt.encoding {
			t.Errorf("%s, content-encoding %q, %q: body %q base64=%v content-encoding %q; want base64=%v",
				tt.contentType, tt.encoding, tt.body, ev.Body, ev.IsBase64Encoded, ev.Headers["content-encoding"], tt.base64)
		}
		if ev.RequestContext.Authorizer != nil {
			t.Errorf("NONE URL carries an authorizer: %+v", ev.RequestContext.Authorizer)
		}
	}
}

func TestResponses(t *testing.T) {
	tests := []struct {
		name       string
		result     lambdaenv.Result
		err        error
		wantStatus int
		wantBody   string
		wantHeader [2]string
	}{
		{"document", ok(`{"statusCode":503,"headers":{"Retry-After":"1"},"body":"later"}`), nil, 503, "later", [2]string{"Retry-After", "1"}},
		{"base64 body", ok(`{"statusCode":200,"body":"aGk=","isBase64Encoded":true}`), nil, 200, "hi", [2]string{}},
		{"cookies", ok(`{"statusCode":200,"cookies":["a=1"]}`), nil, 200, "", [2]string{"Set-Cookie", "a=1"}},
		{"plain JSON is a 200 body", ok(`{"hello":"world"}`), nil, 200, `{"hello":"world"}`, [2]string{"Content-Type", "application/json"}},
		{"function error", lambdaenv.Result{Payload: []byte(`{"errorMessage":"x"}`), FunctionError: "Unhandled"}, nil, 502, `{"Message":"Internal Server Error"}`, [2]string{}},
		{"throttle", lambdaenv.Result{}, lambdaenv.ErrThrottled, 429, `{"Message":"Rate Exceeded."}`, [2]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, &fakeInvoker{result: tt.result, err: tt.err}, "NONE")
			resp, err := http.Post(srv.URL, "application/json", strings.NewReader(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || string(body) != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
			if tt.wantHeader[0] != "" && resp.Header.Get(tt.wantHeader[0]) != tt.wantHeader[1] {
				t.Errorf("header %s = %q, want %q", tt.wantHeader[0], resp.Header.Get(tt.wantHeader[0]), tt.wantHeader[1])
			}
		})
	}
}

// The event carries the body's <, > and & as they are, as Lambda's does,
// not as encoding/json's \u003c escapes.
func TestEventKeepsHTMLCharacters(t *testing.T) {
	inv := &fakeInvoker{result: ok(`{"statusCode":202,"body":"{}"}`)}
	srv := serve(t, inv, "NONE")
	body := `{"userAgent":"<b>&amp;</b>"}`
	resp, err := http.Post(srv.URL, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.Contains(string(inv.got), `<b>&amp;</b>`) {
		t.Errorf("event %s: want the body's HTML characters unescaped", inv.got)
	}
	var ev events.LambdaFunctionURLRequest
	if err := json.Unmarshal(inv.got, &ev); err != nil || ev.Body != body {
		t.Errorf("body = %q, %v; want %q", ev.Body, err, body)
	}
}

// The limit is on the invocation payload, so a body under 6 MiB whose
// event is over it gets Lambda's 413, exactly, without an invocation.
func TestTooLargePayloadIsLambdasAnswer(t *testing.T) {
	for _, tt := range []struct {
		name, contentType string
		size              int
	}{
		{"body over the limit", "application/json", maxRequestBytes + 1},
		{"binary body whose base64 is over the limit", "application/octet-stream", maxRequestBytes * 3 / 4},
		{"text body whose event is over the limit", "application/json", maxRequestBytes - 100},
	} {
		inv := &fakeInvoker{result: ok(`{}`)}
		srv := serve(t, inv, "NONE")
		resp, err := http.Post(srv.URL, tt.contentType, strings.NewReader(strings.Repeat("x", tt.size)))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := `{"Message":"Request must be smaller than 6291456 bytes for the InvokeFunction operation"}`
		if resp.StatusCode != http.StatusRequestEntityTooLarge || string(body) != want || inv.got != nil ||
			resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %s (invoked=%v), want 413 %s and no invocation", tt.name, resp.StatusCode, body, inv.got != nil, want)
		}
	}
	// Just under the limit is invoked.
	inv := &fakeInvoker{result: ok(`{}`)}
	srv := serve(t, inv, "NONE")
	resp, err := http.Post(srv.URL, "application/json", strings.NewReader(strings.Repeat("x", maxRequestBytes-2000)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(inv.got) > maxRequestBytes {
		t.Errorf("just under: %d, payload %d bytes", resp.StatusCode, len(inv.got))
	}
}

func TestLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "localhost:8080": true, "LOCALHOST.:1": true, "api.localhost:9000": true,
		"127.0.0.1": true, "127.0.0.1:4000": true, "127.1.2.3:80": true, "[::1]:8080": true, "::1": true,
		"": false, "example.com": false, "attacker.example:8080": false, "localhost.example.com": false,
		"10.0.0.1:80": false, "0.0.0.0:80": false, "[::]:80": false, "127.0.0.1.nip.io": false,
	} {
		if got := LoopbackHost(host); got != want {
			t.Errorf("LoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}

// A request naming another host (DNS rebinding: a page whose name resolves
// to 127.0.0.1) is refused with 403 and never reaches the function.
func TestOnlyLoopbackHostsReachTheFunction(t *testing.T) {
	inv := &fakeInvoker{result: ok(`{"statusCode":202,"body":"{}"}`)}
	srv := serve(t, inv, "NONE")
	for _, tt := range []struct {
		host   string
		status int
	}{{"rebound.attacker.example", 403}, {"localhost", 202}, {"", 202}} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{}`))
		if tt.host != "" {
			req.Host = tt.host
		}
		inv.got = nil
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("Host %q: %d %s, want %d", tt.host, resp.StatusCode, body, tt.status)
		}
		if tt.status == 403 && (inv.got != nil || !strings.Contains(string(body), "not a loopback name")) {
			t.Errorf("Host %q: the function was invoked or the answer does not say why: %s", tt.host, body)
		}
	}
}
