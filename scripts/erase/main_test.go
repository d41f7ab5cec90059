package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/streamfn/streamfn/internal/emulators"
	"github.com/streamfn/streamfn/internal/emulators/emutest"
	"github.com/streamfn/streamfn/internal/erase"
	"github.com/streamfn/streamfn/internal/features"
	"github.com/streamfn/streamfn/internal/store"
)

// The command reaches the stores through the stack's outputs and the
// standard AWS_ENDPOINT_URL_* variables, as it does against the local run:
// no local mode in its logic.
func TestEraseThroughTheEndpointVariables(t *testing.T) {
	ddbServer := emutest.Start(t, emulators.DynamoDB)
	sqsServer := emutest.Start(t, emulators.SQS)
	ctx := emutest.Context(t)
	ddb := dynamodb.NewFromConfig(emutest.Config(ddbServer))
	if err := store.CreateTable(ctx, ddb, "features-1"); err != nil {
		t.Fatal(err)
	}
	st := store.NewDynamoDB(ddb, "features-1", "expiresAt")
	item := features.NewItem("u1")
	item.EventCount = 3
	if err := st.Save(ctx, item); err != nil {
		t.Fatal(err)
	}
	q, err := sqs.NewFromConfig(emutest.Config(sqsServer)).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("poison-1")})
	if err != nil {
		t.Fatal(err)
	}
	outputs := filepath.Join(t.TempDir(), "outputs.json")
	doc, _ := json.Marshal(map[string]string{"tableName": "features-1", "poisonQueueUrl": aws.ToString(q.QueueUrl)})
	if err := os.WriteFile(outputs, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", ddbServer.Endpoint)
	t.Setenv("AWS_ENDPOINT_URL_SQS", sqsServer.Endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", "local")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	t.Chdir("../..") // the stack's config is read from the repository root

	var stdout, stderr bytes.Buffer
	if code := run([]string{"-stack", "dev", "-user", "u1", "-outputs", outputs, "-json"}, &stdout, &stderr); code != 0 {
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
	if code := run([]string{"-stack", "dev", "-outputs", outputs}, &stdout, &stderr); code != 2 {
		t.Errorf("without -user: exit %d, want 2", code)
	}
}
