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

	"golang.org/x/term"

	"github.com/streamfn/streamfn/internal/dev/local/esm"
	"github.com/streamfn/streamfn/internal/dev/local/lambdaenv"
	"github.com/streamfn/streamfn/internal/dev/local/loadgen"
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
		tty = term.IsTerminal(int(f.Fd())) && os.Getenv("TERM") != "dumb"
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

// counts are the numbers every view shows, each taken from the one
// counter that owns it: a processor throttle is counted by the pool that
// refused the invocation and again by the mapping that retried it, so the
// views, the end report's too, read the pool's alone.
type counts struct {
	processed, read, invocations, functionErrors, partial int64
	processorThrottles                                    int64
	readErrors                                            int64 // failed reads, all shards together
	shardsFailingReads                                    int   // shards with a failed read
	destinationErrors                                     int64 // on-failure records the destination refused
	oldestAge                                             time.Duration
}

func countsOf(s Snapshot) counts {
	m := s.Mapping
	c := counts{
		processed: m.RecordsSucceeded, read: m.RecordsRead, invocations: m.Invocations,
		functionErrors: m.FunctionErrors, partial: m.PartialFailures,
		processorThrottles: s.Processor.Throttles,
		destinationErrors:  m.DestinationErrors,
	}
	for _, sh := range m.Shards {
		c.oldestAge = max(c.oldestAge, sh.IteratorAge)
		if sh.ReadErrors > 0 {
			c.readErrors += sh.ReadErrors
			c.shardsFailingReads++
		}
	}
	return c
}

// mappingErrors names the mapping's failures that no other count shows:
// reads that failed and on-failure records the destination refused, each
// only when there were some (the end report says why they failed).
func (c counts) mappingErrors() []string {
	var parts []string
	if c.readErrors > 0 {
		shards := "shards"
		if c.shardsFailingReads == 1 {
			shards = "shard"
		}
		parts = append(parts, fmt.Sprintf("read errors %d (%d %s)", c.readErrors, c.shardsFailingReads, shards))
	}
	if c.destinationErrors > 0 {
		parts = append(parts, fmt.Sprintf("destination errors %d", c.destinationErrors))
	}
	return parts
}

// Lines is the multi-line terminal view.
func Lines(s Snapshot) []string {
	l, m := s.Load, s.Mapping
	tr := s.Traffic
	c := countsOf(s)
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
			c.processed, c.read, c.invocations, c.functionErrors, c.partial, c.processorThrottles, s.Poison, s.Failures))
	if errs := c.mappingErrors(); len(errs) > 0 {
		lines = append(lines, "  mapping "+strings.Join(errs, "  "))
	}
	lines = append(lines,
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
	l, tr := s.Load, s.Traffic
	c := countsOf(s)
	load := ""
	if l.Generated > 0 {
		load = fmt.Sprintf(" (load: sent %d direct %d)", l.Generated, l.Direct)
	}
	mappingErrors := ""
	if errs := c.mappingErrors(); len(errs) > 0 {
		mappingErrors = " | mapping " + strings.Join(errs, " ")
	}
	return fmt.Sprintf("[%s] %s: requests %d accepted %d rejected %d%s | processed %d/%d invocations %d errors %d throttles %d%s | poison %d failures %d | iterator age %s (shard furthest behind)",
		s.Elapsed.Truncate(time.Second), s.Phase, tr.Requests, tr.Accepted, tr.Rejected, load,
		c.processed, c.read, c.invocations, c.functionErrors, c.processorThrottles, mappingErrors,
		s.Poison, s.Failures, ageText(c.oldestAge))
}

func ageText(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}

// Out is where the printer writes.
func (p *Printer) Out() io.Writer { return p.out }
