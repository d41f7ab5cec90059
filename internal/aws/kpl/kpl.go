// Package kpl reads and writes Kinesis Producer Library (KPL) aggregated
// records: many user records packed into one Kinesis record to save on
// per-record cost.
//
// The format, as the KPL and the Kinesis Client Library define it:
//
//	magic (4 bytes: F3 89 9A C2) | AggregatedRecord (protobuf) | MD5 of the protobuf bytes (16 bytes)
//
//	message AggregatedRecord {
//	  repeated string partition_key_table     = 1;
//	  repeated string explicit_hash_key_table = 2;
//	  repeated Record records                 = 3;
//	}
//	message Record {
//	  required uint64 partition_key_index     = 1;
//	  optional uint64 explicit_hash_key_index = 2;
//	  required bytes  data                    = 3;
//	  repeated Tag    tags                    = 4; // skipped: the KPL never sets them
//	}
//
// The protobuf is read with google.golang.org/protobuf/encoding/protowire:
// the schema is three fields deep, so a generated message type would add a
// dependency on reflection-based decoding for no gain, and reading the wire
// format directly lets the sub-records alias the input instead of copying.
package kpl

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// MaxRecords bounds the user records read from one aggregate. The smallest
// valid activity event is about 85 bytes, so a Kinesis record (at most
// 1 MiB) of valid events holds at most ~12,000; more can only be a flood of
// tiny or empty sub-records, which would cost the processor memory and time
// per sub-record. Such an aggregate is refused whole.
const MaxRecords = 16384

// Magic starts every aggregated record.
var Magic = [4]byte{0xF3, 0x89, 0x9A, 0xC2}

const checksumSize = md5.Size

// Field numbers of the KPL's messages.
const (
	aggPartitionKeyTable    protowire.Number = 1
	aggExplicitHashKeyTable protowire.Number = 2
	aggRecords              protowire.Number = 3

	recPartitionKeyIndex    protowire.Number = 1
	recExplicitHashKeyIndex protowire.Number = 2
	recData                 protowire.Number = 3
)

// Record is one user record inside an aggregate. When it comes from Unpack
// its slices alias the aggregate's bytes.
type Record struct {
	PartitionKey    []byte
	ExplicitHashKey []byte // nil when the record has none
	Data            []byte
}

// IsAggregated reports whether data starts with the KPL magic. Such a record
// is either a valid aggregate or a corrupt one; it is never a plain record.
func IsAggregated(data []byte) bool {
	return len(data) >= len(Magic) && bytes.Equal(data[:len(Magic)], Magic[:])
}

// Error says why an aggregate could not be unpacked. The whole aggregate is
// unusable then: none of its records can be trusted.
type Error struct{ Reason string }

func (e *Error) Error() string { return "KPL aggregated record: " + e.Reason }

func errorf(format string, args ...any) error { return &Error{Reason: fmt.Sprintf(format, args...)} }

// Unpacker unpacks aggregates, reusing its memory from one call to the next.
// The zero value is ready to use. It is not safe for concurrent use.
type Unpacker struct {
	partitionKeys    [][]byte
	explicitHashKeys [][]byte
	rawRecords       [][]byte
	records          []Record
}

// Unpack checks the magic and the MD5 trailer and decodes every record. The
// result and its slices alias data and u's memory: they are valid until the
// next call to Unpack and until data changes. Memory grows only with what
// the input actually contains, never with a count the input claims.
func (u *Unpacker) Unpack(data []byte) ([]Record, error) {
	if !IsAggregated(data) {
		return nil, errorf("does not start with the magic bytes F3 89 9A C2")
	}
	if len(data) < len(Magic)+checksumSize {
		return nil, errorf("is %d bytes, shorter than its magic and MD5 trailer (%d bytes)", len(data), len(Magic)+checksumSize)
	}
	message := data[len(Magic) : len(data)-checksumSize]
	sum := md5.Sum(message)
	if !bytes.Equal(sum[:], data[len(data)-checksumSize:]) {
		return nil, errorf("MD5 checksum mismatch: the %d protobuf bytes do not match the trailer", len(message))
	}
	u.partitionKeys = u.partitionKeys[:0]
	u.explicitHashKeys = u.explicitHashKeys[:0]
	u.rawRecords = u.rawRecords[:0]
	u.records = u.records[:0]

	// Pass 1: the tables may come after the records on the wire, so collect
	// everything before resolving any index.
	extra := 0 // records beyond MaxRecords, counted only
	for b := message; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, errorf("AggregatedRecord: %v", protowire.ParseError(n))
		}
		b = b[n:]
		if typ == protowire.BytesType && (num == aggPartitionKeyTable || num == aggExplicitHashKeyTable || num == aggRecords) {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, errorf("AggregatedRecord field %d: %v", num, protowire.ParseError(n))
			}
			b = b[n:]
			if num == aggRecords && len(u.rawRecords) == MaxRecords {
				extra++ // counted, not kept: the error names how many
				continue
			}
			switch num {
			case aggPartitionKeyTable:
				u.partitionKeys = append(u.partitionKeys, v)
			case aggExplicitHashKeyTable:
				u.explicitHashKeys = append(u.explicitHashKeys, v)
			default:
				u.rawRecords = append(u.rawRecords, v)
			}
			continue
		}
		if num == aggPartitionKeyTable || num == aggExplicitHashKeyTable || num == aggRecords {
			return nil, errorf("AggregatedRecord field %d has wire type %d, want bytes", num, typ)
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return nil, errorf("AggregatedRecord field %d: %v", num, protowire.ParseError(n))
		}
		b = b[n:]
	}
	// An aggregate with no records is well formed (records is a repeated
	// field of the proto2 schema): zero user records, as awslabs'
	// aws-kinesis-agg deaggregators and the KCL read it, not an error.
	if extra > 0 {
		return nil, errorf("holds %d records; at most %d are read from one aggregate (a 1 MiB aggregate of the smallest valid events holds fewer)",
			MaxRecords+extra, MaxRecords)
	}

	// Pass 2: decode each record and resolve its keys.
	for i, raw := range u.rawRecords {
		r, err := u.decodeRecord(raw)
		if err != nil {
			return nil, errorf("record %d: %v", i, err)
		}
		u.records = append(u.records, r)
	}
	return u.records, nil
}

func (u *Unpacker) decodeRecord(b []byte) (Record, error) {
	var r Record
	var hasKey, hasData bool
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return r, protowire.ParseError(n)
		}
		b = b[n:]
		switch {
		case (num == recPartitionKeyIndex || num == recExplicitHashKeyIndex) && typ == protowire.VarintType:
			index, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return r, fmt.Errorf("field %d: %v", num, protowire.ParseError(n))
			}
			b = b[n:]
			if num == recPartitionKeyIndex {
				if index >= uint64(len(u.partitionKeys)) {
					return r, fmt.Errorf("partition_key_index %d is outside the table of %d keys", index, len(u.partitionKeys))
				}
				r.PartitionKey, hasKey = u.partitionKeys[index], true
			} else {
				if index >= uint64(len(u.explicitHashKeys)) {
					return r, fmt.Errorf("explicit_hash_key_index %d is outside the table of %d keys", index, len(u.explicitHashKeys))
				}
				r.ExplicitHashKey = u.explicitHashKeys[index]
			}
		case num == recData && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return r, fmt.Errorf("data: %v", protowire.ParseError(n))
			}
			b = b[n:]
			r.Data, hasData = v, true
		case num == recPartitionKeyIndex || num == recExplicitHashKeyIndex || num == recData:
			return r, fmt.Errorf("field %d has wire type %d", num, typ)
		default: // tags (field 4) and fields of later KPL versions
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return r, fmt.Errorf("field %d: %v", num, protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	if !hasKey {
		return r, errors.New("required partition_key_index is missing")
	}
	if !hasData {
		return r, errors.New("required data is missing")
	}
	return r, nil
}

// Unpack is Unpacker.Unpack with fresh memory: the records still alias data.
func Unpack(data []byte) ([]Record, error) {
	var u Unpacker
	return u.Unpack(data)
}

// Aggregate packs records the way the KPL does: partition keys and explicit
// hash keys deduplicated into tables, then the MD5 trailer. The result is
// deterministic. The processor never aggregates; the event generator and the
// tests do.
func Aggregate(records []Record) []byte {
	var message []byte
	keyIndex := map[string]uint64{}
	hashKeyIndex := map[string]uint64{}
	var keys, hashKeys [][]byte
	for _, r := range records {
		if _, ok := keyIndex[string(r.PartitionKey)]; !ok {
			keyIndex[string(r.PartitionKey)] = uint64(len(keys))
			keys = append(keys, r.PartitionKey)
		}
		if r.ExplicitHashKey != nil {
			if _, ok := hashKeyIndex[string(r.ExplicitHashKey)]; !ok {
				hashKeyIndex[string(r.ExplicitHashKey)] = uint64(len(hashKeys))
				hashKeys = append(hashKeys, r.ExplicitHashKey)
			}
		}
	}
	for _, k := range keys {
		message = protowire.AppendTag(message, aggPartitionKeyTable, protowire.BytesType)
		message = protowire.AppendBytes(message, k)
	}
	for _, k := range hashKeys {
		message = protowire.AppendTag(message, aggExplicitHashKeyTable, protowire.BytesType)
		message = protowire.AppendBytes(message, k)
	}
	var rec []byte
	for _, r := range records {
		rec = rec[:0]
		rec = protowire.AppendTag(rec, recPartitionKeyIndex, protowire.VarintType)
		rec = protowire.AppendVarint(rec, keyIndex[string(r.PartitionKey)])
		if r.ExplicitHashKey != nil {
			rec = protowire.AppendTag(rec, recExplicitHashKeyIndex, protowire.VarintType)
			rec = protowire.AppendVarint(rec, hashKeyIndex[string(r.ExplicitHashKey)])
		}
		rec = protowire.AppendTag(rec, recData, protowire.BytesType)
		rec = protowire.AppendBytes(rec, r.Data)
		message = protowire.AppendTag(message, aggRecords, protowire.BytesType)
		message = protowire.AppendBytes(message, rec)
	}
	out := make([]byte, 0, len(Magic)+len(message)+checksumSize)
	out = append(out, Magic[:]...)
	out = append(out, message...)
	sum := md5.Sum(message)
	return append(out, sum[:]...)
}
