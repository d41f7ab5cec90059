//go:build unix && !linux

package lambdaenv

import (
	"errors"
	"runtime"
	"syscall"
)

// errPlatform: the environments need Linux. Pdeathsig keeps aws-lambda-rie
// from outliving a killed parent, and /proc finds the bootstraps that stop
// and chaos signal.
var errPlatform = errors.New("the local Lambda environments need Linux (they use Pdeathsig and /proc to control aws-lambda-rie and the bootstraps), and this is " +
	runtime.GOOS + ": run the local pipeline in a Linux VM or container")

func childProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func childrenOf(int) []int { return nil }

func bootstrapsOf(int, string) []int { return nil }

func running(int) bool { return false }
