// Command erase erases one user's personal data from a deployed stack or
// the local run (README, "Data protection"): the feature item becomes a
// suppression record that the processor honours, so a replay or redrive
// within the stream's retention cannot recreate it; the user's poison
// messages and their claim-checked payloads are deleted; the failures
// bucket's batches that hold the user's events are listed (they hold other
// users' events too, and expire with failureRetentionDays).
//
//	go run ./scripts/erase -stack prod -user user-00042 -dry-run   # a deployed stack
//	go run ./scripts/erase -user user-00042                        # the running local run
//	make erase USER=user-00042 ERASE_FLAGS="-stack prod"
//
// The stores' names come from the stack's outputs and the endpoints from
// the SDK's standard AWS_ENDPOINT_URL_<SERVICE> variables, found as the
// redrive tool finds them (stackoutputs.Locate: `pulumi stack output` for a
// deployed stack, the endpoints file for the local run); the stream's
// retention comes from the stack's config. One code path for AWS and the
// local run.
//
// Exit codes: 0 erased (or, with -dry-run, nothing changed), 1 the erasure
// failed part-way (the report says how far it got), 2 usage or set-up error.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"text/tabwriter"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/streamfn/streamfn/infra/config"
	"github.com/streamfn/streamfn/infra/pipeline"
	"github.com/streamfn/streamfn/infra/stackconfig"
	"github.com/streamfn/streamfn/internal/aws/store"
	"github.com/streamfn/streamfn/internal/dev/cli"
	"github.com/streamfn/streamfn/internal/dev/emulators"
	"github.com/streamfn/streamfn/internal/ops/erase"
	"github.com/streamfn/streamfn/internal/ops/stackoutputs"
)

const usageText = "usage: erase -user ID [-stack NAME | -endpoints FILE] [-dry-run] [-json]\n\nExit codes: 0 done, 1 the erasure failed part-way, 2 usage or set-up error.\n"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	var stack, endpointsPath string
	flags := stackoutputs.NewFlagSet("erase", usageText, stderr, &stack, &endpointsPath)
	user := flags.String("user", "", "the userId to erase (required)")
	dryRun := flags.Bool("dry-run", false, "find what would be erased, change nothing")
	asJSON := flags.Bool("json", false, "print the report as JSON")
	if err := cli.ParseNoArgs(flags, args); err != nil {
		return cli.FlagExit(err)
	}
	if *user == "" {
		fmt.Fprintln(stderr, "erase: -user is required: the userId whose data to erase")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	target, where, err := setUp(ctx, stack, endpointsPath)
	if err != nil {
		fmt.Fprintln(stderr, "erase:", err)
		return 2
	}
	target.DryRun = *dryRun
	if !*dryRun {
		fmt.Fprintf(stderr, "erasing user %q (%s): the feature item becomes a suppression record, the user's poison messages are deleted\n", *user, where)
	}
	report, err := erase.Erase(ctx, target, *user, time.Now())
	print(stdout, report, *asJSON)
	if err != nil {
		fmt.Fprintln(stderr, "erase:", err)
		return 1
	}
	return 0
}

// setUp finds the stack's stores and builds the clients from the SDK's
// default configuration, which the local run's endpoints file fills.
func setUp(ctx context.Context, stack, endpointsPath string) (erase.Target, string, error) {
	root, err := emulators.ModuleRoot()
	if err != nil {
		return erase.Target{}, "", err
	}
	found, err := stackoutputs.Locate(ctx, root, stack, endpointsPath)
	if err != nil {
		return erase.Target{}, "", err
	}
	where := fmt.Sprintf("stack %s, %s", found.Stack, found.Source)
	values, err := stackconfig.Load(root, found.Stack)
	if err != nil {
		return erase.Target{}, where, err
	}
	cfg, err := config.Load(func(key string) (string, bool) { v, ok := values[key]; return v, ok })
	if err != nil {
		return erase.Target{}, where, err
	}
	table, err := found.Outputs.String(pipeline.OutputTableName)
	if err != nil {
		return erase.Target{}, where, err
	}
	queueURL, err := found.Outputs.String(pipeline.OutputPoisonQueueURL)
	if err != nil {
		return erase.Target{}, where, err
	}
	bucket, _ := found.Outputs.String(pipeline.OutputFailureBucketName)
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return erase.Target{}, where, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = cfg.Region
	}
	return erase.Target{
		Store:          store.NewDynamoDB(dynamodb.NewFromConfig(awsCfg), table, "expiresAt"),
		SQS:            sqs.NewFromConfig(awsCfg),
		S3:             s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.DisableLogOutputChecksumValidationSkipped = true }),
		PoisonQueueURL: queueURL,
		Bucket:         bucket,
		Retention:      time.Duration(cfg.RetentionHours) * time.Hour,
	}, where, nil
}

func print(w io.Writer, r erase.Report, asJSON bool) {
	if asJSON {
		out, _ := json.MarshalIndent(r, "", "  ")
		fmt.Fprintln(w, string(out))
		return
	}
	verb := "erased"
	if r.DryRun {
		verb = "would erase"
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "user\t%s\n", r.UserID)
	fmt.Fprintf(tw, "feature item\t%s: %v (suppression record until %s)\n", verb, r.Item, r.SuppressionUntil.Format(time.RFC3339))
	fmt.Fprintf(tw, "poison messages\t%s: %d (%d also held other users' records)\n", verb, len(r.PoisonMessages), len(r.PoisonShared))
	fmt.Fprintf(tw, "failure batches\t%d hold the user's events among others': delete them by hand or let them expire\n", len(r.FailureObjects))
	for _, k := range r.FailureObjects {
		fmt.Fprintf(tw, "\t%s\n", k)
	}
	tw.Flush()
}
