package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"testing"
)

func TestExitCodes(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want int
		out  string
	}{
		{nil, 0, ""},
		{flag.ErrHelp, 0, ""},
		{UsageError{Err: errors.New("-rate -1: want > 0")}, 2, "tool: -rate -1: want > 0\n"},
		{fmt.Errorf("reading: %w", UsageError{Err: errors.New("x")}), 2, "tool: reading: x\n"},
		{errors.New("disk full"), 1, "tool: disk full\n"},
	} {
		var stderr bytes.Buffer
		if got := Exit("tool", tt.err, &stderr); got != tt.want || stderr.String() != tt.out {
			t.Errorf("Exit(%v) = %d, %q; want %d, %q", tt.err, got, stderr.String(), tt.want, tt.out)
		}
	}
}

func TestParse(t *testing.T) {
	flags := flag.NewFlagSet("tool", flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	flags.Int("n", 1, "")
	if err := Parse(flags, []string{"-h"}); !errors.Is(err, flag.ErrHelp) || FlagExit(err) != 0 {
		t.Errorf("-h: %v (exit %d), want flag.ErrHelp and 0", err, FlagExit(err))
	}
	err := Parse(flags, []string{"-nope"})
	var usage UsageError
	if !errors.As(err, &usage) || FlagExit(err) != 2 {
		t.Errorf("-nope: %v (exit %d), want a UsageError and 2", err, FlagExit(err))
	}
	if err := Parse(flags, []string{"-n", "3"}); err != nil {
		t.Errorf("-n 3: %v", err)
	}
}

func TestParseNoArgsRefusesLeftovers(t *testing.T) {
	var out bytes.Buffer
	flags := flag.NewFlagSet("erase", flag.ContinueOnError)
	flags.SetOutput(&out)
	dryRun := flags.Bool("dry-run", false, "")
	flags.String("user", "", "")
	err := ParseNoArgs(flags, []string{"-user", "u", "oops", "-dry-run"})
	if FlagExit(err) != 2 || *dryRun {
		t.Fatalf("err = %v (exit %d), dry-run = %v; want a usage error, and -dry-run unread", err, FlagExit(err), *dryRun)
	}
	if !bytes.Contains(out.Bytes(), []byte(`unexpected argument "oops"`)) {
		t.Errorf("the error does not name the argument: %q", out.String())
	}
}

// A flag error the flag set printed is not printed again.
func TestExitSaysAFlagErrorOnce(t *testing.T) {
	var stderr bytes.Buffer
	flags := flag.NewFlagSet("tool", flag.ContinueOnError)
	flags.SetOutput(&stderr)
	err := ParseNoArgs(flags, []string{"-nope"})
	if code := Exit("tool", err, &stderr); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if n := bytes.Count(stderr.Bytes(), []byte("-nope")); n != 1 {
		t.Errorf("the bad flag is named %d times, want once:\n%s", n, stderr.String())
	}
	stderr.Reset()
	err = ParseNoArgs(flags, []string{"stray"})
	Exit("tool", err, &stderr)
	if n := bytes.Count(stderr.Bytes(), []byte(`"stray"`)); n != 1 {
		t.Errorf("the stray argument is named %d times, want once:\n%s", n, stderr.String())
	}
}
