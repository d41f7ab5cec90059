// Package runtest starts a whole local run for a test and points the AWS
// SDK's default configuration at it, as an operator's tool would find it.
package runtest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/streamfn/streamfn/internal/dev/emulators"
	"github.com/streamfn/streamfn/internal/dev/emulators/emutest"
	"github.com/streamfn/streamfn/internal/dev/local/lambdaenv"
	localrun "github.com/streamfn/streamfn/internal/dev/local/run"
	"github.com/streamfn/streamfn/internal/ops/endpoints"
)

// Run is a local run started by Start.
type Run struct {
	Root      string          // the module root
	Endpoints string          // the path of its endpoints file
	File      *endpoints.File // that file, whose variables are set in the process
	// Log is what the run printed; read it only once the test's cleanups
	// stopped the run (the run writes it until then).
	Log *bytes.Buffer
}

// Start runs the local pipeline with opts (Root, Stdout, Stderr and
// Published are set here) until the test ends. The endpoints file's
// variables are set in the process, so the SDK's default configuration
// sees only them, never the caller's AWS profile or credentials. It skips
// the test with -short, without Node.js, or where environments cannot run.
func Start(t *testing.T, opts localrun.Options) *Run {
	t.Helper()
	if testing.Short() {
		t.Skip("a whole local run")
	}
	if err := lambdaenv.CheckPlatform(); err != nil {
		t.Skip(err)
	}
	emutest.RequireNode(t)
	root, err := emulators.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	for _, k := range []string{"AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		endpoints.Kinesis, endpoints.DynamoDB, endpoints.SQS, endpoints.S3, endpoints.Lambda, endpoints.Outputs, endpoints.Stack} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	published := make(chan string, 1)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	log := &bytes.Buffer{} // the run writes it through one lock until it ends
	opts.Root, opts.Stdout, opts.Stderr = root, log, log
	opts.Published = func(path string) { published <- path }
	go func() { done <- localrun.Run(ctx, opts) }()
	// ended is how the run ended, read from done once: the cleanup and a
	// run that ended early both need it (a second receive would block the
	// test forever).
	ended := sync.OnceValue(func() error { return <-done })
	t.Cleanup(func() {
		stop()
		if err := ended(); err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("the local run: %v\n%s", err, log.String())
		}
	})
	var envFile string
	select {
	case envFile = <-published:
	case err := <-done:
		ended = func() error { return err }
		t.Fatalf("the local run ended before it ran: %v\n%s", err, log.String())
	case <-time.After(5 * time.Minute):
		stop()
		err := ended() // the log is the run's until it ends
		t.Fatalf("the local run did not start within 5 minutes (%v):\n%s", err, log.String())
	}
	f, err := endpoints.Read(envFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Setenv(); err != nil {
		t.Fatal(err)
	}
	return &Run{Root: root, Endpoints: envFile, File: f, Log: log}
}
