// Command inspect shows the state of a streamfn pipeline: a user's
// features, the top users, the queues with the newest poison messages and
// their reasons, the failure records of discarded batches, and each
// shard's iterator age. It reads a local run (`make local`) through its
// endpoints file, or a deployed stack through `pulumi stack output`, with
// the same code: the AWS SDK's default configuration and the stack's
// output names.
//
//	go run ./scripts/inspect                  # the running local run: everything
//	go run ./scripts/inspect user user-1      # one user's features
//	go run ./scripts/inspect -stack prod top  # a deployed stack's top users
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/streamfn/streamfn/internal/dev/emulators"
	"github.com/streamfn/streamfn/internal/ops/endpoints"
	"github.com/streamfn/streamfn/internal/ops/stackoutputs"
)

// Exit codes, as -h documents them.
const (
	exitOK      = 0
	exitFinding = 1
	exitUsage   = 2
)

const usageText = `usage: inspect [flags] [what]

what (default: all but user):
  user <userId>  one user's features item
  top            the users with the most events (a scan of at most -scan-limit items)
  queues         the queues' depths, the newest poison messages with their reasons, and the failure records
  failures       the newest failure records (the failures bucket or queue): batches the mapping discarded, and why
  shards         each shard's iterator age: the age of the oldest record not yet processed

where:
  By default, the running local run (make local), through its endpoints file
  (AWS_ENDPOINT_URL_*, region, dummy credentials) and its stack outputs.
  With -stack, a deployed stack: its outputs from ` + "`pulumi stack output --json`" + `, and
  AWS through your usual credentials (AWS_PROFILE, AWS_REGION, ...).

Messages are peeked with a visibility timeout of 0: they stay in their queue
(only their receive count grows).

exit codes:
  0  read, nothing wrong found
  1  a finding: the user has no item, or there are failure records (discarded batches)
  2  a usage error, or the pipeline could not be read (no local run, no stack, an AWS error)

flags:
`

type options struct {
	stack, endpointsPath string
	json                 bool
	top, newest          int
	scanLimit            int
	what                 string
	userID               string
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var opts options
	flags := stackoutputs.NewFlagSet("inspect", usageText, stderr, &opts.stack, &opts.endpointsPath)
	flags.BoolVar(&opts.json, "json", false, "print one JSON document instead of tables")
	flags.IntVar(&opts.top, "top", 10, "how many top users")
	flags.IntVar(&opts.newest, "n", 5, "how many of the newest poison messages and failure records")
	flags.IntVar(&opts.scanLimit, "scan-limit", 100000, "read at most this many items of the table for top and shards")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	rest := flags.Args()
	if len(rest) > 0 {
		opts.what, rest = rest[0], rest[1:]
	}
	if opts.what == "user" && len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		opts.userID, rest = rest[0], rest[1:]
	}
	// Flags may follow the verb (and the user id) too: inspect queues -json, inspect user u -h.
	if err := flags.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	rest = flags.Args()
	switch {
	case opts.what == "user" && opts.userID == "":
		fmt.Fprintln(stderr, "inspect user: give one user id, e.g. inspect user user-1")
		return exitUsage
	case opts.what == "" || opts.what == "user" || opts.what == "top" || opts.what == "queues" || opts.what == "failures" || opts.what == "shards":
		if len(rest) > 0 {
			fmt.Fprintf(stderr, "inspect %s: unexpected arguments %q (see -h)\n", opts.what, rest)
			return exitUsage
		}
	default:
		fmt.Fprintf(stderr, "inspect: unknown %q: want user, top, queues, failures or shards (see -h)\n", opts.what)
		return exitUsage
	}
	if opts.top < 1 || opts.newest < 1 || opts.scanLimit < 1 {
		fmt.Fprintln(stderr, "inspect: -top, -n and -scan-limit must be at least 1")
		return exitUsage
	}
	if opts.stack != "" && opts.endpointsPath != "" {
		fmt.Fprintln(stderr, "inspect: give -stack (a deployed stack) or -endpoints (a local run), not both")
		return exitUsage
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()

	stack, source, outputs, noS3, err := locate(ctx, opts)
	if err != nil {
		fmt.Fprintln(stderr, "inspect:", err)
		return exitUsage
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "inspect: the AWS configuration:", err)
		return exitUsage
	}
	c := clients{kinesis: kinesis.NewFromConfig(cfg), dynamodb: dynamodb.NewFromConfig(cfg), sqs: sqs.NewFromConfig(cfg)}
	if !noS3 {
		c.s3 = s3.NewFromConfig(cfg)
	}
	n, err := namesFrom(outputs)
	if err != nil {
		fmt.Fprintln(stderr, "inspect:", err)
		return exitUsage
	}
	r, err := collect(ctx, c, n, opts)
	if err != nil {
		fmt.Fprintln(stderr, "inspect:", err)
		return exitUsage
	}
	r.Stack, r.Source = stack, source
	if opts.json {
		if err := writeJSON(stdout, r); err != nil {
			fmt.Fprintln(stderr, "inspect:", err)
			return exitUsage
		}
	} else {
		writeTables(stdout, r)
	}
	if r.finding() {
		return exitFinding
	}
	return exitOK
}

// locate finds the stack's outputs with the tools' one code path
// (stackoutputs.Locate: a deployed stack, or the running local run through
// its endpoints file, whose variables it sets). noS3 is a local run whose
// endpoints file names no S3 endpoint.
func locate(ctx context.Context, opts options) (stack, source string, outputs stackoutputs.Outputs, noS3 bool, err error) {
	root, err := emulators.ModuleRoot()
	if err != nil {
		return "", "", nil, false, err
	}
	l, err := stackoutputs.Locate(ctx, root, opts.stack, opts.endpointsPath)
	if err != nil {
		return "", "", nil, false, err
	}
	return l.Stack, l.Source, l.Outputs, l.Local && os.Getenv(endpoints.S3) == "", nil
}

func collect(ctx context.Context, c clients, n names, opts options) (*Report, error) {
	r := &Report{At: time.Now().UTC().Format(time.RFC3339)}
	all := opts.what == ""
	var err error
	if opts.what == "user" {
		if r.User, err = readUser(ctx, c, n, opts.userID); err != nil {
			return nil, err
		}
		return r, nil
	}
	var rejected map[string]bool
	if all || opts.what == "queues" || opts.what == "shards" {
		poison, skip, err := readPoison(ctx, c, n, opts.newest)
		if err != nil {
			return nil, err
		}
		rejected = skip
		if opts.what != "shards" {
			r.Poison = poison
			if r.Queues, err = readQueues(ctx, c, n); err != nil {
				return nil, err
			}
		}
	}
	if all || opts.what == "failures" || opts.what == "queues" {
		r.Failures, err = readFailures(ctx, c, n, opts.newest)
		switch {
		case errors.Is(err, errNoS3) && opts.what != "failures":
			r.FailuresUnread = err.Error() // the rest is still worth showing
		case err != nil:
			return nil, err
		}
	}
	if all || opts.what == "top" || opts.what == "shards" {
		s, err := scanTable(ctx, c, n, opts.scanLimit, opts.top)
		if err != nil {
			return nil, err
		}
		if all || opts.what == "top" {
			r.TopUsers = s.top
		}
		if all || opts.what == "shards" {
			if r.Shards, err = readShards(ctx, c, n, s.marks, rejected, time.Now()); err != nil {
				return nil, err
			}
		}
	}
	return r, nil
}

// finding is what exit code 1 reports.
func (r *Report) finding() bool {
	return (r.User != nil && !r.User.Found) || len(r.Failures) > 0
}
