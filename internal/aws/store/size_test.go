package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/streamfn/streamfn/internal/activity"
	"github.com/streamfn/streamfn/internal/features"
)

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
