package funcurl_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/streamfn/streamfn/internal/emulators"
	"github.com/streamfn/streamfn/internal/local/lambdaenv"
	"github.com/streamfn/streamfn/internal/local/run"
)

// TestLocalRunAnswersWhatClientsSend starts the whole local run (the
// stand-ins, aws-lambda-rie and the real ingest function behind this
// package's Function URL) and sends it the bodies of issue 12's "Done
// when" list, each of which must get the answer the README documents.
func TestLocalRunAnswersWhatClientsSend(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole local run")
	}
	if err := lambdaenv.CheckPlatform(); err != nil {
		t.Skipf("skipping: %v", err)
	}
	root, err := emulators.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)

	ctx, stop := context.WithCancel(t.Context())
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run.Run(ctx, run.Options{Root: root, Stack: "dev", Duration: 10 * time.Minute, Port: port, Seed: 1,
			IngestCap: 2, Stdout: &out, Stderr: &out})
	}()
	ended := false
	t.Cleanup(func() {
		stop()
		if ended {
			return
		}
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("local run: %v\n%s", err, out.String())
			}
		case <-time.After(2 * time.Minute):
			t.Errorf("the local run did not stop within 2 minutes")
		}
	})

	// Ready when the URL answers (GET: 405 from ingest itself).
	deadline := time.Now().Add(4 * time.Minute)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusMethodNotAllowed {
				break
			}
		}
		select {
		case err := <-done:
			ended = true
			if errors.Is(err, emulators.ErrNodeMissing) {
				t.Skipf("skipping: %v", err)
			}
			t.Fatalf("the local run ended before its URL answered: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the local run's URL did not answer within 4 minutes\n%s", out.String())
		}
		time.Sleep(250 * time.Millisecond)
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
