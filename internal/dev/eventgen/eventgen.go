// Package eventgen generates realistic, reproducible e-commerce activity
// events and Kinesis invocation documents made of them. The tests, the
// benchmark files (scripts/genevents), the ingest load and the local run all
// draw their data from here, so they exercise the same shapes.
//
// Everything is a pure function of Options.Seed and the sequence of calls:
// the same seed and calls give the same bytes on every machine and Go
// version (the package uses its own SplitMix64 generator, not math/rand).
//
// An event's JSON is about 850 bytes: the schema's fields (package activity)
// plus the unknown fields a real web or app client sends (a context object
// with page, referrer, locale, device and campaign, an app object, consent
// flags), which the pipeline must ignore.
package eventgen

import (
	"fmt"
	"strconv"
	"time"

	"github.com/streamfn/streamfn/internal/activity"
)

// Options shape a generator. The zero value gives 500 users.
type Options struct {
	// Seed selects the stream of events; equal seeds give equal events.
	Seed int64
	// Users is the number of distinct userIds (default 500).
	Users int
	// Products is the catalogue size (default 5000).
	Products int
	// Start is the ts of the first event (default 2026-11-26T12:00:00Z).
	Start time.Time
	// MeanInterval is the mean gap between consecutive events' ts, rounded
	// to whole milliseconds, at least 1 ms (default 5 ms). ts strictly
	// increases from one event to the next.
	MeanInterval time.Duration
}

// Generator produces events. It is not safe for concurrent use.
type Generator struct {
	rng          rng
	users        []userState
	products     int
	start        time.Time
	meanMillis   int
	clockMillis  int64
	malformedSeq int
	shards       map[string]*shardState
	recent       []recentEvent // for producer duplicates in Batch
}

type userState struct {
	session     string
	lastProduct int // -1 before the first product event
}

// New returns a generator for opts.
func New(opts Options) *Generator {
	if opts.Users <= 0 {
		opts.Users = 500
	}
	if opts.Products <= 0 {
		opts.Products = 5000
	}
	if opts.Start.IsZero() {
		opts.Start = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	}
	mean := int(opts.MeanInterval / time.Millisecond)
	if opts.MeanInterval == 0 {
		mean = 5
	}
	mean = max(mean, 1)
	g := &Generator{
		rng:        rng{state: uint64(opts.Seed)*0x9e3779b97f4a7c15 + 0x2545f4914f6cdd1d},
		users:      make([]userState, opts.Users),
		products:   opts.Products,
		start:      opts.Start.UTC(),
		meanMillis: mean,
		shards:     map[string]*shardState{},
	}
	for i := range g.users {
		g.users[i].lastProduct = -1
	}
	return g
}

// UserID is the id of user i (0 <= i < Options.Users), e.g. "user-00042".
func UserID(i int) string { return fmt.Sprintf("user-%05d", i) }

// ProductID is the id of product i, e.g. "sku-004711".
func ProductID(i int) string { return fmt.Sprintf("sku-%06d", i) }

// Categories is the catalogue's category list; product i belongs to
// Categories[i%len(Categories)].
var Categories = []string{
	"electronics", "computers", "phones", "home-kitchen", "garden", "toys", "books", "music",
	"movies", "fashion-women", "fashion-men", "shoes", "beauty", "health", "sports", "outdoors",
	"automotive", "pet-supplies", "grocery", "office",
}

// Price is product i's price: 1.99 to 499.99 with two decimals, as the
// float64 nearest to that decimal (what a JSON parser reads).
func Price(product int) float64 {
	cents := 199 + int(mix64(uint64(product)+0x51ed)%49801)
	return float64(cents) / 100
}

// Type mix, in per mille: most activity is browsing.
var typeWeights = []struct {
	typ      activity.Type
	perMille int
}{{activity.View, 600}, {activity.Search, 200}, {activity.AddToCart, 120}, {activity.Purchase, 80}}

// Next returns the next valid event. ts is strictly increasing.
func (g *Generator) Next() activity.Event {
	r := &g.rng
	u := r.intn(len(g.users))
	st := &g.users[u]
	if st.session == "" || r.intn(100) < 4 {
		st.session = g.uuid(g.clockMillis)
	}
	g.clockMillis += int64(1 + r.intn(2*g.meanMillis-1))
	ts := g.start.Add(time.Duration(g.clockMillis) * time.Millisecond)

	pick := r.intn(1000)
	typ := activity.View
	for _, w := range typeWeights {
		if pick < w.perMille {
			typ = w.typ
			break
		}
		pick -= w.perMille
	}
	ev := activity.Event{
		EventID:   g.uuid(g.clockMillis),
		UserID:    UserID(u),
		Type:      typ,
		Quantity:  1,
		SessionID: st.session,
		TS:        ts,
		UserAgent: userAgents[mix64(uint64(u))%uint64(len(userAgents))],
	}
	if typ.NeedsProduct() {
		product := r.intn(g.products)
		// Carts and purchases mostly follow a view of the same product.
		if st.lastProduct >= 0 && (typ != activity.View && r.intn(10) < 8 || typ == activity.View && r.intn(10) < 2) {
			product = st.lastProduct
		}
		st.lastProduct = product
		ev.ProductID = ProductID(product)
		ev.Category = Categories[product%len(Categories)]
		ev.Price, ev.HasPrice = Price(product), true
		if typ != activity.View {
			ev.Quantity = int64(1 + r.intn(3))
		}
	} else if r.intn(2) == 0 { // half the searches filter by category
		ev.Category = Categories[r.intn(len(Categories))]
	}
	return ev
}

// NextJSON returns the next valid event and its wire JSON (AppendJSON).
func (g *Generator) NextJSON() (activity.Event, []byte) {
	ev := g.Next()
	return ev, AppendJSON(nil, &ev)
}

// uuid is a UUIDv7-shaped id (48-bit millisecond time, then random bits) in
// the canonical 8-4-4-4-12 form.
func (g *Generator) uuid(clockMillis int64) string {
	ms := uint64(g.start.UnixMilli() + clockMillis)
	hi := ms<<16 | 0x7000 | g.rng.next()&0x0fff
	lo := g.rng.next()&0x3fffffffffffffff | 0x8000000000000000
	var b [36]byte
	const hex = "0123456789abcdef"
	put := func(at int, v uint64, digits int) {
		for i := digits - 1; i >= 0; i-- {
			b[at+i] = hex[v&0xf]
			v >>= 4
		}
	}
	put(0, hi>>32, 8)
	b[8] = '-'
	put(9, hi>>16&0xffff, 4)
	b[13] = '-'
	put(14, hi&0xffff, 4)
	b[18] = '-'
	put(19, lo>>48, 4)
	b[23] = '-'
	put(24, lo&0xffffffffffff, 12)
	return string(b[:])
}

// AppendJSON appends ev as a client would send it: the schema's fields
// (quantity always written for carts and purchases, ts with milliseconds)
// followed by realistic unknown fields. The unknown fields are a pure
// function of the event, so equal events encode to equal bytes.
func AppendJSON(dst []byte, ev *activity.Event) []byte {
	str := func(name, v string) {
		dst = append(dst, ',', '"')
		dst = append(dst, name...)
		dst = append(dst, '"', ':')
		dst = activity.AppendString(dst, v)
	}
	dst = append(dst, `{"eventId":`...)
	dst = activity.AppendString(dst, ev.EventID)
	str("userId", ev.UserID)
	str("type", ev.Type.String())
	if ev.ProductID != "" {
		str("productId", ev.ProductID)
	}
	if ev.Category != "" {
		str("category", ev.Category)
	}
	if ev.HasPrice {
		dst = append(dst, `,"price":`...)
		dst = strconv.AppendFloat(dst, ev.Price, 'f', -1, 64)
	}
	if ev.Type == activity.AddToCart || ev.Type == activity.Purchase || ev.Quantity > 1 {
		dst = append(dst, `,"quantity":`...)
		dst = strconv.AppendInt(dst, ev.Quantity, 10)
	}
	if ev.SessionID != "" {
		str("sessionId", ev.SessionID)
	}
	str("ts", ev.TS.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	if ev.UserAgent != "" {
		str("userAgent", ev.UserAgent)
	}
	return appendContext(dst, ev)
}
