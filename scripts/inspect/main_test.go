package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/streamfn/streamfn/internal/dev/emulators"
	localrun "github.com/streamfn/streamfn/internal/dev/local/run"
	"github.com/streamfn/streamfn/internal/ops/endpoints"
	"github.com/streamfn/streamfn/internal/ops/stackoutputs"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestUsageErrorsExitTwo(t *testing.T) {
	for _, args := range [][]string{{"user"}, {"user", "-json"}, {"nonsense"}, {"top", "extra"}, {"queues", "-no-such-flag"}, {"-top", "0"}, {"-stack", "dev", "-endpoints", "x"}, {"-no-such-flag"}} {
		var out, errOut bytes.Buffer
		if code := run(t.Context(), args, &out, &errOut); code != exitUsage {
			t.Errorf("inspect %q: exit %d, want %d (stderr %q)", args, code, exitUsage, errOut.String())
		}
	}
	var errOut bytes.Buffer
	for _, args := range [][]string{{"-h"}, {"queues", "-h"}, {"user", "user-1", "-h"}} {
		errOut.Reset()
		if code := run(t.Context(), args, &bytes.Buffer{}, &errOut); code != exitOK || !strings.Contains(errOut.String(), "exit codes:") {
			t.Errorf("%q: exit %d, help %q", args, code, errOut.String())
		}
	}
	// No local run at that path: the error names the file and how to start one.
	errOut.Reset()
	if code := run(t.Context(), []string{"-endpoints", t.TempDir() + "/endpoints.env"}, &bytes.Buffer{}, &errOut); code != exitUsage || !strings.Contains(errOut.String(), "make local") {
		t.Errorf("no run: exit %d, %q", code, errOut.String())
	}
}

// TestAgainstALiveLocalRun starts the local run of the dev stack, sends it
// events through the Function URL and a malformed record straight to the
// stream, and reads the state back through the endpoints file, the way a
// person or another tool does.
func TestAgainstALiveLocalRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole local run")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("skipping: ", emulators.ErrNodeMissing)
	}
	root, err := emulators.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- localrun.Run(ctx, localrun.Options{Root: root, Stack: "dev", Users: 10, Batch: 10, Clients: 1, Seed: 1, Port: 0, IngestCap: 2, Stdout: &stdout, Stderr: &stderr})
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("the local run: %v\n%s", err, stderr.String())
			}
		case <-time.After(time.Minute):
			t.Error("the local run did not stop within a minute")
		}
	}
	defer stop()

	// The banner names the endpoints file.
	pathPattern := regexp.MustCompile(`this run's own copy: (\S+)\)`)
	var path string
	for deadline := time.Now().Add(5 * time.Minute); path == ""; {
		if m := pathPattern.FindStringSubmatch(stdout.String()); m != nil {
			path = m[1]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the local run ended before its banner: %v\n%s%s", err, stdout.String(), stderr.String())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no banner within 5 minutes:\n%s", stdout.String())
		}
	}
	if !strings.HasPrefix(path, "/") {
		path = root + "/" + path
	}
	f, err := endpoints.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{endpoints.Kinesis, endpoints.DynamoDB, endpoints.SQS} {
		if _, err := f.Endpoint(k); err != nil {
			t.Error(err)
		}
	}
	outputs, err := stackoutputs.Read(f.Values[endpoints.Outputs])
	if err != nil {
		t.Fatal(err)
	}
	ingestURL, _ := outputs.String("ingestUrl")
	streamName, _ := outputs.String("streamName")

	// Three valid events of user-1 and one of user-2, through ingest.
	now := time.Now().UTC().Format(time.RFC3339)
	for i, user := range []string{"user-1", "user-1", "user-1", "user-2"} {
		body := fmt.Sprintf(`{"eventId":"e-%d","userId":%q,"type":"view","productId":"sku-%d","category":"shoes","price":59.9,"ts":%q}`, i, user, i, now)
		resp, err := http.Post(ingestURL, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("ingest answered %s to %s", resp.Status, body)
		}
	}
	// A malformed record straight to the stream: the processor's poison.
	for k, v := range f.Values {
		t.Setenv(k, v)
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kinesis.NewFromConfig(cfg).PutRecord(ctx, &kinesis.PutRecordInput{
		StreamName: aws.String(streamName), PartitionKey: aws.String("user-3"), Data: []byte("not json"),
	}); err != nil {
		t.Fatal(err)
	}

	inspect := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := run(ctx, append([]string{"-endpoints", path}, args...), &out, &errOut)
		return code, out.String() + errOut.String()
	}
	var r Report
	for deadline := time.Now().Add(time.Minute); ; {
		code, out := inspect("-json")
		if code != exitOK {
			t.Fatalf("inspect -json: exit %d: %s", code, out)
		}
		r = Report{}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("inspect -json printed no report: %v\n%s", err, out)
		}
		if r.TopUsers != nil && len(r.TopUsers.Users) == 2 && r.TopUsers.Users[0].EventCount == 3 && len(r.Poison) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pipeline did not process the events within a minute: %s", out)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if r.Stack != "dev" || r.TopUsers.Users[0].UserID != "user-1" || r.TopUsers.Users[1].UserID != "user-2" || r.TopUsers.Scanned != 2 {
		t.Errorf("top users = %+v", r.TopUsers)
	}
	if p := r.Poison[0]; p.Reason == "" || p.PartitionKey != "user-3" || p.PayloadBytes == 0 {
		t.Errorf("poison = %+v, want the malformed record with its reason", p)
	}
	// dev sends failed batches to the failures bucket (failureDestination
	// s3): no failures queue; the bucket, read through the local S3, holds none.
	if len(r.Queues) != 1 || r.Queues[0].Name != "poisonQueue" || r.Queues[0].Visible+r.Queues[0].InFlight != 1 {
		t.Errorf("queues = %+v", r.Queues)
	}
	if len(r.Failures) != 0 || r.FailuresUnread != "" {
		t.Errorf("failures = %+v, unread %q; want the bucket read, and empty", r.Failures, r.FailuresUnread)
	}
	if len(r.Shards) == 0 {
		t.Fatal("no shards")
	}
	for _, s := range r.Shards {
		// Everything is processed; the malformed record is in the poison
		// queue, not waiting: no shard has a record to age.
		if !s.Open || s.IteratorAgeMs != 0 {
			t.Errorf("shard %+v, want open with iterator age 0", s)
		}
	}

	// One user, as a table and as JSON; a user with no item is a finding.
	code, out := inspect("user", "user-1")
	if code != exitOK || !strings.Contains(out, "eventCount") || !strings.Contains(out, "view 3") || !strings.Contains(out, "sku-2") {
		t.Errorf("inspect user user-1: exit %d\n%s", code, out)
	}
	code, out = inspect("-json", "user", "nobody")
	if code != exitFinding || !strings.Contains(out, `"found": false`) {
		t.Errorf("inspect user nobody: exit %d\n%s", code, out)
	}
	code, out = inspect()
	for _, want := range []string{"top users", "user-1", "queues:", "poisonQueue", "newest poison messages", "user-3", "failure records: none", "shards (iterator age"} {
		if !strings.Contains(out, want) {
			t.Errorf("the tables lack %q:\n%s", want, out)
		}
	}
	if code != exitOK {
		t.Errorf("inspect: exit %d", code)
	}

	// The run withdraws the file when it stops: a tool then says so.
	stop()
	if _, err := endpoints.Read(path); !errors.Is(err, endpoints.ErrNotRunning) {
		t.Errorf("after the run stopped, reading %s: %v", path, err)
	}
	// The run's progress and report count the requests this test sent, as
	// curl would, with no load generator.
	for _, want := range []string{"requests 4 accepted 4 rejected 0", "ingest URL 4 requests (all senders): 4 events accepted"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("the run's output lacks %q:\n%s", want, stdout.String())
		}
	}
}
