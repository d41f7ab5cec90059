package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/streamfn/streamfn/internal/local/esm"
	"github.com/streamfn/streamfn/internal/local/loadgen"
)

func snapshot() Snapshot {
	return Snapshot{
		Elapsed: 12 * time.Second, Phase: "load",
		Load: loadgen.Stats{Generated: 100, Accepted: 90, Rejected: 5, Direct: 5},
		Mapping: esm.Stats{RecordsRead: 80, RecordsSucceeded: 70, Invocations: 3, Shards: []esm.ShardStats{
			{ShardID: "shardId-000000000000", IteratorAge: 1500 * time.Millisecond}, {ShardID: "shardId-000000000001"},
		}},
		Poison: 4,
	}
}

func TestLinesShowEveryCounter(t *testing.T) {
	text := strings.Join(Lines(snapshot()), "\n")
	for _, want := range []string{"sent 100", "accepted 90", "rejected 5", "processed 70/80 read", "invocations 3", "poison 4", "000000000000 1.5s", "000000000001 0ms"} {
		if !strings.Contains(text, want) {
			t.Errorf("lines lack %q:\n%s", want, text)
		}
	}
	if line := Line(snapshot()); !strings.Contains(line, "iterator age max 1.5s") || strings.Contains(line, "\n") {
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
	if !strings.HasPrefix(redraw, "\x1b[5A\x1b[J") {
		t.Errorf("second draw starts with %q; want to move up over the 5 lines drawn and clear", redraw[:min(12, len(redraw))])
	}
}
