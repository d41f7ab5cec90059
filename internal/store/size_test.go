package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/streamfn/streamfn/internal/activity"
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

// The worst item a hostile client can make for one user, every field at
// the limit activity and features allow: a 128-byte userId, MaxCategories
// categories of 128-byte names plus _other, RecentProductsLimit 128-byte
// productIds, MaxSeen Seen entries and marks on four shards (a reshard's
// parents and children). The README's "Per-user caps" states its size and
// write cost; it must stay below DynamoDB's 400 KB.
func TestWorstItemIsBounded(t *testing.T) {
	long := func(prefix string, i int) string {
		s := fmt.Sprintf("%s-%06d-", prefix, i)
		for len(s) < activity.MaxIDBytes {
			s += "x"
		}
		return s
	}
	it := features.NewItem(long("user", 0))
	it.EventCount, it.TypeCounts = 1<<62, [4]int64{1 << 60, 1 << 60, 1 << 60, 1 << 60}
	for c := range features.MaxCategories {
		it.CategoryCounts[long("category", c)] = 1 << 60
	}
	it.CategoryCounts[features.OtherCategory] = 1 << 60
	at := time.Date(2026, 11, 26, 12, 0, 0, 999999999, time.UTC)
	for p := range features.RecentProductsLimit {
		it.RecentProducts = append(it.RecentProducts, features.RecentProduct{ProductID: long("product", p), At: at})
	}
	it.PurchaseTotal, _ = features.ParseAmount("99999999999999999999999999999999.999999")
	it.LastEventAt, it.ExpiresAt, it.Version = at, 1795694400, 1<<62
	for s := range 4 {
		it.Marks[fmt.Sprintf("shardId-%012d", s)] = features.Position{Sequence: "49590338271490256608559692538361571095921575989136588898", Sub: 16383}
	}
	for i := range features.MaxSeen {
		it.Seen = append(it.Seen, features.Seen{Key: features.EventKeyOf(fmt.Sprint(i)), Arrival: at.Unix(), Other: true})
	}
	const wantBytes, wantWU = 249465, 244 // README, "Per-user caps"
	n := ItemBytes(it, "expiresAt")
	t.Logf("worst item: %d bytes, %d write units per write", n, WriteUnits(n))
	if n != wantBytes || WriteUnits(n) != wantWU {
		t.Errorf("worst item is %d bytes, %d write units; the README says %d and %d", n, WriteUnits(n), wantBytes, wantWU)
	}
	if n > MaxItemBytes {
		t.Errorf("worst item is %d bytes, over DynamoDB's %d", n, MaxItemBytes)
	}
}
