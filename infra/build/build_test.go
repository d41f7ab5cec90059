package build_test

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/streamfn/streamfn/infra/build"
)

// newModule writes a throwaway module with one function package, so the tests never touch
// functions/ and build no dependency.
func newModule(t *testing.T, source string) string {
	t.Helper()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "go.mod"), "module example.com/fn\n\ngo 1.22\n")
	write(t, filepath.Join(dir, "functions", "hello", "main.go"), source)
	return dir
}

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

const hello = "package main\n\nfunc main() { println(\"hello\") }\n"

func TestSameSourceSameHash(t *testing.T) {
	dir := newModule(t, hello)
	first, err := build.Function(build.Options{ProjectDir: dir, Function: "hello", Architecture: "arm64"})
	if err != nil {
		t.Fatal(err)
	}
	// Touching the source changes mtimes but not content; the archive must not change.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "functions", "hello", "main.go"), later, later); err != nil {
		t.Fatal(err)
	}
	second, err := build.Function(build.Options{ProjectDir: dir, Function: "hello", Architecture: "arm64"})
	if err != nil {
		t.Fatal(err)
	}
	if first.SHA256 != second.SHA256 {
		t.Errorf("two builds of the same source differ: %s vs %s", first.SHA256, second.SHA256)
	}
	data, err := os.ReadFile(second.Path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if got := base64.StdEncoding.EncodeToString(sum[:]); got != second.SHA256 {
		t.Errorf("SHA256 = %s, but the archive on disk hashes to %s", second.SHA256, got)
	}
	if want := filepath.Join(dir, ".build", "arm64", "hello.zip"); second.Path != want {
		t.Errorf("archive at %s, want %s", second.Path, want)
	}
}

func TestChangedSourceChangesHash(t *testing.T) {
	dir := newModule(t, hello)
	before, err := build.Function(build.Options{ProjectDir: dir, Function: "hello", Architecture: "arm64"})
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "functions", "hello", "main.go"), strings.Replace(hello, "hello", "hello, world", 1))
	after, err := build.Function(build.Options{ProjectDir: dir, Function: "hello", Architecture: "arm64"})
	if err != nil {
		t.Fatal(err)
	}
	if before.SHA256 == after.SHA256 {
		t.Error("changing the source did not change the archive hash")
	}
	other, err := build.Function(build.Options{ProjectDir: dir, Function: "hello", Architecture: "x86_64"})
	if err != nil {
		t.Fatal(err)
	}
	if other.SHA256 == after.SHA256 || !strings.Contains(other.Path, "x86_64") {
		t.Errorf("x86_64 build %+v should differ from arm64 and live under .build/x86_64", other)
	}
}

func TestArchiveLayout(t *testing.T) {
	dir := newModule(t, hello)
	a, err := build.Function(build.Options{ProjectDir: dir, Function: "hello", Architecture: "arm64"})
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(a.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if len(zr.File) != 1 {
		t.Fatalf("archive has %d entries, want only bootstrap", len(zr.File))
	}
	f := zr.File[0]
	if f.Name != "bootstrap" || f.Mode().Perm() != 0o755 || f.Mode().IsDir() {
		t.Errorf("entry %s mode %v, want bootstrap 0755", f.Name, f.Mode())
	}
	if !f.Modified.Equal(time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("entry time %v, want the fixed 1980-01-01", f.Modified)
	}
	r, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	head := make([]byte, 20)
	if _, err := r.Read(head); err != nil {
		t.Fatal(err)
	}
	// An ELF binary for aarch64 (e_machine 0xB7 at offset 18).
	if string(head[:4]) != "\x7fELF" || head[18] != 0xb7 {
		t.Errorf("bootstrap is not a linux/arm64 ELF binary: % x", head)
	}
}

func TestBuildFailureNamesFunctionAndShowsCompilerOutput(t *testing.T) {
	dir := newModule(t, "package main\n\nfunc main() { undefinedThing() }\n")
	_, err := build.Function(build.Options{ProjectDir: dir, Function: "hello", Architecture: "arm64"})
	var buildErr *build.Error
	if !errors.As(err, &buildErr) {
		t.Fatalf("got %v, want a *build.Error", err)
	}
	msg := err.Error()
	for _, want := range []string{`building function "hello"`, "./functions/hello", "undefined: undefinedThing"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

func TestUnknownArchitecture(t *testing.T) {
	_, err := build.Function(build.Options{ProjectDir: t.TempDir(), Function: "hello", Architecture: "mips"})
	if err == nil || !strings.Contains(err.Error(), "arm64 or x86_64") {
		t.Errorf("got %v, want an error listing the architectures", err)
	}
}

func TestProjectDir(t *testing.T) {
	root, err := build.ProjectDir("")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "Pulumi.yaml")); err != nil {
		t.Errorf("walked up to %s, which has no Pulumi.yaml", root)
	}
	if got, err := build.ProjectDir(root); err != nil || got != root {
		t.Errorf("ProjectDir(%s) = %s, %v", root, got, err)
	}
	if _, err := build.ProjectDir(t.TempDir()); err == nil {
		t.Error("a root directory without Pulumi.yaml was accepted")
	}
}

// The binary embeds the Go version that built it: the build uses go.mod's
// toolchain line, so every machine builds the same bytes.
func TestToolchainComesFromGoMod(t *testing.T) {
	dir := newModule(t, hello)
	if got, err := build.Toolchain(dir); err != nil || got != "" {
		t.Fatalf("a go.mod without a toolchain line: %q, %v; want none", got, err)
	}
	write(t, filepath.Join(dir, "go.mod"), "module example.com/fn\n\ngo 1.22\n\ntoolchain "+runtime.Version()+"\n")
	if got, err := build.Toolchain(dir); err != nil || got != runtime.Version() {
		t.Fatalf("Toolchain = %q, %v; want %s", got, err, runtime.Version())
	}
	// GOTOOLCHAIN from the caller's environment loses to go.mod's line:
	// "local" would otherwise accept any local version.
	t.Setenv("GOTOOLCHAIN", "local")
	t.Setenv("GOFLAGS", "-gcflags=-N")
	a, err := build.Function(build.Options{ProjectDir: dir, Function: "hello", Architecture: "x86_64"})
	if err != nil {
		t.Fatal(err)
	}
	info := bootstrapBuildInfo(t, a.Path)
	if info.GoVersion != runtime.Version() {
		t.Errorf("built with %s, want go.mod's %s", info.GoVersion, runtime.Version())
	}
	for _, s := range info.Settings {
		if s.Key == "-gcflags" {
			t.Errorf("the caller's GOFLAGS reached the build: %s=%s", s.Key, s.Value)
		}
	}

	// This repository pins its toolchain.
	root, err := build.ProjectDir("")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := build.Toolchain(root); err != nil || !strings.HasPrefix(got, "go1.") {
		t.Errorf("the repository's go.mod toolchain line = %q, %v; want a pinned release", got, err)
	}
}

// bootstrapBuildInfo reads the Go build information of the archive's bootstrap.
func bootstrapBuildInfo(t *testing.T, archive string) *buildinfo.BuildInfo {
	t.Helper()
	zr, err := zip.OpenReader(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	f, err := zr.File[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	info, err := buildinfo.Read(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// A caller's GOEXPERIMENT or GOFIPS140 changes the standard library the binary is built
// from; the build clears both, so the archive hash does not depend on them.
func TestCallerExperimentsDoNotChangeTheHash(t *testing.T) {
	dir := newModule(t, "package main\n\nimport (\"encoding/json\"; \"os\")\n\nfunc main() { json.NewEncoder(os.Stdout).Encode(map[string]int{\"a\": 1}) }\n")
	build1 := func() build.Artifact {
		t.Helper()
		a, err := build.Function(build.Options{ProjectDir: dir, Function: "hello", Architecture: "arm64"})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	t.Setenv("GOEXPERIMENT", "")
	t.Setenv("GOFIPS140", "")
	plain := build1()
	for _, env := range [][2]string{{"GOEXPERIMENT", "jsonv2"}, {"GOEXPERIMENT", "greenteagc,jsonv2"}, {"GOFIPS140", "latest"}} {
		t.Run(env[0]+"="+env[1], func(t *testing.T) {
			t.Setenv(env[0], env[1])
			got := build1()
			if got.SHA256 != plain.SHA256 {
				t.Errorf("%s=%s changed the archive hash: %s, without it %s", env[0], env[1], got.SHA256, plain.SHA256)
			}
			info := bootstrapBuildInfo(t, got.Path)
			for _, s := range info.Settings {
				if s.Key == "GOEXPERIMENT" || s.Key == "GOFIPS140" && s.Value != "off" {
					t.Errorf("the caller's environment reached the build: %s=%s", s.Key, s.Value)
				}
			}
		})
	}
}
