package processor

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"unsafe"

	"github.com/streamfn/streamfn/internal/activity"
	"github.com/streamfn/streamfn/internal/aws/kinesisevent"
	"github.com/streamfn/streamfn/internal/aws/kpl"
	"github.com/streamfn/streamfn/internal/aws/poison"
	"github.com/streamfn/streamfn/internal/features"
)

// plan is one invocation decoded and checked: the valid events grouped by
// user, ready to merge, and the poison records. It is the end of the hot
// path that the benchmark times up to the writes.
type plan struct {
	records []kinesisevent.Record // aliases the payload
	events  []activity.Event      // valid events in batch order, without sessionId and userAgent
	valid   []validRecord         // parallel to events
	poison  []poisonRecord

	userIDs []string         // distinct users, in order of first record
	userOf  map[string]int32 // userId -> index in userIDs
	// byUser holds the valid records grouped by user, in batch order within
	// each user: user u's are byUser[userStart[u]:userEnd[u]].
	byUser    []features.Record
	userStart []int32
	userEnd   []int32
	// recordOf maps byUser[i] to its Kinesis record, for failure reports,
	// and textOf to its JSON, for the poison reports of records the merge
	// rejects (only purchases can be; "" for the others).
	recordOf []int32
	textOf   []string
	// subPKOf is the partition key of a KPL sub-record, for the poison
	// reports of the ones the merge rejects; "" for plain records.
	subPKOf []string
	// aggregated[k] tells whether Kinesis record k was a KPL aggregate.
	aggregated []bool

	userRecords   int     // after KPL unpacking
	oldestArrival float64 // seconds since the epoch; 0 when no records
	// ordered is true while every record's sequence number is above the
	// previous one of its shard, as Lambda delivers them; features.Apply
	// needs that order, and groupByUser restores it when it is false.
	ordered bool
	lastSeq string
	// droppedRepeats counts records dropped for repeating a position.
	droppedRepeats int
}

type validRecord struct {
	text    string
	record  int32 // index in records
	user    int32
	shard   string
	pk      string // the Kinesis record's partition key
	subPK   string // a KPL sub-record's own partition key, kept only with text
	pos     features.Position
	arrival int64 // ApproximateArrivalTimestamp, Unix seconds
	amount  features.Amount
	// eventKey is computed here, while the eventId's bytes are hot, so
	// that the merge never has to read them again.
	eventKey features.EventKey
}

// poisonRecord is a record that can never be applied.
type poisonRecord struct {
	record  int32
	sub     int // KPL sub-index, -1 for a plain record or a whole aggregate
	reason  string
	payload string
	pk      string // a sub-record's own partition key; "" = the Kinesis record's
	// subs and bad describe an aggregate with bad sub-records, reported as
	// one message with the whole record as its payload.
	subs int
	bad  []poison.SubRecord
}

// planner builds plans, keeping its memory from one invocation to the
// next. It is not safe for concurrent use.
type planner struct {
	decoder  kinesisevent.Decoder
	unpacker kpl.Unpacker
	shard    string // the last record's shard id
	pk       string // the current record's partition key
	arrival  int64  // and its arrival, Unix seconds
	// kept holds the bytes of the plan's strings that do not live in the
	// payload: what each event's merge needs, copied out of the decoder's
	// one-record buffer.
	kept []byte
	// categories interns category names: a batch has few, and the merge
	// then hashes the same few, cached strings.
	categories map[string]string
	plan       plan
}

// The planner's strings. The hot path allocates nothing per record: every
// string of a plan points into the invocation's payload (sequence numbers,
// shard ids) or into planner.kept (the fields of each event the merge
// reads). The Lambda runtime reuses the payload's buffer for the next
// invocation and the planner reuses kept, so:
//
//   - a plan and its strings are valid until the next build, and
//   - nothing may keep one past the invocation. Stores keep clones
//     (features.Item.Clone), poison messages and logs are written before
//     Process returns, and errors format their own copies.
//
// This is measured: a string per field costs several allocations per
// record, and copying whole records into fresh memory cost about a tenth
// of the processor's time.
func invocationString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// keep copies s into kept. When kept grows, strings made earlier keep the
// old array, which nothing writes to again.
func (pl *planner) keep(s string) string {
	start := len(pl.kept)
	pl.kept = append(pl.kept, s...)
	return invocationString(pl.kept[start:])
}

// build decodes payload into the planner's plan. The returned plan is
// valid until the next build.
func (pl *planner) build(payload []byte) (*plan, error) {
	pl.Restart()
	records, err := pl.decoder.Decode(payload, pl)
	if err != nil {
		return nil, err
	}
	pl.plan.records = records
	pl.groupByUser()
	return &pl.plan, nil
}

// Restart implements kinesisevent.Visitor: it empties the plan.
func (pl *planner) Restart() {
	p := &pl.plan
	p.records = nil
	p.events = p.events[:0]
	p.valid = p.valid[:0]
	p.poison = p.poison[:0]
	p.userIDs = p.userIDs[:0]
	if p.userOf == nil {
		p.userOf = map[string]int32{}
		pl.categories = map[string]string{}
	}
	clear(p.userOf)
	clear(pl.categories)
	p.userRecords, p.oldestArrival = 0, 0
	p.aggregated = p.aggregated[:0]
	p.ordered, p.lastSeq, p.droppedRepeats = true, "", 0
	pl.shard = ""
	pl.kept = pl.kept[:0]
}

// Visit implements kinesisevent.Visitor: it plans record k while its bytes
// are hot. r.Data is only valid during the call.
func (pl *planner) Visit(k int, r *kinesisevent.Record) {
	p := &pl.plan
	if at := r.ApproximateArrivalTimestamp; k == 0 || at < p.oldestArrival {
		p.oldestArrival = at
	}
	seq := invocationString(r.SequenceNumber)
	if id := r.ShardID(); string(id) != pl.shard {
		if pl.shard != "" {
			p.ordered = false // Lambda never mixes shards; sort rather than assume
		}
		pl.shard = invocationString(id)
	} else if features.CompareSequenceNumbers(p.lastSeq, seq) >= 0 {
		p.ordered = false
	}
	p.lastSeq = seq
	pl.pk = invocationString(r.PartitionKey)
	pl.arrival = int64(math.Floor(r.ApproximateArrivalTimestamp))
	aggregated := r.DataErr == nil && kpl.IsAggregated(r.Data)
	p.aggregated = append(p.aggregated, aggregated)
	switch {
	case r.DataErr != nil: // the data is the text as sent, in the payload
		p.userRecords++
		p.poison = append(p.poison, poisonRecord{record: int32(k), sub: -1, reason: r.DataErr.Error(), payload: invocationString(r.Data)})
	case !aggregated:
		pl.addUserRecord(int32(k), -1, pl.shard, seq, r.Data, nil)
	default:
		subs, err := pl.unpacker.Unpack(r.Data)
		if err != nil {
			p.userRecords++
			p.poison = append(p.poison, poisonRecord{record: int32(k), sub: -1, reason: err.Error(), payload: pl.keep(invocationString(r.Data))})
			return
		}
		firstPoison := len(p.poison)
		for i := range subs {
			pl.addUserRecord(int32(k), i, pl.shard, seq, subs[i].Data, subs[i].PartitionKey)
		}
		if len(p.poison) > firstPoison {
			pl.foldAggregate(int32(k), len(subs), firstPoison, r.Data)
		}
	}
}

// foldAggregate replaces the poison records of aggregate k's bad
// sub-records, from p.poison[first] on, with one for the whole record:
// one message per bad Kinesis record, however many sub-records it holds,
// with its bytes as the payload and the bad sub-records listed.
func (pl *planner) foldAggregate(k int32, subs, first int, data []byte) {
	p := &pl.plan
	bad := make([]poison.SubRecord, 0, len(p.poison)-first)
	for _, r := range p.poison[first:] {
		bad = append(bad, poison.SubRecord{SubSequenceNumber: r.sub, PartitionKey: r.pk, Reason: r.reason})
	}
	reason := fmt.Sprintf("%d of %d sub-records of this KPL aggregate are poison (listed in badSubRecords); the first, %d: %s",
		len(bad), subs, bad[0].SubSequenceNumber, bad[0].Reason)
	p.poison = append(p.poison[:first], poisonRecord{record: k, sub: -1, reason: reason,
		payload: pl.keep(invocationString(data)), subs: subs, bad: bad})
}

// addUserRecord validates one user record and files it as valid or poison.
// data is only valid during the call: what the plan keeps is copied.
// subPK is a KPL sub-record's partition key (nil for a plain record).
func (pl *planner) addUserRecord(record int32, sub int, shard, seq string, data, subPK []byte) {
	p := &pl.plan
	p.userRecords++
	text := invocationString(data)
	ev, err := activity.ParseValidString(text)
	if err != nil {
		if sub >= 0 { // folded into its aggregate's report, which carries the bytes
			p.poison = append(p.poison, poisonRecord{record: record, sub: sub, reason: err.Error(), pk: string(subPK)})
			return
		}
		p.poison = append(p.poison, poisonRecord{record: record, sub: sub, reason: err.Error(), payload: pl.keep(text)})
		return
	}
	var amount features.Amount
	kept := "" // the record's JSON, kept for the only records the merge may reject
	if ev.Type == activity.Purchase && ev.HasPrice {
		if amount, err = features.PurchaseAmount(ev.Price, ev.Quantity); err != nil {
			if sub >= 0 {
				p.poison = append(p.poison, poisonRecord{record: record, sub: sub, reason: "price × quantity: " + err.Error(), pk: string(subPK)})
				return
			}
			p.poison = append(p.poison, poisonRecord{record: record, sub: sub, reason: "price × quantity: " + err.Error(), payload: pl.keep(text)})
			return
		}
		kept = pl.keep(text)
	}
	keptPK := ""
	if kept != "" && sub >= 0 {
		keptPK = pl.keep(invocationString(subPK))
	}
	user, ok := p.userOf[ev.UserID]
	if ok {
		ev.UserID = p.userIDs[user]
	} else {
		ev.UserID = pl.keep(ev.UserID)
		user = int32(len(p.userIDs))
		p.userIDs = append(p.userIDs, ev.UserID)
		p.userOf[ev.UserID] = user
	}
	key := features.EventKeyOf(ev.EventID)
	ev.EventID = pl.keep(ev.EventID)
	ev.ProductID = pl.keep(ev.ProductID)
	if ev.Category != "" {
		category, ok := pl.categories[ev.Category]
		if !ok {
			category = pl.keep(ev.Category)
			pl.categories[category] = category
		}
		ev.Category = category
	}
	// The merge never reads these; dropping them saves copying ~200 bytes.
	ev.SessionID, ev.UserAgent = "", ""
	p.events = append(p.events, ev)
	p.valid = append(p.valid, validRecord{text: kept, subPK: keptPK, record: record, user: user, shard: shard, pk: pl.pk,
		pos: features.Position{Sequence: seq, Sub: max(sub, 0)}, arrival: pl.arrival, amount: amount, eventKey: key})
}

// groupByUser lays the valid records out user by user with a counting
// sort, which keeps batch order within each user.
func (pl *planner) groupByUser() {
	p := &pl.plan
	users := len(p.userIDs)
	p.userStart = resize(p.userStart, users+1)
	clear(p.userStart)
	for i := range p.valid {
		p.userStart[p.valid[i].user+1]++
	}
	for u := 1; u <= users; u++ {
		p.userStart[u] += p.userStart[u-1]
	}
	p.byUser = resize(p.byUser, len(p.valid))
	p.recordOf = resize(p.recordOf, len(p.valid))
	p.textOf = resize(p.textOf, len(p.valid))
	p.subPKOf = resize(p.subPKOf, len(p.valid))
	p.userEnd = append(p.userEnd[:0], p.userStart[1:]...)
	next := slices.Clone(p.userStart[:users])
	for i := range p.valid {
		v := &p.valid[i]
		at := next[v.user]
		next[v.user]++
		p.byUser[at] = features.Record{Shard: v.shard, PartitionKey: v.pk, Position: v.pos, Arrival: v.arrival, Event: p.events[i], Amount: v.amount, EventKey: v.eventKey}
		p.recordOf[at] = v.record
		p.textOf[at] = v.text
		p.subPKOf[at] = v.subPK
	}
	if !p.ordered {
		p.restoreOrder()
	}
}

// restoreOrder sorts each user's records by shard and position and drops
// repeated positions, for the batches Lambda never sends: out of order, or
// one sequence number twice. The dropped copies count as replays.
func (p *plan) restoreOrder() {
	type entry struct {
		record  features.Record
		kinesis int32
		text    string
		subPK   string
	}
	for u := range len(p.userIDs) {
		from, to := p.userStart[u], p.userStart[u+1]
		entries := make([]entry, 0, to-from)
		for i := from; i < to; i++ {
			entries = append(entries, entry{p.byUser[i], p.recordOf[i], p.textOf[i], p.subPKOf[i]})
		}
		slices.SortStableFunc(entries, func(a, b entry) int {
			if c := strings.Compare(a.record.Shard, b.record.Shard); c != 0 {
				return c
			}
			return features.ComparePositions(a.record.Position, b.record.Position)
		})
		at := from
		for i, e := range entries {
			if i > 0 && e.record.Shard == entries[i-1].record.Shard &&
				features.ComparePositions(e.record.Position, entries[i-1].record.Position) == 0 {
				p.droppedRepeats++
				continue
			}
			p.byUser[at], p.recordOf[at], p.textOf[at], p.subPKOf[at] = e.record, e.kinesis, e.text, e.subPK
			at++
		}
		p.userEnd[u] = at
	}
}

// userRecordsOf returns user u's records and the index in byUser of the
// first one.
func (p *plan) userRecordsOf(u int) ([]features.Record, int32) {
	from, to := p.userStart[u], p.userEnd[u]
	return p.byUser[from:to], from
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
