// Package progress shows the local run's live state: redrawn in place on a
// terminal, or as plain periodic lines when the output is a file or a pipe
// (CI logs).
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/streamfn/streamfn/internal/local/esm"
	"github.com/streamfn/streamfn/internal/local/lambdaenv"
	"github.com/streamfn/streamfn/internal/local/loadgen"
)

// Snapshot is the state at one moment.
type Snapshot struct {
	Elapsed time.Duration
	// Traffic is every request to the Function URL, the load's and any other.
	Traffic   TrafficStats
	Load      loadgen.Stats // the load generator's own view, zero without -rate
	Mapping   esm.Stats
	Ingest    lambdaenv.Stats
	Processor lambdaenv.Stats
	Poison    int // messages in the poison queue
	Failures  int // documents in the failures queue
	Phase     string
}

// Printer writes snapshots.
type Printer struct {
	out      io.Writer
	tty      bool
	every    time.Duration // plain mode: one line this often
	drawn    int           // lines drawn last time (terminal mode)
	lastLine time.Time
}

// New returns a printer for out, redrawing in place when out is a terminal.
func New(out io.Writer) *Printer {
	tty := false
	if f, ok := out.(*os.File); ok {
		if info, err := f.Stat(); err == nil && info.Mode()&os.ModeCharDevice != 0 && os.Getenv("TERM") != "dumb" {
			tty = true
		}
	}
	return &Printer{out: out, tty: tty, every: 5 * time.Second}
}

// TTY reports whether the printer redraws in place.
func (p *Printer) TTY() bool { return p.tty }

// Print shows a snapshot. In plain mode only one call per interval prints.
func (p *Printer) Print(s Snapshot) {
	if p.tty {
		var b strings.Builder
		if p.drawn > 0 {
			fmt.Fprintf(&b, "\x1b[%dA\x1b[J", p.drawn)
		}
		lines := Lines(s)
		for _, l := range lines {
			b.WriteString(l)
			b.WriteByte('\n')
		}
		p.drawn = len(lines)
		_, _ = io.WriteString(p.out, b.String())
		return
	}
	if time.Since(p.lastLine) < p.every {
		return
	}
	p.lastLine = time.Now()
	fmt.Fprintln(p.out, Line(s))
}

// Forget makes the next terminal redraw start below what is on screen
// (after something else was printed).
func (p *Printer) Forget() { p.drawn = 0 }

// Lines is the multi-line terminal view.
func Lines(s Snapshot) []string {
	l, m := s.Load, s.Mapping
	tr := s.Traffic
	lines := []string{
		fmt.Sprintf("[%s] %s", s.Elapsed.Truncate(time.Second), s.Phase),
		fmt.Sprintf("  ingest requests %d  events accepted %d  rejected %d  unwritten %d  throttled 429 %d  5xx %d",
			tr.Requests, tr.Accepted, tr.Rejected, tr.Unwritten, tr.Throttled, tr.ServerErrors),
	}
	if l.Generated > 0 {
		lines = append(lines, fmt.Sprintf("  load: sent %d  direct-to-stream %d  duplicates %d  retries %d",
			l.Generated, l.Direct, l.Duplicates, l.Retries))
	}
	lines = append(lines,
		fmt.Sprintf("  processed %d/%d read  invocations %d  errors %d  partial %d  throttles %d  poison %d  failures %d",
			m.RecordsSucceeded, m.RecordsRead, m.Invocations, m.FunctionErrors, m.PartialFailures, m.Throttles+s.Processor.Throttles, s.Poison, s.Failures),
		fmt.Sprintf("  environments: ingest %d (%d busy)  processor %d (%d busy)  chaos kills %d  timeouts %d",
			s.Ingest.Environments, s.Ingest.Busy, s.Processor.Environments, s.Processor.Busy,
			s.Ingest.ChaosKills+s.Processor.ChaosKills, s.Ingest.Timeouts+s.Processor.Timeouts),
	)
	var ages []string
	for _, sh := range m.Shards {
		ages = append(ages, fmt.Sprintf("%s %s", strings.TrimPrefix(sh.ShardID, "shardId-"), ageText(sh.IteratorAge)))
	}
	lines = append(lines, "  iterator age: "+strings.Join(ages, "  "))
	return lines
}

// Line is the one-line plain view. Its iterator age is the current one of
// the shard furthest behind, not a maximum over time.
func Line(s Snapshot) string {
	l, m, tr := s.Load, s.Mapping, s.Traffic
	var oldest time.Duration
	for _, sh := range m.Shards {
		oldest = max(oldest, sh.IteratorAge)
	}
	load := ""
	if l.Generated > 0 {
		load = fmt.Sprintf(" (load: sent %d direct %d)", l.Generated, l.Direct)
	}
	return fmt.Sprintf("[%s] %s: requests %d accepted %d rejected %d%s | processed %d/%d invocations %d errors %d throttles %d | poison %d failures %d | iterator age %s (shard furthest behind)",
		s.Elapsed.Truncate(time.Second), s.Phase, tr.Requests, tr.Accepted, tr.Rejected, load,
		m.RecordsSucceeded, m.RecordsRead, m.Invocations, m.FunctionErrors, m.Throttles+s.Processor.Throttles+s.Ingest.Throttles,
		s.Poison, s.Failures, ageText(oldest))
}

func ageText(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}

// Out is where the printer writes.
func (p *Printer) Out() io.Writer { return p.out }
