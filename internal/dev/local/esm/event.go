package esm

import (
	"time"

	"github.com/streamfn/streamfn/internal/aws/kinesisevent"
)

// record is one Kinesis record as the mapping holds it: its identity, its
// arrival time and its element of the invocation's Records array
// (kinesisevent.Source.Element), encoded once when it is read so that
// retries and bisected halves reuse it.
type record struct {
	sequenceNumber string
	partitionKey   string
	arrival        time.Time
	element        []byte
}

// encodeEvent is the invocation of these records.
func encodeEvent(records []record) []byte {
	elements := make([][]byte, len(records))
	for i, r := range records {
		elements[i] = r.element
	}
	return kinesisevent.Event(elements)
}
