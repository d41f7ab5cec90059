// Package env reads a function's settings from environment variables and
// reports every missing or malformed one at once, at start-up, so that a
// misconfigured function fails its init with one clear message instead of
// panicking inside a handler.
package env

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Reader collects problems while settings are read. Check Err after the
// last read.
type Reader struct {
	getenv   func(string) string
	problems []string
}

// New reads from getenv (os.Getenv in a function's main).
func New(getenv func(string) string) *Reader { return &Reader{getenv: getenv} }

// String is a required setting; what says what it is for.
func (r *Reader) String(name, what string) string {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		r.problems = append(r.problems, fmt.Sprintf("%s is not set: it must hold %s", name, what))
	}
	return v
}

// Optional is a setting with a default.
func (r *Reader) Optional(name, def string) string {
	if v := strings.TrimSpace(r.getenv(name)); v != "" {
		return v
	}
	return def
}

// Int is an optional integer setting in [min, max], def when unset.
func (r *Reader) Int(name string, def, min, max int) int {
	raw := strings.TrimSpace(r.getenv(name))
	if raw == "" {
		return def
	}
	v, err := strconv.Atoi(raw)
	if err != nil || v < min || v > max {
		r.problems = append(r.problems, fmt.Sprintf("%s = %q: must be an integer in %d..%d (unset means %d)", name, raw, min, max, def))
		return def
	}
	return v
}

// Err is nil when every setting read so far was good; otherwise one error
// listing every problem, one per line.
func (r *Reader) Err() error {
	if len(r.problems) == 0 {
		return nil
	}
	return errors.New("configuration error:\n  " + strings.Join(r.problems, "\n  "))
}
