// Package activity is the one definition of a user-activity event: its JSON
// schema, its validation rules and its canonical encoding. The ingest function
// validates what clients send with it and the processor validates what it
// reads from the stream with it, so the two can never disagree.
//
// # Schema
//
// An event is one JSON object. Unknown fields are kept but not read; a
// field whose value is null counts as absent.
//
//	field      type                         rule
//	eventId    string                       required, an id (ingest assigns a UUIDv7 when absent)
//	userId     string                       required, an id; the stream's partition key
//	type       string                       required: view | add_to_cart | purchase | search
//	productId  string                       required for view, add_to_cart and purchase; at most 128 bytes
//	category   string                       optional, at most 128 bytes
//	price      number                       optional, finite and >= 0, no minus sign
//	quantity   integer                      optional, >= 1, default 1
//	sessionId  string                       optional, at most 128 bytes
//	ts         string, RFC 3339             required, e.g. 2026-11-26T12:00:00.123Z (package rfc3339)
//	userAgent  string                       optional, at most 1024 bytes
//
// An id is 1-128 visible ASCII characters, U+0021 to U+007E (IDCharacters).
// The whole event is at most MaxEventBytes of JSON, keys match exactly
// (case variants of a schema key are rejected), no key appears twice in
// any object, every string is valid UTF-8 without unpaired surrogate
// escapes, and values nest at most MaxDepth levels (parse.go says why).
package activity

import (
	"fmt"
	"strconv"
	"strings"
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

func fieldErr(field, reason string) *FieldError { return &FieldError{Field: field, Reason: reason} }

// Errors is every rule one event broke, each naming its field, so that a
// client fixes them all at once.
type Errors []*FieldError

func (e Errors) Error() string {
	var b strings.Builder
	for k, fe := range e {
		if k > 0 {
			b.WriteString("; ")
		}
		b.WriteString(fe.Error())
	}
	return b.String()
}

// Unwrap lets errors.As find each *FieldError.
func (e Errors) Unwrap() []error {
	errs := make([]error, len(e))
	for k, fe := range e {
		errs[k] = fe
	}
	return errs
}

// err is nil for no problem, the *FieldError for one, e for several.
func (e Errors) err() error {
	switch len(e) {
	case 0:
		return nil
	case 1:
		return e[0]
	}
	return e
}

// Messages lists the problems an error from Parse holds, one message each.
func Messages(err error) []string {
	if errs, ok := err.(Errors); ok {
		messages := make([]string, len(errs))
		for k, fe := range errs {
			messages[k] = fe.Error()
		}
		return messages
	}
	return []string{err.Error()}
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

// ParseValidString is ParseValid for an event held in a string; the
// Event's strings share data's memory.
func ParseValidString(data string) (Event, error) {
	ev, err := ParseString(data)
	if err == nil {
		err = ev.Validate()
	}
	return ev, err
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
