package activity

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// checkSameAsParse fails unless ParseString and ParseValidString give
// exactly what the encoding/json reference gives for data.
func checkSameAsParse(t *testing.T, data string) {
	t.Helper()
	want, wantErr := Parse([]byte(data))
	got, gotErr := ParseString(data)
	if !sameResult(got, gotErr, want, wantErr) {
		t.Fatalf("ParseString(%q)\n got  %+v, %v\n want %+v, %v", data, got, gotErr, want, wantErr)
	}
	want, wantErr = ParseValid([]byte(data))
	got, gotErr = ParseValidString(data)
	if !sameResult(got, gotErr, want, wantErr) {
		t.Fatalf("ParseValidString(%q)\n got  %+v, %v\n want %+v, %v", data, got, gotErr, want, wantErr)
	}
}

func sameResult(got Event, gotErr error, want Event, wantErr error) bool {
	if (gotErr == nil) != (wantErr == nil) {
		return false
	}
	if wantErr != nil {
		var g, w *FieldError
		return errors.As(gotErr, &g) && errors.As(wantErr, &w) && *g == *w
	}
	// time.Time compares its location too: == is the strict test.
	return reflect.DeepEqual(got, want) && got.TS == want.TS
}

func TestParseStringTakesTheFastPath(t *testing.T) {
	for _, data := range []string{
		valid,
		`{"eventId":"e","userId":"u","type":"search","ts":"2026-01-01T00:00:00Z"}`,
		` { "eventId" : "e" , "userId":"u", "type":"view","productId":"p","price":0.000001,"quantity":12,"ts":"2024-02-29T23:59:59.123456789Z"}` + "\n",
		`{"eventId":"e","userId":"ü","type":"search","ts":"2026-01-01T00:00:00.5Z","context":{"a":[1,-2.5e3,true,false,null,{}],"b":"x\"y\u00e9\\"}}`,
		`{"eventId":"e","userId":"u","type":"search","ts":"2026-01-01T00:00:00Z","price":null,"quantity":null,"category":null}`,
		`{"userId":"u","type":"search","ts":"2026-01-01T00:00:00Z"}`, // Parse leaves eventId to Validate
	} {
		if _, ok := parseFast(data); !ok {
			t.Errorf("parseFast declined %q", data)
		}
		checkSameAsParse(t, data)
	}
}

// TestParseStringFallsBack lists inputs the fast path must leave to the
// reference, each with the reason it cannot decide them alone.
func TestParseStringFallsBack(t *testing.T) {
	base := `"eventId":"e","userId":"u","type":"search","ts":"2026-01-01T00:00:00Z"`
	for _, c := range []struct{ why, data string }{
		{"escape in a known field", `{"eventId":"e","userId":"\u0075","type":"search","ts":"2026-01-01T00:00:00Z"}`},
		{"escape in a key", `{"\u0065ventId":"e","userId":"u","type":"search","ts":"2026-01-01T00:00:00Z"}`},
		{"case-folded key", `{` + base + `,"USERID":"v"}`},
		{"Kelvin-sign key", `{` + base + `,"K":"v","typ\u212a":"x"}`},
		{"repeated key", `{` + base + `,"userId":"v"}`},
		{"invalid UTF-8 in a known field", "{\"eventId\":\"e\",\"userId\":\"\xff\",\"type\":\"search\",\"ts\":\"2026-01-01T00:00:00Z\"}"},
		{"offset timestamp", `{"eventId":"e","userId":"u","type":"search","ts":"2026-01-01T00:00:00+01:00"}`},
		{"price with exponent", `{` + base + `,"price":1e2}`},
		{"price with 19 digits", `{` + base + `,"price":1234567890.123456789}`},
		{"leading space outside JSON's", "\u00a0{" + base + "}"},
		{"trailing garbage", `{` + base + `}x`},
		{"control character in an unknown string", "{" + base + ",\"x\":\"a\tb\"}"},
		{"bad number in an unknown field", `{` + base + `,"x":01}`},
		{"deep nesting", `{` + base + `,"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`},
		{"bad type", `{"eventId":"e","userId":"u","type":"click","ts":"2026-01-01T00:00:00Z"}`},
		{"February 30", `{"eventId":"e","userId":"u","type":"search","ts":"2026-02-30T00:00:00Z"}`},
		{"quantity 0", `{` + base + `,"quantity":0}`},
		{"quantity 1.0", `{` + base + `,"quantity":1.0}`},
		{"too big", `{` + base + `,"x":"` + strings.Repeat("a", MaxEventBytes) + `"}`},
	} {
		t.Run(c.why, func(t *testing.T) {
			if _, ok := parseFast(c.data); ok {
				t.Fatalf("parseFast accepted %q", c.data)
			}
			checkSameAsParse(t, c.data)
		})
	}
}

// FuzzParseStringMatchesParse is the differential test that keeps the fast
// path honest: on every input it gives exactly the reference's result.
func FuzzParseStringMatchesParse(f *testing.F) {
	f.Add(valid)
	f.Add(`{"eventId":"e","userId":"u","type":"view","productId":"p","price":19.99,"quantity":3,"ts":"2026-11-26T12:00:00.123Z","x":{"y":[1,2,{"z":"\n"}]}}`)
	f.Add(`{"eventId":"e","userId":"u","type":"search","ts":"2026-01-01T00:00:00Z","price":0.1,"quantity":null}`)
	f.Add(`{"eventId":"e","userId":"u","type":"search","ts":"2026-12-31T23:59:60Z"}`)
	f.Add(`{"eventId":"e","userId":"u","type":"search","ts":"0000-01-01T00:00:00.1234567891Z"}`)
	f.Fuzz(func(t *testing.T, data string) {
		checkSameAsParse(t, data)
	})
}
