//go:build unix

package lambdaenv

import (
	"syscall"

	"github.com/streamfn/streamfn/internal/dev/local/lambdaenv/pidfile"
)

// errPlatform is NewPool's error where environments cannot run: none on
// Linux, macOS and the other Unix systems, which all use the same
// supervisor (a pipe and process groups).
var errPlatform error

// childProcAttr makes the supervisor the leader of a new process group,
// which holds aws-lambda-rie too: a stop reaches everything it started.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// killGroup ends every process of the group pgid (also stopped ones).
func killGroup(pgid int) {
	if pgid > 1 {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
}

// killProcess ends one process.
func killProcess(pid int) {
	if pid > 0 {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// freezeProcess stops one process (SIGSTOP), as a hung function is.
func freezeProcess(pid int) {
	if pid > 0 {
		_ = syscall.Kill(pid, syscall.SIGSTOP)
	}
}

// groupOf is the process group of pid, 0 when it is gone.
func groupOf(pid int) int {
	pgid, err := syscall.Getpgid(pid)
	if err != nil {
		return 0
	}
	return pgid
}

// running reports whether pid exists (a zombie, until its parent or init
// reaps it, counts).
func running(pid int) bool {
	return pid > 0 && syscall.Kill(pid, 0) == nil
}

// readPid reads a pid file the supervisor wrote; 0 when there is none.
func readPid(path string) int { return pidfile.Read(path) }
