package loadgen

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// limitedKinesis is fakeKinesis with the PutRecords limit Kinesis (and
// kinesalite) enforce: at most 500 records per request.
type limitedKinesis struct{ fakeKinesis }

func (k *limitedKinesis) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	if len(in.Records) > 500 {
		return nil, fmt.Errorf("ValidationException: 'records' failed to satisfy constraint: Member must have length less than or equal to 500 (got %d)", len(in.Records))
	}
	return k.fakeKinesis.PutRecords(ctx, in, opts...)
}

// After a stall the generator makes up to a second's worth of events in one
// tick (-rate 3000: ~2,000 of them for the stream under -pk mixed), and
// sendDue hands every late duplicate due at once to one putDirect. Kinesis
// takes at most 500 records per PutRecords, so the run ends with
// "putting 985 records to the stream: ... ValidationException" (seen with
// the Done-when command on this shared machine).
func TestPutDirectSplitsAtPutRecordsLimits(t *testing.T) {
	k := &limitedKinesis{}
	g, err := New(Options{URL: "http://127.0.0.1:1", Rate: 3000, Users: 500, EventsPerRequest: 100, Clients: 8,
		StreamName: "s", Kinesis: k, PartitionKeys: KeysRandom}, NewLedger())
	if err != nil {
		t.Fatal(err)
	}
	var items []item
	for i := range 985 {
		items = append(items, item{line: fmt.Appendf(nil, `{"eventId":"e-%d"}`, i), valid: true, key: fmt.Sprintf("pk-%d", i)})
	}
	if err := g.putDirect(t.Context(), items); err != nil {
		t.Fatalf("putDirect of 985 records: %v", err)
	}
}
