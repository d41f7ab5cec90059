package capacity_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/streamfn/streamfn/infra/config"
	"github.com/streamfn/streamfn/infra/stackconfig"
	"github.com/streamfn/streamfn/internal/dev/emulators"
	"github.com/streamfn/streamfn/internal/dev/local/lambdaenv"
	"github.com/streamfn/streamfn/internal/dev/local/report"
	"github.com/streamfn/streamfn/internal/dev/local/run"
	"github.com/streamfn/streamfn/internal/ops/capacity"
)

// TestPredictionMatchesTheLocalRun runs the whole pipeline on this machine at a small load on
// the dev stack and holds the planner's prediction for the same load and config within 20% of
// what the processor measured: writes per event and invocations per second.
func TestPredictionMatchesTheLocalRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole local run")
	}
	if err := lambdaenv.CheckPlatform(); err != nil {
		t.Skipf("skipping: %v", err)
	}
	root, err := emulators.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	const rate, users = 300, 100
	var out, progress bytes.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	err = run.Run(ctx, run.Options{Root: root, Stack: "dev", Rate: rate, Duration: 20 * time.Second, Users: users,
		PartitionKeys: "user", Batch: 20, Clients: 4, Seed: 14, JSON: true, IngestCap: 4, Stdout: &out, Stderr: &progress})
	if errors.Is(err, emulators.ErrNodeMissing) {
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatalf("local run: %v\n%s", err, progress.String())
	}
	var sum report.Summary
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatal(err)
	}
	measured := sum.Writes
	// Invocations per second over the load: the drain after it adds a last, partial batch.
	measuredInvocations := float64(sum.Mapping.Invocations) / sum.LoadFor

	values, err := stackconfig.Load(root, "dev")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := values[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	l := capacity.DefaultLoad()
	l.Rate, l.Users, l.EventBytes, l.Batch = sum.AcceptedPerS, users, 850, 20
	predicted := capacity.EstimateFor(cfg, l)
	t.Logf("measured: %.3f writes per event, %.1f invocations/s, mean item %.0f bytes (%d invocations, %d events); predicted: %.3f, %.1f, %d bytes",
		measured.WritesPerEvent, measuredInvocations, measured.MeanItemBytes, measured.Invocations, measured.Events,
		predicted.WritesPerEvent, predicted.InvocationsPerS, predicted.ItemBytes)
	// The run is shorter than the duplicate horizon, so items hold every event of their user so
	// far: on average half of a user's events over the run.
	runItemBytes := capacity.ItemBytesWith(measured.Events / users / 2)
	t.Logf("predicted mean item over the run: %d bytes", runItemBytes)
	if measured.Invocations == 0 || measured.Events < rate*10 {
		t.Fatalf("the run processed too little to compare: %+v", measured)
	}
	for _, c := range []struct {
		name                string
		measured, predicted float64
	}{
		{"writes per event", measured.WritesPerEvent, predicted.WritesPerEvent},
		{"invocations per second", measuredInvocations, predicted.InvocationsPerS},
		{"mean item bytes", measured.MeanItemBytes, float64(runItemBytes)},
	} {
		if math.Abs(c.predicted-c.measured) > 0.2*c.measured {
			t.Errorf("%s: predicted %.3f, measured %.3f: more than 20%% apart", c.name, c.predicted, c.measured)
		}
	}
}
