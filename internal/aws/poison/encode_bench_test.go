package poison

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// documentOf is the Document AppendJSON writes for m with its payload
// whole: what the processor would build for encoding/json in place of the
// hand-written encoder.
func documentOf(m *Message) Document {
	d := Document{Reason: m.Reason, ShardID: m.ShardID, SequenceNumber: m.SequenceNumber, PartitionKey: m.PartitionKey,
		ApproximateArrivalTimestamp: m.ApproximateArrivalTimestamp.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		Payload:                     m.Payload, PayloadEncoding: "utf8"}
	if m.SubSequenceNumber >= 0 {
		sub := m.SubSequenceNumber
		d.SubSequenceNumber = &sub
	}
	if m.SubRecords > 0 {
		d.SubRecordCount, d.BadSubRecordCount = m.SubRecords, len(m.BadSubRecords)
		d.BadSubRecords = make([]SubDocument, 0, min(len(m.BadSubRecords), MaxListedSubRecords))
		for _, s := range m.BadSubRecords[:min(len(m.BadSubRecords), MaxListedSubRecords)] {
			d.BadSubRecords = append(d.BadSubRecords, SubDocument(s))
		}
	}
	if !utf8.ValidString(m.Payload) {
		d.Payload, d.PayloadEncoding = base64.StdEncoding.EncodeToString([]byte(m.Payload)), "base64"
	}
	return d
}

// benchMessages are the poison messages the processor sends most: an event
// against the schema (a 315-byte payload), a binary record (900 bytes,
// base64 in the body), and a KPL aggregate (22,054 bytes) with 100 bad
// sub-records listed.
func benchMessages() []struct {
	name string
	m    Message
} {
	event := `{"eventId":"5f0c7a8e-2f4b-4c1e-9d6a-3b2e1f0a9c8d","userId":"user-00042","type":"purchase","productId":"sku-18734",` +
		`"price":"19.99x","currency":"EUR","sessionId":"s-7d3f9a","ts":"2026-11-26T12:00:00.150Z",` +
		`"userAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"}`
	header := Message{Reason: "price: must be a decimal string", ShardID: "shardId-000000000003",
		SequenceNumber: "49659870152245234987340591235409897123408723450987234562", SubSequenceNumber: -1,
		PartitionKey: "user-00042", ApproximateArrivalTimestamp: arrived}
	plain := header
	plain.Payload = event
	binary := header
	binary.Reason, binary.Payload = "not a JSON object", strings.Repeat("\xff\x00\x17binary", 100)
	aggregate := header
	aggregate.Reason, aggregate.SubRecords = "100 of 500 sub-records are poison", 500
	aggregate.Payload = "\xf3\x89\x9a\xc2" + strings.Repeat(event, 70) // 22,054 bytes
	for i := range 100 {
		aggregate.BadSubRecords = append(aggregate.BadSubRecords, SubRecord{i * 5, "user-" + strconv.Itoa(i), "price: must be a decimal string"})
	}
	return []struct {
		name string
		m    Message
	}{{"event", plain}, {"binary", binary}, {"aggregate", aggregate}}
}

// BenchmarkEncode times the hand-written encoder against encoding/json of
// the same message's Document, as Queue.Send builds a body (a new slice
// each), and into a reused buffer. The numbers are in the comment above
// appendBody.
func BenchmarkEncode(b *testing.B) {
	for _, c := range benchMessages() {
		// Both say the same thing, or the comparison means nothing.
		var fast, std Document
		viaJSON, err := json.Marshal(documentOf(&c.m))
		if err != nil {
			b.Fatal(err)
		}
		if err := json.Unmarshal(c.m.AppendJSON(nil, MaxBodyBytes), &fast); err != nil {
			b.Fatal(err)
		}
		if err := json.Unmarshal(viaJSON, &std); err != nil {
			b.Fatal(err)
		}
		if !reflect.DeepEqual(fast, std) {
			b.Fatalf("%s: the encoders disagree:\n%+v\n%+v", c.name, fast, std)
		}
		b.Run(c.name+"/AppendJSON", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = c.m.AppendJSON(nil, MaxBodyBytes)
			}
		})
		// What the encoder costs into a kept buffer, as Send writes the
		// bodies of a batch.
		b.Run(c.name+"/AppendJSON-reused-buffer", func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, MaxBodyBytes)
			for b.Loop() {
				buf = c.m.AppendJSON(buf[:0], MaxBodyBytes)
			}
		})
		b.Run(c.name+"/encoding-json", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d := documentOf(&c.m)
				if _, err := json.Marshal(&d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
