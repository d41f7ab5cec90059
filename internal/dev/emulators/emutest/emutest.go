// Package emutest starts local AWS stand-ins for a test and stops them when
// the test ends.
package emutest

import (
	"errors"
	"os/exec"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/streamfn/streamfn/internal/dev/emulators"
)

// Start starts one stand-in and stops it in t.Cleanup. Without Node.js the
// test is skipped with the reason; any other failure fails the test.
func Start(t testing.TB, kind emulators.Kind) *emulators.Server {
	t.Helper()
	return StartWith(t, kind, emulators.Options{})
}

// RequireNode skips the test, with the reason, where Node.js is missing:
// for tests that start the stand-ins through something else, such as a
// whole local run.
func RequireNode(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skipf("skipping: %v", emulators.ErrNodeMissing)
	}
}

// StartWith is Start with options (Kinesis's shard limits, ...).
func StartWith(t testing.TB, kind emulators.Kind, opts emulators.Options) *emulators.Server {
	t.Helper()
	s, err := emulators.Start(kind, opts)
	if errors.Is(err, emulators.ErrNodeMissing) {
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatalf("starting %s stand-in: %v", kind, err)
	}
	t.Cleanup(s.Stop)
	return s
}

// StandIns are the stand-ins StartAll started for one test, with an SDK
// client for each. A client whose stand-in was not asked for is nil.
type StandIns struct {
	Servers  map[emulators.Kind]*emulators.Server
	Kinesis  *kinesis.Client  // kinesalite, with emulators.Kinesis
	DynamoDB *dynamodb.Client // dynalite, with emulators.DynamoDB
	SQS      *sqs.Client      // fauxqs, with emulators.SQS
	S3       *s3.Client       // fauxqs's S3, path-style, with emulators.SQS
}

// StartAll starts a stand-in of each kind, as Start does (stopped in
// t.Cleanup, the test skipped without Node.js), and makes a client for each
// from Config.
func StartAll(t testing.TB, kinds ...emulators.Kind) *StandIns {
	t.Helper()
	s := &StandIns{Servers: map[emulators.Kind]*emulators.Server{}}
	for _, kind := range kinds {
		server := Start(t, kind)
		s.Servers[kind] = server
		cfg := Config(server)
		switch kind {
		case emulators.Kinesis:
			s.Kinesis = kinesis.NewFromConfig(cfg)
		case emulators.DynamoDB:
			s.DynamoDB = dynamodb.NewFromConfig(cfg)
		case emulators.SQS:
			s.SQS = sqs.NewFromConfig(cfg)
			s.S3 = s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
		}
	}
	return s
}

// Config is an aws.Config for a stand-in: a fixed region, static dummy
// credentials and the server's endpoint. Tests use it instead of the
// environment so that parallel tests cannot see each other's endpoints.
func Config(s *emulators.Server) aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(s.Endpoint),
	}
}

// CreateStream creates a Kinesis stream and waits until it is active.
func CreateStream(t testing.TB, client *kinesis.Client, name string, shards int) {
	t.Helper()
	if _, err := client.CreateStream(t.Context(), &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(int32(shards))}); err != nil {
		t.Fatalf("creating stream %s: %v", name, err)
	}
	waiter := kinesis.NewStreamExistsWaiter(client, func(o *kinesis.StreamExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 500*time.Millisecond
	})
	if err := waiter.Wait(t.Context(), &kinesis.DescribeStreamInput{StreamName: aws.String(name)}, 30*time.Second); err != nil {
		t.Fatalf("waiting for stream %s: %v", name, err)
	}
}

// CreateQueue creates an SQS queue and returns its URL.
func CreateQueue(t testing.TB, client *sqs.Client, name string) string {
	t.Helper()
	out, err := client.CreateQueue(t.Context(), &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatalf("creating queue %s: %v", name, err)
	}
	return aws.ToString(out.QueueUrl)
}
