package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/streamfn/streamfn/internal/dev/clitest"
	"github.com/streamfn/streamfn/internal/dev/eventgen"
)

func smallEventFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "event.json")
	batch := eventgen.New(eventgen.Options{Seed: 1, Users: 20}).Batch(eventgen.BatchOptions{Records: 200})
	if err := os.WriteFile(path, batch.JSON(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMeasure(t *testing.T) {
	payload, err := os.ReadFile(smallEventFile(t))
	if err != nil {
		t.Fatal(err)
	}
	res, err := measure(payload, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 200 || res.RecordsPerS <= 0 || res.AllocsPerRecord == nil || *res.AllocsPerRecord < 0 {
		t.Fatalf("result %+v", res)
	}
	if _, err := measure([]byte(`{"Records":[]}`), time.Millisecond); err == nil {
		t.Fatal("an empty batch cannot be measured")
	}
}

// TestPeer runs the Node.js peer on a small file: it must print the same
// line shape as the Go side.
func TestPeer(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("skipping: node (Node.js 22 or newer) is not on PATH")
	}
	res, err := runPeer("../../bench/peer.mjs", smallEventFile(t), 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 200 || res.RecordsPerS <= 0 || res.AllocsPerRecord != nil {
		t.Fatalf("peer result %+v", res)
	}
}

func TestGenerateIfMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "event.json")
	if err := generateIfMissing(path); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Size() < 10_000_000 {
		t.Fatalf("generated %v, %v; want the ~17 MB 10,000-record file", info, err)
	}
}

func TestHelpAndBadFlagExitCodes(t *testing.T) {
	run := func(args []string, _, stderr io.Writer) int { return cli(args, stderr) }
	clitest.CheckUsage(t, run)
	clitest.CheckNoArgs(t, run)
}
