// Package lambdaenv runs Lambda functions on this machine the way Lambda
// runs them: each concurrent execution environment is one aws-lambda-rie
// process with the function's own bootstrap under it, started on demand up to
// the function's concurrency limit. Invocations beyond the limit are
// throttled, as in AWS. A chaos switch kills or freezes bootstraps
// mid-invocation so that retries and timeouts get exercised.
package lambdaenv

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// RIEPackage is the aws-lambda-rie command, pinned by go.mod's tool directive.
const RIEPackage = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"

// BuildRIE builds aws-lambda-rie from the module's tool directive into dir
// and returns the binary's path. Go's build cache makes a rebuild cheap.
func BuildRIE(ctx context.Context, root, dir string) (string, error) {
	out := filepath.Join(dir, "aws-lambda-rie")
	if err := goBuild(ctx, root, out, RIEPackage, nil); err != nil {
		return "", fmt.Errorf("building aws-lambda-rie (go.mod's tool directive pins it): %w", err)
	}
	return out, nil
}

// SupervisorPackage is the supervisor every execution environment runs
// under (see its doc).
const SupervisorPackage = "./internal/dev/local/lambdaenv/supervisor"

// BuildSupervisor builds the supervisor into dir and returns the binary's
// path.
func BuildSupervisor(ctx context.Context, root, dir string) (string, error) {
	out := filepath.Join(dir, "streamfn-supervisor")
	if err := goBuild(ctx, root, out, SupervisorPackage, nil); err != nil {
		return "", fmt.Errorf("building the environment supervisor: %w", err)
	}
	return out, nil
}

// BuildFunction builds functions/<name> for this machine into
// dir/<name>/bootstrap with the flags the stack program uses for Lambda
// (CGO off, -trimpath, the lambda.norpc tag), so that the same code runs.
func BuildFunction(ctx context.Context, root, dir, name string) (string, error) {
	out := filepath.Join(dir, name, "bootstrap")
	pkg := "./functions/" + name
	if err := goBuild(ctx, root, out, pkg, []string{"-tags", "lambda.norpc", "-ldflags", "-s -w -buildid="}); err != nil {
		return "", fmt.Errorf("building function %s (%s): %w", name, pkg, err)
	}
	return out, nil
}

func goBuild(ctx context.Context, root, out, pkg string, flags []string) error {
	args := append([]string{"build", "-trimpath", "-buildvcs=false", "-o", out}, flags...)
	args = append(args, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	var output bytes.Buffer
	cmd.Stdout = &output
	cmd.Stderr = &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, strings.TrimSpace(output.String()))
	}
	return nil
}
