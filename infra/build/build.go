// Package build compiles a function package under functions/ into a Lambda deployment archive
// whose bytes depend only on the source: the same source always gives the same archive hash, so
// `pulumi preview` shows no change for code that did not change.
package build

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
)

// Artifact is a built function archive.
type Artifact struct {
	Function string // e.g. "ingest"
	Path     string // absolute path of the zip
	// SHA256 is the base64 SHA-256 of the zip, as Lambda reports CodeSha256 and as the
	// provider's sourceCodeHash expects.
	SHA256 string
}

// Options says what to build.
type Options struct {
	ProjectDir   string // the module root holding functions/ and go.mod
	Function     string // package name under functions/
	Architecture string // "arm64" or "x86_64"
	// Package overrides the package to build (relative to ProjectDir, e.g. "./functions/ingest").
	Package string
	// OutDir overrides where the zip goes; default ProjectDir/.build/<architecture>.
	OutDir string
}

// Error is a failed build. Its message names the function and carries the compiler's output.
type Error struct {
	Function string
	Package  string
	Output   string
	Err      error
}

func (e *Error) Error() string {
	return fmt.Sprintf("building function %q (%s) failed: %v\n%s", e.Function, e.Package, e.Err, strings.TrimRight(e.Output, "\n"))
}

func (e *Error) Unwrap() error { return e.Err }

// zipTime is the fixed modification time of every archive entry. Zip cannot store times
// before 1980, and a fixed one keeps the archive bytes independent of when it was built.
var zipTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// Function builds one function to a "bootstrap" binary for the provided.al2023 runtime and
// packages it. Nothing is cached between calls except by Go's own content-addressed build
// cache, so a changed source always gives a new archive.
func Function(opts Options) (Artifact, error) {
	goarch, err := goArch(opts.Architecture)
	if err != nil {
		return Artifact{}, err
	}
	pkg := opts.Package
	if pkg == "" {
		pkg = "./functions/" + opts.Function
	}
	outDir := opts.OutDir
	if outDir == "" {
		outDir = filepath.Join(opts.ProjectDir, ".build", opts.Architecture)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return Artifact{}, fmt.Errorf("building function %q: %w", opts.Function, err)
	}
	work, err := os.MkdirTemp(outDir, "."+opts.Function+"-")
	if err != nil {
		return Artifact{}, fmt.Errorf("building function %q: %w", opts.Function, err)
	}
	defer os.RemoveAll(work)

	binary := filepath.Join(work, "bootstrap")
	cmd := exec.Command("go", "build",
		"-trimpath", "-buildvcs=false", "-tags", "lambda.norpc", "-ldflags", "-s -w -buildid=",
		"-o", binary, pkg)
	cmd.Dir = opts.ProjectDir
	env, err := buildEnv(opts.ProjectDir, goarch)
	if err != nil {
		return Artifact{}, fmt.Errorf("building function %q: %w", opts.Function, err)
	}
	cmd.Env = env
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return Artifact{}, &Error{Function: opts.Function, Package: pkg, Output: output.String(), Err: err}
	}

	archive, err := zipBootstrap(binary)
	if err != nil {
		return Artifact{}, fmt.Errorf("packaging function %q: %w", opts.Function, err)
	}
	path, err := filepath.Abs(filepath.Join(outDir, opts.Function+".zip"))
	if err != nil {
		return Artifact{}, err
	}
	if err := writeAtomically(path, archive); err != nil {
		return Artifact{}, fmt.Errorf("packaging function %q: %w", opts.Function, err)
	}
	sum := sha256.Sum256(archive)
	return Artifact{Function: opts.Function, Path: path, SHA256: base64.StdEncoding.EncodeToString(sum[:])}, nil
}

// buildEnv is the go command's environment: the caller's, with every setting that changes
// the binary's bytes pinned.
func buildEnv(projectDir, goarch string) ([]string, error) {
	env := append(os.Environ(),
		"GOOS=linux", "GOARCH="+goarch, "CGO_ENABLED=0",
		// Pin the instruction-set levels: a developer's GOAMD64=v3 must neither change the
		// hash nor produce a binary that some Lambda hosts cannot run.
		"GOAMD64=v1", "GOARM64=v8.0",
		// Flags from the caller's GOFLAGS (tags, -race, ...) would change the binary.
		"GOFLAGS=",
		// So would a caller's GOEXPERIMENT (jsonv2, ...: other code in the standard library)
		// and GOFIPS140 (which compiles in a FIPS module snapshot). Both are cleared: the
		// functions build with the toolchain's defaults everywhere.
		"GOEXPERIMENT=", "GOFIPS140=off",
	)
	// The binary embeds the Go version that built it, so each machine's own Go would give
	// its own hash, and CI and a laptop would redeploy each other's code. go.mod's toolchain
	// line names the one release every build uses; the go command downloads it once where
	// it is not the local one.
	toolchain, err := Toolchain(projectDir)
	if err != nil {
		return nil, err
	}
	if toolchain != "" {
		env = append(env, "GOTOOLCHAIN="+toolchain)
	}
	return env, nil
}

// Toolchain returns the toolchain line of the go.mod in projectDir ("go1.26.8"), or "" when
// it has none.
func Toolchain(projectDir string) (string, error) {
	path := filepath.Join(projectDir, "go.mod")
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	f, err := modfile.Parse(path, data, nil)
	if err != nil {
		return "", err
	}
	if f.Toolchain == nil {
		return "", nil
	}
	return f.Toolchain.Name, nil
}

func goArch(architecture string) (string, error) {
	switch architecture {
	case "arm64":
		return "arm64", nil
	case "x86_64":
		return "amd64", nil
	default:
		return "", fmt.Errorf("unknown Lambda architecture %q: want arm64 or x86_64", architecture)
	}
}

// zipBootstrap packs the binary as the archive's only entry, "bootstrap", with fixed
// metadata: mode 0755 (Lambda executes it), fixed time, no extra fields.
func zipBootstrap(binary string) ([]byte, error) {
	data, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	header := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate, Modified: zipTime}
	header.SetMode(0o755)
	w, err := zw.CreateHeader(header)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(w, bytes.NewReader(data)); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeAtomically replaces path so that a concurrent reader (another build of the same
// function, or Pulumi hashing the archive) never sees half a file.
func writeAtomically(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-")
	if err != nil {
		return err
	}
	_, writeErr := tmp.Write(data)
	closeErr := tmp.Close()
	if err := errors.Join(writeErr, closeErr); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// ProjectDir finds the project directory: the one holding Pulumi.yaml. Pulumi tells the
// program its root directory (ctx.RootDirectory()) but runs it with the working directory set
// to the program's own folder (infra/), and tests run in their package's folder, so when no
// root is given it walks up from the working directory.
func ProjectDir(rootDirectory string) (string, error) {
	if rootDirectory != "" {
		if isProjectDir(rootDirectory) {
			return filepath.Abs(rootDirectory)
		}
		return "", fmt.Errorf("the Pulumi root directory %s holds no Pulumi.yaml", rootDirectory)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the project directory: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if isProjectDir(dir) {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("no Pulumi.yaml in %s or any parent; run from inside the streamfn repository", wd)
		}
	}
}

func isProjectDir(dir string) bool {
	info, err := os.Stat(filepath.Join(dir, "Pulumi.yaml"))
	return err == nil && !info.IsDir()
}
