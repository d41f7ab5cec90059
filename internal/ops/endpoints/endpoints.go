// Package endpoints is the local run's endpoints file,
// .build/local/current/endpoints.env: where the running stand-ins listen,
// as the SDKs' and the aws CLI's standard AWS_ENDPOINT_URL_<SERVICE>
// variables, with a region and dummy credentials. `make local` writes it
// while it runs and removes it when it stops; tools (inspect, redrive) and
// people read it, so that one code path serves AWS and the local run:
//
//	(set -a; . .build/local/current/endpoints.env; aws kinesis list-shards --stream-name streamfn-dev-events)
//
// The file is plain KEY=value lines that a POSIX shell can source. Values
// never hold spaces or quotes; Write refuses any that do.
package endpoints

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// The standard variables (AWS SDKs and CLI v2 "service-specific endpoints":
// https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html).
const (
	Kinesis  = "AWS_ENDPOINT_URL_KINESIS"
	DynamoDB = "AWS_ENDPOINT_URL_DYNAMODB"
	SQS      = "AWS_ENDPOINT_URL_SQS"
	// S3 is fauxqs's (the failure bucket), Lambda the local run's Invoke
	// API. A tool reads an endpoint with File.Endpoint, which names a key
	// an older file lacks.
	S3     = "AWS_ENDPOINT_URL_S3"
	Lambda = "AWS_ENDPOINT_URL_LAMBDA"
)

// The other keys.
const (
	Region          = "AWS_REGION"
	DefaultRegion   = "AWS_DEFAULT_REGION" // what the aws CLI reads
	AccessKeyID     = "AWS_ACCESS_KEY_ID"
	SecretAccessKey = "AWS_SECRET_ACCESS_KEY"
	// Stack is the stack whose pipeline the local run runs.
	Stack = "STREAMFN_STACK"
	// Outputs is the path of the run's stack outputs (the JSON that
	// `pulumi stack output --json` prints), with local values: queue URLs
	// on the local SQS, the local Function URL.
	Outputs = "STREAMFN_STACK_OUTPUTS"
	// RunPID is the process id of the local run that wrote the file: a
	// file left behind by a run that was killed outright names a process
	// that is gone (CheckRunning).
	RunPID = "STREAMFN_LOCAL_RUN_PID"
)

// FileName is the file's name inside a run's folder; CurrentDir is the
// link to the newest run's folder, relative to the repository root.
const (
	FileName   = "endpoints.env"
	CurrentDir = ".build/local/current"
)

// Credentials the stand-ins accept: any, so these say what they are.
const (
	DummyAccessKeyID     = "local"
	DummySecretAccessKey = "local"
)

// DefaultPath is the endpoints file of the newest local run in the
// repository at root.
func DefaultPath(root string) string {
	return filepath.Join(root, filepath.FromSlash(CurrentDir), FileName)
}

// File is one endpoints file: every KEY=value it holds.
type File struct {
	Path   string
	Values map[string]string
}

// New is a file for the local run of stack with the given endpoints
// (variable name to URL) in region.
func New(stack, region, outputsPath string, urls map[string]string) *File {
	f := &File{Values: map[string]string{
		Stack: stack, Region: region, DefaultRegion: region,
		AccessKeyID: DummyAccessKeyID, SecretAccessKey: DummySecretAccessKey,
		RunPID: strconv.Itoa(os.Getpid()),
	}}
	if outputsPath != "" {
		f.Values[Outputs] = outputsPath
	}
	for k, v := range urls {
		f.Values[k] = v
	}
	return f
}

// CheckRunning is nil while the run that wrote the file runs (or when the
// file names no run). A run killed outright (SIGKILL) cannot remove its
// file: without this, tools would meet "connection refused" after the
// SDK's retries.
func (f *File) CheckRunning() error {
	pid, err := strconv.Atoi(f.Values[RunPID])
	if err != nil || pid <= 0 || ProcessAlive(pid) {
		return nil
	}
	return fmt.Errorf("%s was written by a local run (pid %d) that is no longer running: it was stopped before it could remove the file. Start one (make local), or read a deployed stack with -stack NAME", f.Path, pid)
}

// ProcessAlive says whether a process with this id runs.
func ProcessAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	return err == nil && p.Signal(syscall.Signal(0)) == nil
}

// Endpoint is the URL of one service's variable (Kinesis, SQS, ...), or an
// error naming the file and the missing key.
func (f *File) Endpoint(variable string) (string, error) {
	v := f.Values[variable]
	if v == "" {
		return "", fmt.Errorf("%s has no %s: the local run does not serve that service", f.Path, variable)
	}
	return v, nil
}

var keyPattern = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)

// Write writes the file to path atomically (a reader never sees half of
// it), with a header that says how to use it.
func (f *File) Write(path string) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# The local run of streamfn stack %s: its AWS stand-ins' endpoints, region and dummy credentials.\n", f.Values[Stack])
	fmt.Fprintf(&b, "# Written by `make local` while it runs; removed when it stops. Use it from a shell:\n")
	fmt.Fprintf(&b, "#   (set -a; . %s; aws kinesis list-shards --stream-name <stream>)\n", path)
	for _, k := range slices.Sorted(maps.Keys(f.Values)) {
		v := f.Values[k]
		if !keyPattern.MatchString(k) {
			return fmt.Errorf("endpoints file: key %q is not a shell variable name", k)
		}
		if v == "" || strings.ContainsAny(v, " \t\r\n'\"\\$`#;&|<>()") {
			return fmt.Errorf("endpoints file: %s = %q cannot be written so that a shell reads it back unchanged", k, v)
		}
		fmt.Fprintf(&b, "%s=%s\n", k, v)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), FileName+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing the endpoints file: %w", err)
	}
	_, werr := tmp.Write(b.Bytes())
	if err := errors.Join(werr, tmp.Close()); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing the endpoints file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing the endpoints file: %w", err)
	}
	f.Path = path
	return nil
}

// ErrNotRunning means there is no endpoints file: no local run is running.
var ErrNotRunning = errors.New("no local run is running (start one with `make local`)")

// Read parses an endpoints file. A missing file is ErrNotRunning (wrapped,
// with the path); a malformed line is an error naming its line number.
func Read(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist", ErrNotRunning, path)
	}
	if err != nil {
		return nil, err
	}
	f := &File{Path: path, Values: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok || !keyPattern.MatchString(k) {
			return nil, fmt.Errorf("%s:%d: %q is not a KEY=value line", path, n, line)
		}
		f.Values[k] = v
	}
	for _, required := range []string{Region, AccessKeyID, SecretAccessKey} {
		if f.Values[required] == "" {
			return nil, fmt.Errorf("%s sets no %s: it was not written by the local run", path, required)
		}
	}
	return f, nil
}

// Setenv puts every value of the file into this process's environment, so
// that the SDK's default configuration (config.LoadDefaultConfig) reaches
// the local run exactly as it reaches AWS. AWS_PROFILE is unset: a profile
// would otherwise supply credentials or endpoints of its own.
func (f *File) Setenv() error {
	if err := os.Unsetenv("AWS_PROFILE"); err != nil {
		return err
	}
	for k, v := range f.Values {
		if err := os.Setenv(k, v); err != nil {
			return err
		}
	}
	return nil
}

// Environ is the file's values as KEY=value strings, sorted, for a child
// process's environment.
func (f *File) Environ() []string {
	env := make([]string, 0, len(f.Values))
	for k, v := range f.Values {
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	return env
}

// Publish writes f into runDir and points root's CurrentDir link at
// runDir, so that DefaultPath(root) finds it. It returns the path written.
func Publish(root, runDir string, f *File) (string, error) {
	path := filepath.Join(runDir, FileName)
	if err := f.Write(path); err != nil {
		return "", err
	}
	current := filepath.Join(root, filepath.FromSlash(CurrentDir))
	target, err := filepath.Rel(filepath.Dir(current), runDir)
	if err != nil {
		target = runDir
	}
	// A new link renamed over the old one: never a moment without it.
	tmp := current + fmt.Sprintf(".%d.tmp", os.Getpid())
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return path, fmt.Errorf("linking %s to the run: %w", current, err)
	}
	if err := os.Rename(tmp, current); err != nil {
		os.Remove(tmp)
		return path, fmt.Errorf("linking %s to the run: %w", current, err)
	}
	return path, nil
}

// Withdraw removes an endpoints file Publish wrote: the stand-ins it names
// have stopped. The link stays, so the run's logs remain one path away.
func Withdraw(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
