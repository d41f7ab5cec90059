package ci

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/streamfn/streamfn/"

// layers are the repository's folders from the bottom up: a package may
// import its own layer and the ones below it, never one above. The
// README's "Architecture" table names the same groups.
var layers = []struct {
	name    string
	folders []string
}{
	{"codecs", []string{"internal/codec"}},
	{"the event and feature domain", []string{"internal/activity", "internal/features"}},
	{"AWS adapters and function plumbing", []string{"internal/aws", "internal/lambdafn"}},
	{"the functions' logic", []string{"internal/ingest", "internal/processor"}},
	{"the Pulumi program", []string{"infra"}},
	{"operator tools' logic", []string{"internal/ops"}},
	{"the local run and its tools", []string{"internal/dev"}},
	{"commands and function mains", []string{"scripts", "functions"}},
}

func layerOf(path string) (int, bool) {
	for i, l := range layers {
		for _, f := range l.folders {
			if path == f || strings.HasPrefix(path, f+"/") {
				return i, true
			}
		}
	}
	return 0, false
}

// TestImportsGoDownTheLayers holds the layout: every package of the module
// sits in a layer, and no non-test file imports a package of a higher one.
func TestImportsGoDownTheLayers(t *testing.T) {
	fset := token.NewFileSet()
	eachGoFile(t, func(path, rel string) error {
		if !strings.Contains(rel, "/") {
			return nil // no Go file at the root
		}
		dir := filepath.ToSlash(filepath.Dir(rel))
		from, ok := layerOf(dir)
		if !ok {
			t.Errorf("%s: package %s is in no layer; put it in one of the layout's folders (README, \"Architecture\")", rel, dir)
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			target, ok := strings.CutPrefix(strings.Trim(imp.Path.Value, `"`), module)
			if !ok {
				continue
			}
			to, ok := layerOf(target)
			if ok && to > from {
				t.Errorf("%s imports %s: %s may not import %s, a layer above it", rel, target, layers[from].name, layers[to].name)
			}
		}
		return nil
	})
}

func TestLayerOf(t *testing.T) {
	for path, want := range map[string]string{
		"internal/codec/jsonscan": "codecs", "internal/aws/store": "AWS adapters and function plumbing",
		"internal/dev/local/run": "the local run and its tools", "infra/pipeline": "the Pulumi program", "scripts/local": "commands and function mains",
	} {
		i, ok := layerOf(path)
		if !ok || layers[i].name != want {
			t.Errorf("layerOf(%q) = %d, %v; want %q", path, i, ok, want)
		}
	}
	if _, ok := layerOf("internal/codecs"); ok {
		t.Error("internal/codecs is not internal/codec")
	}
}
