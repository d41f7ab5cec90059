package capacity

import (
	"testing"

	"github.com/streamfn/streamfn/internal/aws/store"
	"github.com/streamfn/streamfn/internal/features"
)

// The README's cost table ("Exactly once: the guarantee"): each row is an
// item with about 1 KB of features (20 recent products, a few categories,
// one mark) and the Seen entries a user of that profile holds. Entries stay
// for their horizon plus features.LagAllowance.
func TestItemSizesOfTheCostTable(t *testing.T) {
	// The planner's typical item, with the Seen entries of the profile.
	item := func(entries, categories int, other bool) *features.Item {
		it := typicalItem(entries, categories)
		for i := range it.Seen {
			it.Seen[i].Other = other
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
		n := store.ItemBytes(item(row.entries, row.cats, row.other), "expiresAt")
		t.Logf("%s: %d entries, %d bytes, %d write units", row.name, row.entries, n, store.WriteUnits(n))
		if n != row.wantBytes || store.WriteUnits(n) != row.wantWU {
			t.Errorf("%s: %d bytes, %d write units; the README says %d and %d", row.name, n, store.WriteUnits(n), row.wantBytes, row.wantWU)
		}
		if n > store.MaxItemBytes {
			t.Errorf("%s: over DynamoDB's 400 KB", row.name)
		}
	}
}
