package stackoutputs

import (
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/streamfn/streamfn/internal/ops/endpoints"
)

// A local run is found through its endpoints file, whose values land in
// the environment the SDK reads; a missing run and a double target are
// clear errors.
func TestLocate(t *testing.T) {
	ctx := t.Context()
	if _, err := Locate(ctx, t.TempDir(), "prod", "x.env"); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("-stack and -endpoints: %v", err)
	}
	if _, err := Locate(ctx, t.TempDir(), "", ""); !errors.Is(err, endpoints.ErrNotRunning) {
		t.Errorf("no local run: %v, want ErrNotRunning", err)
	}

	dir := t.TempDir()
	outputsPath := filepath.Join(dir, "outputs.json")
	if err := (Outputs{"streamName": "s-1"}).Write(outputsPath); err != nil {
		t.Fatal(err)
	}
	f := endpoints.New("dev", "eu-west-1", outputsPath, map[string]string{endpoints.S3: "http://127.0.0.1:4566"})
	envPath := filepath.Join(dir, endpoints.FileName)
	if err := f.Write(envPath); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{endpoints.S3, endpoints.Region, endpoints.DefaultRegion, endpoints.AccessKeyID, endpoints.SecretAccessKey, endpoints.Stack, endpoints.Outputs, endpoints.RunPID} {
		t.Setenv(k, "") // restored when the test ends
	}
	got, err := Locate(ctx, t.TempDir(), "", envPath)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Local || got.Stack != "dev" || got.Outputs["streamName"] != "s-1" || !strings.Contains(got.Source, envPath) {
		t.Fatalf("located %+v", got)
	}
	if os.Getenv(endpoints.S3) != "http://127.0.0.1:4566" || os.Getenv("AWS_REGION") != "eu-west-1" {
		t.Fatalf("the environment holds %s=%q AWS_REGION=%q", endpoints.S3, os.Getenv(endpoints.S3), os.Getenv("AWS_REGION"))
	}

	// A file whose run was killed outright: every tool (inspect, redrive,
	// erase) says so through Locate, instead of "connection refused".
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Skipf("no true command: %v", err)
	}
	f.Values[endpoints.RunPID] = strconv.Itoa(gone.Process.Pid)
	if err := f.Write(envPath); err != nil {
		t.Fatal(err)
	}
	if _, err := Locate(ctx, t.TempDir(), "", envPath); err == nil || !strings.Contains(err.Error(), "no longer running") {
		t.Errorf("a file of a run that is gone: %v", err)
	}
}

// A tool's flag set: -stack and -endpoints fill what Locate takes, and -h
// prints the tool's usage, then the flags, naming the endpoints file's
// default place, to the tool's stderr.
func TestNewFlagSet(t *testing.T) {
	for _, c := range []struct {
		args                 []string
		stack, endpointsPath string
	}{
		{nil, "", ""},
		{[]string{"-stack", "prod"}, "prod", ""},
		{[]string{"-endpoints", "run/endpoints.env"}, "", "run/endpoints.env"},
	} {
		var stack, endpointsPath string
		flags := NewFlagSet("tool", "usage: tool\n", io.Discard, &stack, &endpointsPath)
		if err := flags.Parse(c.args); err != nil || stack != c.stack || endpointsPath != c.endpointsPath {
			t.Errorf("%q: -stack %q -endpoints %q (%v), want %q %q", c.args, stack, endpointsPath, err, c.stack, c.endpointsPath)
		}
	}
	var stderr strings.Builder
	flags := NewFlagSet("tool", "usage: tool\n", &stderr, new(string), new(string))
	if err := flags.Parse([]string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp", err)
	}
	help := stderr.String()
	if !strings.HasPrefix(help, "usage: tool\n") || !strings.Contains(help, "-stack") || !strings.Contains(help, endpoints.CurrentDir+"/"+endpoints.FileName) {
		t.Errorf("help %q: want the usage, then the flags with the default endpoints file", help)
	}
}
