package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/streamfn/streamfn/internal/aws/streamwriter"
	"github.com/streamfn/streamfn/internal/lambdafn/env"
	"github.com/streamfn/streamfn/internal/lambdafn/telemetry"
)

// Config is the function's settings. The Pulumi program sets them as the
// function's environment variables; ConfigFromEnv reads them.
type Config struct {
	StreamName       string // STREAM_NAME, required
	MetricsNamespace string // METRICS_NAMESPACE, default "streamfn"
	// FunctionName is the EMF dimension (AWS_LAMBDA_FUNCTION_NAME, which
	// Lambda sets; default "ingest").
	FunctionName string
	// ThrottleRetry bounds the retries of throttled writes before the
	// answer is 503 with Retry-After (streamwriter.Options.ThrottleBudget).
	ThrottleRetry time.Duration // THROTTLE_RETRY_MS, default 1000
}

// ConfigFromEnv reads the settings, reporting every missing or malformed
// one at once.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	r := env.New(getenv)
	cfg := Config{
		StreamName:       r.String(EnvStreamName, "the name of the Kinesis data stream that ingest writes events to"),
		MetricsNamespace: r.Optional(telemetry.EnvMetricsNamespace, telemetry.DefaultNamespace),
		FunctionName:     r.Optional("AWS_LAMBDA_FUNCTION_NAME", "ingest"),
		ThrottleRetry: time.Duration(r.Int(EnvThrottleRetryMs,
			int(streamwriter.DefaultThrottleBudget/time.Millisecond), 1, 900_000)) * time.Millisecond,
	}
	return cfg, r.Err()
}

// The variables ConfigFromEnv reads, by these names only: the Pulumi
// program sets them (and telemetry.EnvMetricsNamespace).
const (
	EnvStreamName      = "STREAM_NAME"
	EnvThrottleRetryMs = "THROTTLE_RETRY_MS"
)

// Retry-After values, in seconds. Throttling clears within a second or so;
// a stream that refuses writes needs a person, so clients should back off.
const (
	retryAfterTransient = "1"
	retryAfterRefused   = "30"
)

// Deps are what a Handler works with, built by the caller: in Lambda from
// Config (the writer's stream and throttle budget), in tests from fakes.
type Deps struct {
	Writer  *streamwriter.Writer
	Logger  *slog.Logger // discards when nil
	Metrics io.Writer    // EMF lines; stdout in Lambda, discarded when nil
	// NewEventID assigns missing eventIds; NewEventID (UUIDv7) when nil.
	NewEventID func() (string, error)
}

// Handler answers Function URL requests.
type Handler struct {
	cfg  Config
	deps Deps
}

// NewHandler returns a handler. Of cfg it uses the metrics' namespace and
// dimension; the stream settings are already in deps.Writer.
func NewHandler(cfg Config, deps Deps) *Handler {
	if deps.NewEventID == nil {
		deps.NewEventID = NewEventID
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Metrics == nil {
		deps.Metrics = io.Discard
	}
	return &Handler{cfg: cfg, deps: deps}
}

// Body is the JSON body of 202 and 503 answers.
type Body struct {
	Accepted  int         `json:"accepted"`            // events now in the stream
	Rejected  []Rejection `json:"rejected"`            // events that broke a schema rule; [] when none, never null
	Unwritten []int       `json:"unwritten,omitempty"` // valid events not in the stream (503 only)
	Message   string      `json:"message,omitempty"`   // what to do (503 only)
}

// outcome is what one invocation did, for logs and metrics.
type outcome struct {
	events, accepted, rejected, unwritten int
	refused                               bool // the request as a whole
	write                                 streamwriter.Result
}

// Handle answers one request. It never returns an error: Lambda would turn
// that into a bare 502 the client cannot act on.
func (h *Handler) Handle(ctx context.Context, req events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error) {
	start := time.Now()
	log := h.deps.Logger.With("requestId", requestID(ctx, req))
	resp, out := h.handle(ctx, req, log)
	if err := telemetry.EMF(h.deps.Metrics, h.cfg.MetricsNamespace, h.cfg.FunctionName, start,
		telemetry.Metric{Name: "Accepted", Unit: telemetry.Count, Value: float64(out.accepted)},
		telemetry.Metric{Name: "Rejected", Unit: telemetry.Count, Value: float64(out.rejected)},
		telemetry.Metric{Name: "Unwritten", Unit: telemetry.Count, Value: float64(out.unwritten)},
		telemetry.Metric{Name: "Throttled", Unit: telemetry.Count, Value: float64(out.write.Throttled)},
		telemetry.Metric{Name: "Retries", Unit: telemetry.Count, Value: float64(out.write.Retries)},
		telemetry.Metric{Name: "PutRecordsCalls", Unit: telemetry.Count, Value: float64(out.write.Calls)},
		telemetry.Metric{Name: "RefusedRequests", Unit: telemetry.Count, Value: boolCount(out.refused)},
	); err != nil {
		log.Error("writing metrics", "error", err.Error())
	}
	log.Info("request done", "status", resp.StatusCode, "events", out.events, "accepted", out.accepted,
		"rejected", out.rejected, "unwritten", out.unwritten, "putRecordsCalls", out.write.Calls,
		"retries", out.write.Retries, "throttled", out.write.Throttled, "durationMs", time.Since(start).Milliseconds())
	return resp, nil
}

func (h *Handler) handle(ctx context.Context, req events.LambdaFunctionURLRequest, log *slog.Logger) (events.LambdaFunctionURLResponse, outcome) {
	var out outcome
	batch, err := ParseRequest(req, h.deps.NewEventID)
	if err != nil {
		out.refused = true
		var problem *Problem
		if errors.As(err, &problem) {
			log.Info("request refused", "status", problem.Status, "reason", problem.Message)
			return problemResponse(problem), out
		}
		log.Error("request failed", "error", err.Error())
		return problemResponse(&Problem{Status: http.StatusInternalServerError,
			Message: "ingest failed before writing anything: nothing was written; send the request again"}), out
	}
	out.events, out.rejected = batch.Events, len(batch.Rejected)
	if len(batch.Rejected) > 0 {
		log.Debug("events rejected", "rejected", batch.Rejected[:min(len(batch.Rejected), 10)])
	}
	if len(batch.Records) > 0 {
		out.write = h.deps.Writer.Write(ctx, batch.Records)
	}
	out.unwritten = len(out.write.Unwritten)
	out.accepted = len(batch.Records) - out.unwritten
	body := Body{Accepted: out.accepted, Rejected: batch.Rejected}
	if body.Rejected == nil {
		body.Rejected = []Rejection{}
	}
	if out.unwritten == 0 {
		return jsonResponse(http.StatusAccepted, body, nil), out
	}
	body.Unwritten = make([]int, out.unwritten)
	for k, recordIndex := range out.write.Unwritten {
		body.Unwritten[k] = batch.Indexes[recordIndex]
	}
	retryAfter := retryAfterTransient
	if out.write.Permanent {
		retryAfter = retryAfterRefused
		log.Error("stream refused events", "unwritten", out.unwritten, "error", errString(out.write.Cause))
		body.Message = fmt.Sprintf("%d of %d valid events were not written: the stream refused them (%s) and retrying will not help "+
			"until an operator fixes the stream or the function's permissions (see the ingest function's logs); "+
			"send the events listed in unwritten again later", out.unwritten, len(batch.Records), refusal(out.write.Code))
	} else {
		log.Warn("events not written before the deadline", "unwritten", out.unwritten, "error", errString(out.write.Cause))
		body.Message = fmt.Sprintf("%d of %d valid events were not written: the stream is throttling or unavailable; "+
			"send the events listed in unwritten again after Retry-After seconds, each with its own eventId so a retry cannot count twice",
			out.unwritten, len(batch.Records))
	}
	return jsonResponse(http.StatusServiceUnavailable, body, map[string]string{"Retry-After": retryAfter}), out
}

func problemResponse(p *Problem) events.LambdaFunctionURLResponse {
	var extra map[string]string
	if p.Status == http.StatusMethodNotAllowed {
		extra = map[string]string{"Allow": http.MethodPost}
	}
	return jsonResponse(p.Status, p, extra)
}

func jsonResponse(status int, body any, extra map[string]string) events.LambdaFunctionURLResponse {
	headers := map[string]string{"Content-Type": "application/json"}
	for k, v := range extra {
		headers[k] = v
	}
	// Messages say ">=" and "×": HTML escaping (json.Marshal's default)
	// would write \u003e= for a client to read.
	var data bytes.Buffer
	enc := json.NewEncoder(&data)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil { // only plain structs of strings and ints get here
		data.Reset()
		data.WriteString(`{"message":"ingest could not encode its answer"}`)
		status = http.StatusInternalServerError
	}
	return events.LambdaFunctionURLResponse{StatusCode: status, Headers: headers, Body: strings.TrimSuffix(data.String(), "\n")}
}

func requestID(ctx context.Context, req events.LambdaFunctionURLRequest) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		return lc.AwsRequestID
	}
	return req.RequestContext.RequestID
}

// refusal names a refusal for a client by its AWS error code, which tells
// the kind of failure without the account and stream details. Without a
// code, the writer refused a record Kinesis would reject, which the schema's
// limits make impossible unless they change.
func refusal(code string) string {
	if code == "" {
		return "a record over Kinesis's limits"
	}
	return code
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func boolCount(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
