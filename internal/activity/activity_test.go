package activity

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

const valid = `{"eventId":"e1","userId":"u1","type":"purchase","productId":"p1","category":"shoes","price":19.5,"quantity":2,"sessionId":"s1","ts":"2026-11-26T12:00:00.5Z","userAgent":"ua","extra":{"ignored":[1,2]}}`

func TestParseValid(t *testing.T) {
	ev, err := ParseValid([]byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	want := Event{EventID: "e1", UserID: "u1", Type: Purchase, ProductID: "p1", Category: "shoes", Price: 19.5, HasPrice: true,
		Quantity: 2, SessionID: "s1", TS: time.Date(2026, 11, 26, 12, 0, 0, 5e8, time.UTC), UserAgent: "ua"}
	if !ev.TS.Equal(want.TS) {
		t.Fatalf("ts = %v, want %v", ev.TS, want.TS)
	}
	ev.TS = want.TS
	if ev != want {
		t.Fatalf("got %+v\nwant %+v", ev, want)
	}
}

func TestDefaultsAndNulls(t *testing.T) {
	ev, err := ParseValid([]byte(`{"eventId":"e","userId":"u","type":"search","ts":"2026-01-01T00:00:00+02:00","category":null,"price":null,"quantity":null}`))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Quantity != 1 || ev.HasPrice || ev.Category != "" {
		t.Fatalf("defaults wrong: %+v", ev)
	}
}

func TestRules(t *testing.T) {
	long := strings.Repeat("x", 129)
	cases := []struct {
		name, json, field string
	}{
		{"not an object", `[1]`, ""},
		{"not JSON", `{"userId":`, ""},
		{"missing eventId", `{"userId":"u","type":"search","ts":"2026-01-01T00:00:00Z"}`, "eventId"},
		{"eventId too long", `{"eventId":"` + long + `","userId":"u","type":"search","ts":"2026-01-01T00:00:00Z"}`, "eventId"},
		{"eventId not string", `{"eventId":7,"userId":"u","type":"search","ts":"2026-01-01T00:00:00Z"}`, "eventId"},
		{"missing userId", `{"eventId":"e","type":"search","ts":"2026-01-01T00:00:00Z"}`, "userId"},
		{"empty userId", `{"eventId":"e","userId":"","type":"search","ts":"2026-01-01T00:00:00Z"}`, "userId"},
		{"userId too long", `{"eventId":"e","userId":"` + long + `","type":"search","ts":"2026-01-01T00:00:00Z"}`, "userId"},
		{"missing type", `{"eventId":"e","userId":"u","ts":"2026-01-01T00:00:00Z"}`, "type"},
		{"bad type", `{"eventId":"e","userId":"u","type":"click","ts":"2026-01-01T00:00:00Z"}`, "type"},
		{"type not string", `{"eventId":"e","userId":"u","type":1,"ts":"2026-01-01T00:00:00Z"}`, "type"},
		{"view without product", `{"eventId":"e","userId":"u","type":"view","ts":"2026-01-01T00:00:00Z"}`, "productId"},
		{"add_to_cart without product", `{"eventId":"e","userId":"u","type":"add_to_cart","ts":"2026-01-01T00:00:00Z"}`, "productId"},
		{"purchase without product", `{"eventId":"e","userId":"u","type":"purchase","ts":"2026-01-01T00:00:00Z"}`, "productId"},
		{"category not string", `{"eventId":"e","userId":"u","type":"search","category":3,"ts":"2026-01-01T00:00:00Z"}`, "category"},
		{"negative price", `{"eventId":"e","userId":"u","type":"search","price":-1,"ts":"2026-01-01T00:00:00Z"}`, "price"},
		{"price string", `{"eventId":"e","userId":"u","type":"search","price":"1","ts":"2026-01-01T00:00:00Z"}`, "price"},
		{"huge price", `{"eventId":"e","userId":"u","type":"search","price":1e400,"ts":"2026-01-01T00:00:00Z"}`, ""},
		{"zero quantity", `{"eventId":"e","userId":"u","type":"search","quantity":0,"ts":"2026-01-01T00:00:00Z"}`, "quantity"},
		{"fractional quantity", `{"eventId":"e","userId":"u","type":"search","quantity":1.5,"ts":"2026-01-01T00:00:00Z"}`, "quantity"},
		{"missing ts", `{"eventId":"e","userId":"u","type":"search"}`, "ts"},
		{"bad ts", `{"eventId":"e","userId":"u","type":"search","ts":"yesterday"}`, "ts"},
		{"ts not string", `{"eventId":"e","userId":"u","type":"search","ts":1700000000}`, "ts"},
		{"userAgent too long", `{"eventId":"e","userId":"u","type":"search","ts":"2026-01-01T00:00:00Z","userAgent":"` + strings.Repeat("a", 1025) + `"}`, "userAgent"},
		{"too big", `{"eventId":"e","userId":"u","type":"search","ts":"2026-01-01T00:00:00Z","x":"` + strings.Repeat("a", MaxEventBytes) + `"}`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseValid([]byte(c.json))
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("want a *FieldError, got %v", err)
			}
			if c.field != "" && fe.Field != c.field {
				t.Fatalf("error names field %q, want %q (%v)", fe.Field, c.field, err)
			}
			if fe.Reason == "" {
				t.Fatal("empty reason")
			}
		})
	}
}

func TestAppendJSONRoundTrip(t *testing.T) {
	ev, err := ParseValid([]byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	out := ev.AppendJSON(nil)
	if !json.Valid(out) {
		t.Fatalf("invalid JSON: %s", out)
	}
	back, err := ParseValid(out)
	if err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	if !back.TS.Equal(ev.TS) {
		t.Fatal("ts changed")
	}
	back.TS = ev.TS
	if back != ev {
		t.Fatalf("round trip changed the event:\n%+v\n%+v", ev, back)
	}
}

func TestAppendStringEscapes(t *testing.T) {
	for _, s := range []string{"plain", `q"uote`, `back\slash`, "ctl\x01\n", "ünï", "bad\xffutf8", "non\uFFFEchar\uFFFF"} {
		out := AppendString(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%q -> %s: %v", s, out, err)
		}
		want, _ := json.Marshal(s)
		var wantBack string
		json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Fatalf("%q: got %q want %q", s, back, wantBack)
		}
		if strings.ContainsRune(string(out), 0xFFFE) || strings.ContainsRune(string(out), 0xFFFF) {
			t.Fatalf("%q -> %s: U+FFFE and U+FFFF must be escaped (SQS refuses them)", s, out)
		}
	}
}

// FuzzParse: no input panics, and every accepted event survives a round trip
// through its canonical JSON unchanged.
func FuzzParse(f *testing.F) {
	f.Add([]byte(valid))
	f.Add([]byte(`{"eventId":"e","userId":"u","type":"search","ts":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"price":1e999}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := ParseValid(data)
		if err != nil {
			return
		}
		back, err := ParseValid(ev.AppendJSON(nil))
		if err != nil {
			t.Fatalf("canonical JSON of an accepted event rejected: %v", err)
		}
		if !back.TS.Equal(ev.TS) {
			t.Fatal("ts changed in round trip")
		}
		back.TS = ev.TS
		if back != ev {
			t.Fatalf("round trip changed the event:\n%+v\n%+v", ev, back)
		}
	})
}
