package main

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Without STREAM_NAME the function fails its init with one clear line and
// exit status 1, not a panic: the test runs main in a child process.
func TestMissingSettingsFailInitClearly(t *testing.T) {
	if os.Getenv("INGEST_TEST_RUN_MAIN") == "1" {
		main()
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestMissingSettingsFailInitClearly$")
	cmd.Env = []string{"INGEST_TEST_RUN_MAIN=1", "AWS_LAMBDA_LOG_FORMAT=JSON", "METRICS_NAMESPACE=streamfn"}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("want exit status 1, got %v\n%s", err, out)
	}
	want := `{"timestamp":"`
	line := strings.TrimSpace(string(out))
	if strings.Count(line, "\n") != 0 || !strings.HasPrefix(line, want) ||
		!strings.Contains(line, `"level":"ERROR","message":"ingest cannot start","error":"configuration error:\n  STREAM_NAME is not set: it must hold the name of the Kinesis data stream that ingest writes events to"}`) {
		t.Errorf("want one JSON log line naming STREAM_NAME, got:\n%s", out)
	}
	if strings.Contains(line, "panic") || strings.Contains(line, "goroutine") {
		t.Errorf("init panicked:\n%s", out)
	}
}
