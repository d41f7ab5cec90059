package redrive

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/streamfn/streamfn/internal/aws/poison"
)

// Range is a shard's sequence range that one or more on-failure records
// cover: bisection discards the halves of one batch separately, and their
// ranges are merged here.
type Range struct {
	ShardID             string  `json:"shardId"`
	StartSequenceNumber string  `json:"startSequenceNumber"`
	EndSequenceNumber   string  `json:"endSequenceNumber"`
	Records             int     `json:"records"`
	FailureRecords      int     `json:"failureRecords"` // on-failure records merged into this range
	AgeSeconds          float64 `json:"ageSeconds"`     // of its oldest record
	InStream            bool    `json:"inStream"`
	Lost                bool    `json:"lost"`
	BeyondHorizon       bool    `json:"beyondHorizon"`
}

// MergeRanges merges the failures' overlapping ranges, shard by shard.
// failures must be sorted by shard and start (as Find returns them).
func MergeRanges(failures []Failure) []Range {
	var out []Range
	for _, f := range failures {
		if n := len(out); n > 0 && out[n-1].ShardID == f.ShardID && !SequenceLess(out[n-1].EndSequenceNumber, f.StartSequenceNumber) {
			r := &out[n-1]
			if SequenceLess(r.EndSequenceNumber, f.EndSequenceNumber) {
				r.EndSequenceNumber = f.EndSequenceNumber
			}
			r.Records += f.Records
			r.FailureRecords++
			r.AgeSeconds = max(r.AgeSeconds, f.AgeSeconds)
			r.InStream = r.InStream && f.InStream
			r.Lost = r.Lost || f.Lost
			r.BeyondHorizon = r.BeyondHorizon || f.BeyondHorizon
			continue
		}
		out = append(out, Range{
			ShardID: f.ShardID, StartSequenceNumber: f.StartSequenceNumber, EndSequenceNumber: f.EndSequenceNumber,
			Records: f.Records, FailureRecords: 1, AgeSeconds: f.AgeSeconds, InStream: f.InStream, Lost: f.Lost, BeyondHorizon: f.BeyondHorizon,
		})
	}
	return out
}

// PoisonGroup is the poison messages of one reason.
type PoisonGroup struct {
	Reason    string `json:"reason"`
	Messages  int    `json:"messages"`
	Truncated int    `json:"truncated"` // payloads cut short with no copy in the bucket: they cannot be resent
	InBucket  int    `json:"inBucket"`  // payloads claim-checked to the failure bucket
	Oldest    string `json:"oldestArrival"`
	Newest    string `json:"newestArrival"`
}

// GroupPoison groups poison bodies by reason, most messages first.
func GroupPoison(bodies []string) (groups []PoisonGroup, problems []string) {
	byReason := map[string]*PoisonGroup{}
	for _, b := range bodies {
		var m poison.Document
		if err := json.Unmarshal([]byte(b), &m); err != nil {
			problems = append(problems, fmt.Sprintf("poison message is not the processor's document: %v", err))
			continue
		}
		g := byReason[m.Reason]
		if g == nil {
			g = &PoisonGroup{Reason: m.Reason, Oldest: m.ApproximateArrivalTimestamp, Newest: m.ApproximateArrivalTimestamp}
			byReason[m.Reason] = g
		}
		g.Messages++
		if m.PayloadTruncated && m.PayloadS3 == nil {
			g.Truncated++
		}
		if m.PayloadS3 != nil {
			g.InBucket++
		}
		if m.ApproximateArrivalTimestamp < g.Oldest {
			g.Oldest = m.ApproximateArrivalTimestamp
		}
		if m.ApproximateArrivalTimestamp > g.Newest {
			g.Newest = m.ApproximateArrivalTimestamp
		}
	}
	for _, g := range byReason {
		groups = append(groups, *g)
	}
	sort.Slice(groups, func(i, j int) bool {
		if groups[i].Messages != groups[j].Messages {
			return groups[i].Messages > groups[j].Messages
		}
		return groups[i].Reason < groups[j].Reason
	})
	return groups, problems
}

// ListReport is what list finds: the JSON document of `redrive list -json`.
type ListReport struct {
	Target              Target        `json:"target"`
	At                  string        `json:"at"`
	DedupHorizonSeconds float64       `json:"dedupHorizonSeconds"`
	Failures            []Failure     `json:"failures"`
	Ranges              []Range       `json:"ranges"`
	Lost                []Range       `json:"lost"`
	Poison              []PoisonGroup `json:"poison"`
	PoisonMessages      int           `json:"poisonMessages"`
	Warnings            []string      `json:"warnings,omitempty"`
	Problems            []string      `json:"problems,omitempty"`
}

// List reads every failure record and poison message; nothing changes.
func (t *Tool) List(ctx context.Context) (*ListReport, error) {
	proc, err := t.ProcessorConfig(ctx)
	if err != nil {
		return nil, err
	}
	found, problems, err := t.Find(ctx, proc.DedupHorizon, false)
	if err != nil {
		return nil, err
	}
	r := &ListReport{
		Target: t.Target, At: t.now().UTC().Format(time.RFC3339), DedupHorizonSeconds: proc.DedupHorizon.Seconds(),
		Failures: found, Ranges: MergeRanges(found), Problems: problems,
	}
	if r.Failures == nil {
		r.Failures = []Failure{}
	}
	r.Lost = LostRanges(r.Ranges)
	r.Warnings = horizonWarnings(r.Ranges, proc.DedupHorizon)
	if t.Target.PoisonQueueURL != "" {
		msgs, err := t.receiveAll(ctx, t.Target.PoisonQueueURL, 60)
		t.release(context.WithoutCancel(ctx), t.Target.PoisonQueueURL, msgs...)
		if err != nil {
			return nil, err
		}
		bodies := make([]string, len(msgs))
		for i, m := range msgs {
			bodies[i] = m.body
		}
		var poisonProblems []string
		r.Poison, poisonProblems = GroupPoison(bodies)
		r.PoisonMessages = len(msgs)
		r.Problems = append(r.Problems, poisonProblems...)
	}
	return r, nil
}

// LostRanges are the ranges whose records are gone: neither in an
// on-failure record's payload nor in the stream.
func LostRanges(ranges []Range) []Range {
	lost := []Range{}
	for _, r := range ranges {
		if r.Lost {
			lost = append(lost, r)
		}
	}
	return lost
}

func horizonWarnings(ranges []Range, horizon time.Duration) []string {
	var w []string
	for _, r := range ranges {
		if r.BeyondHorizon && !r.Lost {
			w = append(w, fmt.Sprintf("%s %s..%s arrived %s ago, more than the processor's duplicate horizon (dedupHorizonSeconds %d): a replay is no longer covered by the exactly-once guarantee (records of the userId lane may be skipped as redeliveries; README, \"Exactly once: the guarantee\")",
				r.ShardID, r.StartSequenceNumber, r.EndSequenceNumber, time.Duration(r.AgeSeconds*float64(time.Second)).Round(time.Second), int(horizon.Seconds())))
		}
	}
	return w
}
