package run

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamfn/streamfn/internal/dev/emulators"
	"github.com/streamfn/streamfn/internal/ops/endpoints"
)

func TestPruneKeepsTheNewestRunsAndAnyRunning(t *testing.T) {
	dir := t.TempDir()
	var names []string
	for i := range 8 {
		names = append(names, "20260101T00000"+strconv.Itoa(i)+"Z-"+strconv.Itoa(100000+i))
	}
	// The oldest still runs: this process, with its endpoints file.
	names[0] = "20250101T000000Z-" + strconv.Itoa(os.Getpid())
	// The second oldest crashed: its endpoints file stayed, its process is gone.
	for i, n := range names {
		if err := os.MkdirAll(filepath.Join(dir, n, "logs"), 0o755); err != nil {
			t.Fatal(err)
		}
		if i <= 1 {
			os.WriteFile(filepath.Join(dir, n, endpoints.FileName), []byte("x"), 0o644)
		}
	}
	os.Mkdir(filepath.Join(dir, "not-a-run"), 0o755)
	if err := pruneRuns(dir, 5); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	want := append([]string{names[0], "not-a-run"}, names[3:]...)
	slices.Sort(want)
	if !slices.Equal(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
}

// Ctrl-C while preparing (here: while the plan runs) is a stop: no error,
// a line that says so, and nothing left running. With -verify it is
// ErrInterrupted: nothing was checked, so it must not read as a pass.
func TestInterruptWhilePreparingIsAStop(t *testing.T) {
	root, err := emulators.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, verify := range []bool{false, true} {
		ctx, cancel := context.WithCancel(t.Context())
		var out strings.Builder
		done := make(chan error, 1)
		go func() {
			done <- Run(ctx, Options{Root: root, Stack: "dev", Stdout: &out, Stderr: &out, Port: 0, Users: 1, Batch: 1, Clients: 1, Verify: verify})
		}()
		time.Sleep(300 * time.Millisecond)
		cancel()
		var want error
		if verify {
			want = ErrInterrupted
		}
		select {
		case err := <-done:
			if !errors.Is(err, want) || (want == nil && err != nil) {
				t.Errorf("verify %v: Run = %v, want %v", verify, err, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("Run did not return within 30s of Ctrl-C")
		}
		text := out.String()
		if !strings.Contains(text, "interrupted while preparing: stopped") || !strings.Contains(text, "  start  ") {
			t.Errorf("output:\n%s", text)
		}
		if strings.Contains(text, "ingest Function URL") {
			t.Errorf("the run got ready after Ctrl-C:\n%s", text)
		}
	}
}
