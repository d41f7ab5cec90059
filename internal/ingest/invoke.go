package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamfn/streamfn/internal/codec/jsonscan"
)

// Invoke is the function's entry point for lambda.Start (it makes Handler a
// lambda.Handler): it decodes the Function URL event with DecodeRequest,
// answers it with Handle and encodes the answer as aws-lambda-go does for a
// typed handler (encoding/json, HTML characters not escaped).
func (h *Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	req, err := DecodeRequest(payload)
	if err != nil {
		return nil, err
	}
	resp, err := h.Handle(ctx, req)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(resp); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n")), nil
}

// DecodeRequest reads a Function URL invocation into
// events.LambdaFunctionURLRequest with exactly the result of aws-lambda-go's
// typed handler, which decodes it with encoding/json's Decoder.
//
// It exists for speed, measured in the local run: the body, nearly all of a
// request of hundreds of events, went through encoding/json's byte-by-byte
// state machine twice and its unquoting once, about half of the function's
// CPU. Here the body string is scanned eight bytes at a time and unescaped
// between backslashes found with memchr. The other members are small and
// each goes through encoding/json itself. Anything unusual — a key that is
// escaped, not ASCII or a case variant of a field's name, a field given
// twice, a body that is not a string or holds escaped UTF-16 surrogates or
// invalid UTF-8, JSON nested deeper than jsonscan follows, bytes after the object —
// sends the whole payload to encoding/json, so the result is always
// encoding/json's. FuzzDecodeRequest checks that.
func DecodeRequest(payload []byte) (events.LambdaFunctionURLRequest, error) {
	if req, ok := decodeRequestFast(payload); ok {
		return req, nil
	}
	var req events.LambdaFunctionURLRequest
	err := json.NewDecoder(bytes.NewReader(payload)).Decode(&req)
	return req, err
}

// requestFields maps each JSON name of events.LambdaFunctionURLRequest to
// its field index, read from the struct tags so that it follows the
// library.
var requestFields = func() map[string]int {
	t := reflect.TypeFor[events.LambdaFunctionURLRequest]()
	fields := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			fields[name] = i
		}
	}
	return fields
}()

const bodyField = "body"

func decodeRequestFast(s []byte) (req events.LambdaFunctionURLRequest, ok bool) {
	fields := reflect.ValueOf(&req).Elem()
	var seen uint64 // a bit per field index; the struct has fewer than 64
	i := jsonscan.SkipSpace(s, 0)
	if i >= len(s) || s[i] != '{' {
		return req, false
	}
	i = jsonscan.SkipSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		return req, jsonscan.SkipSpace(s, i+1) == len(s)
	}
	for {
		if i >= len(s) || s[i] != '"' {
			return req, false
		}
		end, escaped, nonASCII := jsonscan.String(s, i)
		if end < 0 || escaped || nonASCII {
			return req, false
		}
		key := string(s[i+1 : end-1])
		i = jsonscan.SkipSpace(s, end)
		if i >= len(s) || s[i] != ':' {
			return req, false
		}
		i = jsonscan.SkipSpace(s, i+1)
		valueEnd, valid := jsonscan.SkipValue(s, i)
		if !valid {
			return req, false
		}
		value := s[i:valueEnd]
		field, known := requestFields[key]
		switch {
		case !known && foldsToField(key):
			return req, false // encoding/json matches names case-insensitively
		case !known: // ignored, as encoding/json ignores unknown members
		case seen&(1<<field) != 0:
			return req, false
		case key == bodyField:
			seen |= 1 << field
			if req.Body, ok = decodeBody(value); !ok {
				return req, false
			}
		default:
			seen |= 1 << field
			if json.Unmarshal(value, fields.Field(field).Addr().Interface()) != nil {
				return req, false
			}
		}
		i = jsonscan.SkipSpace(s, valueEnd)
		if i >= len(s) {
			return req, false
		}
		switch s[i] {
		case ',':
			i = jsonscan.SkipSpace(s, i+1)
		case '}':
			return req, jsonscan.SkipSpace(s, i+1) == len(s)
		default:
			return req, false
		}
	}
}

func foldsToField(key string) bool {
	for name := range requestFields {
		if strings.EqualFold(key, name) {
			return true
		}
	}
	return false
}

// decodeBody reads the body member: null (the empty body) or a string that
// holds valid UTF-8 and no escaped UTF-16 surrogates; anything else is
// left to encoding/json.
func decodeBody(value []byte) (string, bool) {
	if jsonscan.IsNull(value, 0) {
		return "", true
	}
	if len(value) < 2 || value[0] != '"' {
		return "", false
	}
	raw := value[1 : len(value)-1]
	if !jsonscan.IsASCII(raw) && !utf8.Valid(raw) {
		return "", false // encoding/json replaces the invalid bytes
	}
	first := bytes.IndexByte(raw, '\\')
	if first < 0 {
		return string(raw), true
	}
	out := make([]byte, 0, len(raw))
	for first >= 0 {
		out = append(out, raw[:first]...)
		var c byte
		switch raw[first+1] { // a valid string: an escape has its next byte
		case '"', '\\', '/':
			c = raw[first+1]
		case 'b':
			c = '\b'
		case 'f':
			c = '\f'
		case 'n':
			c = '\n'
		case 'r':
			c = '\r'
		case 't':
			c = '\t'
		default: // \uXXXX: what encoding/json writes for <, > and &
			r, err := strconv.ParseUint(string(raw[first+2:first+6]), 16, 16)
			if err != nil || utf16.IsSurrogate(rune(r)) {
				return "", false // surrogates are joined or replaced: encoding/json's job
			}
			out = utf8.AppendRune(out, rune(r))
			raw = raw[first+6:]
			first = bytes.IndexByte(raw, '\\')
			continue
		}
		out = append(out, c)
		raw = raw[first+2:]
		first = bytes.IndexByte(raw, '\\')
	}
	return string(append(out, raw...)), true
}
