package gctune

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestApply(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	for _, c := range []struct {
		name string
		env  map[string]string
		want Settings
	}{
		{"lambda", map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"}, Settings{Percent: 400, LimitBytes: 768 << 20}},
		{"no memory size", map[string]string{}, Settings{Percent: 400}},
		{"bad memory size", map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "lots"}, Settings{Percent: 400}},
		{"GOGC set", map[string]string{"GOGC": "off", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256"}, Settings{LimitBytes: 192 << 20}},
		{"both set", map[string]string{"GOGC": "50", "GOMEMLIMIT": "100MiB", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256"}, Settings{}},
	} {
		debug.SetGCPercent(100)
		debug.SetMemoryLimit(math.MaxInt64)
		got := Apply(func(name string) string { return c.env[name] })
		if got != c.want {
			t.Errorf("%s: Apply = %+v, want %+v", c.name, got, c.want)
		}
		wantPercent, wantLimit := 100, int64(math.MaxInt64)
		if c.want.Percent != 0 {
			wantPercent = c.want.Percent
		}
		if c.want.LimitBytes != 0 {
			wantLimit = c.want.LimitBytes
		}
		if p := debug.SetGCPercent(100); p != wantPercent {
			t.Errorf("%s: the runtime's GOGC is %d, want %d", c.name, p, wantPercent)
		}
		if l := debug.SetMemoryLimit(-1); l != wantLimit {
			t.Errorf("%s: the runtime's memory limit is %d, want %d", c.name, l, wantLimit)
		}
	}
}
