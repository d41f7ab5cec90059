// Package clitest checks what every command promises about its exit codes
// (README "Command-line tools"): -h prints the usage, which documents the
// exit codes, and exits 0; an unknown flag is a usage error, 2.
package clitest

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// Run is a command's entry point: its arguments in, its exit code out.
type Run func(args []string, stdout, stderr io.Writer) int

// CheckUsage runs the command with -h and with an unknown flag.
func CheckUsage(t *testing.T, run Run) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-h"}, &stdout, &stderr); code != 0 {
		t.Errorf("-h exited %d, want 0: the usage was asked for; stderr:\n%s", code, stderr.String())
	}
	if usage := stdout.String() + stderr.String(); !strings.Contains(strings.ToLower(usage), "exit") {
		t.Errorf("the usage does not document the exit codes:\n%s", usage)
	}
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"-no-such-flag"}, &stdout, &stderr); code != 2 {
		t.Errorf("an unknown flag exited %d, want 2 (a usage error)", code)
	}
	if !strings.Contains(stderr.String(), "no-such-flag") {
		t.Errorf("an unknown flag's error does not name it:\n%s", stderr.String())
	}
}
