package redrive

import (
	"encoding/json"
	"testing"

	"github.com/streamfn/streamfn/internal/aws/poison"
)

// The tool reads poison messages and invocation payloads that anyone with
// access to the queue or bucket may have written: none may crash it, and
// what it reads back must be consistent.
func FuzzParsers(f *testing.F) {
	f.Add([]byte(`{"reason":"type: unknown","shardId":"shardId-000000000000","sequenceNumber":"1","payload":"e30=","payloadEncoding":"base64"}`))
	f.Add([]byte(`{"Records":[{"kinesis":{"sequenceNumber":"4959"}}]}`))
	f.Add([]byte(`{"reason":"x","payloadTruncated":true}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		groups, problems := GroupPoison([]string{string(data)})
		if len(groups)+len(problems) != 1 {
			t.Fatalf("one message gave %d groups and %d problems", len(groups), len(problems))
		}
		var m poison.Document
		if json.Unmarshal(data, &m) == nil {
			_, _ = m.DecodedPayload()
		}
		if seqs, err := sequenceNumbers(data); err == nil && !json.Valid(data) {
			t.Fatalf("sequence numbers %q from invalid JSON", seqs)
		}
		s := string(data)
		if SequenceLess(s, s) {
			t.Fatalf("%q < itself", s)
		}
	})
}
