package erase

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/streamfn/streamfn/internal/aws/poison"
	"github.com/streamfn/streamfn/internal/aws/store"
	"github.com/streamfn/streamfn/internal/dev/emulators"
	"github.com/streamfn/streamfn/internal/dev/emulators/emutest"
	"github.com/streamfn/streamfn/internal/dev/eventgen"
	"github.com/streamfn/streamfn/internal/processor"
)

// Against dynalite and fauxqs through the real clients, as the tool runs
// against the local run or AWS: the user's item becomes its suppression
// record, its poison messages (and only its) are deleted, a dry run changes
// nothing, and a replay of the batch afterwards does not recreate the user.
func TestEraseAgainstTheStandIns(t *testing.T) {
	ctx := t.Context()
	emu := emutest.StartAll(t, emulators.DynamoDB, emulators.SQS)
	if err := store.CreateTable(ctx, emu.DynamoDB, "features"); err != nil {
		t.Fatal(err)
	}
	queueURL := emutest.CreateQueue(t, emu.SQS, "poison")
	st := store.NewDynamoDB(emu.DynamoDB, "features", "expiresAt")
	p := processor.New(processor.Config{TableName: "features", PoisonQueueURL: queueURL}, processor.Deps{Store: st, Poison: poison.NewQueue(emu.SQS, queueURL)})

	b := eventgen.New(eventgen.Options{Seed: 7, Users: 5}).Batch(eventgen.BatchOptions{Records: 200, BadFraction: 0.1})
	if _, err := p.Invoke(ctx, b.JSON()); err != nil {
		t.Fatal(err)
	}
	user, total := "", 0
	poisonOf := map[string]int{} // user -> poison messages that concern them
	for _, r := range b.Records {
		if r.Malformed == "" {
			continue
		}
		total++
		if user == "" {
			user = r.PartitionKey
		}
	}
	for _, r := range b.Records {
		if r.Malformed != "" && (r.PartitionKey == user || bytes.Contains(r.Payload, []byte(`"userId":"`+user+`"`))) {
			poisonOf[user]++
		}
	}
	if user == "" || poisonOf[user] == 0 {
		t.Fatalf("the batch has no poison record of a user: %v", poisonOf)
	}
	target := Target{Store: st, SQS: emu.SQS, PoisonQueueURL: queueURL, Retention: 24 * time.Hour}

	dry := target
	dry.DryRun = true
	report, err := Erase(ctx, dry, user, time.Now())
	if err != nil || !report.Item || len(report.PoisonMessages) != poisonOf[user] {
		t.Fatalf("dry run %+v, %v: want the item and %d poison messages found", report, err, poisonOf[user])
	}
	if items, _ := st.Load(ctx, []string{user}); items[user] == nil || items[user].ErasedAt != 0 {
		t.Fatal("a dry run changed the item")
	}

	report, err = Erase(ctx, target, user, time.Now())
	if err != nil || !report.Item || len(report.PoisonMessages) != poisonOf[user] {
		t.Fatalf("erase %+v, %v: want the item and %d poison messages erased", report, err, poisonOf[user])
	}
	out, _ := json.Marshal(report)
	t.Logf("report: %s", out)
	left := receiveAll(ctx, t, emu.SQS, queueURL)
	if len(left) != total-poisonOf[user] {
		t.Errorf("%d poison messages left, want %d (the other users')", len(left), total-poisonOf[user])
	}
	for _, m := range left {
		if payload, _ := m.DecodedPayload(); m.PartitionKey == user || bytes.Contains(payload, []byte(`"userId":"`+user+`"`)) {
			t.Errorf("a poison message of %s is still in the queue: %+v", user, m)
		}
	}

	if _, err := p.Invoke(ctx, b.JSON()); err != nil {
		t.Fatal(err)
	}
	items, err := st.Load(ctx, []string{user})
	if err != nil {
		t.Fatal(err)
	}
	if it := items[user]; it == nil || it.ErasedAt == 0 || it.EventCount != 0 || it.ExpiresAt < time.Now().Add(24*time.Hour).Unix() {
		t.Fatalf("after the replay the item of %s is %+v: want only its suppression record, expiring after the stream's retention", user, it)
	}
}

func receiveAll(ctx context.Context, t *testing.T, client *sqs.Client, url string) []poison.Document {
	t.Helper()
	var docs []poison.Document
	var ids []string
	for empty := 0; empty < 2; {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, VisibilityTimeout: 60, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			empty++
		}
		for _, m := range out.Messages {
			if slices.Contains(ids, aws.ToString(m.MessageId)) {
				continue
			}
			ids = append(ids, aws.ToString(m.MessageId))
			var d poison.Document
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &d); err != nil {
				t.Fatal(err)
			}
			docs = append(docs, d)
		}
	}
	return docs
}
