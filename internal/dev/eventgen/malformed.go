package eventgen

import (
	"strconv"
	"strings"

	"github.com/streamfn/streamfn/internal/activity"
)

// MalformedKinds names every kind of bad record Malformed produces, in the
// order it cycles through them.
var MalformedKinds = []string{
	"not JSON",
	"not UTF-8",
	"not a JSON object",
	"eventId missing",
	"eventId too long",
	"userId missing",
	"type not allowed",
	"productId missing",
	"price negative",
	"quantity not an integer",
	"ts not RFC 3339",
	"over the size limit",
}

// Malformed returns the payload of a bad record and which kind it is (one of
// MalformedKinds). Successive calls cycle through every kind, so any run of
// len(MalformedKinds) calls covers each once. Each payload is otherwise a
// realistic event, so only the named rule is broken.
func (g *Generator) Malformed() (payload []byte, kind string) {
	kind = MalformedKinds[g.malformedSeq%len(MalformedKinds)]
	g.malformedSeq++
	ev := g.Next()
	valid := string(AppendJSON(nil, &ev))
	replace := func(field, old, new string) string {
		prefix := `"` + field + `":` + old
		if !strings.Contains(valid, prefix) {
			// The field is absent for this event's type: add it first.
			return strings.Replace(valid, "{", "{"+`"`+field+`":`+new+",", 1)
		}
		return strings.Replace(valid, prefix, `"`+field+`":`+new, 1)
	}
	quoted := func(s string) string { return string(activity.AppendString(nil, s)) }
	switch kind {
	case "not JSON":
		return []byte(valid[:len(valid)/2]), kind // a truncated write
	case "not UTF-8":
		bin := make([]byte, 64)
		for i := range bin {
			bin[i] = byte(g.rng.next()) | 0x80 // never valid UTF-8 at byte 0
		}
		bin[0] = 0xff
		return bin, kind
	case "not a JSON object":
		return []byte(`[` + valid + `]`), kind
	case "eventId missing":
		return []byte(replace("eventId", quoted(ev.EventID), "null")), kind
	case "eventId too long":
		return []byte(replace("eventId", quoted(ev.EventID), quoted(strings.Repeat("e", activity.MaxIDBytes+1)))), kind
	case "userId missing":
		return []byte(strings.Replace(valid, `"userId":`+quoted(ev.UserID)+`,`, "", 1)), kind
	case "type not allowed":
		return []byte(replace("type", quoted(ev.Type.String()), `"click"`)), kind
	case "productId missing":
		if ev.ProductID == "" {
			return []byte(replace("type", quoted(ev.Type.String()), `"view"`)), kind
		}
		return []byte(strings.Replace(valid, `"productId":`+quoted(ev.ProductID)+`,`, "", 1)), kind
	case "price negative":
		if ev.HasPrice {
			return []byte(replace("price", strconv.FormatFloat(ev.Price, 'f', -1, 64), "-1.5")), kind
		}
		return []byte(replace("price", "", "-1.5")), kind
	case "quantity not an integer":
		return []byte(replace("quantity", strconv.FormatInt(ev.Quantity, 10), "1.5")), kind
	case "ts not RFC 3339":
		return []byte(replace("ts", quoted(ev.TS.UTC().Format("2006-01-02T15:04:05.000Z07:00")), `"26/11/2026 12:00"`)), kind
	default: // over the size limit
		pad := strings.Repeat("x", activity.MaxEventBytes)
		return []byte(strings.Replace(valid, "{", `{"padding":"`+pad+`",`, 1)), kind
	}
}
