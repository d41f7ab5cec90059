// Package verify checks a local run end to end. From the valid events
// ingest acknowledged it recomputes, on its own (it never calls the
// processor's code), what each user's feature item must hold; it compares
// that with the table, checks that every malformed record put straight to
// the stream is in the poison queue with its payload, and that nothing was
// discarded to the failures queue.
//
// Records in the failures queue mean the mapping gave up on a batch
// (retries exhausted or records too old). The local run's settings make
// that impossible for a healthy pipeline, so each document there is a
// difference: verify reports them and never hides them.
package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/streamfn/streamfn/internal/activity"
	"github.com/streamfn/streamfn/internal/aws/failure"
	"github.com/streamfn/streamfn/internal/aws/poison"
	"github.com/streamfn/streamfn/internal/aws/sqsdepth"
	"github.com/streamfn/streamfn/internal/dev/local/loadgen"
)

// RecentProducts is how many distinct products an item keeps.
const RecentProducts = 20

// Item is one user's features, as verify reads and recomputes them.
type Item struct {
	UserID         string
	EventCount     int64
	TypeCounts     map[string]int64
	CategoryCounts map[string]int64
	LastEventAt    time.Time
	RecentProducts []string
	PurchaseTotal  float64
	ExpiresAt      int64 // epoch seconds; 0 when absent
}

// Expected recomputes every user's item from the valid events, one per
// eventId: the schema's rules, written out plainly.
func Expected(events []activity.Event) map[string]*Item {
	items := map[string]*Item{}
	latest := map[string]map[string]time.Time{} // user -> product -> newest ts
	seen := map[string]bool{}
	for _, ev := range events {
		if seen[ev.EventID] {
			continue
		}
		seen[ev.EventID] = true
		it := items[ev.UserID]
		if it == nil {
			it = &Item{UserID: ev.UserID, TypeCounts: map[string]int64{}, CategoryCounts: map[string]int64{}}
			items[ev.UserID] = it
			latest[ev.UserID] = map[string]time.Time{}
		}
		it.EventCount++
		it.TypeCounts[ev.Type.String()]++
		if ev.Category != "" {
			it.CategoryCounts[ev.Category]++
		}
		if ev.TS.After(it.LastEventAt) {
			it.LastEventAt = ev.TS
		}
		if ev.Type.NeedsProduct() && ev.ProductID != "" {
			if ev.TS.After(latest[ev.UserID][ev.ProductID]) {
				latest[ev.UserID][ev.ProductID] = ev.TS
			}
		}
		if ev.Type == activity.Purchase {
			it.PurchaseTotal += ev.Price * float64(ev.Quantity)
		}
	}
	for user, products := range latest {
		ids := make([]string, 0, len(products))
		for id := range products {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool {
			ti, tj := products[ids[i]], products[ids[j]]
			if !ti.Equal(tj) {
				return ti.After(tj)
			}
			return ids[i] < ids[j]
		})
		if len(ids) > RecentProducts {
			ids = ids[:RecentProducts]
		}
		items[user].RecentProducts = ids
	}
	return items
}

// Difference is one way the table disagrees with what was sent.
type Difference struct {
	UserID string `json:"userId,omitempty"`
	Field  string `json:"field"`
	Want   string `json:"want"`
	Got    string `json:"got"`
}

func (d Difference) String() string {
	if d.UserID == "" {
		return fmt.Sprintf("%s: want %s, got %s", d.Field, d.Want, d.Got)
	}
	return fmt.Sprintf("user %s: %s: want %s, got %s", d.UserID, d.Field, d.Want, d.Got)
}

// Compare lists every difference between the expected and the actual
// items, users in order. With checkTTL, every item must carry an expiry in
// the future.
func Compare(want, got map[string]*Item, checkTTL bool, now time.Time) []Difference {
	var diffs []Difference
	users := slices.Concat(slices.Collect(maps.Keys(want)), slices.Collect(maps.Keys(got)))
	slices.Sort(users)
	for _, u := range slices.Compact(users) {
		w, g := want[u], got[u]
		switch {
		case g == nil:
			diffs = append(diffs, Difference{UserID: u, Field: "item", Want: fmt.Sprintf("an item for %d events", w.EventCount), Got: "no item"})
			continue
		case w == nil:
			diffs = append(diffs, Difference{UserID: u, Field: "item", Want: "no item (no valid event was acknowledged for this user)", Got: fmt.Sprintf("an item with eventCount %d", g.EventCount)})
			continue
		}
		add := func(field, want, got string) {
			if want != got {
				diffs = append(diffs, Difference{UserID: u, Field: field, Want: want, Got: got})
			}
		}
		add("eventCount", strconv.FormatInt(w.EventCount, 10), strconv.FormatInt(g.EventCount, 10))
		add("typeCounts", counts(w.TypeCounts), counts(g.TypeCounts))
		add("categoryCounts", counts(w.CategoryCounts), counts(g.CategoryCounts))
		if !w.LastEventAt.Equal(g.LastEventAt) {
			add("lastEventAt", w.LastEventAt.UTC().Format(time.RFC3339Nano), g.LastEventAt.UTC().Format(time.RFC3339Nano))
		}
		add("recentProducts", strings.Join(w.RecentProducts, ","), strings.Join(g.RecentProducts, ","))
		if math.Abs(w.PurchaseTotal-g.PurchaseTotal) > 1e-6*math.Max(1, math.Abs(w.PurchaseTotal)) {
			add("purchaseTotal", strconv.FormatFloat(w.PurchaseTotal, 'f', -1, 64), strconv.FormatFloat(g.PurchaseTotal, 'f', -1, 64))
		}
		if checkTTL && g.ExpiresAt <= now.Unix() {
			add("expiresAt", "a time in the future", strconv.FormatInt(g.ExpiresAt, 10))
		}
	}
	return diffs
}

// counts renders a count map with zero counts left out, keys in order.
func counts(m map[string]int64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if m[k] != 0 {
			parts = append(parts, k+"="+strconv.FormatInt(m[k], 10))
		}
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// ScanAPI is what reading the table needs.
type ScanAPI interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// ScanTable reads every item. An attribute of the wrong type is a
// difference, not an error: other tools rely on these types.
func ScanTable(ctx context.Context, client ScanAPI, table, ttlAttribute string) (map[string]*Item, []Difference, error) {
	items := map[string]*Item{}
	var diffs []Difference
	var start map[string]ddbtypes.AttributeValue
	for {
		out, err := client.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table), ExclusiveStartKey: start, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return nil, nil, fmt.Errorf("scanning table %s: %w", table, err)
		}
		for _, raw := range out.Items {
			it, problems := parseItem(raw, ttlAttribute)
			items[it.UserID] = it
			diffs = append(diffs, problems...)
		}
		if len(out.LastEvaluatedKey) == 0 {
			return items, diffs, nil
		}
		start = out.LastEvaluatedKey
	}
}

func parseItem(raw map[string]ddbtypes.AttributeValue, ttlAttribute string) (*Item, []Difference) {
	it := &Item{TypeCounts: map[string]int64{}, CategoryCounts: map[string]int64{}}
	var diffs []Difference
	wrong := func(field, want string, v ddbtypes.AttributeValue) {
		diffs = append(diffs, Difference{UserID: it.UserID, Field: field, Want: want, Got: fmt.Sprintf("%T", v)})
	}
	if s, ok := raw["userId"].(*ddbtypes.AttributeValueMemberS); ok {
		it.UserID = s.Value
	}
	number := func(field string) float64 {
		v, ok := raw[field]
		if !ok {
			diffs = append(diffs, Difference{UserID: it.UserID, Field: field, Want: "a number (N)", Got: "absent"})
			return 0
		}
		n, ok := v.(*ddbtypes.AttributeValueMemberN)
		if !ok {
			wrong(field, "a number (N)", v)
			return 0
		}
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil {
			wrong(field, "a number (N)", v)
		}
		return f
	}
	countMap := func(field string, into map[string]int64) {
		v, ok := raw[field]
		if !ok {
			return // no counts yet: an empty map
		}
		m, ok := v.(*ddbtypes.AttributeValueMemberM)
		if !ok {
			wrong(field, "a map of numbers (M of N)", v)
			return
		}
		for k, c := range m.Value {
			n, ok := c.(*ddbtypes.AttributeValueMemberN)
			if !ok {
				wrong(field+"."+k, "a number (N)", c)
				continue
			}
			i, _ := strconv.ParseInt(n.Value, 10, 64)
			into[k] = i
		}
	}
	it.EventCount = int64(number("eventCount"))
	it.PurchaseTotal = number("purchaseTotal")
	countMap("typeCounts", it.TypeCounts)
	countMap("categoryCounts", it.CategoryCounts)
	switch v := raw["lastEventAt"].(type) {
	case *ddbtypes.AttributeValueMemberS:
		t, err := time.Parse(time.RFC3339Nano, v.Value)
		if err != nil || !strings.HasSuffix(v.Value, "Z") {
			diffs = append(diffs, Difference{UserID: it.UserID, Field: "lastEventAt", Want: "an RFC 3339 UTC time", Got: strconv.Quote(v.Value)})
		}
		it.LastEventAt = t
	default:
		wrong("lastEventAt", "a string (S)", v)
	}
	switch v := raw["recentProducts"].(type) {
	case *ddbtypes.AttributeValueMemberL:
		for _, p := range v.Value {
			s, ok := p.(*ddbtypes.AttributeValueMemberS)
			if !ok {
				wrong("recentProducts[]", "a string (S)", p)
				continue
			}
			it.RecentProducts = append(it.RecentProducts, s.Value)
		}
	case nil:
	default:
		wrong("recentProducts", "a list of strings (L of S)", v)
	}
	if ttlAttribute != "" {
		if n, ok := raw[ttlAttribute].(*ddbtypes.AttributeValueMemberN); ok {
			it.ExpiresAt, _ = strconv.ParseInt(n.Value, 10, 64)
		}
	}
	return it, diffs
}

// QueueAPI is what draining a queue needs.
type QueueAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// drainVisibility is how long a received message stays hidden. Short, so
// that a message whose receive answer was lost (the SDK retries a receive
// whose response broke off, and the first answer's messages stay in
// flight) is seen again within the drain.
const drainVisibility = 2

// DrainQueue returns the body of every message now in a queue, each once.
// Nothing else may receive from the queue meanwhile. It does not delete
// them: the queue stays inspectable until the run ends.
func DrainQueue(ctx context.Context, client QueueAPI, queueURL string) ([]string, error) {
	depth, err := sqsdepth.Read(ctx, client, queueURL)
	if err != nil {
		return nil, err
	}
	want := depth.Held()
	seen := map[string]bool{}
	var bodies []string
	deadline := time.Now().Add(30 * time.Second)
	for len(bodies) < want {
		if time.Now().After(deadline) {
			return bodies, fmt.Errorf("draining %s: %d of %d messages received within 30s", queueURL, len(bodies), want)
		}
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: drainVisibility,
		})
		if err != nil {
			return nil, fmt.Errorf("receiving from %s: %w", queueURL, err)
		}
		for _, m := range out.Messages {
			if id := aws.ToString(m.MessageId); !seen[id] {
				seen[id] = true
				bodies = append(bodies, aws.ToString(m.Body))
			}
		}
	}
	return bodies, nil
}

// CheckPoison matches the poison queue against the malformed records put
// straight to the stream: each must be there (at least once: a retried
// batch may report it again) with its exact payload, and nothing else may.
func CheckPoison(direct []loadgen.DirectRecord, bodies []string) (found int, diffs []Difference) {
	bySeq := make(map[string]loadgen.DirectRecord, len(direct))
	byPayload := make(map[string]bool, len(direct))
	for _, r := range direct {
		bySeq[r.ShardID+"/"+r.SequenceNumber] = r
		byPayload[string(r.Payload)] = true
	}
	matched := map[string]bool{}
	for _, body := range bodies {
		var m poison.Document
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			diffs = append(diffs, Difference{Field: "poison message", Want: "the processor's JSON document", Got: truncate(body)})
			continue
		}
		key := m.ShardID + "/" + m.SequenceNumber
		r, ok := bySeq[key]
		if !ok {
			if payload, err := m.DecodedPayload(); err == nil && byPayload[string(payload)] {
				// The same malformed bytes under another sequence number: a
				// PutRecords the SDK retried after its answer was lost put
				// them twice, as Kinesis may for any producer.
				continue
			}
			diffs = append(diffs, Difference{Field: "poison message " + key, Want: "only malformed records", Got: fmt.Sprintf("a record the load did not send malformed (reason %q, payload %s)", m.Reason, truncate(m.Payload))})
			continue
		}
		payload, err := m.DecodedPayload()
		if err != nil || !bytes.Equal(payload, r.Payload) {
			diffs = append(diffs, Difference{Field: "poison payload " + key + " (" + r.Kind + ")", Want: truncate(string(r.Payload)), Got: truncate(m.Payload) + " (" + m.PayloadEncoding + ")"})
			continue
		}
		if m.Reason == "" || m.PartitionKey != r.PartitionKey {
			diffs = append(diffs, Difference{Field: "poison message " + key, Want: "a reason and partition key " + r.PartitionKey, Got: fmt.Sprintf("reason %q, partition key %q", m.Reason, m.PartitionKey)})
		}
		matched[key] = true
	}
	for _, r := range direct {
		key := r.ShardID + "/" + r.SequenceNumber
		if !matched[key] {
			diffs = append(diffs, Difference{Field: "poison queue", Want: fmt.Sprintf("malformed record %s (%s)", key, r.Kind), Got: "not there"})
		}
	}
	return len(matched), diffs
}

// failureDifferences makes each on-failure record a difference.
func failureDifferences(docs []failure.Document) []Difference {
	var diffs []Difference
	for _, doc := range docs {
		diffs = append(diffs, discarded("on-failure records", doc))
	}
	return diffs
}

// discarded is the difference an on-failure record makes: a batch the
// mapping gave up on.
func discarded(field string, doc failure.Document) Difference {
	info := doc.KinesisBatchInfo
	return Difference{
		Field: field,
		Want:  "no discarded batch",
		Got:   fmt.Sprintf("%d records of %s (%s..%s) discarded: %s", info.BatchSize, info.ShardID, info.StartSequenceNumber, info.EndSequenceNumber, doc.RequestContext.Condition),
	}
}

// CheckFailures turns every on-failure document into a difference.
func CheckFailures(bodies []string) []Difference {
	var diffs []Difference
	for _, body := range bodies {
		doc, err := failure.Parse([]byte(body))
		if err != nil {
			diffs = append(diffs, Difference{Field: "failures queue", Want: "an on-failure record", Got: fmt.Sprintf("%v: %s", err, truncate(body))})
			continue
		}
		diffs = append(diffs, discarded("failures queue", doc))
	}
	return diffs
}

func truncate(s string) string {
	if len(s) > 120 {
		return strconv.Quote(s[:120]) + "..."
	}
	return strconv.Quote(s)
}

// Input is what Run checks.
type Input struct {
	Ledger           *loadgen.Ledger
	DynamoDB         ScanAPI
	Table            string
	TTLAttribute     string // "" when the table has no TTL
	CheckTTL         bool   // items must carry a future expiry (the processor's FEATURE_TTL_DAYS > 0)
	SQS              QueueAPI
	PoisonQueueURL   string
	FailuresQueueURL string // "" when the mapping has no destination
	// Failures, when set, reads the on-failure records (the failure
	// bucket's objects or the failures queue's messages) instead of
	// draining FailuresQueueURL.
	Failures func(ctx context.Context) ([]failure.Document, error)
	// ReadRange reads the records of an on-failure record without payload.
	ReadRange RangeReader
	// ExpectFailures is set for a run with an outage (-outage): records in
	// on-failure records are expected, not lost. Their users' counts must
	// lie between the bounds CompareWithDiscards states; everyone else's
	// must be exact. Without it, every on-failure record is a difference.
	ExpectFailures bool
}

// Result is verify's verdict.
type Result struct {
	OK               bool `json:"ok"`
	Users            int  `json:"users"`
	Events           int  `json:"events"` // distinct valid events acknowledged
	IngestRejected   int  `json:"ingestRejected"`
	PoisonExpected   int  `json:"poisonExpected"`
	PoisonFound      int  `json:"poisonFound"`
	FailureDocuments int  `json:"failureDocuments"`
	// RecordsInFailures and EventsInFailures count what the on-failure
	// records hold when they are expected (-outage); UsersWithDiscards are
	// the users checked against bounds.
	RecordsInFailures int          `json:"recordsInFailures,omitempty"`
	EventsInFailures  int          `json:"eventsInFailures,omitempty"`
	UsersWithDiscards int          `json:"usersWithDiscards,omitempty"`
	Unacknowledged    int          `json:"unacknowledged"`
	DifferenceCount   int          `json:"differenceCount"`
	Differences       []Difference `json:"differences,omitempty"` // the first MaxListed
}

// MaxListed is how many differences a Result lists.
const MaxListed = 20

// Run checks the table and both queues against the ledger. The pipeline
// must have drained first.
func Run(ctx context.Context, in Input) (Result, error) {
	accepted := in.Ledger.Accepted()
	got, diffs, err := ScanTable(ctx, in.DynamoDB, in.Table, in.TTLAttribute)
	if err != nil {
		return Result{}, err
	}
	var docs []failure.Document
	switch {
	case in.Failures != nil:
		if docs, err = in.Failures(ctx); err != nil {
			return Result{}, err
		}
	case in.FailuresQueueURL != "":
		bodies, err := DrainQueue(ctx, in.SQS, in.FailuresQueueURL)
		if err != nil {
			return Result{}, err
		}
		for _, body := range bodies {
			doc, err := failure.Parse([]byte(body))
			if err != nil {
				diffs = append(diffs, Difference{Field: "failures queue", Want: "an on-failure record", Got: fmt.Sprintf("%v: %s", err, truncate(body))})
				continue
			}
			docs = append(docs, doc)
		}
	}
	res := Result{
		Users:            len(Expected(accepted)),
		Events:           len(accepted),
		IngestRejected:   in.Ledger.RejectedAsExpected(),
		Unacknowledged:   in.Ledger.Unacknowledged(),
		FailureDocuments: len(docs),
	}
	discarded := Discarded{EventIDs: map[string]bool{}, Sequences: map[string]bool{}}
	if in.ExpectFailures {
		if discarded, err = ReadDiscarded(ctx, docs, in.ReadRange); err != nil {
			return Result{}, err
		}
		var tableDiffs []Difference
		tableDiffs, res.UsersWithDiscards = CompareWithDiscards(accepted, discarded, got, in.CheckTTL, time.Now())
		diffs = append(diffs, tableDiffs...)
		res.RecordsInFailures = discarded.Records
		for _, ev := range accepted {
			if discarded.EventIDs[ev.EventID] {
				res.EventsInFailures++
			}
		}
	} else {
		diffs = append(diffs, Compare(Expected(accepted), got, in.CheckTTL, time.Now())...)
		diffs = append(diffs, failureDifferences(docs)...)
	}
	for _, p := range in.Ledger.Problems() {
		diffs = append(diffs, Difference{Field: "ingest answer", Want: "each valid event accepted and each malformed one rejected", Got: p})
	}
	if res.Unacknowledged > 0 {
		diffs = append(diffs, Difference{Field: "load", Want: "every request answered", Got: fmt.Sprintf("%d valid events never acknowledged after every retry, so the expected items are unknown", res.Unacknowledged)})
	}
	// A malformed record the mapping discarded never reached the
	// processor: it is in an on-failure record, not in the poison queue.
	var direct []loadgen.DirectRecord
	for _, r := range in.Ledger.Direct() {
		if !discarded.Sequences[r.ShardID+"/"+r.SequenceNumber] {
			direct = append(direct, r)
		}
	}
	res.PoisonExpected = len(direct)
	poison, err := DrainQueue(ctx, in.SQS, in.PoisonQueueURL)
	if err != nil {
		return Result{}, err
	}
	found, poisonDiffs := CheckPoison(direct, poison)
	res.PoisonFound = found
	diffs = append(diffs, poisonDiffs...)
	res.DifferenceCount = len(diffs)
	res.Differences = diffs[:min(len(diffs), MaxListed)]
	res.OK = len(diffs) == 0
	return res, nil
}
