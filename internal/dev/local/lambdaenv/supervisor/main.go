// Command supervisor keeps an execution environment (aws-lambda-rie and the
// function's bootstrap under it) from outliving the local run, the same way
// on Linux and macOS: with a pipe and process groups, no Pdeathsig and no
// /proc. lambdaenv builds it and starts one per environment; it is not
// meant to be run by hand.
//
// It runs in one of two roles:
//
//   - environment: `supervisor env <bootstrap pid file> -- <aws-lambda-rie> <args>...`
//     The pool starts it as the leader of a new process group, with a pipe
//     as its stdin. It starts aws-lambda-rie in its group and waits. When
//     the pipe closes (the pool stopped it, or the run died and the kernel
//     closed the pipe's other end), it kills the bootstrap's group and its
//     own, and so everything the environment started.
//   - bootstrap: aws-lambda-rie runs it as the function's bootstrap (the
//     pool names it so), with STREAMFN_BOOTSTRAP in the environment. It
//     starts that binary, the function's real bootstrap, as its child in
//     its process group (the one aws-lambda-rie made for the runtime and
//     kills when it ends one), writes the child's pid to the file
//     STREAMFN_BOOTSTRAP_PIDFILE names (for chaos, which signals exactly
//     the function's process) and exits as the child exits. The function
//     sees neither variable.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"

	"github.com/streamfn/streamfn/internal/dev/local/lambdaenv/pidfile"
)

// The variables aws-lambda-rie hands on to the bootstrap role.
const (
	bootstrapVar = "STREAMFN_BOOTSTRAP"
	pidFileVar   = "STREAMFN_BOOTSTRAP_PIDFILE"
)

func main() {
	// The environment role's variables reach the bootstrap role through
	// aws-lambda-rie, so its arguments decide first.
	if len(os.Args) >= 5 && os.Args[1] == "env" && os.Args[3] == "--" {
		os.Exit(runEnvironment(os.Args[2], os.Args[4:]))
	}
	if bootstrap := os.Getenv(bootstrapVar); bootstrap != "" {
		os.Exit(runBootstrap(bootstrap, os.Getenv(pidFileVar)))
	}
	fmt.Fprintln(os.Stderr, "supervisor: started by internal/dev/local/lambdaenv, not by hand: supervisor env <pid file> -- <aws-lambda-rie> <args>...")
	os.Exit(2)
}

func runEnvironment(pidFile string, command []string) int {
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), pidFileVar+"="+pidFile)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "supervisor: starting", command[0]+":", err)
		return 1
	}
	_ = pidfile.Write(pidFile+".rie", cmd.Process.Pid) // for the pool's Pids, which tests check
	exited := make(chan int, 1)
	go func() {
		err := cmd.Wait()
		var exit *exec.ExitError
		switch {
		case err == nil:
			exited <- 0
		case errors.As(err, &exit):
			exited <- max(1, exit.ExitCode())
		default:
			exited <- 1
		}
	}()
	parentGone := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin) // returns when the pipe closes
		close(parentGone)
	}()
	code := 0
	select {
	case <-parentGone:
	case code = <-exited:
	}
	// Everything goes: the bootstrap's group, then this one (aws-lambda-rie
	// and this process).
	if pid := pidfile.Read(pidFile); pid > 0 {
		if pgid, err := syscall.Getpgid(pid); err == nil && pgid > 1 && pgid != os.Getpid() {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	_ = syscall.Kill(-os.Getpid(), syscall.SIGKILL)
	return code
}

func runBootstrap(bootstrap, pidFile string) int {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, bootstrapVar+"=") && !strings.HasPrefix(kv, pidFileVar+"=") {
			env = append(env, kv)
		}
	}
	cmd := exec.Command(bootstrap, os.Args[1:]...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// The child stays in this process group: aws-lambda-rie signals the
	// group (SIGTERM, then SIGKILL) to end a runtime, which reaches both.
	// This process outlives a SIGTERM, to exit as the function exits;
	// Notify, unlike Ignore, is not inherited by the child.
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "supervisor: starting the bootstrap:", err)
		return 1
	}
	pid := cmd.Process.Pid
	if pidFile != "" {
		_ = pidfile.Write(pidFile, pid)
	}
	go func() {
		for range signals {
		}
	}()
	err := cmd.Wait()
	if pidFile != "" && pidfile.Read(pidFile) == pid {
		os.Remove(pidFile)
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return max(1, exit.ExitCode())
	default:
		return 1
	}
}
