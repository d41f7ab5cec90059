package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/streamfn/streamfn/internal/features"
)

// The README's cost table ("Exactly once: the guarantee"): each row is an
// item with about 1 KB of features (20 recent products, a few categories,
// one mark) and the Seen entries a user of that profile holds. Entries stay
// for their horizon plus features.LagAllowance.
func TestItemSizesOfTheCostTable(t *testing.T) {
	item := func(entries, categories int, other bool) *features.Item {
		it := features.NewItem("user-0000042")
		it.EventCount, it.TypeCounts = 12345, [4]int64{5000, 4000, 2000, 1345}
		for c := range categories {
			it.CategoryCounts[fmt.Sprintf("category-%02d", c)] = 100
		}
		at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
		for p := range 20 {
			it.RecentProducts = append(it.RecentProducts, features.RecentProduct{ProductID: fmt.Sprintf("product-%06d", p), At: at})
		}
		it.PurchaseTotal, _ = features.PurchaseAmount(1234.56, 3)
		it.LastEventAt, it.ExpiresAt, it.Version = at, 1795694400, 1234
		it.Marks["shardId-000000000003"] = features.Position{Sequence: "49590338271490256608559692538361571095921575989136588898"}
		for i := range entries {
			it.Seen = append(it.Seen, features.Seen{Key: features.EventKeyOf(fmt.Sprint(i)), Arrival: at.Unix(), Other: other})
		}
		return it
	}
	own := features.DefaultDuplicateHorizon + features.LagAllowance // s an own-key entry stays
	sixHours := 6*3600 + features.LagAllowance                      // prod's maxRecordAgeSeconds
	for _, row := range []struct {
		name              string
		entries, cats     int
		other             bool
		wantBytes, wantWU int
	}{
		{"prod, userId keys, 0.05 events/s", own / 20, 5, false, 2031, 2},
		{"prod, random or KPL keys, 0.05 events/s for maxRecordAgeSeconds 6 h", sixHours / 20, 5, true, 23766, 24},
		{"a heavy user at 1 event/s, userId keys", own, 5, false, 22380, 22},
		{"the worst the design allows", features.MaxSeen, features.MaxCategories, true, 214881, 210},
	} {
		n := ItemBytes(item(row.entries, row.cats, row.other), "expiresAt")
		t.Logf("%s: %d entries, %d bytes, %d write units", row.name, row.entries, n, WriteUnits(n))
		if n != row.wantBytes || WriteUnits(n) != row.wantWU {
			t.Errorf("%s: %d bytes, %d write units; the README says %d and %d", row.name, n, WriteUnits(n), row.wantBytes, row.wantWU)
		}
		if n > MaxItemBytes {
			t.Errorf("%s: over DynamoDB's 400 KB", row.name)
		}
	}
}
