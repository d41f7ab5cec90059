package kpl

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// handBuilt is an aggregate written field by field from the KPL's schema,
// independently of Aggregate, with the tables after the records (protobuf
// allows any field order) and a tag on the second record.
func handBuilt() []byte {
	record := func(keyIndex uint64, data string, withTag bool) []byte {
		var r []byte
		r = protowire.AppendTag(r, 1, protowire.VarintType)
		r = protowire.AppendVarint(r, keyIndex)
		r = protowire.AppendTag(r, 3, protowire.BytesType)
		r = protowire.AppendString(r, data)
		if withTag {
			var tag []byte
			tag = protowire.AppendTag(tag, 1, protowire.BytesType)
			tag = protowire.AppendString(tag, "k")
			r = protowire.AppendTag(r, 4, protowire.BytesType)
			r = protowire.AppendBytes(r, tag)
		}
		return r
	}
	var msg []byte
	for _, r := range [][]byte{record(0, `{"a":1}`, false), record(1, `{"b":2}`, true), record(0, `{"c":3}`, false)} {
		msg = protowire.AppendTag(msg, 3, protowire.BytesType)
		msg = protowire.AppendBytes(msg, r)
	}
	for _, k := range []string{"user-1", "user-2"} {
		msg = protowire.AppendTag(msg, 1, protowire.BytesType)
		msg = protowire.AppendString(msg, k)
	}
	sum := md5.Sum(msg)
	return append(append(append([]byte{}, Magic[:]...), msg...), sum[:]...)
}

func TestUnpackHandBuilt(t *testing.T) {
	records, err := Unpack(handBuilt())
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ key, data string }{{"user-1", `{"a":1}`}, {"user-2", `{"b":2}`}, {"user-1", `{"c":3}`}}
	if len(records) != len(want) {
		t.Fatalf("got %d records, want %d", len(records), len(want))
	}
	for i, w := range want {
		if string(records[i].PartitionKey) != w.key || string(records[i].Data) != w.data || records[i].ExplicitHashKey != nil {
			t.Errorf("record %d = {%q %q %q}, want {%q %q}", i, records[i].PartitionKey, records[i].Data, records[i].ExplicitHashKey, w.key, w.data)
		}
	}
}

func TestAggregateRoundTrip(t *testing.T) {
	in := []Record{
		{PartitionKey: []byte("user-1"), Data: []byte("one")},
		{PartitionKey: []byte("user-2"), ExplicitHashKey: []byte("170141183460469231731687303715884105728"), Data: []byte("two")},
		{PartitionKey: []byte("user-1"), Data: []byte{}},
	}
	agg := Aggregate(in)
	if !IsAggregated(agg) {
		t.Fatal("Aggregate's output lacks the magic")
	}
	if !bytes.Equal(Aggregate(in), agg) {
		t.Fatal("Aggregate is not deterministic")
	}
	var u Unpacker
	out, err := u.Unpack(agg)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("got %d records back, want %d", len(out), len(in))
	}
	for i := range in {
		if !bytes.Equal(out[i].PartitionKey, in[i].PartitionKey) || !bytes.Equal(out[i].Data, in[i].Data) ||
			!bytes.Equal(out[i].ExplicitHashKey, in[i].ExplicitHashKey) {
			t.Errorf("record %d: got %+v, want %+v", i, out[i], in[i])
		}
	}
	// The Unpacker reuses its memory: a second, smaller aggregate must not
	// show records of the first.
	out, err = u.Unpack(Aggregate(in[:1]))
	if err != nil || len(out) != 1 || string(out[0].Data) != "one" {
		t.Fatalf("second Unpack = %+v, %v", out, err)
	}
}

func TestUnpackRejects(t *testing.T) {
	good := handBuilt()
	flip := append([]byte{}, good...)
	flip[len(Magic)+3] ^= 0x01 // a byte of the protobuf: the MD5 no longer matches
	var badIndex, noData, wrongType, truncated []byte
	{
		var r []byte
		r = protowire.AppendTag(r, 1, protowire.VarintType)
		r = protowire.AppendVarint(r, 5)
		r = protowire.AppendTag(r, 3, protowire.BytesType)
		r = protowire.AppendString(r, "x")
		badIndex = protowire.AppendTag(protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), []byte("k")), 3, protowire.BytesType)
		badIndex = protowire.AppendBytes(badIndex, r)
	}
	{
		var r []byte
		r = protowire.AppendTag(r, 1, protowire.VarintType)
		r = protowire.AppendVarint(r, 0)
		noData = protowire.AppendTag(protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), []byte("k")), 3, protowire.BytesType)
		noData = protowire.AppendBytes(noData, r)
	}
	wrongType = protowire.AppendVarint(protowire.AppendTag(nil, 3, protowire.VarintType), 1)
	truncated = protowire.AppendTag(nil, 3, protowire.BytesType)
	truncated = protowire.AppendVarint(truncated, 50)

	for _, c := range []struct {
		name, want string
		data       []byte
	}{
		{"no magic", "magic", []byte(`{"eventId":"e"}`)},
		{"too short", "shorter than", append(append([]byte{}, Magic[:]...), 1, 2, 3)},
		{"checksum mismatch", "MD5", flip},
		{"key index out of range", "outside the table", withChecksum(badIndex)},
		{"missing data", "data is missing", withChecksum(noData)},
		{"wrong wire type", "wire type", withChecksum(wrongType)},
		{"truncated field", "AggregatedRecord field 3", withChecksum(truncated)},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Unpack(c.data)
			var kplErr *Error
			if !errors.As(err, &kplErr) {
				t.Fatalf("error = %v, want a *kpl.Error", err)
			}
			if !bytes.Contains([]byte(err.Error()), []byte(c.want)) {
				t.Fatalf("error %q does not mention %q", err, c.want)
			}
		})
	}
}

// FuzzUnpack: no input panics; memory grows only with the records actually
// present (a record costs at least 6 bytes on the wire); and whatever
// unpacks packs and unpacks again to the same records.
func FuzzUnpack(f *testing.F) {
	f.Add(handBuilt())
	f.Add(Aggregate([]Record{{PartitionKey: []byte("p"), Data: []byte("d")}}))
	f.Add(append(append([]byte{}, Magic[:]...), bytes.Repeat([]byte{0x1a, 0x00}, 20)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		var u Unpacker
		records, err := u.Unpack(data)
		bound := len(data)/2 + 1
		if cap(u.rawRecords) > 2*bound || cap(u.partitionKeys) > 2*bound || cap(u.explicitHashKeys) > 2*bound || cap(u.records) > 2*bound {
			t.Fatalf("%d input bytes grew tables to %d/%d/%d/%d entries", len(data),
				cap(u.rawRecords), cap(u.partitionKeys), cap(u.explicitHashKeys), cap(u.records))
		}
		if err != nil {
			return
		}
		// Also unpack the magic-and-checksum-wrapped message bytes alone.
		again, err := Unpack(Aggregate(records))
		if err != nil {
			t.Fatalf("repacked records do not unpack: %v", err)
		}
		if fmt.Sprint(again) != fmt.Sprint(records) {
			t.Fatalf("round trip changed the records:\n%v\n%v", records, again)
		}
	})
}

// FuzzUnpackMessage fuzzes the protobuf itself, wrapped with the magic and
// a correct checksum, which random input almost never has.
func FuzzUnpackMessage(f *testing.F) {
	good := handBuilt()
	f.Add(good[len(Magic) : len(good)-md5.Size])
	f.Fuzz(func(t *testing.T, msg []byte) {
		sum := md5.Sum(msg)
		data := append(append(append([]byte{}, Magic[:]...), msg...), sum[:]...)
		var u Unpacker
		records, err := u.Unpack(data)
		bound := len(msg)/2 + 1
		if cap(u.rawRecords) > 2*bound || cap(u.partitionKeys) > 2*bound || cap(u.records) > 2*bound {
			t.Fatalf("%d message bytes grew tables to %d/%d/%d entries", len(msg), cap(u.rawRecords), cap(u.partitionKeys), cap(u.records))
		}
		// An aggregate without records is zero records, not an error
		// (TestAggregateWithoutRecordsIsZeroRecords); every record it
		// yields points at a partition key of its table.
		for i, r := range records {
			if err != nil || r.PartitionKey == nil {
				t.Fatalf("record %d of %d: partition key %q, error %v", i, len(records), r.PartitionKey, err)
			}
		}
	})
}

// An aggregate with no records is well formed in the KPL's proto2 schema
// (records is repeated): zero user records, no error, as awslabs'
// aws-kinesis-agg deaggregators and the KCL read it.
func TestAggregateWithoutRecordsIsZeroRecords(t *testing.T) {
	withKeys := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), []byte("k"))
	for name, message := range map[string][]byte{"empty": nil, "keys only": withKeys} {
		records, err := Unpack(withChecksum(message))
		if err != nil || len(records) != 0 {
			t.Errorf("%s: %d records, error %v; want none and no error", name, len(records), err)
		}
	}
}

// An aggregate with more than MaxRecords records is refused whole, naming
// the count and the limit; MaxRecords records still unpack.
func TestAggregateRecordCap(t *testing.T) {
	tiny := func(n int) []byte {
		records := make([]Record, n)
		for i := range records {
			records[i] = Record{PartitionKey: []byte("k"), Data: []byte{}}
		}
		return Aggregate(records)
	}
	if records, err := Unpack(tiny(MaxRecords)); err != nil || len(records) != MaxRecords {
		t.Fatalf("%d records: got %d, error %v", MaxRecords, len(records), err)
	}
	_, err := Unpack(tiny(MaxRecords + 5))
	var kplErr *Error
	if !errors.As(err, &kplErr) || !strings.Contains(err.Error(), fmt.Sprintf("holds %d records; at most %d", MaxRecords+5, MaxRecords)) {
		t.Fatalf("error = %v, want the count and the cap named", err)
	}
}

// withChecksum frames a protobuf message as an aggregate: magic, message, MD5.
func withChecksum(msg []byte) []byte {
	sum := md5.Sum(msg)
	return append(append(append([]byte{}, Magic[:]...), msg...), sum[:]...)
}
