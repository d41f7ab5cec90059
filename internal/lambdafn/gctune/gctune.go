// Package gctune sizes the Go garbage collector to a Lambda function.
//
// Go's default (GOGC=100) collects whenever the heap has doubled since the
// last collection. A function's live heap is a few MB of the 256 MB or more
// Lambda gives it, so by default it collects after every few MB allocated,
// several times per invocation, and spends CPU (billed as duration) to keep
// free memory that nothing else can use. Apply lets the heap grow to
// Percent% over its live size before collecting and, so that an unusually
// large invocation collects sooner instead of running out, sets a soft
// limit at LimitFraction of the function's memory.
package gctune

import (
	"runtime/debug"
	"strconv"
)

// Percent is the GOGC that Apply sets: collect when the heap has grown by
// this many percent of the live heap.
const Percent = 400

// LimitFraction is the share of the function's memory that Apply sets as
// the soft memory limit (GOMEMLIMIT).
const LimitFraction = 0.75

// Settings are what Apply set; zero fields were left as they were.
type Settings struct {
	Percent    int   // GOGC
	LimitBytes int64 // GOMEMLIMIT
}

// Apply sets GOGC to Percent and GOMEMLIMIT to LimitFraction of
// AWS_LAMBDA_FUNCTION_MEMORY_SIZE (MB), which Lambda sets. A GOGC or
// GOMEMLIMIT in the environment wins: the runtime has applied it already.
func Apply(getenv func(string) string) Settings {
	var s Settings
	if getenv("GOGC") == "" {
		debug.SetGCPercent(Percent)
		s.Percent = Percent
	}
	if getenv("GOMEMLIMIT") == "" {
		if mb, err := strconv.Atoi(getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")); err == nil && mb > 0 {
			s.LimitBytes = int64(float64(int64(mb)<<20) * LimitFraction)
			debug.SetMemoryLimit(s.LimitBytes)
		}
	}
	return s
}
