// Package telemetry gives the functions structured logs and CloudWatch
// metrics the way Lambda expects them: log/slog lines that honour the
// function's logging config (AWS_LAMBDA_LOG_FORMAT, AWS_LAMBDA_LOG_LEVEL),
// and Embedded Metric Format (EMF) lines, which CloudWatch turns into metrics
// without any API call.
package telemetry

import (
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
)

// NewLogger builds the function's logger. With AWS_LAMBDA_LOG_FORMAT=JSON
// (what the stack configures) lines are JSON objects with Lambda's own key
// names (timestamp, level, message), so Lambda can filter them by level;
// otherwise they are slog text lines. AWS_LAMBDA_LOG_LEVEL sets the minimum
// level (TRACE and DEBUG map to debug, FATAL to error; default INFO).
func NewLogger(w io.Writer, getenv func(string) string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: parseLevel(getenv("AWS_LAMBDA_LOG_LEVEL"))}
	if strings.EqualFold(getenv("AWS_LAMBDA_LOG_FORMAT"), "JSON") {
		opts.ReplaceAttr = lambdaKeys
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// MetricsLevel is the level an EMF line carries under Lambda's application
// log level configured: the configured level when it is WARN, ERROR or FATAL,
// otherwise INFO.
func MetricsLevel(configured string) string {
	switch level := strings.ToUpper(strings.TrimSpace(configured)); level {
	case "WARN", "ERROR", "FATAL":
		return level
	}
	return "INFO"
}

func parseLevel(s string) slog.Level {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "TRACE", "DEBUG":
		return slog.LevelDebug
	case "WARN":
		return slog.LevelWarn
	case "ERROR", "FATAL":
		return slog.LevelError
	}
	return slog.LevelInfo
}

func lambdaKeys(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.TimeKey:
		a.Key = "timestamp"
		if t, ok := a.Value.Any().(time.Time); ok {
			a.Value = slog.StringValue(t.UTC().Format("2006-01-02T15:04:05.000Z"))
		}
	case slog.MessageKey:
		a.Key = "message"
	}
	return a
}

// Both functions take their metrics namespace from EnvMetricsNamespace
// (the Pulumi program sets it from streamfn:metricsNamespace), and default
// to DefaultNamespace.
const (
	EnvMetricsNamespace = "METRICS_NAMESPACE"
	DefaultNamespace    = "streamfn"
)

// Unit is a CloudWatch metric unit.
type Unit string

const (
	Count        Unit = "Count"
	Milliseconds Unit = "Milliseconds"
	Bytes        Unit = "Bytes"
)

// Metric is one value in an EMF line.
type Metric struct {
	Name  string
	Unit  Unit
	Value float64
}

// EMF writes one Embedded Metric Format line: every metric under namespace,
// with the function name as the only dimension. It is the whole metrics
// pipeline: Lambda ships stdout to CloudWatch Logs, which extracts these.
//
// The line carries a "level" and an RFC 3339 "timestamp", so that Lambda's
// log-level filtering never drops it: Lambda treats a JSON line whose level is
// missing, or whose timestamp is missing or invalid, as INFO, and with an
// application log level of WARN, ERROR or FATAL it would drop every metric
// (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html).
// The level is the function's configured one (AWS_LAMBDA_LOG_LEVEL), or INFO
// when that is more verbose: exactly what the filter lets through.
func EMF(w io.Writer, namespace, functionName string, at time.Time, metrics ...Metric) error {
	defs := make([]map[string]string, len(metrics))
	doc := map[string]any{
		"FunctionName": functionName,
		"level":        MetricsLevel(os.Getenv("AWS_LAMBDA_LOG_LEVEL")),
		"timestamp":    at.UTC().Format("2006-01-02T15:04:05.000Z"),
	}
	for i, m := range metrics {
		defs[i] = map[string]string{"Name": m.Name, "Unit": string(m.Unit)}
		doc[m.Name] = m.Value
	}
	doc["_aws"] = map[string]any{
		"Timestamp": at.UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  namespace,
			"Dimensions": [][]string{{"FunctionName"}},
			"Metrics":    defs,
		}},
	}
	line, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	_, err = w.Write(append(line, '\n'))
	return err
}
