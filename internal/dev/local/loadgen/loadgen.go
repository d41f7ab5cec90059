// Package loadgen drives the local pipeline like a fleet of web and app
// clients: it posts realistic activity events (internal/dev/eventgen) to the
// ingest Function URL as NDJSON at a steady rate, retries as a
// well-behaved client does (429, 5xx and 503's unwritten events, with the
// same eventIds), and records in a Ledger what ingest acknowledged.
//
// Malformed events (-bad) take two paths. Ingest validates what clients
// post and rejects bad events one by one, so half of them are posted to
// ingest, which must reject each by its index. The processor's poison path
// only sees records that reach the stream without ingest's checks, so the
// other half are put straight to the stream with PutRecords, as a foreign
// producer would, and must end up in the poison queue. Kinds ingest would
// not reject (an event without eventId gets one assigned) or could not
// take line by line (bytes that are not UTF-8) always go to the stream.
//
// Producer duplicates (-dup) resend one of the last few events ingest
// acknowledged, with its eventId, as a client retry would; the processor
// must not count it twice. With LateDup, that share of acknowledged events
// is instead resent LateDup after it was acknowledged: a retry that lands
// late, behind many newer events of its user.
//
// PartitionKeys chooses how valid events reach the stream. "user" posts
// them to ingest, which keys each record by userId. The others put them
// straight to the stream with PutRecords, as log shippers and SDK examples
// do: "random" under a random partition key per record, "kpl" as KPL
// aggregates of up to 10 events of several users (under a random key or
// the first event's userId), and "mixed" picks one of the three per batch.
package loadgen

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamfn/streamfn/internal/activity"
	"github.com/streamfn/streamfn/internal/aws/kpl"
	"github.com/streamfn/streamfn/internal/dev/eventgen"
	"github.com/streamfn/streamfn/internal/ingest"
)

// PutRecordsAPI is how malformed records reach the stream directly.
type PutRecordsAPI interface {
	PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
}

// Options shape the load.
type Options struct {
	URL              string        // the ingest Function URL
	Rate             float64       // events per second
	Duration         time.Duration // 0: until the context ends
	Users            int
	Bad              float64 // fraction of events that are malformed
	Dup              float64 // fraction of events that are producer duplicates
	EventsPerRequest int
	Clients          int // requests in flight at once
	Seed             int64
	StreamName       string
	Kinesis          PutRecordsAPI
	// PartitionKeys is the partition-key scheme of valid events: user
	// (through ingest, the default), random, kpl or mixed.
	PartitionKeys string
	// LateDup > 0 resends Dup of the acknowledged events this long after
	// they were acknowledged, instead of soon after.
	LateDup time.Duration
	// MaxAttempts bounds the tries of one request (default 40: with
	// backoff capped at 2s that rides out a function timeout).
	MaxAttempts int
	// Backoff is the first wait before a retry; it doubles up to 2s
	// (default 50ms).
	Backoff time.Duration
}

// Check reports every problem of the options at once, each naming its
// flag of scripts/local, what is allowed and how to fix it.
func (o Options) Check() error {
	if problems := o.Problems(); len(problems) > 0 {
		return fmt.Errorf("load options:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

// Problems lists what Check reports, one line each.
func (o Options) Problems() []string {
	var problems []string
	if o.Rate <= 0 {
		problems = append(problems, fmt.Sprintf("-rate %v: must be above 0", o.Rate))
	}
	if o.Users < 1 {
		problems = append(problems, fmt.Sprintf("-users %d: must be at least 1", o.Users))
	}
	if o.Bad < 0 || o.Dup < 0 || o.Bad+o.Dup > 1 {
		problems = append(problems, fmt.Sprintf("-bad %v and -dup %v: each must be >= 0 and together at most 1", o.Bad, o.Dup))
	}
	if o.EventsPerRequest < 1 || o.EventsPerRequest > ingest.MaxEvents {
		problems = append(problems, fmt.Sprintf("-batch %d: must be 1..%d (ingest's limit per request)", o.EventsPerRequest, ingest.MaxEvents))
	}
	switch o.PartitionKeys {
	case "", KeysUser, KeysRandom, KeysKPL, KeysMixed:
	default:
		problems = append(problems, fmt.Sprintf("-pk %q: must be user, random, kpl or mixed", o.PartitionKeys))
	}
	if o.LateDup < 0 {
		problems = append(problems, fmt.Sprintf("-late-dup %v: must be 0 (off) or a positive duration", o.LateDup))
	}
	if o.LateDup > 0 && o.Dup == 0 {
		problems = append(problems, fmt.Sprintf("-late-dup %v resends the -dup share of acknowledged events, and -dup is 0: set -dup too, e.g. -dup 0.05", o.LateDup))
	}
	if o.Clients < 1 {
		problems = append(problems, fmt.Sprintf("-clients %d: must be at least 1", o.Clients))
	}
	return problems
}

// withDefaults fills what the caller left zero.
func (o *Options) withDefaults() {
	if o.PartitionKeys == "" {
		o.PartitionKeys = KeysUser
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = 40
	}
	if o.Backoff == 0 {
		o.Backoff = 50 * time.Millisecond
	}
}

// The partition-key schemes (Options.PartitionKeys).
const (
	KeysUser   = "user"
	KeysRandom = "random"
	KeysKPL    = "kpl"
	KeysMixed  = "mixed"
)

// Stats are the load's counters: the load section of the local run's
// JSON report, camelCase like the rest of it.
type Stats struct {
	Generated     int64 `json:"generated"`  // events made (valid, malformed and duplicates)
	Accepted      int64 `json:"accepted"`   // valid events (duplicates included) ingest acknowledged
	Rejected      int64 `json:"rejected"`   // malformed events ingest rejected by index
	Duplicates    int64 `json:"duplicates"` // producer duplicates sent
	Direct        int64 `json:"direct"`     // malformed records put straight to the stream
	Requests      int64 `json:"requests"`   // HTTP requests, retries included
	Retries       int64 `json:"retries"`
	Throttled     int64 `json:"throttled"`    // 429 answers
	ServerErrors  int64 `json:"serverErrors"` // 5xx answers other than 503, and failed connections
	Unwritten     int64 `json:"unwritten"`    // events a 503 listed as not written
	RequestsInAir int64 `json:"requestsInAir"`
	Streamed      int64 `json:"streamed"` // valid events put straight to the stream (PartitionKeys other than user)
	LateDups      int64 `json:"lateDups"` // acknowledged events resent LateDup later
}

// Generator is one run of load.
type Generator struct {
	opts   Options
	ledger *Ledger
	client *http.Client

	generated, accepted, rejected, duplicates, direct            atomic.Int64
	requests, retries, throttled, serverErrors, unwritten, inAir atomic.Int64
	streamed, lateDups                                           atomic.Int64

	// late holds the acknowledged events to resend, in acknowledgement
	// order, each due LateDup after its acknowledgement.
	lateMu  sync.Mutex
	late    []lateItem
	lateRNG *rand.Rand

	// recent is a ring of the last acknowledged valid events, for
	// duplicates. A producer resends soon after the first try, so it holds
	// about 4 events per user: a duplicate then lands within a few newer
	// events of its user, as a client retry would.
	recentMu   sync.Mutex
	recent     []item
	recentCap  int
	recentNext int
}

type lateItem struct {
	due time.Time
	it  item
}

// item is one line of a request.
type item struct {
	line  []byte
	event activity.Event // for valid events
	valid bool
	kind  string // malformed kind
	key   string // partition key of a record put straight to the stream
	// aggregate: a valid event put to the stream inside a KPL aggregate,
	// with key as its own partition key.
	aggregate bool
}

// New checks the options.
func New(opts Options, ledger *Ledger) (*Generator, error) {
	if err := opts.Check(); err != nil {
		return nil, err
	}
	opts.withDefaults()
	transport := &http.Transport{MaxIdleConnsPerHost: opts.Clients, IdleConnTimeout: time.Minute}
	return &Generator{
		opts: opts, ledger: ledger, client: &http.Client{Transport: transport},
		recentCap: min(max(4*opts.Users, 16), 1024),
		lateRNG:   rand.New(rand.NewPCG(uint64(opts.Seed), 0x1a7e)),
	}, nil
}

// Stats returns the counters.
func (g *Generator) Stats() Stats {
	return Stats{
		Generated: g.generated.Load(), Accepted: g.accepted.Load(), Rejected: g.rejected.Load(),
		Duplicates: g.duplicates.Load(), Direct: g.direct.Load(), Requests: g.requests.Load(),
		Retries: g.retries.Load(), Throttled: g.throttled.Load(), ServerErrors: g.serverErrors.Load(),
		Unwritten: g.unwritten.Load(), RequestsInAir: g.inAir.Load(),
		Streamed: g.streamed.Load(), LateDups: g.lateDups.Load(),
	}
}

// Run generates load until the duration ends (or, without one, until ctx
// ends), then waits for every request to be answered. Cancelling ctx also
// abandons requests still being retried; their valid events count as
// unacknowledged.
func (g *Generator) Run(ctx context.Context) error {
	genCtx := ctx
	if g.opts.Duration > 0 {
		var cancel context.CancelFunc
		genCtx, cancel = context.WithTimeout(ctx, g.opts.Duration)
		defer cancel()
	}
	requests := make(chan []item, g.opts.Clients*2)
	directs := make(chan []item, 64)
	var workers sync.WaitGroup
	for range g.opts.Clients {
		workers.Go(func() {
			for req := range requests {
				g.post(ctx, req)
			}
		})
	}
	var directErr error
	var directMu sync.Mutex
	for range max(1, g.opts.Clients/4) {
		workers.Go(func() {
			for batch := range directs {
				if err := g.putDirect(ctx, batch); err != nil {
					directMu.Lock()
					directErr = cmp.Or(directErr, err)
					directMu.Unlock()
				}
			}
		})
	}
	g.generate(genCtx, ctx, requests, directs)
	if g.opts.LateDup > 0 {
		g.resendLate(ctx, requests, directs)
	}
	close(requests)
	close(directs)
	workers.Wait()
	return directErr
}

// resendLate sends the late duplicates still due after the load ended.
func (g *Generator) resendLate(ctx context.Context, requests, directs chan<- []item) {
	for {
		g.lateMu.Lock()
		if len(g.late) == 0 {
			g.lateMu.Unlock()
			return
		}
		due := g.late[0].due
		g.lateMu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(due)):
		}
		if !g.sendDue(ctx, time.Now(), requests, directs) {
			return
		}
	}
}

// sendDue sends the late duplicates due by now, each by the path its
// scheme takes.
func (g *Generator) sendDue(ctx context.Context, now time.Time, requests, directs chan<- []item) bool {
	g.lateMu.Lock()
	n := 0
	for n < len(g.late) && !g.late[n].due.After(now) {
		n++
	}
	due := make([]item, n)
	for i := range n {
		due[i] = g.late[i].it
	}
	g.late = g.late[n:]
	g.lateMu.Unlock()
	if n == 0 {
		return true
	}
	g.lateDups.Add(int64(n))
	g.duplicates.Add(int64(n))
	var viaIngest, viaStream []item
	for _, it := range due {
		if it.key == "" {
			viaIngest = append(viaIngest, it)
		} else {
			viaStream = append(viaStream, it)
		}
	}
	for len(viaIngest) > 0 {
		k := min(len(viaIngest), g.opts.EventsPerRequest)
		if !send(ctx, requests, viaIngest[:k]) {
			return false
		}
		viaIngest = viaIngest[k:]
	}
	return len(viaStream) == 0 || send(ctx, directs, viaStream)
}

const tick = 20 * time.Millisecond

// generate makes events until genCtx ends. Hand-offs to the senders wait
// on ctx only: an event made is always sent, unless the run is cancelled.
func (g *Generator) generate(genCtx, ctx context.Context, requests chan<- []item, directs chan<- []item) {
	mean := time.Duration(float64(time.Second) / g.opts.Rate)
	// ts goes on the wire with millisecond precision: start on a millisecond
	// so the events recorded here equal what ingest received.
	gen := eventgen.New(eventgen.Options{Seed: g.opts.Seed, Users: g.opts.Users, Start: time.Now().UTC().Truncate(time.Millisecond), MeanInterval: mean})
	rng := rand.New(rand.NewPCG(uint64(g.opts.Seed), 0xd1ce))
	start := time.Now()
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	var produced int64
	var malformedCount int
	pending := make([]item, 0, g.opts.EventsPerRequest)
	for {
		select {
		case <-genCtx.Done():
			return
		case <-ticker.C:
		}
		if genCtx.Err() != nil {
			return // the tick and the end came together: the end wins
		}
		elapsed := time.Since(start)
		if g.opts.Duration > 0 {
			elapsed = min(elapsed, g.opts.Duration) // a late tick makes no events past the end
		}
		due := int64(g.opts.Rate*elapsed.Seconds()) - produced
		// Never burst more than a second's worth after a stall.
		due = min(due, int64(g.opts.Rate)+1)
		var direct []item
		for range due {
			produced++
			g.generated.Add(1)
			u := rng.Float64()
			switch {
			case u < g.opts.Bad:
				payload, kind := gen.Malformed()
				malformedCount++
				it := item{line: payload, kind: kind, key: eventgen.UserID(rng.IntN(g.opts.Users))}
				if kind == "eventId missing" || kind == "not UTF-8" || malformedCount%2 == 0 {
					direct = append(direct, it)
					continue
				}
				pending = append(pending, it)
			case u < g.opts.Bad+g.opts.Dup && g.opts.LateDup == 0:
				if dup, ok := g.pickRecent(rng); ok {
					g.duplicates.Add(1)
					if dup.key != "" {
						direct = append(direct, dup)
						continue
					}
					pending = append(pending, dup)
					break
				}
				fallthrough
			default:
				ev, line := gen.NextJSON()
				it := item{line: line, event: ev, valid: true}
				scheme := g.opts.PartitionKeys
				if scheme == KeysMixed {
					scheme = []string{KeysUser, KeysRandom, KeysKPL}[rng.IntN(3)]
				}
				switch scheme {
				case KeysRandom:
					it.key = fmt.Sprintf("pk-%016x", rng.Uint64())
				case KeysKPL:
					it.key, it.aggregate = ev.UserID, true
				}
				if it.key != "" {
					direct = append(direct, it)
					continue
				}
				pending = append(pending, it)
			}
			if len(pending) == g.opts.EventsPerRequest {
				if !send(ctx, requests, pending) {
					return
				}
				pending = make([]item, 0, g.opts.EventsPerRequest)
			}
		}
		if len(direct) > 0 {
			if !send(ctx, directs, direct) {
				return
			}
		}
		if g.opts.LateDup > 0 && !g.sendDue(ctx, time.Now(), requests, directs) {
			return
		}
		// A partial request waits at most one tick.
		if len(pending) > 0 {
			if !send(ctx, requests, pending) {
				return
			}
			pending = make([]item, 0, g.opts.EventsPerRequest)
		}
	}
}

func send(ctx context.Context, c chan<- []item, batch []item) bool {
	select {
	case c <- batch:
		return true
	case <-ctx.Done():
		return false
	}
}

func (g *Generator) pickRecent(rng *rand.Rand) (item, bool) {
	g.recentMu.Lock()
	defer g.recentMu.Unlock()
	if len(g.recent) == 0 {
		return item{}, false
	}
	return g.recent[rng.IntN(len(g.recent))], true
}

func (g *Generator) remember(it item) {
	g.recentMu.Lock()
	defer g.recentMu.Unlock()
	if len(g.recent) < g.recentCap {
		g.recent = append(g.recent, it)
		return
	}
	g.recent[g.recentNext] = it
	g.recentNext = (g.recentNext + 1) % g.recentCap
}

// post sends one request until ingest answers for every event in it.
func (g *Generator) post(ctx context.Context, items []item) {
	g.inAir.Add(1)
	defer g.inAir.Add(-1)
	backoff := g.opts.Backoff
	for attempt := 1; ; attempt++ {
		status, body, retryAfter, err := g.do(ctx, items)
		if attempt > 1 {
			g.retries.Add(1)
		}
		retry := false
		switch {
		case err != nil:
			g.serverErrors.Add(1)
			retry = true
		case status == http.StatusAccepted:
			g.settle(items, body)
			return
		case status == http.StatusServiceUnavailable:
			unwritten := g.settle(items, body)
			g.unwritten.Add(int64(len(unwritten)))
			if len(unwritten) == 0 {
				return
			}
			items = unwritten
			retry = true
		case status == http.StatusTooManyRequests:
			g.throttled.Add(1)
			retry = true
		case status >= 500:
			g.serverErrors.Add(1)
			retry = true
		default:
			g.ledger.problem(fmt.Sprintf("ingest refused a request of %d events with HTTP %d: %s", len(items), status, truncate(body)))
			g.giveUp(items)
			return
		}
		if !retry {
			return
		}
		if attempt >= g.opts.MaxAttempts || ctx.Err() != nil {
			g.giveUp(items)
			return
		}
		wait := backoff
		if retryAfter > 0 {
			wait = max(wait, retryAfter)
		}
		select {
		case <-ctx.Done():
			g.giveUp(items)
			return
		case <-time.After(wait):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

func (g *Generator) do(ctx context.Context, items []item) (int, []byte, time.Duration, error) {
	size := 0
	for _, it := range items {
		size += len(it.line) + 1
	}
	body := make([]byte, 0, size)
	for _, it := range items {
		body = append(append(body, it.line...), '\n')
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.opts.URL, bytes.NewReader(body))
	if err != nil {
		return 0, nil, 0, err
	}
	req.Header.Set("Content-Type", ingest.MediaNDJSON)
	g.requests.Add(1)
	resp, err := g.client.Do(req)
	if err != nil {
		return 0, nil, 0, err
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, 0, err
	}
	var retryAfter time.Duration
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
		retryAfter = time.Duration(s) * time.Second
	}
	return resp.StatusCode, respBody, retryAfter, nil
}

// settle records what a 202 or 503 answer says of each event and returns
// the valid events it lists as unwritten.
func (g *Generator) settle(items []item, body []byte) []item {
	var answer ingest.Body
	if err := json.Unmarshal(body, &answer); err != nil {
		g.ledger.problem(fmt.Sprintf("ingest answered with a body that is not its JSON document: %v: %s", err, truncate(body)))
		g.giveUp(items)
		return nil
	}
	rejected := make(map[int]string, len(answer.Rejected))
	for _, r := range answer.Rejected {
		rejected[r.Index] = r.Error
	}
	unwritten := make(map[int]bool, len(answer.Unwritten))
	for _, i := range answer.Unwritten {
		unwritten[i] = true
	}
	var again []item
	for i, it := range items {
		reason, isRejected := rejected[i]
		switch {
		case !it.valid && isRejected:
			g.rejected.Add(1)
			g.ledger.mu.Lock()
			g.ledger.rejectedAsExpected++
			g.ledger.mu.Unlock()
		case !it.valid:
			g.ledger.problem(fmt.Sprintf("ingest did not reject malformed event %d (%s) of its request: %s", i, it.kind, truncate(it.line)))
		case isRejected:
			g.ledger.problem(fmt.Sprintf("ingest rejected valid event %s (index %d): %s", it.event.EventID, i, reason))
		case unwritten[i]:
			again = append(again, it)
		default:
			g.acknowledged(it)
		}
	}
	return again
}

// acknowledged records a valid event the pipeline took, and schedules its
// late duplicate.
func (g *Generator) acknowledged(it item) {
	g.accepted.Add(1)
	g.ledger.accept(it.event)
	g.remember(it)
	if g.opts.LateDup <= 0 {
		return
	}
	g.lateMu.Lock()
	defer g.lateMu.Unlock()
	if g.lateRNG.Float64() < g.opts.Dup {
		g.late = append(g.late, lateItem{due: time.Now().Add(g.opts.LateDup), it: it})
	}
}

func (g *Generator) giveUp(items []item) {
	n := 0
	for _, it := range items {
		if it.valid {
			n++
		}
	}
	g.ledger.mu.Lock()
	g.ledger.unacknowledged += n
	g.ledger.mu.Unlock()
}

// directEntry is one PutRecords entry: a record, or a KPL aggregate of items.
type directEntry struct {
	data  []byte
	key   string
	items []item
}

// putDirect writes records to the stream as a foreign producer would,
// retrying the entries Kinesis did not take: malformed records, and valid
// events under the random and kpl schemes (KPL aggregates of up to 10).
func (g *Generator) putDirect(ctx context.Context, items []item) error {
	if g.opts.Kinesis == nil {
		return errors.New("no Kinesis client for the records that bypass ingest")
	}
	var entries []directEntry
	var agg []item
	flush := func() {
		if len(agg) == 0 {
			return
		}
		subs := make([]kpl.Record, len(agg))
		for i, it := range agg {
			subs[i] = kpl.Record{PartitionKey: []byte(it.key), Data: it.line}
		}
		key := agg[0].key
		if len(agg)%2 == 0 { // half under a key that is no user's
			key = fmt.Sprintf("agg-%x", len(entries))
		}
		entries = append(entries, directEntry{data: kpl.Aggregate(subs), key: key, items: agg})
		agg = nil
	}
	for _, it := range items {
		if it.aggregate {
			if agg = append(agg, it); len(agg) == 10 {
				flush()
			}
			continue
		}
		entries = append(entries, directEntry{data: it.line, key: it.key, items: []item{it}})
	}
	flush()
	// PutRecords takes at most 500 entries and 5 MiB a call
	// (https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecords.html).
	for len(entries) > 0 {
		n, size := 0, 0
		for n < len(entries) && n < maxPutRecordsEntries && size+len(entries[n].data)+len(entries[n].key) <= maxPutRecordsBytes {
			size += len(entries[n].data) + len(entries[n].key)
			n++
		}
		n = max(n, 1)
		if err := g.putEntries(ctx, entries[:n]); err != nil {
			for _, e := range entries[n:] {
				g.giveUp(e.items)
			}
			return err
		}
		entries = entries[n:]
	}
	return nil
}

// The PutRecords limits.
const (
	maxPutRecordsEntries = 500
	maxPutRecordsBytes   = 5 << 20
)

// putEntries puts one PutRecords call's worth of entries, retrying those
// Kinesis did not take.
func (g *Generator) putEntries(ctx context.Context, entries []directEntry) error {
	for attempt := 0; len(entries) > 0; attempt++ {
		request := make([]types.PutRecordsRequestEntry, len(entries))
		for k, e := range entries {
			request[k] = types.PutRecordsRequestEntry{Data: e.data, PartitionKey: aws.String(e.key)}
		}
		out, err := g.opts.Kinesis.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(g.opts.StreamName), Records: request})
		if err != nil {
			if ctx.Err() != nil || attempt >= 10 {
				for _, e := range entries {
					g.giveUp(e.items)
				}
				return fmt.Errorf("putting %d records to the stream: %w", len(entries), err)
			}
			time.Sleep(time.Duration(attempt+1) * 100 * time.Millisecond)
			continue
		}
		var failed []directEntry
		for k, r := range out.Records {
			e := entries[k]
			if r.ErrorCode != nil {
				failed = append(failed, e)
				continue
			}
			for _, it := range e.items {
				if it.valid {
					g.streamed.Add(1)
					g.acknowledged(it)
					continue
				}
				g.direct.Add(1)
				g.ledger.addDirect(DirectRecord{
					Kind: it.kind, Payload: it.line, PartitionKey: it.key,
					ShardID: aws.ToString(r.ShardId), SequenceNumber: aws.ToString(r.SequenceNumber),
				})
			}
		}
		entries = failed
		if len(failed) > 0 {
			time.Sleep(time.Duration(attempt+1) * 50 * time.Millisecond)
		}
	}
	return nil
}

func truncate(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}
