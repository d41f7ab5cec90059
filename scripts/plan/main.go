// Command plan previews a stack offline: it runs the real Pulumi program under realistic mocks
// with the stack's config and prints every resource with its key inputs, then the stack
// outputs. No cloud account, credentials or Pulumi CLI are needed.
//
//	go run ./scripts/plan -stack dev         # readable listing
//	go run ./scripts/plan -stack prod -json  # one JSON document {"resources":[...],"outputs":{...}}
//
// With invalid config it prints only the validation errors, one per line, and exits 1.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/streamfn/streamfn/infra/build"
	"github.com/streamfn/streamfn/infra/config"
	"github.com/streamfn/streamfn/infra/plan"
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
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if *dir == "" {
		found, err := build.ProjectDir("")
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		*dir = found
	}

	p, err := plan.Run(plan.Options{Dir: *dir, Stack: *stack})
	if err != nil {
		var invalid *config.ValidationError
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
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(p); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return 0
	}
	printListing(stdout, p)
	return 0
}

// keyInputs are the inputs worth reading in the listing, per resource type. The JSON output
// has all of them.
var keyInputs = map[string][]string{
	"pulumi:providers:aws":                                                 {"region", "defaultTags"},
	"aws:kinesis/stream:Stream":                                            {"streamModeDetails", "shardCount", "retentionPeriod", "encryptionType", "kmsKeyId"},
	"aws:lambda/function:Function":                                         {"architectures", "runtime", "memorySize", "timeout", "reservedConcurrentExecutions", "publish", "environment", "loggingConfig", "sourceCodeHash"},
	"aws:lambda/eventSourceMapping:EventSourceMapping":                     {"batchSize", "maximumBatchingWindowInSeconds", "startingPosition", "startingPositionTimestamp", "parallelizationFactor", "bisectBatchOnFunctionError", "maximumRetryAttempts", "maximumRecordAgeInSeconds", "tumblingWindowInSeconds", "enabled", "functionResponseTypes", "destinationConfig"},
	"aws:lambda/functionUrl:FunctionUrl":                                   {"authorizationType", "qualifier"},
	"aws:lambda/alias:Alias":                                               {"name", "functionVersion"},
	"aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig": {"provisionedConcurrentExecutions", "qualifier"},
	"aws:lambda/permission:Permission":                                     {"action", "principal", "functionUrlAuthType"},
	"aws:iam/role:Role":                                                    {"assumeRolePolicy"},
	"aws:iam/rolePolicy:RolePolicy":                                        {"policy"},
	"aws:sqs/queue:Queue":                                                  {"sqsManagedSseEnabled", "messageRetentionSeconds"},
	"aws:dynamodb/table:Table":                                             {"billingMode", "hashKey", "ttl", "serverSideEncryption", "pointInTimeRecovery"},
	"aws:cloudwatch/logGroup:LogGroup":                                     {"name", "retentionInDays"},
	"aws:cloudwatch/metricAlarm:MetricAlarm":                               {"namespace", "metricName", "statistic", "dimensions", "threshold", "period"},
	"aws:cloudwatch/dashboard:Dashboard":                                   {"dashboardName"},
	"aws:sns/topic:Topic":                                                  {"kmsMasterKeyId"},
	"aws:sns/topicSubscription:TopicSubscription":                          {"protocol", "endpoint"},
	"aws:kms/key:Key":                                                      {"enableKeyRotation"},
}

func printListing(w io.Writer, p *plan.Plan) {
	fmt.Fprintf(w, "Stack %s: %d resources\n\n", p.Stack, len(p.Resources))
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
	}
	fmt.Fprintln(w, "\nOutputs:")
	names := make([]string, 0, len(p.Outputs))
	for name := range p.Outputs {
		names = append(names, name)
	}
	sort.Strings(names)
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
