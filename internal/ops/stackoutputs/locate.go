package stackoutputs

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/streamfn/streamfn/internal/ops/endpoints"
)

// Located is a pipeline a tool found: a deployed stack or a local run.
type Located struct {
	Stack   string
	Source  string // for people: "pulumi stack output --stack prod" or the endpoints file
	Outputs Outputs
	// Local is set for a local run; its endpoints file is then in this
	// process's environment (AWS_ENDPOINT_URL_*, region, dummy
	// credentials), where the SDK's default configuration reads it.
	Local bool
}

// NewFlagSet is the flag set of a tool that reads a pipeline: its errors,
// and its usage text followed by the flags on -h, go to stderr. It has the
// flags that choose the pipeline, as Locate takes them: -stack, a deployed
// stack, or -endpoints, a local run's endpoints file. With neither, the
// tool reads the running local run.
func NewFlagSet(name, usage string, stderr io.Writer, stack, endpointsPath *string) *flag.FlagSet {
	flags := flag.NewFlagSet(name, flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() {
		fmt.Fprint(stderr, usage)
		flags.PrintDefaults()
	}
	flags.StringVar(stack, "stack", "", "a deployed stack (its outputs from pulumi); empty = the local run")
	flags.StringVar(endpointsPath, "endpoints", "", "the local run's endpoints file (default "+endpoints.CurrentDir+"/"+endpoints.FileName+")")
	return flags
}

// Locate finds the outputs of a deployed stack (with stack, through the
// pulumi CLI in root) or of the running local run (through its endpoints
// file: endpointsPath, or the newest run's). The tools' one code path for
// AWS and the local run.
func Locate(ctx context.Context, root, stack, endpointsPath string) (Located, error) {
	if stack != "" && endpointsPath != "" {
		return Located{}, fmt.Errorf("give -stack (a deployed stack) or -endpoints (a local run), not both")
	}
	if stack != "" {
		outputs, err := FromPulumi(ctx, root, stack)
		return Located{Stack: stack, Source: "pulumi stack output --stack " + stack, Outputs: outputs}, err
	}
	path := endpointsPath
	if path == "" {
		path = endpoints.DefaultPath(root)
	}
	f, err := endpoints.Read(path)
	if err != nil {
		return Located{}, fmt.Errorf("%w (or read a deployed stack with -stack NAME)", err)
	}
	if err := f.CheckRunning(); err != nil {
		return Located{}, err
	}
	if err := f.Setenv(); err != nil {
		return Located{}, err
	}
	outputsPath := f.Values[endpoints.Outputs]
	if outputsPath == "" {
		return Located{}, fmt.Errorf("%s names no %s", path, endpoints.Outputs)
	}
	outputs, err := Read(outputsPath)
	return Located{Stack: f.Values[endpoints.Stack], Source: "local run, " + path, Outputs: outputs, Local: true}, err
}
