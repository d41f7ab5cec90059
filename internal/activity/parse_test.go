package activity

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

const base = `"eventId":"e","type":"search","ts":"2026-01-01T00:00:00Z"`

// TestStrictReading: what readers of the stream could read differently is
// rejected, naming the key.
func TestStrictReading(t *testing.T) {
	cases := []struct {
		name, json, field, says string
	}{
		{"case-variant key", `{"userId":"alice","USERID":"mallory",` + base + `}`, "USERID", "case-sensitive"},
		{"case-variant key first", `{"UserID":"mallory","userId":"alice",` + base + `}`, "UserID", "case-sensitive"},
		{"long s folds to s", `{"userId":"u",` + base + `,"\u017fessionId":"s"}`, "ſessionId", "case-sensitive"},
		{"duplicate key", `{"userId":"alice","userId":"mallory",` + base + `}`, "userId", "more than once"},
		{"duplicate unknown key", `{"userId":"u","x":1,"x":2,` + base + `}`, "x", "more than once"},
		{"duplicate nested key", `{"userId":"u","ctx":{"a":1,"a":2},` + base + `}`, "ctx", "more than once"},
		{"duplicate key by escape", `{"userId":"alice","user\u0049d":"mallory",` + base + `}`, "userId", "more than once"},
		{"invalid UTF-8 ff", "{\"userId\":\"a\xffb\"," + base + "}", "userId", "UTF-8"},
		{"invalid UTF-8 fe", "{\"userId\":\"a\xfeb\"," + base + "}", "userId", "UTF-8"},
		{"invalid UTF-8 in unknown field", "{\"userId\":\"u\",\"note\":\"a\xffb\"," + base + "}", "note", "UTF-8"},
		{"lone high surrogate", `{"userId":"a\ud800b",` + base + `}`, "userId", "surrogate"},
		{"lone low surrogate", `{"userId":"a\udc00",` + base + `}`, "userId", "surrogate"},
		{"reversed surrogates", `{"userId":"\udc00\ud800",` + base + `}`, "userId", "surrogate"},
		{"lone surrogate in nested key", `{"userId":"u","x":{"\ud800":1},` + base + `}`, "x", "surrogate"},
		{"U+FFFD in userId", `{"userId":"a\uFFFDb",` + base + `}`, "userId", "U+FFFD"},
		{"control character", `{"userId":"a\u0001b",` + base + `}`, "userId", "U+0001"},
		{"NUL", `{"userId":"a\u0000b",` + base + `}`, "userId", "U+0000"},
		{"space", `{"userId":"a b",` + base + `}`, "userId", "U+0020"},
		{"bidi override", `{"userId":"alice\u202Eevil",` + base + `}`, "userId", "U+202E"},
		{"zero-width space", "{\"userId\":\"ali\u200bce\"," + base + "}", "userId", "U+200B"},
		{"precomposed é", "{\"userId\":\"jos\u00e9\"," + base + "}", "userId", "U+00E9"},
		{"combining accent", "{\"userId\":\"jose\u0301\"," + base + "}", "userId", "U+0301"},
		{"eventId with space", `{"userId":"u","eventId":"e 1","type":"search","ts":"2026-01-01T00:00:00Z"}`, "eventId", "U+0020"},
		{"too deep", `{"userId":"u","x":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + `,` + base + `}`, "x", "deeper"},
		{"negative zero price", `{"userId":"u","price":-0,` + base + `}`, "price", "minus"},
		{"1e400 price", `{"userId":"u","price":1e400,` + base + `}`, "price", "out of range"},
		{"raw NUL", "{\"userId\":\"a\x00b\"," + base + "}", "", "invalid JSON"},
		{"trailing data", `{"userId":"u",` + base + `}x`, "", "invalid JSON"},
		{"one-digit hour", `{"userId":"u","eventId":"e","type":"search","ts":"2026-11-26T2:00:00Z"}`, "ts", "hour"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseValid([]byte(c.json))
			if err == nil {
				t.Fatalf("accepted %s", c.json)
			}
			if c.field == "" && c.says == "" {
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("want a *FieldError, got %T %v", err, err)
			}
			if fe.Field != c.field || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("error %q: want field %q saying %q", err, c.field, c.says)
			}
		})
	}
}

func TestAccepted(t *testing.T) {
	for _, in := range []string{
		`{"userId":"user:42/a@b.c+~!#$%&*()[]{}|^` + "`" + `'=?,;<>-_","eventId":"e","type":"search","ts":"2026-11-26t12:00:00z"}`,
		`{"userId":"u","eventId":"e","type":"search","ts":"1990-12-31T23:59:60Z"}`,
		`{"userId":"\u0061lice","eventId":"e","type":"search","ts":"2026-01-01T00:00:00Z","x":"\ud83d\ude00","y":[{"a":1},{"a":1}],"z":-0,"w":1e400}`,
		`{"userId":"u","eventId":"e","type":"purchase","productId":"p","price":0,"ts":"2026-01-01T00:00:00Z"}`,
		`{"userId":"u","eventId":"e","type":"search","ts":"2026-01-01T00:00:00Z","x":` + strings.Repeat("[", MaxDepth-1) + strings.Repeat("]", MaxDepth-1) + `}`,
		`{"userId":"u","eventId":"e","type":"search","ts":"2026-01-01T00:00:00Z","productid":"ok? no"}`,
	} {
		if _, err := ParseValid([]byte(in)); err != nil && !strings.Contains(in, "productid") {
			t.Errorf("%s: %v", in, err)
		} else if err == nil && strings.Contains(in, "productid") {
			t.Errorf("%s: a case variant of productId was accepted", in)
		}
	}
	ev, err := ParseValid([]byte(`{"userId":"\u0061lice","eventId":"e","type":"search","ts":"1990-12-31T15:59:60-08:00"}`))
	if err != nil || ev.UserID != "alice" || !ev.TS.Equal(time.Date(1991, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("got %+v, %v", ev, err)
	}
}

// TestEveryProblemAtOnce: an event with several problems gets all of them.
func TestEveryProblemAtOnce(t *testing.T) {
	_, err := ParseValid([]byte(`{"userId":42,"price":"cheap","ts":"yesterday","type":"search","eventId":"e"}`))
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("want Errors, got %T %v", err, err)
	}
	var fields []string
	for _, fe := range errs {
		fields = append(fields, fe.Field)
	}
	if got := strings.Join(fields, ","); got != "userId,price,ts" {
		t.Fatalf("fields %s, want userId,price,ts: %v", got, err)
	}
	if got := Messages(err); len(got) != 3 || got[0] != "userId: must be a string" {
		t.Fatalf("Messages = %q", got)
	}
	if got := err.Error(); !strings.Contains(got, "userId: must be a string; price: must be a number >= 0; ts: ") {
		t.Fatalf("Error() = %q", got)
	}
}

// agreed is what encoding/json, a case-insensitive last-wins reader,
// reads from an event.
type agreed struct {
	EventID   *string  `json:"eventId"`
	UserID    *string  `json:"userId"`
	Type      *string  `json:"type"`
	ProductID *string  `json:"productId"`
	Price     *float64 `json:"price"`
	TS        *string  `json:"ts"`
}

// FuzzEveryReaderAgrees: whatever Parse accepts, encoding/json reads the
// same userId, eventId, type, productId and price from the same bytes, so
// a record's partition key and item are what every reader of the stream
// sees.
func FuzzEveryReaderAgrees(f *testing.F) {
	f.Add(`{"userId":"alice","USERID":"mallory",` + base + `}`)
	f.Add(`{"userId":"a\ud800",` + base + `}`)
	f.Add("{\"userId\":\"a\xffb\"," + base + "}")
	f.Add(`{"userId":"u","usErid":"v",` + base + `}`)
	f.Add(`{"userId":"u",` + base + `,"price":19.99,"x":{"y":[1,"\u00e9"]}}`)
	f.Add(valid)
	f.Fuzz(func(t *testing.T, data string) {
		ev, err := ParseValid([]byte(data))
		if err != nil {
			return
		}
		var other agreed
		if err := json.Unmarshal([]byte(data), &other); err != nil {
			t.Fatalf("accepted what encoding/json cannot read: %v", err)
		}
		if other.UserID == nil || *other.UserID != ev.UserID || other.EventID == nil || *other.EventID != ev.EventID ||
			other.Type == nil || *other.Type != ev.Type.String() {
			t.Fatalf("readers disagree on %q: parsed %+v, encoding/json %+v", data, ev, other)
		}
		if ev.ProductID != "" && (other.ProductID == nil || *other.ProductID != ev.ProductID) {
			t.Fatalf("readers disagree on productId in %q", data)
		}
		if ev.HasPrice && (other.Price == nil || *other.Price != ev.Price) {
			t.Fatalf("readers disagree on price in %q", data)
		}
	})
}

// FuzzSkipCleanAgrees: the fast path skipClean only vouches for what
// checkValue, the reference, finds clean, and ends it at the same byte.
func FuzzSkipCleanAgrees(f *testing.F) {
	f.Add(valid)
	f.Add(`{"a":{"b":[1,"x",{"c":null}]},"a2":true}`)
	f.Add(`{"a":1,"a":2}`)
	f.Add("[\"\xff\"]")
	f.Add(`["\ud800"]`)
	f.Fuzz(func(t *testing.T, s string) {
		end, clean := skipClean(s, 0, 1)
		if !clean {
			return
		}
		refEnd, problem, syntax := checkValue(s, 0, 1)
		if syntax || problem != "" || refEnd != end {
			t.Fatalf("%q: skipClean says clean up to %d; checkValue says %q (syntax %v) up to %d", s, end, problem, syntax, refEnd)
		}
	})
}
