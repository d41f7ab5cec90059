package pidfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteThenRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bootstrap.pid")
	if got := Read(path); got != 0 {
		t.Fatalf("Read of a missing file = %d, want 0", got)
	}
	for _, pid := range []int{4242, 7} {
		if err := Write(path, pid); err != nil {
			t.Fatal(err)
		}
		if got := Read(path); got != pid {
			t.Fatalf("Read = %d, want %d", got, pid)
		}
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("Write left %d files, want the pid file alone", len(entries))
	}
	for _, junk := range []string{"", "abc", "-5", "12 34"} {
		if err := os.WriteFile(path, []byte(junk), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := Read(path); got != 0 {
			t.Errorf("Read of %q = %d, want 0", junk, got)
		}
	}
}
