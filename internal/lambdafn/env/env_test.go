package env

import (
	"strings"
	"testing"
)

func TestReportsEveryProblemAtOnce(t *testing.T) {
	vars := map[string]string{"GOOD": "x", "N": "7", "BADN": "seven", "BIG": "99"}
	r := New(func(k string) string { return vars[k] })
	if got := r.String("GOOD", "a thing"); got != "x" {
		t.Fatalf("GOOD = %q", got)
	}
	r.String("MISSING", "the table name")
	if got := r.Int("N", 1, 0, 10); got != 7 {
		t.Fatalf("N = %d", got)
	}
	if got := r.Int("UNSET", 3, 0, 10); got != 3 {
		t.Fatalf("UNSET = %d, want the default", got)
	}
	r.Int("BADN", 1, 0, 10)
	r.Int("BIG", 1, 0, 10)
	if got := r.Optional("UNSET", "def"); got != "def" {
		t.Fatalf("Optional = %q", got)
	}
	err := r.Err()
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"MISSING is not set: it must hold the table name", `BADN = "seven"`, `BIG = "99": must be an integer in 0..10`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestNoProblems(t *testing.T) {
	r := New(func(string) string { return "v" })
	r.String("A", "a")
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
}
