//go:build linux

package lambdaenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/streamfn/streamfn/internal/dev/emulators"
)

// rieBinary and fakeFunction are built once, in TestMain.
var rieBinary, supervisorBinary, fakeFunction string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lambdaenv-test-")
	if err != nil {
		panic(err)
	}
	code, err := buildAndRun(m, dir)
	os.RemoveAll(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(code)
}

func buildAndRun(m *testing.M, dir string) (int, error) {
	root, err := emulators.ModuleRoot()
	if err != nil {
		return 0, err
	}
	if rieBinary, err = BuildRIE(context.Background(), root, dir); err != nil {
		return 0, err
	}
	if supervisorBinary, err = BuildSupervisor(context.Background(), root, dir); err != nil {
		return 0, err
	}
	fakeFunction = filepath.Join(dir, "fakefn", "bootstrap")
	if err := goBuild(context.Background(), root, fakeFunction, "./internal/dev/local/lambdaenv/testdata/fakefn", nil); err != nil {
		return 0, err
	}
	return m.Run(), nil
}

func newPool(t *testing.T, mutate func(*Spec)) *Pool {
	t.Helper()
	spec := Spec{
		Name:        "fake",
		Bootstrap:   fakeFunction,
		RIE:         rieBinary,
		Supervisor:  supervisorBinary,
		Env:         map[string]string{"GREETING": "hello"},
		Timeout:     2 * time.Second,
		MemoryMB:    256,
		Concurrency: 2,
	}
	if mutate != nil {
		mutate(&spec)
	}
	p, err := NewPool(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

type fakeResponse struct {
	Pid int    `json:"pid"`
	Env string `json:"env"`
}

func invoke(t *testing.T, p *Pool, payload string) (Result, fakeResponse) {
	t.Helper()
	res, err := p.Invoke(t.Context(), []byte(payload))
	if err != nil {
		t.Fatalf("Invoke(%s): %v", payload, err)
	}
	var out fakeResponse
	if res.FunctionError == "" {
		if err := json.Unmarshal(res.Payload, &out); err != nil {
			t.Fatalf("Invoke(%s) payload %q: %v", payload, res.Payload, err)
		}
	}
	return res, out
}

func TestInvokeRunsTheFunctionWithItsEnvironment(t *testing.T) {
	p := newPool(t, nil)
	res, out := invoke(t, p, `{"env":"GREETING"}`)
	if res.FunctionError != "" || out.Env != "hello" || !res.ColdStart {
		t.Fatalf("first invoke = %+v %+v; want success, GREETING=hello, cold start", res, out)
	}
	for _, name := range []string{"AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"} {
		_, got := invoke(t, p, `{"env":"`+name+`"}`)
		want := map[string]string{"AWS_LAMBDA_FUNCTION_NAME": "fake", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256"}[name]
		if got.Env != want {
			t.Errorf("%s = %q, want %q", name, got.Env, want)
		}
	}
	res2, out2 := invoke(t, p, `{}`)
	if res2.ColdStart || out2.Pid != out.Pid {
		t.Errorf("second invoke: cold=%v pid=%d; want the warm environment, pid %d", res2.ColdStart, out2.Pid, out.Pid)
	}
	if s := p.Stats(); s.Environments != 1 || s.ColdStarts != 1 || s.Invocations != 4 {
		t.Errorf("stats = %+v; want 1 environment, 1 cold start, 4 invocations", s)
	}
}

func TestFunctionErrorIsUnhandledAndKeepsTheEnvironment(t *testing.T) {
	p := newPool(t, nil)
	_, before := invoke(t, p, `{}`)
	res, _ := invoke(t, p, `{"error":"boom"}`)
	if res.FunctionError != "Unhandled" || !strings.Contains(string(res.Payload), "boom") {
		t.Fatalf("error invoke = %+v (%s); want Unhandled with the message", res, res.Payload)
	}
	_, after := invoke(t, p, `{}`)
	if after.Pid != before.Pid {
		t.Errorf("a returned error recycled the environment: pid %d -> %d", before.Pid, after.Pid)
	}
}

func TestCrashIsRuntimeExitErrorAndTheNextInvokeRecovers(t *testing.T) {
	p := newPool(t, nil)
	_, before := invoke(t, p, `{}`)
	res, _ := invoke(t, p, `{"crash":true}`)
	if res.FunctionError != "Unhandled" || res.ErrorType != "Runtime.ExitError" {
		t.Fatalf("crash invoke = %+v (%s); want Unhandled Runtime.ExitError", res, res.Payload)
	}
	res, after := invoke(t, p, `{}`)
	if res.FunctionError != "" || after.Pid == before.Pid || !res.ColdStart {
		t.Fatalf("after a crash: %+v pid %d (before %d); want a fresh environment that works", res, after.Pid, before.Pid)
	}
	if s := p.Stats(); s.Crashes != 1 || s.Errors != 1 {
		t.Errorf("stats = %+v; want 1 crash counted as 1 error", s)
	}
}

func TestTimeoutIsSandboxTimedout(t *testing.T) {
	p := newPool(t, func(s *Spec) { s.Timeout = time.Second })
	start := time.Now()
	res, _ := invoke(t, p, `{"sleepMs":5000}`)
	if res.FunctionError != "Unhandled" || res.ErrorType != "Sandbox.Timedout" {
		t.Fatalf("slow invoke = %+v (%s); want Unhandled Sandbox.Timedout", res, res.Payload)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("timed-out invoke took %s; the 1s timeout should end it", took)
	}
	if res, _ := invoke(t, p, `{}`); res.FunctionError != "" {
		t.Fatalf("invoke after a timeout = %+v (%s); want success", res, res.Payload)
	}
}

func TestInvocationsBeyondConcurrencyAreThrottled(t *testing.T) {
	p := newPool(t, func(s *Spec) { s.Concurrency = 2 })
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { invoke(t, p, `{"sleepMs":800}`) })
	}
	// Wait until both environments are busy.
	deadline := time.Now().Add(5 * time.Second)
	for p.Stats().Busy < 2 || p.Stats().Environments < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("two environments never got busy: %+v", p.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := p.Invoke(t.Context(), []byte(`{}`)); !errors.Is(err, ErrThrottled) {
		t.Fatalf("third concurrent invoke: err = %v, want ErrThrottled", err)
	}
	wg.Wait()
	if s := p.Stats(); s.Throttles != 1 || s.Environments != 2 || s.MaxConcurrency != 2 {
		t.Errorf("stats = %+v; want 1 throttle, 2 environments, max concurrency 2", s)
	}
	if res, _ := invoke(t, p, `{}`); res.FunctionError != "" || res.ColdStart {
		t.Errorf("invoke after the burst = %+v; want a warm success", res)
	}
}

func TestChaosKillsAndFreezesAndTheFunctionKeepsWorking(t *testing.T) {
	p := newPool(t, func(s *Spec) {
		s.Timeout = time.Second
		s.Chaos = Chaos{Probability: 1, Seed: 7, MaxFreezes: 2}
	})
	var crashes, timeouts int
	for range 10 {
		res, _ := invoke(t, p, `{"sleepMs":300}`)
		switch res.ErrorType {
		case "Runtime.ExitError":
			crashes++
		case "Sandbox.Timedout":
			timeouts++
		default:
			t.Fatalf("chaos with probability 1 let an invocation through: %+v (%s)", res, res.Payload)
		}
	}
	s := p.Stats()
	if crashes == 0 || timeouts == 0 || timeouts > 2 || s.ChaosKills != int64(crashes) || s.ChaosFreezes != int64(timeouts) {
		t.Fatalf("crashes=%d timeouts=%d stats=%+v; want both kinds, each counted, at most 2 timeouts", crashes, timeouts, s)
	}
}

func TestCloseKillsEveryProcessAndFreesThePorts(t *testing.T) {
	p := newPool(t, func(s *Spec) { s.Concurrency = 3 })
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { invoke(t, p, `{"sleepMs":200}`) })
	}
	wg.Wait()
	pids := p.Pids()
	if len(pids) != 12 {
		t.Fatalf("pids = %v; want 3 environments of a supervisor, aws-lambda-rie, the supervisor's bootstrap role and the function", pids)
	}
	var addrs []string
	p.mu.Lock()
	for env := range p.all {
		addrs = append(addrs, strings.TrimSuffix(strings.TrimPrefix(env.url, "http://"), invokePath))
	}
	p.mu.Unlock()
	// Freeze one bootstrap: Close must still end it.
	p.mu.Lock()
	for env := range p.all {
		_ = syscall.Kill(env.bootstrap(), syscall.SIGSTOP)
		break
	}
	p.mu.Unlock()
	p.Close()
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("process %d still runs after Close", pid)
		}
	}
	for _, addr := range addrs {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("port %s still taken after Close: %v", addr, err)
			continue
		}
		l.Close()
	}
	if _, err := p.Invoke(t.Context(), []byte(`{}`)); !errors.Is(err, ErrClosed) {
		t.Errorf("invoke after Close: err = %v, want ErrClosed", err)
	}
}

// alive reports whether pid runs: it exists and is not a zombie, as ps
// (Linux and macOS alike) reports its state.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	out, err := exec.Command("ps", "-o", "stat=", "-p", strconv.Itoa(pid)).Output()
	state := strings.TrimSpace(string(out))
	return err == nil && state != "" && !strings.HasPrefix(state, "Z")
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		body      string
		wantError string
		wantType  string
	}{
		{"success", 200, `{"batchItemFailures":[]}`, "", ""},
		{"returned error", 200, `{"errorMessage":"boom","errorType":"errorString"}`, "Unhandled", "errorString"},
		{"error type first", 200, `{"errorType":"X","errorMessage":"m"}`, "Unhandled", "X"},
		{"timeout", 200, `Task timed out after 3.00 seconds`, "Unhandled", "Sandbox.Timedout"},
		{"crash", 502, `{"errorType":"Runtime.ExitError","errorMessage":"exit status 3"}`, "Unhandled", "Runtime.ExitError"},
		{"emulator refused", 400, ``, "Unhandled", "Runtime.Unknown"},
		{"a response mentioning errorMessage later", 200, `{"ok":true,"errorMessage":"no"}`, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classify(tt.status, []byte(tt.body), 3*time.Second)
			if got.FunctionError != tt.wantError || got.ErrorType != tt.wantType {
				t.Errorf("classify(%d, %q) = %q/%q, want %q/%q", tt.status, tt.body, got.FunctionError, got.ErrorType, tt.wantError, tt.wantType)
			}
			if got.FunctionError != "" && !json.Valid(got.Payload) {
				t.Errorf("error payload %q is not JSON", got.Payload)
			}
		})
	}
}

// TestHelperPoolOwner is not a test on its own: TestKilledParentTakesItsEnvironments
// runs the test binary with it, to own a pool and then be killed.
func TestHelperPoolOwner(t *testing.T) {
	if os.Getenv("LAMBDAENV_POOL_OWNER") == "" {
		t.Skip("run by TestKilledParentTakesItsEnvironments")
	}
	p := newPool(t, nil)
	invoke(t, p, `{}`)
	fmt.Println("pids", strings.Trim(fmt.Sprint(p.Pids()), "[]"))
	time.Sleep(time.Minute) // until killed
}

// A run that is killed outright (SIGKILL: no deferred Close) leaves no
// environment behind: each supervisor sees its pipe close and ends its
// environment. The same code runs on Linux and macOS.
func TestKilledParentTakesItsEnvironments(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperPoolOwner$", "-test.v")
	cmd.Env = append(os.Environ(), "LAMBDAENV_POOL_OWNER=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var pids []int
	buf := make([]byte, 64<<10)
	var text string
	for deadline := time.Now().Add(30 * time.Second); len(pids) == 0 && time.Now().Before(deadline); {
		n, err := out.Read(buf)
		text += string(buf[:n])
		for _, line := range strings.Split(text, "\n") {
			if rest, ok := strings.CutPrefix(line, "pids "); ok && strings.Count(rest, " ") == 3 {
				for _, f := range strings.Fields(rest) {
					pid, _ := strconv.Atoi(f)
					pids = append(pids, pid)
				}
			}
		}
		if err != nil {
			break
		}
	}
	if len(pids) != 4 {
		t.Fatalf("the owner printed no pids of one environment:\n%s", text)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range pids {
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if alive(pid) {
			t.Errorf("process %d outlived its killed parent", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// Failure documents are JSON that any reader takes, whatever the message,
// and are read with a JSON decoder, not by matching bytes.
func TestErrorDocumentsAreJSON(t *testing.T) {
	res := failure("Runtime.ExitError", "exit status 2: \xff\x00 \"quoted\"", time.Now())
	if !json.Valid(res.Payload) {
		t.Fatalf("invalid JSON: %s", res.Payload)
	}
	if errorTypeOf(res.Payload) != "Runtime.ExitError" {
		t.Fatalf("errorType of %s = %s", res.Payload, errorTypeOf(res.Payload))
	}
	spaced := []byte(`{ "errorMessage" : "boom", "errorType" : "Handled.Error" }`)
	if got := classify(http.StatusOK, spaced, time.Second); got.FunctionError == "" || got.ErrorType != "Handled.Error" {
		t.Fatalf("spaced error document: %+v", got)
	}
	if got := classify(http.StatusOK, []byte(`{"batchItemFailures":[],"errorMessage":"a field"}`), time.Second); got.FunctionError != "" {
		t.Fatalf("a response with other keys is not an error document: %+v", got)
	}
	if got := classify(http.StatusTeapot, []byte("\xff"), time.Second); !json.Valid(got.Payload) || got.ErrorType != "Runtime.Unknown" {
		t.Fatalf("unknown status: %+v", got)
	}
}

// mute is an environment that starts and never listens: aws-lambda-rie
// hanging at start. The pool would wait 5 × 10 s for it.
func muteSpec(t *testing.T) Spec {
	t.Helper()
	dir := t.TempDir()
	script := filepath.Join(dir, "mute")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexec sleep 60\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return Spec{Name: "mute", Bootstrap: script, RIE: script, Supervisor: script, Timeout: time.Second, Concurrency: 1}
}

// Ctrl-C while an environment starts ends the wait at once, and Close waits
// for starts it ends: before, the start had no context (up to about 50 s)
// and Close did not wait for it.
func TestStartEndsWithItsContextAndClose(t *testing.T) {
	p, err := NewPool(muteSpec(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := p.Invoke(ctx, []byte(`{}`))
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Invoke = %v, want the context's end", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Invoke still waits for the start after its context ended")
	}

	// Close ends a start in progress and waits for it.
	p2, err := NewPool(muteSpec(t))
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = p2.Invoke(t.Context(), []byte(`{}`)) }()
	time.Sleep(200 * time.Millisecond) // the start is under way
	closed := make(chan struct{})
	go func() { p2.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the start in progress")
	}
	if s := p2.Stats(); s.Environments != 0 {
		t.Fatalf("after Close, %d environments remain", s.Environments)
	}
}
