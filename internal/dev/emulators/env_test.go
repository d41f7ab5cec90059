package emulators

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestChildEnvKeepsOnlyWhatNodeNeeds(t *testing.T) {
	got := childEnv([]string{
		"PATH=/usr/bin", "HOME=/home/me", "LANG=C.UTF-8", "LC_ALL=C", "NODE_OPTIONS=--max-semi-space-size=64",
		"AWS_ACCESS_KEY_ID=AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret", "AWS_SESSION_TOKEN=token", "AWS_PROFILE=prod",
		"GITHUB_TOKEN=ghp_x", "PULUMI_ACCESS_TOKEN=pul-x", "NPM_TOKEN=npm", "AWS_ENDPOINT_URL_KINESIS=http://x",
	})
	want := []string{"PATH=/usr/bin", "HOME=/home/me", "LANG=C.UTF-8", "LC_ALL=C", "NODE_OPTIONS=--max-semi-space-size=64"}
	if !slices.Equal(got, want) {
		t.Errorf("childEnv = %v, want %v", got, want)
	}
}

// A running stand-in's environment (as the kernel has it) holds none of the
// caller's AWS credentials.
func TestStandInGetsNoCredentials(t *testing.T) {
	t.Setenv("AWS_SECRET_ACCESS_KEY", "must-not-leak")
	t.Setenv("AWS_SESSION_TOKEN", "must-not-leak")
	s, err := Start(DynamoDB, Options{})
	if errors.Is(err, ErrNodeMissing) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	environ, err := os.ReadFile("/proc/" + strconv.Itoa(s.cmd.Process.Pid) + "/environ")
	if err != nil {
		t.Skipf("cannot read the process environment here: %v", err)
	}
	if bytes.Contains(environ, []byte("must-not-leak")) || bytes.Contains(environ, []byte("AWS_")) {
		t.Errorf("the stand-in's environment holds AWS variables: %q", environ)
	}
	if !bytes.Contains(environ, []byte("PATH=")) {
		t.Errorf("the stand-in lost PATH: %q", environ)
	}
}

// Node.js flags reach the stand-in's command line, and this process's
// environment stays as it was.
func TestNodeFlagsOnTheCommandLine(t *testing.T) {
	t.Setenv("NODE_OPTIONS", "")
	s, err := Start(DynamoDB, Options{NodeFlags: []string{"--max-semi-space-size=32"}})
	if errors.Is(err, ErrNodeMissing) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if got := os.Getenv("NODE_OPTIONS"); got != "" {
		t.Errorf("Start set NODE_OPTIONS=%q in this process", got)
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(s.cmd.Process.Pid) + "/cmdline")
	if err != nil {
		t.Skipf("cannot read the process command line here: %v", err)
	}
	args := strings.Split(string(bytes.TrimRight(cmdline, "\x00")), "\x00")
	if len(args) < 3 || args[1] != "--max-semi-space-size=32" {
		t.Errorf("stand-in command line = %q, want the flag right after node, before the launcher", args)
	}
}

func TestNodeFlagsMustBeFlags(t *testing.T) {
	_, err := Start(DynamoDB, Options{NodeFlags: []string{"evil.js"}})
	if err == nil || !strings.Contains(err.Error(), `"evil.js" must start with --`) {
		t.Fatalf("err = %v, want the flag named and the rule", err)
	}
}
