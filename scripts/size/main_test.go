package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamfn/streamfn/infra/config"
	"github.com/streamfn/streamfn/infra/stackconfig"
	"github.com/streamfn/streamfn/internal/dev/clitest"
)

// A project directory with the repository's Pulumi.yaml, so -write never touches the checkout.
func project(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile("../../Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func runSize(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// -json prints the document: config keys with typed values, a bill whose total is the
// sum of its items, the comparison and the warnings.
func TestJSONDocument(t *testing.T) {
	code, out, errOut := runSize(t, "-dir", project(t), "-rate", "5000", "-event-bytes", "1000", "-json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Config         map[string]any `json:"config"`
		MonthlyCostUSD struct {
			Total float64 `json:"total"`
			Items []struct {
				Service, Item, Unit string
				Quantity            float64
				USD                 float64 `json:"usd"`
			} `json:"items"`
		} `json:"monthlyCostUsd"`
		Comparison map[string]any `json:"comparison"`
		Warnings   []any          `json:"warnings"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Config["streamfn:shardCount"] != 8.0 || doc.Config["streamfn:streamMode"] != "PROVISIONED" {
		t.Errorf("config = %v", doc.Config)
	}
	sum := 0.0
	for _, it := range doc.MonthlyCostUSD.Items {
		sum += it.USD
	}
	if len(doc.MonthlyCostUSD.Items) < 10 || math.Abs(sum-doc.MonthlyCostUSD.Total) > 0.005 {
		t.Errorf("total %g, items (%d) sum to %g", doc.MonthlyCostUSD.Total, len(doc.MonthlyCostUSD.Items), sum)
	}
	var raw map[string]map[string]any
	_ = json.Unmarshal([]byte(out), &raw)
	first := raw["monthlyCostUsd"]["items"].([]any)[0].(map[string]any)
	for _, k := range []string{"service", "item", "quantity", "unit", "unitPriceUsd", "usd"} {
		if _, ok := first[k]; !ok {
			t.Errorf("item lacks %q: %v", k, first)
		}
	}
	if doc.Comparison["powertoolsTotalUsd"] == nil || doc.Warnings == nil {
		t.Errorf("comparison %v warnings %v", doc.Comparison, doc.Warnings)
	}
}

// -write writes Pulumi.<stack>.yaml with a comment on each value, which the program's own
// loader accepts; it does not replace a file without -force.
func TestWriteStack(t *testing.T) {
	dir := project(t)
	load := filepath.Join(dir, "load.yaml")
	if err := os.WriteFile(load, []byte("rate: 800\nevent-bytes: 2000\nusers: 20000\nlatency: 4s\nbatch: 20\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runSize(t, "-dir", dir, "-load", load, "-rate", "1200", "-write", "staging")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "Monthly cost") || !strings.Contains(out, "Powertools") {
		t.Errorf("listing lacks the bill or the comparison:\n%s", out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "Pulumi.staging.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	if !strings.Contains(text, "1200 events/s") || !strings.Contains(text, "2000 bytes") {
		t.Errorf("the flag did not override the load file, or the file was not read:\n%s", text)
	}
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		if strings.HasPrefix(line, "  streamfn:") && !strings.HasPrefix(lines[i-1], "  #") {
			t.Errorf("no comment above %q", line)
		}
	}
	values, err := stackconfig.Load(dir, "staging")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := values[k]; return v, ok })
	if err != nil {
		t.Fatalf("the written stack fails validation: %v", err)
	}
	if cfg.BatchWindowSeconds != 2 {
		t.Errorf("batchWindowSeconds %d for a 4 s latency target", cfg.BatchWindowSeconds)
	}
	if code, _, errOut := runSize(t, "-dir", dir, "-write", "staging"); code != 2 || !strings.Contains(errOut, "-force") {
		t.Errorf("overwrite without -force: exit %d, %s", code, errOut)
	}
	if code, _, errOut := runSize(t, "-dir", dir, "-write", "staging", "-force"); code != 0 {
		t.Errorf("overwrite with -force: exit %d, %s", code, errOut)
	}
}

func TestExitCodes(t *testing.T) {
	dir := project(t)
	typo := filepath.Join(dir, "typo.yaml")
	if err := os.WriteFile(typo, []byte("rate: 5000\nevent_bytes: 1000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-rate", "5000", "-hot-user-share", "0.5"}, 1, "cannot spread over shards"},
		{[]string{"-batch", "500", "-max-event-bytes", "50000"}, 1, "over Lambda's invocation payload of 6291456 bytes"},
		{[]string{"-region", "eu-west-1"}, 2, "-prices FILE"},
		{[]string{"-nope"}, 2, "flag provided but not defined"},
		{[]string{"-load", filepath.Join(dir, "missing.yaml")}, 2, "reading the load file"},
		{[]string{"-h"}, 0, "Exit status: 0"}, // asked for: the usage is the answer
		{[]string{"-load", typo}, 2, "keys are the flag names"},
	} {
		code, _, errOut := runSize(t, append([]string{"-dir", dir}, c.args...)...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %q; want %d and %q", c.args, code, errOut, c.code, c.want)
		}
	}
}

// Another region is priced from a price file of the same shape, and only from one for it.
func TestPricesFileForAnotherRegion(t *testing.T) {
	dir := project(t)
	data, err := os.ReadFile("../../internal/ops/capacity/prices-us-east-1.yaml")
	if err != nil {
		t.Fatal(err)
	}
	eu := strings.Replace(string(data), "region: us-east-1", "region: eu-west-1", 1)
	eu = strings.Replace(eu, "kinesis/shard-hour: {usd: 0.015,", "kinesis/shard-hour: {usd: 0.0165,", 1)
	path := filepath.Join(dir, "eu.yaml")
	if err := os.WriteFile(path, []byte(eu), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runSize(t, "-dir", dir, "-region", "eu-west-1", "-prices", path, "-json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, `"unitPriceUsd": 0.0165`) || !strings.Contains(out, `"aws:region": "eu-west-1"`) {
		t.Errorf("the eu-west-1 file's price or region is not used:\n%.2000s", out)
	}
	if code, _, errOut := runSize(t, "-dir", dir, "-region", "us-west-2", "-prices", path); code != 2 || !strings.Contains(errOut, "is for eu-west-1") {
		t.Errorf("a file for another region: exit %d, %s", code, errOut)
	}
	broken := filepath.Join(dir, "broken.yaml")
	_ = os.WriteFile(broken, []byte("region: eu-west-1\ndate: x\nprices: {}\n"), 0o644)
	if code, _, errOut := runSize(t, "-dir", dir, "-region", "eu-west-1", "-prices", broken); code != 2 || !strings.Contains(errOut, "lacks a price") {
		t.Errorf("a file without prices: exit %d, %s", code, errOut)
	}
}

// -h asks for the usage: exit 0 and the usage names the exit codes; a bad
// flag is a usage error, 2.
func TestHelpAndBadFlagExitCodes(t *testing.T) {
	clitest.CheckUsage(t, run)
	clitest.CheckNoArgs(t, run)
}
