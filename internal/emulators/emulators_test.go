package emulators_test

import (
	"net"
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
