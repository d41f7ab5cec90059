// Command size is the capacity planner: from a load description (events/s, event sizes, users,
// latency) to a validated Pulumi.<stack>.yaml, a monthly bill and the limits the load meets.
//
//	go run ./scripts/size -rate 5000 -event-bytes 1000              # settings, bill, warnings
//	go run ./scripts/size -load load.yaml -write staging             # writes Pulumi.staging.yaml
//	go run ./scripts/size -rate 20000 -peak-rate 60000 -json         # one JSON document
//
// The settings are checked by infra/config, the rules `pulumi up` uses; the model and prices are
// internal/ops/capacity's, which the offline plan's -rate flags also use.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/streamfn/streamfn/infra/build"
	"github.com/streamfn/streamfn/internal/dev/cli"
	"github.com/streamfn/streamfn/internal/ops/capacity"
	"github.com/streamfn/streamfn/scripts/size/sizeview"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Document is the -json output.
type Document struct {
	Config         map[string]any      `json:"config"`
	MonthlyCostUSD capacity.Bill       `json:"monthlyCostUsd"`
	Comparison     capacity.Comparison `json:"comparison"`
	Warnings       []capacity.Warning  `json:"warnings"`
	Load           capacity.Load       `json:"load"`
	Estimate       capacity.Estimate   `json:"estimate"`
}

type options struct {
	loadFile, write, prices, dir string
	asJSON, force                bool
}

func flags(l *capacity.Load, o *options, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("size", flag.ContinueOnError)
	fs.SetOutput(stderr)
	l.Flags(fs)
	fs.StringVar(&o.loadFile, "load", "", "a YAML load file; its keys are these flags' names (rate: 5000, event-bytes: 1000, latency: 2s, ...); flags given too override it")
	fs.StringVar(&o.write, "write", "", "write the settings to Pulumi.`STACK`.yaml in the project directory")
	fs.BoolVar(&o.force, "force", false, "with -write, replace an existing Pulumi.<stack>.yaml")
	fs.StringVar(&o.prices, "prices", "", "a price `FILE` in the shape of internal/ops/capacity/prices-us-east-1.yaml (needed for regions other than us-east-1)")
	fs.BoolVar(&o.asJSON, "json", false, `print one JSON document {"config":{...},"monthlyCostUsd":{"total":...,"items":[...]},"comparison":{...},"warnings":[...]}`)
	fs.StringVar(&o.dir, "dir", "", "project directory holding Pulumi.yaml (default: found from the working directory)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: go run ./scripts/size [-rate N] [-event-bytes N] [-load FILE] [-write STACK] [-json] ...")
		fmt.Fprintln(stderr, "Sizes a stack for a load: Kinesis, Lambda and DynamoDB settings with their reasoning, a monthly bill, limits and risks.")
		fs.PrintDefaults()
		fmt.Fprintln(stderr, "Exit status: 0 a plan was made (warnings are printed with it); 1 a finding: the load is impossible (a user over one shard, a request over Lambda's invocation payload) or the plan fails validation; 2 a usage error (bad flag, unreadable file, a region without prices).")
	}
	return fs
}

func run(args []string, stdout, stderr io.Writer) int {
	l, o := capacity.DefaultLoad(), options{}
	if err := cli.ParseNoArgs(flags(&l, &o, stderr), args); err != nil {
		return cli.FlagExit(err)
	}
	if o.loadFile != "" {
		// The file over the defaults, then the flags given over the file.
		l = capacity.DefaultLoad()
		if err := l.ReadFile(o.loadFile); err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		if err := cli.ParseNoArgs(flags(&l, &o, stderr), args); err != nil {
			return cli.FlagExit(err)
		}
	}
	if o.dir == "" {
		found, err := build.ProjectDir("")
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		o.dir = found
	}
	prices, err := capacity.ForRegion(l.Region, o.prices)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	s, err := capacity.Size(l, o.dir, prices)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if o.write != "" {
		path := filepath.Join(o.dir, "Pulumi."+o.write+".yaml")
		if _, err := os.Stat(path); err == nil && !o.force {
			fmt.Fprintf(stderr, "%s exists; pass -force to replace it (compare first: go run ./scripts/size ... > /tmp/plan.txt)\n", path)
			return 2
		}
		if err := os.WriteFile(path, []byte(s.StackFile(o.write, l.Region)), 0o644); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintf(stderr, "wrote %s; check it with go run ./scripts/plan -stack %s\n", path, o.write)
	}
	if o.asJSON {
		doc := Document{Config: s.ConfigValues(), MonthlyCostUSD: s.Bill, Comparison: s.Comparison, Warnings: s.Warnings, Load: s.Load, Estimate: s.Estimate}
		if doc.Warnings == nil {
			doc.Warnings = []capacity.Warning{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(doc); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return 0
	}
	printSizing(stdout, s)
	return 0
}

func printSizing(w io.Writer, s *capacity.Sizing) {
	l := s.Load
	fmt.Fprintf(w, "Load: %.0f events/s (peak %.0f) of %d bytes (largest %d), %d users, heaviest %.2f%%, latency %s, %d events per request\n\n",
		l.Rate, l.PeakRate, l.EventBytes, l.MaxEventBytes, l.Users, 100*l.HotUserShare, l.Latency, l.Batch)
	fmt.Fprintln(w, "Settings:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, st := range s.Settings {
		fmt.Fprintf(tw, "  %s\t%v\t\n", st.Key, st.Value)
	}
	tw.Flush()
	e := s.Estimate
	fmt.Fprintf(w, "\nModel: %.1f invocations/s of %.0f records, %.3f writes per event, items of %d bytes (%d Seen entries, %d write units)\n",
		e.InvocationsPerS, e.BatchRecords, e.WritesPerEvent, e.ItemBytes, e.SeenEntries, e.WriteUnitsPerWrite)
	fmt.Fprintln(w)
	sizeview.PrintBill(w, s.Bill)
	sizeview.PrintComparison(w, s.Comparison)
	sizeview.PrintWarnings(w, s.Warnings)
}
