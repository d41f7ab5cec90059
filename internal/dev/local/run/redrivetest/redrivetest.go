// Package redrivetest gives a test what the redrive and erase tools work
// on: a live local run of the outage stack whose event-source mapping gave
// up on a set of events.
package redrivetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/streamfn/streamfn/internal/dev/emulators/emutest"
	localrun "github.com/streamfn/streamfn/internal/dev/local/run"
	"github.com/streamfn/streamfn/internal/dev/local/run/runtest"
	"github.com/streamfn/streamfn/internal/ops/endpoints"
	"github.com/streamfn/streamfn/internal/ops/redrive"
	"github.com/streamfn/streamfn/internal/ops/stackoutputs"
)

// outage is how long the outage stack's table refuses the processor's
// writes.
const outage = 20 * time.Second

// Outage is a live local run of the outage stack after its outage: the
// mapping gave every event StartOutage put up to the on-failure
// destination, and the table takes writes again.
type Outage struct {
	*runtest.Run
	Config  aws.Config           // the SDK's default configuration, which the endpoints file fills
	Outputs stackoutputs.Outputs // the run's stack outputs
	Target  redrive.Target       // what the redrive tool works on
	// Sent is the events put per user; Put says where they went (shard,
	// sequence numbers), in the order they were put.
	Sent map[string]int
	Put  *kinesis.PutRecordsOutput
}

// StartOutage starts the local run of the outage stack with runtest.Start
// (stopped when the test ends, the test skipped without Node.js), puts as
// many valid events as events into its stream (the i-th of them is
// user-<i%users>'s), and waits until the mapping has given them all up to
// the on-failure destination, then until the outage is over. If the test
// fails, the run's log is shown once the run has stopped.
func StartOutage(t *testing.T, events, users int) *Outage {
	t.Helper()
	emutest.RequireNode(t)
	o := &Outage{Sent: map[string]int{}}
	// Registered before runtest's own clean-up, so it runs after it: the
	// log is whole and no longer written.
	t.Cleanup(func() {
		if t.Failed() && o.Run != nil {
			t.Logf("the local run's log:\n%s", o.Log)
		}
	})
	o.Run = runtest.Start(t, localrun.Options{Stack: "outage", Port: 0, IngestCap: 2, Users: 1, Batch: 1, Clients: 1, Outage: outage})
	outageEnds := time.Now().Add(outage)
	ctx := t.Context()
	var err error
	if o.Config, err = config.LoadDefaultConfig(ctx); err != nil {
		t.Fatal(err)
	}
	if o.Outputs, err = stackoutputs.Read(o.File.Values[endpoints.Outputs]); err != nil {
		t.Fatal(err)
	}
	if o.Target, err = redrive.TargetFromOutputs("outage", o.Endpoints, o.Outputs); err != nil {
		t.Fatal(err)
	}

	var entries []ktypes.PutRecordsRequestEntry
	for i := range events {
		user := fmt.Sprintf("user-%d", i%users)
		o.Sent[user]++
		data := fmt.Sprintf(`{"eventId":"e-%d","userId":%q,"type":"view","productId":"sku-%d","category":"shoes","price":1,"ts":"2026-11-26T12:00:%02dZ"}`, i, user, i%7, i%60)
		entries = append(entries, ktypes.PutRecordsRequestEntry{PartitionKey: aws.String(user), Data: []byte(data)})
	}
	kin := kinesis.NewFromConfig(o.Config)
	o.Put, err = kin.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(o.Target.StreamName), Records: entries})
	if err != nil || aws.ToInt32(o.Put.FailedRecordCount) > 0 {
		t.Fatalf("PutRecords: %v", err)
	}

	// The mapping gives up on them during the outage.
	tool := &redrive.Tool{
		Target:  o.Target,
		S3:      s3.NewFromConfig(o.Config, func(opts *s3.Options) { opts.DisableLogOutputChecksumValidationSkipped = true }),
		SQS:     sqs.NewFromConfig(o.Config),
		Kinesis: kin,
		Lambda:  lambda.NewFromConfig(o.Config),
	}
	for deadline, records := time.Now().Add(2*time.Minute), 0; records < events; {
		if time.Now().After(deadline) {
			t.Fatalf("after 2 minutes, %d of %d records in on-failure records", records, events)
		}
		time.Sleep(time.Second)
		list, err := tool.List(ctx)
		if err != nil {
			t.Fatalf("listing the on-failure records: %v", err)
		}
		records = 0
		for _, f := range list.Failures {
			records += f.Records
		}
	}
	time.Sleep(time.Until(outageEnds))
	return o
}
