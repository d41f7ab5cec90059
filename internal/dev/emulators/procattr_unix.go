//go:build unix

package emulators

import "syscall"

// childProcAttr puts a stand-in in its own process group, so that a stop
// reaches everything it started. A stand-in whose parent dies, however it
// dies, ends when its stdin (a pipe from the parent) closes: the same on
// Linux and macOS.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
