package ci

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const workflows = "../../../.github/workflows"

type workflow struct {
	Permissions any            `yaml:"permissions"`
	Jobs        map[string]job `yaml:"jobs"`
}

type job struct {
	Permissions map[string]string `yaml:"permissions"`
	Environment string            `yaml:"environment"`
	Strategy    struct {
		Matrix struct {
			Include []map[string]string `yaml:"include"`
		} `yaml:"matrix"`
	} `yaml:"strategy"`
	Steps []struct {
		Uses string            `yaml:"uses"`
		Run  string            `yaml:"run"`
		With map[string]string `yaml:"with"`
	} `yaml:"steps"`
}

func load(t *testing.T) map[string]workflow {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(workflows, "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no workflows in %s: %v", workflows, err)
	}
	out := map[string]workflow{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var w workflow
		if err := yaml.Unmarshal(raw, &w); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = w
	}
	return out
}

// pinned is a use of an action by commit SHA with its release in a comment.
var pinned = regexp.MustCompile(`(?m)^\s*(?:-\s+)?uses:\s+([\w.-]+/[\w.-]+)@([0-9a-f]{40})\s+#\s+v\d+\.\d+\.\d+\s*$`)

// Every action is pinned by a full commit SHA, with its version in a comment.
func TestActionsArePinnedBySHA(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(workflows, "*.yml"))
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		for _, line := range strings.Split(string(raw), "\n") {
			if strings.Contains(line, "uses:") && !pinned.MatchString(line) {
				t.Errorf("%s: %q is not pinned as owner/repo@<40-hex SHA> # vX.Y.Z", filepath.Base(f), strings.TrimSpace(line))
			}
		}
	}
}

// Permissions are granted per job, none at the top; id-token: write only to
// jobs that assume an AWS role, and never to a job that runs npm (.ci/run
// runs npm ci).
func TestLeastPermissionsPerJob(t *testing.T) {
	for name, w := range load(t) {
		if m, ok := w.Permissions.(map[string]any); !ok || len(m) != 0 {
			t.Errorf("%s: top-level permissions %v, want {} (each job says what it needs)", name, w.Permissions)
		}
		for jobName, j := range w.Jobs {
			if j.Permissions == nil {
				t.Errorf("%s/%s: no permissions block", name, jobName)
			}
			assumesRole, runsNPM := false, false
			for _, s := range j.Steps {
				assumesRole = assumesRole || strings.HasPrefix(s.Uses, "aws-actions/configure-aws-credentials@")
				runsNPM = runsNPM || strings.Contains(s.Run, "npm") || strings.Contains(s.Run, ".ci/run") || strings.Contains(s.Run, "make ")
			}
			if token := j.Permissions["id-token"] == "write"; token != assumesRole || (token && runsNPM) {
				t.Errorf("%s/%s: id-token %q, assumes an AWS role %v, runs npm %v", name, jobName, j.Permissions["id-token"], assumesRole, runsNPM)
			}
			for scope, level := range j.Permissions {
				if level == "write" && scope != "id-token" && scope != "pull-requests" {
					t.Errorf("%s/%s: %s: write is more than a test or preview needs", name, jobName, scope)
				}
			}
		}
	}
}

// The prod preview runs pull-request code with prod read credentials, so it
// runs in the environment prod-preview (required reviewers, README "CI").
func TestProdPreviewIsGated(t *testing.T) {
	preview := load(t)["preview.yml"].Jobs["preview"]
	if preview.Environment != "${{ matrix.environment }}" {
		t.Fatalf("preview job environment %q, want it from the matrix", preview.Environment)
	}
	gated := false
	for _, entry := range preview.Strategy.Matrix.Include {
		if entry["stack"] == "prod" {
			gated = entry["environment"] == "prod-preview"
		}
	}
	if !gated {
		t.Errorf("the prod preview does not run in the environment prod-preview: %v", preview.Strategy.Matrix.Include)
	}
}

// The workflows install the Pulumi CLI of the SDK in go.mod, not the latest.
func TestPulumiCLIIsPinnedToTheSDK(t *testing.T) {
	mod, err := os.ReadFile("../../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	sdk := regexp.MustCompile(`github\.com/pulumi/pulumi/sdk/v3 v(\S+)`).FindSubmatch(mod)
	if sdk == nil {
		t.Fatal("go.mod has no pulumi sdk/v3")
	}
	uses := 0
	for name, w := range load(t) {
		for jobName, j := range w.Jobs {
			for _, s := range j.Steps {
				if strings.HasPrefix(s.Uses, "pulumi/actions@") {
					uses++
					if s.With["pulumi-version"] != string(sdk[1]) {
						t.Errorf("%s/%s: pulumi-version %q, want the SDK's %s", name, jobName, s.With["pulumi-version"], sdk[1])
					}
				}
			}
		}
	}
	if uses == 0 {
		t.Error("no workflow runs pulumi/actions")
	}
}

// govulncheck runs in GitHub (it needs its database), at a pinned version.
func TestGovulncheckRunsInGitHub(t *testing.T) {
	found := false
	for _, w := range load(t) {
		for _, j := range w.Jobs {
			for _, s := range j.Steps {
				found = found || regexp.MustCompile(`govulncheck@v\d+\.\d+\.\d+ \./\.\.\.`).MatchString(s.Run)
			}
		}
	}
	if !found {
		t.Error("no workflow runs govulncheck@<version> ./...")
	}
}
