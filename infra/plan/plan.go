// Package plan is the offline preview of a stack: it runs the real Pulumi program under the
// realistic mocks of infra/mocks, with the stack's config merged over Pulumi.yaml's defaults,
// and returns every resource with its exact inputs and the resolved stack outputs.
package plan

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"

	"github.com/streamfn/streamfn/infra/config"
	"github.com/streamfn/streamfn/infra/mocks"
	"github.com/streamfn/streamfn/infra/pipeline"
	"github.com/streamfn/streamfn/infra/program"
	"github.com/streamfn/streamfn/infra/stackconfig"
)

// Resource is one resource the program registers.
type Resource struct {
	Type   string         `json:"type"`             // e.g. "aws:kinesis/stream:Stream"
	Name   string         `json:"name"`             // logical name
	Parent string         `json:"parent,omitempty"` // parent's logical name
	Inputs map[string]any `json:"inputs"`           // exact inputs, Pulumi property names, JSON-friendly values
	// Options are the resource options the program set (protect, deleteBeforeReplace,
	// dependsOn, ...), read from the register request; absent when none differ from Pulumi's
	// defaults.
	Options map[string]any `json:"options,omitempty"`
}

// Plan is a stack's resources and outputs.
type Plan struct {
	Stack        string         `json:"-"`
	Resources    []Resource     `json:"resources"`
	Outputs      map[string]any `json:"outputs"` // the stack outputs, resolved
	Requirements Requirements   `json:"requirements"`
	// Config is the stack's configuration as the program loaded and validated it.
	Config *config.Config `json:"-"`
}

// Requirements are what the AWS account must allow before `pulumi up` can succeed.
type Requirements struct {
	// ReservedConcurrency is what the stack reserves for its functions.
	ReservedConcurrency int `json:"reservedConcurrency"`
	// LambdaConcurrentExecutions is the smallest account quota (Lambda's "Concurrent
	// executions") that takes the reservations and still leaves the 100 unreserved
	// executions Lambda insists on. Other functions' reservations in the account add to it.
	LambdaConcurrentExecutions int `json:"lambdaConcurrentExecutions"`
}

const functionType = "aws:lambda/function:Function"

// Options says which stack to plan.
type Options struct {
	Dir   string // the project directory holding Pulumi.yaml
	Stack string // e.g. "dev"
}

// Run plans a stack. Configuration errors come back as *config.ValidationError.
func Run(opts Options) (*Plan, error) {
	if opts.Stack == "" {
		return nil, fmt.Errorf("no stack given; pass one such as dev")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	project, err := stackconfig.ReadProject(dir)
	if err != nil {
		return nil, err
	}
	values, problems, err := stackconfig.LoadAll(dir, opts.Stack)
	if err != nil {
		return nil, err
	}
	// Every problem in one pass: the stack file's keys, then every value the program's
	// config.Load reads and its rules, before the program runs.
	if _, err := config.Load(func(key string) (string, bool) { v, ok := values[key]; return v, ok }); err != nil || len(problems) > 0 {
		var invalid *config.ValidationError
		switch {
		case errors.As(err, &invalid):
			problems = append(problems, invalid.Problems...)
		case err != nil:
			return nil, err
		}
		return nil, &config.ValidationError{Stack: opts.Stack, Problems: problems}
	}
	monitor := mocks.New(mocks.Options{Project: project.Name, Stack: opts.Stack, Region: values[config.RegionKey]})

	var outputs map[string]any
	err = pulumi.RunErr(func(ctx *pulumi.Context) error {
		if err := program.Run(ctx); err != nil {
			return err
		}
		outputs, err = awaitExports(ctx)
		return err
	}, pulumi.WithMocks(project.Name, opts.Stack, monitor), func(info *pulumi.RunInfo) {
		info.Config = values
		info.RootDirectory = dir
	})
	if err != nil {
		return nil, err
	}

	// The program has validated these values already; the plan reads the same typed config.
	cfg, err := config.Load(func(key string) (string, bool) { v, ok := values[key]; return v, ok })
	if err != nil {
		return nil, err
	}
	p := &Plan{Stack: opts.Stack, Outputs: outputs, Config: cfg, Requirements: Requirements{
		ReservedConcurrency:        cfg.ReservedConcurrency(),
		LambdaConcurrentExecutions: cfg.RequiredAccountConcurrency(),
	}}
	for _, r := range monitor.Registrations() {
		inputs := r.Inputs
		if r.Type == functionType {
			// The hash of the archive the function would ship, as Lambda reports CodeSha256.
			inputs["codeSha256"] = r.Outputs["codeSha256"]
		}
		p.Resources = append(p.Resources, Resource{Type: r.Type, Name: r.Name, Parent: r.Parent, Inputs: inputs, Options: r.Options})
	}
	return p, nil
}

// Find returns the resource with the given type token and logical name.
func (p *Plan) Find(typ, name string) (Resource, bool) {
	for _, r := range p.Resources {
		if r.Type == typ && r.Name == name {
			return r, true
		}
	}
	return Resource{}, false
}

// Monitoring counts the CloudWatch alarms and dashboards the stack creates:
// what the capacity planner bills for monitoring.
func (p *Plan) Monitoring() (alarms, dashboards int) {
	for _, r := range p.Resources {
		switch r.Type {
		case "aws:cloudwatch/metricAlarm:MetricAlarm":
			alarms++
		case "aws:cloudwatch/dashboard:Dashboard":
			dashboards++
		}
	}
	return alarms, dashboards
}

// awaitExports resolves every stack output the program exported.
func awaitExports(ctx *pulumi.Context) (map[string]any, error) {
	exports := ctx.GetCurrentExportMap()
	out := make(map[string]any, len(exports))
	for _, name := range slices.Sorted(maps.Keys(exports)) {
		result, err := internals.UnsafeAwaitOutput(ctx.Context(), pulumi.ToOutput(exports[name]))
		if err != nil {
			return nil, fmt.Errorf("resolving stack output %s: %w", name, err)
		}
		if !result.Known {
			return nil, fmt.Errorf("stack output %s is unknown under the mocks; the mock must compute it", name)
		}
		v, err := plainValue(result.Value)
		if err != nil {
			return nil, fmt.Errorf("stack output %s: %w", name, err)
		}
		out[name] = v
	}
	return out, nil
}

func plainValue(v any) (any, error) {
	pv := resource.NewPropertyValue(v)
	return mocks.ToJSON(pv), nil
}

// Warnings returns what a real run would warn about. The mock engine drops the program's
// log messages, so the plan reads the same facts from the resources it registered.
func (p *Plan) Warnings() []string {
	var warnings []string
	if _, public := p.Find("aws:lambda/permission:Permission", pipeline.PublicURLPermission); public {
		warnings = append(warnings, pipeline.PublicURLWarning)
	}
	if _, subscribed := p.Find("aws:sns/topicSubscription:TopicSubscription", "alarms-email"); !subscribed && p.Stack == pipeline.ProdStack {
		warnings = append(warnings, pipeline.NoAlarmEmailWarning)
	}
	if fn, ok := p.Find("aws:lambda/function:Function", "processor"); ok && p.Stack == pipeline.ProdStack {
		if logging, _ := fn.Inputs["loggingConfig"].(map[string]any); logging != nil {
			if level, _ := logging["applicationLogLevel"].(string); pipeline.LogsPersonalData(level) {
				warnings = append(warnings, pipeline.DebugLogsOnProdWarning)
			}
		}
	}
	return warnings
}
