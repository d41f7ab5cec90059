package ci

import (
	"io/fs"
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
	root := "../../.."
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if name := d.Name(); rel != "." && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || filepath.Dir(rel) == "internal/aws/lambdaquota" {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		checked++
		for i, line := range strings.Split(string(src), "\n") {
			if m := restatedPayloadQuota.FindString(line); m != "" {
				t.Errorf("%s:%d: %q restates Lambda's invocation payload quota; use lambdaquota.SyncInvocationPayloadBytes (or lambdaquota.RequestTooLargeMessage)", rel, i+1, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 100 {
		t.Fatalf("checked %d files: the walk missed the repository", checked)
	}
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
