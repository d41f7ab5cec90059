package loadgen

import (
	"slices"
	"sync"

	"github.com/streamfn/streamfn/internal/activity"
)

// Ledger is what the load generator sent and what became of it: the input
// of -verify. It is safe for concurrent use.
type Ledger struct {
	mu sync.Mutex
	// accepted holds every valid event ingest acknowledged, once per
	// eventId, however often it was sent.
	accepted map[string]activity.Event
	// direct holds the malformed records put straight to the stream.
	direct []DirectRecord
	// problems are ingest answers that contradict what was sent: a valid
	// event rejected, a malformed one accepted, a request refused whole.
	problems []string
	// unacknowledged counts valid events whose requests never got an answer
	// after every retry: whether they are in the stream is unknown.
	unacknowledged int
	// rejectedAsExpected counts malformed events ingest rejected by index.
	rejectedAsExpected int
}

// DirectRecord is a malformed record a foreign producer put to the stream.
type DirectRecord struct {
	Kind           string // eventgen.MalformedKinds
	Payload        []byte
	PartitionKey   string
	ShardID        string
	SequenceNumber string
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger { return &Ledger{accepted: map[string]activity.Event{}} }

func (l *Ledger) accept(ev activity.Event) {
	l.mu.Lock()
	l.accepted[ev.EventID] = ev
	l.mu.Unlock()
}

func (l *Ledger) problem(msg string) {
	l.mu.Lock()
	if len(l.problems) < 1000 {
		l.problems = append(l.problems, msg)
	}
	l.mu.Unlock()
}

func (l *Ledger) addDirect(r DirectRecord) {
	l.mu.Lock()
	l.direct = append(l.direct, r)
	l.mu.Unlock()
}

// Accepted returns every acknowledged valid event, one per eventId.
func (l *Ledger) Accepted() []activity.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]activity.Event, 0, len(l.accepted))
	for _, ev := range l.accepted {
		out = append(out, ev)
	}
	return out
}

// Direct returns the malformed records put straight to the stream.
func (l *Ledger) Direct() []DirectRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.direct)
}

// Problems returns what ingest answered wrongly, at most 1000 lines.
func (l *Ledger) Problems() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.problems)
}

// Unacknowledged is the number of valid events whose fate is unknown.
func (l *Ledger) Unacknowledged() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.unacknowledged
}

// RejectedAsExpected is the number of malformed events ingest rejected.
func (l *Ledger) RejectedAsExpected() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rejectedAsExpected
}
