package kinesisevent

import (
	"bytes"
	"encoding/json"
	"slices"
)

// Checkpoint applies Lambda's ReportBatchItemFailures rules to a function's
// response for a batch of the given sequence numbers
// (https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html).
// Success: an empty or null response, {} or an empty or null
// batchItemFailures. Whole-batch failure: a response that is not such a
// document, or an itemIdentifier that is empty, null, missing or names no
// record of the batch. Otherwise the batch resumes at the lowest reported
// sequence number.
func Checkpoint(payload []byte, batch []string) (failedFrom int, wholeBatch bool) {
	trimmed := bytes.TrimSpace(payload) // JSON white space is a subset
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return -1, false
	}
	var resp struct {
		BatchItemFailures []struct {
			ItemIdentifier *string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(trimmed, &resp); err != nil {
		return 0, true
	}
	if len(resp.BatchItemFailures) == 0 {
		return -1, false
	}
	lowest := len(batch)
	for _, f := range resp.BatchItemFailures {
		if f.ItemIdentifier == nil || *f.ItemIdentifier == "" {
			return 0, true
		}
		i := slices.Index(batch, *f.ItemIdentifier)
		if i < 0 {
			return 0, true
		}
		lowest = min(lowest, i)
	}
	return lowest, false
}
