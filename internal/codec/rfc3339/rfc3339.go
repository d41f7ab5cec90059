// Package rfc3339 reads timestamps by exactly the grammar of RFC 3339,
// section 5.6 (https://www.rfc-editor.org/rfc/rfc3339#section-5.6), which
// the activity event's ts, the processor and the stack's
// startingPositionTimestamp all use.
//
// Go's time.Parse(time.RFC3339, ...) is not that grammar: it accepts a
// one-digit hour (2026-11-26T2:00:00Z) and rejects the lower-case t and z
// the RFC allows (its note to section 5.6), and it rejects leap seconds.
//
//	date-time      = full-date ("T" / "t") full-time
//	full-date      = date-fullyear "-" date-month "-" date-mday    ; 4, 2, 2 digits
//	full-time      = partial-time time-offset
//	partial-time   = time-hour ":" time-minute ":" time-second [time-secfrac]
//	time-secfrac   = "." 1*DIGIT
//	time-offset    = "Z" / "z" / ("+" / "-") time-hour ":" time-minute
//
// with the ranges of section 5.7: month 01-12, mday as the month and year
// allow, hour 00-23, minute 00-59, second 00-60. A leap second (second 60)
// is accepted only where one can occur: at 23:59:60 UTC, after the offset is
// applied, on the last day of a month. Go's time has no leap seconds, so a
// leap second is read as the instant one second after 23:59:59 of that
// day, 00:00:00 UTC of the next day (its fraction kept), as POSIX time
// counts it. Fractions beyond nanoseconds are truncated. The offset -00:00
// (section 4.3, offset unknown) is read as UTC.
package rfc3339

import (
	"fmt"
	"time"
)

// Example is a valid timestamp, for error messages.
const Example = "2026-11-26T12:00:00Z"

// Error says why a timestamp is not RFC 3339.
type Error struct {
	Value  string
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%q is not an RFC 3339 timestamp: %s (e.g. %s)", e.Value, e.Reason, Example)
}

// Parse reads s as an RFC 3339 date-time. The time's location is UTC for
// Z, z and -00:00, otherwise a fixed zone with the offset.
func Parse(s string) (time.Time, error) {
	if t, ok := parseCommon(s); ok {
		return t, nil
	}
	return parse(s)
}

// parseCommon reads the common form, YYYY-MM-DDTHH:MM:SS[.fraction]Z with
// 1 to 9 fraction digits and no leap second, quickly; ok is false for
// anything else, which parse then reads or explains.
func parseCommon(s string) (time.Time, bool) {
	const base = len("2006-01-02T15:04:05")
	if len(s) < base+1 || len(s) > base+11 || s[len(s)-1] != 'Z' ||
		s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	// notDigit collects (d | d+6) & 0xF0 for each d = byte - '0': zero for
	// the digits 0-9, non-zero for every other byte (above '9', d+6
	// carries into the high nibble; below '0', d wraps into it).
	var notDigit byte
	d := func(i int) byte {
		v := s[i] - '0'
		notDigit |= (v | (v + 6)) & 0xf0
		return v
	}
	year := int(d(0))*1000 + int(d(1))*100 + int(d(2))*10 + int(d(3))
	month := int(d(5))*10 + int(d(6))
	day := int(d(8))*10 + int(d(9))
	hour := int(d(11))*10 + int(d(12))
	minute := int(d(14))*10 + int(d(15))
	second := int(d(17))*10 + int(d(18))
	nanos := 0
	if frac := s[base : len(s)-1]; frac != "" {
		if len(frac) < 2 || frac[0] != '.' {
			return time.Time{}, false
		}
		for j := 1; j < len(frac); j++ {
			nanos = nanos*10 + int(d(base+j))
		}
		for range 10 - len(frac) {
			nanos *= 10
		}
	}
	if notDigit != 0 || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || second > 59 {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, second, nanos, time.UTC), true
}

// parse reads any RFC 3339 date-time and explains why not when it is not
// one.
func parse(s string) (time.Time, error) {
	fail := func(reason string, args ...any) (time.Time, error) {
		return time.Time{}, &Error{Value: s, Reason: fmt.Sprintf(reason, args...)}
	}
	digits := func(from, to int) (int, bool) {
		n := 0
		for j := from; j < to; j++ {
			if s[j] < '0' || s[j] > '9' {
				return 0, false
			}
			n = n*10 + int(s[j]-'0')
		}
		return n, true
	}
	type part struct {
		name          string
		from, to      int
		sepAt         int // index of the separator after it, -1 for none
		sep1, sep2    byte
		min, max, val int
	}
	parts := [...]part{
		{name: "year", from: 0, to: 4, sepAt: 4, sep1: '-', sep2: '-', min: 0, max: 9999},
		{name: "month", from: 5, to: 7, sepAt: 7, sep1: '-', sep2: '-', min: 1, max: 12},
		{name: "day", from: 8, to: 10, sepAt: 10, sep1: 'T', sep2: 't', min: 1, max: 31},
		{name: "hour", from: 11, to: 13, sepAt: 13, sep1: ':', sep2: ':', min: 0, max: 23},
		{name: "minute", from: 14, to: 16, sepAt: 16, sep1: ':', sep2: ':', min: 0, max: 59},
		{name: "second", from: 17, to: 19, sepAt: -1, min: 0, max: 60},
	}
	for k := range parts {
		p := &parts[k]
		if p.to > len(s) || p.sepAt >= len(s) {
			return fail("too short; the form is YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)")
		}
		v, ok := digits(p.from, p.to)
		if !ok {
			return fail("the %s must be %d digits at position %d", p.name, p.to-p.from, p.from+1)
		}
		if v < p.min || v > p.max {
			return fail("%s %0*d is out of range %0*d-%0*d", p.name, p.to-p.from, v, p.to-p.from, p.min, p.to-p.from, p.max)
		}
		p.val = v
		if p.sepAt >= 0 && s[p.sepAt] != p.sep1 && s[p.sepAt] != p.sep2 {
			want := fmt.Sprintf("%q", p.sep1)
			if p.sep2 != p.sep1 {
				want += fmt.Sprintf(" or %q", p.sep2)
			}
			return fail("position %d must be %s, not %q", p.sepAt+1, want, s[p.sepAt])
		}
	}
	year, month, day := parts[0].val, parts[1].val, parts[2].val
	hour, minute, second := parts[3].val, parts[4].val, parts[5].val
	if days := daysIn(month, year); day > days {
		return fail("day %02d is out of range: %04d-%02d has %d days", day, year, month, days)
	}
	i := 19
	nanos := 0
	if i < len(s) && s[i] == '.' {
		i++
		start := i
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			if i-start < 9 {
				nanos = nanos*10 + int(s[i]-'0')
			}
		}
		if i == start {
			return fail("a decimal point must be followed by at least one digit")
		}
		for n := i - start; n < 9; n++ {
			nanos *= 10
		}
	}
	if i >= len(s) {
		return fail("the time offset is missing: end with Z or ±HH:MM")
	}
	offset := 0 // seconds east of UTC
	utc := false
	switch c := s[i]; c {
	case 'Z', 'z':
		utc = true
		i++
	case '+', '-':
		if len(s)-i < 6 || s[i+3] != ':' {
			return fail("the time offset must be Z or ±HH:MM")
		}
		oh, ok1 := digits(i+1, i+3)
		om, ok2 := digits(i+4, i+6)
		if !ok1 || !ok2 {
			return fail("the time offset must be Z or ±HH:MM")
		}
		if oh > 23 || om > 59 {
			return fail("the time offset %s is out of range (hours 00-23, minutes 00-59)", s[i:i+6])
		}
		offset = (oh*60 + om) * 60
		if c == '-' {
			offset = -offset
		}
		utc = offset == 0 && c == '-' // -00:00: the offset is unknown, the time is UTC
		i += 6
	default:
		return fail("position %d must start the time offset (Z or ±HH:MM), not %q", i+1, c)
	}
	if i != len(s) {
		return fail("unexpected %q after the time offset", s[i:])
	}
	loc := time.UTC
	if !utc {
		loc = time.FixedZone("", offset)
	}
	if second == 60 {
		// The leap second is read as the instant after 23:59:59 UTC.
		t := time.Date(year, time.Month(month), day, hour, minute, 59, nanos, loc).Add(time.Second)
		before := t.Add(-time.Second).UTC()
		if before.Hour() != 23 || before.Minute() != 59 || t.UTC().Day() != 1 {
			return fail("second 60 (a leap second) can only be 23:59:60 UTC on the last day of a month")
		}
		return t, nil
	}
	return time.Date(year, time.Month(month), day, hour, minute, second, nanos, loc), nil
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
