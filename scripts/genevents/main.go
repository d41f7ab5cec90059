// Command genevents writes a Kinesis invocation document (the JSON Lambda
// sends the processor) made of realistic activity events, for the
// benchmark and for trying the processor by hand.
//
//	go run ./scripts/genevents -records 10000 -users 500 -out .build/bench/event-10000.json
//	go run ./scripts/genevents -records 500 -bad 0.05 -dup 0.02 -aggregate 10 -out kpl.json
//
// The same flags always give the same bytes.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	streamcli "github.com/streamfn/streamfn/internal/dev/cli"
	"github.com/streamfn/streamfn/internal/dev/eventgen"
)

func main() { os.Exit(cli(os.Args[1:], os.Stderr)) }

// cli runs the command and turns its error into the exit code.
func cli(args []string, stderr io.Writer) int {
	return streamcli.Exit("genevents", run(args, stderr), stderr)
}

func run(args []string, stderr io.Writer) error {
	flags := flag.NewFlagSet("genevents", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: genevents -out FILE [-records N] [-users N] [-bad F] [-dup F] [-aggregate N] [-seed N] [-shard ID]")
		flags.PrintDefaults()
		fmt.Fprintln(stderr, "\nExit codes: 0 written, 1 the file could not be written, 2 a usage error.")
	}
	records := flags.Int("records", 10000, "Kinesis records in the event (1..1000000)")
	users := flags.Int("users", 500, "distinct users (>= 1)")
	bad := flags.Float64("bad", 0, "share of malformed user records, 0..1")
	dup := flags.Float64("dup", 0, "share of producer duplicates (a recent event resent under a new sequence number), 0..1")
	aggregate := flags.Int("aggregate", 0, "user records per KPL aggregated record; 0 or 1 for plain records")
	seed := flags.Int64("seed", 1, "random seed; equal seeds give equal files")
	shard := flags.String("shard", "shardId-000000000000", "the shard the records come from")
	out := flags.String("out", "", "output file (required; parent folders are created)")
	if err := streamcli.ParseNoArgs(flags, args); err != nil {
		return err
	}
	switch {
	case *out == "":
		return streamcli.UsageError{Err: fmt.Errorf("-out is required: the file to write, e.g. -out .build/bench/event-10000.json")}
	case *records < 1 || *records > 1_000_000:
		return streamcli.UsageError{Err: fmt.Errorf("-records %d: must be in 1..1000000", *records)}
	case *users < 1:
		return streamcli.UsageError{Err: fmt.Errorf("-users %d: must be at least 1", *users)}
	case *bad < 0 || *dup < 0 || *bad+*dup > 1:
		return streamcli.UsageError{Err: fmt.Errorf("-bad %g and -dup %g: each must be >= 0 and together at most 1", *bad, *dup)}
	case *aggregate < 0 || *aggregate > 1000:
		return streamcli.UsageError{Err: fmt.Errorf("-aggregate %d: must be in 0..1000", *aggregate)}
	}
	gen := eventgen.New(eventgen.Options{Seed: *seed, Users: *users})
	batch := gen.Batch(eventgen.BatchOptions{
		Records: *records, BadFraction: *bad, DuplicateFraction: *dup, Aggregate: *aggregate, ShardID: *shard,
	})
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	// Write to a temporary file and rename, so a reader never sees half a file.
	tmp := *out + ".tmp"
	if err := os.WriteFile(tmp, batch.JSON(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, *out)
}
