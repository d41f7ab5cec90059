// Package features is the processor's domain logic, with no AWS types: the
// per-user recommendation features kept in the table, and how a batch of
// activity events updates them exactly once.
//
// # Effectively once
//
// Lambda delivers Kinesis records at least once: it retries failed batches,
// bisects them and restarts from a reported failure. Producers may also put
// the same event twice, under two sequence numbers. Apply counts nothing
// twice in either case, using two pieces of state stored on each item:
//
//   - A high-water mark per lane: the Position (sequence number, KPL
//     sub-index) of the last record applied from that lane. Records at or
//     below it are redeliveries and are skipped. A lane is what Lambda
//     keeps in order: the records of one shard with one partition key,
//     even with a parallelization factor above 1 (MarkKey). The records
//     ingest writes have the userId as partition key, so a user has one
//     lane, and one mark, per shard; KPL aggregates and other producers
//     may carry a user's events under other keys, each its own lane.
//     Sequence numbers are decimal strings of up to 128 digits, so they
//     are compared as numbers (by length, then digits), not as DynamoDB
//     numbers (38 digits). An item keeps at most MaxMarks marks: those of
//     the highest shard ids and, within a shard, the highest positions.
//     After many reshardings the oldest lineages' marks are dropped, which
//     is safe because Lambda finishes a parent shard before its children.
//     Beyond MaxMarks lanes of one shard, a dropped lane's redelivery is
//     caught by the eventId window alone.
//   - The keys (EventKey: 16 bytes of SHA-256) of the eventIds of the
//     user's last EventIDWindow applied events. An event whose key is among
//     them is a producer duplicate and is skipped. A duplicate that arrives
//     after more than EventIDWindow newer events of the same user is counted
//     again: that is the limit of the scheme.
//
// Both rules depend only on the sequence of records, never on how Lambda
// cut it into batches, so any retry or bisection ends in the same item.
// The caller writes each user's item once per batch, conditioned on the
// Version it read (optimistic locking), so concurrent invocations cannot
// lose each other's updates.
package features

import (
	"crypto/sha256"
	"slices"
	"strings"
	"time"

	"github.com/streamfn/streamfn/internal/activity"
)

// Limits of an item.
const (
	// RecentProductsLimit is the length of recentProducts.
	RecentProductsLimit = 20
	// DefaultEventIDWindow is the default number of eventIds kept per user
	// for catching producer duplicates.
	DefaultEventIDWindow = 64
	// MaxMarks is the number of lanes whose high-water marks an item
	// keeps.
	MaxMarks = 32
	// MaxCategories bounds categoryCounts, so that no client can grow an
	// item past DynamoDB's 400 KB with made-up categories. Events of further
	// new categories are counted under OtherCategory.
	MaxCategories = 256
	// OtherCategory counts the categories beyond MaxCategories.
	OtherCategory = "_other"
)

// Position is a user record's place in its shard.
type Position struct {
	// Sequence is the Kinesis sequence number: up to 128 decimal digits.
	Sequence string
	// Sub is the record's index in its KPL aggregate, 0 for a plain record.
	Sub int
}

// ComparePositions orders positions like Kinesis does: by sequence number
// as a number, then by sub-index. It returns -1, 0 or +1.
func ComparePositions(a, b Position) int {
	if c := CompareSequenceNumbers(a.Sequence, b.Sequence); c != 0 {
		return c
	}
	switch {
	case a.Sub < b.Sub:
		return -1
	case a.Sub > b.Sub:
		return 1
	}
	return 0
}

// CompareSequenceNumbers compares two decimal sequence numbers as numbers:
// the longer (without leading zeros) is larger, equal lengths compare digit
// by digit.
func CompareSequenceNumbers(a, b string) int {
	if len(a) > 0 && a[0] == '0' || len(b) > 0 && b[0] == '0' { // Kinesis never writes leading zeros; others might
		a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	}
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// RecentProduct is an entry of recentProducts: a product and the newest ts
// at which the user touched it.
type RecentProduct struct {
	ProductID string
	At        time.Time
}

// Item is one user's stored features and the state that keeps them exact.
type Item struct {
	UserID string

	// The features other tools read.
	EventCount     int64
	TypeCounts     [4]int64 // indexed by activity.Type - 1
	CategoryCounts map[string]int64
	LastEventAt    time.Time // zero before the first event
	RecentProducts []RecentProduct
	PurchaseTotal  Amount

	// Idempotency state.
	Marks        map[string]Position // MarkKey -> high-water mark
	RecentEvents []EventKey          // the window's eventIds, oldest first

	// Version counts the item's writes; 0 means it is not stored yet. The
	// store writes only if the stored version still equals it.
	Version int64
	// ExpiresAt is the item's TTL in epoch seconds, 0 for none.
	ExpiresAt int64
}

// NewItem is the empty item of a user not stored yet.
func NewItem(userID string) *Item {
	return &Item{UserID: userID, CategoryCounts: make(map[string]int64, 16), Marks: make(map[string]Position, 1)}
}

// TypeCount is the count of one event type.
func (it *Item) TypeCount(t activity.Type) int64 {
	if t == activity.TypeInvalid || int(t) > len(it.TypeCounts) {
		return 0
	}
	return it.TypeCounts[t-1]
}

// Record is one valid event to apply, with where it came from.
type Record struct {
	Shard string
	// PartitionKey is the Kinesis record's (for a KPL aggregate, the
	// aggregate's): with Shard, it names the record's lane.
	PartitionKey string
	Position     Position
	// Event is held by value: the merge then reads a user's records from
	// one contiguous slice instead of chasing pointers across the batch.
	Event activity.Event
	// Amount is price × quantity for a purchase with a price (see
	// PurchaseAmount); the caller computes it, and rejects the event as
	// poison when that fails.
	Amount Amount
	// EventKey is EventKeyOf(Event.EventID), or zero to have Apply compute
	// it. The processor computes it while decoding, when the eventId is in
	// the CPU's cache.
	EventKey EventKey
}

// EventKey stands for an eventId in a user's duplicate window: the first 16
// bytes of the id's SHA-256. The window keeps keys rather than the ids
// themselves so that each id costs 16 bytes of the item, however long it
// is (a UUID is 36 characters, an id may have 128), and the item stays
// small: DynamoDB bills writes per KB. Two different ids share a key only
// if SHA-256 collides in its first 128 bits, a chance of 2^-128 per pair
// that nobody can bring about on purpose, so the window still tells every
// duplicate from every new event.
type EventKey [16]byte

// EventKeyOf is the key of an eventId.
func EventKeyOf(id string) EventKey {
	// A buffer on the stack: []byte(id) would allocate for ids over 32
	// bytes, such as every UUID.
	var buf [activity.MaxIDBytes]byte
	sum := sha256.Sum256(append(buf[:0], id...))
	return EventKey(sum[:16])
}

// Result says what Apply did with each record.
type Result struct {
	Applied    int // counted into the item
	Duplicates int // producer duplicates: eventId among the recent ones
	Replays    int // redeliveries: at or below the shard's mark
	// Rejected are records that cannot be applied without breaking a limit
	// of the item (purchaseTotal's range); the caller treats them as poison.
	Rejected []Rejection
}

// Rejection names a record of the Apply call and why it was not applied.
type Rejection struct {
	Index  int
	Reason string
}

// Merger applies records to items. It keeps scratch memory between calls
// and is not safe for concurrent use; use one per goroutine.
type Merger struct {
	window int
	// recent counts each key in the item's window, for lookups without
	// scanning it. A key is in a window once, unless an item written by
	// hand says otherwise; counting keeps even that exact.
	recent map[EventKey]int32
}

// NewMerger returns a Merger keeping eventIDWindow eventIds per user
// (DefaultEventIDWindow if <= 0).
func NewMerger(eventIDWindow int) *Merger {
	if eventIDWindow <= 0 {
		eventIDWindow = DefaultEventIDWindow
	}
	return &Merger{window: eventIDWindow, recent: make(map[EventKey]int32, 2*eventIDWindow)}
}

// Apply updates item with records, which must all be the item's user's and,
// within each shard, in strictly increasing Position order (as a Kinesis
// batch delivers them). Apply relies on that order: it compares records
// with the shard's mark only until the first one above it, since all later
// ones are above it too.
// It is deterministic: the same item and records always give the same
// result, and applying a sequence of records in one call or split over
// several calls gives the same item.
func (m *Merger) Apply(item *Item, records []Record) Result {
	var res Result
	clear(m.recent)
	// Rebuild the sliding window; an old item may hold more ids than the
	// current window when the setting shrank.
	if over := len(item.RecentEvents) - m.window; over > 0 {
		item.RecentEvents = item.RecentEvents[over:]
	}
	for _, key := range item.RecentEvents {
		m.recent[key]++
	}
	// Grow the item's lists once, not append by append.
	if want := min(m.window, len(item.RecentEvents)+len(records)); cap(item.RecentEvents) < want {
		item.RecentEvents = append(make([]EventKey, 0, want), item.RecentEvents...)
	}
	if cap(item.RecentProducts) < RecentProductsLimit+1 {
		item.RecentProducts = append(make([]RecentProduct, 0, RecentProductsLimit+1), item.RecentProducts...)
	}
	if item.CategoryCounts == nil {
		item.CategoryCounts = map[string]int64{}
	}
	if item.Marks == nil {
		item.Marks = map[string]Position{}
	}

	shard, key, markKey := "", "", ""
	var mark Position
	hasMark, aboveMark := false, false
	for i := range records {
		r := &records[i]
		pk := r.PartitionKey
		if pk == item.UserID {
			pk = "" // the usual lane: no need to name the key
		}
		if i == 0 || r.Shard != shard || pk != key {
			if i > 0 && hasMark {
				item.Marks[markKey] = mark
			}
			shard, key, markKey = r.Shard, pk, MarkKey(r.Shard, pk)
			mark, hasMark = item.Marks[markKey]
			aboveMark = !hasMark
		}
		if !aboveMark {
			if ComparePositions(r.Position, mark) <= 0 {
				res.Replays++
				continue
			}
			aboveMark = true
		}
		mark, hasMark = r.Position, true
		ev := &r.Event
		key := r.EventKey
		if key == (EventKey{}) {
			key = EventKeyOf(ev.EventID)
		}
		if m.recent[key] > 0 {
			res.Duplicates++
			continue
		}
		if ev.Type == activity.Purchase && ev.HasPrice {
			total, err := item.PurchaseTotal.Add(r.Amount)
			if err != nil {
				res.Rejected = append(res.Rejected, Rejection{Index: i, Reason: "purchaseTotal " + err.Error()})
				continue
			}
			item.PurchaseTotal = total
		}
		item.EventCount++
		item.TypeCounts[ev.Type-1]++
		if ev.Category != "" {
			countCategory(item.CategoryCounts, ev.Category)
		}
		if ev.TS.After(item.LastEventAt) {
			item.LastEventAt = ev.TS
		}
		if ev.ProductID != "" && ev.Type.NeedsProduct() {
			item.RecentProducts = addRecentProduct(item.RecentProducts, ev.ProductID, ev.TS)
		}
		m.remember(item, key)
		res.Applied++
	}
	if hasMark {
		item.Marks[markKey] = mark
	}
	trimMarks(item.Marks)
	return res
}

func countCategory(counts map[string]int64, category string) {
	if _, known := counts[category]; !known && len(counts) >= MaxCategories {
		category = OtherCategory
	}
	counts[category]++
}

// remember adds key to the window, forgetting the oldest beyond its size.
func (m *Merger) remember(item *Item, key EventKey) {
	if len(item.RecentEvents) == m.window {
		oldest := item.RecentEvents[0]
		// Shift in place instead of reslicing, so the backing array does
		// not creep forward and reallocate on every append.
		copy(item.RecentEvents, item.RecentEvents[1:])
		item.RecentEvents = item.RecentEvents[:len(item.RecentEvents)-1]
		if m.recent[oldest]--; m.recent[oldest] <= 0 {
			delete(m.recent, oldest)
		}
	}
	item.RecentEvents = append(item.RecentEvents, key)
	m.recent[key]++
}

// addRecentProduct keeps products newest first by ts, each product once at
// its newest ts. Among equal ts the later record comes first, so the order
// is a function of the event sequence alone.
func addRecentProduct(list []RecentProduct, productID string, at time.Time) []RecentProduct {
	for i, p := range list {
		if p.ProductID == productID {
			if p.At.After(at) {
				return list // it is already there with a newer ts
			}
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	pos := 0
	for pos < len(list) && list[pos].At.After(at) {
		pos++
	}
	if pos >= RecentProductsLimit {
		return list
	}
	list = append(list, RecentProduct{})
	copy(list[pos+1:], list[pos:])
	list[pos] = RecentProduct{ProductID: productID, At: at}
	if len(list) > RecentProductsLimit {
		list = list[:RecentProductsLimit]
	}
	return list
}

// MarkKey names a lane's mark in Item.Marks: the shard id, followed by
// "/" and the partition key unless that is the user's id ("" here). Shard
// ids never hold a "/".
func MarkKey(shard, partitionKey string) string {
	if partitionKey == "" {
		return shard
	}
	return shard + "/" + partitionKey
}

// trimMarks keeps MaxMarks marks: those of the highest shard ids and,
// within a shard, the highest positions. Shard ids are fixed-width
// ("shardId-" and 12 digits), and children get higher numbers than their
// parents, so the dropped marks are the oldest.
func trimMarks(marks map[string]Position) {
	for len(marks) > MaxMarks {
		lowest, lowestShard := "", ""
		for key, pos := range marks {
			shard, _, _ := strings.Cut(key, "/")
			if lowest == "" || shard < lowestShard || (shard == lowestShard && ComparePositions(pos, marks[lowest]) < 0) {
				lowest, lowestShard = key, shard
			}
		}
		delete(marks, lowest)
	}
}

// Clone is a deep copy of the item whose strings share no memory with the
// original's: stores keep clones, so an item never pins the invocation
// memory its strings were decoded from.
func (it *Item) Clone() *Item {
	c := *it
	c.UserID = strings.Clone(it.UserID)
	c.CategoryCounts = make(map[string]int64, len(it.CategoryCounts))
	for k, v := range it.CategoryCounts {
		c.CategoryCounts[strings.Clone(k)] = v
	}
	c.RecentProducts = make([]RecentProduct, len(it.RecentProducts))
	for i, p := range it.RecentProducts {
		c.RecentProducts[i] = RecentProduct{ProductID: strings.Clone(p.ProductID), At: p.At}
	}
	c.Marks = make(map[string]Position, len(it.Marks))
	for k, v := range it.Marks {
		c.Marks[strings.Clone(k)] = Position{Sequence: strings.Clone(v.Sequence), Sub: v.Sub}
	}
	c.RecentEvents = slices.Clone(it.RecentEvents)
	return &c
}
