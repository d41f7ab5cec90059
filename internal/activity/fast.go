package activity

import (
	"time"
	"unicode/utf8"

	"github.com/streamfn/streamfn/internal/jsonscan"
)

// ParseString is Parse for an event held in a string. It returns exactly
// what Parse returns for the same bytes, but it is several times faster on
// the common case and the Event's strings share data's memory instead of
// being copied: the processor's hot path keeps whole batches this way
// without allocating per event.
//
// The fast path accepts only what it can decide with certainty: a JSON
// object whose known fields are plain strings (no escapes), simple numbers
// and a "...Z" timestamp, with no duplicate or case-folded keys. Anything
// else, including every invalid event, goes to Parse, the encoding/json
// reference, so the two can never disagree; FuzzParseStringMatchesParse
// checks that they do not.
func ParseString(data string) (Event, error) {
	if ev, ok := parseFast(data); ok {
		return ev, nil
	}
	return Parse([]byte(data))
}

// ParseValidString is ParseValid for an event held in a string, with
// ParseString's speed and memory sharing.
func ParseValidString(data string) (Event, error) {
	ev, err := ParseString(data)
	if err == nil {
		err = ev.Validate()
	}
	return ev, err
}

// Bits of fastFields.
const (
	fieldEventID = 1 << iota
	fieldUserID
	fieldType
	fieldProductID
	fieldCategory
	fieldPrice
	fieldQuantity
	fieldSessionID
	fieldTS
	fieldUserAgent
)

// parseFast decodes data when it is certain to agree with Parse; ok is
// false whenever it is not certain, and then ev is meaningless.
func parseFast(s string) (ev Event, ok bool) {
	if len(s) > MaxEventBytes {
		return ev, false
	}
	i := jsonscan.SkipSpace(s, 0)
	if i >= len(s) || s[i] != '{' {
		return ev, false
	}
	i = jsonscan.SkipSpace(s, i+1)
	var seen uint
	var typ string
	var ts string
	ev.Quantity = 1
	for {
		if i >= len(s) || s[i] != '"' {
			return ev, false // also rejects "{}" and a trailing comma: Parse reports those
		}
		end, escaped, _ := jsonscan.String(s, i)
		if end < 0 || escaped {
			return ev, false
		}
		key := s[i+1 : end-1]
		i = jsonscan.SkipSpace(s, end)
		if i >= len(s) || s[i] != ':' {
			return ev, false
		}
		i = jsonscan.SkipSpace(s, i+1)
		if i >= len(s) {
			return ev, false
		}
		var bit uint
		var dst *string
		// Switching on the length first lets each comparison with a
		// constant compile to a couple of integer compares.
		switch len(key) {
		case 2:
			if key == "ts" {
				bit, dst = fieldTS, &ts
			}
		case 4:
			if key == "type" {
				bit, dst = fieldType, &typ
			}
		case 5:
			if key == "price" {
				bit = fieldPrice
			}
		case 6:
			if key == "userId" {
				bit, dst = fieldUserID, &ev.UserID
			}
		case 7:
			if key == "eventId" {
				bit, dst = fieldEventID, &ev.EventID
			}
		case 8:
			switch key {
			case "category":
				bit, dst = fieldCategory, &ev.Category
			case "quantity":
				bit = fieldQuantity
			}
		case 9:
			switch key {
			case "productId":
				bit, dst = fieldProductID, &ev.ProductID
			case "sessionId":
				bit, dst = fieldSessionID, &ev.SessionID
			case "userAgent":
				bit, dst = fieldUserAgent, &ev.UserAgent
			}
		}
		if bit == 0 && foldsToKnownKey(key) {
			return ev, false // encoding/json matches keys case-insensitively
		}
		if seen&bit != 0 {
			return ev, false // a repeated key: encoding/json keeps the last one
		}
		seen |= bit
		switch {
		case bit == 0:
			if i, ok = jsonscan.SkipValue(s, i); !ok {
				return ev, false
			}
		case jsonscan.IsNull(s, i): // null counts as absent
			i += len("null")
		case dst != nil:
			if s[i] != '"' {
				return ev, false
			}
			end, escaped, nonASCII := jsonscan.String(s, i)
			if end < 0 || escaped {
				return ev, false
			}
			v := s[i+1 : end-1]
			if nonASCII && !utf8.ValidString(v) {
				return ev, false // encoding/json would replace the bad bytes
			}
			*dst = v
			i = end
		case bit == fieldPrice:
			end, price, ok := parsePrice(s, i)
			if !ok {
				return ev, false
			}
			ev.Price, ev.HasPrice, i = price, true, end
		default: // quantity
			end, quantity, ok := parseQuantity(s, i)
			if !ok {
				return ev, false
			}
			ev.Quantity, i = quantity, end
		}
		i = jsonscan.SkipSpace(s, i)
		if i >= len(s) {
			return ev, false
		}
		if s[i] == '}' {
			i++
			break
		}
		if s[i] != ',' {
			return ev, false
		}
		i = jsonscan.SkipSpace(s, i+1)
	}
	if jsonscan.SkipSpace(s, i) != len(s) {
		return ev, false
	}

	// The rules, in the reference's terms. Breaking any of them sends the
	// event to Parse, which says which one.
	if len(ev.EventID) > MaxIDBytes || ev.UserID == "" || len(ev.UserID) > MaxIDBytes {
		return ev, false
	}
	if ev.Type = ParseType(typ); ev.Type == TypeInvalid {
		return ev, false
	}
	if len(ev.ProductID) > MaxIDBytes || ev.ProductID == "" && ev.Type.NeedsProduct() {
		return ev, false
	}
	if len(ev.Category) > MaxIDBytes || len(ev.SessionID) > MaxIDBytes || len(ev.UserAgent) > MaxUserAgentBytes {
		return ev, false
	}
	if ev.TS, ok = parseTimestampZ(ts); !ok {
		return ev, false
	}
	return ev, true
}

// foldsToKnownKey reports whether key, not itself a schema field, would
// still land in one under encoding/json's case-insensitive matching. Keys
// with non-ASCII bytes count as matches, since Unicode folding (the Kelvin
// sign folds to k) can turn them into one.
func foldsToKnownKey(key string) bool {
	if !jsonscan.IsASCII(key) {
		return true
	}
	for _, known := range [...]string{"eventId", "userId", "type", "productId", "category", "price", "quantity", "sessionId", "ts", "userAgent"} {
		if jsonscan.EqualFoldASCII(key, known) {
			return true
		}
	}
	return false
}

// parsePrice reads a non-negative decimal without exponent, like 19.99,
// exactly as strconv.ParseFloat does (see jsonscan.Decimal).
func parsePrice(s string, i int) (end int, price float64, ok bool) {
	end = jsonscan.Number(s, i)
	if end == i {
		return i, 0, false
	}
	if price, ok = jsonscan.Decimal(s[i:end]); !ok {
		return i, 0, false
	}
	return end, price, true
}

// parseQuantity reads a JSON integer >= 1 of at most 18 digits.
func parseQuantity(s string, i int) (end int, quantity int64, ok bool) {
	end = jsonscan.Number(s, i)
	if end == i || end-i > 18 || s[i] < '1' || s[i] > '9' {
		return i, 0, false
	}
	for j := i; j < end; j++ {
		if !jsonscan.IsDigit(s[j]) {
			return i, 0, false // a fraction or an exponent
		}
		quantity = quantity*10 + int64(s[j]-'0')
	}
	return end, quantity, true
}

// parseTimestampZ reads the UTC form of RFC 3339, 2006-01-02T15:04:05Z with
// 0 to 9 fractional digits, exactly as time.Parse(time.RFC3339Nano) does.
// Offsets other than Z make time.Parse pick a location, so they are left
// to it.
func parseTimestampZ(s string) (time.Time, bool) {
	const base = len("2006-01-02T15:04:05")
	if len(s) < base+1 || s[len(s)-1] != 'Z' ||
		s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	ok := true
	number := func(from, to, min, max int) int {
		n := 0
		for j := from; j < to; j++ {
			if !jsonscan.IsDigit(s[j]) {
				ok = false
			}
			n = n*10 + int(s[j]-'0')
		}
		if n < min || n > max {
			ok = false
		}
		return n
	}
	year := number(0, 4, 0, 9999)
	month := number(5, 7, 1, 12)
	day := number(8, 10, 1, 31)
	hour := number(11, 13, 0, 23)
	minute := number(14, 16, 0, 59)
	second := number(17, 19, 0, 59)
	if !ok || day > daysIn(month, year) {
		return time.Time{}, false
	}
	nanos := 0
	if frac := s[base : len(s)-1]; frac != "" {
		if len(frac) < 2 || len(frac) > 10 || frac[0] != '.' {
			return time.Time{}, false
		}
		nanos = number(base+1, len(s)-1, 0, 999999999)
		if !ok {
			return time.Time{}, false
		}
		for range 10 - len(frac) {
			nanos *= 10
		}
	}
	return time.Date(year, time.Month(month), day, hour, minute, second, nanos, time.UTC), true
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
