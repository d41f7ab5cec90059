package telemetry

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestJSONLogsUseLambdaKeysAndLevel(t *testing.T) {
	var buf bytes.Buffer
	log := NewLogger(&buf, env(map[string]string{"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "WARN"}))
	log.Info("hidden")
	log.Warn("shown", "shard", "shardId-000000000000")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want only the WARN line, got %q", buf.String())
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatal(err)
	}
	if got["message"] != "shown" || got["level"] != "WARN" || got["shard"] != "shardId-000000000000" {
		t.Fatalf("unexpected line %v", got)
	}
	if _, err := time.Parse(time.RFC3339, got["timestamp"].(string)); err != nil {
		t.Fatalf("timestamp: %v", err)
	}
}

func TestTextLogsByDefault(t *testing.T) {
	var buf bytes.Buffer
	NewLogger(&buf, env(nil)).Debug("hidden")
	NewLogger(&buf, env(nil)).Info("hello")
	if s := buf.String(); !strings.Contains(s, "msg=hello") || strings.Contains(s, "hidden") {
		t.Fatalf("got %q", s)
	}
}

func TestEMFLine(t *testing.T) {
	var buf bytes.Buffer
	at := time.UnixMilli(1764158400123)
	if err := EMF(&buf, "streamfn", "processor-abc", at, Metric{"Records", Count, 10}, Metric{"MaxRecordAgeMs", Milliseconds, 250}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(buf.String(), "}\n") || strings.Count(buf.String(), "\n") != 1 {
		t.Fatalf("want one line, got %q", buf.String())
	}
	var doc struct {
		AWS struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
		FunctionName   string
		Records        float64
		MaxRecordAgeMs float64
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	cw := doc.AWS.CloudWatchMetrics
	if doc.AWS.Timestamp != 1764158400123 || len(cw) != 1 || cw[0].Namespace != "streamfn" ||
		len(cw[0].Dimensions) != 1 || cw[0].Dimensions[0][0] != "FunctionName" || len(cw[0].Metrics) != 2 ||
		cw[0].Metrics[1].Unit != "Milliseconds" || doc.FunctionName != "processor-abc" || doc.Records != 10 || doc.MaxRecordAgeMs != 250 {
		t.Fatalf("unexpected EMF document: %s", buf.String())
	}
}

// lambdaLevels are Lambda's application log levels, most verbose first.
var lambdaLevels = []string{"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}

// lambdaSends is Lambda's log-level filter for a JSON line, as the Lambda developer guide
// describes it (Log-level filtering): a line whose "level" is missing or invalid, or whose
// "timestamp" is missing or not RFC 3339, counts as INFO; a line is sent when its level is
// the configured one or less verbose.
func lambdaSends(t *testing.T, line, configured string) bool {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(line), &doc); err != nil {
		t.Fatalf("not a JSON line: %q", line)
	}
	level, _ := doc["level"].(string)
	rank := slices.Index(lambdaLevels, strings.ToUpper(level))
	ts, _ := doc["timestamp"].(string)
	if _, err := time.Parse(time.RFC3339, ts); err != nil || rank < 0 {
		rank = slices.Index(lambdaLevels, "INFO")
	}
	return rank >= slices.Index(lambdaLevels, configured)
}

func TestEMFLinesPassLambdaLogLevelFilteringAtEveryLevel(t *testing.T) {
	for _, level := range lambdaLevels {
		t.Run(level, func(t *testing.T) {
			t.Setenv("AWS_LAMBDA_LOG_LEVEL", level)
			var buf bytes.Buffer
			if err := EMF(&buf, "streamfn", "processor-abc", time.UnixMilli(1764158400123), Metric{"Records", Count, 10}); err != nil {
				t.Fatal(err)
			}
			if !lambdaSends(t, strings.TrimSpace(buf.String()), level) {
				t.Errorf("with application log level %s Lambda drops the metrics line %s", level, buf.String())
			}
		})
	}
	// The filter model itself: a line without a level is INFO and dropped at WARN.
	if lambdaSends(t, `{"Records":1,"timestamp":"2026-01-01T00:00:00Z"}`, "WARN") {
		t.Error("the filter model sends a level-less line at WARN")
	}
}
