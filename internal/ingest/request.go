// Package ingest is the ingest function's logic: it reads activity events
// from a Lambda Function URL request, validates each with the shared schema
// (internal/activity), writes the valid ones to the Kinesis stream and tells
// the client, index by index, what was rejected and what was not written.
//
// # Request
//
// POST, with Content-Type application/json (one event object, or an array
// of them), an NDJSON type (application/x-ndjson, application/ndjson,
// application/jsonl, application/x-jsonlines: one event object per line;
// lines end with LF or CRLF, blank lines are skipped and do not count as
// events, the last line needs no line end) or application/json-seq
// (RFC 7464: each event after an RS byte, 0x1E). Parameters such as
// "; charset=utf-8" are allowed; a charset other than UTF-8 is not. A
// UTF-8 byte order mark before the body is skipped (RFC 8259, section
// 8.1, lets parsers ignore it). The body may arrive base64-encoded
// (isBase64Encoded), as Lambda does for media types it does not know as
// text, and compressed with Content-Encoding gzip, deflate or zstd
// (AcceptedEncodings); compressed or not, at most MaxBodyBytes once
// decoded.
//
// Event i is the i-th array element, line or record, from 0. At most
// MaxEvents events and MaxBodyBytes bytes per request (413 otherwise).
// A JSON body that is not valid JSON as a whole, including an array with one
// malformed element, is refused with 400: nothing in it can be trusted to
// line up with an index. In NDJSON and json-seq each event stands alone,
// so a malformed one only rejects that event.
//
// # What goes to the stream
//
// The client's bytes, compacted, so that fields the processor does not read
// survive; ts as sent. An event without an eventId (absent, null or "")
// gets a UUIDv7: the record is then the object with "eventId" as its first
// member and the client's null or "" eventId removed. The partition key is
// userId. activity's parser has already rejected every event that readers
// could read differently (case-variant or duplicate keys, invalid UTF-8,
// unpaired surrogates), so the record says to every reader what ingest
// decided.
package ingest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/streamfn/streamfn/internal/activity"
	"github.com/streamfn/streamfn/internal/aws/lambdaquota"
	"github.com/streamfn/streamfn/internal/aws/streamwriter"
	"github.com/streamfn/streamfn/internal/codec/jsonscan"
	"github.com/streamfn/streamfn/internal/features"
)

// Limits of one request.
const (
	MaxEvents = 1000
	// MaxBodyBytes is Lambda's synchronous invocation payload limit; a
	// Function URL refuses bigger requests before the function runs, and
	// the function refuses them too when invoked another way (the local
	// run).
	MaxBodyBytes = lambdaquota.SyncInvocationPayloadBytes
)

// The media types ingest reads.
const (
	MediaJSON    = "application/json"
	MediaNDJSON  = "application/x-ndjson"
	MediaJSONSeq = "application/json-seq" // RFC 7464
)

// ndjsonTypes are the names clients use for newline-delimited JSON.
var ndjsonTypes = []string{MediaNDJSON, "application/ndjson", "application/jsonl", "application/x-jsonlines"}

// Rejection is one event that broke schema rules.
type Rejection struct {
	Index  int      `json:"index"`
	Error  string   `json:"error"`  // every problem, joined with "; "
	Errors []string `json:"errors"` // each problem, naming its field
}

// Batch is a parsed request.
type Batch struct {
	Events   int                   // events in the request, valid or not
	Records  []streamwriter.Record // the valid events, as they go to the stream
	Indexes  []int                 // Indexes[k] is the request index of Records[k]
	Rejected []Rejection           // ascending by index
}

// Problem refuses a request as a whole. Its fields are the JSON error body.
type Problem struct {
	Status           int      `json:"-"`
	Message          string   `json:"message"`
	Allowed          []string `json:"allowed,omitempty"`
	AllowedEncodings []string `json:"allowedEncodings,omitempty"`
	MaxEvents        int      `json:"maxEvents,omitempty"`
	MaxBodyBytes     int      `json:"maxBodyBytes,omitempty"`
}

func (p *Problem) Error() string { return fmt.Sprintf("%d %s", p.Status, p.Message) }

var acceptedMediaTypes = append(append([]string{MediaJSON}, ndjsonTypes...), MediaJSONSeq)

const shapeHint = "send one event object or an array of event objects as " + MediaJSON + ", or one event object per line as " + MediaNDJSON

// NewEventID is the eventId ingest assigns: a UUIDv7, so that ids sort by
// the time ingest saw the event.
func NewEventID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", err
	}
	return id.String(), nil
}

// ParseRequest reads a Function URL request into a Batch. Every error that
// is the client's to fix is a *Problem; any other error (newEventID failed)
// is the function's.
func ParseRequest(req events.LambdaFunctionURLRequest, newEventID func() (string, error)) (*Batch, error) {
	if method := req.RequestContext.HTTP.Method; method != http.MethodPost {
		return nil, &Problem{
			Status:  http.StatusMethodNotAllowed,
			Message: fmt.Sprintf("method %s is not allowed: send events with POST", method),
			Allowed: []string{http.MethodPost},
		}
	}
	mediaType, problem := parseContentType(header(req.Headers, "Content-Type"))
	if problem != nil {
		return nil, problem
	}
	if len(req.Body) > MaxBodyBytes {
		return nil, tooLarge(len(req.Body), "")
	}
	body := req.Body
	if req.IsBase64Encoded {
		decoded, err := base64.StdEncoding.DecodeString(req.Body)
		if err != nil {
			return nil, badRequest("body is marked base64-encoded (isBase64Encoded) but is not valid base64: %v", err)
		}
		body = string(decoded)
	}
	body, problem = decodeContent(header(req.Headers, "Content-Encoding"), body)
	if problem != nil {
		return nil, problem
	}
	// RFC 8259, section 8.1: a parser may ignore a byte order mark.
	body = strings.TrimPrefix(body, byteOrderMark)
	raws, problem := split(mediaType, body)
	if problem != nil {
		return nil, problem
	}
	return parseEvents(raws, len(body), newEventID)
}

const byteOrderMark = "\uFEFF"

// header finds a header case-insensitively: Function URLs lower-case names,
// other callers may not.
func header(headers map[string]string, name string) string {
	if v, ok := headers[strings.ToLower(name)]; ok {
		return v
	}
	for k, v := range headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

func parseContentType(contentType string) (string, *Problem) {
	unsupported := func(format string, args ...any) *Problem {
		return &Problem{
			Status:  http.StatusUnsupportedMediaType,
			Message: fmt.Sprintf(format, args...) + "; " + shapeHint,
			Allowed: acceptedMediaTypes,
		}
	}
	if strings.TrimSpace(contentType) == "" {
		return "", unsupported("Content-Type is missing")
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil && !errors.Is(err, mime.ErrInvalidMediaParameter) {
		return "", unsupported("Content-Type %q cannot be parsed: %v", contentType, err)
	}
	switch {
	case mediaType == MediaJSON, mediaType == MediaJSONSeq:
	case slices.Contains(ndjsonTypes, mediaType):
		mediaType = MediaNDJSON
	default:
		return "", unsupported("Content-Type %q is not supported", mediaType)
	}
	if charset, ok := params["charset"]; ok && !strings.EqualFold(charset, "utf-8") && !strings.EqualFold(charset, "utf8") {
		return "", unsupported("charset %q is not supported: JSON must be UTF-8", charset)
	}
	return mediaType, nil
}

// recordSeparator starts each event of an application/json-seq body.
const recordSeparator = 0x1E

// jsonSpace is JSON's whitespace; strings.TrimSpace would also drop Unicode
// spaces that make JSON invalid.
const jsonSpace = " \t\r\n"

// split cuts a body into the raw JSON of each event.
func split(mediaType string, body string) ([]string, *Problem) {
	var raws []string
	if mediaType == MediaNDJSON || mediaType == MediaJSONSeq {
		// NDJSON events end at LF; json-seq events start at RS (RFC 7464,
		// section 2.1), and whitespace around each is insignificant.
		separator := byte('\n')
		if mediaType == MediaJSONSeq {
			separator = recordSeparator
			if rest := strings.TrimLeft(body, jsonSpace); rest != "" && rest[0] != recordSeparator {
				return nil, badRequest("an %s body must start each event with the record separator RS (0x1E); %s", MediaJSONSeq, shapeHint)
			}
		}
		for rest := body; len(rest) > 0; {
			line := rest
			if end := strings.IndexByte(rest, separator); end >= 0 {
				line, rest = rest[:end], rest[end+1:]
			} else {
				rest = ""
			}
			if line = strings.Trim(line, jsonSpace); len(line) == 0 {
				continue
			}
			if len(raws) == MaxEvents {
				return nil, tooMany(fmt.Sprintf("more than %d", MaxEvents))
			}
			raws = append(raws, line)
		}
	} else {
		trimmed := strings.Trim(body, jsonSpace)
		leading := len(body) - len(strings.TrimLeft(body, jsonSpace))
		if len(trimmed) == 0 {
			return nil, badRequest("body is empty; %s", shapeHint)
		}
		switch trimmed[0] {
		case '{':
			if end, ok := jsonscan.SkipValue(trimmed, 0); (!ok || end != len(trimmed)) && !json.Valid([]byte(trimmed)) {
				return nil, invalidJSON(trimmed, leading)
			}
			raws = []string{trimmed}
		case '[':
			var ok bool
			if raws, ok = splitValidArray(trimmed); !ok {
				// Invalid, or nested deeper than jsonscan follows: let
				// encoding/json decide, and explain.
				if !json.Valid([]byte(trimmed)) {
					return nil, invalidJSON(trimmed, leading)
				}
				raws = splitArray(trimmed)
			}
			if len(raws) > MaxEvents {
				return nil, tooMany(fmt.Sprint(len(raws)))
			}
		default:
			return nil, badRequest("body is not a JSON object or array; %s", shapeHint)
		}
	}
	if len(raws) == 0 {
		return nil, badRequest("body holds no events; %s", shapeHint)
	}
	return raws, nil
}

// eventIDOverhead is what an assigned eventId adds: {"eventId":"<36>",
const eventIDOverhead = len(`"eventId":"",`) + 36

func parseEvents(raws []string, bodyBytes int, newEventID func() (string, error)) (*Batch, error) {
	b := &Batch{
		Events:  len(raws),
		Records: make([]streamwriter.Record, 0, len(raws)),
		Indexes: make([]int, 0, len(raws)),
	}
	// One buffer holds every record's bytes; records are capped sub-slices,
	// so a later append never writes into an earlier record.
	buf := make([]byte, 0, bodyBytes+len(raws)*eventIDOverhead)
	for i, raw := range raws {
		// ParseString returns what Parse does, several times faster, and
		// the Event's strings share the body's memory.
		ev, err := activity.ParseString(raw)
		if err != nil {
			b.Rejected = append(b.Rejected, rejection(i, err))
			continue
		}
		// The processor's amount rule, so that the client hears about a
		// purchase the processor would send to the poison queue.
		if ev.Type == activity.Purchase && ev.HasPrice {
			if _, err := features.PurchaseAmount(ev.Price, ev.Quantity); err != nil {
				b.Rejected = append(b.Rejected, rejection(i, &activity.FieldError{Field: "price", Reason: err.Error() + "; the processor cannot add this purchase up"}))
				continue
			}
		}
		start := len(buf)
		if ev.EventID == "" {
			if ev.EventID, err = newEventID(); err != nil {
				return nil, fmt.Errorf("assigning an eventId to event %d: %w", i, err)
			}
			buf = appendWithEventID(buf, raw, ev.EventID)
		} else {
			buf = appendCompact(buf, raw)
		}
		if err := ev.Validate(); err != nil {
			buf = buf[:start]
			b.Rejected = append(b.Rejected, rejection(i, err))
			continue
		}
		data := buf[start:len(buf):len(buf)]
		if len(data) > activity.MaxEventBytes {
			buf = buf[:start]
			b.Rejected = append(b.Rejected, rejection(i, fmt.Errorf(
				"event is %d bytes with its assigned eventId; at most %d allowed: shorten it or send your own eventId",
				len(data), activity.MaxEventBytes)))
			continue
		}
		b.Records = append(b.Records, streamwriter.Record{PartitionKey: ev.UserID, Data: data})
		b.Indexes = append(b.Indexes, i)
	}
	return b, nil
}

func rejection(index int, err error) Rejection {
	return Rejection{Index: index, Error: err.Error(), Errors: activity.Messages(err)}
}

func badRequest(format string, args ...any) *Problem {
	return &Problem{Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

// invalidJSON explains why encoding/json refuses trimmed, which started
// leading bytes into the body.
func invalidJSON(trimmed string, leading int) *Problem {
	err := json.Unmarshal([]byte(trimmed), new(json.RawMessage))
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return badRequest("body is not valid JSON: %v (at byte %d); %s", err, int64(leading)+syntax.Offset, shapeHint)
	}
	return badRequest("body is not valid JSON: %v; %s", err, shapeHint)
}

func tooMany(held string) *Problem {
	return &Problem{
		Status:    http.StatusRequestEntityTooLarge,
		Message:   fmt.Sprintf("request holds %s events; at most %d are allowed per request: split it", held, MaxEvents),
		MaxEvents: MaxEvents,
	}
}

// tooLarge refuses a body of n bytes; encoding, when not "", is the
// Content-Encoding it was decoded from.
func tooLarge(n int, encoding string) *Problem {
	held := fmt.Sprintf("body is %d bytes", n)
	if encoding != "" {
		held = fmt.Sprintf("body decoded from Content-Encoding %s is more than %d bytes", encoding, n)
	}
	return &Problem{
		Status:       http.StatusRequestEntityTooLarge,
		Message:      fmt.Sprintf("%s; at most %d (%d MiB, Lambda's payload limit) are allowed per request, compressed or not: split it", held, MaxBodyBytes, MaxBodyBytes>>20),
		MaxBodyBytes: MaxBodyBytes,
	}
}
