package funcurl_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/streamfn/streamfn/infra/pipeline"
	"github.com/streamfn/streamfn/internal/dev/emulators/emutest"
	"github.com/streamfn/streamfn/internal/dev/local/run"
	"github.com/streamfn/streamfn/internal/dev/local/run/runtest"
	"github.com/streamfn/streamfn/internal/ops/endpoints"
	"github.com/streamfn/streamfn/internal/ops/stackoutputs"
)

// TestLocalRunAnswersWhatClientsSend starts the whole local run (the
// stand-ins, aws-lambda-rie and the real ingest function behind this
// package's Function URL) and sends it the bodies of issue 12's "Done
// when" list, each of which must get the answer the README documents.
func TestLocalRunAnswersWhatClientsSend(t *testing.T) {
	emutest.RequireNode(t)
	local := runtest.Start(t, run.Options{Stack: "dev", Duration: 10 * time.Minute, Seed: 1, IngestCap: 2})
	outputs, err := stackoutputs.Read(local.File.Values[endpoints.Outputs])
	if err != nil {
		t.Fatal(err)
	}
	url, err := outputs.String(pipeline.OutputIngestURL) // the local Function URL
	if err != nil {
		t.Fatal(err)
	}
	// ingest itself answers a GET.
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET %s: %s, want 405 from ingest", url, resp.Status)
	}

	post := func(t *testing.T, contentType, encoding string, body []byte) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		if encoding != "" {
			req.Header.Set("Content-Encoding", encoding)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		answer, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(answer)
	}
	event := func(i int, ts string) string {
		return fmt.Sprintf(`{"eventId":"it-%d-%d","userId":"user-%d","type":"view","productId":"sku-1","ts":"%s"}`, time.Now().UnixNano(), i, i%10, ts)
	}

	t.Run("gzip NDJSON of 100 events", func(t *testing.T) {
		var lines []string
		for i := range 100 {
			lines = append(lines, event(i, "2026-11-26T12:00:00Z"))
		}
		var gz bytes.Buffer
		w := gzip.NewWriter(&gz)
		w.Write([]byte(strings.Join(lines, "\n") + "\n"))
		w.Close()
		status, answer := post(t, "application/x-ndjson", "gzip", gz.Bytes())
		if status != 202 || answer != `{"accepted":100,"rejected":[]}` {
			t.Fatalf("%d %s", status, answer)
		}
	})
	t.Run("BOM before the body", func(t *testing.T) {
		status, answer := post(t, "application/json", "", []byte("\uFEFF"+event(1, "2026-11-26T12:00:00Z")))
		if status != 202 || answer != `{"accepted":1,"rejected":[]}` {
			t.Fatalf("%d %s", status, answer)
		}
	})
	t.Run("one-digit hour", func(t *testing.T) {
		status, answer := post(t, "application/json", "", []byte(event(1, "2026-11-26T2:00:00Z")))
		if status != 202 || !strings.Contains(answer, `"accepted":0`) ||
			!strings.Contains(answer, `ts: \"2026-11-26T2:00:00Z\" is not an RFC 3339 timestamp: the hour must be 2 digits`) {
			t.Fatalf("%d %s", status, answer)
		}
	})
	t.Run("lower-case t and z", func(t *testing.T) {
		status, answer := post(t, "application/json", "", []byte(event(1, "2026-11-26t12:00:00z")))
		if status != 202 || answer != `{"accepted":1,"rejected":[]}` {
			t.Fatalf("%d %s", status, answer)
		}
	})
	t.Run("three problems", func(t *testing.T) {
		status, answer := post(t, "application/json", "", []byte(`{"userId":42,"type":"search","price":"cheap","ts":"yesterday"}`))
		var reply struct {
			Rejected []struct{ Errors []string } `json:"rejected"`
		}
		if status != 202 || json.Unmarshal([]byte(answer), &reply) != nil || len(reply.Rejected) != 1 || len(reply.Rejected[0].Errors) != 3 ||
			!strings.HasPrefix(reply.Rejected[0].Errors[0], "userId:") || !strings.HasPrefix(reply.Rejected[0].Errors[1], "price:") ||
			!strings.HasPrefix(reply.Rejected[0].Errors[2], "ts:") {
			t.Fatalf("%d %s", status, answer)
		}
	})
	t.Run("case-variant duplicate key", func(t *testing.T) {
		status, answer := post(t, "application/json", "", []byte(`{"eventId":"e","userId":"alice","USERID":"mallory","type":"search","ts":"2026-11-26T12:00:00Z"}`))
		if status != 202 || !strings.Contains(answer, `"accepted":0`) || !strings.Contains(answer, `USERID: keys are case-sensitive`) {
			t.Fatalf("%d %s", status, answer)
		}
	})
	t.Run("oversized body", func(t *testing.T) {
		status, answer := post(t, "application/json", "", bytes.Repeat([]byte("x"), 6<<20))
		if status != 413 || answer != `{"Message":"Request must be smaller than 6291456 bytes for the InvokeFunction operation"}` {
			t.Fatalf("%d %s", status, answer)
		}
	})
}
