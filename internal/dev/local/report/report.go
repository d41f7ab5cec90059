// Package report writes the local run's end report: a text or JSON
// summary, and a chart of throughput and iterator age over time as one
// self-contained HTML file (inline SVG, nothing loaded from the network).
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/streamfn/streamfn/internal/dev/emulators"
	"github.com/streamfn/streamfn/internal/dev/local/esm"
	"github.com/streamfn/streamfn/internal/dev/local/lambdaenv"
	"github.com/streamfn/streamfn/internal/dev/local/loadgen"
	"github.com/streamfn/streamfn/internal/dev/local/progress"
	"github.com/streamfn/streamfn/internal/dev/local/verify"
	"github.com/streamfn/streamfn/internal/ops/redrive"
)

// Point is one second of the run.
type Point struct {
	Seconds     float64 `json:"t"`            // since the load started
	Accepted    float64 `json:"acceptedPerS"` // valid events ingest acknowledged per second
	Processed   float64 `json:"processedPerS"`
	IteratorAge float64 `json:"iteratorAgeMs"` // the highest of the shards' ages at that moment
	// Throttled is the records per second the shards' write limit refused
	// (ProvisionedThroughputExceededException); ingest retries them.
	Throttled float64 `json:"throttledPerS"`
}

// Latency is a distribution in milliseconds.
type Latency struct {
	Samples int     `json:"samples"`
	P50     float64 `json:"p50Ms"`
	P99     float64 `json:"p99Ms"`
	Max     float64 `json:"maxMs"`
}

// IteratorAges summarises Lambda-style IteratorAge samples (the age of each
// batch's last record when the batch was sent).
func IteratorAges(samples []esm.Sample) Latency {
	if len(samples) == 0 {
		return Latency{}
	}
	ms := make([]float64, len(samples))
	for i, s := range samples {
		ms[i] = float64(s.IteratorAge) / float64(time.Millisecond)
	}
	sort.Float64s(ms)
	at := func(q float64) float64 {
		return ms[min(len(ms)-1, int(math.Ceil(q*float64(len(ms))))-1)]
	}
	return Latency{Samples: len(ms), P50: round(at(0.50)), P99: round(at(0.99)), Max: round(ms[len(ms)-1])}
}

func round(f float64) float64 { return math.Round(f*10) / 10 }

// Summary is everything the report shows.
type Summary struct {
	Stack    string         `json:"stack"`
	Settings map[string]any `json:"settings"`
	LoadFor  float64        `json:"loadSeconds"`
	// ProcessedFor is from the load's start until the mapping drained.
	ProcessedFor float64 `json:"processedSeconds"`
	RanFor       float64 `json:"runSeconds"`
	// Traffic is every request the Function URL answered, the load's and
	// any other (curl); Load is the load generator's own view.
	Traffic   progress.TrafficStats `json:"traffic"`
	Load      loadgen.Stats         `json:"load"`
	Mapping   esm.Stats             `json:"mapping"`
	Ingest    lambdaenv.Stats       `json:"ingest"`
	Processor lambdaenv.Stats       `json:"processor"`
	// AcceptedPerS is the average over the load's duration, ProcessedPerS
	// over ProcessedFor.
	AcceptedPerS  float64 `json:"acceptedPerS"`
	ProcessedPerS float64 `json:"processedPerS"`
	PeakPerS      float64 `json:"peakProcessedPerS"`
	IteratorAge   Latency `json:"iteratorAge"`
	Poison        int     `json:"poisonMessages"`
	// Writes is the processor's DynamoDB writes, as the capacity planner predicts them.
	Writes   Writes         `json:"processorWrites"`
	Failures int            `json:"failureDocuments"`
	Verify   *verify.Result `json:"verify,omitempty"`
	// Outage is the table outage of -outage; Redrive the replay of -redrive.
	Outage  *Outage               `json:"outage,omitempty"`
	Redrive *redrive.ReplayReport `json:"redrive,omitempty"`
	// Kinesis is what the local Kinesis refused by its per-shard limits;
	// absent when they were off (-shard-limits=false).
	Kinesis *emulators.ThroughputStats `json:"kinesisThrottles,omitempty"`
	LogsDir string                     `json:"logsDir"`
	Chart   string                     `json:"chart"`
	Series  []Point                    `json:"series"`
}

// Outage is what -outage did.
type Outage struct {
	Seconds       float64 `json:"seconds"`
	WritesRefused int64   `json:"writesRefused"`
}

// JSON writes the summary as one JSON document.
func (s *Summary) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// Text writes the summary for a person.
func (s *Summary) Text(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("")
	l := s.Load
	if l.Generated == 0 {
		p("streamfn local run: stack %s, %.0fs in all, no load generated (-rate 0)", s.Stack, s.RanFor)
	} else {
		p("streamfn local run: stack %s, %.0fs of load, %.0fs in all", s.Stack, s.LoadFor, s.RanFor)
		p("  load       %d events made: %d acknowledged, %d malformed rejected by ingest, %d malformed put straight to the stream, %d duplicates",
			l.Generated, l.Accepted, l.Rejected, l.Direct, l.Duplicates)
		p("             %d requests, %d retries (%d throttled 429, %d 5xx or failed, %d events unwritten 503)", l.Requests, l.Retries, l.Throttled, l.ServerErrors, l.Unwritten)
	}
	if t := s.Traffic; t.Requests > 0 {
		p("  ingest URL %d requests (all senders): %d events accepted, %d rejected, %d unwritten (503); %d throttled (429), %d 5xx",
			t.Requests, t.Accepted, t.Rejected, t.Unwritten, t.Throttled, t.ServerErrors)
	}
	m := s.Mapping
	// Throttles are on the processor line, from the pool, as in the live
	// views: the mapping's own count is of the same refusals.
	p("  mapping    %d records read, %d processed, %d discarded; %d invocations, %d function errors, %d partial failures, %d retries, %d bisections",
		m.RecordsRead, m.RecordsSucceeded, m.RecordsDiscarded, m.Invocations, m.FunctionErrors, m.PartialFailures, m.Retries, m.Bisections)
	if m.InvokeErrors > 0 {
		p("             %d invocations could not be sent (no execution environment could start; see the logs)", m.InvokeErrors)
	}
	if m.ReadCalls > 0 {
		p("             %d GetRecords calls, %.0f ms each on average, %.0f records each", m.ReadCalls,
			float64(m.ReadTime.Milliseconds())/float64(m.ReadCalls), float64(m.RecordsRead)/float64(m.ReadCalls))
	}
	if failing := shardsFailingReads(m.Shards); len(failing) > 0 {
		var reads int64
		for _, sh := range failing {
			reads += sh.ReadErrors
		}
		p("             %d reads failed on %d of %d shards; the last error of each:", reads, len(failing), len(m.Shards))
		for _, sh := range failing[:min(len(failing), maxListedShards)] {
			p("    - %s: %d failed, last: %s", sh.ShardID, sh.ReadErrors, sh.LastError)
		}
		if more := len(failing) - maxListedShards; more == 1 {
			p("    - and 1 more shard (mapping.shards in -json)")
		} else if more > 1 {
			p("    - and %d more shards (mapping.shards in -json)", more)
		}
	}
	if m.DestinationErrors > 0 {
		p("             %d on-failure records the destination refused five times: their discarded records are recorded nowhere; last error: %s", m.DestinationErrors, m.LastDestinationError)
	}
	for _, f := range []struct {
		name string
		st   lambdaenv.Stats
	}{{"ingest", s.Ingest}, {"processor", s.Processor}} {
		st := f.st
		p("  %-10s %d invocations, %d errors (%d crashes, %d timeouts), %d throttles, %d cold starts, max %d concurrent; chaos: %d killed, %d frozen",
			f.name, st.Invocations, st.Errors, st.Crashes, st.Timeouts, st.Throttles, st.ColdStarts, st.MaxConcurrency, st.ChaosKills, st.ChaosFreezes)
	}
	if l.Generated > 0 {
		p("  throughput %.0f events/s acknowledged over %.0fs; %.0f records/s processed over %.0fs, until drained (peak %.0f/s)",
			s.AcceptedPerS, s.LoadFor, s.ProcessedPerS, s.ProcessedFor, s.PeakPerS)
	}
	a := s.IteratorAge
	p("  iterator age (per batch) p50 %.0f ms, p99 %.0f ms, max %.0f ms over %d batches", a.P50, a.P99, a.Max, a.Samples)
	if w := s.Writes; w.Invocations > 0 {
		p("  writes     %.3f writes per event (%d writes, %d events), mean item %.0f bytes, %d write units; %.1f processor invocations/s",
			w.WritesPerEvent, w.Writes, w.Events, w.MeanItemBytes, w.WriteUnits, w.InvocationsPerS)
	}
	if k := s.Kinesis; k != nil {
		p("  kinesis    shard limits refused %d PutRecords entries and %d PutRecord calls (writes), %d GetRecords calls (reads)",
			k.PutRecordsEntriesThrottled, k.PutRecordCallsThrottled, k.GetRecordsCallsThrottled)
	}
	p("  queues     poison %d, failures %d", s.Poison, s.Failures)
	if o := s.Outage; o != nil {
		p("  outage     the table refused %d writes during the first %.0fs of load", o.WritesRefused, o.Seconds)
	}
	if r := s.Redrive; r != nil {
		p("  redrive    %d records replayed from %d on-failure records; %d failed, %d ranges lost", r.RecordsReplayed, len(r.Results), r.Failed, len(r.Lost))
		for _, res := range r.Results {
			if res.Error != "" {
				p("    - %s: %s", res.Where(), res.Error)
			}
		}
	}
	if v := s.Verify; v != nil {
		if v.OK && v.RecordsInFailures > 0 {
			p("  verify     OK: %d users, %d events; %d records (%d acknowledged events) in %d on-failure records, expected after the outage, not lost; %d users checked within bounds, the rest exactly; %d/%d poison records found",
				v.Users, v.Events, v.RecordsInFailures, v.EventsInFailures, v.FailureDocuments, v.UsersWithDiscards, v.PoisonFound, v.PoisonExpected)
		} else if v.OK {
			p("  verify     OK: %d users, %d events; %d malformed rejected by ingest; %d/%d poison records found; no on-failure record",
				v.Users, v.Events, v.IngestRejected, v.PoisonFound, v.PoisonExpected)
		} else {
			p("  verify     FAILED: %d differences (first %d):", v.DifferenceCount, len(v.Differences))
			for _, d := range v.Differences {
				p("    - %s", d)
			}
		}
	}
	p("  logs       %s", s.LogsDir)
	if s.Chart != "" {
		p("  chart      %s", s.Chart)
	}
}

// maxListedShards bounds the shards the text report lists with their read
// errors; the JSON report has them all.
const maxListedShards = 3

// shardsFailingReads is the shards with failed reads, most first.
func shardsFailingReads(shards []esm.ShardStats) []esm.ShardStats {
	var failing []esm.ShardStats
	for _, sh := range shards {
		if sh.ReadErrors > 0 {
			failing = append(failing, sh)
		}
	}
	sort.SliceStable(failing, func(i, j int) bool { return failing[i].ReadErrors > failing[j].ReadErrors })
	return failing
}

// Chart renders the series as one HTML page with two inline SVG charts.
func Chart(title string, series []Point) string {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html><html><head><meta charset="utf-8"><title>`)
	b.WriteString(escape(title))
	b.WriteString(`</title><style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}h1{font-size:18px}h2{font-size:15px;margin:18px 0 4px}svg{background:#fafafa;border:1px solid #ddd}.legend span{margin-right:16px}</style></head><body>`)
	b.WriteString("<h1>" + escape(title) + "</h1>")
	b.WriteString(`<h2>Throughput</h2><div class="legend"><span style="color:#1f77b4">&#9632; acknowledged by ingest</span><span style="color:#2ca02c">&#9632; processed</span><span style="color:#ff7f0e">&#9632; throttled by the shards' write limit</span></div>`)
	b.WriteString(svg(series, []line{
		{"#1f77b4", func(p Point) float64 { return p.Accepted }},
		{"#2ca02c", func(p Point) float64 { return p.Processed }},
		{"#ff7f0e", func(p Point) float64 { return p.Throttled }},
	}, "events/s"))
	b.WriteString(`<h2>Iterator age (oldest unfinished record, highest shard)</h2><div class="legend"><span style="color:#d62728">&#9632; iterator age</span></div>`)
	b.WriteString(svg(series, []line{{"#d62728", func(p Point) float64 { return p.IteratorAge / 1000 }}}, "seconds"))
	b.WriteString("</body></html>\n")
	return b.String()
}

type line struct {
	color string
	value func(Point) float64
}

func svg(series []Point, lines []line, unit string) string {
	const width, height, left, bottom, top, right = 900.0, 270.0, 60.0, 30.0, 24.0, 20.0
	maxX, maxY := 1.0, 1.0
	for _, p := range series {
		maxX = math.Max(maxX, p.Seconds)
		for _, l := range lines {
			maxY = math.Max(maxY, l.value(p))
		}
	}
	maxY = niceCeil(maxY)
	x := func(s float64) float64 { return left + s/maxX*(width-left-right) }
	y := func(v float64) float64 { return height - bottom - v/maxY*(height-bottom-top) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f">`, width, height, width, height)
	fmt.Fprintf(&b, `<text x="4" y="14" font-size="11">%s</text>`, escape(unit))
	for i := 0; i <= 4; i++ {
		v := maxY * float64(i) / 4
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#ddd"/>`, left, y(v), width-right, y(v))
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" font-size="11" text-anchor="end">%s</text>`, left-6, y(v)+4, compact(v))
	}
	step := timeStep(maxX)
	for s := 0.0; s <= maxX; s += step {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" font-size="11" text-anchor="middle">%s</text>`, x(s), height-10, clock(s))
	}
	for _, l := range lines {
		var pts []string
		for _, p := range series {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.Seconds), y(l.value(p))))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, l.color, strings.Join(pts, " "))
	}
	b.WriteString("</svg>")
	return b.String()
}

// niceCeil rounds v up to a value whose quarters (the y grid lines) are
// round numbers too.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	mag := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 4, 6, 8, 10} {
		if v <= m*mag {
			return m * mag
		}
	}
	return 10 * mag
}

// timeStep picks a round step for about five to ten time labels.
func timeStep(maxSeconds float64) float64 {
	for _, step := range []float64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600} {
		if maxSeconds/step <= 10 {
			return step
		}
	}
	return 7200
}

// clock formats seconds as 45s, 2m or 2m30s.
func clock(s float64) string {
	d := time.Duration(s) * time.Second
	if d < time.Minute {
		return strconv.Itoa(int(s)) + "s"
	}
	str := d.String() // 1m0s, 2m30s, 1h0m0s
	if strings.HasSuffix(str, "m0s") {
		str = strings.TrimSuffix(str, "0s")
	}
	return str
}

func compact(v float64) string {
	if v >= 1000 {
		return strconv.FormatFloat(v/1000, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// Verdict is the one line that ends a run with -verify, for a person
// scanning a CI log: "e2e: verify OK, 18624 events, 200 users, 0
// differences". "" without a verify result.
func (s *Summary) Verdict(name string) string {
	v := s.Verify
	if v == nil {
		return ""
	}
	word := "OK"
	if !v.OK {
		word = "FAILED"
	}
	return fmt.Sprintf("%s: verify %s, %d events, %d users, %d differences", name, word, v.Events, v.Users, v.DifferenceCount)
}

// WriteJSONFile writes the JSON summary to path, creating its folder.
func (s *Summary) WriteJSONFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := s.JSON(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
