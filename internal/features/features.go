// Package features is the processor's domain logic, with no AWS types: the
// per-user recommendation features kept in the table, and how a batch of
// activity events updates them exactly once.
//
// # Effectively once
//
// Lambda delivers Kinesis records at least once: it retries failed batches,
// bisects them and restarts from a reported failure, and an invocation that
// timed out may still write after its retry did. Producers may also put the
// same event twice, under two sequence numbers and any partition keys.
// Apply counts each eventId of a user at most once, and never skips one it
// has not counted, using state kept on the user's item:
//
//   - Seen: an exact set of the eventIds (EventKey: 16 bytes of SHA-256)
//     the item has applied, each with the Kinesis arrival time of its
//     record (ApproximateArrivalTimestamp, which a redelivery repeats).
//     A record whose key is in the set is skipped, whatever its partition
//     key, shard or position. Entries leave the set by arrival time, not
//     by count: an entry stays while its arrival is within the horizon of
//     the newest arrival the item has applied (NewestArrival). The horizon
//     is Horizons.Duplicate (the stack's dedupHorizonSeconds) for records
//     whose partition key is the userId, and the longer of that and
//     Horizons.Redelivery (maxRecordAgeSeconds, or the stream's retention
//     when records never expire) for records under any other partition
//     key: Lambda delivers no record older than that, so every redelivery
//     of such a record finds its entry.
//   - Marks: for records whose partition key is the userId (what ingest
//     writes), a high-water mark per shard: the Position of the last such
//     record applied. Lambda keeps one partition key of one shard in
//     order, even with a parallelization factor, so a record at or below
//     the mark was delivered before. The mark decides only for records
//     whose arrival is older than the set's reach (Floor): a redelivery
//     after a long outage. Within the reach, a record below the mark that
//     is not in the set was never applied (the mapping gave up on it and
//     the redrive tool replays it), and it is applied.
//   - Floor and FloorOther: the newest arrival of an entry that left the
//     set, for each of the two horizons. The set is complete for arrivals
//     above them. A record at or below its floor that is not in the set
//     and has no mark to decide (another partition key) is applied and
//     counted in Result.Unverified: that is outside the guarantee, and
//     the processor reports it as a metric.
//
// An item keeps at most MaxSeen entries (about 21 bytes each in the
// table). A user whose events within the horizon exceed that loses the
// oldest entries first, which raises the floor; Result.Evicted counts
// them.
//
// The caller writes each user's item once per batch, conditioned on the
// Version it read (optimistic locking), so concurrent or late (zombie)
// invocations cannot lose each other's updates or apply a batch twice.
package features

import (
	"cmp"
	"crypto/sha256"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/streamfn/streamfn/internal/activity"
)

// Limits of an item.
const (
	// RecentProductsLimit is the length of recentProducts.
	RecentProductsLimit = 20
	// MaxMarks is the number of shards whose marks an item keeps: after
	// many reshardings the oldest lineages' marks are dropped, which is
	// safe because Lambda finishes a parent shard before its children. A
	// user's own key spans more than one open shard only through KPL
	// explicit hash keys; 256 covers every stack of up to 256 shards.
	MaxMarks = 256
	// LagAllowance is how far apart, in seconds of arrival time, a user's
	// shards or lanes may be processed and the horizons still hold: entries
	// stay this much longer than their horizon. Beyond it, records the set
	// cannot vouch for are counted in Result.Unverified.
	LagAllowance = 120
	// MaxSeen bounds the Seen set: 10,000 entries are about 210 KB of the
	// table's 400 KB item limit, leaving room for the features.
	MaxSeen = 10000
	// MaxCategories bounds categoryCounts, so that no client can grow an
	// item past DynamoDB's 400 KB with made-up categories. Events of further
	// new categories are counted under OtherCategory.
	MaxCategories = 256
	// OtherCategory counts the categories beyond MaxCategories.
	OtherCategory = "_other"
)

// Default horizons, in seconds; the stack sets both (see Horizons).
const (
	// DefaultDuplicateHorizon is streamfn:dedupHorizonSeconds' default:
	// 15 minutes (README, "Exactly once").
	DefaultDuplicateHorizon = 900
	// DefaultRedeliveryHorizon is the mapping's default maximum record
	// age when none is set: Lambda's default of -1 lets records live as
	// long as the stream keeps them, 24 hours by default.
	DefaultRedeliveryHorizon = 24 * 3600
)

// The range of the duplicate horizon (streamfn:dedupHorizonSeconds,
// DEDUP_HORIZON_SECONDS): at least a minute, at most a day (the item then
// holds a day of a user's eventIds).
const (
	MinDuplicateHorizon = 60
	MaxDuplicateHorizon = 86400
)

// Horizons are how long, in seconds of Kinesis arrival time, the Seen set
// keeps an entry.
type Horizons struct {
	// Duplicate is how much later than its original a producer's
	// duplicate may arrive and still be caught (dedupHorizonSeconds).
	Duplicate int64
	// Redelivery is the longest Lambda may deliver a record after its
	// arrival: maxRecordAgeSeconds, or the stream's retention when
	// records never expire.
	Redelivery int64
	// Lag is how far apart a user's shards or lanes may be processed, in
	// seconds of arrival time (default LagAllowance).
	Lag int64
}

func (h Horizons) withDefaults() Horizons {
	if h.Duplicate <= 0 {
		h.Duplicate = DefaultDuplicateHorizon
	}
	if h.Redelivery <= 0 {
		h.Redelivery = DefaultRedeliveryHorizon
	}
	if h.Lag <= 0 {
		h.Lag = LagAllowance
	}
	return h
}

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

	// Idempotency state (see the package documentation).
	Marks map[string]Position // shard id -> high-water mark of the userId lane
	Seen  []Seen              // in the order applied
	// NewestArrival is the newest arrival (Unix seconds) of a record the
	// item applied; the Seen set's horizons count back from it.
	NewestArrival int64
	// Floor and FloorOther are the newest arrivals (Unix seconds) of
	// entries that left the Seen set: those of records under the userId
	// partition key, and those of the others.
	Floor, FloorOther int64
	// SeenIncomplete marks an item written by a release that kept no
	// arrival times: its set may lack what it applied, so Apply first
	// raises both floors to the newest arrival it is given.
	SeenIncomplete bool

	// Version counts the item's writes; 0 means it is not stored yet. The
	// store writes only if the stored version still equals it.
	Version int64
	// ExpiresAt is the item's TTL in epoch seconds, 0 for none.
	ExpiresAt int64
	// Bytes is the item's size as DynamoDB bills it, set by the store
	// when it reads or writes the item; 0 when unknown.
	Bytes int
}

// Seen is an entry of the Seen set.
type Seen struct {
	Key EventKey
	// Arrival is the record's ApproximateArrivalTimestamp in Unix seconds,
	// or 0 for an entry carried over from an item written before arrival
	// times were kept (Apply dates it on first use).
	Arrival int64
	// Other is true for a record whose partition key was not the userId:
	// no mark covers it, so it is kept for the redelivery horizon too.
	Other bool
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
	// aggregate's). When it is the event's userId, the record is in the
	// user's lane of its shard and the shard's mark covers it.
	PartitionKey string
	Position     Position
	// Arrival is the Kinesis record's ApproximateArrivalTimestamp in Unix
	// seconds: a redelivery of the record has the same.
	Arrival int64
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

// EventKey stands for an eventId in a user's Seen set: the first 16 bytes
// of the id's SHA-256. The set keeps keys rather than the ids themselves so
// that each id costs 16 bytes of the item, however long it is (a UUID is 36
// characters, an id may have 128), and the item stays small: DynamoDB bills
// writes per KB. Two different ids share a key only if SHA-256 collides in
// its first 128 bits, a chance of 2^-128 per pair that nobody can bring
// about on purpose, so the set still tells every duplicate from every new
// event.
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
	Duplicates int // skipped: the eventId is in the Seen set
	Replays    int // skipped: at or below the shard's mark, older than the set's reach
	// Recovered counts applied records below their shard's mark: records
	// the mapping gave up on, replayed (redrive). They are in Applied too.
	Recovered int
	// Unverified counts applied records that the Seen set no longer
	// reaches and no mark covers: outside the guarantee. They are in
	// Applied too.
	Unverified int
	// Evicted counts Seen entries dropped for MaxSeen before their
	// horizon ended.
	Evicted int
	// RedriveBeyondHorizon counts records a redrive replayed that are
	// below their shard's mark and older than the Seen set reaches: the
	// mark takes them for delivered, so they are skipped (in Replays too),
	// but nothing can vouch that they were applied. The redrive tool
	// reports them.
	RedriveBeyondHorizon int
	// Refreshed is true when a skipped duplicate moved its Seen entry or
	// the mark: the item changed, though nothing was applied.
	Refreshed bool
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
	horizons Horizons
	maxSeen  int
	// seen maps each key of the item's Seen set to its index there, for
	// lookups without scanning it.
	seen map[EventKey]int32
	// legacy: the item came from a release that kept per-key marks
	// ("shard/key") and no arrival times; those marks decide its first batch.
	legacy bool
	// Redrive marks the calls of a replay by the redrive tool (Apply counts
	// what it cannot vouch for in Result.RedriveBeyondHorizon).
	Redrive bool
}

// NewMerger returns a Merger with the given horizons (defaults for zero
// fields).
func NewMerger(h Horizons) *Merger {
	return &Merger{horizons: h.withDefaults(), maxSeen: MaxSeen, seen: make(map[EventKey]int32, 256)}
}

// Apply updates item with records, which must all be the item's user's and,
// within each shard and partition key, in increasing Position order (as a
// Kinesis batch delivers them). See the package documentation for the
// rules; they depend on the records and the item only, never on how Lambda
// cut the stream into batches.
func (m *Merger) Apply(item *Item, records []Record) Result {
	var res Result
	m.prepare(item, records)

	var lane shardMark
	for i := range records {
		r := &records[i]
		own := r.PartitionKey == item.UserID
		if own {
			lane.load(item, r.Shard)
		}
		key := r.EventKey
		if key == (EventKey{}) {
			key = EventKeyOf(r.Event.EventID)
		}
		belowMark := own && lane.covers(r.Position)
		if at, ok := m.seen[key]; ok {
			if belowMark {
				res.Replays++
			} else {
				res.Duplicates++
			}
			// A copy's redelivery must find the entry as long as the copy's
			// own: keep the newest arrival of any copy, and the longer horizon
			// if a copy came under another key. Own copies move the mark.
			if e := &item.Seen[at]; e.Arrival < r.Arrival || !own && !e.Other {
				e.Arrival, e.Other = max(e.Arrival, r.Arrival), e.Other || !own
				item.NewestArrival = max(item.NewestArrival, r.Arrival)
				res.Refreshed = true
			}
			if own && !belowMark {
				lane.advance(r.Position)
				res.Refreshed = true
			}
			continue
		}
		if m.legacy {
			if lm, ok := item.Marks[r.Shard+"/"+r.PartitionKey]; ok && ComparePositions(r.Position, lm) <= 0 {
				res.Replays++ // at or below the older release's mark of its key
				continue
			}
		}
		switch {
		case belowMark && r.Arrival <= item.Floor:
			// Beyond the set's reach: the mark says it was delivered.
			res.Replays++
			if m.Redrive {
				res.RedriveBeyondHorizon++
			}
			continue
		case belowMark:
			res.Recovered++ // never applied: the set would hold it
		case max(item.Floor, item.FloorOther) >= r.Arrival-m.horizons.Duplicate:
			// The set may have lost an original within the horizon of this
			// record: a user's shards or lanes are further apart than the
			// lag allowance, or the item hit MaxSeen.
			res.Unverified++
		}
		if own && !belowMark {
			lane.advance(r.Position)
		}
		m.remember(item, key, r.Arrival, !own)
		ev := &r.Event
		if ev.Type == activity.Purchase && ev.HasPrice {
			total, err := item.PurchaseTotal.Add(r.Amount)
			if err != nil {
				// Remembered all the same: the caller sends it to the
				// poison queue, and a redelivery must not send it again.
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
		res.Applied++
	}
	lane.save(item)
	trimMarks(item.Marks)
	res.Evicted = m.forget(item)
	return res
}

// shardMark is the userId lane's high-water mark of the shard whose records
// Apply is reading, kept out of the item's map until the shard changes.
type shardMark struct {
	shard   string
	loaded  bool
	mark    Position
	has     bool // the item has a mark for the shard
	changed bool // mark moved since it was loaded
}

// load makes the mark that of shard, saving the previous shard's first.
func (l *shardMark) load(item *Item, shard string) {
	if l.loaded && l.shard == shard {
		return
	}
	l.save(item)
	l.shard, l.loaded = shard, true
	l.mark, l.has = item.Marks[shard]
	l.changed = false
}

// covers reports whether pos is at or below the mark.
func (l *shardMark) covers(pos Position) bool {
	return l.has && ComparePositions(pos, l.mark) <= 0
}

func (l *shardMark) advance(pos Position) {
	l.mark, l.has, l.changed = pos, true, true
}

func (l *shardMark) save(item *Item) {
	if l.changed {
		item.Marks[l.shard] = l.mark
		l.changed = false
	}
}

// prepare readies the item and the merger's lookup for records.
func (m *Merger) prepare(item *Item, records []Record) {
	if cap(item.RecentProducts) < RecentProductsLimit+1 {
		item.RecentProducts = append(make([]RecentProduct, 0, RecentProductsLimit+1), item.RecentProducts...)
	}
	if item.CategoryCounts == nil {
		item.CategoryCounts = map[string]int64{}
	}
	if item.Marks == nil {
		item.Marks = map[string]Position{}
	}
	newest := item.NewestArrival
	for i := range records {
		newest = max(newest, records[i].Arrival)
	}
	m.legacy = item.SeenIncomplete
	if item.SeenIncomplete {
		item.Floor, item.FloorOther = max(item.Floor, newest), max(item.FloorOther, newest)
		item.SeenIncomplete = false
	}
	clear(m.seen)
	for i := range item.Seen {
		e := &item.Seen[i]
		if e.Arrival == 0 {
			// From an item written before arrival times were kept: date
			// it now, so it lives one more horizon.
			e.Arrival = newest
		}
		if at, dup := m.seen[e.Key]; dup {
			// An item written by hand may hold a key twice: keep one entry
			// that outlives both.
			prev := &item.Seen[at]
			prev.Arrival, prev.Other = max(prev.Arrival, e.Arrival), prev.Other || e.Other
			continue
		}
		m.seen[e.Key] = int32(i)
	}
	if want := len(item.Seen) + len(records); cap(item.Seen) < want {
		item.Seen = append(make([]Seen, 0, want), item.Seen...)
	}
}

// remember adds key to the Seen set.
func (m *Merger) remember(item *Item, key EventKey, arrival int64, other bool) {
	m.seen[key] = int32(len(item.Seen))
	item.Seen = append(item.Seen, Seen{Key: key, Arrival: arrival, Other: other})
	item.NewestArrival = max(item.NewestArrival, arrival)
}

// forget drops the entries whose horizon has passed, then the oldest
// beyond MaxSeen, and raises the floors to what it dropped. It returns how
// many it dropped for MaxSeen.
func (m *Merger) forget(item *Item) int {
	newest := item.NewestArrival
	keepOwn := newest - m.horizons.Duplicate - m.horizons.Lag
	keepOther := newest - max(m.horizons.Duplicate, m.horizons.Redelivery) - m.horizons.Lag
	kept := item.Seen[:0]
	for _, e := range item.Seen {
		switch {
		case !e.Other && e.Arrival < keepOwn:
			item.Floor = max(item.Floor, e.Arrival)
		case e.Other && e.Arrival < keepOther:
			item.FloorOther = max(item.FloorOther, e.Arrival)
		default:
			kept = append(kept, e)
		}
	}
	clear(item.Seen[len(kept):])
	item.Seen = kept
	over := len(item.Seen) - m.maxSeen
	if over <= 0 {
		return 0
	}
	// Drop the oldest arrivals; among equal ones, the earliest applied.
	order := make([]int, len(item.Seen))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Compare(item.Seen[a].Arrival, item.Seen[b].Arrival)
	})
	drop := make([]bool, len(item.Seen))
	for _, i := range order[:over] {
		drop[i] = true
		if e := item.Seen[i]; e.Other {
			item.FloorOther = max(item.FloorOther, e.Arrival)
		} else {
			item.Floor = max(item.Floor, e.Arrival)
		}
	}
	kept = item.Seen[:0]
	for i, e := range item.Seen {
		if !drop[i] {
			kept = append(kept, e)
		}
	}
	item.Seen = kept
	return over
}

func countCategory(counts map[string]int64, category string) {
	if _, known := counts[category]; !known && len(counts) >= MaxCategories {
		category = OtherCategory
	}
	counts[category]++
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

// trimMarks keeps MaxMarks marks, those of the highest shard ids, and drops
// the per-partition-key marks older releases kept ("shard/key"): the Seen
// set covers those records now. Shard ids are fixed-width ("shardId-" and
// 12 digits), and children get higher numbers than their parents, so the
// dropped marks are the oldest.
func trimMarks(marks map[string]Position) {
	for key := range marks {
		if strings.Contains(key, "/") {
			delete(marks, key)
		}
	}
	for len(marks) > MaxMarks {
		delete(marks, slices.Min(slices.Collect(maps.Keys(marks))))
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
	c.Seen = slices.Clone(it.Seen)
	return &c
}
