package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamfn/streamfn/internal/dev/clitest"
)

func TestJSONOutput(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-stack", "dev", "-json", "-dir", "../.."}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	var doc struct {
		Resources []struct {
			Type    string         `json:"type"`
			Name    string         `json:"name"`
			Parent  string         `json:"parent"`
			Inputs  map[string]any `json:"inputs"`
			Options map[string]any `json:"options"`
		} `json:"resources"`
		Outputs      map[string]any `json:"outputs"`
		Requirements struct {
			ReservedConcurrency        int `json:"reservedConcurrency"`
			LambdaConcurrentExecutions int `json:"lambdaConcurrentExecutions"`
		} `json:"requirements"`
	}
	dec := json.NewDecoder(&stdout)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("stdout is not the plan document: %v", err)
	}
	if dec.More() {
		t.Error("stdout holds more than one JSON document")
	}
	inputs := func(typ, name string) map[string]any {
		for _, r := range doc.Resources {
			if r.Type == typ && r.Name == name {
				return r.Inputs
			}
		}
		t.Fatalf("no %s %s in the plan", typ, name)
		return nil
	}
	mapping := inputs("aws:lambda/eventSourceMapping:EventSourceMapping", "processor-stream")
	for _, key := range []string{"batchSize", "parallelizationFactor", "maximumBatchingWindowInSeconds", "bisectBatchOnFunctionError"} {
		if _, ok := mapping[key]; !ok {
			t.Errorf("mapping inputs lack the Pulumi property %s: %v", key, mapping)
		}
	}
	policy, _ := inputs("aws:iam/rolePolicy:RolePolicy", "processor-policy")["policy"].(string)
	if !json.Valid([]byte(policy)) || !strings.Contains(policy, `"Statement"`) {
		t.Errorf("policy is not a JSON document string: %v", policy)
	}
	for _, fn := range []string{"ingest", "processor"} {
		if sha, _ := inputs("aws:lambda/function:Function", fn)["codeSha256"].(string); len(sha) != 44 {
			t.Errorf("%s codeSha256 = %q, want a base64 SHA-256", fn, sha)
		}
	}
	if len(doc.Outputs) != 10 || doc.Outputs["ingestUrl"] == "" {
		t.Errorf("outputs = %v", doc.Outputs)
	}
	// Each resource's options, as the program set them.
	for _, r := range doc.Resources {
		if r.Type == "aws:lambda/eventSourceMapping:EventSourceMapping" && r.Options["deleteBeforeReplace"] != true {
			t.Errorf("mapping options = %v, want deleteBeforeReplace", r.Options)
		}
		if r.Type == "aws:kinesis/stream:Stream" && r.Options["protect"] != nil {
			t.Errorf("dev's stream options = %v, want it unprotected", r.Options)
		}
	}
	if doc.Requirements.LambdaConcurrentExecutions != 100 {
		t.Errorf("dev reserves nothing, so needs the 100 Lambda keeps: %+v", doc.Requirements)
	}
}

func TestListing(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-stack", "prod", "-dir", "../.."}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"aws:kinesis/stream:Stream  stream  (parent: pipeline)",
		"shardCount: 8",
		"aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig  ingest-provisioned",
		"Outputs:",
		"dashboardUrl",
		`options: {"protect":true}`,
		`options: {"deleteBeforeReplace":true,"dependsOn":["processor-policy"]}`,
		"Account: a Lambda concurrent-executions quota of at least 324",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("listing lacks %q", want)
		}
	}
}

func TestInvalidConfigPrintsOnlyTheErrors(t *testing.T) {
	dir := t.TempDir()
	project, err := os.ReadFile("../../Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"Pulumi.yaml":     string(project),
		"Pulumi.bad.yaml": "config:\n  streamfn:shardCount: 1\n  streamfn:parallelizationFactor: 12\n  streamfn:logRetentionDays: 10\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-stack", "bad", "-dir", dir, "-json"}, &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout should be empty, got:\n%s", stdout.String())
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want exactly the two errors, got:\n%s", stderr.String())
	}
	if !strings.HasPrefix(lines[0], "streamfn:parallelizationFactor = 12: must be 1..10") ||
		!strings.HasPrefix(lines[1], "streamfn:logRetentionDays = 10:") {
		t.Errorf("errors:\n%s", stderr.String())
	}
}

// The deploy workflow's pre-flight: a quota below what the stack needs is a finding (exit 1)
// that names the number needed.
func TestAccountConcurrencyPreflight(t *testing.T) {
	for _, tt := range []struct {
		quota    string
		wantCode int
	}{{"1000", 0}, {"324", 0}, {"323", 1}, {"50", 1}} {
		var stdout, stderr bytes.Buffer
		code := run([]string{"-stack", "prod", "-dir", "../..", "-json", "-account-concurrency", tt.quota}, &stdout, &stderr)
		if code != tt.wantCode {
			t.Errorf("quota %s: exit %d, want %d; stderr:\n%s", tt.quota, code, tt.wantCode, stderr.String())
		}
		if tt.wantCode == 1 && !strings.Contains(stderr.String(), "at least 324") {
			t.Errorf("quota %s: the message does not give the number needed:\n%s", tt.quota, stderr.String())
		}
		if !strings.Contains(stderr.String(), "streamfn:alarmEmail is empty on the prod stack") {
			t.Errorf("prod without alarmEmail does not warn:\n%s", stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-account-concurrency", "x"}, &stdout, &stderr); code != 2 {
		t.Errorf("a bad flag exits %d, want 2", code)
	}
}

// `GOEXPERIMENT=jsonv2 make plan` ships the same archives as `make plan`: the build clears
// the caller's experiments.
func TestCodeHashIgnoresTheCallersGOEXPERIMENT(t *testing.T) {
	hashes := func() string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := run([]string{"-stack", "dev", "-json", "-dir", "../.."}, &stdout, &stderr); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		var doc struct {
			Resources []struct {
				Name   string         `json:"name"`
				Inputs map[string]any `json:"inputs"`
			} `json:"resources"`
		}
		if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range doc.Resources {
			if sha, ok := r.Inputs["codeSha256"].(string); ok {
				out = append(out, r.Name+"="+sha)
			}
		}
		return strings.Join(out, " ")
	}
	t.Setenv("GOEXPERIMENT", "")
	plain := hashes()
	t.Setenv("GOEXPERIMENT", "jsonv2")
	if got := hashes(); got != plain || plain == "" {
		t.Errorf("GOEXPERIMENT=jsonv2 ships %s, without it %s", got, plain)
	}
}

// The cost flags price the stack as configured, with the planner's model, and flag settings
// the load would throttle (exit 1); prod carries its design load.
func TestCostFlags(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-stack", "prod", "-dir", "../..", "-json", "-rate", "5000", "-event-bytes", "1000"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var doc struct {
		Resources []any `json:"resources"`
		Bill      struct {
			Total float64 `json:"total"`
			Items []struct {
				Service string  `json:"service"`
				Item    string  `json:"item"`
				USD     float64 `json:"usd"`
			} `json:"items"`
		} `json:"monthlyCostUsd"`
		Warnings []map[string]string `json:"costWarnings"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	var extended bool
	for _, it := range doc.Bill.Items {
		sum += it.USD
		extended = extended || it.Item == "extended retention" // prod keeps 72 h
	}
	if len(doc.Resources) == 0 || doc.Bill.Total <= 0 || math.Abs(sum-doc.Bill.Total) > 0.005 || !extended || len(doc.Warnings) != 0 {
		t.Errorf("resources %d, total %g (items %g), extended retention %v, warnings %v", len(doc.Resources), doc.Bill.Total, sum, extended, doc.Warnings)
	}

	stdout.Reset()
	stderr.Reset()
	code := run([]string{"-stack", "prod", "-dir", "../..", "-rate", "20000", "-users", "100000"}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stdout.String(), "throttle-stream-writes") || !strings.Contains(stdout.String(), "Monthly cost") ||
		!strings.Contains(stderr.String(), "would throttle") {
		t.Errorf("4x prod's load: exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	if code := run([]string{"-stack", "prod", "-dir", "../..", "-rate", "5000", "-hot-user-share", "0.9"}, &stdout, &stderr); code != 1 {
		t.Errorf("an impossible load: exit %d", code)
	}
}

// -h asks for the usage: exit 0 and the usage names the exit codes; a bad
// flag is a usage error, 2.
func TestHelpAndBadFlagExitCodes(t *testing.T) {
	clitest.CheckUsage(t, run)
	clitest.CheckNoArgs(t, run)
}

// Negative values and a stack without settings are usage errors, not "not
// given" or a finding.
func TestNegativeValuesAreUsageErrors(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-stack", "nosuch", "-dir", "../.."}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), `stack "nosuch" has no settings file`) {
		t.Errorf("-stack nosuch: exit %d, %q; want 2 and the missing file named", code, stderr.String())
	}
	for _, args := range [][]string{{"-rate", "-5"}, {"-account-concurrency", "-3"}} {
		var stdout, stderr bytes.Buffer
		if code := run(append([]string{"-stack", "dev", "-dir", "../.."}, args...), &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), args[0]+" "+args[1]) {
			t.Errorf("%v: exit %d, %q; want 2 and the flag named", args, code, stderr.String())
		}
	}
}
