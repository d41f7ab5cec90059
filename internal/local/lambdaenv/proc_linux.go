package lambdaenv

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// errPlatform is NewPool's error where environments cannot run; on Linux
// they can.
var errPlatform error

// childProcAttr puts aws-lambda-rie in its own process group, so a stop
// reaches everything it started, and has the kernel kill it when this
// process dies (Pdeathsig), so nothing outlives a killed parent.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// childrenOf lists the processes whose parent is pid, from /proc.
func childrenOf(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var children []int
	for _, entry := range entries {
		child, err := strconv.Atoi(entry.Name())
		if err != nil {
			continue
		}
		if parentOf(child) == pid {
			children = append(children, child)
		}
	}
	return children
}

// bootstrapsOf lists the children of pid that run the bootstrap binary. A
// child that was forked but has not yet exec'd is not one: a signal to it
// would hit aws-lambda-rie's own start-up, not the function.
func bootstrapsOf(pid int, bootstrap string) []int {
	var out []int
	for _, child := range childrenOf(pid) {
		if exe, err := os.Readlink("/proc/" + strconv.Itoa(child) + "/exe"); err == nil && exe == bootstrap {
			out = append(out, child)
		}
	}
	return out
}

func parentOf(pid int) int {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	// The command name, in parentheses, may hold spaces: fields follow the
	// last ')'. They are: state, ppid, ...
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return -1
	}
	fields := bytes.Fields(stat[i+1:])
	if len(fields) < 2 {
		return -1
	}
	ppid, err := strconv.Atoi(string(fields[1]))
	if err != nil {
		return -1
	}
	return ppid
}

// running reports whether pid is a process that has not ended: it exists
// and is not a zombie.
func running(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || !bytes.HasPrefix(bytes.TrimSpace(stat[i+1:]), []byte("Z"))
}
