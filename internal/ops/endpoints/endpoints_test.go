package endpoints

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/streamfn/streamfn/internal/dev/emulators"
	"github.com/streamfn/streamfn/internal/dev/emulators/emutest"
)

func TestWriteReadRoundTrip(t *testing.T) {
	root := t.TempDir()
	runDir := filepath.Join(root, ".build", "local", "20260101T000000Z-1")
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		t.Fatal(err)
	}
	f := New("dev", "eu-west-1", filepath.Join(runDir, "outputs.json"), map[string]string{
		Kinesis: "http://127.0.0.1:4567", DynamoDB: "http://127.0.0.1:4568", SQS: "http://127.0.0.1:4569",
	})
	path, err := Publish(root, runDir, f)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Read(DefaultPath(root))
	if err != nil {
		t.Fatalf("reading through the current link: %v", err)
	}
	for k, v := range f.Values {
		if got.Values[k] != v {
			t.Errorf("%s = %q, want %q", k, got.Values[k], v)
		}
	}
	if len(got.Values) != len(f.Values) {
		t.Errorf("read %d keys, wrote %d", len(got.Values), len(f.Values))
	}
	if _, err := got.Endpoint(S3); err == nil || !strings.Contains(err.Error(), S3) {
		t.Errorf("Endpoint(S3) = %v, want an error naming %s", err, S3)
	}
	if u, err := got.Endpoint(SQS); err != nil || u != "http://127.0.0.1:4569" {
		t.Errorf("Endpoint(SQS) = %q, %v", u, err)
	}

	// A POSIX shell reads the same values.
	if sh, err := exec.LookPath("sh"); err == nil {
		out, err := exec.Command(sh, "-c", `set -a; . "$0"; echo "$AWS_ENDPOINT_URL_KINESIS $AWS_DEFAULT_REGION $AWS_ACCESS_KEY_ID"`, path).Output()
		if err != nil || strings.TrimSpace(string(out)) != "http://127.0.0.1:4567 eu-west-1 local" {
			t.Errorf("sourced by sh: %q, %v", out, err)
		}
	}

	if err := Withdraw(path); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(DefaultPath(root)); !errors.Is(err, ErrNotRunning) {
		t.Errorf("after Withdraw: %v, want ErrNotRunning", err)
	}
}

func TestWriteRefusesWhatAShellWouldChange(t *testing.T) {
	for _, v := range []string{"", "a b", "$(rm -rf /)", "x;y", `a"b`} {
		f := New("dev", "us-east-1", "", map[string]string{Kinesis: v})
		if err := f.Write(filepath.Join(t.TempDir(), FileName)); err == nil {
			t.Errorf("value %q was written", v)
		}
	}
}

func TestReadRejectsMalformedLines(t *testing.T) {
	for name, body := range map[string]string{
		"no equals":      "AWS_REGION=us-east-1\nAWS_ACCESS_KEY_ID=a\nAWS_SECRET_ACCESS_KEY=b\nnonsense\n",
		"bad key":        "AWS_REGION=us-east-1\nAWS_ACCESS_KEY_ID=a\nAWS_SECRET_ACCESS_KEY=b\nlower=1\n",
		"missing region": "AWS_ACCESS_KEY_ID=a\nAWS_SECRET_ACCESS_KEY=b\n",
	} {
		path := filepath.Join(t.TempDir(), FileName)
		os.WriteFile(path, []byte(body), 0o644)
		if _, err := Read(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: err = %v, want one naming the file", name, err)
		}
	}
}

// The file's variables are the SDK's standard ones: its default
// configuration, with nothing local-specific, reaches the stand-in.
func TestTheSDKDefaultConfigReachesTheStandIn(t *testing.T) {
	srv := emutest.Start(t, emulators.Kinesis)
	f := New("dev", "us-east-1", "", map[string]string{Kinesis: srv.Endpoint})
	path := filepath.Join(t.TempDir(), FileName)
	if err := f.Write(path); err != nil {
		t.Fatal(err)
	}
	read, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	for k, v := range read.Values {
		t.Setenv(k, v)
	}
	ctx := t.Context()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	client := kinesis.NewFromConfig(cfg)
	if _, err := client.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("s"), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatalf("CreateStream through the file's endpoint: %v", err)
	}
	out, err := client.ListStreams(ctx, &kinesis.ListStreamsInput{})
	if err != nil || len(out.StreamNames) != 1 || out.StreamNames[0] != "s" {
		t.Fatalf("ListStreams = %v, %v", out, err)
	}
}

// A file left behind by a run that was killed outright names a process
// that is gone: tools say so instead of meeting "connection refused".
func TestCheckRunning(t *testing.T) {
	f := New("dev", "us-east-1", "", nil)
	f.Path = "endpoints.env"
	if err := f.CheckRunning(); err != nil {
		t.Errorf("a file this process wrote: %v", err)
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Skipf("no true command: %v", err)
	}
	f.Values[RunPID] = strconv.Itoa(gone.Process.Pid)
	err := f.CheckRunning()
	if err == nil || !strings.Contains(err.Error(), "no longer running") || !strings.Contains(err.Error(), "make local") {
		t.Errorf("a file of a run that ended: %v, want it named as stale with what to do", err)
	}
	delete(f.Values, RunPID)
	if err := f.CheckRunning(); err != nil {
		t.Errorf("a file that names no run (an older release's): %v", err)
	}
}
