package emulators

import "syscall"

// childProcAttr puts a stand-in in its own process group, so that a stop
// reaches everything it started, and has the kernel kill it when this
// process dies (Pdeathsig), so that it never outlives a killed parent.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
