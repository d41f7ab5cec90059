// Package processor is the processor Lambda function's handler: it turns
// one Kinesis invocation into per-user feature writes, exactly once per
// event, and reports what it could not do so that Lambda retries only that.
//
// Data flows one way: decode (kinesisevent, base64fast, kpl) → validate
// (activity) → plan (group by user) → apply (features.Merger, one
// conditional write per user through store.Store) → report poison records
// (poison.Sender) → respond with the lowest failed sequence number.
//
// # Guarantees
//
//   - Effectively once: see package features. Each user costs one read
//     (batched, 100 users per BatchGetItem) and at most one write per batch.
//   - Order: a user's records apply in sequence order, in one merge.
//     Different users are written concurrently, WriteConcurrency at a time,
//     so one slow write does not hold up the others.
//   - Poison records (not JSON, against the schema, a corrupt KPL
//     aggregate, over activity.MaxEventBytes) go to the poison queue and
//     are never retried. Only those before the lowest failure are sent:
//     Lambda redelivers the rest, and they are sent then. If the queue
//     cannot take one, its record is a batch item failure: nothing is lost.
//   - Partial failure: a user whose write fails (after WriteAttempts
//     conflict retries, or on any other error) fails alone; the response
//     names the lowest failed sequence number, Kinesis's checkpoint rule,
//     and Lambda resumes from there. The records after it that were
//     applied are skipped on redelivery by the high-water marks.
//   - Deadline: no read, write or send starts when less than DeadlineMargin
//     (at most a quarter of the time the invocation started with) remains;
//     the users not started are failures, so the response names the first
//     record not applied instead of the invocation timing out.
package processor

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/streamfn/streamfn/internal/activity"
	"github.com/streamfn/streamfn/internal/aws/poison"
	"github.com/streamfn/streamfn/internal/aws/store"
	"github.com/streamfn/streamfn/internal/features"
	"github.com/streamfn/streamfn/internal/lambdafn/telemetry"
)

// Processor handles invocations. It implements aws-lambda-go's
// lambda.Handler on raw bytes. It is safe for concurrent use, though Lambda
// sends one invocation at a time.
type Processor struct {
	cfg     Config
	store   store.Store
	poison  poison.Sender
	log     *slog.Logger
	metrics io.Writer
	now     func() time.Time

	planners sync.Pool // *planner, reused across invocations
}

// Deps are what a processor works with, besides its Config.
type Deps struct {
	Store  store.Store   // the features table
	Poison poison.Sender // the poison queue
	Logger *slog.Logger  // nil discards logs
	// Metrics receives one EMF line per invocation (os.Stdout in Lambda);
	// nil discards them.
	Metrics io.Writer
}

// New returns a processor with the settings cfg (ConfigFromEnv) and the
// dependencies deps, as ingest.NewHandler takes its own.
func New(cfg Config, deps Deps) *Processor {
	log, metrics := deps.Logger, deps.Metrics
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if metrics == nil {
		metrics = io.Discard
	}
	return &Processor{cfg: cfg.withDefaults(), store: deps.Store, poison: deps.Poison, log: log, metrics: metrics, now: time.Now}
}

// Outcome counts what one invocation did; the EMF line reports it.
type Outcome struct {
	Records           int // Kinesis records
	UserRecords       int // records after KPL unpacking
	Valid             int // valid events (applied, duplicate or replayed)
	Poison            int // records reported to the poison queue
	Applied           int // events counted into items
	DuplicatesSkipped int // eventIds the user's item had applied
	ReplaysSkipped    int // redelivered records at or below a mark, older than the Seen set's reach
	Recovered         int // applied records below their mark: replays of records the mapping gave up on
	Unverified        int // applied records outside the guarantee (package features)
	SeenEvicted       int // Seen entries dropped before their horizon (features.MaxSeen)
	// UserCapHits counts events that hit a per-user cap of the item: a new
	// category beyond features.MaxCategories (counted under _other) or a
	// purchase beyond purchaseTotal's range (poison). README, "Per-user caps".
	UserCapHits int
	// ErasureSuppressed counts records of erased users dropped because
	// they arrived before the erasure (README, Data protection).
	ErasureSuppressed int
	// RedriveBeyondHorizon counts records a redrive replayed that the
	// processor skipped without being able to vouch they were applied
	// (features.Result.RedriveBeyondHorizon).
	RedriveBeyondHorizon int
	MaxItemBytes         int // the largest item written
	ItemBytes            int // the items written, summed: with Writes, the mean item size
	WriteUnits           int // what the writes cost, one unit per started KB of item
	Users                int
	Writes               int // items written
	WriteConflicts       int // writes retried after another writer's change
	UsersFailed          int
	PoisonSendFailures   int
	DeadlineStops        int // users or poison records not started for lack of time
	MaxRecordAgeMs       float64
	// FailedSequenceNumber is the batch item failure, "" when none.
	FailedSequenceNumber string
	// Windowed: the event came from a mapping with a tumbling window, and
	// the response must carry a state.
	Windowed bool
}

// Invoke implements lambda.Handler: payload is the Kinesis event, the result
// is exactly {"batchItemFailures":[...]} with at most one entry, preceded by
// "state":{} for a tumbling-window event.
func (p *Processor) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	out, err := p.Process(ctx, payload)
	if err != nil {
		return nil, err
	}
	resp := AppendResponse(nil, out.FailedSequenceNumber, out.Windowed)
	if IsRedrive(ctx) {
		// Only the redrive tool asks: Lambda's mapping never sees this.
		resp = appendRedriveReport(resp, out)
	}
	return resp, nil
}

// AppendResponse appends the partial-batch response naming failedSequence,
// or the all-succeeded response when it is "".
//
// With windowed, it is the response to a tumbling-window event
// (events.KinesisTimeWindowEventResponse), which must hold a state or
// Lambda counts the invocation as failed. The features are kept per user
// in the table, not per window, so the state is always empty: the
// processor works the same with or without a window.
func AppendResponse(dst []byte, failedSequence string, windowed bool) []byte {
	dst = append(dst, '{')
	if windowed {
		dst = append(dst, `"state":{},`...)
	}
	if failedSequence == "" {
		return append(dst, `"batchItemFailures":[]}`...)
	}
	dst = append(dst, `"batchItemFailures":[{"itemIdentifier":`...)
	dst = activity.AppendString(dst, failedSequence)
	return append(dst, `}]}`...)
}

// Process does the invocation's work and says what it did. An error means
// the invocation itself is unusable (not a Kinesis event); Lambda then
// retries the whole batch.
func (p *Processor) Process(ctx context.Context, payload []byte) (Outcome, error) {
	start := p.now()
	pl, _ := p.planners.Get().(*planner)
	if pl == nil {
		pl = &planner{}
	}
	defer p.planners.Put(pl)

	plan, err := pl.build(payload)
	if err != nil {
		p.log.ErrorContext(ctx, "invocation is not a Kinesis event; Lambda will retry it", "error", err, "bytes", len(payload))
		return Outcome{}, err
	}
	inv := &invocation{p: p, ctx: ctx, plan: plan, failedRecord: -1, margin: p.cfg.DeadlineMargin, redrive: IsRedrive(ctx)}
	if deadline, ok := ctx.Deadline(); ok {
		// A function whose whole timeout is near the margin would never
		// start anything and block its shard: keep at most a quarter.
		inv.margin = min(inv.margin, time.Until(deadline)/4)
	}
	inv.out = Outcome{Records: len(plan.records), UserRecords: plan.userRecords, Valid: len(plan.valid), Users: len(plan.userIDs),
		ReplaysSkipped: plan.droppedRepeats, Windowed: pl.decoder.Windowed()}
	if len(plan.records) > 0 {
		inv.out.MaxRecordAgeMs = math.Max(0, float64(start.UnixMilli())-plan.oldestArrival*1000)
	}
	inv.writeUsers()
	inv.sendPoison()

	out := inv.out
	if inv.failedRecord >= 0 {
		out.FailedSequenceNumber = string(plan.records[inv.failedRecord].SequenceNumber)
		if out.FailedSequenceNumber == "" {
			// Never answer with an empty identifier: Lambda would treat
			// the whole batch as failed in an unclear way. Fail loudly.
			err := errors.New("a failed record has no sequence number; failing the whole invocation so Lambda retries it")
			p.log.ErrorContext(ctx, err.Error())
			return out, err
		}
	}
	p.report(ctx, start, out)
	return out, nil
}

// invocation is the state of one Process call's write and send phases.
type invocation struct {
	p    *Processor
	ctx  context.Context
	plan *plan

	margin       time.Duration // no new call starts with less time left
	redrive      bool          // a replay by the redrive tool (IsRedrive)
	mu           sync.Mutex
	out          Outcome
	failedRecord int32 // lowest failed Kinesis record index, -1 for none
}

// fail records that Kinesis record k was not fully processed. Records are
// in sequence order within the batch, so the lowest index is the lowest
// sequence number; comparing numbers covers batches that are not.
func (inv *invocation) fail(k int32) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if inv.failedRecord < 0 || features.CompareSequenceNumbers(
		string(inv.plan.records[k].SequenceNumber), string(inv.plan.records[inv.failedRecord].SequenceNumber)) < 0 {
		inv.failedRecord = k
	}
}

// sendContext is inv.ctx ending when timeLeft turns false, so that a
// poison send of many batches starts none past the margin (poison.Queue
// checks it before each SendMessageBatch).
func (inv *invocation) sendContext() (context.Context, context.CancelFunc) {
	if deadline, ok := inv.ctx.Deadline(); ok {
		return context.WithDeadline(inv.ctx, deadline.Add(-inv.margin))
	}
	return context.WithCancel(inv.ctx)
}

// timeLeft reports whether there is time to start another call.
func (inv *invocation) timeLeft() bool {
	deadline, ok := inv.ctx.Deadline()
	return !ok || time.Until(deadline) >= inv.margin
}

// parallel runs task(i) for i in [0, n) on up to WriteConcurrency
// goroutines; each gets its own Merger.
func (inv *invocation) parallel(n int, task func(i int, m *features.Merger)) {
	workers := min(inv.p.cfg.WriteConcurrency, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := features.NewMerger(inv.p.cfg.Horizons)
			m.Redrive = inv.redrive
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				task(i, m)
			}
		}()
	}
	wg.Wait()
}

// writeUsers reads every user's item (100 per call), merges the user's
// records and writes the item once.
func (inv *invocation) writeUsers() {
	plan := inv.plan
	users := len(plan.userIDs)
	if users == 0 {
		return
	}
	chunks := (users + store.MaxLoadKeys - 1) / store.MaxLoadKeys
	loaded := make([]map[string]*features.Item, chunks)
	loadErr := make([]error, chunks)
	inv.parallel(chunks, func(c int, _ *features.Merger) {
		if !inv.timeLeft() {
			loadErr[c] = errDeadline
			return
		}
		ids := plan.userIDs[c*store.MaxLoadKeys : min(users, (c+1)*store.MaxLoadKeys)]
		loaded[c], loadErr[c] = inv.p.store.Load(inv.ctx, ids)
	})
	inv.parallel(users, func(u int, m *features.Merger) {
		c := u / store.MaxLoadKeys
		if err := loadErr[c]; err != nil {
			// An item that cannot be decoded fails its user alone; the
			// others of its chunk were read.
			var unreadable *store.UnreadableError
			if !errors.As(err, &unreadable) {
				inv.userFailed(u, "reading the user's item", err)
				return
			}
			if err := unreadable.For(plan.userIDs[u]); err != nil {
				inv.userFailed(u, "reading the user's item", err)
				return
			}
		}
		item := loaded[c][plan.userIDs[u]]
		if item == nil {
			item = features.NewItem(plan.userIDs[u])
		}
		inv.writeUser(u, item, m)
	})
}

// unerased returns the records that arrived after erasedAt, and their
// indexes in records.
func unerased(records []features.Record, erasedAt int64) ([]features.Record, []int) {
	var kept []features.Record
	var indexes []int
	for i, r := range records {
		if r.Arrival > erasedAt {
			kept = append(kept, r)
			indexes = append(indexes, i)
		}
	}
	return kept, indexes
}

var errDeadline = errors.New("not started: the invocation's remaining time fell below DEADLINE_MARGIN_MS")

func (inv *invocation) writeUser(u int, item *features.Item, m *features.Merger) {
	all, first := inv.plan.userRecordsOf(u)
	userID := inv.plan.userIDs[u]
	var reported map[int]bool // rejections already in the poison queue, by index in all
	for attempt := 1; ; attempt++ {
		if !inv.timeLeft() {
			inv.userFailed(u, "writing the user's item", errDeadline)
			return
		}
		records, kept := all, []int(nil)
		if item.ErasedAt > 0 {
			// The user was erased: records that were in the stream by
			// then are suppressed, whatever replays them.
			records, kept = unerased(all, item.ErasedAt)
			if len(records) < len(all) && attempt == 1 {
				inv.mu.Lock()
				inv.out.ErasureSuppressed += len(all) - len(records)
				inv.mu.Unlock()
			}
			if len(records) == 0 {
				return
			}
		}
		res := m.Apply(item, records)
		for i := range res.Rejected {
			if kept != nil {
				res.Rejected[i].Index = kept[res.Rejected[i].Index]
			}
		}
		// The records Apply rejected are behind the item's new mark: once
		// it is saved, a redelivery skips them as replays. So they go to
		// the poison queue first, and the item is not saved unless they
		// got there.
		if len(res.Rejected) > 0 {
			if reported == nil {
				reported = map[int]bool{}
			}
			if err := inv.reportRejected(res.Rejected, first, reported); err != nil {
				inv.userFailed(u, "sending the user's rejected records to the poison queue", err)
				return
			}
		}
		if res.Applied == 0 && !res.Refreshed && len(res.Rejected) == 0 {
			// Only duplicates and replays that changed nothing: no write.
			inv.counted(res, 0)
			inv.outsideGuarantee(userID, res, item)
			return
		}
		if days := inv.p.cfg.FeatureTTLDays; days > 0 {
			item.ExpiresAt = inv.p.now().Add(time.Duration(days) * 24 * time.Hour).Unix()
		}
		err := inv.p.store.Save(inv.ctx, item)
		if err == nil {
			inv.counted(res, 1)
			inv.wrote(item)
			inv.outsideGuarantee(userID, res, item)
			return
		}
		if !errors.Is(err, store.ErrConflict) || attempt >= inv.p.cfg.WriteAttempts {
			if errors.Is(err, store.ErrConflict) {
				err = fmt.Errorf("%w, %d times in a row", err, attempt)
			}
			inv.userFailed(u, "writing the user's item", err)
			return
		}
		// Another writer got there first: start again from its item.
		inv.mu.Lock()
		inv.out.WriteConflicts++
		inv.mu.Unlock()
		fresh, err := inv.p.store.Load(inv.ctx, []string{userID})
		if err != nil {
			inv.userFailed(u, "re-reading the user's item after a conflict", err)
			return
		}
		if item = fresh[userID]; item == nil {
			item = features.NewItem(userID)
		}
	}
}

// counted adds a user's result to the outcome.
func (inv *invocation) counted(res features.Result, writes int) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.out.Applied += res.Applied
	inv.out.DuplicatesSkipped += res.Duplicates
	inv.out.ReplaysSkipped += res.Replays
	inv.out.Writes += writes
	inv.out.Recovered += res.Recovered
	inv.out.Unverified += res.Unverified
	inv.out.SeenEvicted += res.Evicted
	inv.out.RedriveBeyondHorizon += res.RedriveBeyondHorizon
	inv.out.UserCapHits += res.CategoryCapped + res.PurchaseTotalCapped
}

// UserCapMessage is the log message of a user whose events hit a per-user
// cap; the UserCapHits metric counts them.
const UserCapMessage = "user hit a per-user cap of the item (README, Per-user caps)"

// outsideGuarantee logs a user whose records the merge handled outside the
// exactly-once guarantee; the metrics count them.
func (inv *invocation) outsideGuarantee(userID string, res features.Result, item *features.Item) {
	if res.CategoryCapped > 0 || res.PurchaseTotalCapped > 0 {
		inv.p.log.WarnContext(inv.ctx, UserCapMessage, "userId", userID,
			"categoriesCapped", res.CategoryCapped, "purchasesCapped", res.PurchaseTotalCapped,
			"categories", len(item.CategoryCounts), "itemBytes", item.Bytes)
	}
	if res.Unverified > 0 || res.Evicted > 0 || res.RedriveBeyondHorizon > 0 {
		inv.p.log.WarnContext(inv.ctx, OutsideGuaranteeMessage,
			"userId", userID, "unverified", res.Unverified, "seenEvicted", res.Evicted, "redriveBeyondHorizon", res.RedriveBeyondHorizon,
			"seenEntries", len(item.Seen), "itemBytes", item.Bytes)
	}
}

// wrote adds a written item's size to the outcome.
func (inv *invocation) wrote(item *features.Item) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.out.MaxItemBytes = max(inv.out.MaxItemBytes, item.Bytes)
	inv.out.ItemBytes += item.Bytes
	if item.Bytes > 0 {
		inv.out.WriteUnits += store.WriteUnits(item.Bytes)
	}
}

// reportRejected sends the records the merge rejected to the poison queue,
// except those in reported, and adds the sent ones to reported. first is
// the index in byUser of the user's first record. An error means some were
// not sent.
func (inv *invocation) reportRejected(rejected []features.Rejection, first int32, reported map[int]bool) error {
	plan := inv.plan
	var msgs []poison.Message
	var indexes []int
	for _, r := range rejected {
		if reported[r.Index] {
			continue
		}
		at := first + int32(r.Index)
		k := plan.recordOf[at]
		sub := -1
		if plan.aggregated[k] {
			sub = plan.byUser[at].Position.Sub
		}
		msgs = append(msgs, inv.message(poisonRecord{record: k, sub: sub, reason: r.Reason, payload: plan.textOf[at], pk: plan.subPKOf[at]}))
		indexes = append(indexes, r.Index)
	}
	if len(msgs) == 0 {
		return nil
	}
	if !inv.timeLeft() {
		return errDeadline
	}
	ctx, cancel := inv.sendContext()
	defer cancel()
	errs := inv.p.poison.Send(ctx, msgs) // nil when every message was sent
	var failed error
	for i := range msgs {
		if errs != nil && errs[i] != nil {
			failed = cmp.Or(failed, errs[i])
			inv.poisonNotSent(errs[i], msgs[i].SequenceNumber)
			continue
		}
		reported[indexes[i]] = true
		inv.mu.Lock()
		inv.out.Poison++
		inv.mu.Unlock()
	}
	return failed
}

func (inv *invocation) userFailed(u int, doing string, err error) {
	_, at := inv.plan.userRecordsOf(u)
	first := inv.plan.recordOf[at] // the user's lowest position
	inv.fail(first)
	inv.mu.Lock()
	inv.out.UsersFailed++
	if errors.Is(err, errDeadline) {
		inv.out.DeadlineStops++
	}
	inv.mu.Unlock()
	inv.p.log.ErrorContext(inv.ctx, "user not updated; Lambda will redeliver from its first record",
		"userId", inv.plan.userIDs[u], "doing", doing, "error", err,
		"sequenceNumber", string(inv.plan.records[first].SequenceNumber))
}

// sendPoison reports the records that failed decoding or validation, up to
// the lowest failure: Lambda redelivers the rest, and they fail again then.
// (The records the merge rejects are sent by writeUser, before the item
// that skips them on redelivery is saved.)
func (inv *invocation) sendPoison() {
	var msgs []poison.Message
	var sent []int32
	for _, r := range inv.plan.poison {
		if inv.failedRecord >= 0 && features.CompareSequenceNumbers(
			string(inv.plan.records[r.record].SequenceNumber), string(inv.plan.records[inv.failedRecord].SequenceNumber)) >= 0 {
			continue // Lambda redelivers it; it is sent then
		}
		if !inv.timeLeft() {
			inv.out.DeadlineStops++
			inv.fail(r.record)
			continue
		}
		msgs = append(msgs, inv.message(r))
		sent = append(sent, r.record)
	}
	if len(msgs) == 0 {
		return
	}
	ctx, cancel := inv.sendContext()
	defer cancel()
	errs := inv.p.poison.Send(ctx, msgs)
	for i := range msgs {
		if errs == nil || errs[i] == nil {
			inv.out.Poison += max(1, len(msgs[i].BadSubRecords)) // user records, not messages
		}
	}
	for i, err := range errs {
		if err != nil {
			if errors.Is(err, poison.ErrNotSent) {
				inv.out.DeadlineStops++
			}
			inv.fail(sent[i])
			inv.poisonNotSent(err, msgs[i].SequenceNumber)
		}
	}
}

// message is the poison queue's message for r, logged as it is made.
func (inv *invocation) message(r poisonRecord) poison.Message {
	kr := &inv.plan.records[r.record]
	// The reason may quote the record's values (personal data): it goes to
	// the poison queue, whose retention is bounded, and to DEBUG logs only.
	// Logs at INFO and above name records, never their contents.
	inv.p.log.WarnContext(inv.ctx, "poison record", "shardId", string(kr.ShardID()),
		"sequenceNumber", string(kr.SequenceNumber), "subSequenceNumber", r.sub, "badSubRecords", len(r.bad))
	inv.p.log.DebugContext(inv.ctx, "poison record reason", "reason", r.reason, "sequenceNumber", string(kr.SequenceNumber))
	return poison.Message{
		Reason:                      r.reason,
		ShardID:                     string(kr.ShardID()),
		SequenceNumber:              string(kr.SequenceNumber),
		SubSequenceNumber:           r.sub,
		PartitionKey:                cmp.Or(r.pk, string(kr.PartitionKey)),
		ApproximateArrivalTimestamp: time.UnixMilli(int64(math.Round(kr.ApproximateArrivalTimestamp * 1000))),
		Payload:                     r.payload,
		SubRecords:                  r.subs,
		BadSubRecords:               r.bad,
	}
}

// poisonNotSent counts and logs a poison message the queue did not take.
func (inv *invocation) poisonNotSent(err error, sequenceNumber string) {
	inv.mu.Lock()
	inv.out.PoisonSendFailures++
	inv.mu.Unlock()
	inv.p.log.ErrorContext(inv.ctx, "poison record not delivered to the poison queue; Lambda will redeliver it",
		"error", err, "sequenceNumber", sequenceNumber)
}

// report writes the invocation's log line and EMF metrics.
func (p *Processor) report(ctx context.Context, start time.Time, out Outcome) {
	elapsed := p.now().Sub(start)
	p.log.InfoContext(ctx, "batch processed",
		"records", out.Records, "userRecords", out.UserRecords, "valid", out.Valid, "poison", out.Poison,
		"applied", out.Applied, "duplicatesSkipped", out.DuplicatesSkipped, "replaysSkipped", out.ReplaysSkipped,
		"recovered", out.Recovered, "unverified", out.Unverified, "seenEvicted", out.SeenEvicted, "redriveBeyondHorizon", out.RedriveBeyondHorizon,
		"maxItemBytes", out.MaxItemBytes, "writeUnits", out.WriteUnits,
		"users", out.Users, "writes", out.Writes, "writeConflicts", out.WriteConflicts, "usersFailed", out.UsersFailed,
		"maxRecordAgeMs", out.MaxRecordAgeMs, "failedSequenceNumber", out.FailedSequenceNumber, "durationMs", elapsed.Milliseconds())
	failures := 0.0
	if out.FailedSequenceNumber != "" {
		failures = 1
	}
	err := telemetry.EMF(p.metrics, p.cfg.MetricsNamespace, p.cfg.FunctionName, start,
		telemetry.Metric{Name: "Records", Unit: telemetry.Count, Value: float64(out.Records)},
		telemetry.Metric{Name: "UserRecords", Unit: telemetry.Count, Value: float64(out.UserRecords)},
		telemetry.Metric{Name: "Valid", Unit: telemetry.Count, Value: float64(out.Valid)},
		telemetry.Metric{Name: "Poison", Unit: telemetry.Count, Value: float64(out.Poison)},
		telemetry.Metric{Name: "UserCapHits", Unit: telemetry.Count, Value: float64(out.UserCapHits)},
		telemetry.Metric{Name: "ErasureSuppressed", Unit: telemetry.Count, Value: float64(out.ErasureSuppressed)},
		telemetry.Metric{Name: "DuplicatesSkipped", Unit: telemetry.Count, Value: float64(out.DuplicatesSkipped)},
		telemetry.Metric{Name: "ReplaysSkipped", Unit: telemetry.Count, Value: float64(out.ReplaysSkipped)},
		telemetry.Metric{Name: "Recovered", Unit: telemetry.Count, Value: float64(out.Recovered)},
		telemetry.Metric{Name: "DedupUnverified", Unit: telemetry.Count, Value: float64(out.Unverified)},
		telemetry.Metric{Name: "DedupEvicted", Unit: telemetry.Count, Value: float64(out.SeenEvicted)},
		telemetry.Metric{Name: "RedriveBeyondHorizon", Unit: telemetry.Count, Value: float64(out.RedriveBeyondHorizon)},
		telemetry.Metric{Name: "Writes", Unit: telemetry.Count, Value: float64(out.Writes)},
		telemetry.Metric{Name: "WriteUnits", Unit: telemetry.Count, Value: float64(out.WriteUnits)},
		telemetry.Metric{Name: "MaxItemBytes", Unit: telemetry.Bytes, Value: float64(out.MaxItemBytes)},
		telemetry.Metric{Name: "ItemBytes", Unit: telemetry.Bytes, Value: float64(out.ItemBytes)},
		telemetry.Metric{Name: "WriteConflicts", Unit: telemetry.Count, Value: float64(out.WriteConflicts)},
		telemetry.Metric{Name: "UsersFailed", Unit: telemetry.Count, Value: float64(out.UsersFailed)},
		telemetry.Metric{Name: "PoisonSendFailures", Unit: telemetry.Count, Value: float64(out.PoisonSendFailures)},
		telemetry.Metric{Name: "BatchItemFailures", Unit: telemetry.Count, Value: failures},
		telemetry.Metric{Name: "MaxRecordAgeMs", Unit: telemetry.Milliseconds, Value: out.MaxRecordAgeMs},
	)
	if err != nil {
		p.log.WarnContext(ctx, "writing metrics", "error", err)
	}
}

// OutsideGuaranteeMessage is the log line naming a user whose records were
// handled outside the exactly-once guarantee (README, "Exactly once").
const OutsideGuaranteeMessage = "user outside the exactly-once guarantee"

// RedriveClientContextKey is the ClientContext.Custom key with which the
// redrive tool marks its invocations ("1"). The processor then counts the
// replayed records it cannot vouch for and reports them in its response as
// {"batchItemFailures":[...],"redrive":RedriveReport}.
const RedriveClientContextKey = "streamfn-redrive"

// IsRedrive reports whether the invocation is a replay by the redrive tool.
func IsRedrive(ctx context.Context) bool {
	lc, ok := lambdacontext.FromContext(ctx)
	return ok && lc.ClientContext.Custom[RedriveClientContextKey] == "1"
}

// RedriveReport is what a redrive invocation's response adds.
type RedriveReport struct {
	Applied   int `json:"applied"`
	Recovered int `json:"recovered"` // given-up records applied now
	Skipped   int `json:"skipped"`   // already applied (duplicates and replays)
	// BeyondHorizon are skipped records older than the Seen set reaches:
	// nothing can vouch that they were applied (README, "Exactly once").
	BeyondHorizon int `json:"beyondHorizon"`
	Poison        int `json:"poison"`
}

func appendRedriveReport(resp []byte, out Outcome) []byte {
	report, _ := json.Marshal(RedriveReport{ // ints only
		Applied: out.Applied, Recovered: out.Recovered, Skipped: out.DuplicatesSkipped + out.ReplaysSkipped,
		BeyondHorizon: out.RedriveBeyondHorizon, Poison: out.Poison,
	})
	resp = append(resp[:len(resp)-1], `,"redrive":`...)
	resp = append(resp, report...)
	return append(resp, '}')
}
