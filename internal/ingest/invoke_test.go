package ingest

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamfn/streamfn/internal/dev/eventgen"
)

// urlEvent is a Function URL event as Lambda (and the local run) sends it,
// with body as its text.
func urlEvent(body string) []byte {
	req := events.LambdaFunctionURLRequest{
		Version: "2.0", RawPath: "/", Headers: map[string]string{"content-type": MediaNDJSON, "host": "x.lambda-url.us-east-1.on.aws"},
		RequestContext: events.LambdaFunctionURLRequestContext{RequestID: "r-1", HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{Method: "POST", Path: "/"}},
		Body:           body,
	}
	payload, err := json.Marshal(req)
	if err != nil {
		panic(err)
	}
	return payload
}

// referenceDecode is what aws-lambda-go's typed handler does.
func referenceDecode(payload []byte) (events.LambdaFunctionURLRequest, error) {
	var req events.LambdaFunctionURLRequest
	err := json.NewDecoder(bytes.NewReader(payload)).Decode(&req)
	return req, err
}

func realisticBody(events int) string {
	g := eventgen.New(eventgen.Options{Seed: 3})
	var b strings.Builder
	for range events {
		_, data := g.NextJSON()
		b.Write(data)
		b.WriteByte('\n')
	}
	return b.String()
}

// The fast path must take what Lambda sends; otherwise the speed is gone
// while every test still passes through encoding/json.
func TestDecodeRequestFastPathTakesLambdaEvents(t *testing.T) {
	for name, body := range map[string]string{
		"ndjson":  realisticBody(20),
		"empty":   "",
		"escapes": "{\"a\":\"q\\\"uote\"}\n\t\\/\b\f\r",
		"unicode": `{"userAgent":"Mözilla ☃ 𝄞"}`,
		"html":    `<b>&amp;</b>`,
	} {
		payload := urlEvent(body)
		got, ok := decodeRequestFast(payload)
		if !ok {
			t.Errorf("%s: the fast path refused a Lambda event", name)
			continue
		}
		want, err := referenceDecode(payload)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: fast path differs from encoding/json (%v):\n got  %+v\n want %+v", name, err, got, want)
		}
	}
}

func TestDecodeRequestLeavesTheUnusualToEncodingJSON(t *testing.T) {
	for name, payload := range map[string]string{
		"case variant":    `{"Body":"x","headers":{}}`,
		"repeated field":  `{"body":"a","body":"b"}`,
		"escaped key":     `{"bod\u0079":"x"}`,
		"u escape":        `{"body":"\u00e9\ud834\udd1e\ud800"}`,
		"invalid utf-8":   "{\"body\":\"a\xffb\"}",
		"trailing value":  `{"body":"a"} {"body":"b"}`,
		"wrong type":      `{"body":5}`,
		"headers wrong":   `{"headers":{"a":1},"body":"x"}`,
		"not an object":   `["body"]`,
		"invalid":         `{"body":"x",}`,
		"empty":           ``,
		"null body":       `{"body":null,"isBase64Encoded":true}`,
		"unknown members": `{"x":{"y":[1,2,{"z":null}]},"body":"b"}`,
	} {
		got, gotErr := DecodeRequest([]byte(payload))
		want, wantErr := referenceDecode([]byte(payload))
		if (gotErr == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: DecodeRequest = %+v, %v; encoding/json = %+v, %v", name, got, gotErr, want, wantErr)
		}
	}
}

// FuzzDecodeRequest: DecodeRequest and encoding/json's Decoder agree on
// every payload, in the result and in whether it is an error.
func FuzzDecodeRequest(f *testing.F) {
	f.Add(urlEvent(realisticBody(3)))
	f.Add(urlEvent("a\\b\"c\u2028\x00"))
	f.Add([]byte(`{"body":"\u00e9","BODY":"x","isBase64Encoded":true,"cookies":["a=b"],"requestContext":{"http":{"method":"GET"}}}`))
	f.Add([]byte("{\"body\":\"a\xffb\"}"))
	f.Add([]byte(`{"body" : "x" , "headers" : { "a" : "b" } }  `))
	f.Add([]byte(`{"headers":{"a":"b"},"headers":{"c":"d"}}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		got, gotErr := DecodeRequest(payload)
		want, wantErr := referenceDecode(payload)
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("DecodeRequest error %v, encoding/json error %v", gotErr, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("DecodeRequest = %+v\nencoding/json = %+v", got, want)
		}
	})
}

// Invoke answers as aws-lambda-go does for Handle: the same response
// document, byte for byte.
func TestInvokeMatchesTypedHandler(t *testing.T) {
	h := newHarness(t).handler
	for _, body := range []string{realisticBody(5), `{"userId":"<u>"}`, "not json"} {
		payload := urlEvent(body)
		got, err := h.Invoke(t.Context(), payload)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := referenceDecode(payload)
		resp, _ := h.Handle(t.Context(), req)
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(resp); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, bytes.TrimSuffix(want.Bytes(), []byte("\n"))) {
			t.Errorf("Invoke = %s\nwant     %s", got, want.Bytes())
		}
	}
	if _, err := h.Invoke(t.Context(), []byte(`{"body":`)); err == nil {
		t.Error("Invoke of a payload that is not a Function URL event must fail")
	}
}

func BenchmarkDecodeRequest(b *testing.B) {
	payload := urlEvent(realisticBody(500))
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		for b.Loop() {
			if _, err := DecodeRequest(payload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		for b.Loop() {
			if _, err := referenceDecode(payload); err != nil {
				b.Fatal(err)
			}
		}
	})
}
