// Command plan previews a stack offline: it runs the real Pulumi program under realistic mocks
// with the stack's config and prints every resource with its key inputs, then the stack
// outputs. No cloud account, credentials or Pulumi CLI are needed.
//
//	go run ./scripts/plan -stack dev         # readable listing
//	go run ./scripts/plan -stack prod -json  # one JSON document {"resources":[...],"outputs":{...}}
//
// With invalid config it prints only the validation errors, one per line, and exits 1.
//
//	go run ./scripts/plan -stack prod -account-concurrency 1000
//
// also checks that an account with that Lambda concurrent-executions quota can take the
// stack's reserved concurrency, and exits 1 with the number needed when it cannot (the
// deploy workflow's pre-flight step).
//
//	go run ./scripts/plan -stack prod -rate 5000 -event-bytes 1000
//
// (the cost flags; make plan STACK=prod RATE=5000 EVENT_BYTES=1000) adds the monthly bill of
// the stack as configured under that load, from the capacity planner's model
// (internal/ops/capacity), and the settings the load would throttle; a throttling setting exits 1.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/streamfn/streamfn/infra/build"
	"github.com/streamfn/streamfn/infra/config"
	"github.com/streamfn/streamfn/infra/plan"
	"github.com/streamfn/streamfn/infra/stackconfig"
	"github.com/streamfn/streamfn/internal/dev/cli"
	"github.com/streamfn/streamfn/internal/ops/capacity"
	"github.com/streamfn/streamfn/scripts/size/sizeview"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("plan", flag.ContinueOnError)
	flags.SetOutput(stderr)
	stack := flags.String("stack", "dev", "stack to plan; reads Pulumi.<stack>.yaml")
	dir := flags.String("dir", "", "project directory holding Pulumi.yaml (default: found from the working directory)")
	asJSON := flags.Bool("json", false, "print one JSON document instead of the listing")
	accountConcurrency := flags.Int("account-concurrency", 0,
		"the account's Lambda concurrent-executions quota (aws lambda get-account-settings --query AccountLimit.ConcurrentExecutions); "+
			"exit 1 when the stack's reservations do not fit in it")
	load := capacity.DefaultLoad()
	load.Rate = 0
	load.TrafficFlags(flags, "cost flags: mean events/s; with it the plan adds the stack's monthly bill under that load and flags the settings it would throttle (the other cost flags default to the size tool's)")
	pricesFile := flags.String("prices", "", "cost flags: a price `FILE` for a region other than us-east-1 (see internal/ops/capacity/prices-us-east-1.yaml)")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "Usage: go run ./scripts/plan [-stack dev] [-json] [-account-concurrency N] [-dir DIR] [-rate N -event-bytes N ...]")
		fmt.Fprintln(stderr, "Previews a stack offline: every resource with its inputs and options, then the outputs.")
		flags.PrintDefaults()
		fmt.Fprintln(stderr, "Exit status: 0 the plan is good; 1 a finding (invalid config, the account quota is too small, an impossible -rate load, or a setting the load would throttle); 2 a usage error (also: a stack without a Pulumi.<stack>.yaml, a region without a -prices file).")
	}
	if err := cli.ParseNoArgs(flags, args); err != nil {
		return cli.FlagExit(err)
	}
	// Values the plan would otherwise take as "not given".
	var bad []string
	if load.Rate < 0 {
		bad = append(bad, fmt.Sprintf("-rate %g: must be 0 (no bill) or more than 0 events/s", load.Rate))
	}
	if *accountConcurrency < 0 {
		bad = append(bad, fmt.Sprintf("-account-concurrency %d: must be 0 (not checked) or the account's quota, e.g. 1000", *accountConcurrency))
	}
	if len(bad) > 0 {
		fmt.Fprintln(stderr, "plan: "+strings.Join(bad, "; "))
		return 2
	}
	if *dir == "" {
		found, err := build.ProjectDir("")
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2 // a set-up error: no project here
		}
		*dir = found
	}

	p, err := plan.Run(plan.Options{Dir: *dir, Stack: *stack})
	if err != nil {
		var invalid *config.ValidationError
		var missing *stackconfig.MissingStackError
		if errors.As(err, &missing) {
			fmt.Fprintln(stderr, missing.Error())
			return 2 // a usage error, as in the local run
		}
		if errors.As(err, &invalid) {
			fmt.Fprintln(stderr, invalid.Error())
		} else {
			fmt.Fprintf(stderr, "planning stack %s: %v\n", *stack, err)
		}
		return 1
	}
	for _, w := range p.Warnings() {
		fmt.Fprintln(stderr, "warning: "+w)
	}
	var cost *costReport
	if load.Rate > 0 {
		var code int
		if cost, code, err = priceStack(p, load, *pricesFile); err != nil {
			fmt.Fprintln(stderr, err)
			return code
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		var doc any = p
		if cost != nil {
			doc = struct {
				*plan.Plan
				*costReport
			}{p, cost}
		}
		if err := enc.Encode(doc); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	} else {
		printListing(stdout, p)
		if cost != nil {
			fmt.Fprintln(stdout)
			sizeview.PrintBill(stdout, cost.Bill)
			sizeview.PrintComparison(stdout, cost.Comparison)
			sizeview.PrintWarnings(stdout, cost.Warnings)
		}
	}
	if cost != nil && cost.throttles() {
		fmt.Fprintf(stderr, "stack %s would throttle at %.0f events/s: see the throttle-* findings; go run ./scripts/size -rate %.0f shows settings that carry it\n", *stack, load.Rate, load.Rate)
		return 1
	}
	if *accountConcurrency > 0 && *accountConcurrency < p.Requirements.LambdaConcurrentExecutions {
		fmt.Fprintf(stderr, "stack %s needs a Lambda concurrent-executions quota of at least %d (it reserves %d, and Lambda keeps 100 unreserved); the account has %d. "+
			"Request an increase of \"Concurrent executions\" in Service Quotas (aws service-quotas request-service-quota-increase --service-code lambda --quota-code L-B99A9384 --desired-value %d), or lower streamfn:processorConcurrency / streamfn:ingestConcurrency.\n",
			*stack, p.Requirements.LambdaConcurrentExecutions, p.Requirements.ReservedConcurrency, *accountConcurrency, p.Requirements.LambdaConcurrentExecutions)
		return 1
	}
	return 0
}

// keyInputs are the inputs worth reading in the listing, per resource type. The JSON output
// has all of them.
var keyInputs = map[string][]string{
	"pulumi:providers:aws":                                                 {"region", "defaultTags"},
	"aws:kinesis/stream:Stream":                                            {"streamModeDetails", "shardCount", "retentionPeriod", "encryptionType", "kmsKeyId"},
	"aws:lambda/function:Function":                                         {"architectures", "runtime", "memorySize", "timeout", "reservedConcurrentExecutions", "publish", "environment", "loggingConfig", "sourceCodeHash"},
	"aws:lambda/eventSourceMapping:EventSourceMapping":                     {"eventSourceArn", "batchSize", "maximumBatchingWindowInSeconds", "startingPosition", "startingPositionTimestamp", "parallelizationFactor", "bisectBatchOnFunctionError", "maximumRetryAttempts", "maximumRecordAgeInSeconds", "tumblingWindowInSeconds", "enabled", "functionResponseTypes", "destinationConfig", "metricsConfig", "filterCriteria"},
	"aws:kinesis/streamConsumer:StreamConsumer":                            {"name", "streamArn"},
	"aws:lambda/functionUrl:FunctionUrl":                                   {"authorizationType", "qualifier"},
	"aws:lambda/alias:Alias":                                               {"name", "functionVersion"},
	"aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig": {"provisionedConcurrentExecutions", "qualifier"},
	"aws:lambda/permission:Permission":                                     {"action", "principal", "functionUrlAuthType"},
	"aws:iam/role:Role":                                                    {"assumeRolePolicy"},
	"aws:iam/rolePolicy:RolePolicy":                                        {"policy"},
	"aws:sqs/queue:Queue":                                                  {"sqsManagedSseEnabled", "messageRetentionSeconds"},
	"aws:dynamodb/table:Table":                                             {"billingMode", "hashKey", "ttl", "serverSideEncryption", "pointInTimeRecovery", "deletionProtectionEnabled"},
	"aws:cloudwatch/logGroup:LogGroup":                                     {"name", "retentionInDays"},
	"aws:cloudwatch/metricAlarm:MetricAlarm":                               {"namespace", "metricName", "statistic", "dimensions", "threshold", "period"},
	"aws:cloudwatch/dashboard:Dashboard":                                   {"dashboardName"},
	"aws:sns/topic:Topic":                                                  {"kmsMasterKeyId"},
	"aws:sns/topicSubscription:TopicSubscription":                          {"protocol", "endpoint"},
	"aws:kms/key:Key":                                                      {"enableKeyRotation"},
}

func printListing(w io.Writer, p *plan.Plan) {
	fmt.Fprintf(w, "Stack %s: %d resources\n", p.Stack, len(p.Resources))
	fmt.Fprintf(w, "Account: a Lambda concurrent-executions quota of at least %d (reserved %d + 100 Lambda keeps unreserved, plus other functions' reservations)\n\n",
		p.Requirements.LambdaConcurrentExecutions, p.Requirements.ReservedConcurrency)
	for _, r := range p.Resources {
		parent := ""
		if r.Parent != "" {
			parent = "  (parent: " + r.Parent + ")"
		}
		fmt.Fprintf(w, "%s  %s%s\n", r.Type, r.Name, parent)
		for _, key := range keyInputs[r.Type] {
			v, ok := r.Inputs[key]
			if !ok {
				continue
			}
			fmt.Fprintf(w, "    %s: %s\n", key, compact(v))
		}
		if len(r.Options) > 0 {
			fmt.Fprintf(w, "    options: %s\n", compact(r.Options))
		}
	}
	fmt.Fprintln(w, "\nOutputs:")
	names := slices.Sorted(maps.Keys(p.Outputs))
	width := 0
	for _, n := range names {
		width = max(width, len(n))
	}
	for _, name := range names {
		fmt.Fprintf(w, "    %-*s  %s\n", width, name, compact(p.Outputs[name]))
	}
}

// compact renders a value on one line; policy documents and other JSON strings stay as the
// exact strings the program passes.
func compact(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// costReport is what the cost flags add to the plan's JSON document.
type costReport struct {
	Load       capacity.Load       `json:"load"`
	Bill       capacity.Bill       `json:"monthlyCostUsd"`
	Comparison capacity.Comparison `json:"comparison"`
	Warnings   []capacity.Warning  `json:"costWarnings"`
}

func (c *costReport) throttles() bool {
	for _, w := range c.Warnings {
		if strings.HasPrefix(w.Code, "throttle-") {
			return true
		}
	}
	return false
}

// priceStack bills the stack as configured under load, with the capacity planner's model.
// An impossible load is a finding (1); a region without prices a usage error (2).
func priceStack(p *plan.Plan, load capacity.Load, pricesFile string) (*costReport, int, error) {
	load.Region, load.Arch = p.Config.Region, p.Config.Architecture
	if err := load.Check(); err != nil {
		return nil, 1, err
	}
	prices, err := capacity.ForRegion(p.Config.Region, pricesFile)
	if err != nil {
		return nil, 2, err
	}
	load = load.Normalized()
	alarms, dashboards := p.Monitoring()
	bill := capacity.CostWith(p.Config, load, prices, alarms, dashboards)
	ws := capacity.Check(p.Config, load)
	if ws == nil {
		ws = []capacity.Warning{}
	}
	return &costReport{Load: load, Bill: bill, Comparison: capacity.Compare(p.Config, load, prices, bill), Warnings: ws}, 0, nil
}
