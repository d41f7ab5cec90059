package ci

import (
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// repoRoot is the repository root, from this package's folder.
const repoRoot = "../../.."

// eachGoFile calls visit with every non-test Go file of the module (its
// path, and the path relative to the root with slashes), skipping hidden
// folders, node_modules and testdata, and fails the test if the walk saw
// fewer than 100 files: a walk that missed the repository proves nothing.
func eachGoFile(t *testing.T, visit func(path, rel string) error) {
	t.Helper()
	seen := 0
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if name := d.Name(); rel != "." && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		seen++
		return visit(path, rel)
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 100 {
		t.Fatalf("walked %d Go files: the walk missed the repository", seen)
	}
}
