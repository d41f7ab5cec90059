// Package funcurl serves a Lambda Function URL on this machine: each HTTP
// request becomes the Function URL event (payload format 2.0) Lambda builds,
// the function is invoked synchronously, and its response document becomes
// the HTTP response. Function errors answer 502 and throttles 429, as the
// real endpoint does.
//
// AWS_IAM auth cannot be checked here: requests are not signed and nothing
// verifies a signature. The local server accepts every request, and the
// command's banner says so.
package funcurl

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/streamfn/streamfn/internal/aws/lambdaquota"
	"github.com/streamfn/streamfn/internal/dev/local/lambdaenv"
)

// Invoker runs one synchronous invocation.
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) (lambdaenv.Result, error)
}

// Options describe the URL.
type Options struct {
	AccountID string // for requestContext.accountId
	Region    string
	// URLID is the URL's id, the first label of its domain.
	URLID string
	// AuthType is the URL's authorizationType (AWS_IAM or NONE). With
	// AWS_IAM the event carries an IAM authorizer block for a local caller,
	// as Lambda fills it for a signed request.
	AuthType string
}

// maxRequestBytes is Lambda's limit on a synchronous invocation's request
// payload. It bounds the whole event (headers, request context and the
// body, escaped or base64-encoded), not the HTTP body alone, so a body
// somewhat under the limit can already be too large; Lambda then answers
// 413 with lambdaquota.RequestTooLargeMessage.
const maxRequestBytes = lambdaquota.SyncInvocationPayloadBytes

// Handler is the http.Handler of one Function URL.
type Handler struct {
	opts    Options
	invoker Invoker
	now     func() time.Time
}

// NewHandler returns the URL's handler.
func NewHandler(opts Options, invoker Invoker) *Handler {
	return &Handler{opts: opts, invoker: invoker, now: time.Now}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !LoopbackHost(r.Host) {
		writeMessage(w, http.StatusForbidden, "Host "+strconv.Quote(r.Host)+" is not a loopback name: the local Function URL answers only "+
			"localhost, 127.0.0.1 and [::1] (with any port), so that a web page cannot reach it through DNS rebinding")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
	if err != nil {
		writeMessage(w, http.StatusBadRequest, "could not read the request body: "+err.Error())
		return
	}
	if len(body) > maxRequestBytes {
		writeMessage(w, http.StatusRequestEntityTooLarge, lambdaquota.RequestTooLargeMessage)
		return
	}
	payload, err := marshalEvent(h.Event(r, body))
	if err != nil {
		writeMessage(w, http.StatusInternalServerError, err.Error())
		return
	}
	if len(payload) > maxRequestBytes {
		writeMessage(w, http.StatusRequestEntityTooLarge, lambdaquota.RequestTooLargeMessage)
		return
	}
	res, err := h.invoker.Invoke(r.Context(), payload)
	switch {
	case errors.Is(err, lambdaenv.ErrThrottled):
		writeMessage(w, http.StatusTooManyRequests, "Rate Exceeded.")
		return
	case err != nil:
		writeMessage(w, http.StatusBadGateway, "Internal Server Error")
		return
	case res.FunctionError != "":
		writeMessage(w, http.StatusBadGateway, "Internal Server Error")
		return
	}
	WriteResponse(w, res.Payload)
}

// Event builds the Function URL event for a request, as Lambda does:
// header names lower-cased and repeated values joined with commas, cookies
// apart, the body base64-encoded unless it is text. "If the content type
// of the request is binary, the body is base64-encoded" and isBase64Encoded
// is true (https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-request-payload).
// A compressed body (a Content-Encoding other than identity) is binary
// whatever its media type, so it is base64-encoded too, and the
// content-encoding header reaches the function unchanged: Lambda does not
// decompress requests, the function must.
func (h *Handler) Event(r *http.Request, body []byte) events.LambdaFunctionURLRequest {
	now := h.now().UTC()
	headers := make(map[string]string, len(r.Header)+1)
	var cookies []string
	for name, values := range r.Header {
		lower := strings.ToLower(name)
		if lower == "cookie" {
			for _, v := range values {
				for _, c := range strings.Split(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						cookies = append(cookies, c)
					}
				}
			}
			continue
		}
		headers[lower] = strings.Join(values, ",")
	}
	if r.Host != "" {
		headers["host"] = r.Host
	}
	var query map[string]string
	if values := r.URL.Query(); len(values) > 0 {
		query = make(map[string]string, len(values))
		for k, v := range values {
			query[k] = strings.Join(v, ",")
		}
	}
	sourceIP, _, _ := net.SplitHostPort(r.RemoteAddr)
	event := events.LambdaFunctionURLRequest{
		Version:               "2.0",
		RawPath:               r.URL.EscapedPath(),
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: query,
		RequestContext: events.LambdaFunctionURLRequestContext{
			AccountID:    "anonymous",
			RequestID:    uuid.NewString(),
			APIID:        h.opts.URLID,
			DomainName:   h.opts.URLID + ".lambda-url." + h.opts.Region + ".on.aws",
			DomainPrefix: h.opts.URLID,
			Time:         now.Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.URL.Path,
				Protocol:  r.Proto,
				SourceIP:  sourceIP,
				UserAgent: r.UserAgent(),
			},
		},
	}
	if event.RawPath == "" {
		event.RawPath = "/"
		event.RequestContext.HTTP.Path = "/"
	}
	if h.opts.AuthType == "AWS_IAM" {
		event.RequestContext.AccountID = h.opts.AccountID
		event.RequestContext.Authorizer = &events.LambdaFunctionURLRequestContextAuthorizerDescription{
			IAM: &events.LambdaFunctionURLRequestContextAuthorizerIAMDescription{
				AccessKey: "LOCALACCESSKEY",
				AccountID: h.opts.AccountID,
				CallerID:  "LOCALCALLER:local",
				UserARN:   "arn:aws:iam::" + h.opts.AccountID + ":user/local",
				UserID:    "LOCALCALLER",
			},
		}
	}
	if len(body) > 0 {
		if isText(headers["content-type"]) && !isCompressed(headers["content-encoding"]) && utf8.Valid(body) {
			event.Body = string(body)
		} else {
			event.Body = base64.StdEncoding.EncodeToString(body)
			event.IsBase64Encoded = true
		}
	}
	return event
}

// marshalEvent encodes the event as Lambda does: <, > and & in the body
// stay as they are, where json.Marshal would write \u003c and the like.
func marshalEvent(event events.LambdaFunctionURLRequest) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(len(event.Body) + len(event.Body)/8 + 1024) // quotes escaped, headers
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(event); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// isText reports whether Lambda passes a body of this content type as
// text: text/* and the JSON, XML and JavaScript types.
func isText(contentType string) bool {
	media, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(media, "text/"),
		media == "application/json", strings.HasSuffix(media, "+json"),
		media == "application/x-ndjson",
		media == "application/xml", strings.HasSuffix(media, "+xml"),
		media == "application/javascript", media == "application/x-www-form-urlencoded":
		return true
	}
	return false
}

// isCompressed reports a Content-Encoding that changes the body's bytes.
func isCompressed(contentEncoding string) bool {
	for _, coding := range strings.Split(contentEncoding, ",") {
		if c := strings.TrimSpace(coding); c != "" && !strings.EqualFold(c, "identity") {
			return true
		}
	}
	return false
}

// WriteResponse turns a function's response document into HTTP. A
// document with statusCode is a LambdaFunctionURLResponse; anything else is
// returned as a 200 JSON body, as Lambda infers for Function URLs.
func WriteResponse(w http.ResponseWriter, payload []byte) {
	var resp events.LambdaFunctionURLResponse
	var probe map[string]json.RawMessage
	if json.Unmarshal(payload, &probe) != nil || probe["statusCode"] == nil || json.Unmarshal(payload, &resp) != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(payload)
		return
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for _, c := range resp.Cookies {
		w.Header().Add("Set-Cookie", c)
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		decoded, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			writeMessage(w, http.StatusBadGateway, "the function's response is marked isBase64Encoded but its body is not base64")
			return
		}
		body = decoded
	}
	status := resp.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeMessage(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"Message": message})
	_, _ = w.Write(b)
}

// LoopbackHost says whether a request's Host names this machine's loopback
// interface: localhost (or a name under .localhost, RFC 6761), 127.0.0.0/8
// or ::1, with or without a port. The server listens on loopback only, but a
// web page can still reach it by resolving its own name to 127.0.0.1 (DNS
// rebinding); such a request carries the page's name in Host.
func LoopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "" {
		return false
	}
	lower := strings.ToLower(strings.TrimSuffix(host, "."))
	if lower == "localhost" || strings.HasSuffix(lower, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
