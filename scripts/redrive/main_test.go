package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/uuid"

	"github.com/streamfn/streamfn/internal/aws/failure"
	"github.com/streamfn/streamfn/internal/dev/local/run/redrivetest"
	"github.com/streamfn/streamfn/internal/ops/redrive"
)

// cli runs the command in this process, as `go run ./scripts/redrive
// args...` would, and returns its exit code and output.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestUsageErrorsExitTwo(t *testing.T) {
	for _, args := range [][]string{{}, {"fix"}, {"list", "extra"}, {"-concurrency", "0", "replay"}, {"replay", "-reason", "x"}, {"-stack", "s", "-endpoints", "e", "list"}} {
		if code, _, stderr := cli(t, args...); code != exitUsage || stderr == "" {
			t.Errorf("redrive %q: exit %d, stderr %q; want 2 and a message", args, code, stderr)
		}
	}
	if code, _, stderr := cli(t, "-h"); code != exitOK || !strings.Contains(stderr, "exit codes:") || !strings.Contains(stderr, "0  done") {
		t.Errorf("-h: exit %d, %q", code, stderr)
	}
	// No local run: a set-up error that says how to start one.
	code, _, stderr := cli(t, "-endpoints", filepath.Join(t.TempDir(), "endpoints.env"), "list")
	if code != exitUsage || !strings.Contains(stderr, "make local") {
		t.Errorf("without a local run: exit %d, %q", code, stderr)
	}
}

// The CLI against a live local run of the outage stack (two retries, a
// 60 s record age): while the table refuses writes, batches fail and land
// in the on-failure destination. list shows them, replay -dry-run changes
// nothing, replay applies every event exactly once and deletes the
// records, and a second replay changes nothing.
//
// A range that has left the stream: kinesalite keeps records for 24 h at
// least (its retention cannot be shorter, as in Kinesis), so the test
// writes an on-failure record without payload whose range lies below the
// shard's trim horizon, as a queue record of records older than the
// retention would. It must be reported lost, with its range, exit 1, and
// stay where it is.
func TestCLIAgainstALiveLocalRun(t *testing.T) {
	// Valid events for 5 users, keyed by userId as ingest keys them, all
	// given up by the mapping during the outage.
	local := redrivetest.StartOutage(t, 60, 5)
	envFile, cfg, outputs, target, sent := local.Endpoints, local.Config, local.Outputs, local.Target, local.Sent
	firstSeq := aws.ToString(local.Put.Records[0].SequenceNumber)
	shard := aws.ToString(local.Put.Records[0].ShardId)

	code, stdout, stderr := cli(t, "-endpoints", envFile, "-json", "list")
	var list redrive.ListReport
	if err := json.Unmarshal([]byte(stdout), &list); code != exitOK || err != nil {
		t.Fatalf("list -json: exit %d, %v: %s\n%s", code, err, stdout, stderr)
	}
	records := 0
	for _, fl := range list.Failures {
		records += fl.Records
		if !fl.InStream || fl.Lost || fl.ShardID != shard || fl.Condition == "" {
			t.Errorf("failure %+v", fl)
		}
	}
	if records < 60 {
		t.Errorf("list -json shows %d records in on-failure records, want 60", records)
	}

	// A range below the trim horizon, in a record without payload.
	oldest, _ := new(big.Int).SetString(firstSeq, 10)
	gone := failure.Document{
		RequestContext: failure.RequestContext{RequestID: uuid.NewString(), Condition: failure.RecordAgeExceeded},
		Version:        "1.0", Timestamp: time.Now().UTC().Format(failure.TimeLayout),
		KinesisBatchInfo: failure.KinesisBatchInfo{
			ShardID: shard, StartSequenceNumber: new(big.Int).Sub(oldest, big.NewInt(5000)).String(), EndSequenceNumber: new(big.Int).Sub(oldest, big.NewInt(1000)).String(),
			ApproximateArrivalOfFirstRecord: time.Now().Add(-25 * time.Hour).UTC().Format(failure.TimeLayout), BatchSize: 3, StreamARN: target.StreamARN,
		},
	}
	body, _ := json.Marshal(gone)
	if target.Bucket != "" {
		key := failure.ObjectKey("00000000-0000-4000-8000-000000000000", shard, time.Now(), uuid.New())
		if _, err := s3.NewFromConfig(cfg).PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(target.Bucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	} else if _, err := sqs.NewFromConfig(cfg).SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(target.FailuresQueueURL), MessageBody: aws.String(string(body))}); err != nil {
		t.Fatal(err)
	}

	code, stdout, _ = cli(t, "-endpoints", envFile, "list")
	if code != exitFinding || !strings.Contains(stdout, "LOST: "+shard+" "+gone.KinesisBatchInfo.StartSequenceNumber+".."+gone.KinesisBatchInfo.EndSequenceNumber) {
		t.Fatalf("list with a lost range: exit %d, want 1 and the range:\n%s", code, stdout)
	}

	count := func() map[string]int {
		items := map[string]int{}
		out, err := dynamodb.NewFromConfig(cfg).Scan(t.Context(), &dynamodb.ScanInput{TableName: aws.String(outputs["tableName"].(string))})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range out.Items {
			user := it["userId"].(*ddbtypes.AttributeValueMemberS).Value
			var n int
			fmt.Sscan(it["eventCount"].(*ddbtypes.AttributeValueMemberN).Value, &n)
			items[user] = n
		}
		return items
	}
	before := count()

	code, stdout, _ = cli(t, "-endpoints", envFile, "-json", "replay", "-dry-run")
	var dry redrive.ReplayReport
	if err := json.Unmarshal([]byte(stdout), &dry); err != nil || code != exitFinding || !dry.DryRun || dry.RecordsReplayed < 60 || len(dry.Lost) != 1 {
		t.Fatalf("replay -dry-run: exit %d, %v, %+v", code, err, dry)
	}
	if got := count(); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatalf("a dry run changed the table: %v, then %v", before, got)
	}

	code, stdout, stderr = cli(t, "-endpoints", envFile, "-json", "replay")
	var rep redrive.ReplayReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || code != exitFinding || rep.Failed != 0 || len(rep.Lost) != 1 ||
		rep.Lost[0].StartSequenceNumber != gone.KinesisBatchInfo.StartSequenceNumber || rep.RecordsReplayed != dry.RecordsReplayed {
		t.Fatalf("replay: exit %d (want 1: a lost range), %v, %+v\n%s", code, err, rep, stderr)
	}
	got := count()
	for user, n := range sent {
		if got[user] != n {
			t.Errorf("after replay %s has eventCount %d, want %d (every event once)", user, got[user], n)
		}
	}

	// Only the lost record is left; replaying again changes nothing.
	code, stdout, _ = cli(t, "-endpoints", envFile, "-json", "replay")
	var again redrive.ReplayReport
	if err := json.Unmarshal([]byte(stdout), &again); err != nil || code != exitFinding || again.RecordsReplayed != 0 || len(again.Results) != 1 || again.Results[0].Status != redrive.StatusLost {
		t.Fatalf("a second replay: exit %d, %v, %+v", code, err, again)
	}
	if got2 := count(); fmt.Sprint(got2) != fmt.Sprint(got) {
		t.Fatalf("a second replay changed the table: %v, then %v", got, got2)
	}
}
