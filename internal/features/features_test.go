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
		r := Record{Shard: "shardId-000000000000", PartitionKey: user, Position: Position{Sequence: strconv.Itoa(1000 + i)},
			Arrival: t0.Unix() + int64(i), Event: ev}
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
	res := NewMerger(Horizons{}).Apply(item, records)
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
	if len(item.Seen) != 8 || item.Seen[7] != (Seen{Key: EventKeyOf("u-e7"), Arrival: t0.Unix() + 7}) {
		t.Errorf("seen = %+v, want 8 ending with the key and arrival of u-e7", item.Seen)
	}
	if item.NewestArrival != t0.Unix()+7 || item.Floor != 0 || item.FloorOther != 0 {
		t.Errorf("newest arrival %d, floors %d/%d; want the last record's arrival and no floors", item.NewestArrival, item.Floor, item.FloorOther)
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
	m := NewMerger(Horizons{})
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
	m := NewMerger(Horizons{})
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

// A producer's duplicate is caught however many of the user's events come
// between it and its original, as long as it arrives within the horizon
// (the fault of the 64-entry window: a client retry 10 s later, behind
// more than 64 events of the user, was counted again).
func TestApplySkipsProducerDuplicatesWithinTheHorizon(t *testing.T) {
	m := NewMerger(Horizons{Duplicate: 600})
	item := NewItem("u")
	specs := make([]string, 1001)
	for i := range specs {
		specs[i] = "view:p"
	}
	records := stream("u", specs...)
	for i := range records[:1000] { // all within 599 s of the first
		records[i].Arrival = t0.Unix() + int64(i*599/1000)
	}
	res := m.Apply(item, records[:1000])
	if res.Applied != 1000 {
		t.Fatalf("%+v", res)
	}
	// The original of record 0 arrived at t0; its duplicate 599 s later,
	// 999 events of the user in between, under a new sequence number.
	dup := records[0]
	dup.Position, dup.Arrival = Position{Sequence: "5000"}, t0.Unix()+599
	if res := m.Apply(item, []Record{dup}); res.Duplicates != 1 || item.EventCount != 1000 {
		t.Fatalf("%+v, count %d: a duplicate 999 events later was counted", res, item.EventCount)
	}
	// In the same batch as its original, and in a batch of both orders.
	both := NewItem("u")
	dup2 := records[1]
	dup2.Position = Position{Sequence: "5001"}
	if res := m.Apply(both, []Record{records[1], dup2}); res.Applied != 1 || res.Duplicates != 1 {
		t.Fatalf("%+v", res)
	}
	// A duplicate keeps its entry as long as its own copy needs it.
	if e := item.Seen[0]; e.Key != dup.EventKey && e.Key != EventKeyOf(dup.Event.EventID) || e.Arrival != t0.Unix()+599 {
		t.Fatalf("entry %+v: the duplicate should have moved it to its own arrival", e)
	}
	// Beyond the horizon (and the lag allowance), an original's entry is
	// gone: the stated limit. Record 5 arrived at t0+2.
	late := records[1000]
	late.Arrival = t0.Unix() + 1200
	m.Apply(item, []Record{late})
	dup5 := records[5]
	dup5.Position, dup5.Arrival = Position{Sequence: "6000"}, t0.Unix()+1201
	if res := m.Apply(item, []Record{dup5}); res.Applied != 1 {
		t.Fatalf("%+v: a duplicate 1199 s after its original, past the 600 s horizon, is applied as documented", res)
	}
	if want := t0.Unix() + 1201 - 600 - LagAllowance - 1; item.Floor != want {
		t.Fatalf("floor t0+%d: want the newest arrival that left the set (t0+%d)", item.Floor-t0.Unix(), want-t0.Unix())
	}
}

// Records under partition keys other than the userId have no mark: the
// Seen set alone catches their redeliveries, for the whole redelivery
// horizon, however many of them there are (the fault of the 32-lane cap:
// with 65 random keys, 33 events were counted twice).
func TestOtherPartitionKeysRedelivered(t *testing.T) {
	for _, n := range []int{64, 65, 500, 3000} {
		m := NewMerger(Horizons{Duplicate: 60, Redelivery: 3600})
		item := NewItem("u-x")
		specs := make([]string, n)
		for i := range specs {
			specs[i] = "view:p"
		}
		records := stream("u-x", specs...)
		for i := range records {
			records[i].PartitionKey = fmt.Sprintf("random-%d", i)
		}
		m.Apply(item, records)
		// Redelivered after newer events moved the item 59 minutes on.
		newer := stream("u-x", "view:q")
		newer[0].PartitionKey, newer[0].Event.EventID, newer[0].Arrival = "random-new", "new", t0.Unix()+3540
		newer[0].Position = Position{Sequence: "999999"}
		m.Apply(item, newer)
		res := m.Apply(item, records)
		if res.Applied != 0 || res.Duplicates != n || item.EventCount != int64(n+1) {
			t.Fatalf("%d random keys: redelivery %+v, count %d; want all %d skipped", n, res, item.EventCount, n)
		}
		if len(item.Marks) != 0 {
			t.Fatalf("marks %v: records under other keys keep no marks", item.Marks)
		}
	}
}

// A replay of records the mapping gave up on, after later records of the
// same lane were applied, is applied once: below the mark but not in the
// Seen set means never applied.
func TestApplyRecoversGivenUpRecords(t *testing.T) {
	m := NewMerger(Horizons{Duplicate: 900})
	item := NewItem("u")
	records := stream("u", "view:a", "view:b", "view:c", "view:d", "view:e")
	m.Apply(item, records[:1])
	// The mapping gave up on b and c; d and e were applied.
	m.Apply(item, records[3:])
	res := m.Apply(item, records[1:3]) // the redrive tool replays them
	if res.Applied != 2 || res.Recovered != 2 || item.EventCount != 5 {
		t.Fatalf("replay: %+v, count %d; want b and c applied", res, item.EventCount)
	}
	if item.Marks["shardId-000000000000"] != records[4].Position {
		t.Fatalf("mark %v: a replay must not move the mark back", item.Marks)
	}
	// Replayed again (the tool is safe to repeat), or redelivered whole.
	if res := m.Apply(item, records[1:3]); res.Applied != 0 || res.Replays != 2 {
		t.Fatalf("second replay: %+v", res)
	}
	if res := m.Apply(item, records); res.Applied != 0 || item.EventCount != 5 {
		t.Fatalf("whole redelivery: %+v", res)
	}
}

// Past the set's reach the mark decides for the userId lane: a redelivery
// after a long outage is still skipped.
func TestMarkDecidesBeyondTheHorizon(t *testing.T) {
	m := NewMerger(Horizons{Duplicate: 60, Redelivery: 60})
	item := NewItem("u")
	records := stream("u", "view:a", "view:b")
	m.Apply(item, records)
	later := stream("u", "view:c")
	later[0].Event.EventID, later[0].Arrival, later[0].Position = "c", t0.Unix()+7200, Position{Sequence: "9000"}
	m.Apply(item, later)
	if len(item.Seen) != 1 || item.Floor != t0.Unix()+1 {
		t.Fatalf("seen %d entries, floor %d: the first two should have left the set", len(item.Seen), item.Floor-t0.Unix())
	}
	if res := m.Apply(item, records); res.Replays != 2 || res.Applied != 0 {
		t.Fatalf("redelivery 2 h later: %+v; want 2 replays by the mark", res)
	}
	// Under another key nothing decides. A new record is simply new; one
	// whose horizon reaches back past the floor is applied and counted as
	// outside the guarantee.
	fresh := stream("u", "view:z")
	fresh[0].PartitionKey, fresh[0].Event.EventID, fresh[0].Position, fresh[0].Arrival = "k", "z", Position{Sequence: "1"}, t0.Unix()+7201
	if res := m.Apply(item, fresh); res.Applied != 1 || res.Unverified != 0 {
		t.Fatalf("%+v: an other-key record above the floor is simply new", res)
	}
	old := stream("u", "view:y")
	old[0].PartitionKey, old[0].Event.EventID = "k", "y"
	if res := m.Apply(item, old); res.Applied != 1 || res.Unverified != 1 {
		t.Fatalf("%+v: an other-key record within a horizon of the floor is outside the guarantee", res)
	}
}

// MaxSeen bounds the item: the oldest entries go first, the floors rise,
// and Evicted counts them.
func TestSeenIsBounded(t *testing.T) {
	m := NewMerger(Horizons{Duplicate: 86400, Redelivery: 86400})
	m.maxSeen = 10
	item := NewItem("u")
	specs := make([]string, 15)
	for i := range specs {
		specs[i] = "view:p"
	}
	records := stream("u", specs...)
	res := m.Apply(item, records)
	if res.Evicted != 5 || len(item.Seen) != 10 || item.Floor != t0.Unix()+4 {
		t.Fatalf("%+v, %d entries, floor t0+%d; want 5 evicted and the floor at the 5th", res, len(item.Seen), item.Floor-t0.Unix())
	}
	// A redelivery of an evicted record: the mark still catches it.
	if res := m.Apply(item, records[:5]); res.Replays != 5 {
		t.Fatalf("%+v", res)
	}
}

// An item written before arrival times were kept has only the last eventIds
// and marks: its floors rise to the first batch's arrivals, so the marks
// still decide for what it applied.
func TestLegacyItem(t *testing.T) {
	m := NewMerger(Horizons{})
	records := stream("u", "view:a", "view:b", "view:c")
	item := NewItem("u")
	item.EventCount = 2
	item.Marks["shardId-000000000000"] = records[1].Position
	item.Seen = []Seen{{Key: EventKeyOf("u-e1")}}
	item.SeenIncomplete = true
	res := m.Apply(item, records)
	// a: below the mark; b: in the old window; c: new, but the set cannot
	// vouch for the time before the upgrade.
	if res.Applied != 1 || res.Replays != 2 || res.Unverified != 1 || item.EventCount != 3 {
		t.Fatalf("%+v, count %d", res, item.EventCount)
	}
	if item.SeenIncomplete || item.Floor != t0.Unix()+2 || item.Seen[0].Arrival != t0.Unix()+2 {
		t.Fatalf("floor t0+%d, seen %+v", item.Floor-t0.Unix(), item.Seen)
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
		NewMerger(Horizons{}).Apply(want, records)

		got := NewItem("u")
		m := NewMerger(Horizons{})
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
	m := NewMerger(Horizons{})
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

// Per-key marks of older releases ("shard/key") are dropped: the Seen set
// covers those records now.
func TestTrimMarksDropsPerKeyMarks(t *testing.T) {
	item := NewItem("X")
	item.Marks["shardId-000000000000/k1"] = Position{Sequence: "5"}
	NewMerger(Horizons{}).Apply(item, stream("X", "view:a"))
	if want := map[string]Position{"shardId-000000000000": {Sequence: "1000"}}; !reflect.DeepEqual(item.Marks, want) {
		t.Fatalf("marks %v, want %v", item.Marks, want)
	}
}

func TestCategoryBound(t *testing.T) {
	item := NewItem("u")
	var specs []string
	for i := range MaxCategories + 5 {
		specs = append(specs, fmt.Sprintf("view:p:cat%d", i))
	}
	specs = append(specs, "view:p:cat0")
	res := NewMerger(Horizons{}).Apply(item, stream("u", specs...))
	if len(item.CategoryCounts) != MaxCategories+1 || item.CategoryCounts[OtherCategory] != 5 || item.CategoryCounts["cat0"] != 2 {
		t.Fatalf("%d categories, other = %d, cat0 = %d", len(item.CategoryCounts), item.CategoryCounts[OtherCategory], item.CategoryCounts["cat0"])
	}
	// The cap is counted, for the UserCapHits metric and its alarm.
	if res.CategoryCapped != 5 || res.Applied != MaxCategories+6 {
		t.Fatalf("CategoryCapped %d, Applied %d; want the 5 events beyond the cap counted, and every event applied", res.CategoryCapped, res.Applied)
	}
}

func TestApplyRejectsOverflowingTotal(t *testing.T) {
	item := NewItem("u")
	records := stream("u", "purchase:p::1", "purchase:q::2")
	records[0].Amount = Amount{hi: maxAmount.hi, lo: maxAmount.lo - 1} // 10^38 - 1 micro-units
	res := NewMerger(Horizons{}).Apply(item, records)
	if res.Applied != 1 || len(res.Rejected) != 1 || res.Rejected[0].Index != 1 || res.PurchaseTotalCapped != 1 {
		t.Fatalf("%+v: the purchase that would overflow purchaseTotal must be rejected", res)
	}
	if item.EventCount != 1 {
		t.Fatalf("a rejected record was counted")
	}
}

func TestCloneSharesNothing(t *testing.T) {
	item := NewItem("u")
	NewMerger(Horizons{}).Apply(item, stream("u", "view:a:c", "purchase:b:c:1"))
	c := item.Clone()
	if !reflect.DeepEqual(item, c) {
		t.Fatal("clone differs")
	}
	c.CategoryCounts["c"] = 99
	c.RecentProducts[0].ProductID = "z"
	c.Seen[0].Key = EventKey{1}
	c.Marks["x"] = Position{}
	if item.CategoryCounts["c"] == 99 || item.RecentProducts[0].ProductID == "z" || item.Seen[0].Key == (EventKey{1}) || len(item.Marks) != 1 {
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
	resComputed := NewMerger(Horizons{}).Apply(computed, records)
	resGiven := NewMerger(Horizons{}).Apply(given, precomputed)
	if !reflect.DeepEqual(computed, given) || !reflect.DeepEqual(resComputed, resGiven) || resGiven.Duplicates != 1 {
		t.Fatalf("precomputed keys changed the merge: %+v vs %+v", resComputed, resGiven)
	}
}
