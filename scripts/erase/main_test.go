package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/streamfn/streamfn/internal/aws/store"
	"github.com/streamfn/streamfn/internal/dev/clitest"
	"github.com/streamfn/streamfn/internal/dev/emulators"
	"github.com/streamfn/streamfn/internal/dev/emulators/emutest"
	"github.com/streamfn/streamfn/internal/features"
	"github.com/streamfn/streamfn/internal/ops/endpoints"
	"github.com/streamfn/streamfn/internal/ops/erase"
	"github.com/streamfn/streamfn/internal/ops/stackoutputs"
)

// The command finds a local run through its endpoints file and reaches the
// stores through the stack's outputs and the standard AWS_ENDPOINT_URL_*
// variables, as the redrive tool does: no local mode in its logic.
func TestEraseThroughTheEndpointVariables(t *testing.T) {
	ctx := t.Context()
	emu := emutest.StartAll(t, emulators.DynamoDB, emulators.SQS)
	if err := store.CreateTable(ctx, emu.DynamoDB, "features-1"); err != nil {
		t.Fatal(err)
	}
	st := store.NewDynamoDB(emu.DynamoDB, "features-1", "expiresAt")
	item := features.NewItem("u1")
	item.EventCount = 3
	if err := st.Save(ctx, item); err != nil {
		t.Fatal(err)
	}
	queueURL := emutest.CreateQueue(t, emu.SQS, "poison-1")
	// The endpoints file and stack outputs a local run writes.
	dir := t.TempDir()
	outputs := filepath.Join(dir, "outputs.json")
	if err := (stackoutputs.Outputs{"tableName": "features-1", "poisonQueueUrl": queueURL}).Write(outputs); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, endpoints.FileName)
	if err := endpoints.New("dev", "us-east-1", outputs, map[string]string{
		endpoints.DynamoDB: emu.Servers[emulators.DynamoDB].Endpoint, endpoints.SQS: emu.Servers[emulators.SQS].Endpoint,
	}).Write(file); err != nil {
		t.Fatal(err)
	}
	// Locate puts the file's variables into this process's environment;
	// t.Setenv restores them.
	for _, k := range []string{endpoints.DynamoDB, endpoints.SQS, endpoints.Region, endpoints.DefaultRegion,
		endpoints.AccessKeyID, endpoints.SecretAccessKey, endpoints.Stack, endpoints.Outputs} {
		t.Setenv(k, "")
	}

	var stdout, stderr bytes.Buffer
	if code := run([]string{"-endpoints", file, "-user", "u1", "-json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var report erase.Report
	if err := json.Unmarshal(stdout.Bytes(), &report); err != nil || !report.Item || report.UserID != "u1" {
		t.Fatalf("report %s (%v): want u1's item erased", stdout.String(), err)
	}
	items, err := st.Load(ctx, []string{"u1"})
	if err != nil || items["u1"] == nil || items["u1"].ErasedAt == 0 || items["u1"].EventCount != 0 {
		t.Fatalf("item after erase: %+v, %v; want the suppression record", items["u1"], err)
	}
	if code := run([]string{"-endpoints", file}, &stdout, &stderr); code != 2 {
		t.Errorf("without -user: exit %d, want 2", code)
	}
}

// -h asks for the usage: exit 0 and the usage names the exit codes; a bad
// flag is a usage error, 2.
func TestHelpAndBadFlagExitCodes(t *testing.T) {
	clitest.CheckUsage(t, run)
	clitest.CheckNoArgs(t, run)
}
