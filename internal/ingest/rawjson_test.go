package ingest

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestAppendCompact(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{}`, `{}`},
		{" { \"a\" : 1 ,\n\t\"b\" : [ 1 , 2 ] }\r\n", `{"a":1,"b":[1,2]}`},
		{`{"ua":"Mozilla/5.0 (X11; Linux)", "q":"a \" b"}`, `{"ua":"Mozilla/5.0 (X11; Linux)","q":"a \" b"}`},
		{`{"s":"ends in backslash \\", "t" : "x"}`, `{"s":"ends in backslash \\","t":"x"}`},
		{`{"s":"\\\" still inside", "t" : 1}`, `{"s":"\\\" still inside","t":1}`},
		{`[ true , false , null , -1.5e3 ]`, `[true,false,null,-1.5e3]`},
	}
	for _, tt := range tests {
		if got := string(appendCompact([]byte("prefix"), tt.in)); got != "prefix"+tt.want {
			t.Errorf("appendCompact(%q) = %q, want %q", tt.in, got, "prefix"+tt.want)
		}
	}
}

func TestAppendWithEventID(t *testing.T) {
	const id = "01900000-0000-7000-8000-000000000001"
	tests := []struct{ name, in, want string }{
		{"absent", `{"userId":"u"}`, `{"eventId":"ID","userId":"u"}`},
		{"pretty", "{\n  \"userId\" : \"u\" ,\n  \"ctx\" : { \"a\" : [ 1 , \"x y\" ] }\n}", `{"eventId":"ID","userId":"u","ctx":{"a":[1,"x y"]}}`},
		{"null first", `{"eventId":null,"userId":"u"}`, `{"eventId":"ID","userId":"u"}`},
		{"empty last", `{"userId":"u","eventId":""}`, `{"eventId":"ID","userId":"u"}`},
		{"case variants are other keys", `{"EventIDs":null,"userId":"u","eventId":""}`, `{"eventId":"ID","EventIDs":null,"userId":"u"}`},
		{"escaped", `{"\u0065ventId":null,"userId":"u"}`, `{"eventId":"ID","userId":"u"}`},
		{"nested eventId kept", `{"userId":"u","ctx":{"eventId":"x"}}`, `{"eventId":"ID","userId":"u","ctx":{"eventId":"x"}}`},
		{"literal before the end", `{"userId":"u","n":12}`, `{"eventId":"ID","userId":"u","n":12}`},
		{"similar keys kept", `{"eventIds":1,"event_id":2,"userId":"u"}`, `{"eventId":"ID","eventIds":1,"event_id":2,"userId":"u"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := strings.Replace(tt.want, "ID", id, 1)
			if got := string(appendWithEventID(nil, tt.in, id)); got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

func TestSplitArrays(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		ok   bool // splitValidArray vouches for it
	}{
		{`[]`, []string{}, true},
		{`[ ]`, []string{}, true},
		{`[1]`, []string{"1"}, true},
		{"[ {\"a\":[1,{\"b\":\"]\"}]} ,\n 2 , \"x\" , null ]", []string{`{"a":[1,{"b":"]"}]}`, "2", `"x"`, "null"}, true},
		{`[1,]`, nil, false},
		{`[1 2]`, nil, false},
		{`[1] [2]`, nil, false},
		{`[{"a":}]`, nil, false},
		{`[` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `]`, nil, false}, // deeper than jsonscan follows
	}
	for _, tt := range tests {
		got, ok := splitValidArray(tt.in)
		if ok != tt.ok || !slices.Equal(got, tt.want) {
			t.Errorf("splitValidArray(%.40q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
		if json.Valid([]byte(tt.in)) {
			var elements []json.RawMessage
			if err := json.Unmarshal([]byte(tt.in), &elements); err != nil {
				t.Fatal(err)
			}
			if got := splitArray(tt.in); len(got) != len(elements) {
				t.Errorf("splitArray(%.40q) has %d elements, want %d", tt.in, len(got), len(elements))
			}
		}
	}
}

// FuzzRawJSON checks the hand-written scanners against encoding/json on any
// input: splitValidArray never vouches for invalid JSON and splits like
// json.Unmarshal; on valid JSON, appendCompact is json.Compact, and
// appendCompactValue ends where the value does.
func FuzzRawJSON(f *testing.F) {
	for _, s := range []string{
		`[]`, `[1, "a\"]", {"b": [null, true]}]`, `{"eventId": null, "a" : { "b" : "c d" } }`,
		`[{"a":}]`, `[1] x`, `"\\"`, `[1e5, -0.5, 0]`, "[\n\t{ }\r\n]", `{"a":"\u00e9\ud83d\ude00"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		valid := json.Valid([]byte(s))
		if strings.HasPrefix(s, "[") {
			elements, ok := splitValidArray(s)
			if ok && !valid {
				t.Fatalf("splitValidArray vouched for invalid JSON %q", s)
			}
			if valid {
				var want []json.RawMessage
				if err := json.Unmarshal([]byte(s), &want); err != nil {
					t.Fatal(err)
				}
				if !ok {
					elements = splitArray(s)
				}
				if len(elements) != len(want) {
					t.Fatalf("%q split into %d elements, encoding/json sees %d", s, len(elements), len(want))
				}
				for i := range want {
					if elements[i] != string(want[i]) {
						t.Fatalf("%q element %d: %q, encoding/json %q", s, i, elements[i], want[i])
					}
				}
			}
		}
		if !valid {
			return
		}
		var want bytes.Buffer
		if err := json.Compact(&want, []byte(s)); err != nil {
			t.Fatal(err)
		}
		if got := appendCompact(nil, s); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("appendCompact(%q) = %q, json.Compact %q", s, got, want.Bytes())
		}
		trimmed := strings.TrimSpace(s)
		got, end := appendCompactValue(nil, trimmed, 0)
		if end != len(trimmed) || !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("appendCompactValue(%q) = %q ending at %d, want %q ending at %d", trimmed, got, end, want.Bytes(), len(trimmed))
		}
	})
}
