package rfc3339

import (
	"errors"
	"testing"
	"time"
)

func TestParseAccepts(t *testing.T) {
	cases := []struct {
		in   string
		want time.Time
	}{
		// RFC 3339 section 5.8's examples.
		{"1985-04-12T23:20:50.52Z", time.Date(1985, 4, 12, 23, 20, 50, 520e6, time.UTC)},
		{"1996-12-19T16:39:57-08:00", time.Date(1996, 12, 20, 0, 39, 57, 0, time.UTC)},
		{"1990-12-31T23:59:60Z", time.Date(1991, 1, 1, 0, 0, 0, 0, time.UTC)},      // leap second
		{"1990-12-31T15:59:60-08:00", time.Date(1991, 1, 1, 0, 0, 0, 0, time.UTC)}, // the same leap second
		{"1937-01-01T12:00:27.87+00:20", time.Date(1937, 1, 1, 11, 40, 27, 870e6, time.UTC)},
		// Section 5.6's note: T and Z may be lower case.
		{"2026-11-26t12:00:00z", time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)},
		{"2026-11-26T12:00:00Z", time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)},
		{"2026-11-26T12:00:00.123456789Z", time.Date(2026, 11, 26, 12, 0, 0, 123456789, time.UTC)},
		{"2026-11-26T12:00:00.1234567891234Z", time.Date(2026, 11, 26, 12, 0, 0, 123456789, time.UTC)}, // truncated
		{"2026-11-26T12:00:00-00:00", time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)},                  // section 4.3
		{"2024-02-29T00:00:00Z", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"2000-02-29T00:00:00Z", time.Date(2000, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"0000-01-01T00:00:00Z", time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"2016-12-31T23:59:60.5Z", time.Date(2017, 1, 1, 0, 0, 0, 5e8, time.UTC)},
		{"2015-06-30T23:59:60Z", time.Date(2015, 7, 1, 0, 0, 0, 0, time.UTC)},
		{"2026-11-26T12:00:00+23:59", time.Date(2026, 11, 25, 12, 1, 0, 0, time.UTC)},
	}
	for _, c := range cases {
		got, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if !got.Equal(c.want) {
			t.Errorf("Parse(%q) = %v, want %v", c.in, got.UTC(), c.want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, in := range []string{
		"2026-11-26T2:00:00Z",       // one-digit hour: time.Parse accepts it
		"2026-11-26T12:00:00",       // no offset
		"2026-11-26 12:00:00Z",      // space (section 5.6's note allows it for readability, not in the grammar)
		"2026-11-26T12:00Z",         // no seconds
		"2026-11-26T24:00:00Z",      // hour 24
		"2026-11-26T12:60:00Z",      // minute 60
		"2026-11-26T12:00:61Z",      // second 61
		"2026-11-26T12:00:60Z",      // a leap second not at 23:59 UTC
		"1990-12-31T23:59:60+01:00", // 22:59:60 UTC
		"1990-12-30T23:59:60Z",      // not the last day of a month
		"2026-02-29T00:00:00Z",      // not a leap year
		"1900-02-29T00:00:00Z",      // not a leap year
		"2026-04-31T00:00:00Z",
		"2026-13-01T00:00:00Z",
		"2026-00-01T00:00:00Z",
		"2026-01-00T00:00:00Z",
		"2026-11-26T12:00:00.Z",     // a point without digits
		"2026-11-26T12:00:00+0100",  // offset without colon
		"2026-11-26T12:00:00+01",    // offset without minutes
		"2026-11-26T12:00:00+24:00", // offset hour 24
		"2026-11-26T12:00:00+01:60",
		"2026-11-26T12:00:00ZZ",
		"2026-11-26T12:00:00Z ",
		" 2026-11-26T12:00:00Z",
		"+2026-11-26T12:00:00Z",
		"20261-11-26T12:00:00Z",
		"2026-11-26T12:00:00UTC",
		"2026-11-26T12:00:00,5Z", // comma fraction (ISO 8601, not RFC 3339)
		"2026-١١-26T12:00:00Z",   // non-ASCII digits
		"yesterday",
		"",
	} {
		if got, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", in, got)
		} else if e := new(Error); !errors.As(err, &e) || e.Reason == "" {
			t.Errorf("Parse(%q): error %v has no reason", in, err)
		}
	}
}

// TestParseAgreesWithTime: for the timestamps both accept with upper-case
// T and Z, two-digit fields and no leap second, Parse and time.Parse read
// the same instant.
func TestParseAgreesWithTime(t *testing.T) {
	for _, in := range []string{"2026-11-26T12:00:00Z", "2026-11-26T12:00:00.5+05:30", "1999-12-31T23:59:59.999999999-12:00"} {
		want, err := time.Parse(time.RFC3339Nano, in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Parse(in)
		if err != nil || !got.Equal(want) {
			t.Errorf("Parse(%q) = %v, %v; time.Parse = %v", in, got, err, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("2026-11-26T12:00:00Z")
	f.Add("1990-12-31T15:59:60-08:00")
	f.Add("2026-11-26t12:00:00.123z")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Parse(s)
		if fast, ok := parseCommon(s); ok {
			if slow, err := parse(s); err != nil || !slow.Equal(fast) || slow.Location() != fast.Location() {
				t.Fatalf("%q: the common form reads %v, the full grammar %v, %v", s, fast, slow, err)
			}
		}
		if err != nil {
			return
		}
		// Anything accepted that time.Parse also reads must be the same instant.
		if want, err := time.Parse(time.RFC3339Nano, s); err == nil && !got.Equal(want) {
			t.Fatalf("Parse(%q) = %v, time.Parse = %v", s, got, want)
		}
		// Its UTC form, when that is in years 0000-9999, is accepted and
		// means the same instant.
		if y := got.UTC().Year(); y < 0 || y > 9999 {
			return
		}
		back, err := Parse(got.UTC().Format(time.RFC3339Nano))
		if err != nil || !back.Equal(got) {
			t.Fatalf("%q: UTC form %q read back as %v, %v", s, got.UTC().Format(time.RFC3339Nano), back, err)
		}
	})
}

// TestCommonFormIsQuick: the usual UTC timestamps take the quick path.
func TestCommonFormIsQuick(t *testing.T) {
	for _, in := range []string{"2019-09-29T19:59:59.999Z", "2026-11-26T12:00:00Z", "1999-12-31T23:59:59.123456789Z", "2000-02-29T08:08:08.8Z"} {
		got, ok := parseCommon(in)
		want, err := time.Parse(time.RFC3339Nano, in)
		if !ok || err != nil || !got.Equal(want) {
			t.Errorf("parseCommon(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"2019-09-29T19:59:59.Z", "2019-09-29T19:59:5:Z", "2019-09-29T19:59:59/Z", "2019-09-29T19:59:60Z", "2019-09-29t19:59:59Z"} {
		if _, ok := parseCommon(in); ok {
			t.Errorf("parseCommon(%q) accepted it", in)
		}
	}
}
