// Package outage simulates a DynamoDB outage for the local run's -outage:
// a reverse proxy on 127.0.0.1 in front of dynalite that, while the
// outage lasts, answers every table write (PutItem, UpdateItem,
// DeleteItem, BatchWriteItem, TransactWriteItems) with HTTP 500
// InternalServerError, the error DynamoDB returns when it cannot serve a
// request
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html).
// Reads pass. The processor reaches the table through the proxy by its
// AWS_ENDPOINT_URL_DYNAMODB, so the function binary is the one that runs
// in AWS.
package outage

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// Proxy is a running proxy.
type Proxy struct {
	listener net.Listener
	server   *http.Server
	from, to atomic.Int64 // the outage, in Unix nanoseconds; both 0: none
	refused  atomic.Int64
}

// Start proxies to target (dynalite's endpoint). No outage is set.
func Start(target string) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("outage proxy: target %q is not an endpoint URL", target)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("outage proxy: %w", err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute}
	rp.ErrorLog = nil
	p := &Proxy{listener: l}
	p.server = &http.Server{Handler: p.handler(rp), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.server.Serve(l) }()
	return p, nil
}

// Endpoint is the proxy's URL.
func (p *Proxy) Endpoint() string { return "http://" + p.listener.Addr().String() }

// Set makes writes fail from start for d.
func (p *Proxy) Set(start time.Time, d time.Duration) {
	p.from.Store(start.UnixNano())
	p.to.Store(start.Add(d).UnixNano())
}

// Active reports whether writes fail at t.
func (p *Proxy) Active(t time.Time) bool {
	n := t.UnixNano()
	return n >= p.from.Load() && n < p.to.Load()
}

// Refused is how many writes the proxy refused.
func (p *Proxy) Refused() int64 { return p.refused.Load() }

// Close stops the proxy.
func (p *Proxy) Close() error {
	err := p.server.Close()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// writes are the DynamoDB operations an outage refuses (X-Amz-Target
// DynamoDB_20120810.<operation>).
var writes = map[string]bool{"PutItem": true, "UpdateItem": true, "DeleteItem": true, "BatchWriteItem": true, "TransactWriteItems": true}

// IsWrite reports whether a request's X-Amz-Target is a table write.
func IsWrite(target string) bool {
	_, op, ok := strings.Cut(target, ".")
	return ok && writes[op]
}

func (p *Proxy) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if IsWrite(r.Header.Get("X-Amz-Target")) && p.Active(time.Now()) {
			p.refused.Add(1)
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			w.Header().Set("X-Amzn-RequestId", fmt.Sprintf("outage-%d", p.refused.Load()))
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"Internal server error (the local run's -outage)"}`))
			return
		}
		next.ServeHTTP(w, r)
	})
}
