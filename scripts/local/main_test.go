package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/streamfn/streamfn/infra/config"
	"github.com/streamfn/streamfn/internal/dev/local/run"
)

// 1 is a finding, 2 a usage or set-up error; before, both were 1.
func TestExitCodes(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{run.ErrVerifyFailed, 1},
		{run.ErrInterrupted, 130},
		{fmt.Errorf("verify: %w", run.ErrVerifyFailed), 1},
		{&config.ValidationError{}, 2},
		{errors.New("starting dynamodb stand-in: port in use"), 2},
	} {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
	for _, want := range []string{"0    done", "1    a finding", "2    a usage or set-up error", "130  interrupted"} {
		if !strings.Contains(exitCodes, want) {
			t.Errorf("-h does not document %q", want)
		}
	}
}
