package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/streamfn/streamfn/internal/aws/store"
	"github.com/streamfn/streamfn/internal/dev/local/run/redrivetest"
	"github.com/streamfn/streamfn/internal/ops/erase"
)

// Against a live local run of the outage stack: while the table refuses
// writes, the mapping gives the users' batches up to the failures bucket.
// One user is erased (the command finds the batches that hold its events);
// then `make redrive` replays the batches, and every other user's events
// apply while the erased user is not recreated: its item stays the
// suppression record.
func TestReplayAfterEraseInALiveLocalRun(t *testing.T) {
	local := redrivetest.StartOutage(t, 40, 4)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-endpoints", local.Endpoints, "-user", "user-1", "-json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("erase: exit %d: %s", code, stderr.String())
	}
	var report erase.Report
	if err := json.Unmarshal(stdout.Bytes(), &report); err != nil || len(report.FailureObjects) == 0 {
		t.Fatalf("erase report %s (%v): want the failure batches holding user-1 listed", stdout.String(), err)
	}
	// The redrive command, as `make redrive` runs it.
	replay := exec.Command("go", "run", "./scripts/redrive", "-endpoints", local.Endpoints, "-json", "replay")
	replay.Dir = local.Root
	if out, err := replay.CombinedOutput(); err != nil {
		t.Fatalf("redrive replay: %v: %s", err, out)
	}
	st := store.NewDynamoDB(dynamodb.NewFromConfig(local.Config), local.Outputs["tableName"].(string), "expiresAt")
	items, err := st.Load(t.Context(), []string{"user-0", "user-1", "user-2", "user-3"})
	if err != nil {
		t.Fatal(err)
	}
	for user, n := range local.Sent {
		it := items[user]
		switch {
		case user == "user-1" && (it == nil || it.ErasedAt == 0 || it.EventCount != 0):
			t.Errorf("after the replay user-1 is %+v: want only its suppression record", it)
		case user != "user-1" && (it == nil || it.EventCount != int64(n)):
			t.Errorf("after the replay %s is %+v: want %d events", user, it, n)
		}
	}
}
