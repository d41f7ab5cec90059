package ci

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// restatedPayloadQuota matches Lambda's 6 MB synchronous invocation payload
// written as a number: 6<<20, 6291456 (with or without digit separators),
// or a decimal 6 MB (6*1000*1000, 6000000, 6e6) as capacity once had it.
var restatedPayloadQuota = regexp.MustCompile(`\b6\s*<<\s*20\b|\b6_?291_?456\b|\b6\s*\*\s*10(00|24)\s*\*\s*10(00|24)\b|\b6_?000_?000\b|\b6e6\b`)

// TestLambdaPayloadQuotaIsDeclaredOnce keeps Lambda's invocation payload
// quota in one place, internal/aws/lambdaquota: five packages once declared
// it, one with a different value. Tests may pin the number Lambda enforces;
// code uses lambdaquota.SyncInvocationPayloadBytes.
func TestLambdaPayloadQuotaIsDeclaredOnce(t *testing.T) {
	eachGoFile(t, func(path, rel string) error {
		if filepath.Dir(rel) == "internal/aws/lambdaquota" {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(src), "\n") {
			if m := restatedPayloadQuota.FindString(line); m != "" {
				t.Errorf("%s:%d: %q restates Lambda's invocation payload quota; use lambdaquota.SyncInvocationPayloadBytes (or lambdaquota.RequestTooLargeMessage)", rel, i+1, m)
			}
		}
		return nil
	})
}

func TestRestatedPayloadQuota(t *testing.T) {
	for _, s := range []string{"const max = 6 << 20", "6<<20", "6291456 bytes", "6_291_456", "6 * 1000 * 1000", "6*1024*1024", "6000000", "6e6"} {
		if !restatedPayloadQuota.MatchString(s) {
			t.Errorf("%q is not caught", s)
		}
	}
	for _, s := range []string{"16 << 20", "6 << 10", "60000000", "256 << 10", "36291456"} {
		if restatedPayloadQuota.MatchString(s) {
			t.Errorf("%q is caught", s)
		}
	}
}
