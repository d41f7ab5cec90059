package lambdaenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/streamfn/streamfn/internal/lambdafn/gctune"
)

// ErrThrottled is what Lambda answers (TooManyRequestsException, HTTP 429)
// when every execution environment the function may have is busy.
var ErrThrottled = errors.New("TooManyRequestsException: Rate Exceeded (every execution environment allowed by the function's concurrency is busy)")

// ErrClosed means the pool was closed.
var ErrClosed = errors.New("the function's execution environments were stopped")

// Spec is one function as the pool runs it.
type Spec struct {
	Name      string // the function's name, as Lambda knows it
	Bootstrap string // the function's bootstrap binary, built for this machine
	RIE       string // the aws-lambda-rie binary
	// Supervisor is the supervisor binary (BuildSupervisor), which keeps
	// an environment from outliving this process on every system.
	Supervisor string
	Env        map[string]string // the function's whole environment; nothing of this process leaks in
	Timeout    time.Duration     // the function's timeout
	MemoryMB   int
	// Concurrency caps the execution environments: the function's reserved
	// concurrency, or the local cap chosen for an unreserved function.
	Concurrency int
	// Log receives the output of every environment (aws-lambda-rie's
	// START/END/REPORT lines and everything the bootstrap writes). An
	// *os.File is handed to the processes directly, without a copy.
	Log   io.Writer
	Chaos Chaos
}

// Chaos makes invocations fail the way real execution environments do.
type Chaos struct {
	// Probability is the chance of one invocation being hit: three in four
	// hits kill the bootstrap mid-invocation (Runtime.ExitError), one in four
	// freezes it (SIGSTOP) so the invocation runs into the function's
	// timeout, up to MaxFreezes.
	Probability float64
	Seed        uint64
	// MaxFreezes caps the timeouts chaos causes; further freezes become
	// kills. A timeout holds its batch (and, with one lane, its shard) for
	// the function's whole timeout, a minute for a typical processor, so a
	// few are enough to prove retries after a timeout. 0 means 1.
	MaxFreezes int
}

// Result is one invocation's outcome, as Lambda's Invoke API reports it.
type Result struct {
	Payload []byte
	// FunctionError is "Unhandled" when the function failed (an error it
	// returned, a crash or a timeout), as in the X-Amz-Function-Error header.
	FunctionError string
	// ErrorType is the failure's errorType: the function's own, or
	// Runtime.ExitError (crash) or Sandbox.Timedout (timeout).
	ErrorType string
	Duration  time.Duration
	ColdStart bool
}

// Stats are the pool's counters since it started. They are the ingest
// and processor sections of the local run's JSON report, so their keys are
// camelCase like the rest of it.
type Stats struct {
	Environments   int   `json:"environments"` // running now
	Busy           int   `json:"busy"`         // invoking now
	Invocations    int64 `json:"invocations"`  // sent to an environment
	Errors         int64 `json:"errors"`       // of those, FunctionError Unhandled
	Crashes        int64 `json:"crashes"`      // of the errors, Runtime.ExitError
	Timeouts       int64 `json:"timeouts"`     // of the errors, Sandbox.Timedout
	Throttles      int64 `json:"throttles"`    // refused because all environments were busy
	ColdStarts     int64 `json:"coldStarts"`
	ChaosKills     int64 `json:"chaosKills"`
	ChaosFreezes   int64 `json:"chaosFreezes"`
	MaxConcurrency int   `json:"maxConcurrency"` // the most environments busy at once
}

// Pool runs one function's execution environments.
type Pool struct {
	spec   Spec
	client *http.Client

	mu      sync.Mutex
	idle    []*environment
	all     map[*environment]struct{}
	count   int // environments running or starting
	busy    int
	maxBusy int
	closed  bool
	nextID  int
	// starting counts environments being started, which Close ends
	// (closing) and waits for.
	starting    sync.WaitGroup
	closing     context.Context
	closeStarts context.CancelFunc
	rng         *rand.Rand
	// freezesRolled counts the freezes chosen, against Chaos.MaxFreezes.
	freezesRolled int

	invocations, errors, crashes, timeouts, throttles, coldStarts, kills, freezes atomic.Int64
}

// CheckPlatform says why environments cannot run on this system, or
// returns nil where they can (Linux).
func CheckPlatform() error { return errPlatform }

// NewPool checks the spec. No environment starts before the first
// invocation, as in Lambda.
func NewPool(spec Spec) (*Pool, error) {
	switch {
	case CheckPlatform() != nil:
		return nil, CheckPlatform()
	case spec.Name == "":
		return nil, errors.New("lambdaenv: function name is empty")
	case spec.Concurrency < 1:
		return nil, fmt.Errorf("function %s: concurrency %d: must be at least 1", spec.Name, spec.Concurrency)
	case spec.Timeout <= 0:
		return nil, fmt.Errorf("function %s: timeout %s: must be positive", spec.Name, spec.Timeout)
	case spec.Chaos.Probability < 0 || spec.Chaos.Probability > 1:
		return nil, fmt.Errorf("function %s: chaos probability %v: must be in 0..1", spec.Name, spec.Chaos.Probability)
	}
	if spec.Supervisor == "" {
		return nil, fmt.Errorf("function %s: no supervisor binary (lambdaenv.BuildSupervisor)", spec.Name)
	}
	for _, path := range []*string{&spec.Bootstrap, &spec.RIE, &spec.Supervisor} {
		// Absolute: the processes start in the bootstrap's folder.
		abs, err := filepath.Abs(*path)
		if err == nil {
			abs, err = filepath.EvalSymlinks(abs)
		}
		if err != nil {
			return nil, fmt.Errorf("function %s: %w", spec.Name, err)
		}
		*path = abs
	}
	if spec.Log == nil {
		spec.Log = io.Discard
	}
	if spec.MemoryMB == 0 {
		spec.MemoryMB = 128
	}
	transport := &http.Transport{MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute, DisableCompression: true}
	closing, closeStarts := context.WithCancel(context.Background())
	return &Pool{
		spec:        spec,
		client:      &http.Client{Transport: transport},
		all:         map[*environment]struct{}{},
		rng:         rand.New(rand.NewPCG(spec.Chaos.Seed, 0x5eed)),
		closing:     closing,
		closeStarts: closeStarts,
	}, nil
}

// Name is the function's name.
func (p *Pool) Name() string { return p.spec.Name }

// Timeout is the function's timeout.
func (p *Pool) Timeout() time.Duration { return p.spec.Timeout }

// Invoke runs one synchronous invocation (RequestResponse). It returns
// ErrThrottled at once when every allowed environment is busy; a function
// failure is a Result with FunctionError set, not an error.
func (p *Pool) Invoke(ctx context.Context, payload []byte) (Result, error) {
	env, cold, err := p.acquire(ctx)
	if err != nil {
		return Result{}, err
	}
	var action chaosAction
	if p.spec.Chaos.Probability > 0 {
		action = p.rollChaos()
	}
	res, healthy := env.invoke(ctx, p, payload, action)
	if !healthy && ctx.Err() != nil {
		// The caller gave up (shutdown): not the function's failure.
		p.release(env, false)
		return Result{}, ctx.Err()
	}
	res.ColdStart = cold
	p.invocations.Add(1)
	if res.FunctionError != "" {
		p.errors.Add(1)
		switch res.ErrorType {
		case "Runtime.ExitError":
			p.crashes.Add(1)
		case "Sandbox.Timedout":
			p.timeouts.Add(1)
		}
	}
	p.release(env, healthy)
	return res, nil
}

func (p *Pool) acquire(ctx context.Context) (*environment, bool, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, false, ErrClosed
	}
	if n := len(p.idle); n > 0 {
		env := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.markBusy()
		p.mu.Unlock()
		return env, false, nil
	}
	if p.count >= p.spec.Concurrency {
		p.mu.Unlock()
		p.throttles.Add(1)
		return nil, false, ErrThrottled
	}
	p.count++
	p.nextID++
	id := p.nextID
	p.markBusy()
	p.starting.Add(1) // Close waits for it
	p.mu.Unlock()

	startCtx, cancel := context.WithCancel(ctx)
	stopOnClose := context.AfterFunc(p.closing, cancel)
	env, err := startEnvironment(startCtx, p.spec, id)
	stopOnClose()
	cancel()
	p.mu.Lock()
	defer p.mu.Unlock()
	defer p.starting.Done()
	if err != nil {
		p.count--
		p.busy--
		return nil, false, err
	}
	if p.closed {
		p.count--
		p.busy--
		env.stop()
		return nil, false, ErrClosed
	}
	p.all[env] = struct{}{}
	p.coldStarts.Add(1)
	return env, true, nil
}

func (p *Pool) markBusy() {
	p.busy++
	if p.busy > p.maxBusy {
		p.maxBusy = p.busy
	}
}

func (p *Pool) release(env *environment, healthy bool) {
	p.mu.Lock()
	p.busy--
	if healthy && !p.closed && !env.exited() {
		p.idle = append(p.idle, env)
		p.mu.Unlock()
		return
	}
	delete(p.all, env)
	p.count--
	p.mu.Unlock()
	// Lambda discards an environment whose runtime failed; so do we, so
	// that the next invocation gets a fresh one (a cold start).
	env.stop()
}

// Close stops every environment (aws-lambda-rie and its bootstrap, even a
// frozen one) and waits until they have exited, so their ports are free.
// Environments still starting are waited for (their start ends with the
// invocation's context, or stops them itself once it sees the pool closed).
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.closeStarts()
	p.starting.Wait()
	p.mu.Lock()
	envs := make([]*environment, 0, len(p.all))
	for env := range p.all {
		envs = append(envs, env)
	}
	p.all = map[*environment]struct{}{}
	p.idle = nil
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, env := range envs {
		wg.Go(env.stop)
	}
	wg.Wait()
	p.client.CloseIdleConnections()
}

// Stats returns the counters.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	s := Stats{Environments: p.count, Busy: p.busy, MaxConcurrency: p.maxBusy}
	p.mu.Unlock()
	s.Invocations = p.invocations.Load()
	s.Errors = p.errors.Load()
	s.Crashes = p.crashes.Load()
	s.Timeouts = p.timeouts.Load()
	s.Throttles = p.throttles.Load()
	s.ColdStarts = p.coldStarts.Load()
	s.ChaosKills = p.kills.Load()
	s.ChaosFreezes = p.freezes.Load()
	return s
}

// Pids lists the process ids of every aws-lambda-rie and bootstrap now
// running for this pool. Tests use it to prove that Close leaves none.
func (p *Pool) Pids() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var pids []int
	for env := range p.all {
		pids = append(pids, env.cmd.Process.Pid)
		if rie := readPid(env.pidFile + ".rie"); running(rie) {
			pids = append(pids, rie)
		}
		if boot := env.bootstrap(); boot > 0 {
			// The bootstrap role of the supervisor leads its group.
			if shim := groupOf(boot); shim > 1 && shim != boot {
				pids = append(pids, shim)
			}
			pids = append(pids, boot)
		}
	}
	sort.Ints(pids)
	return pids
}

type chaosAction int

const (
	chaosNone chaosAction = iota
	chaosKill
	chaosFreeze
)

func (p *Pool) rollChaos() chaosAction {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rng.Float64() >= p.spec.Chaos.Probability {
		return chaosNone
	}
	maxFreezes := p.spec.Chaos.MaxFreezes
	if maxFreezes == 0 {
		maxFreezes = 1
	}
	if p.rng.IntN(4) == 0 && p.freezesRolled < maxFreezes {
		p.freezesRolled++
		return chaosFreeze
	}
	return chaosKill
}

// environment is one aws-lambda-rie process; it starts the bootstrap on its
// first invocation and again after a crash or timeout.
type environment struct {
	id       int
	ports    []int     // reserved until stop
	cmd      *exec.Cmd // the supervisor, leader of the group that holds aws-lambda-rie
	stdin    *os.File  // the supervisor's pipe: closing it (or this process ending) ends the environment
	stateDir string    // holds pidFile
	pidFile  string    // the function bootstrap's pid, while one runs
	url      string
	waitDone chan struct{}
	stopOnce sync.Once
}

const invokePath = "/2015-03-31/functions/function/invocations"

type clientContextKey struct{}

// WithClientContext carries an Invoke's ClientContext (base64 JSON, as the
// X-Amz-Client-Context header holds it) to the function.
func WithClientContext(ctx context.Context, clientContext string) context.Context {
	return context.WithValue(ctx, clientContextKey{}, clientContext)
}

// ClientContextOf is the ClientContext WithClientContext carries, or "".
func ClientContextOf(ctx context.Context) string {
	cc, _ := ctx.Value(clientContextKey{}).(string)
	return cc
}

func startEnvironment(ctx context.Context, spec Spec, id int) (*environment, error) {
	var lastErr error
	// A port picked free can be taken by another process before
	// aws-lambda-rie binds it; a new pair of ports fixes that.
	for attempt := 0; attempt < 5; attempt++ {
		env, err := tryStart(ctx, spec, id)
		if err == nil {
			return env, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("function %s: starting aws-lambda-rie: %w", spec.Name, ctx.Err())
		}
		lastErr = err
	}
	return nil, fmt.Errorf("function %s: starting aws-lambda-rie: %w", spec.Name, lastErr)
}

func tryStart(ctx context.Context, spec Spec, id int) (*environment, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	invokeAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	runtimeAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
	stateDir, err := os.MkdirTemp("", "streamfn-env-")
	if err != nil {
		releasePorts(ports)
		return nil, err
	}
	pidFile := filepath.Join(stateDir, "bootstrap.pid")
	// supervisor (env role) -> aws-lambda-rie -> supervisor (bootstrap
	// role) -> the function's bootstrap; see the supervisor's doc.
	cmd := exec.Command(spec.Supervisor, "env", pidFile, "--", spec.RIE,
		"--runtime-interface-emulator-address", invokeAddr,
		"--runtime-api-address", runtimeAddr,
		"--log-level", "warn",
		spec.Supervisor)
	cmd.Dir = filepath.Dir(spec.Bootstrap)
	cmd.Env = append(environ(spec), "STREAMFN_BOOTSTRAP="+spec.Bootstrap)
	cmd.Stdout = spec.Log
	cmd.Stderr = spec.Log
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		releasePorts(ports)
		os.RemoveAll(stateDir)
		return nil, err
	}
	cmd.Stdin = stdinR
	// Its own process group, so a stop reaches everything it started. The
	// pipe is the supervisor's tie to this process: the kernel closes it
	// when this process ends, however it ends, and the supervisor then
	// ends the environment.
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		stdinR.Close()
		stdinW.Close()
		releasePorts(ports)
		os.RemoveAll(stateDir)
		return nil, err
	}
	stdinR.Close()
	env := &environment{id: id, ports: ports, cmd: cmd, stdin: stdinW, stateDir: stateDir, pidFile: pidFile,
		url: "http://" + invokeAddr + invokePath, waitDone: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(env.waitDone)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var d net.Dialer
		dialCtx, cancel := context.WithTimeout(ctx, time.Second)
		c, err := d.DialContext(dialCtx, "tcp", invokeAddr)
		cancel()
		if err == nil {
			c.Close()
			return env, nil
		}
		if env.exited() {
			env.stop() // releases its ports
			return nil, fmt.Errorf("aws-lambda-rie exited at start (port %d or %d taken?)", ports[0], ports[1])
		}
		if time.Now().After(deadline) {
			env.stop()
			return nil, fmt.Errorf("aws-lambda-rie did not listen on %s within 10s", invokeAddr)
		}
		select {
		case <-ctx.Done():
			env.stop() // Ctrl-C: stop waiting for it at once
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// environ is the function's environment: what the stack sets, plus the
// variables Lambda itself sets. aws-lambda-rie hands its whole environment
// to the bootstrap, so nothing of this process's own environment (a user's
// AWS_PROFILE, say) is passed on.
func environ(spec Spec) []string {
	vars := map[string]string{
		"PATH":                            "/usr/local/bin:/usr/bin:/bin",
		"AWS_LAMBDA_FUNCTION_NAME":        spec.Name,
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(spec.MemoryMB),
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     strconv.Itoa(int((spec.Timeout + time.Second - 1) / time.Second)),
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + spec.Name,
		"AWS_LAMBDA_LOG_STREAM_NAME":      "local",
		"LAMBDA_TASK_ROOT":                filepath.Dir(spec.Bootstrap),
		"TZ":                              ":UTC",
		"LOG_LEVEL":                       "warn",
		// aws-lambda-rie spends half its CPU collecting the garbage of the
		// invocation payloads it copies. It reads GOGC at start, like any Go
		// program, and hands its environment on, so the bootstrap gets it
		// too: the value the functions set for themselves (gctune), so they
		// run exactly as they would without it. A function setting its own
		// GOGC overrides it below.
		"GOGC": strconv.Itoa(gctune.Percent),
	}
	for k, v := range spec.Env {
		vars[k] = v
	}
	keys := slices.Sorted(maps.Keys(vars))
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + "=" + vars[k]
	}
	return out
}

// bootstrap is the pid of the function's bootstrap process, 0 while none
// runs (before the first invocation, or after it ended and before
// aws-lambda-rie starts the next).
func (e *environment) bootstrap() int {
	if pid := readPid(e.pidFile); running(pid) {
		return pid
	}
	return 0
}

func (e *environment) exited() bool {
	select {
	case <-e.waitDone:
		return true
	default:
		return false
	}
}

// stop kills the bootstrap (also when frozen: SIGKILL ends a stopped
// process) and aws-lambda-rie, and waits for aws-lambda-rie to exit.
func (e *environment) stop() {
	e.stopOnce.Do(func() {
		pid := e.cmd.Process.Pid
		var children []int
		if boot := readPid(e.pidFile); boot > 0 {
			children = append(children, boot)
			killGroup(groupOf(boot)) // the bootstrap and the supervisor's bootstrap role
			killProcess(boot)
		}
		e.stdin.Close()
		killGroup(pid)
		<-e.waitDone
		// A killed process takes a moment to end; the bootstraps are not
		// this process's children, so there is nothing to wait on but
		// their state.
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline) && slices.ContainsFunc(children, running); {
			time.Sleep(5 * time.Millisecond)
		}
		os.RemoveAll(e.stateDir)
		releasePorts(e.ports)
	})
}

// invoke sends one invocation. healthy is false when the environment must
// be discarded (its runtime crashed, timed out or was hit by chaos).
func (e *environment) invoke(ctx context.Context, p *Pool, payload []byte, action chaosAction) (res Result, healthy bool) {
	start := time.Now()
	// aws-lambda-rie ends a timed-out invocation itself; this bound only
	// guards against an environment that stopped answering.
	bounded, cancel := context.WithTimeout(ctx, p.spec.Timeout+15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(bounded, http.MethodPost, e.url, bytes.NewReader(payload))
	if err != nil {
		return failure("Runtime.Unknown", err.Error(), start), false
	}
	requestID := uuid.NewString()
	req.Header.Set("X-Amzn-RequestId", requestID)
	req.Header.Set("Content-Type", "application/json")
	if cc := ClientContextOf(ctx); cc != "" {
		// aws-lambda-rie hands it to the function as Lambda does.
		req.Header.Set("X-Amz-Client-Context", cc)
	}

	var chaosWG sync.WaitGroup
	var chaosMu sync.Mutex
	finished := false
	hit := false
	if action != chaosNone {
		chaosWG.Go(func() {
			// Hit while the invocation runs: wait for the bootstrap to
			// exist (it starts on an environment's first invocation), then
			// a short random moment.
			time.Sleep(time.Duration(p.jitter(3000)) * time.Microsecond)
			for wait := 0; wait < 200; wait++ {
				chaosMu.Lock()
				if finished {
					chaosMu.Unlock()
					return
				}
				if child := e.bootstrap(); child > 0 {
					hit = true
					if action == chaosKill {
						killProcess(child)
					} else {
						freezeProcess(child)
					}
					chaosMu.Unlock()
					if action == chaosKill {
						p.kills.Add(1)
					} else {
						p.freezes.Add(1)
					}
					return
				}
				chaosMu.Unlock()
				time.Sleep(time.Millisecond)
			}
		})
	}
	defer chaosWG.Wait()

	resp, err := p.client.Do(req)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	chaosMu.Lock()
	finished = true
	wasHit := hit
	chaosMu.Unlock()
	if err != nil {
		if bounded.Err() != nil && ctx.Err() == nil && !e.exited() {
			return failure("Sandbox.Timedout", "no answer from the execution environment: "+err.Error(), start), false
		}
		return failure("Runtime.ExitError", "execution environment failed: "+err.Error(), start), false
	}
	res = classify(resp.StatusCode, body, p.spec.Timeout)
	res.Duration = time.Since(start)
	healthy = res.ErrorType != "Runtime.ExitError" && res.ErrorType != "Sandbox.Timedout" && resp.StatusCode == http.StatusOK && !wasHit
	return res, healthy
}

func (p *Pool) jitter(n int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rng.IntN(n)
}

// errorDocument is the function error document Lambda returns:
// {"errorMessage":...,"errorType":...}.
type errorDocument struct {
	ErrorMessage string `json:"errorMessage"`
	ErrorType    string `json:"errorType"`
}

// errorPayload is the JSON of an error document. encoding/json writes valid
// JSON for any message (strconv.Quote wrote Go escapes such as \xff).
func errorPayload(errorType, message string) []byte {
	b, _ := json.Marshal(errorDocument{ErrorMessage: message, ErrorType: errorType}) // strings only
	return b
}

func failure(errorType, message string, start time.Time) Result {
	return Result{Payload: errorPayload(errorType, message), FunctionError: "Unhandled", ErrorType: errorType, Duration: time.Since(start)}
}

var timedOutPrefix = []byte("Task timed out after")

// isErrorDocument reports whether body is the runtime's error document: a
// JSON object of errorMessage, errorType and the runtimes' other error
// keys, with at least one of the first two.
func isErrorDocument(body []byte) bool {
	var doc map[string]json.RawMessage
	if trimmed := bytes.TrimSpace(body); len(trimmed) == 0 || trimmed[0] != '{' || json.Unmarshal(trimmed, &doc) != nil {
		return false
	}
	for key := range doc {
		switch key {
		case "errorMessage", "errorType", "stackTrace", "cause", "requestId":
		default:
			return false
		}
	}
	_, message := doc["errorMessage"]
	_, typ := doc["errorType"]
	return message || typ
}

// classify turns aws-lambda-rie's answer into Lambda's. aws-lambda-rie does
// not send the X-Amz-Function-Error header, so failures are recognised by
// their bodies: a 502 with Runtime.ExitError (the runtime exited), a plain
// "Task timed out after N.00 seconds" (aws-lambda-rie killed the runtime at
// the timeout) and the runtime's error document {"errorMessage",
// "errorType"} (the handler returned an error or panicked).
func classify(status int, body []byte, timeout time.Duration) Result {
	switch {
	case status == http.StatusOK && bytes.HasPrefix(body, timedOutPrefix):
		msg := fmt.Sprintf("Task timed out after %.2f seconds", timeout.Seconds())
		return Result{
			Payload:       errorPayload("Sandbox.Timedout", msg),
			FunctionError: "Unhandled",
			ErrorType:     "Sandbox.Timedout",
		}
	case status == http.StatusOK && isErrorDocument(body):
		return Result{Payload: body, FunctionError: "Unhandled", ErrorType: errorTypeOf(body)}
	case status == http.StatusOK:
		return Result{Payload: body}
	case status == http.StatusBadGateway:
		// The runtime exited, during the invocation or during its init.
		if !isErrorDocument(body) {
			body = []byte(`{"errorMessage":"Runtime exited without providing a reason","errorType":"Runtime.ExitError"}`)
		}
		return Result{Payload: body, FunctionError: "Unhandled", ErrorType: "Runtime.ExitError"}
	default:
		msg := fmt.Sprintf("aws-lambda-rie answered HTTP %d: %s", status, bytes.TrimSpace(body))
		return Result{
			Payload:       errorPayload("Runtime.Unknown", msg),
			FunctionError: "Unhandled",
			ErrorType:     "Runtime.Unknown",
		}
	}
}

// errorTypeOf reads an error document's errorType, "Unhandled" when it has
// none.
func errorTypeOf(body []byte) string {
	var doc errorDocument
	if json.Unmarshal(body, &doc) != nil || doc.ErrorType == "" {
		return "Unhandled"
	}
	return doc.ErrorType
}

// reservedPorts are the ports handed to live environments. aws-lambda-rie
// binds its runtime API port only at the first invocation, long after the
// port was picked, so without this two environments started close together
// could be given the same port and one would crash on its first invocation.
var reservedPorts = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// freePorts picks n ports that are free now and not reserved by another
// environment of this process, and reserves them until releasePorts.
func freePorts(n int) ([]int, error) {
	reservedPorts.Lock()
	defer reservedPorts.Unlock()
	ports := make([]int, 0, n)
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		listeners = append(listeners, l)
		if port := l.Addr().(*net.TCPAddr).Port; !reservedPorts.ports[port] {
			ports = append(ports, port)
		}
	}
	for _, port := range ports {
		reservedPorts.ports[port] = true
	}
	return ports, nil
}

func releasePorts(ports []int) {
	reservedPorts.Lock()
	defer reservedPorts.Unlock()
	for _, port := range ports {
		delete(reservedPorts.ports, port)
	}
}
