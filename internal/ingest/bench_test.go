package ingest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamfn/streamfn/internal/aws/streamwriter"
	"github.com/streamfn/streamfn/internal/dev/eventgen"
)

// takeAll is a stream that takes every record without looking at it, so the
// benchmark measures ingest, not a network or a fake.
type takeAll struct {
	results [streamwriter.MaxRecordsPerCall]types.PutRecordsResultEntry
}

func (s *takeAll) PutRecords(_ context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	return &kinesis.PutRecordsOutput{Records: s.results[:len(in.Records)]}, nil
}

// benchEvents returns n realistic events (about 850 bytes each, with the
// unknown fields web clients send), with or without their eventIds.
func benchEvents(n int, withIDs bool) [][]byte {
	g := eventgen.New(eventgen.Options{Seed: 42})
	events := make([][]byte, n)
	for i := range events {
		_, data := g.NextJSON()
		if !withIDs {
			// eventgen writes the eventId first: {"eventId":"<36>",...
			data = append([]byte{'{'}, data[len(`{"eventId":"`)+36+len(`",`):]...)
		}
		events[i] = data
	}
	return events
}

// BenchmarkIngest measures events/s through everything ingest does to a
// request but the network: parse the body, validate every event, assign
// missing eventIds, build the records and the PutRecords entries.
func BenchmarkIngest(b *testing.B) {
	const n = MaxEvents
	cases := []struct {
		name        string
		contentType string
		withIDs     bool
		base64      bool
	}{
		{"json-array/with-eventId", MediaJSON, true, false},
		{"json-array/without-eventId", MediaJSON, false, false},
		{"ndjson/with-eventId", MediaNDJSON, true, false},
		{"ndjson-base64/with-eventId", MediaNDJSON, true, true},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			events := benchEvents(n, c.withIDs)
			var body []byte
			if c.contentType == MediaJSON {
				body = append(append([]byte{'['}, bytes.Join(events, []byte{','})...), ']')
			} else {
				body = append(bytes.Join(events, []byte{'\n'}), '\n')
			}
			req := functionURLRequest(b, c.contentType, string(body))
			if c.base64 {
				req.Body, req.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
			}
			writer := streamwriter.New(&takeAll{}, "activity", streamwriter.Options{})
			ctx := b.Context()
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				batch, err := ParseRequest(req, NewEventID)
				if err != nil || len(batch.Records) != n {
					b.Fatalf("%v, %d records", err, len(batch.Records))
				}
				if res := writer.Write(ctx, batch.Records); len(res.Unwritten) != 0 {
					b.Fatal(res.Cause)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// The hand-written hot path against the library calls it replaces, in the
// same run: compacting an event and splitting a 1,000-event array.
func BenchmarkCompact(b *testing.B) {
	events := benchEvents(100, true)
	for i, e := range events { // as a pretty-printing client sends them
		var out bytes.Buffer
		if err := json.Indent(&out, e, "", "  "); err != nil {
			b.Fatal(err)
		}
		events[i] = out.Bytes()
	}
	b.Run("appendCompact", func(b *testing.B) {
		strs := make([]string, len(events))
		for i, e := range events {
			strs[i] = string(e)
		}
		var dst []byte
		for b.Loop() {
			for _, e := range strs {
				dst = appendCompact(dst[:0], e)
			}
		}
	})
	b.Run("json.Compact", func(b *testing.B) {
		var dst bytes.Buffer
		for b.Loop() {
			for _, e := range events {
				dst.Reset()
				if err := json.Compact(&dst, e); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

func BenchmarkSplitArray(b *testing.B) {
	body := append(append([]byte{'['}, bytes.Join(benchEvents(MaxEvents, true), []byte{','})...), ']')
	b.Run("splitValidArray", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		body := string(body)
		for b.Loop() {
			if elements, ok := splitValidArray(body); !ok || len(elements) != MaxEvents {
				b.Fatal("bad split")
			}
		}
	})
	b.Run("json.Valid+splitArray", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		str := string(body)
		for b.Loop() {
			if !json.Valid(body) || len(splitArray(str)) != MaxEvents {
				b.Fatal("bad split")
			}
		}
	})
	b.Run("json.Unmarshal", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var elements []json.RawMessage
			if err := json.Unmarshal(body, &elements); err != nil || len(elements) != MaxEvents {
				b.Fatal(err)
			}
		}
	})
}
