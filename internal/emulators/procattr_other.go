//go:build unix && !linux

package emulators

import "syscall"

// childProcAttr puts a stand-in in its own process group, so that a stop
// reaches everything it started. Without Linux's Pdeathsig, a stand-in
// whose parent is killed outright ends when its stdin closes.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
