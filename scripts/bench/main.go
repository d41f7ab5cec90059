// Command bench times the processor's real code path — from the raw
// invocation bytes through decoding, validation, planning and merging to the
// per-user writes — with the store and the poison queue replaced by no-ops
// behind their interfaces. It runs on one core (GOMAXPROCS=1), as Lambda
// does at small memory sizes, and prints one JSON line:
//
//	{"records":10000,"records_per_s":1234567,"allocs_per_record":0.01}
//
// With -compare it also runs the Node.js peer (bench/peer.mjs) on the same
// file, alternating the two a few times, and prints both medians and their
// ratio; the file is generated first if missing:
//
//	go run ./scripts/bench -event .build/bench/event-10000.json
//	go run ./scripts/bench -compare -event .build/bench/event-10000.json
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"syscall"
	"time"

	"github.com/streamfn/streamfn/internal/aws/poison"
	"github.com/streamfn/streamfn/internal/aws/store"
	streamcli "github.com/streamfn/streamfn/internal/dev/cli"
	"github.com/streamfn/streamfn/internal/dev/eventgen"
	"github.com/streamfn/streamfn/internal/processor"
)

func main() { os.Exit(cli(os.Args[1:], os.Stderr)) }

// exitCodes is the end of -h.
const exitCodes = "\nExit codes: 0 done, 1 the measurement failed (an unreadable file, the peer failed), 2 a usage error.\n"

// cli runs the command and turns its error into the exit code.
func cli(args []string, stderr io.Writer) int {
	return streamcli.Exit("bench", run(args, stderr), stderr)
}

// Result is the line both this command and the Node.js peer print.
type Result struct {
	Records         int      `json:"records"`
	RecordsPerS     float64  `json:"records_per_s"`
	AllocsPerRecord *float64 `json:"allocs_per_record"`
}

func run(args []string, stderr io.Writer) error {
	flags := flag.NewFlagSet("bench", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: bench -event FILE [-compare] [-duration D] [-rounds N] [-clock wall|cpu] [-cpuprofile FILE]")
		flags.PrintDefaults()
		fmt.Fprint(stderr, exitCodes)
	}
	eventFile := flags.String("event", "", "the Kinesis invocation file (required); see scripts/genevents")
	duration := flags.Duration("duration", 3*time.Second, "how long to repeat the file per measurement")
	compare := flags.Bool("compare", false, "also run the Node.js peer on the same file and print the ratio")
	rounds := flags.Int("rounds", 3, "with -compare: alternating peer/Go rounds; medians are reported")
	peer := flags.String("peer", "bench/peer.mjs", "with -compare: the Node.js peer script")
	clock := flags.String("clock", "wall", "what a run's time is: wall (elapsed) or cpu (the process's CPU time, steadier on a busy machine; the Node.js peer always uses wall)")
	cpuProfile := flags.String("cpuprofile", "", "write a CPU profile of the Go runs to this file (for go tool pprof)")
	if err := streamcli.ParseNoArgs(flags, args); err != nil {
		return err
	}
	if *clock != "wall" && *clock != "cpu" {
		return streamcli.UsageError{Err: fmt.Errorf("-clock %q: want wall or cpu", *clock)}
	}
	elapsed = wallSince
	if *clock == "cpu" {
		elapsed = cpuSince
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *eventFile == "" {
		return streamcli.UsageError{Err: errors.New("-event is required: a Kinesis invocation file, e.g. -event .build/bench/event-10000.json (scripts/genevents writes one)")}
	}
	runtime.GOMAXPROCS(1)
	if !*compare {
		payload, err := os.ReadFile(*eventFile)
		if err != nil {
			return err
		}
		res, err := measure(payload, *duration)
		if err != nil {
			return err
		}
		return printJSON(res)
	}

	if err := generateIfMissing(*eventFile); err != nil {
		return err
	}
	payload, err := os.ReadFile(*eventFile)
	if err != nil {
		return err
	}
	var peerRates, goRates []float64
	var last Result
	for round := 1; round <= *rounds; round++ {
		p, err := runPeer(*peer, *eventFile, *duration)
		if err != nil {
			return err
		}
		g, err := measure(payload, *duration)
		if err != nil {
			return err
		}
		fmt.Printf("round %d: node %.0f records/s, go %.0f records/s\n", round, p.RecordsPerS, g.RecordsPerS)
		peerRates, goRates, last = append(peerRates, p.RecordsPerS), append(goRates, g.RecordsPerS), g
	}
	nodeMedian, goMedian := median(peerRates), median(goRates)
	fmt.Print("node ")
	if err := printJSON(Result{Records: last.Records, RecordsPerS: nodeMedian}); err != nil {
		return err
	}
	fmt.Print("go   ")
	if err := printJSON(Result{Records: last.Records, RecordsPerS: goMedian, AllocsPerRecord: last.AllocsPerRecord}); err != nil {
		return err
	}
	fmt.Printf("ratio %.2f (go / node, medians of %d alternating rounds; target >= 3)\n", goMedian/nodeMedian, *rounds)
	return nil
}

// measure runs the processor on payload again and again for about d and
// reports the median rate of the runs and the allocations per record.
func measure(payload []byte, d time.Duration) (Result, error) {
	proc := processor.New(processor.Config{TableName: "bench", PoisonQueueURL: "bench"}, processor.Deps{Store: store.Discard{}, Poison: poison.Discard{}})
	ctx := context.Background()
	out, err := proc.Process(ctx, payload)
	if err != nil {
		return Result{}, fmt.Errorf("the event file is not a Kinesis event: %w", err)
	}
	if out.Records == 0 {
		return Result{}, errors.New("the event file holds no records")
	}
	for range 2 { // warm up: caches, pools, the heap's size
		if _, err := proc.Process(ctx, payload); err != nil {
			return Result{}, err
		}
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var rates []float64
	runs := 0
	for started := time.Now(); len(rates) < 5 || time.Since(started) < d; {
		t := now()
		if _, err := proc.Process(ctx, payload); err != nil {
			return Result{}, err
		}
		rates = append(rates, float64(out.Records)/elapsed(t).Seconds())
		runs++
	}
	runtime.ReadMemStats(&after)
	allocs := float64(after.Mallocs-before.Mallocs) / float64(runs*out.Records)
	allocs = math.Round(allocs*1000) / 1000
	return Result{Records: out.Records, RecordsPerS: math.Round(median(rates)), AllocsPerRecord: &allocs}, nil
}

// A run's start and its duration, on the clock -clock chose.
type instant struct {
	wall time.Time
	cpu  time.Duration
}

var elapsed = wallSince

func now() instant { return instant{wall: time.Now(), cpu: processCPU()} }

func wallSince(t instant) time.Duration { return time.Since(t.wall) }

func cpuSince(t instant) time.Duration { return processCPU() - t.cpu }

// processCPU is the user and system CPU time of the whole process.
func processCPU() time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func printJSON(r Result) error {
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Println(string(line))
	return err
}

// runPeer runs the Node.js peer and reads its JSON line.
func runPeer(script, eventFile string, d time.Duration) (Result, error) {
	cmd := exec.Command("node", script, eventFile, "-duration", fmt.Sprint(d.Seconds()))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return Result{}, fmt.Errorf("running the Node.js peer (node %s): %v\n%s", script, err, stderr.String())
	}
	var r Result
	if err := json.Unmarshal(bytes.TrimSpace(out), &r); err != nil {
		return Result{}, fmt.Errorf("the Node.js peer printed %q, not a result line: %v", out, err)
	}
	return r, nil
}

// generateIfMissing writes the default benchmark file: 10,000 records of
// ~850-byte events across 500 users, seed 1 (the test file).
func generateIfMissing(path string) error {
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench: generating %s (10000 records, 500 users)\n", path)
	batch := eventgen.New(eventgen.Options{Seed: 1, Users: 500}).Batch(eventgen.BatchOptions{Records: 10000})
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, batch.JSON(), 0o644)
}
