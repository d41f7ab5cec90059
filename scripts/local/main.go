// Command local runs the whole streamfn pipeline of one stack on this
// machine, with no AWS account: `go run ./scripts/local -stack dev`.
//
// It derives the deployment from the Pulumi program under mocks (the same
// code path as scripts/plan), starts kinesalite, dynalite and fauxqs,
// runs the ingest and processor functions under aws-lambda-rie, serves
// ingest's Function URL on 127.0.0.1, and emulates the Kinesis
// event-source mapping. With -rate it generates load; with -verify it
// checks the table and queues against what was sent; with -chaos it kills
// and freezes function processes mid-invocation. See the README.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/streamfn/streamfn/infra/config"
	"github.com/streamfn/streamfn/internal/dev/cli"
	"github.com/streamfn/streamfn/internal/dev/emulators"
	"github.com/streamfn/streamfn/internal/dev/local/run"
)

func main() {
	opts := run.Options{Stdout: os.Stdout, Stderr: os.Stderr}
	// A flag set of its own: the Pulumi SDK registers glog's flags on the
	// default one, and -h would list them.
	flags := flag.NewFlagSet("local", flag.ContinueOnError)
	flags.StringVar(&opts.Stack, "stack", "dev", "the stack whose config defines the pipeline (Pulumi.<stack>.yaml)")
	flags.Float64Var(&opts.Rate, "rate", 0, "events per second to post to ingest; 0 = no load (try it with curl)")
	flags.DurationVar(&opts.Duration, "duration", 0, "how long to generate load (or, without -rate, to run); 0 = until Ctrl-C")
	flags.IntVar(&opts.Users, "users", 500, "distinct users in the load")
	flags.Float64Var(&opts.Bad, "bad", 0, "fraction of events that are malformed (half posted to ingest, half put straight to the stream)")
	flags.Float64Var(&opts.Dup, "dup", 0, "fraction of events that are producer duplicates (an acknowledged event sent again)")
	flags.StringVar(&opts.PartitionKeys, "pk", "user", "partition keys of the load: user (posted to ingest, keyed by userId), random (put to the stream under a random key per record), kpl (KPL aggregates of several users) or mixed")
	flags.DurationVar(&opts.LateDup, "late-dup", 0, "resend the -dup share of acknowledged events this long after they were acknowledged (a late client retry); 0 = resend soon after")
	flags.IntVar(&opts.Batch, "batch", 100, "events per ingest request (1..1000)")
	flags.IntVar(&opts.Clients, "clients", 8, "ingest requests in flight at once")
	flags.Int64Var(&opts.Seed, "seed", 1, "seed of the generated events and of chaos")
	flags.BoolVar(&opts.Verify, "verify", false, "after the load, wait for the pipeline to drain and check the table and queues; exit 1 on any difference")
	flags.Float64Var(&opts.Chaos, "chaos", 0, "probability that an invocation's bootstrap is killed or frozen past its timeout")
	flags.BoolVar(&opts.JSON, "json", false, "print the final report as JSON on stdout (progress goes to stderr)")
	flags.StringVar(&opts.ReportFile, "report", "", "also write the JSON report to this file")
	flags.StringVar(&opts.Name, "name", "local", "the run's name on its last line, the verdict of -verify")
	flags.IntVar(&opts.Port, "port", 9000, "port of the local ingest Function URL on 127.0.0.1; 0 = a free one")
	shardLimits := flags.Bool("shard-limits", true, "apply Kinesis's per-shard limits (1 MiB/s or 1,000 records/s of writes, 5 reads/s and 2 MiB/s); false lets kinesalite take any rate")
	flags.IntVar(&opts.IngestCap, "ingest-environments", run.DefaultIngestEnvironments, "execution environments of an unreserved ingest function")
	flags.DurationVar(&opts.Outage, "outage", 0, "for this long after the load starts, the table refuses the processor's writes (InternalServerError), as in a DynamoDB outage: batches fail, expire and go to the on-failure destination; -verify counts their records as expected, not lost")
	flags.BoolVar(&opts.Redrive, "redrive", false, "after draining, replay every on-failure record with the redrive tool's replay (as `make redrive ARGS=replay` would), then verify exactly, as if nothing had failed")
	flags.Usage = func() {
		fmt.Fprintf(flags.Output(), "Usage: go run ./scripts/local [flags]\n\n")
		flags.PrintDefaults()
		fmt.Fprintf(flags.Output(), "\n%s", exitCodes)
	}
	if err := cli.ParseNoArgs(flags, os.Args[1:]); err != nil {
		os.Exit(cli.FlagExit(err)) // 0 for -h, 2 for a bad flag or a stray argument
	}
	opts.NoShardLimits = !*shardLimits

	// The load generator, the mapping and the Function URL allocate much
	// per event and keep little: collecting less often leaves the CPU to
	// the pipeline they drive. A GOGC in the environment wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}

	root, err := emulators.ModuleRoot()
	if err != nil {
		fail(err)
	}
	opts.Root = root
	if err := opts.Check(); err != nil {
		fail(err) // before anything is built
	}
	if opts.Outage > 0 && opts.Rate == 0 {
		// A test may start an outage and put records itself; from the
		// command line an outage without load shows nothing.
		fail(errors.New("-outage starts with the load: give -rate too, e.g. -rate 1000 -duration 40s -outage 20s"))
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C ends the process at once; the children's supervisors see their pipes close and end them
	}()

	err = run.Run(ctx, opts)
	if err != nil && !errors.Is(err, run.ErrVerifyFailed) {
		report(err)
	}
	os.Exit(exitCode(err))
}

// exitCodes is what -h says of them.
const exitCodes = `Exit codes:
  0    done (with -verify: the table and queues match what was sent)
  1    a finding: -verify found differences
  2    a usage or set-up error: a bad flag, an invalid stack config, a stand-in or function that would not start,
       a report file that could not be written
  130  interrupted (Ctrl-C) with -verify before verify finished: nothing was checked
`

// exitCode maps how the run ended to its exit code (exitCodes).
func exitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, run.ErrVerifyFailed):
		return 1
	case errors.Is(err, run.ErrInterrupted):
		return 130 // the shell's code for a SIGINT
	}
	return 2
}

func fail(err error) {
	report(err)
	os.Exit(exitCode(err))
}

func report(err error) {
	var invalid *config.ValidationError
	if errors.As(err, &invalid) {
		fmt.Fprintln(os.Stderr, invalid)
		return
	}
	fmt.Fprintln(os.Stderr, "local run:", err)
}
