// Command erase erases one user's personal data from a deployed stack or
// the local run (README, "Data protection"): the feature item becomes a
// suppression record that the processor honours, so a replay or redrive
// within the stream's retention cannot recreate it; the user's poison
// messages and their claim-checked payloads are deleted; the failures
// bucket's batches that hold the user's events are listed (they hold other
// users' events too, and expire with failureRetentionDays).
//
//	go run ./scripts/erase -stack prod -user user-00042 -dry-run
//	make erase STACK=prod USER=user-00042
//
// The stores' names come from the stack's outputs (`pulumi stack output
// --json`, or -outputs FILE holding them), the stream's retention from the
// stack's config, and the endpoints from the SDK's standard
// AWS_ENDPOINT_URL_<SERVICE> variables: one code path for AWS and the
// local run.
//
// Exit codes: 0 erased (or, with -dry-run, nothing changed), 1 the erasure
// failed part-way (the report says how far it got), 2 usage or set-up error.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
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
	"github.com/streamfn/streamfn/internal/erase"
	"github.com/streamfn/streamfn/internal/store"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("erase", flag.ContinueOnError)
	flags.SetOutput(stderr)
	user := flags.String("user", "", "the userId to erase (required)")
	stack := flags.String("stack", "dev", "the stack")
	outputsFile := flags.String("outputs", "", "a file holding `pulumi stack output --json` (default: run it)")
	dryRun := flags.Bool("dry-run", false, "find what would be erased, change nothing")
	asJSON := flags.Bool("json", false, "print the report as JSON")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: erase -user ID [-stack dev] [-outputs FILE] [-dry-run] [-json]\n\nExit codes: 0 done, 1 the erasure failed part-way, 2 usage or set-up error.")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if *user == "" {
		fmt.Fprintln(stderr, "erase: -user is required: the userId whose data to erase")
		return 2
	}
	target, err := setUp(*stack, *outputsFile)
	if err != nil {
		fmt.Fprintln(stderr, "erase:", err)
		return 2
	}
	target.DryRun = *dryRun
	if !*dryRun {
		fmt.Fprintf(stderr, "erasing user %q from stack %s: the feature item becomes a suppression record, the user's poison messages are deleted\n", *user, *stack)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	report, err := erase.Erase(ctx, target, *user, time.Now())
	print(stdout, report, *asJSON)
	if err != nil {
		fmt.Fprintln(stderr, "erase:", err)
		return 1
	}
	return 0
}

func setUp(stack, outputsFile string) (erase.Target, error) {
	values, err := stackconfig.Load(".", stack)
	if err != nil {
		return erase.Target{}, err
	}
	cfg, err := config.Load(func(key string) (string, bool) { v, ok := values[key]; return v, ok })
	if err != nil {
		return erase.Target{}, err
	}
	raw, err := readOutputs(stack, outputsFile)
	if err != nil {
		return erase.Target{}, err
	}
	var outputs map[string]any
	if err := json.Unmarshal(raw, &outputs); err != nil {
		return erase.Target{}, fmt.Errorf("stack outputs are not JSON: %w", err)
	}
	name := func(key string) (string, error) {
		if v, ok := outputs[key].(string); ok && v != "" {
			return v, nil
		}
		return "", fmt.Errorf("the stack outputs have no %s: is stack %s deployed (pulumi up, or make local)?", key, stack)
	}
	table, err := name(pipeline.OutputTableName)
	if err != nil {
		return erase.Target{}, err
	}
	queueURL, err := name(pipeline.OutputPoisonQueueURL)
	if err != nil {
		return erase.Target{}, err
	}
	bucket, _ := name(pipeline.OutputFailureBucketName)
	awsCfg, err := awsconfig.LoadDefaultConfig(context.Background(), awsconfig.WithRegion(cfg.Region))
	if err != nil {
		return erase.Target{}, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	return erase.Target{
		Store:          store.NewDynamoDB(dynamodb.NewFromConfig(awsCfg), table, "expiresAt"),
		SQS:            sqs.NewFromConfig(awsCfg),
		S3:             s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.UsePathStyle = true }),
		PoisonQueueURL: queueURL,
		Bucket:         bucket,
		Retention:      time.Duration(cfg.RetentionHours) * time.Hour,
	}, nil
}

func readOutputs(stack, file string) ([]byte, error) {
	if file != "" {
		return os.ReadFile(file)
	}
	out, err := exec.Command("pulumi", "stack", "output", "--json", "--stack", stack).Output()
	if err != nil {
		return nil, fmt.Errorf("reading the outputs of stack %s (pulumi stack output --json): %w; or pass -outputs FILE", stack, err)
	}
	return out, nil
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
