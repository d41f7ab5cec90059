// Package pidfile is the pid files the environment supervisor writes and
// the pool reads: the pid in decimal, replaced at once.
package pidfile

import (
	"os"
	"strconv"
	"strings"
)

// Write replaces the file at once: a reader sees the old pid or the new,
// never a part.
func Write(path string, pid int) error {
	tmp := path + "." + strconv.Itoa(os.Getpid()) + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Read returns the pid in the file; 0 when there is none or it holds no
// pid.
func Read(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid < 0 {
		return 0
	}
	return pid
}
