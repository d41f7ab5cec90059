// Package cli is what every command under scripts/ does with its errors:
// the exit codes of README "Command-line tools". 0 done (and -h, which
// asked for the usage), 1 a finding or a failed run, 2 a usage error.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// UsageError marks a bad flag or flag value: exit code 2. Printed says the
// flag set has printed it already, so Exit does not say it twice.
type UsageError struct {
	Err     error
	Printed bool
}

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// Parse parses args, returning flag.ErrHelp for -h and a UsageError for a
// bad flag (the flag set has printed it and the usage).
func Parse(flags *flag.FlagSet, args []string) error {
	err := flags.Parse(args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return UsageError{Err: err, Printed: true}
}

// ParseNoArgs is Parse for a command whose every setting is a flag: an
// argument left over is a usage error, not ignored. (Go's flag package
// stops at the first argument that is not a flag, so "-user u oops
// -dry-run" would otherwise drop -dry-run.)
func ParseNoArgs(flags *flag.FlagSet, args []string) error {
	if err := Parse(flags, args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		err := fmt.Errorf("unexpected argument %q: every setting is a flag, and flags after it were not read (see -h)", flags.Arg(0))
		fmt.Fprintf(flags.Output(), "%s: %v\n", flags.Name(), err)
		return UsageError{Err: err, Printed: true}
	}
	return nil
}

// FlagExit is the exit code of a FlagSet.Parse error: 0 for -h, 2 for
// anything else.
func FlagExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

// Exit prints err after the command's name and returns its exit code: 0
// for nil or -h, 2 for a UsageError, 1 for anything else.
func Exit(command string, err error, stderr io.Writer) int {
	var usage UsageError
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &usage):
		if !usage.Printed {
			fmt.Fprintf(stderr, "%s: %v\n", command, err)
		}
		return 2
	default:
		fmt.Fprintf(stderr, "%s: %v\n", command, err)
		return 1
	}
}
