package processor

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamfn/streamfn/internal/activity"
	"github.com/streamfn/streamfn/internal/aws/poison"
	"github.com/streamfn/streamfn/internal/aws/store"
	"github.com/streamfn/streamfn/internal/dev/eventgen"
)

// BenchmarkProcess times the whole path from the invocation bytes to the
// writes, with no-op store and queue: what scripts/bench measures, in a
// form pprof and -benchmem can read. ns/op is per invocation of 1,000
// records; see the records/s metric.
func BenchmarkProcess(b *testing.B) {
	payload := eventgen.New(eventgen.Options{Seed: 1, Users: 50}).Batch(eventgen.BatchOptions{Records: 1000}).JSON()
	proc := New(Config{TableName: "t", PoisonQueueURL: "q"}, Deps{Store: store.Discard{}, Poison: poison.Discard{}})
	ctx := b.Context()
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if _, err := proc.Process(ctx, payload); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkPlainHandler is the baseline the processor is compared with in
// the README: what a Go handler written the usual way does with the same
// payload. aws-lambda-go's events.KinesisEvent through encoding/json (which
// base64-decodes each record's data), activity.ParseValid (encoding/json
// again) and a count per user and type. It does less than Process (no
// duplicate window, no write plan), so the gap is a lower bound.
func BenchmarkPlainHandler(b *testing.B) {
	payload := eventgen.New(eventgen.Options{Seed: 1, Users: 50}).Batch(eventgen.BatchOptions{Records: 1000}).JSON()
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	valid := 0
	for b.Loop() {
		var event events.KinesisEvent
		if err := json.Unmarshal(payload, &event); err != nil {
			b.Fatal(err)
		}
		counts := map[string]map[activity.Type]int{}
		for _, r := range event.Records {
			ev, err := activity.ParseValid(r.Kinesis.Data)
			if err != nil {
				continue
			}
			if counts[ev.UserID] == nil {
				counts[ev.UserID] = map[activity.Type]int{}
			}
			counts[ev.UserID][ev.Type]++
			valid++
		}
	}
	if valid == 0 {
		b.Fatal("no record parsed: the benchmark measures nothing")
	}
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "records/s")
}
