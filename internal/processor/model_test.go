package processor

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/streamfn/streamfn/internal/activity"
	"github.com/streamfn/streamfn/internal/aws/kinesisevent"
	"github.com/streamfn/streamfn/internal/aws/kpl"
	"github.com/streamfn/streamfn/internal/aws/store"
	"github.com/streamfn/streamfn/internal/dev/local/esm"
	"github.com/streamfn/streamfn/internal/features"
)

// The model test proves the README's exactly-once guarantee: it drives the
// real processor, with an in-memory store, through a model of Lambda's
// Kinesis event-source mapping in which everything the guarantee covers
// goes wrong at random, and compares every user's item with a count of the
// distinct eventIds the producers sent.
//
// The mapping model: records go to shards by partition key (or a KPL
// aggregate's explicit hash key), and to a shard's parallelizationFactor
// lanes by esm.LaneOf, the local run's rule. Each lane takes batches of up
// to batchSize in order; lanes of all shards interleave at random, as
// concurrent invocations do. A batch's response is read with
// kinesisevent.Checkpoint, the local run's ReportBatchItemFailures rules: resume at
// the lowest failure. A function error (crash, timeout) fails the batch,
// which is bisected when bisectOnError is on. Retries are bounded by
// maxRetryAttempts and record age, and the records given up go to the
// on-failure destination, from which the redrive tool replays them at the
// end. The faults: failed writes, writes that land but whose response is
// lost, invocations that crash before or after their writes, zombie
// invocations whose writes land after the retry's, outages that bring
// records back hours later, and producers' duplicates at random delays up
// to the horizon, under every partition-key scheme.
//
// Half the seeds keep the load within one horizon ("strict"): everything
// is inside the guarantee, so every item must be exact and nothing may be
// counted as outside it. The other half ("aging") use horizons of seconds
// over loads of minutes, so entries leave the Seen set, floors rise, marks
// decide, lanes drift apart by more than the lag allowance and late
// redrives fall beyond the horizon: there every user must be exact or
// named by the processor as outside the guarantee, never silently wrong.
var (
	modelSeeds = flag.Int("model.seeds", 150, "how many seeds TestMappingModel runs")
	modelSeed  = flag.Uint64("model.seed", 0, "run TestMappingModel for this seed only")
)

func TestMappingModel(t *testing.T) {
	if *modelSeed != 0 {
		runModel(t, *modelSeed)
		return
	}
	seeds := *modelSeeds
	if testing.Short() {
		seeds = 20
	}
	var cover coverage
	for seed := range uint64(seeds) {
		cover.add(runModel(t, seed+1))
		if t.Failed() {
			return
		}
	}
	// The aging half must reach the paths beyond an unbounded set, or the
	// model proves less than it claims.
	t.Logf("coverage over %d seeds: %+v", seeds, cover)
	if seeds >= 100 && (cover.aged < seeds/10 || cover.recovered == 0 || cover.markReplays == 0 || cover.flaggedUsers == 0 || cover.exactUsers < 4*cover.flaggedUsers) {
		t.Errorf("the model no longer exercises the horizons: %+v", cover)
	}
}

// coverage counts what the seeds exercised.
type coverage struct {
	aged         int // seeds in which some item's floor rose
	recovered    int // given-up records applied by a replay
	markReplays  int // redeliveries the marks decided
	flaggedUsers int // users named as outside the guarantee
	exactUsers   int
}

func (c *coverage) add(o coverage) {
	c.aged += o.aged
	c.recovered += o.recovered
	c.markReplays += o.markReplays
	c.flaggedUsers += o.flaggedUsers
	c.exactUsers += o.exactUsers
}

// FuzzMappingModel runs the model over seeds the fuzzer picks (make fuzz).
func FuzzMappingModel(f *testing.F) {
	f.Add(uint64(1))
	f.Fuzz(func(t *testing.T, seed uint64) { runModel(t, seed) })
}

// modelSpec is one seed's mapping and load.
type modelSpec struct {
	shards, lanes, batchSize int
	maxRetries               int // -1: until the records expire
	maxRecordAge             time.Duration
	bisect                   bool
	pkScheme                 string // user, random, kpl, mixed
	horizon                  time.Duration
	strict                   bool // the load stays within one horizon
	lag                      int64
	arrivalGap               time.Duration
	users, events            int
	dupShare                 float64
	faults                   float64 // chance of each fault per invocation
}

func newSpec(rng *rand.Rand) modelSpec {
	s := modelSpec{
		shards:       1 + rng.IntN(3),
		lanes:        1 + rng.IntN(10),
		batchSize:    []int{1, 2, 3, 7, 10, 50, 200, 10000}[rng.IntN(8)],
		maxRetries:   []int{-1, 0, 1, 2, 5}[rng.IntN(5)],
		maxRecordAge: []time.Duration{time.Minute, time.Hour, 6 * time.Hour}[rng.IntN(3)],
		bisect:       rng.IntN(2) == 0,
		pkScheme:     []string{"user", "random", "kpl", "mixed"}[rng.IntN(4)],
		strict:       rng.IntN(2) == 0,
		users:        1 + rng.IntN(12),
		events:       20 + rng.IntN(400),
		dupShare:     []float64{0, 0.05, 0.3}[rng.IntN(3)],
		faults:       []float64{0, 0.05, 0.2}[rng.IntN(3)],
	}
	if s.strict {
		s.horizon, s.arrivalGap = time.Duration(600+rng.IntN(900))*time.Second, 300*time.Millisecond
	} else {
		// Seconds of horizon over minutes of load, lanes minutes apart.
		s.horizon, s.arrivalGap = time.Duration(2+rng.IntN(20))*time.Second, time.Duration(300+rng.IntN(3000))*time.Millisecond
		s.lag = int64(1 + rng.IntN(5)) // lanes drift further apart than that
	}
	return s
}

// modelRecord is one Kinesis record of the model's stream.
type modelRecord struct {
	shard   int
	seq     string
	pk      string
	data    []byte
	arrival time.Time
}

type modelEvent struct {
	id, user string
	typ      activity.Type
}

func runModel(t *testing.T, seed uint64) coverage {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	spec := newSpec(rng)
	m := &model{t: t, seed: seed, spec: spec, rng: rng, clock: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC),
		flagged: map[string]bool{}}
	m.produce()
	m.run()
	m.redrive()
	return m.check()
}

type model struct {
	t    *testing.T
	seed uint64
	spec modelSpec
	rng  *rand.Rand

	clock       time.Time // the mapping's wall clock: how old records are
	records     []modelRecord
	sent        map[string][]modelEvent // user -> the distinct events producers sent
	store       *faultyStore
	given       [][]modelRecord // batches the mapping gave up on, for the redrive
	mu          sync.Mutex
	flagged     map[string]bool // users the processor named as outside the guarantee
	markReplays int
	cover       coverage
	stats       struct{ invocations, functionErrors, partial, givenUp, outages int }
}

func (m *model) fail(format string, args ...any) {
	m.t.Helper()
	m.t.Fatalf("seed %d (%+v): %s\nreplay: go test ./internal/processor -run 'TestMappingModel$' -model.seed=%d -v",
		m.seed, m.spec, fmt.Sprintf(format, args...), m.seed)
}

// produce writes the load: events of random users under the spec's
// partition-key scheme, with duplicates resent up to the horizon later.
func (m *model) produce() {
	m.sent = map[string][]modelEvent{}
	arrival := m.clock
	seqs := make([]int, m.spec.shards)
	put := func(shard int, pk string, data []byte) {
		seqs[shard]++
		// Kinesis sequence numbers grow per shard; 56 digits, as AWS's.
		seq := fmt.Sprintf("4959033827149025660855969253836157109592157598913658%04d", seqs[shard])
		m.records = append(m.records, modelRecord{shard: shard, seq: seq, pk: pk, data: data, arrival: arrival})
	}
	shardOf := func(key string) int { return esm.LaneOf("shard/"+key, m.spec.shards) }
	type sentEvent struct {
		ev   modelEvent
		data []byte
		at   time.Time
	}
	var history []sentEvent
	for i := 0; i < m.spec.events; i++ {
		arrival = arrival.Add(time.Duration(m.rng.Int64N(int64(m.spec.arrivalGap))))
		var batch []sentEvent
		for range 1 + m.rng.IntN(4) {
			if len(history) > 0 && m.rng.Float64() < m.spec.dupShare {
				// A producer's resend: same eventId and bytes, within the horizon.
				old := history[m.rng.IntN(len(history))]
				if arrival.Sub(old.at) < m.spec.horizon {
					batch = append(batch, sentEvent{old.ev, old.data, arrival})
					continue
				}
			}
			user := fmt.Sprintf("user-%d", m.rng.IntN(m.spec.users))
			ev := modelEvent{id: fmt.Sprintf("ev-%d-%d", m.seed, i*10+len(batch)), user: user, typ: activity.Types[m.rng.IntN(len(activity.Types))]}
			data := eventJSON(ev)
			m.sent[user] = append(m.sent[user], ev)
			se := sentEvent{ev, data, arrival}
			history = append(history, se)
			batch = append(batch, se)
		}
		scheme := m.spec.pkScheme
		if scheme == "mixed" {
			scheme = []string{"user", "random", "kpl"}[m.rng.IntN(3)]
		}
		switch scheme {
		case "user":
			for _, e := range batch {
				put(shardOf(e.ev.user), e.ev.user, e.data)
			}
		case "random":
			for _, e := range batch {
				pk := fmt.Sprintf("r-%d", m.rng.Uint64())
				put(shardOf(pk), pk, e.data)
			}
		case "kpl":
			// One aggregate of users' events, under the first user's key or a
			// random one; its explicit hash key picks the shard.
			var subs []kpl.Record
			for _, e := range batch {
				subs = append(subs, kpl.Record{PartitionKey: []byte(e.ev.user), Data: e.data})
			}
			pk := batch[0].ev.user
			if m.rng.IntN(2) == 0 {
				pk = fmt.Sprintf("agg-%d", m.rng.Uint64())
			}
			put(m.rng.IntN(m.spec.shards), pk, kpl.Aggregate(subs))
		}
	}
}

func eventJSON(ev modelEvent) []byte {
	product := `,"productId":"p1"`
	if !ev.typ.NeedsProduct() {
		product = ""
	}
	price := ""
	if ev.typ == activity.Purchase {
		price = `,"price":1.25,"quantity":2`
	}
	return fmt.Appendf(nil, `{"eventId":%q,"userId":%q,"type":%q%s%s,"category":"c","ts":"2026-11-26T12:00:00Z"}`,
		ev.id, ev.user, ev.typ.String(), product, price)
}

// lane is one of a shard's parallelizationFactor lanes: its records in
// order, and the batch (parts, after bisection) it is working on.
type modelLane struct {
	queue []modelRecord
	parts []modelPart
}

type modelPart struct {
	records  []modelRecord
	attempts int
	invokes  int
}

func (m *model) run() {
	m.store = &faultyStore{Memory: &store.Memory{}}
	lanes := make([]*modelLane, m.spec.shards*m.spec.lanes)
	for i := range lanes {
		lanes[i] = &modelLane{}
	}
	for _, r := range m.records {
		l := lanes[r.shard*m.spec.lanes+esm.LaneOf(r.pk, m.spec.lanes)]
		l.queue = append(l.queue, r)
	}
	p := m.processor()
	for step := 0; ; step++ {
		if step > 200000 {
			m.fail("the mapping did not finish")
		}
		var busy []*modelLane
		for _, l := range lanes {
			if len(l.queue) > 0 || len(l.parts) > 0 {
				busy = append(busy, l)
			}
		}
		m.store.landZombies(m.t.Context(), m.rng, false)
		if len(busy) == 0 {
			m.store.landZombies(m.t.Context(), m.rng, true)
			return
		}
		m.step(p, busy[m.rng.IntN(len(busy))])
	}
}

func (m *model) processor() *Processor {
	redelivery := int64(m.spec.maxRecordAge / time.Second)
	if m.spec.maxRetries < 0 && m.spec.maxRecordAge <= 0 {
		redelivery = 24 * 3600
	}
	p := New(Config{TableName: "features", PoisonQueueURL: "poison", WriteConcurrency: 4,
		Horizons: features.Horizons{Duplicate: int64(m.spec.horizon / time.Second), Redelivery: redelivery, Lag: m.spec.lag}}, Deps{Store: m.store, Poison: &queue{}, Logger: slog.New(&outsideLog{m: m})})

	p.now = func() time.Time { return m.clock }
	return p
}

// step runs one invocation attempt of a lane's current batch.
func (m *model) step(p *Processor, l *modelLane) {
	if len(l.parts) == 0 {
		n := min(m.spec.batchSize, len(l.queue))
		l.parts = []modelPart{{records: slices.Clone(l.queue[:n])}}
		l.queue = l.queue[n:]
	}
	part := &l.parts[0]
	// Lambda discards records older than the maximum record age before it
	// invokes; they go to the destination.
	expired := 0
	for expired < len(part.records) && m.clock.Sub(part.records[expired].arrival) > m.spec.maxRecordAge {
		expired++
	}
	if expired > 0 {
		m.giveUp(part.records[:expired])
		part.records = part.records[expired:]
		if len(part.records) == 0 {
			l.parts = l.parts[1:]
			return
		}
	}
	m.clock = m.clock.Add(time.Duration(m.rng.IntN(2000)) * time.Millisecond)
	m.stats.invocations++
	part.invokes++
	fault := ""
	if m.rng.Float64() < m.spec.faults {
		fault = []string{"crash-before", "crash-after", "zombie", "fail-writes", "lost-responses", "outage"}[m.rng.IntN(6)]
	}
	if fault == "outage" {
		// The table refuses every write, and the mapping's next try comes
		// an hour or more later: the records come back that much older.
		m.stats.outages++
		m.clock = m.clock.Add(time.Duration(1+m.rng.IntN(3)) * time.Hour)
	}
	m.store.arm(fault, m.rng)
	var payload []byte
	var err error
	if fault != "crash-before" {
		var out Outcome
		out, err = p.Process(m.t.Context(), lambdaEvent(part.records))
		if err == nil {
			payload = AppendResponse(nil, out.FailedSequenceNumber, false)
		}
		m.outcome(out)
	}
	m.store.disarm()
	functionError := err != nil || fault == "crash-before" || fault == "crash-after" || fault == "zombie"
	failedFrom := -1
	if functionError {
		failedFrom = 0
	} else {
		seqs := make([]string, len(part.records))
		for i, r := range part.records {
			seqs[i] = r.seq
		}
		var whole bool
		failedFrom, whole = kinesisevent.Checkpoint(payload, seqs)
		if whole {
			m.fail("the processor's response %s fails the whole batch", payload)
		}
	}
	if failedFrom < 0 {
		l.parts = l.parts[1:]
		return
	}
	if functionError {
		m.stats.functionErrors++
		if m.spec.bisect && len(part.records) > 1 {
			half := len(part.records) / 2
			first := modelPart{records: part.records[:half], attempts: part.attempts, invokes: part.invokes}
			second := modelPart{records: part.records[half:], attempts: part.attempts, invokes: part.invokes}
			l.parts = append([]modelPart{first, second}, l.parts[1:]...)
			return
		}
	} else {
		m.stats.partial++
		part.records = part.records[failedFrom:]
	}
	part.attempts++
	if m.spec.maxRetries >= 0 && part.attempts > m.spec.maxRetries {
		m.giveUp(part.records)
		l.parts = l.parts[1:]
	}
}

func (m *model) giveUp(records []modelRecord) {
	m.stats.givenUp += len(records)
	m.given = append(m.given, slices.Clone(records))
}

// redrive replays every batch the mapping gave up on, as the redrive tool
// does: the same records, rebuilt as Lambda's event, until each succeeds.
// Some batches are replayed twice: the tool is safe to repeat.
func (m *model) redrive() {
	p := m.processor()
	for _, b := range m.given {
		for times := 1 + m.rng.IntN(2); times > 0; times-- {
			for from := 0; from < len(b); {
				out, err := p.Process(redriveContext(m.t.Context()), lambdaEvent(b[from:]))
				if err != nil {
					m.fail("redrive: %+v, %v", out, err)
				}
				m.outcome(out)
				if out.FailedSequenceNumber == "" {
					break
				}
				from = slices.IndexFunc(b, func(r modelRecord) bool { return r.seq == out.FailedSequenceNumber })
			}
		}
	}
}

// outcome checks one invocation's outcome: within a strict seed, nothing
// may fall outside the guarantee.
func (m *model) outcome(out Outcome) {
	m.t.Helper()
	if m.spec.strict && (out.Unverified > 0 || out.SeenEvicted > 0 || out.RedriveBeyondHorizon > 0) {
		m.fail("outcome %+v: records outside the guarantee within its conditions", out)
	}
	m.cover.recovered += out.Recovered
}

// check compares every item with the distinct events sent: each counted
// exactly once, none lost, unless the processor named the user as outside
// the guarantee.
func (m *model) check() coverage {
	m.t.Helper()
	for user, evs := range m.sent {
		var want [4]int64
		for _, ev := range evs {
			want[ev.typ-1]++
		}
		item := m.store.Item(user)
		if item != nil && (item.Floor > 0 || item.FloorOther > 0) && m.cover.aged == 0 {
			m.cover.aged = 1
		}
		if item != nil && item.Bytes > store.MaxItemBytes {
			m.fail("user %s: item of %d bytes", user, item.Bytes)
		}
		exact := item != nil && item.EventCount == int64(len(evs)) && item.TypeCounts == want
		switch {
		case exact:
			m.cover.exactUsers++
		case m.flagged[user]:
			m.cover.flaggedUsers++
		case item == nil:
			m.fail("user %s: no item; %d events sent (stats %+v)", user, len(evs), m.stats)
		default:
			m.fail("user %s: eventCount %d types %v, want %d %v, and the processor did not say it was outside the guarantee (stats %+v, zombie writes %d, lost responses %d)",
				user, item.EventCount, item.TypeCounts, len(evs), want, m.stats, m.store.zombieWrites, m.store.lostResponses)
		}
	}
	m.cover.markReplays += m.markReplays
	return m.cover
}

// redriveContext marks an invocation in ctx as the redrive tool's.
func redriveContext(ctx context.Context) context.Context {
	return lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{
		ClientContext: lambdacontext.ClientContext{Custom: map[string]string{RedriveClientContextKey: "1"}}})
}

// outsideLog collects the users the processor names as outside the
// guarantee, from its log.
type outsideLog struct{ m *model }

func (h *outsideLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *outsideLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *outsideLog) WithGroup(string) slog.Handler            { return h }
func (h *outsideLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "batch processed" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "replaysSkipped" {
				h.m.mu.Lock()
				h.m.markReplays += int(a.Value.Int64())
				h.m.mu.Unlock()
			}
			return true
		})
	}
	if r.Message != OutsideGuaranteeMessage {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "userId" {
			h.m.mu.Lock()
			h.m.flagged[strings.Clone(a.Value.String())] = true // the processor's strings live only for the invocation
			h.m.mu.Unlock()
		}
		return true
	})
	return nil
}

// lambdaEvent is the Kinesis event Lambda would send for records, one shard's.
func lambdaEvent(records []modelRecord) []byte {
	var ev events.KinesisEvent
	for _, r := range records {
		shard := fmt.Sprintf("shardId-%012d", r.shard)
		ev.Records = append(ev.Records, events.KinesisEventRecord{
			EventSource: "aws:kinesis", EventVersion: "1.0", EventName: "aws:kinesis:record", AwsRegion: "us-east-1",
			EventID:           shard + ":" + r.seq,
			EventSourceArn:    "arn:aws:kinesis:us-east-1:123456789012:stream/streamfn-dev",
			InvokeIdentityArn: "arn:aws:iam::123456789012:role/streamfn-dev-processor",
			Kinesis: events.KinesisRecord{
				KinesisSchemaVersion: "1.0", PartitionKey: r.pk, SequenceNumber: r.seq, Data: r.data,
				ApproximateArrivalTimestamp: events.SecondsEpochTime{Time: r.arrival},
			},
		})
	}
	b, _ := json.Marshal(ev) // plain strings and bytes
	return b
}

// faultyStore is the model's table: a store.Memory whose writes fail, land
// without an answer, or land late (zombies), as the armed fault says.
type faultyStore struct {
	*store.Memory
	mu      sync.Mutex
	fault   string
	rng     *rand.Rand
	zombies []*features.Item // writes of a timed-out invocation, still in flight

	zombieWrites, lostResponses int
}

var errInjected = errors.New("injected fault")

func (f *faultyStore) arm(fault string, rng *rand.Rand) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fault, f.rng = fault, rand.New(rand.NewPCG(rng.Uint64(), 1))
}

func (f *faultyStore) disarm() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fault = ""
}

func (f *faultyStore) Save(ctx context.Context, item *features.Item) error {
	f.mu.Lock()
	fault, hit := f.fault, f.rng != nil && f.rng.IntN(2) == 0
	if fault == "zombie" && hit {
		// The invocation times out; its write is still on the wire and
		// lands after the retry's, conditioned on the version it read.
		f.zombies = append(f.zombies, item.Clone())
		f.zombieWrites++
		f.mu.Unlock()
		return errInjected
	}
	f.mu.Unlock()
	switch {
	case fault == "outage", fault == "fail-writes" && hit:
		return errInjected
	case fault == "lost-responses" && hit:
		if err := f.Memory.Save(ctx, item); err != nil {
			return err
		}
		f.mu.Lock()
		f.lostResponses++
		f.mu.Unlock()
		return errInjected
	}
	return f.Memory.Save(ctx, item)
}

// landZombies lands some late writes, or all of them.
func (f *faultyStore) landZombies(ctx context.Context, rng *rand.Rand, all bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	kept := f.zombies[:0]
	for _, z := range f.zombies {
		if all || rng.IntN(3) == 0 {
			_ = f.Memory.Save(ctx, z) // a version conflict is the point
			continue
		}
		kept = append(kept, z)
	}
	f.zombies = kept
}
