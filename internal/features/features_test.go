package features

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/streamfn/streamfn/internal/activity"
)

func TestCompareSequenceNumbers(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"1", "2", -1},
		{"10", "9", 1}, // as numbers, not as text
		{"49590338271490256608559692538361571095921575989136588898", "49590338271490256608559692538361571095921575989136588898", 0},
		{"49590338271490256608559692538361571095921575989136588898", "49590338271490256608559692540925702759324208523137515618", -1},
		{"0042", "42", 0}, // leading zeros do not count
		{"100000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000", "99", 1},
	} {
		if got := CompareSequenceNumbers(c.a, c.b); got != c.want {
			t.Errorf("CompareSequenceNumbers(%s, %s) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := CompareSequenceNumbers(c.b, c.a); got != -c.want {
			t.Errorf("CompareSequenceNumbers(%s, %s) = %d, want %d", c.b, c.a, got, -c.want)
		}
	}
	if ComparePositions(Position{"5", 2}, Position{"5", 3}) != -1 || ComparePositions(Position{"6", 0}, Position{"5", 9}) != 1 {
		t.Error("positions order by sequence number, then sub-index")
	}
}

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// stream builds records for one user on one shard: each spec is
// "type[:product[:category[:price[:qty]]]]" with ts t0+i seconds.
func stream(user string, specs ...string) []Record {
	var out []Record
	for i, spec := range specs {
		ev := activity.Event{EventID: fmt.Sprintf("%s-e%d", user, i), UserID: user, Quantity: 1, TS: t0.Add(time.Duration(i) * time.Second)}
		var fields [5]string
		for j, f := range splitColon(spec) {
			fields[j] = f
		}
		ev.Type = activity.ParseType(fields[0])
		ev.ProductID, ev.Category = fields[1], fields[2]
		if fields[3] != "" {
			ev.Price, _ = strconv.ParseFloat(fields[3], 64)
			ev.HasPrice = true
		}
		if fields[4] != "" {
			ev.Quantity, _ = strconv.ParseInt(fields[4], 10, 64)
		}
		r := Record{Shard: "shardId-000000000000", Position: Position{Sequence: strconv.Itoa(1000 + i)}, Event: ev}
		if ev.Type == activity.Purchase && ev.HasPrice {
			r.Amount, _ = PurchaseAmount(ev.Price, ev.Quantity)
		}
		out = append(out, r)
	}
	return out
}

func splitColon(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ':' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

func TestApplyFeatures(t *testing.T) {
	item := NewItem("u")
	records := stream("u",
		"view:p1:shoes:19.99",
		"view:p2:shoes",
		"search::books",
		"search",
		"add_to_cart:p1:shoes:19.99:2",
		"purchase:p1:shoes:19.99:2",
		"purchase:p3:toys:0.1:3",
		"view:p2",
	)
	res := NewMerger(0).Apply(item, records)
	if res.Applied != 8 || res.Duplicates != 0 || res.Replays != 0 {
		t.Fatalf("result %+v, want 8 applied", res)
	}
	if item.EventCount != 8 {
		t.Errorf("eventCount = %d, want 8", item.EventCount)
	}
	wantTypes := map[activity.Type]int64{activity.View: 3, activity.Search: 2, activity.AddToCart: 1, activity.Purchase: 2}
	for typ, n := range wantTypes {
		if got := item.TypeCount(typ); got != n {
			t.Errorf("typeCounts[%s] = %d, want %d", typ, got, n)
		}
	}
	if want := map[string]int64{"shoes": 4, "books": 1, "toys": 1}; !reflect.DeepEqual(item.CategoryCounts, want) {
		t.Errorf("categoryCounts = %v, want %v (events without a category are not counted)", item.CategoryCounts, want)
	}
	if !item.LastEventAt.Equal(t0.Add(7 * time.Second)) {
		t.Errorf("lastEventAt = %v", item.LastEventAt)
	}
	if got := productIDs(item); !reflect.DeepEqual(got, []string{"p2", "p3", "p1"}) {
		t.Errorf("recentProducts = %v, want [p2 p3 p1] (distinct, newest first)", got)
	}
	// 19.99 × 2 + 0.1 × 3 = 40.28 exactly, not 40.279999999999994.
	if got := item.PurchaseTotal.String(); got != "40.28" {
		t.Errorf("purchaseTotal = %s, want 40.28", got)
	}
	if item.Marks["shardId-000000000000"] != (Position{Sequence: "1007"}) {
		t.Errorf("mark = %+v, want the last record's position", item.Marks)
	}
	if len(item.RecentEvents) != 8 || item.RecentEvents[7] != EventKeyOf("u-e7") {
		t.Errorf("recent events = %x, want 8 ending with the key of u-e7", item.RecentEvents)
	}
}

func productIDs(it *Item) []string {
	var ids []string
	for _, p := range it.RecentProducts {
		ids = append(ids, p.ProductID)
	}
	return ids
}

func TestRecentProductsOrder(t *testing.T) {
	m := NewMerger(0)
	t.Run("at most 20, newest first", func(t *testing.T) {
		item := NewItem("u")
		var specs []string
		for i := range 25 {
			specs = append(specs, fmt.Sprintf("view:p%02d", i))
		}
		m.Apply(item, stream("u", specs...))
		got := productIDs(item)
		if len(got) != RecentProductsLimit || got[0] != "p24" || got[19] != "p05" {
			t.Fatalf("recentProducts = %v", got)
		}
	})
	t.Run("an older ts does not move a product forward", func(t *testing.T) {
		item := NewItem("u")
		records := stream("u", "view:a", "view:b")
		late := stream("u", "view:a")[0] // ts t0, older than b's
		late.Position, late.Event.EventID = Position{Sequence: "2000"}, "late"
		m.Apply(item, append(records, late))
		if got := productIDs(item); !reflect.DeepEqual(got, []string{"b", "a"}) {
			t.Fatalf("recentProducts = %v, want [b a]", got)
		}
	})
	t.Run("equal ts: the later record first", func(t *testing.T) {
		item := NewItem("u")
		records := stream("u", "view:a", "view:b")
		records[1].Event.TS = records[0].Event.TS
		m.Apply(item, records)
		if got := productIDs(item); !reflect.DeepEqual(got, []string{"b", "a"}) {
			t.Fatalf("recentProducts = %v, want [b a]", got)
		}
	})
	t.Run("search events have no product", func(t *testing.T) {
		item := NewItem("u")
		records := stream("u", "search")
		records[0].Event.ProductID = "ignored"
		m.Apply(item, records)
		if len(item.RecentProducts) != 0 {
			t.Fatalf("recentProducts = %v, want none", productIDs(item))
		}
	})
}

func TestApplySkipsReplays(t *testing.T) {
	m := NewMerger(0)
	records := stream("u", "view:a", "view:b", "purchase:c::5", "view:d")
	once := NewItem("u")
	m.Apply(once, records)

	twice := NewItem("u")
	m.Apply(twice, records)
	res := m.Apply(twice, records) // Lambda retried the whole batch
	if res.Applied != 0 || res.Replays != 4 {
		t.Fatalf("second apply: %+v, want 4 replays", res)
	}
	if !reflect.DeepEqual(once, twice) {
		t.Fatalf("the same batch twice changed the item:\n%+v\n%+v", once, twice)
	}

	fromMiddle := NewItem("u")
	m.Apply(fromMiddle, records[:3])
	res = m.Apply(fromMiddle, records[1:]) // restart from a reported failure at record 1
	if res.Applied != 1 || res.Replays != 2 {
		t.Fatalf("retry from the middle: %+v, want 1 applied and 2 replays", res)
	}
	if !reflect.DeepEqual(once, fromMiddle) {
		t.Fatalf("a retry from the middle changed the item:\n%+v\n%+v", once, fromMiddle)
	}
}

func TestApplySkipsProducerDuplicates(t *testing.T) {
	m := NewMerger(3)
	records := stream("u", "view:a", "view:b", "view:c", "view:d", "view:e")
	dup := func(of int, seq string) Record {
		r := records[of]
		r.Position = Position{Sequence: seq}
		return r
	}
	item := NewItem("u")
	res := m.Apply(item, append(append([]Record{}, records[:2]...), dup(0, "1500"))) // a, b, a again
	if res.Applied != 2 || res.Duplicates != 1 {
		t.Fatalf("%+v, want 2 applied and 1 duplicate", res)
	}
	// Across batches, within the window of 3.
	res = m.Apply(item, []Record{dup(1, "1600")})
	if res.Duplicates != 1 || item.EventCount != 2 {
		t.Fatalf("%+v, count %d: a duplicate in the next batch was counted", res, item.EventCount)
	}
	// Past the window: c, d, e push a and b out; a duplicate of a counts again.
	for i, r := range records[2:] {
		r.Position = Position{Sequence: strconv.Itoa(1700 + i)}
		m.Apply(item, []Record{r})
	}
	res = m.Apply(item, []Record{dup(0, "1800")})
	if res.Applied != 1 {
		t.Fatalf("%+v: a duplicate beyond the window of 3 is applied, as documented", res)
	}
	if want := []EventKey{EventKeyOf("u-e3"), EventKeyOf("u-e4"), EventKeyOf("u-e0")}; !reflect.DeepEqual(item.RecentEvents, want) {
		t.Fatalf("window = %x, want the keys of u-e3, u-e4, u-e0", item.RecentEvents)
	}
}

// TestApplyIgnoresBatchBoundaries is the property behind "effectively
// once": however a record stream is cut into batches, retried, bisected or
// restarted, the item ends the same.
func TestApplyIgnoresBatchBoundaries(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	types := []string{"view", "search", "add_to_cart", "purchase"}
	for trial := range 50 {
		var specs []string
		for range 60 {
			typ := types[rng.IntN(4)]
			spec := typ
			if typ != "search" {
				spec += fmt.Sprintf(":p%d:c%d:%d.%02d:%d", rng.IntN(30), rng.IntN(5), rng.IntN(100), rng.IntN(100), 1+rng.IntN(3))
			}
			specs = append(specs, spec)
		}
		records := stream("u", specs...)
		for i := range records { // producer duplicates, some within the window
			if i > 5 && rng.IntN(8) == 0 {
				records[i].Event = records[i-1-rng.IntN(5)].Event
			}
			if rng.IntN(6) == 0 { // equal timestamps
				records[i].Event.TS = t0
			}
		}
		want := NewItem("u")
		NewMerger(16).Apply(want, records)

		got := NewItem("u")
		m := NewMerger(16)
		for at := 0; at < len(records); {
			end := min(len(records), at+1+rng.IntN(10))
			m.Apply(got, records[at:end])
			if rng.IntN(3) == 0 { // a retry of the same batch, or of part of it
				m.Apply(got, records[at+rng.IntN(end-at):end])
			}
			at = end
		}
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("trial %d: batching changed the item:\n one  %+v\n many %+v", trial, want, got)
		}
	}
}

func TestMarksPerShard(t *testing.T) {
	m := NewMerger(0)
	item := NewItem("u")
	a := stream("u", "view:a")
	b := stream("u", "view:b")
	b[0].Shard, b[0].Position = "shardId-000000000001", Position{Sequence: "5"} // lower number, other shard
	b[0].Event.EventID = "other"
	if res := m.Apply(item, append(a, b...)); res.Applied != 2 {
		t.Fatalf("%+v: a record of another shard is not a replay", res)
	}
	for i := range MaxMarks + 3 {
		r := stream("u", "view:x")
		r[0].Shard, r[0].Event.EventID = fmt.Sprintf("shardId-%012d", 100+i), fmt.Sprint("x", i)
		m.Apply(item, r)
	}
	if len(item.Marks) != MaxMarks {
		t.Fatalf("%d marks kept, want %d", len(item.Marks), MaxMarks)
	}
	if _, ok := item.Marks["shardId-000000000000"]; ok {
		t.Fatal("the lowest shard ids' marks should go first")
	}
}

// With a parallelization factor, Lambda keeps order per partition key,
// not per shard: a user's events in KPL aggregates under two keys may
// arrive later lane first. Each lane has its own mark, so neither skips
// the other's records, and a redelivery of either is still skipped.
func TestLanesOfOneShardKeepTheirOwnMarks(t *testing.T) {
	m := NewMerger(2) // a small window, so that only the marks can catch the redeliveries
	item := NewItem("X")
	records := stream("X", "view:a", "view:b", "view:c", "view:d")
	for i, pk := range []string{"k1", "k2", "k1", "k2"} {
		records[i].PartitionKey = pk
	}
	lane := func(pk string) []Record {
		var out []Record
		for _, r := range records {
			if r.PartitionKey == pk {
				out = append(out, r)
			}
		}
		return out
	}
	if res := m.Apply(item, lane("k2")); res.Applied != 2 {
		t.Fatalf("lane k2: %+v", res)
	}
	if res := m.Apply(item, lane("k1")); res.Applied != 2 || res.Replays != 0 {
		t.Fatalf("lane k1, behind k2's positions: %+v; want both applied", res)
	}
	if item.EventCount != 4 {
		t.Fatalf("eventCount %d, want 4", item.EventCount)
	}
	if res := m.Apply(item, records); res.Applied != 0 || res.Replays != 4 {
		t.Fatalf("the batch redelivered: %+v; want 4 replays", res)
	}
	want := map[string]Position{
		"shardId-000000000000/k1": records[2].Position,
		"shardId-000000000000/k2": records[3].Position,
	}
	if !reflect.DeepEqual(item.Marks, want) {
		t.Fatalf("marks %v, want %v", item.Marks, want)
	}

	// The user's own partition key is the shard's plain mark.
	own := stream("X", "view:e")
	own[0].PartitionKey, own[0].Position = "X", Position{Sequence: "5000"}
	m.Apply(item, own)
	if item.Marks["shardId-000000000000"] != own[0].Position {
		t.Fatalf("marks %v: want the plain shard mark for the user's own key", item.Marks)
	}
}

// Beyond MaxMarks lanes, the marks of the lowest positions go first.
func TestTrimMarksKeepsTheNewestLanes(t *testing.T) {
	m := NewMerger(0)
	item := NewItem("X")
	var records []Record
	for i := range MaxMarks + 5 {
		r := stream("X", "view:a")[0]
		r.Event.EventID, r.PartitionKey = fmt.Sprint("e", i), fmt.Sprint("k", i)
		r.Position = Position{Sequence: strconv.Itoa(100 + i)}
		records = append(records, r)
	}
	m.Apply(item, records)
	if len(item.Marks) != MaxMarks {
		t.Fatalf("%d marks, want %d", len(item.Marks), MaxMarks)
	}
	for i := range 5 {
		if _, kept := item.Marks[MarkKey("shardId-000000000000", fmt.Sprint("k", i))]; kept {
			t.Fatalf("lane k%d, of the lowest positions, was kept", i)
		}
	}
}

func TestCategoryBound(t *testing.T) {
	item := NewItem("u")
	var specs []string
	for i := range MaxCategories + 5 {
		specs = append(specs, fmt.Sprintf("view:p:cat%d", i))
	}
	specs = append(specs, "view:p:cat0")
	NewMerger(1).Apply(item, stream("u", specs...))
	if len(item.CategoryCounts) != MaxCategories+1 || item.CategoryCounts[OtherCategory] != 5 || item.CategoryCounts["cat0"] != 2 {
		t.Fatalf("%d categories, other = %d, cat0 = %d", len(item.CategoryCounts), item.CategoryCounts[OtherCategory], item.CategoryCounts["cat0"])
	}
}

func TestApplyRejectsOverflowingTotal(t *testing.T) {
	item := NewItem("u")
	records := stream("u", "purchase:p::1", "purchase:q::2")
	records[0].Amount = Amount{hi: maxAmount.hi, lo: maxAmount.lo - 1} // 10^38 - 1 micro-units
	res := NewMerger(0).Apply(item, records)
	if res.Applied != 1 || len(res.Rejected) != 1 || res.Rejected[0].Index != 1 {
		t.Fatalf("%+v: the purchase that would overflow purchaseTotal must be rejected", res)
	}
	if item.EventCount != 1 {
		t.Fatalf("a rejected record was counted")
	}
}

func TestCloneSharesNothing(t *testing.T) {
	item := NewItem("u")
	NewMerger(0).Apply(item, stream("u", "view:a:c", "purchase:b:c:1"))
	c := item.Clone()
	if !reflect.DeepEqual(item, c) {
		t.Fatal("clone differs")
	}
	c.CategoryCounts["c"] = 99
	c.RecentProducts[0].ProductID = "z"
	c.RecentEvents[0] = EventKey{1}
	c.Marks["x"] = Position{}
	if item.CategoryCounts["c"] == 99 || item.RecentProducts[0].ProductID == "z" || item.RecentEvents[0] == (EventKey{1}) || len(item.Marks) != 1 {
		t.Fatal("changing the clone changed the original")
	}
}

// An eventId's key is the first 16 bytes of its SHA-256: the stored
// window's format, which must never change under existing items.
func TestEventKeyOf(t *testing.T) {
	for id, want := range map[string]string{
		"abc": "ba7816bf8f01cfea414140de5dae2223", // FIPS 180-2's example
		"":    "e3b0c44298fc1c149afbf4c8996fb924",
	} {
		got := EventKeyOf(id)
		if fmt.Sprintf("%x", got) != want {
			t.Errorf("EventKeyOf(%q) = %x, want %s", id, got, want)
		}
		if got == (EventKey{}) {
			t.Errorf("EventKeyOf(%q) is zero, which Apply reads as not computed", id)
		}
	}
	seen := map[EventKey]string{}
	for i := range 100000 {
		id := fmt.Sprintf("e-%d", i)
		key := EventKeyOf(id)
		if other, taken := seen[key]; taken {
			t.Fatalf("%s and %s share a key", id, other)
		}
		seen[key] = id
	}
}

// Keys the caller computed and keys Apply computes are the same window.
func TestPrecomputedKeys(t *testing.T) {
	records := stream("u", "view:a", "view:b", "purchase:c::5", "view:d")
	records = append(records, records[1]) // a producer duplicate of b
	records[4].Position = Position{Sequence: "2000"}
	precomputed := slices.Clone(records)
	for i := range precomputed {
		precomputed[i].EventKey = EventKeyOf(precomputed[i].Event.EventID)
	}
	computed, given := NewItem("u"), NewItem("u")
	resComputed := NewMerger(0).Apply(computed, records)
	resGiven := NewMerger(0).Apply(given, precomputed)
	if !reflect.DeepEqual(computed, given) || !reflect.DeepEqual(resComputed, resGiven) || resGiven.Duplicates != 1 {
		t.Fatalf("precomputed keys changed the merge: %+v vs %+v", resComputed, resGiven)
	}
}
