package progress

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/streamfn/streamfn/internal/dev/local/esm"
	"github.com/streamfn/streamfn/internal/dev/local/loadgen"
)

func snapshot() Snapshot {
	return Snapshot{
		Elapsed: 12 * time.Second, Phase: "load",
		// The load sent 100; curl sent one more request of 3 events.
		Load:    loadgen.Stats{Generated: 100, Accepted: 90, Rejected: 5, Direct: 5},
		Traffic: TrafficStats{Requests: 11, Accepted: 93, Rejected: 5},
		Mapping: esm.Stats{RecordsRead: 80, RecordsSucceeded: 70, Invocations: 3, Shards: []esm.ShardStats{
			{ShardID: "shardId-000000000000", IteratorAge: 1500 * time.Millisecond}, {ShardID: "shardId-000000000001"},
		}},
		Poison: 4,
	}
}

func TestLinesShowEveryCounter(t *testing.T) {
	text := strings.Join(Lines(snapshot()), "\n")
	for _, want := range []string{"requests 11", "accepted 93", "rejected 5", "sent 100", "processed 70/80 read", "invocations 3", "poison 4", "000000000000 1.5s", "000000000001 0ms"} {
		if !strings.Contains(text, want) {
			t.Errorf("lines lack %q:\n%s", want, text)
		}
	}
	if line := Line(snapshot()); !strings.Contains(line, "requests 11 accepted 93") || !strings.Contains(line, "iterator age 1.5s (shard furthest behind)") ||
		strings.Contains(line, "max") || strings.Contains(line, "\n") {
		t.Errorf("line = %q", line)
	}
}

func TestPlainOutputPrintsPeriodically(t *testing.T) {
	var out bytes.Buffer
	p := New(&out)
	if p.TTY() {
		t.Fatal("a buffer is not a terminal")
	}
	p.Print(snapshot())
	p.Print(snapshot())
	if n := strings.Count(out.String(), "\n"); n != 1 {
		t.Errorf("%d lines after two prints within the interval, want 1", n)
	}
	if strings.Contains(out.String(), "\x1b[") {
		t.Error("plain output contains terminal escapes")
	}
}

func TestTerminalRedrawsInPlace(t *testing.T) {
	var out bytes.Buffer
	p := &Printer{out: &out, tty: true}
	p.Print(snapshot())
	first := out.Len()
	p.Print(snapshot())
	redraw := out.String()[first:]
	if !strings.HasPrefix(redraw, "\x1b[6A\x1b[J") {
		t.Errorf("second draw starts with %q; want to move up over the 6 lines drawn and clear", redraw[:min(12, len(redraw))])
	}
}

// Every request counts, whoever sent it, with ingest's events from its
// response document.
func TestTrafficCountsEveryRequest(t *testing.T) {
	answers := []struct {
		status int
		body   string
	}{
		{200, `{"accepted":3,"rejected":[]}`},
		{400, `{"accepted":1,"rejected":[{"index":1,"field":"ts","reason":"x"}]}`},
		{429, `{"Message":"Too Many Requests"}`},
		{503, `{"accepted":2,"rejected":[],"unwritten":[2,3],"message":"retry"}`},
		{400, `not json`},
	}
	var tr Traffic
	i := 0
	h := tr.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := answers[i]
		i++
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	for range answers {
		resp, err := http.Post(srv.URL, "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	want := TrafficStats{Requests: 5, Accepted: 6, Rejected: 1, Unwritten: 2, Throttled: 1, ClientErrors: 1, ServerErrors: 1}
	if got := tr.Stats(); got != want {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
}

// Failed reads and refused on-failure records show in both live views,
// counted over all shards, and only when there are some.
func TestViewsShowMappingErrorsOnlyWhenSome(t *testing.T) {
	quiet := snapshot()
	for _, view := range []string{Line(quiet), strings.Join(Lines(quiet), "\n")} {
		if strings.Contains(view, "read errors") || strings.Contains(view, "destination errors") {
			t.Errorf("a run without mapping errors shows some:\n%s", view)
		}
	}

	failing := snapshot()
	failing.Mapping.Shards[0].ReadErrors, failing.Mapping.Shards[0].LastError = 7, "ResourceNotFoundException"
	failing.Mapping.Shards[1].ReadErrors, failing.Mapping.Shards[1].LastError = 2, "ExpiredIteratorException"
	failing.Mapping.DestinationErrors = 3
	lines := Lines(failing)
	for name, view := range map[string]string{"line": Line(failing), "lines": strings.Join(lines, "\n")} {
		for _, want := range []string{"read errors 9 (2 shards)", "destination errors 3"} {
			if !strings.Contains(view, want) {
				t.Errorf("the %s view lacks %q:\n%s", name, want, view)
			}
		}
	}
	if len(lines) != len(Lines(quiet))+1 {
		t.Errorf("%d lines with mapping errors, %d without: want them on one line of their own", len(lines), len(Lines(quiet)))
	}
	failing.Mapping.DestinationErrors = 0
	if line := Line(failing); strings.Contains(line, "destination") {
		t.Errorf("no destination error, yet the line shows one: %s", line)
	}
}
