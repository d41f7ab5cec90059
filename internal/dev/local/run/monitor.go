package run

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/streamfn/streamfn/internal/aws/sqsdepth"
	"github.com/streamfn/streamfn/internal/dev/emulators"
	"github.com/streamfn/streamfn/internal/dev/local/esm"
	"github.com/streamfn/streamfn/internal/dev/local/lambdaenv"
	"github.com/streamfn/streamfn/internal/dev/local/loadgen"
	"github.com/streamfn/streamfn/internal/dev/local/progress"
	"github.com/streamfn/streamfn/internal/dev/local/report"
)

// monitor samples the run once a second: it draws the live progress and
// keeps the series for the chart and the iterator-age samples.
type monitor struct {
	printer   *progress.Printer
	mapping   *esm.Mapping // nil when the mapping is disabled
	ingest    *lambdaenv.Pool
	processor *lambdaenv.Pool
	gen       *loadgen.Generator // nil without load
	traffic   *progress.Traffic
	kinesis   *emulators.Server // set when kinesalite applies the shard limits
	sqs       *sqs.Client
	poisonURL string
	failsURL  string
	start     time.Time

	mu            sync.Mutex
	phase         string
	points        []report.Point
	ageSamples    []esm.Sample
	poison        int
	failures      int
	lastQueues    time.Time
	lastAcc       int64
	lastDone      int64
	lastThrottled int64
	lastPointAt   time.Time
	throttleStats *emulators.ThroughputStats
}

func newMonitor(out io.Writer, mapping *esm.Mapping, ingest, processor *lambdaenv.Pool, gen *loadgen.Generator, traffic *progress.Traffic, client *sqs.Client, poisonURL, failsURL string) *monitor {
	now := time.Now()
	return &monitor{
		printer: progress.New(out), mapping: mapping, ingest: ingest, processor: processor, gen: gen, traffic: traffic,
		sqs: client, poisonURL: poisonURL, failsURL: failsURL, start: now, lastPointAt: now,
	}
}

func (m *monitor) setPhase(phase string) {
	m.mu.Lock()
	m.phase = phase
	m.mu.Unlock()
}

func (m *monitor) run(ctx context.Context) {
	redraw := time.Second
	if m.printer.TTY() {
		redraw = 250 * time.Millisecond
	}
	ticker := time.NewTicker(redraw)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			m.tick(ctx)
		}
	}
}

func (m *monitor) snapshot() progress.Snapshot {
	s := progress.Snapshot{Elapsed: time.Since(m.start), Traffic: m.traffic.Stats(), Ingest: m.ingest.Stats(), Processor: m.processor.Stats()}
	if m.gen != nil {
		s.Load = m.gen.Stats()
	}
	if m.mapping != nil {
		s.Mapping = m.mapping.Stats()
	}
	m.mu.Lock()
	s.Phase, s.Poison, s.Failures = m.phase, m.poison, m.failures
	m.mu.Unlock()
	return s
}

func (m *monitor) tick(ctx context.Context) {
	now := time.Now()
	if now.Sub(m.lastQueues) >= 2*time.Second {
		m.lastQueues = now
		m.refreshQueues(ctx)
	}
	s := m.snapshot()
	m.collectAgeSamples()
	if elapsed := now.Sub(m.lastPointAt); elapsed >= time.Second {
		m.refreshThrottles(ctx)
		throttled := m.writesThrottled()
		var maxAge time.Duration
		for _, sh := range s.Mapping.Shards {
			maxAge = max(maxAge, sh.IteratorAge)
		}
		m.mu.Lock()
		m.points = append(m.points, report.Point{
			Seconds:     now.Sub(m.start).Seconds(),
			Accepted:    float64(s.Traffic.Accepted-m.lastAcc) / elapsed.Seconds(),
			Processed:   float64(s.Mapping.RecordsSucceeded-m.lastDone) / elapsed.Seconds(),
			IteratorAge: float64(maxAge.Milliseconds()),
			Throttled:   float64(throttled-m.lastThrottled) / elapsed.Seconds(),
		})
		m.lastAcc, m.lastDone, m.lastPointAt, m.lastThrottled = s.Traffic.Accepted, s.Mapping.RecordsSucceeded, now, throttled
		m.mu.Unlock()
	}
	m.printer.Print(s)
}

// refreshThrottles reads what kinesalite refused by the shard limits.
func (m *monitor) refreshThrottles(ctx context.Context) {
	if m.kinesis == nil {
		return
	}
	st, err := m.kinesis.ThroughputStats(ctx)
	if err != nil {
		return
	}
	m.mu.Lock()
	m.throttleStats = &st
	m.mu.Unlock()
}

// writesThrottled is the PutRecords entries and PutRecord calls refused.
func (m *monitor) writesThrottled() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.throttleStats == nil {
		return 0
	}
	return m.throttleStats.PutRecordsEntriesThrottled + m.throttleStats.PutRecordCallsThrottled
}

// throttles is the last read of kinesalite's refusals, nil without limits.
func (m *monitor) throttles() *emulators.ThroughputStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.throttleStats
}

// refreshQueues counts the messages in the poison and failures queues.
func (m *monitor) refreshQueues(ctx context.Context) {
	poison, failures := m.countQueues(ctx)
	m.mu.Lock()
	m.poison, m.failures = poison, failures
	m.mu.Unlock()
}

// collectAgeSamples keeps the iterator ages the mapping saw since the last
// call, for the report's percentiles.
func (m *monitor) collectAgeSamples() {
	if m.mapping == nil {
		return
	}
	samples := m.mapping.Samples()
	m.mu.Lock()
	m.ageSamples = append(m.ageSamples, samples...)
	m.mu.Unlock()
}

func (m *monitor) countQueues(ctx context.Context) (poison, failures int) {
	if m.poisonURL != "" {
		poison = heldOrUnknown(sqsdepth.Read(ctx, m.sqs, m.poisonURL))
	}
	if m.failsURL != "" {
		failures = heldOrUnknown(sqsdepth.Read(ctx, m.sqs, m.failsURL))
	} else if m.mapping != nil {
		// The failure bucket: the records the mapping wrote there.
		failures = int(m.mapping.Stats().DestinationSent)
	}
	return poison, failures
}

// final draws the last state (in plain mode too) and refreshes the queue
// counts while the stand-ins still run.
func (m *monitor) final() {
	m.refreshQueues(context.Background())
	m.refreshThrottles(context.Background())
	m.mu.Lock()
	m.phase = "done"
	m.mu.Unlock()
	s := m.snapshot()
	m.collectAgeSamples()
	if m.printer.TTY() {
		m.printer.Print(s)
		return
	}
	io.WriteString(m.printerOut(), progress.Line(s)+"\n")
}

func (m *monitor) printerOut() io.Writer { return m.printer.Out() }

func (m *monitor) queueCounts() (int, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.poison, m.failures
}

func (m *monitor) series() []report.Point {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]report.Point(nil), m.points...)
}

func (m *monitor) samples() []esm.Sample {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]esm.Sample(nil), m.ageSamples...)
}

// heldOrUnknown is a queue's messages for the live view and the report;
// -1, never 0, when its depth could not be read.
func heldOrUnknown(d sqsdepth.Depth, err error) int {
	if err != nil {
		return -1
	}
	return d.Held()
}
