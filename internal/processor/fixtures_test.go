package processor

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamfn/streamfn/internal/activity"
	"github.com/streamfn/streamfn/internal/aws/store"
)

var update = flag.Bool("update", false, "rewrite the .golden files in testdata")

// TestFixtures processes the Kinesis events in testdata (written by
// scripts/genevents) and compares the outcome and every user's features
// with the .golden files next to them, so that any change in what the
// processor computes shows up in review.
func TestFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/kinesis-*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			payload, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			st := &store.Memory{}
			q := &queue{}
			p := newProcessor(st, q)
			out, err := p.Process(t.Context(), payload)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			fmt.Fprintf(&b, "records %d, user records %d, valid %d, poison %d, applied %d, duplicates %d, users %d, writes %d, failed %q\n",
				out.Records, out.UserRecords, out.Valid, out.Poison, out.Applied, out.DuplicatesSkipped, out.Users, out.Writes, out.FailedSequenceNumber)
			for _, m := range q.sent {
				fmt.Fprintf(&b, "poison %s/%d: %s\n", m.SequenceNumber, m.SubSequenceNumber, m.Reason)
			}
			for i := range out.Users {
				user := fmt.Sprintf("user-%05d", i)
				it := st.Item(user)
				if it == nil {
					continue
				}
				types := map[string]int64{}
				for _, typ := range activity.Types {
					if n := it.TypeCount(typ); n > 0 {
						types[typ.String()] = n
					}
				}
				var products []string
				for _, p := range it.RecentProducts {
					products = append(products, p.ProductID)
				}
				line, _ := json.Marshal(map[string]any{"userId": user, "eventCount": it.EventCount, "typeCounts": types,
					"categoryCounts": it.CategoryCounts, "lastEventAt": it.LastEventAt, "recentProducts": products,
					"purchaseTotal": it.PurchaseTotal.String()})
				b.Write(line)
				b.WriteByte('\n')
			}
			golden := strings.TrimSuffix(file, ".json") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update once to create it)", err)
			}
			if b.String() != string(want) {
				t.Fatalf("outcome differs from %s:\n%s", golden, b.String())
			}
			if out.Valid+out.Poison != out.UserRecords || out.FailedSequenceNumber != "" {
				t.Fatalf("outcome %+v", out)
			}
		})
	}
}

// FuzzInvoke: no payload makes the handler panic, and every response is
// exactly the contracted JSON with a non-empty identifier when it names one.
func FuzzInvoke(f *testing.F) {
	for _, file := range []string{"testdata/kinesis-plain.json", "testdata/kinesis-kpl.json"} {
		if payload, err := os.ReadFile(file); err == nil {
			f.Add(payload)
		}
	}
	f.Add([]byte(`{"Records":[]}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		p := newProcessor(&store.Memory{}, &queue{})
		out, err := p.Invoke(t.Context(), payload)
		if err != nil {
			return
		}
		var resp struct {
			BatchItemFailures []struct {
				ItemIdentifier string `json:"itemIdentifier"`
			} `json:"batchItemFailures"`
		}
		if err := json.Unmarshal(out, &resp); err != nil || resp.BatchItemFailures == nil {
			t.Fatalf("response %q", out)
		}
		for _, f := range resp.BatchItemFailures {
			if f.ItemIdentifier == "" {
				t.Fatalf("empty item identifier in %s", out)
			}
		}
	})
}
