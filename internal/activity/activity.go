// Package activity is the one definition of a user-activity event: its JSON
// schema, its validation rules and its canonical encoding. The ingest function
// validates what clients send with it and the processor validates what it
// reads from the stream with it, so the two can never disagree.
//
// # Schema
//
// An event is one JSON object. Unknown fields are ignored; a field whose
// value is null counts as absent.
//
//	field      type                         rule
//	eventId    string                       required, 1..128 bytes (ingest assigns a UUIDv7 when absent)
//	userId     string                       required, 1..128 bytes; the stream's partition key
//	type       string                       required: view | add_to_cart | purchase | search
//	productId  string                       required for view, add_to_cart and purchase; at most 128 bytes
//	category   string                       optional, at most 128 bytes
//	price      number                       optional, finite and >= 0
//	quantity   integer                      optional, >= 1, default 1
//	sessionId  string                       optional, at most 128 bytes
//	ts         string, RFC 3339             required, e.g. 2026-11-26T12:00:00.123Z
//	userAgent  string                       optional, at most 1024 bytes
//
// A whole event is at most MaxEventBytes of JSON.
package activity

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// Limits. They bound what one event can add to a user's item in DynamoDB
// (400 KB per item) and keep one record far below Kinesis's 1 MiB.
const (
	MaxEventBytes     = 32 << 10
	MaxIDBytes        = 128 // eventId, userId, productId, category, sessionId
	MaxUserAgentBytes = 1024
)

// Type is an event type. The zero value is invalid.
type Type uint8

const (
	TypeInvalid Type = iota
	View
	AddToCart
	Purchase
	Search
)

// Types lists the valid types in the order the README documents them.
var Types = []Type{View, AddToCart, Purchase, Search}

var typeNames = [...]string{"", "view", "add_to_cart", "purchase", "search"}

// String is the type's JSON spelling ("" for TypeInvalid).
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return ""
}

// ParseType maps a JSON spelling to its Type, or TypeInvalid.
func ParseType(s string) Type {
	switch s {
	case "view":
		return View
	case "add_to_cart":
		return AddToCart
	case "purchase":
		return Purchase
	case "search":
		return Search
	}
	return TypeInvalid
}

// NeedsProduct reports whether events of this type must name a productId.
func (t Type) NeedsProduct() bool { return t == View || t == AddToCart || t == Purchase }

// MarshalText implements encoding.TextMarshaler.
func (t Type) MarshalText() ([]byte, error) {
	if t == TypeInvalid || int(t) >= len(typeNames) {
		return nil, fmt.Errorf("invalid activity type %d", t)
	}
	return []byte(t.String()), nil
}

// Event is one decoded activity event.
type Event struct {
	EventID   string
	UserID    string
	Type      Type
	ProductID string
	Category  string
	Price     float64
	HasPrice  bool
	Quantity  int64 // 1 when absent
	SessionID string
	TS        time.Time
	UserAgent string
}

// FieldError is a rule one field broke.
type FieldError struct {
	Field  string // the JSON field name, "" for the event as a whole
	Reason string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

func fieldErr(field, reason string) error { return &FieldError{Field: field, Reason: reason} }

// wire is the JSON shape, with every field optional so that each rule can
// produce its own message.
type wire struct {
	EventID   json.RawMessage `json:"eventId"`
	UserID    json.RawMessage `json:"userId"`
	Type      json.RawMessage `json:"type"`
	ProductID json.RawMessage `json:"productId"`
	Category  json.RawMessage `json:"category"`
	Price     json.RawMessage `json:"price"`
	Quantity  json.RawMessage `json:"quantity"`
	SessionID json.RawMessage `json:"sessionId"`
	TS        json.RawMessage `json:"ts"`
	UserAgent json.RawMessage `json:"userAgent"`
}

// Parse decodes one event and applies every rule except the eventId rule,
// which the caller checks with Validate (ingest assigns missing eventIds
// first). It returns the first rule broken, as a *FieldError.
func Parse(data []byte) (Event, error) {
	var ev Event
	if len(data) > MaxEventBytes {
		return ev, fieldErr("", fmt.Sprintf("event is %d bytes; at most %d allowed", len(data), MaxEventBytes))
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return ev, fieldErr("", "not a JSON object")
	}
	var w wire
	if err := json.Unmarshal(trimmed, &w); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return ev, fieldErr("", "not a JSON object")
		}
		return ev, fieldErr("", "invalid JSON: "+err.Error())
	}
	var err error
	if ev.EventID, err = optString(w.EventID, "eventId", MaxIDBytes); err != nil {
		return ev, err
	}
	if ev.UserID, err = optString(w.UserID, "userId", MaxIDBytes); err != nil {
		return ev, err
	}
	if ev.UserID == "" {
		return ev, fieldErr("userId", "required, a non-empty string")
	}
	typ, err := optString(w.Type, "type", 32)
	if err != nil {
		return ev, fieldErr("type", "must be one of view, add_to_cart, purchase, search")
	}
	if typ == "" {
		return ev, fieldErr("type", "required, one of view, add_to_cart, purchase, search")
	}
	if ev.Type = ParseType(typ); ev.Type == TypeInvalid {
		return ev, fieldErr("type", fmt.Sprintf("%q is not one of view, add_to_cart, purchase, search", typ))
	}
	if ev.ProductID, err = optString(w.ProductID, "productId", MaxIDBytes); err != nil {
		return ev, err
	}
	if ev.ProductID == "" && ev.Type.NeedsProduct() {
		return ev, fieldErr("productId", "required for type "+ev.Type.String())
	}
	if ev.Category, err = optString(w.Category, "category", MaxIDBytes); err != nil {
		return ev, err
	}
	if ev.Price, ev.HasPrice, err = optPrice(w.Price); err != nil {
		return ev, err
	}
	if ev.Quantity, err = optQuantity(w.Quantity); err != nil {
		return ev, err
	}
	if ev.SessionID, err = optString(w.SessionID, "sessionId", MaxIDBytes); err != nil {
		return ev, err
	}
	ts, err := optString(w.TS, "ts", 64)
	if err != nil {
		return ev, fieldErr("ts", "must be an RFC 3339 timestamp string, e.g. 2026-11-26T12:00:00Z")
	}
	if ts == "" {
		return ev, fieldErr("ts", "required, an RFC 3339 timestamp, e.g. 2026-11-26T12:00:00Z")
	}
	if ev.TS, err = time.Parse(time.RFC3339Nano, ts); err != nil {
		return ev, fieldErr("ts", fmt.Sprintf("%q is not an RFC 3339 timestamp, e.g. 2026-11-26T12:00:00Z", ts))
	}
	if ev.UserAgent, err = optString(w.UserAgent, "userAgent", MaxUserAgentBytes); err != nil {
		return ev, err
	}
	return ev, nil
}

// Validate checks the rules Parse leaves to the caller: eventId is present.
// The processor calls it on every record; ingest calls it after assigning
// missing eventIds.
func (e *Event) Validate() error {
	if e.EventID == "" {
		return fieldErr("eventId", "required, a non-empty string")
	}
	return nil
}

// ParseValid is Parse followed by Validate: what the processor accepts.
func ParseValid(data []byte) (Event, error) {
	ev, err := Parse(data)
	if err == nil {
		err = ev.Validate()
	}
	return ev, err
}

func isNull(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

func optString(raw json.RawMessage, field string, max int) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	if raw[0] != '"' {
		return "", fieldErr(field, "must be a string")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fieldErr(field, "must be a string")
	}
	if len(s) > max {
		return "", fieldErr(field, fmt.Sprintf("is %d bytes; at most %d allowed", len(s), max))
	}
	return s, nil
}

func optPrice(raw json.RawMessage) (float64, bool, error) {
	if isNull(raw) {
		return 0, false, nil
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || !isJSONNumber(raw) {
		return 0, false, fieldErr("price", "must be a number >= 0")
	}
	if math.IsInf(f, 0) || f < 0 {
		return 0, false, fieldErr("price", fmt.Sprintf("%s is out of range: must be a finite number >= 0", raw))
	}
	return f, true, nil
}

func optQuantity(raw json.RawMessage) (int64, error) {
	if isNull(raw) {
		return 1, nil
	}
	if !isJSONNumber(raw) {
		return 0, fieldErr("quantity", "must be an integer >= 1")
	}
	q, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, fieldErr("quantity", fmt.Sprintf("%s is not an integer >= 1 (at most %d)", raw, int64(math.MaxInt64)))
	}
	if q < 1 {
		return 0, fieldErr("quantity", fmt.Sprintf("%d is out of range: must be >= 1", q))
	}
	return q, nil
}

// isJSONNumber rejects what strconv accepts but JSON does not (NaN, Inf,
// hex, underscores, a leading '+').
func isJSONNumber(raw []byte) bool {
	if len(raw) == 0 {
		return false
	}
	for _, c := range raw {
		switch {
		case c >= '0' && c <= '9', c == '-', c == '.', c == 'e', c == 'E', c == '+':
		default:
			return false
		}
	}
	return raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9')
}

// AppendJSON appends the event's canonical JSON: known fields only, in schema
// order, with optional fields omitted when absent and ts in UTC RFC 3339.
func (e *Event) AppendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	start := len(dst)
	field := func(name string) {
		if len(dst) > start {
			dst = append(dst, ',')
		}
		dst = append(append(append(dst, '"'), name...), '"', ':')
	}
	str := func(name, v string) {
		if v != "" {
			field(name)
			dst = AppendString(dst, v)
		}
	}
	str("eventId", e.EventID)
	str("userId", e.UserID)
	str("type", e.Type.String())
	str("productId", e.ProductID)
	str("category", e.Category)
	if e.HasPrice {
		field("price")
		dst = strconv.AppendFloat(dst, e.Price, 'f', -1, 64)
	}
	if e.Quantity > 1 {
		field("quantity")
		dst = strconv.AppendInt(dst, e.Quantity, 10)
	}
	str("sessionId", e.SessionID)
	if !e.TS.IsZero() {
		str("ts", e.TS.UTC().Format(time.RFC3339Nano))
	}
	str("userAgent", e.UserAgent)
	return append(dst, '}')
}

// AppendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, as
// in encoding/json. Besides JSON's escapes it escapes U+FFFE and U+FFFF,
// the characters SQS refuses in a message body, so that its output can go
// into any message as it is; a JSON reader gets the same string back.
func AppendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			dst = append(dst, '\\', byte(r))
		case r < 0x20 || r == 0xFFFE || r == 0xFFFF:
			dst = append(dst, '\\', 'u', hex[r>>12&0xF], hex[r>>8&0xF], hex[r>>4&0xF], hex[r&0xF])
		default:
			dst = utf8.AppendRune(dst, r)
		}
	}
	return append(dst, '"')
}
