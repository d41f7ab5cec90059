package processor

import (
	"context"
	"testing"

	"github.com/streamfn/streamfn/internal/eventgen"
	"github.com/streamfn/streamfn/internal/poison"
	"github.com/streamfn/streamfn/internal/store"
)

// BenchmarkProcess times the whole path from the invocation bytes to the
// writes, with no-op store and queue: what scripts/bench measures, in a
// form pprof and -benchmem can read. ns/op is per invocation of 1,000
// records; see the records/s metric.
func BenchmarkProcess(b *testing.B) {
	payload := eventgen.New(eventgen.Options{Seed: 1, Users: 50}).Batch(eventgen.BatchOptions{Records: 1000}).JSON()
	proc := New(Config{TableName: "t", PoisonQueueURL: "q"}, store.Discard{}, poison.Discard{}, nil, nil)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if _, err := proc.Process(ctx, payload); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "records/s")
}
