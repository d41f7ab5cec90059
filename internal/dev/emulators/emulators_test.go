package emulators_test

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/streamfn/streamfn/internal/dev/emulators"
	"github.com/streamfn/streamfn/internal/dev/emulators/emutest"
)

// Each stand-in answers a real SDK call, and Stop frees its port.
func TestStartAnswersAndStopFreesPort(t *testing.T) {
	for _, kind := range []emulators.Kind{emulators.Kinesis, emulators.DynamoDB, emulators.SQS} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			emu := emutest.StartAll(t, kind)
			s := emu.Servers[kind]
			var err error
			switch kind {
			case emulators.Kinesis:
				_, err = emu.Kinesis.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("s"), ShardCount: aws.Int32(20)})
			case emulators.DynamoDB:
				_, err = emu.DynamoDB.ListTables(ctx, &dynamodb.ListTablesInput{})
			case emulators.SQS:
				_, err = emu.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("q")})
			}
			if err != nil {
				t.Fatalf("SDK call against %s: %v", kind, err)
			}
			if addrs := listenAddresses(t, s.Port); len(addrs) == 0 || slices.ContainsFunc(addrs, func(a string) bool { return a != "0100007F" }) {
				t.Fatalf("%s listens on %v (hex, as in /proc/net/tcp); want 127.0.0.1 (0100007F) only", kind, addrs)
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

// listenAddresses returns the local addresses of the sockets listening on
// port, as /proc/net/tcp and /proc/net/tcp6 write them (hex).
func listenAddresses(t *testing.T, port int) []string {
	t.Helper()
	var addrs []string
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(table)
		if err != nil {
			t.Fatalf("reading %s: %v", table, err)
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			fields := strings.Fields(line)
			if len(fields) < 4 || fields[3] != "0A" { // 0A: LISTEN
				continue
			}
			host, hexPort, _ := strings.Cut(fields[1], ":")
			if p, err := strconv.ParseUint(hexPort, 16, 16); err == nil && int(p) == port {
				addrs = append(addrs, host)
			}
		}
	}
	return addrs
}
