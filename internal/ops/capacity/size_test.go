package capacity

import (
	"math"
	"reflect"
	"testing"
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
