//go:build !unix

package lambdaenv

import (
	"errors"
	"runtime"
	"syscall"
)

// errPlatform: the environments run on Linux and macOS (and other Unix
// systems), which have process groups.
var errPlatform = errors.New("the local Lambda environments need Linux or macOS (process groups), and this is " +
	runtime.GOOS + ": run the local pipeline in WSL 2")

func childProcAttr() *syscall.SysProcAttr { return nil }

func killGroup(int) {}

func killProcess(int) {}

func freezeProcess(int) {}

func groupOf(int) int { return 0 }

func running(int) bool { return false }

func readPid(string) int { return 0 }
