package plan_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamfn/streamfn/infra/config"
	"github.com/streamfn/streamfn/infra/names"
	"github.com/streamfn/streamfn/infra/pipeline"
	"github.com/streamfn/streamfn/infra/plan"
	"github.com/streamfn/streamfn/infra/stackconfig"
	"github.com/streamfn/streamfn/internal/ops/capacity"
)

func TestPlanDev(t *testing.T) {
	p, err := plan.Run(plan.Options{Dir: "../..", Stack: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Stack != "dev" || len(p.Resources) == 0 || len(p.Outputs) != 10 {
		t.Fatalf("plan for %q has %d resources and outputs %v", p.Stack, len(p.Resources), p.Outputs)
	}
	stream, ok := p.Find("aws:kinesis/stream:Stream", "stream")
	if !ok || stream.Parent != "pipeline" || stream.Inputs["shardCount"] != 1.0 {
		t.Errorf("stream = %+v (found %v), want shardCount 1 under pipeline", stream, ok)
	}
	for _, fn := range []string{"ingest", "processor"} {
		r, ok := p.Find("aws:lambda/function:Function", fn)
		if !ok {
			t.Fatalf("no function %s", fn)
		}
		if sha, _ := r.Inputs["codeSha256"].(string); sha == "" || sha != r.Inputs["sourceCodeHash"] {
			t.Errorf("%s codeSha256 = %v, want the archive hash %v", fn, r.Inputs["codeSha256"], r.Inputs["sourceCodeHash"])
		}
	}
	if _, ok := p.Find("aws:lambda/function:Function", "nope"); ok {
		t.Error("Find found a resource that does not exist")
	}
	if w := p.Warnings(); len(w) != 0 {
		t.Errorf("dev warns %v", w)
	}
	if p.Outputs["streamName"] != "stream-"+strings.TrimPrefix(p.Outputs["streamName"].(string), "stream-") ||
		!strings.HasPrefix(p.Outputs["poisonQueueUrl"].(string), "https://sqs.us-east-1.amazonaws.com/123456789012/poison-") {
		t.Errorf("outputs %v", p.Outputs)
	}
}

// tempProject copies Pulumi.yaml next to a stack file of the test's choosing.
func tempProject(t *testing.T, stack, body string) string {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join("../..", stackconfig.ProjectFile))
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string][]byte{stackconfig.ProjectFile: data, "Pulumi." + stack + ".yaml": []byte(body)} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestPlanInvalidConfig(t *testing.T) {
	dir := tempProject(t, "bad", "config:\n  streamfn:shardCount: 1\n  streamfn:parallelizationFactor: 12\n  streamfn:batchSize: 0\n")
	_, err := plan.Run(plan.Options{Dir: dir, Stack: "bad"})
	var invalid *config.ValidationError
	if !errors.As(err, &invalid) || len(invalid.Problems) != 2 {
		t.Fatalf("got %v, want a ValidationError with two problems", err)
	}
}

func TestPlanPublicURLWarns(t *testing.T) {
	p, err := plan.Run(plan.Options{Dir: "../..", Stack: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Warnings()) != 0 {
		t.Fatal("dev should not warn")
	}
	dir := buildableProject(t, "open", "config:\n  streamfn:shardCount: 1\n  streamfn:ingestAuth: NONE\n  streamfn:ingestConcurrency: 20\n  streamfn:processorConcurrency: 1\n")
	open, err := plan.Run(plan.Options{Dir: dir, Stack: "open"})
	if err != nil {
		t.Fatal(err)
	}
	if w := open.Warnings(); len(w) != 1 || !strings.Contains(w[0], "public") || !strings.Contains(w[0], "streamfn:ingestAuth AWS_IAM") {
		t.Errorf("warnings = %v, want the public URL warning with its fix", w)
	}
}

// buildableProject is a temporary project with one stack file, whose module files, functions
// and shared packages link to this repository's, so the program builds the real functions.
func buildableProject(t *testing.T, stack, body string) string {
	t.Helper()
	dir := tempProject(t, stack, body)
	for _, f := range []string{"go.mod", "go.sum", "functions", "internal"} {
		if err := os.Symlink(filepath.Join(mustAbs(t, "../.."), f), filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A stack name with a dot is valid in Pulumi; every name the plan gives must be valid in AWS.
func TestPlanForStackWithADot(t *testing.T) {
	dev, err := os.ReadFile("../../Pulumi.dev.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := buildableProject(t, "qa.eu", string(dev))
	p, err := plan.Run(plan.Options{Dir: dir, Stack: "qa.eu"})
	if err != nil {
		t.Fatalf("plan for stack qa.eu: %v", err)
	}
	dashboard, _ := p.Find("aws:cloudwatch/dashboard:Dashboard", "dashboard")
	name, _ := dashboard.Inputs["dashboardName"].(string)
	if err := names.Dashboard.Check(name); err != nil || !strings.HasPrefix(name, "streamfn-qa-eu-") {
		t.Errorf("dashboard name %q: %v", name, err)
	}
	logs, _ := p.Find("aws:cloudwatch/logGroup:LogGroup", "processor-logs")
	if got := logs.Inputs["name"]; got != "/streamfn/qa.eu/processor" {
		t.Errorf("log group %v, want /streamfn/qa.eu/processor", got)
	}
	if err := names.LogGroup.Check(logs.Inputs["name"].(string)); err != nil {
		t.Error(err)
	}
}

func TestPlanProdWarnsWithoutAlarmEmail(t *testing.T) {
	p, err := plan.Run(plan.Options{Dir: "../..", Stack: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	if w := p.Warnings(); len(w) != 1 || !strings.Contains(w[0], "pulumi config set streamfn:alarmEmail") {
		t.Errorf("prod warnings = %v, want the missing alarm e-mail", w)
	}
	if p.Requirements.LambdaConcurrentExecutions != 324 || p.Requirements.ReservedConcurrency != 224 {
		t.Errorf("prod requirements = %+v, want 224 reserved and a quota of 324", p.Requirements)
	}
	table, _ := p.Find("aws:dynamodb/table:Table", "features")
	if table.Options["protect"] != true {
		t.Errorf("prod table options = %v, want protect", table.Options)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// DEBUG logs echo rejected values, which may be personal data: a stack
// named prod warns about them, with the fix; dev (DEBUG by design) does not.
func TestPlanDebugLogsOnProdWarn(t *testing.T) {
	dir := buildableProject(t, "prod", "config:\n  streamfn:shardCount: 1\n  streamfn:logLevel: DEBUG\n  streamfn:alarmEmail: oncall@example.com\n")
	p, err := plan.Run(plan.Options{Dir: dir, Stack: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	if w := p.Warnings(); len(w) != 1 || w[0] != pipeline.DebugLogsOnProdWarning || !strings.Contains(w[0], "pulumi config set streamfn:logLevel INFO") {
		t.Errorf("warnings = %v, want the DEBUG-on-prod warning with its fix", w)
	}
	dev, err := plan.Run(plan.Options{Dir: "../..", Stack: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range dev.Warnings() {
		if w == pipeline.DebugLogsOnProdWarning {
			t.Error("dev warns about DEBUG logs; only a stack named prod should")
		}
	}
}

// The capacity planner bills the stack's alarms and dashboards; it counts what the program
// creates.
func TestCapacityCountsThePlansAlarms(t *testing.T) {
	for _, stack := range []string{"dev", "prod"} {
		p, err := plan.Run(plan.Options{Dir: "../..", Stack: stack})
		if err != nil {
			t.Fatal(err)
		}
		alarms, dashboards := p.Monitoring()
		if alarms != capacity.StackAlarms || dashboards != capacity.StackDashboards {
			t.Errorf("%s: %d alarms and %d dashboards; internal/ops/capacity bills %d and %d", stack, alarms, dashboards, capacity.StackAlarms, capacity.StackDashboards)
		}
		if p.Config == nil || p.Config.Region == "" {
			t.Errorf("%s: the plan carries no config", stack)
		}
	}
}

// Eight problems of three kinds (undeclared keys, values that do not parse,
// ranges and rules) come back in one pass, each once, with fixes that name
// the stack and are never computed from a value that is itself invalid.
func TestPlanReportsEveryProblemInOnePass(t *testing.T) {
	dir := tempProject(t, "bad", `config:
  streamfn:batchsize: 50
  streamfn:paralelizationFactor: 2
  streamfn:shardCount: two
  streamfn:bisectOnError: maybe
  streamfn:parallelizationFactor: 12
  streamfn:logLevel: info
  streamfn:retentionHours: 10
  streamfn:processorConcurrency: 0
`)
	_, err := plan.Run(plan.Options{Dir: dir, Stack: "bad"})
	var invalid *config.ValidationError
	if !errors.As(err, &invalid) {
		t.Fatalf("got %v, want a ValidationError", err)
	}
	msg := invalid.Error()
	lines := strings.Split(msg, "\n")
	if len(lines) != 8 || len(invalid.Problems) != 8 {
		t.Fatalf("%d problems, want 8, one line each:\n%s", len(invalid.Problems), msg)
	}
	for _, want := range []string{
		"streamfn:batchsize = 50: is set in Pulumi.bad.yaml but Pulumi.yaml declares no such key; did you mean streamfn:batchSize?; fix: pulumi config rm --stack bad streamfn:batchsize && pulumi config set --stack bad streamfn:batchSize 50",
		"streamfn:paralelizationFactor = 2: is set in Pulumi.bad.yaml but Pulumi.yaml declares no such key; did you mean streamfn:parallelizationFactor?",
		"streamfn:shardCount = two: must be a whole number; fix: pulumi config set --stack bad streamfn:shardCount <integer>",
		"streamfn:bisectOnError = maybe: must be true or false",
		"streamfn:parallelizationFactor = 12: must be 1..10; fix: pulumi config set --stack bad streamfn:parallelizationFactor 10",
		"streamfn:logLevel = info: must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL (exactly as AWS spells them); fix: pulumi config set --stack bad streamfn:logLevel INFO",
		"streamfn:retentionHours = 10: must be 24..8760",
		"streamfn:processorConcurrency = 0: must be -1 (unreserved) or at least shards x parallelizationFactor; fix: pulumi config set --stack bad streamfn:processorConcurrency -1",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("the report lacks %q:\n%s", want, msg)
		}
	}
	for _, p := range invalid.Problems {
		if p.Fix != "" && strings.Contains(config.WithStack(p.Fix, "bad"), "pulumi config") && !strings.Contains(config.WithStack(p.Fix, "bad"), "--stack bad") {
			t.Errorf("fix %q does not name the stack", p.Fix)
		}
	}
	if strings.Contains(msg, "120") || strings.Contains(msg, "x 12") {
		t.Errorf("a fix was computed from parallelizationFactor 12, which is invalid:\n%s", msg)
	}
}
