package run

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamfn/streamfn/internal/dev/emulators"
	"github.com/streamfn/streamfn/internal/dev/local/deploy"
	"github.com/streamfn/streamfn/internal/dev/local/report"
	"github.com/streamfn/streamfn/internal/dev/local/verify"
)

func TestURLID(t *testing.T) {
	for in, want := range map[string]string{
		"https://abc123.lambda-url.us-east-1.on.aws/": "abc123",
		"":           "local",
		"not a url:": "local",
	} {
		if got := urlID(in); got != want {
			t.Errorf("urlID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFunctionEnvPointsTheSDKAtTheStandIns(t *testing.T) {
	f := deploy.Function{
		Environment: map[string]string{"POISON_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/poison", "TABLE_NAME": "t"},
		LogFormat:   "JSON", LogLevel: "INFO",
	}
	set := &emulatorSet{
		kinesis:  &emulators.Server{Endpoint: "http://127.0.0.1:1"},
		dynamodb: &emulators.Server{Endpoint: "http://127.0.0.1:2"},
		sqs:      &emulators.Server{Endpoint: "http://127.0.0.1:3"},
	}
	env := functionEnv(f, "eu-west-1", map[string]string{"https://sqs.us-east-1.amazonaws.com/123456789012/poison": "http://127.0.0.1:3/000000000000/poison"}, set)
	want := map[string]string{
		"POISON_QUEUE_URL":          "http://127.0.0.1:3/000000000000/poison",
		"TABLE_NAME":                "t",
		"AWS_LAMBDA_LOG_FORMAT":     "JSON",
		"AWS_LAMBDA_LOG_LEVEL":      "INFO",
		"AWS_REGION":                "eu-west-1",
		"AWS_ENDPOINT_URL_KINESIS":  "http://127.0.0.1:1",
		"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:2",
		"AWS_ENDPOINT_URL_SQS":      "http://127.0.0.1:3",
		"AWS_ENDPOINT_URL_S3":       "http://127.0.0.1:3", // fauxqs serves S3 too
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	if env["AWS_ACCESS_KEY_ID"] == "" || env["AWS_SECRET_ACCESS_KEY"] == "" {
		t.Error("no dummy credentials: the SDK would look for real ones")
	}
	// With -outage the functions reach the table through the proxy.
	set.tableEndpoint = "http://127.0.0.1:4"
	if env := functionEnv(f, "eu-west-1", nil, set); env["AWS_ENDPOINT_URL_DYNAMODB"] != "http://127.0.0.1:4" {
		t.Errorf("with an outage, AWS_ENDPOINT_URL_DYNAMODB = %q, want the proxy", env["AWS_ENDPOINT_URL_DYNAMODB"])
	}
}

func TestMappingConfigCarriesEveryKnob(t *testing.T) {
	d := &deploy.Deployment{
		Region:    "eu-west-1",
		Stream:    deploy.Stream{Name: "s", ARN: "arn:aws:kinesis:eu-west-1:1:stream/s"},
		Processor: deploy.Function{ARN: "arn:aws:lambda:eu-west-1:1:function:p", RoleARN: "arn:aws:iam::1:role/r"},
		Mapping: deploy.Mapping{
			BatchSize: 7, MaximumBatchingWindow: 3 * time.Second, ParallelizationFactor: 4, StartingPosition: "LATEST",
			MaximumRetryAttempts: 2, MaximumRecordAge: time.Minute, BisectBatchOnFunctionError: true, ReportBatchItemFailures: true,
		},
	}
	cfg := mappingConfig(d, clients{}, "http://127.0.0.1:3/000000000000/failures")
	if cfg.StreamName != "s" || cfg.StreamARN != d.Stream.ARN || cfg.FunctionARN != d.Processor.ARN || cfg.InvokeIdentityARN != d.Processor.RoleARN ||
		cfg.Region != "eu-west-1" || cfg.BatchSize != 7 || cfg.MaximumBatchingWindow != 3*time.Second || cfg.ParallelizationFactor != 4 ||
		cfg.StartingPosition != "LATEST" || cfg.MaximumRetryAttempts != 2 || cfg.MaximumRecordAge != time.Minute ||
		!cfg.BisectBatchOnFunctionError || !cfg.ReportBatchItemFailures || cfg.Destination == nil {
		t.Errorf("config = %+v", cfg)
	}
	if cfg := mappingConfig(d, clients{}, ""); cfg.Destination != nil {
		t.Error("a mapping without an on-failure destination got one")
	}
}

// A local run at twice one shard's write limit (dev: one PROVISIONED shard,
// 1,000 records/s) has entries refused with
// ProvisionedThroughputExceededException, ingest retries them, and verify
// still finds every event exactly once. The last line is the verdict.
func TestTwiceAShardsLimitIsThrottledAndVerifyIsExact(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole local run")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip(emulators.ErrNodeMissing)
	}
	root, err := emulators.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	reportFile := filepath.Join(t.TempDir(), "report.json")
	var out bytes.Buffer
	err = Run(t.Context(), Options{
		Root: root, Stack: "dev", Rate: 2000, Duration: 6 * time.Second, Users: 50, Batch: 100, Clients: 8, Seed: 3,
		Verify: true, Port: 0, IngestCap: 4, ReportFile: reportFile, Name: "throttle", Stdout: &out, Stderr: &out,
	})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "throttle: verify OK, ") || !strings.HasSuffix(last, " users, 0 differences") {
		t.Errorf("last line %q, want the verdict", last)
	}
	data, err := os.ReadFile(reportFile)
	if err != nil {
		t.Fatal(err)
	}
	var sum report.Summary
	if err := json.Unmarshal(data, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Kinesis == nil || sum.Kinesis.PutRecordsEntriesThrottled == 0 {
		t.Fatalf("no throttled entries at twice the shard's limit: %+v\n%s", sum.Kinesis, out.String())
	}
	// The shard took about its limit for the load's 6 s, and every event acknowledged.
	if sum.Verify == nil || !sum.Verify.OK || sum.Verify.Events < 6000 {
		t.Errorf("verify %+v, want OK over the whole load", sum.Verify)
	}
	throttledSeries := 0.0
	for _, p := range sum.Series {
		throttledSeries += p.Throttled
	}
	if throttledSeries == 0 {
		t.Error("the chart's series shows no throttled records")
	}
	t.Logf("%d entries throttled; %d events verified; processed %.0f/s", sum.Kinesis.PutRecordsEntriesThrottled, sum.Verify.Events, sum.ProcessedPerS)
}

func TestStopStackStopsInReverseOnce(t *testing.T) {
	var s stopStack
	var got []int
	for i := range 3 {
		s.add(func() { got = append(got, i) })
	}
	s.run()
	s.run() // a second run (the deferred one after report's) stops nothing again
	if want := []int{2, 1, 0}; !slices.Equal(got, want) {
		t.Fatalf("stopped %v, want %v: the last started stops first, each once", got, want)
	}
}

// Every flag problem is found before anything is built, all at once, each
// naming its flag.
func TestOptionsCheckNamesEveryProblemUpFront(t *testing.T) {
	good := Options{Rate: 100, Users: 10, Batch: 10, Clients: 1, IngestCap: 1, PartitionKeys: "user"}
	if err := good.Check(); err != nil {
		t.Fatalf("good options: %v", err)
	}
	if err := (Options{IngestCap: 1}).Check(); err != nil {
		t.Fatalf("no load (curl): %v", err)
	}
	bad := Options{
		Rate: 100, Users: 0, Batch: 5000, Clients: 1, PartitionKeys: "sideways", LateDup: time.Second,
		Duration: -time.Second, Outage: -time.Second, Chaos: 2, Port: 70000, IngestCap: -1,
		ReportFile: filepath.Join(aFile(t), "r.json"), // under a file: cannot be made
	}
	err := bad.Check()
	if err == nil {
		t.Fatal("Check accepted bad options")
	}
	for _, want := range []string{"-users 0", "-batch 5000", `-pk "sideways"`, "-late-dup 1s", "-duration -1s", "-outage -1s",
		"-chaos 2", "-port 70000", "-ingest-environments -1", "-report " + bad.ReportFile} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not name %q:\n%v", want, err)
		}
	}
	if err := (Options{Rate: -5, IngestCap: 1}).Check(); err == nil || !strings.Contains(err.Error(), "-rate -5") {
		t.Errorf("-rate -5: %v, want it refused, not taken as no load", err)
	}
	// Without -rate the load's flags are still checked, the stack too, and
	// a folder is no report file.
	root := t.TempDir()
	err = (Options{Root: root, Stack: "nosuch", PartitionKeys: "bad", ReportFile: root}).Check()
	for _, want := range []string{`-pk "bad"`, `-stack nosuch: stack "nosuch" has no settings file`, "-report " + root + ": is a folder"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("without -rate: %v, want it to name %q", err, want)
		}
	}
	// Run refuses them before it makes its folder, builds or starts anything.
	root = t.TempDir()
	if err := Run(t.Context(), Options{Root: root, Rate: -5, IngestCap: 1}); err == nil || !strings.Contains(err.Error(), "-rate -5") {
		t.Errorf("Run(-rate -5) = %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, ".build")); !os.IsNotExist(err) {
		t.Errorf("Run made %s/.build before refusing its flags (%v)", root, err)
	}
}

func TestOutcome(t *testing.T) {
	failed, passed, writeErr := &verify.Result{OK: false}, &verify.Result{OK: true}, errors.New("disk full")
	for _, tt := range []struct {
		name        string
		verifyAsked bool
		verdict     *verify.Result
		interrupted bool
		reportErr   error
		want        error
	}{
		{"passed", true, passed, false, nil, nil},
		{"differences", true, failed, false, nil, ErrVerifyFailed},
		{"differences and no report", true, failed, false, writeErr, ErrVerifyFailed},
		{"Ctrl-C before verify", true, nil, true, nil, ErrInterrupted},
		{"Ctrl-C without -verify is the way to stop", false, nil, true, nil, nil},
		{"passed, no report", true, passed, false, writeErr, writeErr},
	} {
		if got := outcome(tt.verifyAsked, tt.verdict, tt.interrupted, tt.reportErr); !errors.Is(got, tt.want) || (tt.want == nil) != (got == nil) {
			t.Errorf("%s: outcome = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// Once Run returned, a step still finishing writes nothing to the caller's
// writer (the race detector caught such a write after a Ctrl-C).
func TestLockedWriterDropsWritesAfterClose(t *testing.T) {
	var b strings.Builder
	w := &lockedWriter{w: &b}
	fmt.Fprint(w, "before ")
	w.close()
	if n, err := fmt.Fprint(w, "after"); n != 5 || err != nil {
		t.Errorf("a write after close = %d, %v; want it taken and dropped", n, err)
	}
	if b.String() != "before " {
		t.Errorf("the writer got %q, want only what came before close", b.String())
	}
}

// aFile is the path of a file that exists.
func aFile(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// A report in folders that do not exist yet is fine: the writer makes them.
func TestReportInFoldersToBeMade(t *testing.T) {
	o := Options{ReportFile: filepath.Join(t.TempDir(), "e2e", "deeper", "report.json")}
	if err := o.Check(); err != nil {
		t.Errorf("a report in folders to be made: %v", err)
	}
}
