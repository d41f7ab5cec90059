package capacity

import (
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/streamfn/streamfn/internal/aws/lambdaquota"
)

const projectDir = "../../.."

func size(t *testing.T, l Load) *Sizing {
	t.Helper()
	s, err := Size(l, projectDir, DefaultPrices())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The prod stack's sizing comes from 5,000 events/s of 1 KB (Pulumi.prod.yaml's comments): the
// planner's config is prod's, every key of it, but for the differences listed here.
func TestReproducesProd(t *testing.T) {
	s := size(t, DefaultLoad())
	prod := prodConfig(t)
	// The one sizing difference, explained in the README: prod keeps 72 h for weekend outages.
	if s.Config.RetentionHours != 24 || prod.RetentionHours != 72 {
		t.Errorf("retentionHours: planner %d, prod %d; the README explains 24 against 72", s.Config.RetentionHours, prod.RetentionHours)
	}
	planned := *s.Config
	// Not the planner's to choose: how long prod keeps its logs and how it tags its resources.
	planned.RetentionHours, planned.LogRetentionDays, planned.Tags = prod.RetentionHours, prod.LogRetentionDays, prod.Tags
	got, want := reflect.ValueOf(planned), reflect.ValueOf(*prod)
	for _, field := range reflect.VisibleFields(got.Type()) {
		if g, w := got.FieldByIndex(field.Index).Interface(), want.FieldByIndex(field.Index).Interface(); !reflect.DeepEqual(g, w) {
			t.Errorf("%s = %v, Pulumi.prod.yaml has %v", field.Name, g, w)
		}
	}
	if len(s.Warnings) != 0 {
		t.Errorf("warnings at prod's load: %v", s.Warnings)
	}
	t.Log(s.StackFile("prod", "us-east-1"))
}

// The batch size is capped at what fits Lambda's invocation payload for the largest events,
// and the cap is the whole payload: the last record that fits is allowed, the next is not.
func TestBatchSizeFillsLambdasPayload(t *testing.T) {
	for _, c := range []struct {
		load Load
		want int
	}{
		// 12,000 bytes are 16,300 in the invocation: 6,291,456 / 16,300 = 385.
		{load(5000, func(l *Load) { l.Users = 100000; l.MaxEventBytes = 12000 }), 385},
		// 20,000 bytes are 26,968: 6,291,456 / 26,968 = 233.
		{load(5000, func(l *Load) { l.Users = 100000; l.MaxEventBytes = 20000; l.Latency = 20 * time.Second }), 233},
	} {
		s := size(t, c.load)
		record := recordBytes(c.load.MaxEventBytes)
		if s.Config.BatchSize != c.want {
			t.Errorf("-max-event-bytes %d: batchSize %d, want %d", c.load.MaxEventBytes, s.Config.BatchSize, c.want)
		}
		if n := s.Config.BatchSize; n*record > lambdaquota.SyncInvocationPayloadBytes || (n+1)*record <= lambdaquota.SyncInvocationPayloadBytes {
			t.Errorf("-max-event-bytes %d: batchSize %d x %d bytes = %d; want the most records within %d", c.load.MaxEventBytes, n, record, n*record, lambdaquota.SyncInvocationPayloadBytes)
		}
		if slices.ContainsFunc(s.Warnings, func(w Warning) bool { return w.Code == WarnPayload }) {
			t.Errorf("-max-event-bytes %d: the planner warns about its own batch size: %v", c.load.MaxEventBytes, s.Warnings)
		}
	}
}

func TestTotalIsTheSumOfItems(t *testing.T) {
	for _, l := range []Load{DefaultLoad(), {Rate: 10, EventBytes: 500, Users: 100, Latency: 5e9, RecordsPerS: BenchRecordsPerS, Batch: 1, Region: "us-east-1", Arch: "x86_64"}} {
		s := size(t, l)
		sum := 0.0
		for _, it := range s.Bill.Items {
			sum += it.USD
			if want := round(it.Quantity*it.UnitPriceUSD, 2); math.Abs(want-it.USD) > 0.01 {
				t.Errorf("%s %s: %g x %g = %g, not %g", it.Service, it.Item, it.Quantity, it.UnitPriceUSD, want, it.USD)
			}
		}
		if math.Abs(sum-s.Bill.Total) > 0.005 {
			t.Errorf("total %g, items sum to %g", s.Bill.Total, sum)
		}
	}
}
