package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamfn/streamfn/internal/activity"
	"github.com/streamfn/streamfn/internal/ingest"
)

// fakeIngest answers like the ingest function: each NDJSON line is
// validated with the shared schema; invalid lines are rejected by index.
// fail lets a test make requests fail first.
type fakeIngest struct {
	mu       sync.Mutex
	eventIDs map[string]int // times each eventId was written
	requests atomic.Int32
	fail     func(n int32, lines int) (status int, unwritten []int)
}

func (f *fakeIngest) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := f.requests.Add(1)
	if r.Header.Get("Content-Type") != ingest.MediaNDJSON {
		http.Error(w, "want NDJSON", http.StatusUnsupportedMediaType)
		return
	}
	var lines [][]byte
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, bytes.Clone(sc.Bytes()))
	}
	status, unwritten := 0, []int(nil)
	if f.fail != nil {
		status, unwritten = f.fail(n, len(lines))
	}
	if status != 0 && status != http.StatusServiceUnavailable {
		w.WriteHeader(status)
		return
	}
	body := ingest.Body{Rejected: []ingest.Rejection{}}
	skip := map[int]bool{}
	for _, i := range unwritten {
		skip[i] = true
	}
	for i, line := range lines {
		ev, err := activity.ParseValid(line)
		if err != nil {
			body.Rejected = append(body.Rejected, ingest.Rejection{Index: i, Error: err.Error()})
			continue
		}
		if skip[i] {
			body.Unwritten = append(body.Unwritten, i)
			continue
		}
		f.mu.Lock()
		f.eventIDs[ev.EventID]++
		f.mu.Unlock()
		body.Accepted++
	}
	w.Header().Set("Content-Type", "application/json")
	if len(body.Unwritten) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
	} else {
		w.WriteHeader(http.StatusAccepted)
	}
	_ = json.NewEncoder(w).Encode(body)
}

// fakeKinesis takes malformed records put straight to the stream.
type fakeKinesis struct {
	mu      sync.Mutex
	records []types.PutRecordsRequestEntry
}

func (k *fakeKinesis) PutRecords(_ context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := &kinesis.PutRecordsOutput{FailedRecordCount: aws.Int32(0)}
	for _, e := range in.Records {
		k.records = append(k.records, e)
		out.Records = append(out.Records, types.PutRecordsResultEntry{
			ShardId: aws.String("shardId-000000000000"), SequenceNumber: aws.String(fmt.Sprint(len(k.records))),
		})
	}
	return out, nil
}

func runLoad(t *testing.T, opts Options, in *fakeIngest) (*Generator, *Ledger, *fakeKinesis) {
	t.Helper()
	in.eventIDs = map[string]int{}
	srv := httptest.NewServer(in)
	t.Cleanup(srv.Close)
	k := &fakeKinesis{}
	opts.URL = srv.URL
	opts.Kinesis = k
	opts.StreamName = "s"
	ledger := NewLedger()
	g, err := New(opts, ledger)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := g.Run(ctx); err != nil {
		t.Fatal(err)
	}
	return g, ledger, k
}

func TestLoadSplitsMalformedEventsAndRecordsWhatWasAcknowledged(t *testing.T) {
	in := &fakeIngest{}
	g, ledger, k := runLoad(t, Options{
		Rate: 2000, Duration: time.Second, Users: 20, Bad: 0.1, Dup: 0.1, EventsPerRequest: 50, Clients: 4, Seed: 3,
	}, in)
	s := g.Stats()
	// The pace is capped by the clock, never raised: more than the rate
	// allows is a bug, fewer only a busy machine (a speed matter for
	// benchmarks, not this test), as long as there is load at all.
	if s.Generated > 2100 || s.Generated < 100 {
		t.Errorf("generated %d events in 1s at 2000/s; want at most 2000 (+5%%) and some", s.Generated)
	}
	if problems := ledger.Problems(); len(problems) > 0 {
		t.Fatalf("ledger problems: %v", problems)
	}
	if s.Rejected == 0 || s.Direct == 0 || s.Duplicates == 0 {
		t.Fatalf("stats = %+v; want malformed events on both paths and duplicates", s)
	}
	// Every acknowledged event was written by ingest, and ingest wrote
	// nothing the ledger does not know.
	accepted := ledger.Accepted()
	in.mu.Lock()
	written := len(in.eventIDs)
	dupWrites := 0
	for _, n := range in.eventIDs {
		dupWrites += n - 1
	}
	in.mu.Unlock()
	if len(accepted) != written {
		t.Errorf("ledger holds %d events, ingest wrote %d distinct ones", len(accepted), written)
	}
	if int64(dupWrites) != s.Duplicates {
		t.Errorf("ingest saw %d repeated eventIds, the generator sent %d duplicates", dupWrites, s.Duplicates)
	}
	if int64(len(k.records)) != s.Direct || len(ledger.Direct()) != len(k.records) {
		t.Errorf("%d records put to the stream, %d counted, %d in the ledger", len(k.records), s.Direct, len(ledger.Direct()))
	}
	for _, r := range ledger.Direct() {
		if _, err := activity.ParseValid(r.Payload); err == nil {
			t.Errorf("a valid event went straight to the stream as malformed (%s): %s", r.Kind, r.Payload)
		}
		if r.SequenceNumber == "" || !strings.HasPrefix(r.PartitionKey, "user-") {
			t.Errorf("direct record %+v lacks its position or key", r)
		}
	}
	if int64(ledger.RejectedAsExpected()) != s.Rejected || ledger.Unacknowledged() != 0 {
		t.Errorf("ledger rejected %d (stats %d), unacknowledged %d", ledger.RejectedAsExpected(), s.Rejected, ledger.Unacknowledged())
	}
}

func TestRetriesKeepEventIDs(t *testing.T) {
	in := &fakeIngest{fail: func(n int32, lines int) (int, []int) {
		switch {
		case n%4 == 1:
			return http.StatusTooManyRequests, nil
		case n%4 == 2:
			return http.StatusBadGateway, nil
		case n%4 == 3 && lines > 1:
			return http.StatusServiceUnavailable, []int{0, lines - 1} // two unwritten
		}
		return 0, nil
	}}
	g, ledger, _ := runLoad(t, Options{Rate: 500, Duration: 500 * time.Millisecond, Users: 10, EventsPerRequest: 20, Clients: 2, Seed: 5, Backoff: time.Millisecond}, in)
	s := g.Stats()
	if s.Throttled == 0 || s.ServerErrors == 0 || s.Unwritten == 0 || s.Retries == 0 {
		t.Fatalf("stats = %+v; want throttles, 5xx and unwritten events, all retried", s)
	}
	if ledger.Unacknowledged() != 0 || len(ledger.Problems()) != 0 {
		t.Fatalf("unacknowledged %d, problems %v", ledger.Unacknowledged(), ledger.Problems())
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.eventIDs) != len(ledger.Accepted()) || int64(len(in.eventIDs)) != s.Generated {
		t.Errorf("ingest wrote %d distinct events, ledger %d, generated %d: retries must resend the same eventIds until each is written", len(in.eventIDs), len(ledger.Accepted()), s.Generated)
	}
	for id, n := range in.eventIDs {
		if n != 1 {
			t.Errorf("event %s written %d times; only unwritten events may be sent again", id, n)
		}
	}
}

func TestGivingUpCountsUnacknowledgedEvents(t *testing.T) {
	in := &fakeIngest{fail: func(int32, int) (int, []int) { return http.StatusBadGateway, nil }}
	g, ledger, _ := runLoad(t, Options{Rate: 100, Duration: 100 * time.Millisecond, Users: 5, EventsPerRequest: 10, Clients: 1, MaxAttempts: 2, Backoff: time.Millisecond}, in)
	if ledger.Unacknowledged() == 0 || int64(ledger.Unacknowledged()) != g.Stats().Generated {
		t.Errorf("unacknowledged %d of %d generated; every event of a request that never succeeded is unknown", ledger.Unacknowledged(), g.Stats().Generated)
	}
}

func TestRefusedRequestIsAProblem(t *testing.T) {
	in := &fakeIngest{fail: func(int32, int) (int, []int) { return http.StatusBadRequest, nil }}
	_, ledger, _ := runLoad(t, Options{Rate: 50, Duration: 100 * time.Millisecond, Users: 5, EventsPerRequest: 10, Clients: 1}, in)
	if p := ledger.Problems(); len(p) == 0 || !strings.Contains(p[0], "HTTP 400") {
		t.Errorf("problems = %v; a refused request must be reported", p)
	}
}

func TestOptionsAreChecked(t *testing.T) {
	_, err := New(Options{Rate: 0, Users: 0, Bad: 0.8, Dup: 0.5, EventsPerRequest: 2000, Clients: 0}, NewLedger())
	if err == nil {
		t.Fatal("New accepted bad options")
	}
	for _, want := range []string{"-rate", "-users", "-bad", "-batch", "-clients"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}
