package ingest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamfn/streamfn/internal/activity"
	"github.com/streamfn/streamfn/internal/aws/streamwriter"
	"github.com/streamfn/streamfn/internal/dev/emulators"
	"github.com/streamfn/streamfn/internal/dev/emulators/emutest"
)

// chaosStream stands between the writer and a real Kinesis API (kinesalite)
// and misbehaves the way Kinesis does under load: it throttles whole calls,
// and for single entries it withholds them from the real call and answers
// ProvisionedThroughputExceededException or InternalFailure in their place.
// Entries whose data contains never are always refused.
type chaosStream struct {
	real  streamwriter.API
	never string

	mu    sync.Mutex
	calls int
	sent  map[string]int
}

func (c *chaosStream) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	c.mu.Lock()
	c.calls++
	call := c.calls
	failed := make([]string, len(in.Records)) // error code per entry, "" to pass it on
	var forward []types.PutRecordsRequestEntry
	for i, e := range in.Records {
		c.sent[string(e.Data)]++
		switch {
		case c.never != "" && strings.Contains(string(e.Data), c.never):
			failed[i] = "ProvisionedThroughputExceededException"
		case c.sent[string(e.Data)] <= 2 && hash(e.Data, c.sent[string(e.Data)])%4 == 0:
			failed[i] = []string{"ProvisionedThroughputExceededException", "InternalFailure"}[hash(e.Data, 9)%2]
		default:
			forward = append(forward, e)
		}
	}
	c.mu.Unlock()
	if call%5 == 2 {
		return nil, &types.ProvisionedThroughputExceededException{Message: aws.String("Rate exceeded for stream activity (injected)")}
	}
	var realOut *kinesis.PutRecordsOutput
	if len(forward) > 0 {
		forwardIn := *in
		forwardIn.Records = forward
		var err error
		if realOut, err = c.real.PutRecords(ctx, &forwardIn, optFns...); err != nil {
			return nil, err
		}
	}
	out := &kinesis.PutRecordsOutput{FailedRecordCount: aws.Int32(0)}
	next := 0
	for _, code := range failed {
		if code != "" {
			out.Records = append(out.Records, types.PutRecordsResultEntry{ErrorCode: aws.String(code), ErrorMessage: aws.String("injected")})
			*out.FailedRecordCount++
			continue
		}
		entry := realOut.Records[next]
		next++
		if entry.ErrorCode != nil {
			*out.FailedRecordCount++
		}
		out.Records = append(out.Records, entry)
	}
	return out, nil
}

func hash(data []byte, salt int) uint32 {
	h := fnv.New32a()
	h.Write(data)
	fmt.Fprint(h, salt)
	return h.Sum32()
}

// Against kinesalite, through injected throttling and failures: every
// accepted event is in the stream exactly once, and no other record is.
func TestHandlerAgainstKinesalite(t *testing.T) {
	ctx := t.Context()
	emu := emutest.StartAll(t, emulators.Kinesis)
	emutest.CreateStream(t, emu.Kinesis, "activity", 3)
	client := kinesis.New(emu.Kinesis.Options(), func(o *kinesis.Options) { o.RetryMaxAttempts = 1 })
	chaos := &chaosStream{real: client, never: `"u-never"`, sent: map[string]int{}}
	var assigned []string
	handler := NewHandler(Config{MetricsNamespace: "streamfn", FunctionName: "ingest"}, Deps{
		Writer: streamwriter.New(chaos, "activity", streamwriter.Options{BaseDelay: 2 * time.Millisecond, MaxDelay: 20 * time.Millisecond, Margin: 100 * time.Millisecond}),
		NewEventID: func() (string, error) {
			id, err := NewEventID()
			assigned = append(assigned, id)
			return id, err
		},
	})
	invoke := func(req eventsRequest) Body {
		t.Helper()
		timeout := 10 * time.Second
		if req.wantStatus == 503 {
			timeout = time.Second // it lasts until the deadline
		}
		callCtx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		resp, err := handler.Handle(callCtx, functionURLRequestWith(t, req))
		if err != nil {
			t.Fatal(err)
		}
		var body Body
		if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
			t.Fatalf("%d %s: %v", resp.StatusCode, resp.Body, err)
		}
		if req.wantStatus != resp.StatusCode {
			t.Fatalf("status %d, want %d: %s", resp.StatusCode, req.wantStatus, resp.Body)
		}
		return body
	}

	want := map[string]string{} // eventId -> userId of every event that must be in the stream once
	// 1000 events with eventIds, every 97th invalid.
	var batch []string
	for i := range 1000 {
		if i%97 == 0 {
			batch = append(batch, fmt.Sprintf(`{"eventId":"a-%d","type":"view","productId":"p","ts":"2026-11-26T12:00:00Z"}`, i))
			continue
		}
		user := fmt.Sprintf("u-%d", i%40)
		batch = append(batch, fmt.Sprintf(`{"eventId":"a-%d","userId":%q,"type":"view","productId":"p-%d","ts":"2026-11-26T12:00:00Z"}`, i, user, i))
		want[fmt.Sprintf("a-%d", i)] = user
	}
	body := invoke(eventsRequest{contentType: "application/json", body: array(batch...), wantStatus: 202})
	if body.Accepted != 1000-11 || len(body.Rejected) != 11 {
		t.Fatalf("accepted %d, rejected %d; want 989 and 11", body.Accepted, len(body.Rejected))
	}

	// 300 NDJSON events without eventIds, base64-encoded.
	var lines []string
	for i := range 300 {
		lines = append(lines, fmt.Sprintf(`{"userId":"u-%d","type":"search","ts":"2026-11-26T12:01:00Z","query":"q-%d"}`, i%25, i))
	}
	body = invoke(eventsRequest{contentType: "application/x-ndjson", body: base64.StdEncoding.EncodeToString([]byte(ndjson(lines...))), base64: true, wantStatus: 202})
	if body.Accepted != 300 || len(assigned) != 300 {
		t.Fatalf("accepted %d, assigned %d ids; want 300 and 300", body.Accepted, len(assigned))
	}
	for i, id := range assigned {
		want[id] = fmt.Sprintf("u-%d", i%25)
	}

	// A user whose events the stream never takes: 503 with exactly those.
	var mixed []string
	var wantUnwritten []int
	for i := range 30 {
		user := fmt.Sprintf("u-%d", i)
		if i%7 == 3 {
			user, wantUnwritten = "u-never", append(wantUnwritten, i)
		} else {
			want[fmt.Sprintf("m-%d", i)] = user
		}
		mixed = append(mixed, fmt.Sprintf(`{"eventId":"m-%d","userId":%q,"type":"purchase","productId":"p","price":1,"ts":"2026-11-26T12:02:00Z"}`, i, user))
	}
	body = invoke(eventsRequest{contentType: "application/json", body: array(mixed...), wantStatus: 503})
	if !slices.Equal(body.Unwritten, wantUnwritten) || body.Accepted != 30-len(wantUnwritten) {
		t.Fatalf("unwritten %v, accepted %d; want %v and %d", body.Unwritten, body.Accepted, wantUnwritten, 30-len(wantUnwritten))
	}

	got := readStream(t, ctx, client, "activity")
	seen := map[string]int{}
	for _, r := range got {
		ev, err := activity.ParseValid(r.Data)
		if err != nil {
			t.Fatalf("stream holds an invalid event %s: %v", r.Data, err)
		}
		if aws.ToString(r.PartitionKey) != ev.UserID {
			t.Errorf("record %s has partition key %q", r.Data, aws.ToString(r.PartitionKey))
		}
		seen[ev.EventID]++
		if user, ok := want[ev.EventID]; !ok || user != ev.UserID {
			t.Errorf("stream holds an event that was not accepted: %s", r.Data)
		}
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("event %s is in the stream %d times, want once", id, seen[id])
		}
	}
	if len(got) != len(want) {
		t.Errorf("stream holds %d records, want %d", len(got), len(want))
	}
	if chaos.calls < 10 {
		t.Errorf("only %d PutRecords calls: the chaos did not force retries", chaos.calls)
	}
}

type eventsRequest struct {
	contentType, body string
	base64            bool
	wantStatus        int
}

func functionURLRequestWith(t *testing.T, r eventsRequest) events.LambdaFunctionURLRequest {
	req := functionURLRequest(t, r.contentType, r.body)
	req.IsBase64Encoded = r.base64
	return req
}

// readStream reads every record from every shard, oldest first.
func readStream(t *testing.T, ctx context.Context, client *kinesis.Client, stream string) []types.Record {
	t.Helper()
	shards, err := client.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatal(err)
	}
	var records []types.Record
	for _, shard := range shards.Shards {
		it, err := client.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
			StreamName: aws.String(stream), ShardId: shard.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
		})
		if err != nil {
			t.Fatal(err)
		}
		for iterator := it.ShardIterator; iterator != nil; {
			out, err := client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iterator, Limit: aws.Int32(10000)})
			if err != nil {
				t.Fatal(err)
			}
			records = append(records, out.Records...)
			if len(out.Records) == 0 {
				break
			}
			iterator = out.NextShardIterator
		}
	}
	return records
}
