package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
)

// Writes is what the processor's DynamoDB writes measured over a run, read from its EMF lines:
// the figures the capacity planner (internal/ops/capacity) predicts.
type Writes struct {
	Invocations     int     `json:"invocations"` // EMF lines: one per processor invocation
	Events          int     `json:"events"`      // valid events the invocations handled
	Writes          int     `json:"writes"`
	WriteUnits      int     `json:"writeUnits"`
	WritesPerEvent  float64 `json:"writesPerEvent"`
	MeanItemBytes   float64 `json:"meanItemBytes"`
	InvocationsPerS float64 `json:"invocationsPerS"` // the mapping's invocations over the processing time
}

// ProcessorWrites sums the processor's EMF lines in its log file.
func ProcessorWrites(logPath string) (Writes, error) {
	f, err := os.Open(logPath)
	if err != nil {
		return Writes{}, err
	}
	defer f.Close()
	var w Writes
	itemBytes := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 4<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, []byte(`"_aws"`)) || !bytes.Contains(line, []byte(`"Writes"`)) {
			continue
		}
		var m struct {
			Valid, Writes, WriteUnits, ItemBytes int
		}
		start := bytes.IndexByte(line, '{')
		if start < 0 || json.Unmarshal(line[start:], &m) != nil {
			continue
		}
		w.Invocations++
		w.Events += m.Valid
		w.Writes += m.Writes
		w.WriteUnits += m.WriteUnits
		itemBytes += m.ItemBytes
	}
	if w.Events > 0 {
		w.WritesPerEvent = float64(w.Writes) / float64(w.Events)
	}
	if w.Writes > 0 {
		w.MeanItemBytes = float64(itemBytes) / float64(w.Writes)
	}
	return w, sc.Err()
}
