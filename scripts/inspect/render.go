package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/lipgloss/table"
)

func writeJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// newTable is kubectl-like: columns, a rule under the header, no box.
func newTable(headers ...string) *table.Table {
	return table.New().
		Border(lipgloss.NormalBorder()).
		BorderTop(false).BorderBottom(false).BorderLeft(false).BorderRight(false).
		BorderColumn(false).BorderHeader(true).
		StyleFunc(func(row, col int) lipgloss.Style { return lipgloss.NewStyle().PaddingRight(2) }).
		Headers(headers...)
}

// writeTables is the same data as writeJSON, for a person.
func writeTables(w io.Writer, r *Report) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("streamfn stack %s (%s), %s", r.Stack, r.Source, r.At)
	if u := r.User; u != nil {
		p("")
		if !u.Found {
			p("user %s: no item in the table (no valid event of this user was processed)", u.UserID)
			return
		}
		t := newTable("FIELD", "VALUE").
			Row("userId", u.UserID).
			Row("eventCount", strconv.FormatInt(u.EventCount, 10)).
			Row("typeCounts", counts(u.TypeCounts)).
			Row("categoryCounts", counts(u.CategoryCounts)).
			Row("lastEventAt", u.LastEventAt).
			Row("purchaseTotal", u.PurchaseTotal).
			Row("recentProducts", strings.Join(u.RecentProducts, ", ")).
			Row("version", strconv.FormatInt(u.Version, 10))
		p("%s", t.Render())
		return
	}
	if t := r.TopUsers; t != nil {
		p("")
		note := ""
		if t.Truncated {
			note = " (the scan stopped there: raise -scan-limit to read more)"
		}
		p("top users, by events, of %d items read%s:", t.Scanned, note)
		tab := newTable("USER", "EVENTS", "LAST EVENT", "PURCHASES")
		for _, u := range t.Users {
			tab.Row(u.UserID, strconv.FormatInt(u.EventCount, 10), u.LastEventAt, u.PurchaseTotal)
		}
		p("%s", tab.Render())
	}
	if len(r.Queues) > 0 {
		p("")
		p("queues:")
		tab := newTable("QUEUE", "VISIBLE", "IN FLIGHT", "DELAYED", "URL")
		for _, q := range r.Queues {
			tab.Row(q.Name, strconv.Itoa(q.Visible), strconv.Itoa(q.InFlight), strconv.Itoa(q.Delayed), q.URL)
		}
		p("%s", tab.Render())
	}
	if r.Poison != nil {
		p("")
		if len(r.Poison) == 0 {
			p("newest poison messages: none")
		} else {
			p("newest poison messages (records the processor rejected):")
			tab := newTable("SENT", "SHARD", "SEQUENCE", "PARTITION KEY", "BYTES", "REASON")
			for _, m := range r.Poison {
				tab.Row(m.SentAt, m.ShardID, m.SequenceNumber, m.PartitionKey, strconv.Itoa(m.PayloadBytes), m.Reason)
			}
			p("%s", tab.Render())
		}
	}
	if r.FailuresUnread != "" {
		p("")
		p("failure records: not read: %s", r.FailuresUnread)
	}
	if r.Failures != nil {
		p("")
		if len(r.Failures) == 0 {
			p("failure records: none (no batch was discarded)")
		} else {
			p("newest failure records (batches the mapping discarded; see the README on replaying them):")
			tab := newTable("SENT", "CONDITION", "INVOKES", "ERROR", "SHARD", "RECORDS", "SEQUENCE RANGE")
			for _, f := range r.Failures {
				tab.Row(f.SentAt, f.Condition, strconv.Itoa(f.InvokeCount), f.FunctionError, f.ShardID, strconv.Itoa(f.BatchSize), f.StartSequenceNumber+" .. "+f.EndSequenceNumber)
			}
			p("%s", tab.Render())
		}
	}
	if len(r.Shards) > 0 {
		p("")
		p("shards (iterator age: the oldest record not yet processed):")
		tab := newTable("SHARD", "STATE", "ITERATOR AGE", "PROCESSED UP TO")
		for _, s := range r.Shards {
			state := "open"
			if !s.Open {
				state = "closed"
			}
			tab.Row(s.ShardID, state, (time.Duration(s.IteratorAgeMs) * time.Millisecond).String(), s.Position)
		}
		p("%s", tab.Render())
	}
}

func counts(m map[string]int64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
