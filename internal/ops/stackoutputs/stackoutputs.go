// Package stackoutputs reads a stack's outputs (streamName, tableName,
// poisonQueueUrl, ...), the names infra/program exports: from the Pulumi
// CLI for a deployed stack, or from the file a local run writes in the same
// JSON shape. Tools find the pipeline's resources through them and never
// rebuild a name from config.
package stackoutputs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
)

// Outputs maps each output name to its value, as
// `pulumi stack output --json` prints them.
type Outputs map[string]any

// Read parses a file holding `pulumi stack output --json`'s document.
func Read(path string) (Outputs, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading stack outputs: %w", err)
	}
	var o Outputs
	if err := json.Unmarshal(data, &o); err != nil {
		return nil, fmt.Errorf("%s: not a stack outputs document: %w", path, err)
	}
	return o, nil
}

// Write stores the outputs in the same shape.
func (o Outputs) Write(path string) error {
	data, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// FromPulumi runs `pulumi stack output --json --stack <stack>` in dir.
func FromPulumi(ctx context.Context, dir, stack string) (Outputs, error) {
	if _, err := exec.LookPath("pulumi"); err != nil {
		return nil, errors.New("the pulumi CLI is not on PATH: install it to read a deployed stack's outputs, or point the tool at a local run's endpoints file")
	}
	cmd := exec.CommandContext(ctx, "pulumi", "stack", "output", "--json", "--stack", stack)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("pulumi stack output --stack %s: %v: %s", stack, err, strings.TrimSpace(stderr.String()))
	}
	var o Outputs
	if err := json.Unmarshal(out, &o); err != nil {
		return nil, fmt.Errorf("pulumi stack output --stack %s printed no JSON object: %w", stack, err)
	}
	return o, nil
}

// String is one output that must be a non-empty string.
func (o Outputs) String(name string) (string, error) {
	v, ok := o[name]
	if !ok {
		return "", fmt.Errorf("the stack has no output %q (it has: %s); is it deployed with this version of the program?", name, strings.Join(o.names(), ", "))
	}
	s, ok := v.(string)
	if !ok || s == "" {
		return "", fmt.Errorf("stack output %q is %v, not a non-empty string", name, v)
	}
	return s, nil
}

func (o Outputs) names() []string {
	return slices.Sorted(maps.Keys(o))
}
