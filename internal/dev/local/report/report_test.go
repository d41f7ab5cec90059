package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/streamfn/streamfn/internal/dev/local/esm"
	"github.com/streamfn/streamfn/internal/dev/local/lambdaenv"
	"github.com/streamfn/streamfn/internal/dev/local/progress"
	"github.com/streamfn/streamfn/internal/dev/local/verify"
	"github.com/streamfn/streamfn/internal/ops/redrive"
)

func TestIteratorAgesPercentiles(t *testing.T) {
	var samples []esm.Sample
	for i := 1; i <= 100; i++ {
		samples = append(samples, esm.Sample{IteratorAge: time.Duration(i) * time.Millisecond})
	}
	got := IteratorAges(samples)
	if got != (Latency{Samples: 100, P50: 50, P99: 99, Max: 100}) {
		t.Errorf("IteratorAges = %+v", got)
	}
	if got := IteratorAges(nil); got != (Latency{}) {
		t.Errorf("no samples: %+v", got)
	}
}

func TestChartIsSelfContainedSVG(t *testing.T) {
	series := []Point{{Seconds: 1, Accepted: 900, Processed: 800, IteratorAge: 1200}, {Seconds: 2, Accepted: 1000, Processed: 1100, IteratorAge: 300}}
	page := Chart(`run <1> & "x"`, series)
	// The SVG namespace is a name, not a fetch; anything else that names
	// an address would be loaded.
	outside := strings.ReplaceAll(page, `xmlns="http://www.w3.org/2000/svg"`, "")
	for _, marker := range []string{"http://", "https://", "//", "<script", "src=", "href=", "url(", "@import"} {
		if strings.Contains(outside, marker) {
			t.Errorf("the chart holds %q: it must load nothing from outside", marker)
		}
	}
	if !strings.Contains(page, "run &lt;1&gt; &amp; &quot;x&quot;") {
		t.Error("the title is not escaped")
	}
	svgs := regexp.MustCompile(`(?s)<svg.*?</svg>`).FindAllString(page, -1)
	if len(svgs) != 2 {
		t.Fatalf("%d SVG charts, want 2 (throughput, iterator age)", len(svgs))
	}
	for _, svg := range svgs {
		if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil {
			t.Errorf("SVG is not well-formed XML: %v", err)
		}
		if strings.Count(svg, "<polyline") == 0 {
			t.Error("a chart without a line")
		}
	}
}

func TestSummaryTextAndJSON(t *testing.T) {
	s := &Summary{
		Stack: "dev", LoadFor: 20, ProcessedFor: 22, AcceptedPerS: 1000, ProcessedPerS: 950,
		IteratorAge: Latency{Samples: 10, P50: 100, P99: 900, Max: 1000},
		Verify:      &verify.Result{OK: false, DifferenceCount: 1, Differences: []verify.Difference{{UserID: "u1", Field: "eventCount", Want: "2", Got: "3"}}},
		LogsDir:     "/tmp/logs", Chart: "/tmp/chart.html",
	}
	var text bytes.Buffer
	s.Text(&text)
	for _, want := range []string{"stack dev", "p99 900 ms", "verify     FAILED: 1 differences", "user u1: eventCount: want 2, got 3", "chart      /tmp/chart.html", "logs       /tmp/logs"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	var js bytes.Buffer
	if err := s.JSON(&js); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back["chart"] != "/tmp/chart.html" || back["verify"].(map[string]any)["ok"] != false {
		t.Errorf("JSON = %s", js.String())
	}
}

func TestAxesUseRoundNumbers(t *testing.T) {
	for _, c := range []struct{ in, want float64 }{{0, 1}, {0.9, 1}, {2.3, 4}, {5.2, 6}, {7500, 8000}, {10001, 20000}} {
		if got := niceCeil(c.in); got != c.want {
			t.Errorf("niceCeil(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	for _, c := range []struct{ in, want float64 }{{8, 1}, {23, 5}, {81, 10}, {600, 60}} {
		if got := timeStep(c.in); got != c.want {
			t.Errorf("timeStep(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	for in, want := range map[float64]string{0: "0s", 45: "45s", 60: "1m", 150: "2m30s", 3600: "1h0m"} {
		if got := clock(in); got != want {
			t.Errorf("clock(%v) = %q, want %q", in, got, want)
		}
	}
}

// An outage run says what the table refused, how many records the
// redrive replayed, and, without a redrive, that the discarded records
// were expected; the JSON carries the same.
func TestSummaryOfAnOutageAndARedrive(t *testing.T) {
	s := &Summary{
		Stack:   "outage",
		Outage:  &Outage{Seconds: 20, WritesRefused: 12617},
		Redrive: &redrive.ReplayReport{RecordsReplayed: 4600, Results: make([]redrive.Replayed, 46)},
		Verify:  &verify.Result{OK: true, Users: 500, Events: 40008, RecordsInFailures: 4600, EventsInFailures: 4600, FailureDocuments: 46, UsersWithDiscards: 500},
	}
	var text bytes.Buffer
	s.Text(&text)
	for _, want := range []string{"refused 12617 writes during the first 20s", "4600 records replayed from 46 on-failure records; 0 failed, 0 ranges lost", "4600 records (4600 acknowledged events) in 46 on-failure records, expected after the outage, not lost"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the text lacks %q:\n%s", want, text.String())
		}
	}
	var js bytes.Buffer
	if err := s.JSON(&js); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Outage  Outage `json:"outage"`
		Redrive struct {
			RecordsReplayed int `json:"recordsReplayed"`
		} `json:"redrive"`
		Verify struct {
			RecordsInFailures int `json:"recordsInFailures"`
		} `json:"verify"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil || doc.Outage.WritesRefused != 12617 || doc.Redrive.RecordsReplayed != 4600 || doc.Verify.RecordsInFailures != 4600 {
		t.Fatalf("JSON: %v %+v", err, doc)
	}
}

func TestVerdictIsOneLine(t *testing.T) {
	s := &Summary{}
	if got := s.Verdict("e2e"); got != "" {
		t.Errorf("no verify: %q, want none", got)
	}
	s.Verify = &verify.Result{OK: true, Events: 18624, Users: 200}
	if got, want := s.Verdict("e2e"), "e2e: verify OK, 18624 events, 200 users, 0 differences"; got != want {
		t.Errorf("Verdict = %q, want %q", got, want)
	}
	s.Verify = &verify.Result{OK: false, Events: 10, Users: 2, DifferenceCount: 3}
	if got, want := s.Verdict("e2e"), "e2e: verify FAILED, 10 events, 2 users, 3 differences"; got != want {
		t.Errorf("Verdict = %q, want %q", got, want)
	}
	path := t.TempDir() + "/e2e/report.json"
	if err := s.WriteJSONFile(path); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	var back Summary
	if err := json.Unmarshal(data, &back); err != nil || back.Verify == nil || back.Verify.DifferenceCount != 3 {
		t.Errorf("report file: %v %+v", err, back.Verify)
	}
}

// A mapping that could not read a shard or send an on-failure record says
// so in the text report, with how often and the last error: the shards
// with the most failed reads first, at most maxListedShards of them.
// Neither line appears when nothing failed.
func TestSummaryTextShowsMappingErrors(t *testing.T) {
	shard := func(id string, readErrors int64) esm.ShardStats {
		st := esm.ShardStats{ShardID: "shardId-00000000000" + id, ReadErrors: readErrors}
		if readErrors > 0 {
			st.LastError = "reading shard shardId-00000000000" + id + " of s: ResourceNotFoundException " + id
		}
		return st
	}
	s := &Summary{Stack: "dev", Mapping: esm.Stats{
		DestinationErrors: 2, LastDestinationError: "sending the on-failure record of 9 records of shardId-000000000001 (7..9): AccessDenied: s3:PutObject",
		Shards: []esm.ShardStats{shard("0", 7), shard("1", 0), shard("2", 1), shard("3", 12), shard("4", 3), shard("5", 2)},
	}}
	var b bytes.Buffer
	s.Text(&b)
	text := b.String()
	for _, want := range []string{
		"25 reads failed on 5 of 6 shards",
		"- shardId-000000000003: 12 failed, last: reading shard shardId-000000000003 of s: ResourceNotFoundException 3\n" +
			"    - shardId-000000000000: 7 failed, last: reading shard shardId-000000000000 of s: ResourceNotFoundException 0\n" +
			"    - shardId-000000000004: 3 failed, last: reading shard shardId-000000000004 of s: ResourceNotFoundException 4\n" +
			"    - and 2 more shards (mapping.shards in -json)\n",
		"2 on-failure records the destination refused five times",
		"last error: sending the on-failure record of 9 records of shardId-000000000001 (7..9): AccessDenied: s3:PutObject",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the text report lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "ResourceNotFoundException 5") || strings.Contains(text, "shardId-000000000001:") {
		t.Errorf("the text report lists more than %d shards, or one without read errors:\n%s", maxListedShards, text)
	}

	var quiet bytes.Buffer
	(&Summary{Stack: "dev", Mapping: esm.Stats{Shards: []esm.ShardStats{shard("0", 0)}}}).Text(&quiet)
	if strings.Contains(quiet.String(), "failed") || strings.Contains(quiet.String(), "destination") {
		t.Errorf("a run without mapping errors reports some:\n%s", quiet.String())
	}
}

// The JSON report is the contract scripts read: every key in it is
// camelCase, as a reflection over Summary's types proves for fields that
// are not set in a given run too. An untagged field would come out in Go's
// PascalCase (the mapping's, ingest's, processor's and load's counters did).
func TestJSONKeysAreCamelCase(t *testing.T) {
	camel := regexp.MustCompile(`^[a-z][a-zA-Z0-9]*$`)
	marshaler := reflect.TypeFor[json.Marshaler]()
	seen := map[reflect.Type]bool{}
	var walk func(path string, typ reflect.Type)
	walk = func(path string, typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Array || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] || typ.Implements(marshaler) || reflect.PointerTo(typ).Implements(marshaler) {
			return // time.Time writes itself
		}
		seen[typ] = true
		for f := range typ.Fields() {
			if !f.IsExported() {
				continue
			}
			key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if key == "-" {
				continue
			}
			if key == "" && f.Anonymous {
				walk(path, f.Type) // an embedded struct's fields are the outer's
				continue
			}
			if key == "" {
				t.Errorf("%s.%s (%s) has no json tag: the report would write it as %q; want a camelCase key", path, f.Name, typ, f.Name)
				continue
			}
			if !camel.MatchString(key) {
				t.Errorf("%s.%s (%s): JSON key %q, want camelCase", path, f.Name, typ, key)
				continue
			}
			walk(path+"."+key, f.Type)
		}
	}
	walk("report", reflect.TypeFor[Summary]())

	// And the mapping errors are where a script looks for them.
	s := &Summary{Mapping: esm.Stats{DestinationErrors: 2, LastDestinationError: "AccessDenied",
		Shards: []esm.ShardStats{{ShardID: "shardId-000000000000", ReadErrors: 7, LastError: "ResourceNotFoundException"}}}}
	var js bytes.Buffer
	if err := s.JSON(&js); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Mapping struct {
			DestinationErrors    int64  `json:"destinationErrors"`
			LastDestinationError string `json:"lastDestinationError"`
			Shards               []struct {
				ShardID    string `json:"shardId"`
				ReadErrors int64  `json:"readErrors"`
				LastError  string `json:"lastError"`
			} `json:"shards"`
		} `json:"mapping"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if m := doc.Mapping; m.DestinationErrors != 2 || m.LastDestinationError != "AccessDenied" || len(m.Shards) != 1 ||
		m.Shards[0].ShardID != "shardId-000000000000" || m.Shards[0].ReadErrors != 7 || m.Shards[0].LastError != "ResourceNotFoundException" {
		t.Errorf("mapping in JSON = %+v:\n%s", m, js.String())
	}
}

// Every view of the run shows processor throttles from one counter, the
// processor pool's: the live terminal view, the plain line and the text
// report. The mapping counts the same refusals again (and the ingest pool
// its own), so the three counters differ here, and a view that read
// another, or added two, would show another number than the pool's 7.
func TestViewsAgreeOnThrottles(t *testing.T) {
	mapping := esm.Stats{Invocations: 40, RecordsRead: 900, RecordsSucceeded: 800, FunctionErrors: 2, Throttles: 3}
	processor, ingest := lambdaenv.Stats{Throttles: 7}, lambdaenv.Stats{Throttles: 5}
	snapshot := progress.Snapshot{Elapsed: 3 * time.Second, Phase: "load", Mapping: mapping, Processor: processor, Ingest: ingest}
	var text bytes.Buffer
	(&Summary{Stack: "dev", Mapping: mapping, Processor: processor, Ingest: ingest}).Text(&text)

	// The live views write "throttles N", the report "N throttles".
	live, report := regexp.MustCompile(`throttles (\d+)`), regexp.MustCompile(`(\d+) throttles`)
	for _, v := range []struct {
		name, text string
		count      *regexp.Regexp
	}{
		{"terminal view", strings.Join(progress.Lines(snapshot), "\n"), live},
		{"plain line", progress.Line(snapshot), live},
		{"text report", text.String(), report},
	} {
		shown := 0
		for _, line := range strings.Split(v.text, "\n") {
			if strings.HasPrefix(line, "  ingest ") {
				continue // the ingest pool's own throttles
			}
			for _, m := range v.count.FindAllStringSubmatch(line, -1) {
				shown++
				if m[1] != "7" {
					t.Errorf("the %s shows %s processor throttles, want the pool's 7: %q", v.name, m[1], line)
				}
			}
		}
		if shown == 0 {
			t.Errorf("the %s shows no processor throttles:\n%s", v.name, v.text)
		}
	}
}
