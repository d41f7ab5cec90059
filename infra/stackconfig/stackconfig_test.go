package stackconfig_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamfn/streamfn/infra/stackconfig"
)

const project = `name: demo
runtime: go
config:
  aws:region:
    value: us-east-1
  count:
    type: integer
    default: 2
    description: a number
  flag:
    type: boolean
    default: true
  label: shorthand
  tags:
    type: object
    default: {}
`

func writeProject(t *testing.T, stacks map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{"Pulumi.yaml": project}
	for stack, body := range stacks {
		files["Pulumi."+stack+".yaml"] = body
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestStackValuesOverrideDefaults(t *testing.T) {
	dir := writeProject(t, map[string]string{"dev": `config:
  aws:region: eu-west-1
  demo:count: 5
  demo:tags:
    team: data
`})
	got, err := stackconfig.Load(dir, "dev")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"aws:region": "eu-west-1",       // stack over the project value
		"demo:count": "5",               // stack over the default, as text
		"demo:flag":  "true",            // default
		"demo:label": "shorthand",       // shorthand project key is a default
		"demo:tags":  `{"team":"data"}`, // objects as JSON, as Pulumi passes them
	}
	if len(got) != len(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestProjectDeclarations(t *testing.T) {
	p, err := stackconfig.ReadProject(writeProject(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.Keys(), ","); got != "aws:region,demo:count,demo:flag,demo:label,demo:tags" {
		t.Errorf("keys = %s", got)
	}
	if d := p.Config["demo:count"]; d.Type != "integer" || d.Description != "a number" || d.Default != 2 {
		t.Errorf("demo:count declaration = %+v", d)
	}
	if d := p.Config["aws:region"]; d.Value != "us-east-1" || d.Default != nil {
		t.Errorf("aws:region declaration = %+v, want a value and no default", d)
	}
}

func TestStackFileProblems(t *testing.T) {
	tests := []struct {
		name, stackFile, want string
	}{
		{"undeclared project key", "config:\n  demo:cuont: 3\n", "demo:cuont = 3: is set in Pulumi.x.yaml but Pulumi.yaml declares no such key; did you mean demo:count?; fix: pulumi config rm --stack x demo:cuont && pulumi config set --stack x demo:count 3"},
		{"secret", "config:\n  demo:label:\n    secure: AAABAC==\n", "secret, which the offline tools cannot decrypt"},
		{"broken yaml", "config: [\n", "parsing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeProject(t, map[string]string{"x": tt.stackFile})
			_, err := stackconfig.Load(dir, "x")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

func TestMissingStackFile(t *testing.T) {
	_, err := stackconfig.Load(writeProject(t, nil), "staging")
	if err == nil || !strings.Contains(err.Error(), `stack "staging" has no settings file`) {
		t.Errorf("got %v, want an error naming the missing stack file", err)
	}
}

func TestRepositoryStacksLoad(t *testing.T) {
	for stack, want := range map[string]map[string]string{
		// From the stack files.
		"dev":  {"streamfn:shardCount": "1", "aws:region": "us-east-1", "streamfn:batchSize": "100"},
		"prod": {"streamfn:shardCount": "8", "aws:region": "us-east-1", "streamfn:parallelizationFactor": "2"},
	} {
		values, err := stackconfig.Load("../..", stack)
		if err != nil {
			t.Fatalf("stack %s: %v", stack, err)
		}
		for key, v := range want {
			if values[key] != v {
				t.Errorf("stack %s: %s = %q, want %q", stack, key, values[key], v)
			}
		}
		// A key neither stack sets comes from Pulumi.yaml's default.
		if values["streamfn:metricsNamespace"] != "streamfn" {
			t.Errorf("stack %s: metricsNamespace = %q, want Pulumi.yaml's default streamfn", stack, values["streamfn:metricsNamespace"])
		}
	}
}

// Every bad key of the stack file comes back, and the other keys' values
// with them, so that the caller can validate those too in the same pass.
// Only a near key is suggested.
func TestLoadAllKeepsGoingAndSuggestsOnlyNearKeys(t *testing.T) {
	dir := writeProject(t, map[string]string{"x": "config:\n  demo:Count: 5\n  demo:somethingElse: 1\n  demo:flag: false\n  demo:label:\n    secure: AAAB\n"})
	values, problems, err := stackconfig.LoadAll(dir, "x")
	if err != nil {
		t.Fatal(err)
	}
	if values["demo:flag"] != "false" || values["demo:count"] != "2" {
		t.Errorf("values %v: the valid key's value and the defaults must stay", values)
	}
	var got []string
	for _, p := range problems {
		got = append(got, p.String())
	}
	text := strings.Join(got, "\n")
	if len(problems) != 3 ||
		!strings.Contains(text, "demo:Count = 5: is set in Pulumi.x.yaml but Pulumi.yaml declares no such key; did you mean demo:count?") ||
		!strings.Contains(text, "demo:somethingElse = 1: is set in Pulumi.x.yaml but Pulumi.yaml declares no such key; fix: pulumi config rm demo:somethingElse") ||
		!strings.Contains(text, "demo:label = (secret)") {
		t.Errorf("problems:\n%s", text)
	}
}
