package activity

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/streamfn/streamfn/internal/codec/jsonscan"
	"github.com/streamfn/streamfn/internal/codec/rfc3339"
)

// The parser reads an event once, in one pass over its bytes, and decides
// everything from that one reading. It is strict where readers of the
// stream could otherwise disagree about what an event says:
//
//   - keys match exactly; a key that differs from a schema field only in
//     case (USERID) is rejected, since encoding/json and other readers
//     that fold case would take it for the field;
//   - a key given twice, at any depth, is rejected: readers differ on
//     which one wins;
//   - invalid UTF-8 and escaped UTF-16 surrogates that are not a pair
//     (\ud800) are rejected anywhere in the event: readers replace them
//     with U+FFFD, which makes different strings equal;
//   - values nest at most MaxDepth levels.
//
// The strings of the returned Event share data's memory unless they held
// escapes, so the processor keeps whole batches without copying each event.

// MaxDepth is how deeply an event's values may nest (the event object is
// level 1).
const MaxDepth = jsonscan.MaxDepth

// Indexes of the schema's fields.
const (
	fieldEventID = iota
	fieldUserID
	fieldType
	fieldProductID
	fieldCategory
	fieldPrice
	fieldQuantity
	fieldSessionID
	fieldTS
	fieldUserAgent
	numFields
)

// FieldNames are the schema's JSON keys, in schema order.
var FieldNames = [numFields]string{"eventId", "userId", "type", "productId", "category", "price", "quantity", "sessionId", "ts", "userAgent"}

// fieldOf returns the index of a schema key matched exactly, or -1.
func fieldOf(key string) int {
	// Switching on the length first makes each comparison a couple of
	// integer compares.
	switch len(key) {
	case 2:
		if key == "ts" {
			return fieldTS
		}
	case 4:
		if key == "type" {
			return fieldType
		}
	case 5:
		if key == "price" {
			return fieldPrice
		}
	case 6:
		if key == "userId" {
			return fieldUserID
		}
	case 7:
		if key == "eventId" {
			return fieldEventID
		}
	case 8:
		switch key {
		case "category":
			return fieldCategory
		case "quantity":
			return fieldQuantity
		}
	case 9:
		switch key {
		case "productId":
			return fieldProductID
		case "sessionId":
			return fieldSessionID
		case "userAgent":
			return fieldUserAgent
		}
	}
	return -1
}

// caseVariantOf returns the schema key that key equals under Unicode case
// folding (as encoding/json matches keys), or "".
func caseVariantOf(key string) string {
	if key == "" {
		return ""
	}
	// Most unknown keys are ruled out by their first letter. A key that
	// starts with a non-ASCII character may fold onto any name (the long s
	// folds to s), and folding can grow a name to three bytes a letter
	// (the Kelvin sign, K, folds to k).
	first := key[0] | 0x20
	for _, name := range FieldNames {
		if key[0] < utf8.RuneSelf && first != name[0] || len(key) < len(name) || len(key) > 3*len(name) {
			continue
		}
		if strings.EqualFold(key, name) {
			return name
		}
	}
	return ""
}

// Parse decodes one event and applies every rule except the eventId rule,
// which the caller checks with Validate (ingest assigns missing eventIds
// first). A broken rule is a *FieldError; several are Errors, in the order
// of the event's members and then of the schema's fields.
func Parse(data []byte) (Event, error) { return ParseString(string(data)) }

// ParseString is Parse for an event held in a string; the Event's strings
// share data's memory.
func ParseString(data string) (Event, error) {
	var ev Event
	var errs Errors
	if len(data) > MaxEventBytes {
		return ev, fieldErr("", fmt.Sprintf("event is %d bytes; at most %d allowed", len(data), MaxEventBytes))
	}
	var values [numFields]string // each field's raw JSON value, "" when absent
	var seen uint32              // a bit per field index
	var plain uint32             // fields whose value is a string without escapes
	var unknownBuf [16]string
	unknown := unknownBuf[:0] // keys that are not schema fields, for the duplicate check
	s := data
	i := jsonscan.SkipSpace(s, 0)
	if i >= len(s) || s[i] != '{' {
		return ev, fieldErr("", "not a JSON object")
	}
	i = jsonscan.SkipSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		i++
	} else {
		for {
			if i >= len(s) || s[i] != '"' {
				return ev, syntaxError(s, i, "expected a key in double quotes")
			}
			keyEnd, escaped, nonASCII := jsonscan.String(s, i)
			if keyEnd < 0 {
				at, what := badString(s, i)
				return ev, syntaxError(s, at, what)
			}
			key := s[i+1 : keyEnd-1]
			if escaped || nonASCII {
				decoded, problem := decode(key, escaped, nonASCII)
				if problem != "" {
					errs = append(errs, fieldErr(key, "the key "+problem))
				}
				key = decoded
			}
			i = jsonscan.SkipSpace(s, keyEnd)
			if i >= len(s) || s[i] != ':' {
				return ev, syntaxError(s, i, "expected ':' after a key")
			}
			i = jsonscan.SkipSpace(s, i+1)
			valueStart := i
			f := fieldOf(key)
			var end int
			var clean bool
			if f >= 0 && i < len(s) && s[i] == '"' {
				// A schema field's string: when it holds no escape, its
				// value is the text between the quotes.
				var escaped, nonASCII bool
				end, escaped, nonASCII = jsonscan.String(s, i)
				clean = end >= 0 && !escaped && (!nonASCII || utf8.ValidString(s[i+1:end-1]))
				if clean {
					plain |= 1 << f
				}
			} else {
				end, clean = skipClean(s, i, 2)
			}
			if !clean {
				var problem string
				var syntax bool
				end, problem, syntax = checkValue(s, i, 2)
				if syntax {
					return ev, syntaxError(s, end, problem)
				}
				if problem != "" {
					errs = append(errs, fieldErr(key, problem))
				}
			}
			if f >= 0 {
				if seen&(1<<f) != 0 {
					errs = append(errs, fieldErr(key, "appears more than once; send each key once"))
				}
				seen |= 1 << f
				values[f] = s[valueStart:end]
				if !clean || s[valueStart] != '"' {
					plain &^= 1 << f
				}
			} else if known := caseVariantOf(key); known != "" {
				errs = append(errs, fieldErr(key, fmt.Sprintf("keys are case-sensitive and %q is not %q: rename it to %s or remove it", key, known, known)))
			} else {
				for _, k := range unknown {
					if k == key {
						errs = append(errs, fieldErr(key, "appears more than once; send each key once"))
						break
					}
				}
				unknown = append(unknown, key)
			}
			i = jsonscan.SkipSpace(s, end)
			if i < len(s) && s[i] == ',' {
				i = jsonscan.SkipSpace(s, i+1)
				continue
			}
			if i < len(s) && s[i] == '}' {
				i++
				break
			}
			return ev, syntaxError(s, i, "expected ',' or '}' after a value")
		}
	}
	if j := jsonscan.SkipSpace(s, i); j != len(s) {
		return ev, syntaxError(s, j, "more data after the event object")
	}

	ev.EventID = stringField(&errs, &values, plain, fieldEventID, MaxIDBytes)
	if ev.EventID != "" {
		checkID(&errs, "eventId", ev.EventID)
	}
	ev.UserID = stringField(&errs, &values, plain, fieldUserID, MaxIDBytes)
	switch raw := values[fieldUserID]; {
	case ev.UserID != "":
		checkID(&errs, "userId", ev.UserID)
	case raw == "" || raw == "null" || raw == `""`:
		errs = append(errs, fieldErr("userId", "required, a non-empty string"))
	}
	typeNamesList := "view, add_to_cart, purchase, search"
	switch raw := values[fieldType]; {
	case raw == "" || raw == "null" || raw == `""`:
		errs = append(errs, fieldErr("type", "required, one of "+typeNamesList))
	case !isString(raw):
		errs = append(errs, fieldErr("type", "must be one of "+typeNamesList))
	default:
		typ, _ := decodeValue(raw)
		if ev.Type = ParseType(typ); ev.Type == TypeInvalid {
			errs = append(errs, fieldErr("type", fmt.Sprintf("%q is not one of %s", typ, typeNamesList)))
		}
	}
	ev.ProductID = stringField(&errs, &values, plain, fieldProductID, MaxIDBytes)
	if ev.ProductID == "" && ev.Type.NeedsProduct() && !isBadString(values[fieldProductID]) {
		errs = append(errs, fieldErr("productId", "required for type "+ev.Type.String()))
	}
	ev.Category = stringField(&errs, &values, plain, fieldCategory, MaxIDBytes)
	ev.Price, ev.HasPrice = priceField(&errs, values[fieldPrice])
	ev.Quantity = quantityField(&errs, values[fieldQuantity])
	ev.SessionID = stringField(&errs, &values, plain, fieldSessionID, MaxIDBytes)
	switch raw := values[fieldTS]; {
	case raw == "" || raw == "null" || raw == `""`:
		errs = append(errs, fieldErr("ts", "required, an RFC 3339 timestamp, e.g. "+rfc3339.Example))
	case !isString(raw):
		errs = append(errs, fieldErr("ts", "must be an RFC 3339 timestamp string, e.g. "+rfc3339.Example))
	default:
		ts, _ := decodeValue(raw)
		var err error
		if ev.TS, err = rfc3339.Parse(ts); err != nil {
			errs = append(errs, fieldErr("ts", err.Error()))
		}
	}
	ev.UserAgent = stringField(&errs, &values, plain, fieldUserAgent, MaxUserAgentBytes)
	return ev, errs.err()
}

func isString(raw string) bool { return len(raw) > 0 && raw[0] == '"' }

// isBadString reports a value present but not a string, which
// stringField has already reported.
func isBadString(raw string) bool { return raw != "" && raw != "null" && !isString(raw) }

// decodeValue returns the string a raw JSON string value holds, which
// checkValue has already found valid.
func decodeValue(raw string) (string, bool) {
	inner := raw[1 : len(raw)-1]
	if strings.IndexByte(inner, '\\') < 0 {
		return inner, true
	}
	s, problem := decode(inner, true, false)
	return s, problem == ""
}

// stringField reads an optional string field: "" when absent, null or
// not a valid string (the problem is added to errs).
func stringField(errs *Errors, values *[numFields]string, plain uint32, f, max int) string {
	raw := values[f]
	if raw == "" || raw == "null" {
		return ""
	}
	if !isString(raw) {
		*errs = append(*errs, fieldErr(FieldNames[f], "must be a string"))
		return ""
	}
	v, ok := raw[1:len(raw)-1], true
	if plain&(1<<f) == 0 {
		if v, ok = decodeValue(raw); !ok {
			return "" // checkValue reported it
		}
	}
	if len(v) > max {
		*errs = append(*errs, fieldErr(FieldNames[f], fmt.Sprintf("is %d bytes; at most %d allowed", len(v), max)))
		return ""
	}
	return v
}

// IDCharacters describes what userId and eventId may hold.
const IDCharacters = "1-128 visible ASCII characters (U+0021 to U+007E: letters, digits and punctuation); " +
	"no spaces, control characters or non-ASCII characters"

// checkID applies the rule of userId and eventId: visible ASCII only, so
// that two ids are the same exactly when their bytes are (no invisible,
// bidi, look-alike or differently normalized characters).
func checkID(errs *Errors, field, id string) {
	for j := 0; j < len(id); j++ {
		if c := id[j]; c < 0x21 || c > 0x7e {
			r, _ := utf8.DecodeRuneInString(id[j:])
			*errs = append(*errs, fieldErr(field, fmt.Sprintf("character %U at byte %d is not allowed: use %s", r, j, IDCharacters)))
			return
		}
	}
}

func priceField(errs *Errors, raw string) (float64, bool) {
	if raw == "" || raw == "null" {
		return 0, false
	}
	if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		*errs = append(*errs, fieldErr("price", "must be a number >= 0"))
		return 0, false
	}
	if raw[0] == '-' { // also -0, which a decimal reader of the stream takes for negative
		*errs = append(*errs, fieldErr("price", raw+" is out of range: must be a finite number >= 0 (without a minus sign)"))
		return 0, false
	}
	if f, ok := jsonscan.Decimal(raw); ok {
		return f, true
	}
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil || math.IsInf(f, 0) {
		*errs = append(*errs, fieldErr("price", raw+" is out of range: must be a finite number >= 0"))
		return 0, false
	}
	return f, true
}

func quantityField(errs *Errors, raw string) int64 {
	if raw == "" || raw == "null" {
		return 1
	}
	if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		*errs = append(*errs, fieldErr("quantity", "must be an integer >= 1"))
		return 1
	}
	q, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		*errs = append(*errs, fieldErr("quantity", fmt.Sprintf("%s is not an integer >= 1 (at most %d)", raw, int64(math.MaxInt64))))
		return 1
	}
	if q < 1 {
		*errs = append(*errs, fieldErr("quantity", fmt.Sprintf("%d is out of range: must be >= 1", q)))
		return 1
	}
	return q
}

// syntaxError reports JSON that cannot be read at byte at of s. JSON that
// ends too soon is reported as encoding/json does, whatever was expected.
func syntaxError(s string, at int, what string) error {
	if at >= len(s) {
		return fieldErr("", "invalid JSON: unexpected end of JSON input")
	}
	return fieldErr("", fmt.Sprintf("invalid JSON at byte %d: %s", at, what))
}

// badString says why the string starting at s[i] is malformed and where.
func badString(s string, i int) (int, string) {
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			return j, "a malformed string"
		case c < 0x20:
			return j, fmt.Sprintf("control character 0x%02x in a string: escape it (\\u%04x)", c, c)
		case c == '\\':
			if j+1 < len(s) && strings.IndexByte(`"\\/bfnrtu`, s[j+1]) < 0 {
				return j, fmt.Sprintf("invalid escape \\%c in a string", s[j+1])
			}
			if j+1 < len(s) && s[j+1] == 'u' {
				for k := j + 2; k < j+6; k++ {
					if k < len(s) && !strings.ContainsRune("0123456789abcdefABCDEF", rune(s[k])) {
						return j, "invalid \\u escape in a string: it takes four hex digits"
					}
				}
			}
			j++
		}
	}
	return len(s), ""
}

// skipClean returns the index after the JSON value at s[i] when the value
// is valid and breaks none of the parser's rules, and clean false
// otherwise, or when it is not sure (objects of more than eight keys, or
// keys with escapes): then checkValue decides and explains. It is
// checkValue's fast path, for the unknown fields web clients send.
func skipClean(s string, i, depth int) (end int, clean bool) {
	if i >= len(s) {
		return i, false
	}
	switch c := s[i]; {
	case c == '"':
		end, escaped, nonASCII := jsonscan.String(s, i)
		if end < 0 || escaped && check(s[i+1:end-1], escaped, nonASCII) != "" || nonASCII && !utf8.ValidString(s[i+1:end-1]) {
			return i, false
		}
		return end, true
	case c == '{' || c == '[':
		if depth > MaxDepth {
			return i, false
		}
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		var keys [8]string
		n := 0
		i = jsonscan.SkipSpace(s, i+1)
		if i < len(s) && s[i] == closing {
			return i + 1, true
		}
		for {
			if c == '{' {
				if i >= len(s) || s[i] != '"' || n == len(keys) {
					return i, false
				}
				end, escaped, nonASCII := jsonscan.String(s, i)
				if end < 0 || escaped || nonASCII && !utf8.ValidString(s[i+1:end-1]) {
					return i, false
				}
				key := s[i+1 : end-1]
				for _, k := range keys[:n] {
					if k == key {
						return i, false
					}
				}
				keys[n] = key
				n++
				i = jsonscan.SkipSpace(s, end)
				if i >= len(s) || s[i] != ':' {
					return i, false
				}
				i = jsonscan.SkipSpace(s, i+1)
			}
			end, clean := skipClean(s, i, depth+1)
			if !clean {
				return i, false
			}
			i = jsonscan.SkipSpace(s, end)
			if i < len(s) && s[i] == closing {
				return i + 1, true
			}
			if i >= len(s) || s[i] != ',' {
				return i, false
			}
			i = jsonscan.SkipSpace(s, i+1)
		}
	case c == 't':
		return i + 4, len(s)-i >= 4 && s[i:i+4] == "true"
	case c == 'f':
		return i + 5, len(s)-i >= 5 && s[i:i+5] == "false"
	case c == 'n':
		return i + 4, len(s)-i >= 4 && s[i:i+4] == "null"
	default:
		end := jsonscan.Number(s, i)
		return end, end > i
	}
}

// checkValue checks the JSON value at s[i] and returns the index after
// it. When the JSON is malformed, syntax is true and end is where. Otherwise
// problem, when not "", is the first rule of the parser the value breaks
// (invalid UTF-8, an unpaired surrogate, a key given twice, nesting); the
// value can still be skipped. depth is the value's nesting level.
func checkValue(s string, i, depth int) (end int, problem string, syntax bool) {
	if i >= len(s) {
		return i, "expected a value", true
	}
	switch c := s[i]; {
	case c == '"':
		end, escaped, nonASCII := jsonscan.String(s, i)
		if end < 0 {
			at, what := badString(s, i)
			return at, what, true
		}
		if escaped || nonASCII {
			if p := check(s[i+1:end-1], escaped, nonASCII); p != "" {
				return end, p, false
			}
		}
		return end, "", false
	case c == '{' || c == '[':
		if depth > MaxDepth {
			end, ok := jsonscan.SkipValue(s, i)
			if !ok {
				// SkipValue gives up beyond its own depth limit too, so
				// find the end by brackets alone.
				end = skipNested(s, i)
				if end < 0 {
					return i, "a value nested too deeply to read", true
				}
			}
			return end, fmt.Sprintf("nests deeper than %d levels", MaxDepth), false
		}
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		var keysBuf [16]string
		keys := keysBuf[:0]
		i = jsonscan.SkipSpace(s, i+1)
		if i < len(s) && s[i] == closing {
			return i + 1, "", false
		}
		for {
			if c == '{' {
				if i >= len(s) || s[i] != '"' {
					return i, "expected a key in double quotes", true
				}
				end, escaped, nonASCII := jsonscan.String(s, i)
				if end < 0 {
					at, what := badString(s, i)
					return at, what, true
				}
				key := s[i+1 : end-1]
				if escaped || nonASCII {
					decoded, p := decode(key, escaped, nonASCII)
					if p != "" && problem == "" {
						problem = fmt.Sprintf("key %q %s", key, p)
					}
					key = decoded
				}
				for _, k := range keys {
					if k == key && problem == "" {
						problem = fmt.Sprintf("holds the key %q more than once; send each key once", key)
					}
				}
				keys = append(keys, key)
				i = jsonscan.SkipSpace(s, end)
				if i >= len(s) || s[i] != ':' {
					return i, "expected ':' after a key", true
				}
				i = jsonscan.SkipSpace(s, i+1)
			}
			end, p, syntax := checkValue(s, i, depth+1)
			if syntax {
				return end, p, true
			}
			if problem == "" {
				problem = p
			}
			i = jsonscan.SkipSpace(s, end)
			if i < len(s) && s[i] == closing {
				return i + 1, problem, false
			}
			if i >= len(s) || s[i] != ',' {
				return i, fmt.Sprintf("expected ',' or %q", closing), true
			}
			i = jsonscan.SkipSpace(s, i+1)
		}
	case c == 't':
		if strings.HasPrefix(s[i:], "true") {
			return i + 4, "", false
		}
	case c == 'f':
		if strings.HasPrefix(s[i:], "false") {
			return i + 5, "", false
		}
	case c == 'n':
		if strings.HasPrefix(s[i:], "null") {
			return i + 4, "", false
		}
	default:
		if end := jsonscan.Number(s, i); end > i {
			return end, "", false
		}
	}
	return i, "expected a value", true
}

// skipNested returns the index after the array or object at s[i], found
// by counting brackets outside strings, or -1.
func skipNested(s string, i int) int {
	depth := 0
	for ; i < len(s); i++ {
		switch s[i] {
		case '"':
			end, _, _ := jsonscan.String(s, i)
			if end < 0 {
				return -1
			}
			i = end - 1
		case '{', '[':
			depth++
		case '}', ']':
			if depth--; depth == 0 {
				return i + 1
			}
		}
	}
	return -1
}

// check reports what is wrong with the inside of a syntactically valid
// JSON string: invalid UTF-8 or an escaped surrogate that is not part of a
// pair. "" means nothing.
func check(raw string, escaped, nonASCII bool) string {
	if nonASCII && !utf8.ValidString(raw) {
		return invalidUTF8(raw)
	}
	if !escaped {
		return ""
	}
	for j := strings.IndexByte(raw, '\\'); j >= 0; {
		if raw[j+1] != 'u' {
			j += 2
		} else {
			r := hex4(raw[j+2 : j+6])
			switch {
			case utf16.IsSurrogate(r) && r < 0xdc00 && j+12 <= len(raw) && raw[j+6] == '\\' && raw[j+7] == 'u' &&
				hex4(raw[j+8:j+12]) >= 0xdc00 && hex4(raw[j+8:j+12]) <= 0xdfff:
				j += 12
			case utf16.IsSurrogate(r):
				return fmt.Sprintf("holds %s, half of a UTF-16 surrogate pair without its other half: send the character itself, or both halves", raw[j:j+6])
			default:
				j += 6
			}
		}
		next := strings.IndexByte(raw[j:], '\\')
		if next < 0 {
			break
		}
		j += next
	}
	return ""
}

func invalidUTF8(raw string) string {
	for j := 0; j < len(raw); {
		r, size := utf8.DecodeRuneInString(raw[j:])
		if r == utf8.RuneError && size == 1 {
			return fmt.Sprintf("is not valid UTF-8 (byte 0x%02x at offset %d in the string): send UTF-8 text", raw[j], j)
		}
		j += size
	}
	return "is not valid UTF-8: send UTF-8 text"
}

func hex4(h string) rune {
	var r rune
	for k := 0; k < 4; k++ {
		c := h[k]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// decode returns the value of the inside of a syntactically valid JSON
// string and, when it breaks the parser's rules, the problem (check).
func decode(raw string, escaped, nonASCII bool) (string, string) {
	if problem := check(raw, escaped, nonASCII); problem != "" {
		return raw, problem
	}
	if !escaped {
		return raw, ""
	}
	out := make([]byte, 0, len(raw))
	for {
		j := strings.IndexByte(raw, '\\')
		if j < 0 {
			return string(append(out, raw...)), ""
		}
		out = append(out, raw[:j]...)
		switch c := raw[j+1]; c {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, n := hex4(raw[j+2:j+6]), 6
			if utf16.IsSurrogate(r) { // check found its pair
				r, n = utf16.DecodeRune(r, hex4(raw[j+8:j+12])), 12
			}
			out = utf8.AppendRune(out, r)
			raw = raw[j+n:]
			continue
		default: // " \ /
			out = append(out, c)
		}
		raw = raw[j+2:]
	}
}
