// Package kinesisevent is the invocation document Lambda sends a function
// subscribed to a Kinesis stream (aws-lambda-go's events.KinesisEvent
// shape) and the rules of the function's answer: Decoder reads it straight
// from the raw bytes (the processor), Events writes it (the local mapping
// and the redrive tool), and Checkpoint applies ReportBatchItemFailures to
// an answer (the local mapping, the redrive tool and the mapping model).
//
// It exists because decoding that document is most of a plain Go handler's
// time: encoding/json through events.KinesisEvent allocates every string of
// every record and base64-decodes the data with the standard library (the
// issue measured ~0.15 M records/s for the whole handler). Decoder instead
// scans the bytes once, keeps each field as a slice of the input, and
// decodes each record's data with package base64fast into one buffer it
// reuses from one invocation to the next. The data string is found with
// bytes.IndexByte (base64 has no quotes; a backslash sends the document to
// the reference), and the base64 decoder, which accepts only the alphabet,
// doubles as its check for control characters.
//
// Anything the scanner does not expect — a case-folded or repeated key, an
// escape inside a field, a field of the wrong type — is handed to
// encoding/json, the reference, so the result is always the reference's;
// FuzzDecodeMatchesReference checks that.
package kinesisevent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/streamfn/streamfn/internal/codec/base64fast"
	"github.com/streamfn/streamfn/internal/codec/jsonscan"
)

// Record is one Kinesis record of an invocation. Its slices alias the
// payload given to Decode (or the Decoder's own memory) and are valid
// until the next Decode and only while the payload is unchanged: the
// Lambda runtime reuses its buffer for the next invocation, so copy what
// must outlive the call.
type Record struct {
	// EventID is "shardId-000000000000:<sequence number>".
	EventID        []byte
	EventSourceARN []byte
	AWSRegion      []byte
	SequenceNumber []byte
	PartitionKey   []byte
	// Data is the record's payload, decoded from base64. When the data is
	// not valid base64, DataErr says why and Data is the text as sent.
	Data    []byte
	DataErr error
	// ApproximateArrivalTimestamp is in seconds since the epoch, as sent.
	ApproximateArrivalTimestamp float64
}

// ShardID is the shard the record comes from: EventID up to its colon.
// Lambda's Kinesis events carry the shard nowhere else.
func (r *Record) ShardID() []byte {
	for i, c := range r.EventID {
		if c == ':' {
			return r.EventID[:i]
		}
	}
	return r.EventID
}

// Decoder decodes invocations, reusing its memory from one to the next.
// The zero value is ready. It is not safe for concurrent use.
type Decoder struct {
	records []Record
	// decoded holds every record's decoded data, back to back, or with a
	// Visitor (streaming) only the current record's.
	decoded   []byte
	streaming bool
	// windowed: the event has a non-null top-level window member.
	windowed bool
}

// Windowed reports whether the event Decode read last came from a mapping
// with a tumbling window (aws-lambda-go's events.KinesisTimeWindowEvent):
// it has a window member that is not null. Lambda then requires a state
// member in the response.
func (d *Decoder) Windowed() bool { return d.windowed }

// A Visitor sees each record as soon as it is decoded, while its bytes are
// still in the CPU's caches: handling a 10,000-record batch in one pass
// instead of decoding it all first saves a cache miss on every field.
type Visitor interface {
	// Visit is called for each record in order. r, and r.Data, are valid
	// during the call only: the decoder reuses one buffer for every
	// record's data. Keep i to find the record in Decode's result later.
	Visit(i int, r *Record)
	// Restart is called when the fast path gives up after visiting some
	// records; then every record is visited again, from the first.
	Restart()
}

// Decode returns the records of payload in order. Errors describe what is
// wrong with the document; a document that is JSON but not a Kinesis event
// (no Records array) is an error too, so that a misrouted invocation never
// passes as an empty batch.
//
// With a Visitor, Decode shows each record to it as soon as the record is
// decoded, and decodes every record's data into the same small buffer, so
// a batch's data never goes out to main memory: the returned records then
// have no Data (unless DataErr is set, when Data is the text as sent).
func (d *Decoder) Decode(payload []byte, v Visitor) ([]Record, error) {
	d.streaming = v != nil
	records, ok := d.scan(payload, v)
	if ok {
		return records, nil
	}
	visited := len(records) > 0
	d.streaming = false
	records, err := d.decodeReference(payload)
	if err != nil || v == nil {
		return records, err
	}
	if visited {
		v.Restart()
	}
	for i := range records {
		v.Visit(i, &records[i])
	}
	return records, nil
}

// reset prepares the buffers for payload. Without a Visitor, the decoded
// data of every record fits in DecodedLen(len(payload)), so the buffer
// never moves during a scan and the records' Data slices stay valid.
func (d *Decoder) reset(payload []byte) {
	d.records = d.records[:0]
	d.windowed = false
	if need := base64fast.DecodedLen(len(payload)); !d.streaming && cap(d.decoded) < need {
		d.decoded = make([]byte, 0, need)
	}
	d.decoded = d.decoded[:0]
}

// decodeData decodes text into the buffer and sets r.Data or r.DataErr.
func (d *Decoder) decodeData(text []byte, r *Record) {
	if d.streaming {
		d.decoded = d.decoded[:0]
	}
	start, need := len(d.decoded), base64fast.DecodedLen(len(text))
	if cap(d.decoded)-start < need {
		// Streaming, or the reference path: records decoded so far keep
		// the old array, which nothing writes to again.
		d.decoded = slices.Grow(d.decoded, need)
	}
	n, err := base64fast.Decode(d.decoded[start:start+need], text)
	if err != nil {
		d.decoded = d.decoded[:start]
		r.Data, r.DataErr = text, fmt.Errorf("record data is not valid base64: %w", err)
		return
	}
	d.decoded = d.decoded[:start+n]
	r.Data, r.DataErr = d.decoded[start:start+n:start+n], nil
}

// Field names, exactly as AWS spells them.
const (
	keyRecords        = "Records"
	keyWindow         = "window"
	keyKinesis        = "kinesis"
	keyEventID        = "eventID"
	keyEventSourceARN = "eventSourceARN"
	keyAWSRegion      = "awsRegion"
	keySequenceNumber = "sequenceNumber"
	keyPartitionKey   = "partitionKey"
	keyData           = "data"
	keyArrival        = "approximateArrivalTimestamp"
)

// scan is the fast path. ok is false whenever it cannot be sure to agree
// with decodeReference; the caller then uses that.
func (d *Decoder) scan(s []byte, v Visitor) (records []Record, ok bool) {
	d.reset(s)
	sawRecords := false
	end, ok := walkObject(s, 0, func(key []byte, i int) (int, bool) {
		if isPlainKey(key, keyWindow) {
			d.windowed = !jsonscan.IsNull(s, i) // the last one counts, as in encoding/json
			return jsonscan.SkipValue(s, i)
		}
		if !isPlainKey(key, keyRecords) {
			return skipUnknown(s, key, i, keyRecords, keyWindow)
		}
		if sawRecords || jsonscan.IsNull(s, i) || s[i] != '[' {
			return i, false
		}
		sawRecords = true
		return walkArray(s, i, func(i int) (int, bool) {
			var r Record
			end, ok := d.scanRecord(s, i, &r)
			if ok {
				d.records = append(d.records, r)
				if v != nil {
					last := &d.records[len(d.records)-1]
					v.Visit(len(d.records)-1, last)
					if last.DataErr == nil {
						last.Data = nil // the next record overwrites it
					}
				}
			}
			return end, ok
		})
	})
	return d.records, ok && sawRecords && jsonscan.SkipSpace(s, end) == len(s)
}

// The fields of a record and of its kinesis object, one bit each: scanRecord
// requires each once.
const (
	fieldEventID uint = 1 << iota
	fieldEventSourceARN
	fieldAWSRegion
	fieldKinesis
	allRecordFields = fieldEventID | fieldEventSourceARN | fieldAWSRegion | fieldKinesis
)

const (
	fieldSequenceNumber uint = 1 << iota
	fieldPartitionKey
	fieldData
	fieldArrival
	allKinesisFields = fieldSequenceNumber | fieldPartitionKey | fieldData | fieldArrival
)

// scanRecord reads one element of Records. Every field Record keeps must
// be present: Lambda always sends them all.
func (d *Decoder) scanRecord(s []byte, i int, r *Record) (int, bool) {
	var seen, seenKinesis uint
	end, ok := walkObject(s, i, func(key []byte, i int) (int, bool) {
		var dst *[]byte
		var bit uint
		switch string(key) {
		case keyEventID:
			dst, bit = &r.EventID, fieldEventID
		case keyEventSourceARN:
			dst, bit = &r.EventSourceARN, fieldEventSourceARN
		case keyAWSRegion:
			dst, bit = &r.AWSRegion, fieldAWSRegion
		case keyKinesis:
			if seen&fieldKinesis != 0 || s[i] != '{' {
				return i, false
			}
			seen |= fieldKinesis
			return walkObject(s, i, func(key []byte, i int) (int, bool) {
				var dst *[]byte
				var bit uint
				switch string(key) {
				case keySequenceNumber:
					dst, bit = &r.SequenceNumber, fieldSequenceNumber
				case keyPartitionKey:
					dst, bit = &r.PartitionKey, fieldPartitionKey
				case keyData:
					if seenKinesis&fieldData != 0 {
						return i, false
					}
					seenKinesis |= fieldData
					return d.scanData(s, i, r)
				case keyArrival:
					if seenKinesis&fieldArrival != 0 {
						return i, false
					}
					seenKinesis |= fieldArrival
					end := jsonscan.Number(s, i)
					if end == i {
						return i, false
					}
					f, ok := jsonscan.Decimal(s[i:end]) // AWS sends milliseconds: 1545084650.987
					if !ok {
						var err error
						if f, err = strconv.ParseFloat(string(s[i:end]), 64); err != nil {
							return i, false // out of float64's range: the reference reports it
						}
					}
					r.ApproximateArrivalTimestamp = f
					return end, true
				default:
					return skipUnknown(s, key, i, keySequenceNumber, keyPartitionKey, keyData, keyArrival)
				}
				if seenKinesis&bit != 0 {
					return i, false
				}
				seenKinesis |= bit
				return plainString(s, i, dst)
			})
		default:
			return skipUnknown(s, key, i, keyEventID, keyEventSourceARN, keyAWSRegion, keyKinesis)
		}
		if seen&bit != 0 {
			return i, false
		}
		seen |= bit
		return plainString(s, i, dst)
	})
	return end, ok && seen == allRecordFields && seenKinesis == allKinesisFields
}

// scanData reads and decodes the data string at s[i]. Base64 text has no
// quotes, so the string ends at the next quote unless it holds a
// backslash, which only the reference handles. The decoder accepts only
// alphabet characters, so decoded data also proves the string had no
// control characters; when decoding fails the string is checked the slow
// way, because the reference rejects the whole document for a control
// character but only the record for bad base64.
func (d *Decoder) scanData(s []byte, i int, r *Record) (int, bool) {
	if s[i] != '"' {
		return i, false
	}
	length := bytes.IndexByte(s[i+1:], '"')
	if length < 0 {
		return i, false
	}
	text := s[i+1 : i+1+length : i+1+length]
	if bytes.IndexByte(text, '\\') >= 0 {
		return i, false
	}
	d.decodeData(text, r)
	if r.DataErr != nil {
		if end, escaped, nonASCII := jsonscan.String(s, i); end < 0 || escaped || nonASCII {
			return i, false // invalid JSON, or bytes the reference would replace first
		}
	} else if !decodedWhole(text, len(r.Data)) {
		return i, false // encoding/base64 skipped a raw CR or LF, which JSON forbids in a string
	}
	return i + 1 + length + 1, true
}

// decodedWhole reports whether n bytes are what padded base64 text decodes
// to when every one of its characters is part of the encoding. Decoding
// skips CR and LF; then the text holds a multiple of 4 characters more than
// the encoding, and n falls short.
func decodedWhole(text []byte, n int) bool {
	if len(text)%4 != 0 {
		return false
	}
	pad := 0
	if len(text) > 0 && text[len(text)-1] == '=' {
		pad = 1
		if text[len(text)-2] == '=' {
			pad = 2
		}
	}
	return n == len(text)/4*3-pad
}

// plainString stores the string value at s[i] when it has no escapes and
// is valid UTF-8, so that its bytes are exactly encoding/json's value.
func plainString(s []byte, i int, dst *[]byte) (int, bool) {
	if s[i] != '"' {
		return i, false
	}
	end, escaped, nonASCII := jsonscan.String(s, i)
	if end < 0 || escaped {
		return i, false
	}
	v := s[i+1 : end-1 : end-1]
	if nonASCII && !utf8.Valid(v) {
		return i, false // encoding/json would replace the bad bytes
	}
	*dst = v
	return end, true
}

// isPlainKey is key == want without allocating.
func isPlainKey(key []byte, want string) bool { return string(key) == want }

// skipUnknown skips the value of a key the scanner does not keep, unless
// encoding/json would fold the key onto one it does (it matches keys
// case-insensitively), in which case the fast path gives up.
func skipUnknown(s, key []byte, i int, known ...string) (int, bool) {
	if !jsonscan.IsASCII(key) {
		return i, false // Unicode folding could make it a known key
	}
	for _, k := range known {
		if jsonscan.EqualFoldASCII(key, k) {
			return i, false
		}
	}
	return jsonscan.SkipValue(s, i)
}

// walkObject reads the object at s[i] (after whitespace), calling field
// with each plain key and the index of its value (after whitespace); field
// returns the index after the value. It returns the index after the object.
func walkObject(s []byte, i int, field func(key []byte, value int) (int, bool)) (int, bool) {
	i = jsonscan.SkipSpace(s, i)
	if i >= len(s) || s[i] != '{' {
		return i, false
	}
	i = jsonscan.SkipSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(s) || s[i] != '"' {
			return i, false
		}
		end, escaped, _ := jsonscan.String(s, i)
		if end < 0 || escaped {
			return i, false
		}
		key := s[i+1 : end-1]
		i = jsonscan.SkipSpace(s, end)
		if i >= len(s) || s[i] != ':' {
			return i, false
		}
		i = jsonscan.SkipSpace(s, i+1)
		if i >= len(s) {
			return i, false
		}
		var ok bool
		if i, ok = field(key, i); !ok {
			return i, false
		}
		i = jsonscan.SkipSpace(s, i)
		if i >= len(s) {
			return i, false
		}
		if s[i] == '}' {
			return i + 1, true
		}
		if s[i] != ',' {
			return i, false
		}
		i = jsonscan.SkipSpace(s, i+1)
	}
}

// walkArray reads the array at s[i], calling element with the index of
// each element (after whitespace).
func walkArray(s []byte, i int, element func(value int) (int, bool)) (int, bool) {
	if i >= len(s) || s[i] != '[' {
		return i, false
	}
	i = jsonscan.SkipSpace(s, i+1)
	if i < len(s) && s[i] == ']' {
		return i + 1, true
	}
	for {
		var ok bool
		if i, ok = element(i); !ok {
			return i, false
		}
		i = jsonscan.SkipSpace(s, i)
		if i >= len(s) {
			return i, false
		}
		if s[i] == ']' {
			return i + 1, true
		}
		if s[i] != ',' {
			return i, false
		}
		i = jsonscan.SkipSpace(s, i+1)
	}
}

// reference mirrors events.KinesisEvent with the fields Record keeps, data
// left as text. Pointers tell a missing field from an empty one.
type reference struct {
	Records *[]struct {
		EventID        *string `json:"eventID"`
		EventSourceARN *string `json:"eventSourceARN"`
		AWSRegion      *string `json:"awsRegion"`
		Kinesis        *struct {
			SequenceNumber              *string  `json:"sequenceNumber"`
			PartitionKey                *string  `json:"partitionKey"`
			Data                        *string  `json:"data"`
			ApproximateArrivalTimestamp *float64 `json:"approximateArrivalTimestamp"`
		} `json:"kinesis"`
	} `json:"Records"`
	Window *json.RawMessage `json:"window"` // only whether it is there and not null
}

// decodeReference decodes with encoding/json: slow, allocating, and the
// definition of what Decode returns.
func (d *Decoder) decodeReference(payload []byte) ([]Record, error) {
	d.reset(payload)
	var doc reference
	if err := json.Unmarshal(payload, &doc); err != nil {
		return nil, fmt.Errorf("invocation is not a Kinesis event: %w", err)
	}
	if doc.Records == nil {
		return nil, errors.New(`invocation is not a Kinesis event: it has no "Records" array`)
	}
	d.windowed = doc.Window != nil
	for n, in := range *doc.Records {
		missing := func(field string) error {
			return fmt.Errorf("invocation is not a Kinesis event: Records[%d] has no %s", n, field)
		}
		switch {
		case in.EventID == nil:
			return nil, missing(keyEventID)
		case in.EventSourceARN == nil:
			return nil, missing(keyEventSourceARN)
		case in.AWSRegion == nil:
			return nil, missing(keyAWSRegion)
		case in.Kinesis == nil:
			return nil, missing(keyKinesis)
		case in.Kinesis.SequenceNumber == nil:
			return nil, missing("kinesis." + keySequenceNumber)
		case in.Kinesis.PartitionKey == nil:
			return nil, missing("kinesis." + keyPartitionKey)
		case in.Kinesis.Data == nil:
			return nil, missing("kinesis." + keyData)
		case in.Kinesis.ApproximateArrivalTimestamp == nil:
			return nil, missing("kinesis." + keyArrival)
		}
		r := Record{
			EventID:                     []byte(*in.EventID),
			EventSourceARN:              []byte(*in.EventSourceARN),
			AWSRegion:                   []byte(*in.AWSRegion),
			SequenceNumber:              []byte(*in.Kinesis.SequenceNumber),
			PartitionKey:                []byte(*in.Kinesis.PartitionKey),
			ApproximateArrivalTimestamp: *in.Kinesis.ApproximateArrivalTimestamp,
		}
		d.decodeData([]byte(*in.Kinesis.Data), &r)
		d.records = append(d.records, r)
	}
	return d.records, nil
}
