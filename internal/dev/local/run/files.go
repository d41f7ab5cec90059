package run

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"

	"github.com/streamfn/streamfn/infra/pipeline"
	"github.com/streamfn/streamfn/infra/plan"
	"github.com/streamfn/streamfn/internal/dev/local/deploy"
	"github.com/streamfn/streamfn/internal/ops/endpoints"
	"github.com/streamfn/streamfn/internal/ops/stackoutputs"
)

// publishEndpoints writes the run's stack outputs, with the local values of
// what differs from AWS (queue URLs, the Function URL), and the endpoints
// file that names them, and points .build/local/current at this run.
func publishEndpoints(opts Options, runDir string, p *plan.Plan, d *deploy.Deployment, set *emulatorSet, localURLs map[string]string, ingestURL, lambdaURL string) (string, error) {
	outputs := localOutputs(p.Outputs, localURLs, ingestURL)
	outputsPath := filepath.Join(runDir, "outputs.json")
	if err := outputs.Write(outputsPath); err != nil {
		return "", err
	}
	f := endpoints.New(opts.Stack, d.Region, outputsPath, map[string]string{
		endpoints.Kinesis:  set.kinesis.Endpoint,
		endpoints.DynamoDB: set.dynamodb.Endpoint,
		endpoints.SQS:      set.sqs.Endpoint,
		endpoints.S3:       set.s3Endpoint(),
		endpoints.Lambda:   lambdaURL,
	})
	return endpoints.Publish(opts.Root, runDir, f)
}

// localOutputs is the plan's stack outputs with every queue URL replaced by
// its local one and ingestUrl by the local Function URL.
func localOutputs(planned map[string]any, localURLs map[string]string, ingestURL string) stackoutputs.Outputs {
	out := stackoutputs.Outputs{}
	for k, v := range planned {
		if s, ok := v.(string); ok {
			if local, ok := localURLs[s]; ok {
				v = local
			}
		}
		out[k] = v
	}
	out[pipeline.OutputIngestURL] = ingestURL
	return out
}

// displayPath is path relative to the repository root when it is inside
// it: what a person at the root types.
func displayPath(root, path string) string {
	if rel, err := filepath.Rel(root, path); err == nil && filepath.IsLocal(rel) {
		return rel
	}
	return path
}

// keepRuns is how many run folders .build/local keeps: the newest, this
// one included.
const keepRuns = 5

var runDirPattern = regexp.MustCompile(`^\d{8}T\d{6}Z-(\d+)$`)

// pruneRuns removes all but the newest keep run folders under dir. A
// folder whose run still runs (its endpoints file is there and its process
// lives) stays whatever its age.
func pruneRuns(dir string, keep int) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var runs []string
	for _, e := range entries {
		if e.IsDir() && runDirPattern.MatchString(e.Name()) {
			runs = append(runs, e.Name())
		}
	}
	slices.Sort(runs) // the names start with the UTC start time
	var errs []error
	for _, name := range runs[:max(0, len(runs)-keep)] {
		path := filepath.Join(dir, name)
		pid, _ := strconv.Atoi(runDirPattern.FindStringSubmatch(name)[1])
		if _, err := os.Stat(filepath.Join(path, endpoints.FileName)); err == nil && endpoints.ProcessAlive(pid) {
			continue
		}
		errs = append(errs, os.RemoveAll(path))
	}
	return errors.Join(errs...)
}
