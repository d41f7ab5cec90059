// Command redrive turns the records the Kinesis event-source mapping gave
// up on back into processed events, and resends poison records after a
// schema fix. It reads a deployed stack (its outputs from pulumi, AWS
// through your usual credentials) or the running local run (through its
// endpoints file) with the same code.
//
//	go run ./scripts/redrive list                  # the local run's failure records and poison messages
//	go run ./scripts/redrive -stack prod replay -dry-run
//	go run ./scripts/redrive -stack prod poison -reason 'type:'
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/charmbracelet/bubbles/progress"
	"golang.org/x/term"

	"github.com/streamfn/streamfn/internal/dev/emulators"
	"github.com/streamfn/streamfn/internal/ops/redrive"
	"github.com/streamfn/streamfn/internal/ops/stackoutputs"
)

// Exit codes, as -h documents them.
const (
	exitOK      = 0
	exitFinding = 1
	exitUsage   = 2
)

const usageText = `usage: redrive [flags] list|replay|poison [flags]

Turns the batches the event-source mapping gave up on back into processed
events, and resends poison records after a schema fix.

verbs:
  list     every on-failure record, from the failure bucket (or, with
           failureDestination sqs, the failures queue): shard, sequence range,
           record count, age, and whether the records are still in the stream;
           overlapping ranges (bisection) merged. Then the poison messages,
           grouped by reason. Changes nothing.
  replay   invokes the processor with every failed batch: an S3 record's payload
           as it is, or a queue record's range read again from the stream
           (GetShardIterator AT_SEQUENCE_NUMBER, GetRecords to its end) and rebuilt
           as the exact event Lambda sends, cut to Lambda's invocation payload.
           Each record is deleted only after its replay succeeded. Replaying again
           is safe: the processor applies each event once (README, "Exactly once").
           Records older than the processor's dedupHorizonSeconds get a warning.
  poison   resends poison payloads that are valid now through the normal path
           (PutRecords, keyed by userId) and deletes their messages; those still
           invalid, cut short or of another -reason stay in the queue.

where:
  By default, the running local run (make local), through its endpoints file
  (AWS_ENDPOINT_URL_*, region, dummy credentials) and its stack outputs.
  With -stack, a deployed stack: its outputs from ` + "`pulumi stack output --json`" + `,
  and AWS through your usual credentials (AWS_PROFILE, AWS_REGION, ...).
  The IAM permissions it needs are in the README ("Redrive").

exit codes:
  0  done; nothing lost
  1  a finding: ranges whose records left the stream (lost, listed with their
     range), records that could not be read, or replays/resends that failed
  2  a usage or set-up error: bad flags, no local run, no stack, no credentials,
     no bucket, an AWS error

flags:
`

type options struct {
	stack, endpointsPath string
	json, dryRun         bool
	reason               string
	concurrency          int
	verb                 string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var opts options
	flags := stackoutputs.NewFlagSet("redrive", usageText, stderr, &opts.stack, &opts.endpointsPath)
	flags.BoolVar(&opts.json, "json", false, "print one JSON document instead of tables")
	flags.BoolVar(&opts.dryRun, "dry-run", false, "replay, poison: show what would happen; invoke, put and delete nothing")
	flags.StringVar(&opts.reason, "reason", "", "poison: only messages whose reason contains this text")
	flags.IntVar(&opts.concurrency, "concurrency", 1, "replay: failure records replayed at once")
	// Flags may come before and after the verb.
	if err := flags.Parse(args); err != nil {
		return helpOrUsage(err)
	}
	rest := flags.Args()
	if len(rest) == 0 {
		fmt.Fprintln(stderr, "redrive: give a verb: list, replay or poison (see -h)")
		return exitUsage
	}
	opts.verb = rest[0]
	if err := flags.Parse(rest[1:]); err != nil {
		return helpOrUsage(err)
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "redrive %s: unexpected arguments %q (see -h)\n", opts.verb, flags.Args())
		return exitUsage
	}
	switch opts.verb {
	case "list", "replay", "poison":
	default:
		fmt.Fprintf(stderr, "redrive: unknown verb %q: want list, replay or poison (see -h)\n", opts.verb)
		return exitUsage
	}
	if opts.concurrency < 1 || opts.concurrency > 64 {
		fmt.Fprintf(stderr, "redrive: -concurrency %d: must be 1..64\n", opts.concurrency)
		return exitUsage
	}
	if opts.reason != "" && opts.verb != "poison" {
		fmt.Fprintln(stderr, "redrive: -reason filters poison messages: use it with poison")
		return exitUsage
	}

	tool, err := setUp(ctx, opts)
	if err != nil {
		fmt.Fprintln(stderr, "redrive:", err)
		return exitUsage
	}
	tool.Progress = newProgress(stderr, opts.json)
	switch opts.verb {
	case "list":
		r, err := tool.List(ctx)
		if err != nil {
			return failed(stderr, err)
		}
		if err := write(stdout, opts.json, r, func(w io.Writer) { listTable(w, r) }); err != nil {
			return failed(stderr, err)
		}
		if len(r.Lost) > 0 || len(r.Problems) > 0 {
			return exitFinding
		}
	case "replay":
		if !opts.dryRun {
			dest := "s3://" + tool.Target.Bucket
			if tool.Target.Bucket == "" {
				dest = tool.Target.FailuresQueueURL
			}
			fmt.Fprintf(stderr, "replaying every on-failure record of %s into %s; each is deleted once its replay succeeded (see first: -dry-run)\n", dest, tool.Target.Processor)
		}
		r, err := tool.Replay(ctx, redrive.ReplayOptions{DryRun: opts.dryRun, Concurrency: opts.concurrency})
		if err != nil {
			return failed(stderr, err)
		}
		if err := write(stdout, opts.json, r, func(w io.Writer) { replayTable(w, r) }); err != nil {
			return failed(stderr, err)
		}
		if len(r.Lost) > 0 || r.Failed > 0 || len(r.Problems) > 0 {
			return exitFinding
		}
	case "poison":
		r, err := tool.Poison(ctx, redrive.PoisonOptions{Reason: opts.reason, DryRun: opts.dryRun})
		if err != nil {
			return failed(stderr, err)
		}
		if err := write(stdout, opts.json, r, func(w io.Writer) { poisonTable(w, r) }); err != nil {
			return failed(stderr, err)
		}
		if r.Failed > 0 || len(r.Problems) > 0 {
			return exitFinding
		}
	}
	return exitOK
}

func helpOrUsage(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}

func failed(stderr io.Writer, err error) int {
	fmt.Fprintln(stderr, "redrive:", err)
	return exitUsage
}

// setUp finds the pipeline and builds the clients from the SDK's default
// configuration, which the local run's endpoints file fills when used.
func setUp(ctx context.Context, opts options) (*redrive.Tool, error) {
	root, err := emulators.ModuleRoot()
	if err != nil {
		return nil, err
	}
	found, err := stackoutputs.Locate(ctx, root, opts.stack, opts.endpointsPath)
	if err != nil {
		return nil, err
	}
	target, err := redrive.TargetFromOutputs(found.Stack, found.Source, found.Outputs)
	if err != nil {
		return nil, fmt.Errorf("stack %s (%s): %w", found.Stack, found.Source, err)
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("no AWS region: set AWS_REGION (or AWS_PROFILE with a region) to the stack's region")
	}
	credCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := cfg.Credentials.Retrieve(credCtx); err != nil {
		return nil, fmt.Errorf("no AWS credentials: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or log in (aws sso login): %w", err)
	}
	return &redrive.Tool{
		Target: target,
		// An object stored without a checksum (the local run's, or one of
		// a writer that sent none) would log a line on every read.
		S3:      s3.NewFromConfig(cfg, func(o *s3.Options) { o.DisableLogOutputChecksumValidationSkipped = true }),
		SQS:     sqs.NewFromConfig(cfg),
		Kinesis: kinesis.NewFromConfig(cfg),
		Lambda:  lambda.NewFromConfig(cfg),
	}, nil
}

// newProgress draws a bar on a terminal and plain lines elsewhere; -json
// keeps stderr quiet but for errors.
func newProgress(stderr io.Writer, jsonOut bool) func(string, int, int) {
	f, ok := stderr.(*os.File)
	tty := ok && term.IsTerminal(int(f.Fd())) && os.Getenv("TERM") != "dumb"
	if !tty {
		if jsonOut {
			return nil
		}
		last := time.Time{}
		return func(what string, done, total int) {
			if total > 0 && (done == total || time.Since(last) > 5*time.Second) {
				last = time.Now()
				fmt.Fprintf(stderr, "%s: %d/%d\n", what, done, total)
			}
		}
	}
	bar := progress.New(progress.WithDefaultGradient(), progress.WithWidth(40))
	return func(what string, done, total int) {
		if total == 0 {
			return
		}
		fmt.Fprintf(stderr, "\r%s %s %d/%d\x1b[K", bar.ViewAs(float64(done)/float64(total)), what, done, total)
		if done == total {
			fmt.Fprintln(stderr)
		}
	}
}

func write(w io.Writer, jsonOut bool, v any, table func(io.Writer)) error {
	if jsonOut {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

func age(seconds float64) string {
	return (time.Duration(seconds) * time.Second).String()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func where(t redrive.Target) string {
	if t.Bucket != "" {
		return "bucket " + t.Bucket
	}
	return "queue " + t.FailuresQueueURL
}

func listTable(w io.Writer, r *redrive.ListReport) {
	fmt.Fprintf(w, "stack %s (%s), %s: %d on-failure records in %d ranges\n\n", r.Target.Stack, r.Target.Source, where(r.Target), len(r.Failures), len(r.Ranges))
	if len(r.Ranges) > 0 {
		fmt.Fprintln(w, "SHARD\tSTART\tEND\tRECORDS\tFAILURE RECORDS\tAGE\tIN STREAM\tLOST")
		for _, g := range r.Ranges {
			fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", g.ShardID, g.StartSequenceNumber, g.EndSequenceNumber, g.Records, g.FailureRecords, age(g.AgeSeconds), yesNo(g.InStream), yesNo(g.Lost))
		}
		fmt.Fprintln(w)
	}
	if len(r.Failures) > 0 {
		fmt.Fprintln(w, "RECORD\tSHARD\tSTART\tEND\tRECORDS\tCONDITION\tAGE\tPAYLOAD\tIN STREAM")
		for _, f := range r.Failures {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", f.Where(), f.ShardID, f.StartSequenceNumber, f.EndSequenceNumber, f.Records, f.Condition, age(f.AgeSeconds), yesNo(f.HasPayload), yesNo(f.InStream))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "poison: %d messages\n", r.PoisonMessages)
	if len(r.Poison) > 0 {
		fmt.Fprintln(w, "REASON\tMESSAGES\tCUT SHORT\tOLDEST\tNEWEST")
		for _, g := range r.Poison {
			fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%s\n", g.Reason, g.Messages, g.Truncated, g.Oldest, g.Newest)
		}
	}
	notes(w, r.Lost, r.Warnings, r.Problems)
}

func replayTable(w io.Writer, r *redrive.ReplayReport) {
	verb := "replayed"
	if r.DryRun {
		verb = "would replay (dry run: nothing invoked or deleted)"
	}
	fmt.Fprintf(w, "stack %s (%s), %s into %s: %s %d records of %d on-failure records; %d failed, %d ranges lost\n\n",
		r.Target.Stack, r.Target.Source, where(r.Target), r.Target.Processor, verb, r.RecordsReplayed, len(r.Results), r.Failed, len(r.Lost))
	if len(r.Results) > 0 {
		fmt.Fprintln(w, "RECORD\tSHARD\tSTART\tEND\tRECORDS\tINVOCATIONS\tBYTES\tSTATUS\tDELETED\tERROR")
		for _, res := range r.Results {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", res.Where(), res.ShardID, res.StartSequenceNumber, res.EndSequenceNumber, res.Records, res.Invocations, res.Bytes, res.Status, yesNo(res.Deleted), res.Error)
		}
	}
	notes(w, r.Lost, r.Warnings, r.Problems)
}

func poisonTable(w io.Writer, r *redrive.PoisonReport) {
	verb := "resent"
	if r.DryRun {
		verb = "would resend (dry run: nothing put or deleted)"
	}
	fmt.Fprintf(w, "stack %s (%s), poison queue into %s: %s %d; %d still invalid, %d failed, %d of other reasons left alone\n\n",
		r.Target.Stack, r.Target.Source, r.Target.StreamName, verb, r.Resent, r.StillInvalid, r.Failed, r.Skipped)
	if len(r.Results) > 0 {
		fmt.Fprintln(w, "MESSAGE\tREASON\tSHARD\tSEQUENCE\tUSER\tSTATUS\tERROR")
		for _, res := range r.Results {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", res.MessageID, res.Reason, res.ShardID, res.SequenceNumber, res.UserID, res.Status, res.Error)
		}
	}
	notes(w, nil, nil, r.Problems)
}

func notes(w io.Writer, lost []redrive.Range, warnings, problems []string) {
	for _, l := range lost {
		fmt.Fprintf(w, "\nLOST: %s %s..%s (%d records): they left the stream and no record holds them\n", l.ShardID, l.StartSequenceNumber, l.EndSequenceNumber, l.Records)
	}
	for _, s := range warnings {
		fmt.Fprintf(w, "\nwarning: %s\n", s)
	}
	for _, s := range problems {
		fmt.Fprintf(w, "\nproblem: %s\n", strings.TrimSpace(s))
	}
}
