package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamfn/streamfn/internal/activity"
	"github.com/streamfn/streamfn/internal/aws/failure"
	"github.com/streamfn/streamfn/internal/aws/kpl"
)

// Discarded is what the on-failure records hold: the records the mapping
// gave up on.
type Discarded struct {
	Documents int
	Records   int
	// EventIDs are the eventIds those records carry.
	EventIDs map[string]bool
	// Sequences are "shardId/sequenceNumber" of every discarded record.
	Sequences map[string]bool
}

// RangeReader reads a shard's records from start to end, both included
// (for an on-failure record without payload: an SQS destination's).
type RangeReader func(ctx context.Context, shardID, start, end string) ([]ktypes.Record, error)

// ReadDiscarded collects the records of on-failure documents: from each
// payload, or from the stream for a document without one.
func ReadDiscarded(ctx context.Context, docs []failure.Document, readRange RangeReader) (Discarded, error) {
	d := Discarded{Documents: len(docs), EventIDs: map[string]bool{}, Sequences: map[string]bool{}}
	for _, doc := range docs {
		info := doc.KinesisBatchInfo
		var records []events.KinesisRecord
		if doc.Payload != "" {
			var ev events.KinesisEvent
			if err := json.Unmarshal([]byte(doc.Payload), &ev); err != nil {
				return d, fmt.Errorf("on-failure record %s %s..%s: the payload is not a Kinesis event: %w", info.ShardID, info.StartSequenceNumber, info.EndSequenceNumber, err)
			}
			for _, r := range ev.Records {
				records = append(records, r.Kinesis)
			}
		} else {
			if readRange == nil {
				return d, fmt.Errorf("on-failure record %s %s..%s has no payload and the stream cannot be read", info.ShardID, info.StartSequenceNumber, info.EndSequenceNumber)
			}
			read, err := readRange(ctx, info.ShardID, info.StartSequenceNumber, info.EndSequenceNumber)
			if err != nil {
				return d, err
			}
			// The range holds the records of every lane of the shard; the
			// discarded ones are among them. Taking all is an upper bound:
			// verify checks the users of these records against bounds.
			for _, r := range read {
				records = append(records, events.KinesisRecord{SequenceNumber: aws.ToString(r.SequenceNumber), PartitionKey: aws.ToString(r.PartitionKey), Data: r.Data})
			}
		}
		for _, r := range records {
			d.Records++
			d.Sequences[info.ShardID+"/"+r.SequenceNumber] = true
			for _, data := range userRecords(r.Data) {
				var ev struct {
					EventID string `json:"eventId"`
				}
				if json.Unmarshal(data, &ev) == nil && ev.EventID != "" {
					d.EventIDs[ev.EventID] = true
				}
			}
		}
	}
	return d, nil
}

// userRecords are a record's payloads: its KPL sub-records' data, or the
// record's own data.
func userRecords(data []byte) [][]byte {
	if !kpl.IsAggregated(data) {
		return [][]byte{data}
	}
	subs, err := kpl.Unpack(data)
	if err != nil {
		return nil
	}
	out := make([][]byte, len(subs))
	for i, s := range subs {
		out[i] = s.Data
	}
	return out
}

// CompareWithDiscards compares like Compare, except for the users some of
// whose events are in discarded records: each of their counts must lie
// between what the events outside the discarded records make (low: the
// discarded ones never applied) and what all make (high: a discarded
// record may have been applied before its batch was given up, and a
// duplicate of it may have been applied elsewhere). Nothing may be
// counted twice, and nothing outside the discarded records may be missing.
func CompareWithDiscards(accepted []activity.Event, discarded Discarded, got map[string]*Item, checkTTL bool, now time.Time) (diffs []Difference, affectedUsers int) {
	var kept []activity.Event
	affected := map[string]bool{}
	for _, ev := range accepted {
		if discarded.EventIDs[ev.EventID] {
			affected[ev.UserID] = true
			continue
		}
		kept = append(kept, ev)
	}
	low, high := Expected(kept), Expected(accepted)
	wantExact, gotExact := map[string]*Item{}, map[string]*Item{}
	for u, it := range high {
		if !affected[u] {
			wantExact[u] = it
		}
	}
	for u, it := range got {
		if !affected[u] {
			gotExact[u] = it
		}
	}
	diffs = Compare(wantExact, gotExact, checkTTL, now)
	for _, u := range slices.Sorted(maps.Keys(affected)) {
		l, h, g := low[u], high[u], got[u]
		if g == nil {
			if l != nil {
				diffs = append(diffs, Difference{UserID: u, Field: "item", Want: fmt.Sprintf("an item for at least %d events (the rest were discarded)", l.EventCount), Got: "no item"})
			}
			continue
		}
		if l == nil {
			l = &Item{}
		}
		bound := func(field string, lo, hi, v int64) {
			if v < lo || v > hi {
				diffs = append(diffs, Difference{UserID: u, Field: field, Want: fmt.Sprintf("%d..%d (some of the user's events were discarded)", lo, hi), Got: strconv.FormatInt(v, 10)})
			}
		}
		bound("eventCount", l.EventCount, h.EventCount, g.EventCount)
		for _, m := range []struct {
			name          string
			lo, hi, value map[string]int64
		}{{"typeCounts", l.TypeCounts, h.TypeCounts, g.TypeCounts}, {"categoryCounts", l.CategoryCounts, h.CategoryCounts, g.CategoryCounts}} {
			keys := map[string]bool{}
			for k := range m.hi {
				keys[k] = true
			}
			for k := range m.value {
				keys[k] = true
			}
			for k := range keys {
				bound(m.name+"."+k, m.lo[k], m.hi[k], m.value[k])
			}
		}
	}
	return diffs, len(affected)
}
