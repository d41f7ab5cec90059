package emulators

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// npm runs no install script (.npmrc), and no installed package needs one:
// the only scripts are node-gyp-build, and each such package ships a
// prebuilt binary for this platform.
func TestInstallScriptsAreNotNeeded(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	npmrc, err := os.ReadFile(filepath.Join(root, ".npmrc"))
	if err != nil || !strings.Contains("\n"+string(npmrc), "\nignore-scripts=true\n") {
		t.Errorf(".npmrc must set ignore-scripts=true (read: %v)", err)
	}
	modules := filepath.Join(root, "node_modules")
	if _, err := os.Stat(modules); err != nil {
		t.Skipf("node_modules not installed: %v", err)
	}
	platform := map[string]string{"amd64": "x64", "arm64": "arm64"}[runtime.GOARCH]
	checked := 0
	err = filepath.WalkDir(modules, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "package.json" || strings.Contains(path, string(filepath.Separator)+"example"+string(filepath.Separator)) {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var pkg struct {
			Name    string            `json:"name"`
			Scripts map[string]string `json:"scripts"`
		}
		if json.Unmarshal(raw, &pkg) != nil || pkg.Name == "" {
			return nil
		}
		for _, hook := range []string{"preinstall", "install", "postinstall"} {
			script, ok := pkg.Scripts[hook]
			if !ok {
				continue
			}
			checked++
			if script != "node-gyp-build" {
				t.Errorf("%s: %s script %q would be skipped; check the package works without it", path, hook, script)
				continue
			}
			prebuilt := filepath.Join(filepath.Dir(path), "prebuilds", runtime.GOOS+"-"+platform)
			if _, err := os.Stat(prebuilt); err != nil {
				t.Errorf("%s has no prebuilt binary for %s-%s (%s): its install script would be needed", pkg.Name, runtime.GOOS, platform, prebuilt)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Log("no package has an install script")
	}
}
