package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamfn/streamfn/internal/erase"
	"github.com/streamfn/streamfn/internal/local/endpoints"
	localrun "github.com/streamfn/streamfn/internal/local/run"
	"github.com/streamfn/streamfn/internal/local/run/runtest"
	"github.com/streamfn/streamfn/internal/redrive"
	"github.com/streamfn/streamfn/internal/stackoutputs"
	"github.com/streamfn/streamfn/internal/store"
)

// Against a live local run of the outage stack: while the table refuses
// writes, the mapping gives the users' batches up to the failures bucket.
// One user is erased (the command finds the batches that hold its events);
// then `make redrive` replays the batches, and every other user's events
// apply while the erased user is not recreated: its item stays the
// suppression record.
func TestReplayAfterEraseInALiveLocalRun(t *testing.T) {
	local := runtest.Start(t, localrun.Options{Stack: "outage", Port: 0, IngestCap: 2, Users: 1, Batch: 1, Clients: 1, Outage: 20 * time.Second})
	envFile, f, root, log := local.Endpoints, local.File, local.Root, local.Log
	outageEnds := time.Now().Add(20 * time.Second)
	cfg, err := config.LoadDefaultConfig(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	outputs, err := stackoutputs.Read(f.Values[endpoints.Outputs])
	if err != nil {
		t.Fatal(err)
	}
	target, err := redrive.TargetFromOutputs("outage", envFile, outputs)
	if err != nil {
		t.Fatal(err)
	}
	sent := map[string]int{}
	var entries []ktypes.PutRecordsRequestEntry
	for i := range 40 {
		user := fmt.Sprintf("user-%d", i%4)
		sent[user]++
		data := fmt.Sprintf(`{"eventId":"e-%d","userId":%q,"type":"view","productId":"sku-%d","ts":"2026-11-26T12:00:%02dZ"}`, i, user, i%7, i%60)
		entries = append(entries, ktypes.PutRecordsRequestEntry{PartitionKey: aws.String(user), Data: []byte(data)})
	}
	out, err := kinesis.NewFromConfig(cfg).PutRecords(t.Context(), &kinesis.PutRecordsInput{StreamName: aws.String(target.StreamName), Records: entries})
	if err != nil || aws.ToInt32(out.FailedRecordCount) > 0 {
		t.Fatalf("PutRecords: %v", err)
	}
	redriveCLI := func(args ...string) (int, string) {
		cmd := exec.Command("go", append([]string{"run", "./scripts/redrive", "-endpoints", envFile, "-json"}, args...)...)
		cmd.Dir = root
		var stdout bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, log
		err := cmd.Run()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode(), stdout.String()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, stdout.String()
	}
	// The mapping gives up on them during the outage.
	for deadline, records := time.Now().Add(2*time.Minute), 0; records < 40; {
		if time.Now().After(deadline) {
			t.Fatalf("after 2 minutes, %d of 40 records in on-failure records:\n%s", records, log.String())
		}
		time.Sleep(time.Second)
		code, stdout := redriveCLI("list")
		var list redrive.ListReport
		if code != 0 || json.Unmarshal([]byte(stdout), &list) != nil {
			t.Fatalf("redrive list: exit %d: %s", code, stdout)
		}
		records = 0
		for _, fl := range list.Failures {
			records += fl.Records
		}
	}
	time.Sleep(time.Until(outageEnds))

	var stdout, stderr bytes.Buffer
	if code := run([]string{"-endpoints", envFile, "-user", "user-1", "-json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("erase: exit %d: %s", code, stderr.String())
	}
	var report erase.Report
	if err := json.Unmarshal(stdout.Bytes(), &report); err != nil || len(report.FailureObjects) == 0 {
		t.Fatalf("erase report %s (%v): want the failure batches holding user-1 listed", stdout.String(), err)
	}
	if code, out := redriveCLI("replay"); code != 0 {
		t.Fatalf("redrive replay: exit %d: %s\n%s", code, out, log.String())
	}
	st := store.NewDynamoDB(dynamodb.NewFromConfig(cfg), outputs["tableName"].(string), "expiresAt")
	items, err := st.Load(t.Context(), []string{"user-0", "user-1", "user-2", "user-3"})
	if err != nil {
		t.Fatal(err)
	}
	for user, n := range sent {
		it := items[user]
		switch {
		case user == "user-1" && (it == nil || it.ErasedAt == 0 || it.EventCount != 0):
			t.Errorf("after the replay user-1 is %+v: want only its suppression record", it)
		case user != "user-1" && (it == nil || it.EventCount != int64(n)):
			t.Errorf("after the replay %s is %+v: want %d events", user, it, n)
		}
	}
}
