package ingest

import (
	"encoding/json"
	"strings"

	"github.com/streamfn/streamfn/internal/activity"
	"github.com/streamfn/streamfn/internal/codec/jsonscan"
)

// The functions here work on the client's raw JSON, as a string so that no
// event is copied before it goes into its record. All but splitValidArray
// expect JSON already known to be valid (activity's parser, jsonscan or
// json.Valid accepted it), so they skip validation and cannot fail. They
// are hand-written because they are ingest's hot path: json.Compact and
// decoding the body into []json.RawMessage took a third of ingest's time
// (BenchmarkCompact, BenchmarkSplitArray).

// appendCompact appends raw without insignificant whitespace, exactly as
// json.Compact would.
func appendCompact(dst []byte, raw string) []byte {
	start := 0
	for i := 0; i < len(raw); {
		switch raw[i] {
		case '"':
			i = skipString(raw, i)
		case ' ', '\t', '\n', '\r':
			dst = append(dst, raw[start:i]...)
			i = skipSpace(raw, i)
			start = i
		default:
			i++
		}
	}
	return append(dst, raw[start:]...)
}

// appendCompactValue appends the value starting at s[i] compacted, and
// returns the index just past it: appendCompact and skipValue in one scan.
func appendCompactValue(dst []byte, s string, i int) ([]byte, int) {
	start, depth := i, 0
	for i < len(s) {
		switch s[i] {
		case '"':
			if i = skipString(s, i); depth == 0 {
				return append(dst, s[start:i]...), i
			}
		case '{', '[':
			depth++
			i++
		case '}', ']':
			if depth == 0 { // a number or literal just ended
				return append(dst, s[start:i]...), i
			}
			if depth--; depth == 0 {
				return append(dst, s[start:i+1]...), i + 1
			}
			i++
		case ',':
			if depth == 0 {
				return append(dst, s[start:i]...), i
			}
			i++
		case ' ', '\t', '\n', '\r':
			dst = append(dst, s[start:i]...)
			if i = skipSpace(s, i); depth == 0 {
				return dst, i
			}
			start = i
		default:
			i++
		}
	}
	return append(dst, s[start:]...), i
}

// appendWithEventID appends obj, a JSON object, compacted and with
// "eventId":id as its first member. The client's own eventId member (null
// or "", else there would be no id to assign) is left out, so that the
// record has exactly one. activity's parser has rejected case variants and
// repeats of the key, so exact matching finds every reader's eventId.
func appendWithEventID(dst []byte, obj, id string) []byte {
	dst = append(dst, `{"eventId":`...)
	dst = activity.AppendString(dst, id)
	for i := skipSpace(obj, 1); i < len(obj) && obj[i] != '}'; {
		keyEnd := skipString(obj, i)
		valueStart := skipSpace(obj, skipSpace(obj, keyEnd)+1) // past the ':'
		var valueEnd int
		if key := obj[i:keyEnd]; isEventIDKey(key) {
			valueEnd = skipValue(obj, valueStart)
		} else {
			dst = append(append(append(dst, ','), key...), ':')
			dst, valueEnd = appendCompactValue(dst, obj, valueStart)
		}
		if i = skipSpace(obj, valueEnd); i < len(obj) && obj[i] == ',' {
			i = skipSpace(obj, i+1)
		}
	}
	return append(dst, '}')
}

// isEventIDKey reports whether the quoted key is eventId, after unescaping.
func isEventIDKey(quoted string) bool {
	if strings.IndexByte(quoted, '\\') < 0 {
		return quoted == `"eventId"`
	}
	var s string
	if err := json.Unmarshal([]byte(quoted), &s); err != nil {
		return false
	}
	return s == "eventId"
}

// splitValidArray returns the elements of array, trimmed, when jsonscan
// vouches that array is one valid JSON array (and nothing after it); ok is
// false when it is not, or when it nests deeper than jsonscan.MaxDepth.
func splitValidArray(array string) (elements []string, ok bool) {
	// Only whitespace may follow the closing bracket.
	closed := func(i int) ([]string, bool) {
		if jsonscan.SkipSpace(array, i+1) != len(array) {
			return nil, false
		}
		return elements, true
	}
	elements = []string{}
	i := jsonscan.SkipSpace(array, 1) // past the '['
	if i < len(array) && array[i] == ']' {
		return closed(i)
	}
	for {
		end, ok := jsonscan.SkipValue(array, i)
		if !ok {
			return nil, false
		}
		elements = append(elements, array[i:end])
		switch i = jsonscan.SkipSpace(array, end); {
		case i < len(array) && array[i] == ']':
			return closed(i)
		case i < len(array) && array[i] == ',':
			i = jsonscan.SkipSpace(array, i+1)
		default:
			return nil, false
		}
	}
}

// splitArray returns the elements of a JSON array that json.Valid accepted,
// trimmed.
func splitArray(array string) []string {
	var elements []string
	i := skipSpace(array, 1) // past the '['
	for i < len(array) && array[i] != ']' {
		end := skipValue(array, i)
		elements = append(elements, array[i:end])
		if i = skipSpace(array, end); i < len(array) && array[i] == ',' {
			i = skipSpace(array, i+1)
		}
	}
	return elements
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(s string, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at s[i].
func skipString(s string, i int) int {
	for i++; ; i++ {
		quote := strings.IndexByte(s[i:], '"')
		if quote < 0 {
			return len(s)
		}
		i += quote
		backslashes := 0
		for s[i-1-backslashes] == '\\' {
			backslashes++
		}
		if backslashes%2 == 0 {
			return i + 1
		}
	}
}

// skipValue returns the index just past the value starting at s[i].
func skipValue(s string, i int) int {
	switch s[i] {
	case '"':
		return skipString(s, i)
	case '{', '[':
		depth := 0
		for ; i < len(s); i++ {
			switch s[i] {
			case '"':
				i = skipString(s, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return i
	default: // number, true, false, null
		for i < len(s) && s[i] != ',' && s[i] != '}' && s[i] != ']' && !isSpace(s[i]) {
			i++
		}
		return i
	}
}
