package processor

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/streamfn/streamfn/internal/aws/poison"
	"github.com/streamfn/streamfn/internal/aws/store"
	"github.com/streamfn/streamfn/internal/dev/emulators"
	"github.com/streamfn/streamfn/internal/dev/emulators/emutest"
	"github.com/streamfn/streamfn/internal/dev/eventgen"
	"github.com/streamfn/streamfn/internal/features"
)

// TestIntegration runs the processor against dynalite and fauxqs through
// the real DynamoDB and SQS clients, as the function runs in AWS.
func TestIntegration(t *testing.T) {
	ctx := t.Context()
	emu := emutest.StartAll(t, emulators.DynamoDB, emulators.SQS)

	// env is one subtest's table and poison queue.
	type env struct {
		table    string
		queueURL string
		store    *store.DynamoDB
		queue    *poison.Queue
	}
	newEnv := func(t *testing.T, name string) env {
		t.Helper()
		if err := store.CreateTable(ctx, emu.DynamoDB, name); err != nil {
			t.Fatal(err)
		}
		url := emutest.CreateQueue(t, emu.SQS, name+"-poison")
		return env{table: name, queueURL: url, store: store.NewDynamoDB(emu.DynamoDB, name, "expiresAt"), queue: poison.NewQueue(emu.SQS, url)}
	}
	process := func(t *testing.T, e env, st store.Store, b eventgen.Batch) string {
		t.Helper()
		p := New(Config{TableName: e.table, PoisonQueueURL: e.queueURL}, Deps{Store: st, Poison: e.queue})
		out, err := p.Invoke(ctx, b.JSON())
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	rawItems := func(t *testing.T, e env, users []string) map[string]map[string]ddbtypes.AttributeValue {
		t.Helper()
		items := map[string]map[string]ddbtypes.AttributeValue{}
		for _, u := range users {
			out, err := emu.DynamoDB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(e.table), ConsistentRead: aws.Bool(true),
				Key: map[string]ddbtypes.AttributeValue{store.AttrUserID: &ddbtypes.AttributeValueMemberS{Value: u}}})
			if err != nil {
				t.Fatal(err)
			}
			items[u] = out.Item
		}
		return items
	}
	usersOf := func(b eventgen.Batch) []string {
		var users []string
		for u := range expected(b) {
			users = append(users, u)
		}
		return users
	}
	checkStored := func(t *testing.T, e env, b eventgen.Batch) {
		t.Helper()
		want := expected(b)
		mem := &store.Memory{}
		for user := range want {
			items, err := e.store.Load(ctx, []string{user})
			if err != nil || items[user] == nil {
				t.Fatalf("loading %s: %v", user, err)
			}
			if err := mem.Save(ctx, resetVersion(items[user])); err != nil {
				t.Fatal(err)
			}
		}
		checkFeatures(t, mem, want)
	}
	const allDone = `{"batchItemFailures":[]}`

	t.Run("the same batch twice gives the same item", func(t *testing.T) {
		e := newEnv(t, "twice")
		b := batch(21, eventgen.BatchOptions{Records: 150, DuplicateFraction: 0.05})
		if got := process(t, e, e.store, b); got != allDone {
			t.Fatalf("first delivery: %s", got)
		}
		first := rawItems(t, e, usersOf(b))
		if got := process(t, e, e.store, b); got != allDone {
			t.Fatalf("second delivery: %s", got)
		}
		if second := rawItems(t, e, usersOf(b)); !reflect.DeepEqual(first, second) {
			t.Fatal("redelivering the batch changed the stored items")
		}
		checkStored(t, e, b)
	})

	t.Run("a batch retried from the middle after a partial failure", func(t *testing.T) {
		clean, failing := newEnv(t, "clean"), newEnv(t, "failing")
		b := batch(22, eventgen.BatchOptions{Records: 150})
		if got := process(t, clean, clean.store, b); got != allDone {
			t.Fatalf("clean run: %s", got)
		}
		// One user's writes fail: the response names that user's first
		// record, the lowest failed sequence number.
		victim := b.Records[40].Event.UserID
		firstOfVictim := 0
		for firstOfVictim < len(b.Records) && b.Records[firstOfVictim].Event.UserID != victim {
			firstOfVictim++
		}
		got := process(t, failing, &flaky{Store: failing.store, failSaves: map[string]bool{victim: true}}, b)
		want := `{"batchItemFailures":[{"itemIdentifier":"` + b.Records[firstOfVictim].SequenceNumber + `"}]}`
		if got != want {
			t.Fatalf("response %s\nwant     %s", got, want)
		}
		// Lambda restarts from that record.
		retry := b
		retry.Event.Records = b.Event.Records[firstOfVictim:]
		if got := process(t, failing, failing.store, retry); got != allDone {
			t.Fatalf("retry: %s", got)
		}
		if a, b := rawItems(t, clean, usersOf(b)), rawItems(t, failing, usersOf(b)); !reflect.DeepEqual(a, b) {
			t.Fatal("the retried run stored different items than the clean run")
		}
		checkStored(t, failing, b)
	})

	t.Run("producer duplicates count once", func(t *testing.T) {
		e := newEnv(t, "duplicates")
		b := batch(23, eventgen.BatchOptions{Records: 200, DuplicateFraction: 0.25})
		if got := process(t, e, e.store, b); got != allDone {
			t.Fatalf("response: %s", got)
		}
		checkStored(t, e, b)
	})

	t.Run("poison records reach the queue with their payloads", func(t *testing.T) {
		e := newEnv(t, "poison")
		b := batch(24, eventgen.BatchOptions{Records: 60, BadFraction: 0.2})
		if got := process(t, e, e.store, b); got != allDone {
			t.Fatalf("response: %s", got)
		}
		want := map[string]eventgen.BatchRecord{}
		for _, r := range b.Records {
			if r.Malformed != "" {
				want[r.SequenceNumber] = r
			}
		}
		got := map[string]map[string]any{}
		deadline := time.Now().Add(20 * time.Second)
		for len(got) < len(want) && time.Now().Before(deadline) {
			out, err := emu.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range out.Messages {
				var doc map[string]any
				if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &doc); err != nil {
					t.Fatalf("message body is not JSON: %v", err)
				}
				got[doc["sequenceNumber"].(string)] = doc
			}
		}
		if len(got) != len(want) {
			t.Fatalf("%d poison messages arrived, want %d", len(got), len(want))
		}
		for seq, r := range want {
			doc := got[seq]
			payload := doc["payload"].(string)
			if doc["payloadEncoding"] == "base64" {
				raw, err := base64.StdEncoding.DecodeString(payload)
				if err != nil {
					t.Fatal(err)
				}
				payload = string(raw)
			}
			if doc["payloadTruncated"] == nil && payload != string(r.Payload) {
				t.Fatalf("record %s (%s): payload %q, want %q", seq, r.Malformed, payload, r.Payload)
			}
			if reason, _ := doc["reason"].(string); reason == "" || doc["shardId"] != "shardId-000000000000" || doc["partitionKey"] != r.PartitionKey {
				t.Fatalf("record %s: message %v", seq, doc)
			}
		}
		checkStored(t, e, b)
	})
}

// resetVersion lets an item loaded from DynamoDB be saved into a fresh
// Memory store for comparison.
func resetVersion(it *features.Item) *features.Item {
	it.Version = 0
	return it
}
