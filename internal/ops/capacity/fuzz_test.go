package capacity

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzLoadFile feeds load files to the planner. A file is either refused with a message naming
// a flag, or the planner makes settings the program's validation accepts: a load that passes
// Check but yields an invalid stack would be a planner bug.
func FuzzLoadFile(f *testing.F) {
	for _, seed := range []string{
		"rate: 5000\nevent-bytes: 1000\n",
		"rate: 10\nusers: 3\nlatency: 300ms\n",
		"rate: 2000\npeak-rate: 20000\nmax-event-bytes: 900000\nbatch: 6\n",
		"rate: 1000000\nevent-bytes: 100\nusers: 50000000\nhot-user-share: 0.0009\n",
		"rate: 50\nevent-bytes: 1048576\nlatency: 1h\narch: x86_64\ncurrent-shards: 3\n",
		"rate: 7\nrecords-per-s: 0.5\n",
	} {
		f.Add(seed)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, text string) {
		path := filepath.Join(dir, "load.yaml")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		l := DefaultLoad()
		if err := l.ReadFile(path); err != nil {
			return
		}
		if l.Rate > 2e6 || l.Users > 1e9 {
			return // beyond what the tables test; the arithmetic holds, the run time does not
		}
		if err := l.Check(); err != nil {
			if !strings.Contains(err.Error(), "-") {
				t.Errorf("refusal names no flag: %v", err)
			}
			return
		}
		start := time.Now()
		if _, err := Size(l, projectDir, DefaultPrices()); err != nil && !strings.HasPrefix(err.Error(), "impossible load") {
			t.Errorf("load %+v passes Check but the planner fails: %v", l, err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("load %+v took %s to plan", l, d)
		}
	})
}
