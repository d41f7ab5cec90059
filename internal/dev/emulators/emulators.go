// Package emulators starts and stops the local AWS stand-ins that the tests
// and the local run use: kinesalite (Kinesis), dynalite (DynamoDB) and fauxqs
// (SQS, SNS and S3). They are npm packages pinned in the repository's
// package-lock.json; `npm ci` (which `make test` and `make local` run)
// installs them.
//
// Each server runs as its own Node.js process on a port the OS picks, so
// parallel tests never collide. The process dies when Stop is called, when
// its stdin closes: the parent stopped it, exited or was killed.
package emulators

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Kind names one stand-in by the AWS service it speaks.
type Kind string

const (
	Kinesis  Kind = "kinesis"  // kinesalite
	DynamoDB Kind = "dynamodb" // dynalite
	SQS      Kind = "sqs"      // fauxqs, which also speaks SNS and S3 (path-style)
)

// packages maps each kind to the npm package that provides it.
var packages = map[Kind]string{Kinesis: "kinesalite", DynamoDB: "dynalite", SQS: "fauxqs"}

//go:embed launch.mjs
var launcher []byte

//go:embed kinesalite-fast.cjs
var kinesaliteFast []byte

//go:embed kinesis-limits.cjs
var kinesisLimits []byte

// ErrNodeMissing means Node.js is not on PATH. Tests skip on it; nothing else
// may be skipped.
var ErrNodeMissing = errors.New("node (Node.js 22 or newer) is not on PATH: install Node.js to run the local AWS stand-ins")

// Options tune a server. The zero value is fine.
type Options struct {
	// ShardLimit raises kinesalite's account shard limit (default 100; its
	// own default of 10 is too small for the prod stack).
	ShardLimit int
	// StartTimeout bounds the wait for the server to listen (default 30s).
	StartTimeout time.Duration
	// ShardThroughputLimits makes kinesalite apply Kinesis's per-shard
	// limits: 1 MiB/s or 1,000 records/s of writes, 5 GetRecords calls/s
	// and 2 MiB/s of reads (see kinesis-limits.cjs). Off, it takes any
	// rate, as kinesalite does.
	ShardThroughputLimits bool
	// NodeFlags are Node.js options for this stand-in's process, given on
	// its command line (e.g. --max-semi-space-size=64), so that nothing
	// changes this process's environment. NODE_OPTIONS, when the caller
	// has it set, applies as well.
	NodeFlags []string
}

// Server is one running stand-in.
type Server struct {
	Kind     Kind
	Endpoint string // http://127.0.0.1:PORT
	Port     int

	cmd      *exec.Cmd
	stdin    *os.File
	stderr   *lockedBuffer
	waitDone chan struct{}
	waitErr  error
	stopOnce sync.Once
}

// Start launches one stand-in and waits until it accepts connections.
func Start(kind Kind, opts Options) (*Server, error) {
	pkg, ok := packages[kind]
	if !ok {
		return nil, fmt.Errorf("unknown emulator kind %q: want kinesis, dynamodb or sqs", kind)
	}
	for _, f := range opts.NodeFlags {
		if !strings.HasPrefix(f, "--") {
			return nil, fmt.Errorf("emulators: Node.js flag %q must start with -- (for example --max-semi-space-size=64)", f)
		}
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, ErrNodeMissing
	}
	root, err := ModuleRoot()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(root, "node_modules", pkg, "package.json")); err != nil {
		return nil, fmt.Errorf("npm package %s is not installed in %s/node_modules: run `npm ci` in the repository root (make test and make local do this)", pkg, root)
	}
	if opts.ShardLimit == 0 {
		opts.ShardLimit = 100
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 30 * time.Second
	}

	// The launcher resolves packages relative to its own path, so it must sit
	// inside the repository, next to node_modules.
	script := filepath.Join(root, "node_modules", ".streamfn-launch.mjs")
	if err := writeIfChanged(script, launcher); err != nil {
		return nil, fmt.Errorf("writing emulator launcher: %w", err)
	}
	if err := writeIfChanged(filepath.Join(root, "node_modules", ".streamfn-kinesalite-fast.cjs"), kinesaliteFast); err != nil {
		return nil, fmt.Errorf("writing emulator launcher: %w", err)
	}
	if err := writeIfChanged(filepath.Join(root, "node_modules", ".streamfn-kinesis-limits.cjs"), kinesisLimits); err != nil {
		return nil, fmt.Errorf("writing emulator launcher: %w", err)
	}
	throughput := "unlimited"
	if opts.ShardThroughputLimits {
		throughput = "limits"
	}

	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	args := append(slices.Clone(opts.NodeFlags), script, string(kind), strconv.Itoa(opts.ShardLimit), throughput)
	cmd := exec.Command(node, args...)
	cmd.Dir = root
	cmd.Env = childEnv(os.Environ())
	cmd.Stdin = stdinR
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		stdinR.Close()
		stdinW.Close()
		return nil, fmt.Errorf("starting %s: %w", pkg, err)
	}
	stdinR.Close()

	s := &Server{Kind: kind, cmd: cmd, stdin: stdinW, stderr: stderr, waitDone: make(chan struct{})}
	portCh := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			var msg struct{ Port int }
			if !sent && json.Unmarshal(sc.Bytes(), &msg) == nil && msg.Port > 0 {
				portCh <- msg.Port
				sent = true
			}
		}
	}()
	go func() {
		s.waitErr = cmd.Wait()
		close(s.waitDone)
	}()

	select {
	case port := <-portCh:
		s.Port = port
		s.Endpoint = "http://127.0.0.1:" + strconv.Itoa(port)
	case <-s.waitDone:
		return nil, fmt.Errorf("%s exited before listening (%v): %s", pkg, s.waitErr, s.stderr.String())
	case <-time.After(opts.StartTimeout):
		s.Stop()
		return nil, fmt.Errorf("%s did not listen within %s: %s", pkg, opts.StartTimeout, s.stderr.String())
	}
	if err := waitForPort(s.Port, opts.StartTimeout); err != nil {
		s.Stop()
		return nil, fmt.Errorf("%s: %w", pkg, err)
	}
	return s, nil
}

// Stop ends the server and its process group and waits for it to exit, so
// its port is free when Stop returns. It is safe to call more than once.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		s.stdin.Close()
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-s.waitDone:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.waitDone
		}
	})
}

// Pid is the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Stderr is what the server has written to stderr so far.
func (s *Server) Stderr() string { return s.stderr.String() }

// Exited reports whether the server process has ended.
func (s *Server) Exited() bool {
	select {
	case <-s.waitDone:
		return true
	default:
		return false
	}
}

// ModuleRoot finds the repository root (the directory holding go.mod) from
// the working directory upwards. Tests run in their package's directory and
// the scripts run from the root, so both find it.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod in %s or any parent: run from inside the streamfn repository", dir)
		}
	}
}

func waitForPort(port int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("port %d not accepting connections after %s: %w", port, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// writeIfChanged replaces path with data unless it already holds it. Servers
// start concurrently, so each writer uses its own temporary file and the
// rename is atomic.
func writeIfChanged(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	_, writeErr := tmp.Write(data)
	if err := errors.Join(writeErr, tmp.Close()); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 64<<10 { // keep the start; it holds the reason
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// childEnv is the environment a stand-in gets: only what Node.js needs to
// run, never the caller's credentials, tokens or endpoints. The stand-ins and
// their ~140 npm dependencies are third-party code that needs no secret to
// emulate AWS (issue 16).
func childEnv(environ []string) []string {
	var env []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if childEnvNames[name] || strings.HasPrefix(name, "LC_") {
			env = append(env, kv)
		}
	}
	return env
}

// childEnvNames are the variables a stand-in keeps: where programs and
// temporary files are, the locale and time zone, and Node.js's own options.
var childEnvNames = map[string]bool{
	"PATH": true, "HOME": true, "TMPDIR": true, "LANG": true, "TZ": true,
	"NODE_OPTIONS": true,
}

// ThroughputStats are the counts of a kinesalite started with
// ShardThroughputLimits: what it refused with
// ProvisionedThroughputExceededException.
type ThroughputStats struct {
	PutRecordsEntriesThrottled int64 `json:"putRecordsEntriesThrottled"`
	PutRecordCallsThrottled    int64 `json:"putRecordCallsThrottled"`
	GetRecordsCallsThrottled   int64 `json:"getRecordsCallsThrottled"`
	// Shards is keyed by "<stream>/<shard id>".
	Shards map[string]ShardThrottles `json:"shards"`
}

// ShardThrottles are one shard's refusals.
type ShardThrottles struct {
	WritesThrottled int64 `json:"writesThrottled"` // PutRecords entries and PutRecord calls
	ReadsThrottled  int64 `json:"readsThrottled"`  // GetRecords calls
}

// ThroughputStats reads the counts of a Kinesis stand-in started with
// ShardThroughputLimits.
func (s *Server) ThroughputStats(ctx context.Context) (ThroughputStats, error) {
	var st ThroughputStats
	if s.Kind != Kinesis {
		return st, fmt.Errorf("%s is not the Kinesis stand-in", s.Kind)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint+"/streamfn/limits", nil)
	if err != nil {
		return st, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("kinesalite answered %s to /streamfn/limits: was it started with ShardThroughputLimits?", resp.Status)
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st, err
}
