package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "a", "event.json")
	if err := run([]string{"-records", "30", "-users", "5", "-bad", "0.1", "-aggregate", "3", "-out", out}); err != nil {
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
	again := filepath.Join(dir, "again.json")
	if err := run([]string{"-records", "30", "-users", "5", "-bad", "0.1", "-aggregate", "3", "-out", again}); err != nil {
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
		err := run(c.args)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("run(%v) = %v, want an error containing %q", c.args, err, c.want)
		}
	}
}
