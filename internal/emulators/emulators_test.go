package emulators_test

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/streamfn/streamfn/internal/emulators"
	"github.com/streamfn/streamfn/internal/emulators/emutest"
)

// Each stand-in answers a real SDK call, and Stop frees its port.
func TestStartAnswersAndStopFreesPort(t *testing.T) {
	for _, kind := range []emulators.Kind{emulators.Kinesis, emulators.DynamoDB, emulators.SQS} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			s := emutest.Start(t, kind)
			ctx := emutest.Context(t)
			cfg := emutest.Config(s)
			var err error
			switch kind {
			case emulators.Kinesis:
				_, err = kinesis.NewFromConfig(cfg).CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("s"), ShardCount: aws.Int32(20)})
			case emulators.DynamoDB:
				_, err = dynamodb.NewFromConfig(cfg).ListTables(ctx, &dynamodb.ListTablesInput{})
			case emulators.SQS:
				_, err = sqs.NewFromConfig(cfg).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("q")})
			}
			if err != nil {
				t.Fatalf("SDK call against %s: %v", kind, err)
			}
			s.Stop()
			if !s.Exited() {
				t.Fatal("process still running after Stop")
			}
			addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port))
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				t.Fatalf("port %d still accepts connections after Stop", s.Port)
			}
		})
	}
}

func TestUnknownKind(t *testing.T) {
	if _, err := emulators.Start("s3", emulators.Options{}); err == nil {
		t.Fatal("want an error for an unknown kind")
	}
}

// The launcher's replacements for parts of kinesalite (kinesalite-fast.cjs:
// sequence numbers, hash-key comparisons, PutRecords validation) must give
// exactly what the originals give, results and errors alike;
// testdata/kinesalite-fast-check.cjs compares them over some 150,000 calls
// per seed.
func TestKinesaliteFastMatchesOriginal(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skipf("skipping: %v", emulators.ErrNodeMissing)
	}
	root, err := emulators.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "node_modules", "kinesalite", "package.json")); err != nil {
		t.Fatalf("kinesalite is not installed: run `npm ci` in %s", root)
	}
	for _, seed := range []string{"1", "2"} {
		out, err := exec.Command(node, "testdata/kinesalite-fast-check.cjs", root, "kinesalite-fast.cjs", seed).CombinedOutput()
		if err != nil {
			t.Fatalf("seed %s: %v\n%s", seed, err, out)
		}
		var res struct {
			Compared   int
			Mismatches []any
		}
		if err := json.Unmarshal(out, &res); err != nil || res.Compared < 100000 || len(res.Mismatches) > 0 {
			t.Fatalf("seed %s: %s (err %v); want over 100000 calls compared and no mismatch", seed, out, err)
		}
	}
}
