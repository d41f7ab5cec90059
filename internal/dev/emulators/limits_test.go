package emulators_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamfn/streamfn/internal/dev/emulators"
	"github.com/streamfn/streamfn/internal/dev/emulators/emutest"
)

func startLimited(t *testing.T, limits bool) (*emulators.Server, *kinesis.Client) {
	t.Helper()
	s := emutest.StartWith(t, emulators.Kinesis, emulators.Options{ShardThroughputLimits: limits})
	cfg := emutest.Config(s)
	cfg.Retryer = func() aws.Retryer { return aws.NopRetryer{} } // see every refusal
	client := kinesis.NewFromConfig(cfg)
	emutest.CreateStream(t, client, "s", 1)
	return s, client
}

func batch(n, size int, tag string) []types.PutRecordsRequestEntry {
	entries := make([]types.PutRecordsRequestEntry, n)
	for i := range entries {
		entries[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprintf("%s-%d", tag, i)), Data: bytes.Repeat([]byte("x"), size)}
	}
	return entries
}

// One shard takes 1,000 records in a second; the rest of a burst fails
// entry by entry with ProvisionedThroughputExceededException, as Kinesis
// answers PutRecords.
func TestShardWriteLimitFailsEntries(t *testing.T) {
	s, client := startLimited(t, true)
	ctx := t.Context()
	var ok, throttled int
	start := time.Now()
	for i := range 3 {
		out, err := client.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: batch(500, 10, fmt.Sprint(i))})
		if err != nil {
			t.Fatal(err)
		}
		failed := 0
		for _, r := range out.Records {
			switch {
			case r.ErrorCode == nil && r.SequenceNumber != nil:
				ok++
			case aws.ToString(r.ErrorCode) == "ProvisionedThroughputExceededException" && r.SequenceNumber == nil:
				throttled++
				failed++
			default:
				t.Fatalf("entry %+v", r)
			}
		}
		if int(aws.ToInt32(out.FailedRecordCount)) != failed {
			t.Errorf("FailedRecordCount %d, %d entries failed", aws.ToInt32(out.FailedRecordCount), failed)
		}
	}
	// A second's worth, and what the bucket earned back while the calls ran.
	earned := int(time.Since(start).Seconds()*1000) + 1
	if ok < 1000 || ok > 1000+earned || ok+throttled != 1500 {
		t.Errorf("%d written, %d throttled of 1500 in a burst of %s; want 1,000 to %d written", ok, throttled, time.Since(start), 1000+earned)
	}
	st, err := s.ThroughputStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.PutRecordsEntriesThrottled != int64(throttled) || st.Shards["s/shardId-000000000000"].WritesThrottled != int64(throttled) {
		t.Errorf("stats %+v, want %d throttled entries", st, throttled)
	}

	// 1 MiB/s: two records of 600 KB do not both fit in a second.
	time.Sleep(1100 * time.Millisecond)
	big := batch(2, 600_000, "big")
	out, err := client.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: big})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(out.FailedRecordCount) != 1 || out.Records[0].ErrorCode != nil || aws.ToString(out.Records[1].ErrorCode) != "ProvisionedThroughputExceededException" {
		t.Errorf("two 600 KB records: %+v", out.Records)
	}
	// PutRecord fails the call: what is left of the second (about 450 KB)
	// takes half a second to grow to 1 MB.
	_, err = client.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("p"), Data: bytes.Repeat([]byte("x"), 1_000_000)})
	var exceeded *types.ProvisionedThroughputExceededException
	if !errors.As(err, &exceeded) {
		t.Errorf("PutRecord over the byte limit: %v, want ProvisionedThroughputExceededException", err)
	}
}

// Five GetRecords calls a second per shard; the sixth fails.
func TestShardReadLimit(t *testing.T) {
	_, client := startLimited(t, true)
	ctx := t.Context()
	it, err := client.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	iterator := it.ShardIterator
	var refused int
	start := time.Now()
	for range 12 {
		out, err := client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iterator})
		var exceeded *types.ProvisionedThroughputExceededException
		switch {
		case errors.As(err, &exceeded):
			refused++
		case err != nil:
			t.Fatal(err)
		default:
			iterator = out.NextShardIterator
		}
	}
	allowed := 5 + int(time.Since(start).Seconds()*5)
	if refused != max(0, 12-allowed) {
		t.Errorf("%d of 12 GetRecords calls in %s refused, want %d: the ones past 5 a second", refused, time.Since(start), max(0, 12-allowed))
	}
	// A read of 3.6 MB (more than the second's 2 MiB) is answered; the next
	// call then waits until the shard has earned it back (0.75 s).
	time.Sleep(1100 * time.Millisecond)
	for i := range 4 {
		if _, err := client.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: batch(1, 900_000, fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second) // within the write limit
	}
	it, err = client.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	out, err := client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil || len(out.Records) != 4 {
		t.Fatalf("reading 3.6 MB at once: %v, %d records", err, len(out.Records))
	}
	bigRead := time.Now()
	_, err = client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: out.NextShardIterator})
	var exceeded *types.ProvisionedThroughputExceededException
	// On a loaded machine the next call may come after the shard earned its
	// read back (0.75 s): then either answer is right.
	if !errors.As(err, &exceeded) && time.Since(bigRead) < 700*time.Millisecond {
		t.Errorf("the call after a 3.6 MB read: %v, want ProvisionedThroughputExceededException", err)
	}
}

// Without the option, kinesalite takes any rate.
func TestNoLimitsByDefault(t *testing.T) {
	_, client := startLimited(t, false)
	ctx := t.Context()
	for i := range 4 {
		out, err := client.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: batch(500, 10, fmt.Sprint(i))})
		if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
			t.Fatalf("PutRecords without limits: %v, %d failed", err, aws.ToInt32(out.FailedRecordCount))
		}
	}
}
