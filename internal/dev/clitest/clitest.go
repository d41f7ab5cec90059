// Package clitest checks what every command promises about its exit codes
// (README "Command-line tools"): -h prints the usage, which documents the
// exit codes, and exits 0; an unknown flag is a usage error, 2.
package clitest

import (
	"bytes"
	"io"
	"regexp"
	"strings"
	"testing"
)

// Run is a command's entry point: its arguments in, its exit code out.
type Run func(args []string, stdout, stderr io.Writer) int

// documentsExitCodes matches a usage that names its exit codes, 0 and 2
// (a usage error) at least.
var documentsExitCodes = regexp.MustCompile(`(?is)exit (codes|status).*\b0\b.*\b2\b.*usage`)

// CheckUsage runs the command with -h and with an unknown flag.
func CheckUsage(t *testing.T, run Run) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-h"}, &stdout, &stderr); code != 0 {
		t.Errorf("-h exited %d, want 0: the usage was asked for; stderr:\n%s", code, stderr.String())
	}
	if usage := stdout.String() + stderr.String(); !documentsExitCodes.MatchString(usage) {
		t.Errorf("the usage does not document the exit codes (\"Exit codes: 0 ..., 2 a usage error\"):\n%s", usage)
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

// CheckNoArgs runs a command whose every setting is a flag with a stray
// argument before a flag: a usage error, 2, never a run that silently
// drops the flags after it.
func CheckNoArgs(t *testing.T, run Run) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"stray", "-h"}, &stdout, &stderr); code != 2 {
		t.Errorf("a stray argument exited %d, want 2 (a usage error); stderr:\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), `"stray"`) {
		t.Errorf("the error does not name the stray argument:\n%s", stderr.String())
	}
}
