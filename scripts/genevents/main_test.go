package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamfn/streamfn/internal/activity"
	"github.com/streamfn/streamfn/internal/aws/kpl"
	"github.com/streamfn/streamfn/internal/dev/clitest"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "a", "event.json")
	if err := run([]string{"-records", "30", "-users", "5", "-bad", "0.1", "-aggregate", "3", "-out", out}, io.Discard); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var ev events.KinesisEvent
	if err := json.Unmarshal(data, &ev); err != nil || len(ev.Records) != 30 {
		t.Fatalf("%d records, %v", len(ev.Records), err)
	}
	// -aggregate 3: each Kinesis record is a KPL aggregate of 3 user
	// records; -bad 0.1: about a tenth of those are malformed.
	bad, users := 0, map[string]bool{}
	for i, r := range ev.Records {
		subs, err := kpl.Unpack(r.Kinesis.Data)
		if err != nil || len(subs) != 3 {
			t.Fatalf("record %d: %d user records (%v), want a KPL aggregate of 3", i, len(subs), err)
		}
		for _, sub := range subs {
			e, err := activity.ParseValid(sub.Data)
			if err != nil {
				bad++
				continue
			}
			users[e.UserID] = true
		}
	}
	if bad == 0 || bad > 20 {
		t.Errorf("%d of 90 user records malformed; want about 9 for -bad 0.1", bad)
	}
	if len(users) == 0 || len(users) > 5 {
		t.Errorf("%d users; want at most -users 5", len(users))
	}
	again := filepath.Join(dir, "again.json")
	if err := run([]string{"-records", "30", "-users", "5", "-bad", "0.1", "-aggregate", "3", "-out", again}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if second, _ := os.ReadFile(again); !bytes.Equal(data, second) {
		t.Fatal("the same flags must give the same bytes")
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-records", "5"}, "-out is required"},
		{[]string{"-out", "x", "-records", "0"}, "-records 0"},
		{[]string{"-out", "x", "-bad", "0.7", "-dup", "0.5"}, "together at most 1"},
		{[]string{"-out", "x", "-users", "0"}, "-users 0"},
	} {
		err := run(c.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("run(%v) = %v, want an error containing %q", c.args, err, c.want)
		}
	}
}

func TestHelpAndBadFlagExitCodes(t *testing.T) {
	run := func(args []string, _, stderr io.Writer) int { return cli(args, stderr) }
	clitest.CheckUsage(t, run)
	clitest.CheckNoArgs(t, run)
}
