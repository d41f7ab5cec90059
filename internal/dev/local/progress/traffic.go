package progress

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync/atomic"
)

// Traffic counts every request the local Function URL answers, whoever sent
// it: the load generator, curl, a test. Events are counted from ingest's
// response document ({"accepted":N,"rejected":[...],"unwritten":[...]}).
type Traffic struct {
	requests, accepted, rejected, unwritten, throttled, clientErrors, serverErrors atomic.Int64
}

// TrafficStats is what Traffic has counted.
type TrafficStats struct {
	Requests     int64 `json:"requests"`
	Accepted     int64 `json:"acceptedEvents"`  // events ingest wrote to the stream
	Rejected     int64 `json:"rejectedEvents"`  // events that broke a schema rule
	Unwritten    int64 `json:"unwrittenEvents"` // valid events a 503 listed as not written
	Throttled    int64 `json:"throttled"`       // 429 answers: no environment free
	ClientErrors int64 `json:"clientErrors"`    // other 4xx answers
	ServerErrors int64 `json:"serverErrors"`    // 5xx answers
}

// Stats returns the counts so far.
func (t *Traffic) Stats() TrafficStats {
	if t == nil {
		return TrafficStats{}
	}
	return TrafficStats{
		Requests: t.requests.Load(), Accepted: t.accepted.Load(), Rejected: t.rejected.Load(), Unwritten: t.unwritten.Load(),
		Throttled: t.throttled.Load(), ClientErrors: t.clientErrors.Load(), ServerErrors: t.serverErrors.Load(),
	}
}

// Wrap counts every request next answers.
func (t *Traffic) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		t.count(rec.status, rec.body.Bytes())
	})
}

func (t *Traffic) count(status int, body []byte) {
	t.requests.Add(1)
	switch {
	case status == http.StatusTooManyRequests:
		t.throttled.Add(1)
	case status >= 500:
		t.serverErrors.Add(1)
	case status >= 400 && status != http.StatusBadRequest:
		t.clientErrors.Add(1)
	}
	var doc struct {
		Accepted  int64             `json:"accepted"`
		Rejected  []json.RawMessage `json:"rejected"`
		Unwritten []json.RawMessage `json:"unwritten"`
	}
	if json.Unmarshal(body, &doc) == nil {
		t.accepted.Add(doc.Accepted)
		t.rejected.Add(int64(len(doc.Rejected)))
		t.unwritten.Add(int64(len(doc.Unwritten)))
	} else if status == http.StatusBadRequest {
		t.clientErrors.Add(1) // a 400 that is not ingest's document: the request itself was unreadable
	}
}

// maxRecordedBody bounds the copy of a response kept for counting: ingest's
// document lists rejected events by index, well within this.
const maxRecordedBody = 1 << 20

type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.body.Len()+len(p) <= maxRecordedBody {
		r.body.Write(p)
	}
	return r.ResponseWriter.Write(p)
}
