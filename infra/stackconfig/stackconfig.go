// Package stackconfig reads Pulumi.yaml's config defaults and Pulumi.<stack>.yaml's values the
// way the Pulumi CLI merges them, and produces the flat map of "namespace:key" to string that
// pulumi.RunInfo.Config holds. It is pure YAML reading: the rules for values live in infra/config.
package stackconfig

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/agext/levenshtein"
	"gopkg.in/yaml.v3"

	"github.com/streamfn/streamfn/infra/config"
)

// ProjectFile is the name of the Pulumi project file.
const ProjectFile = "Pulumi.yaml"

// Project is the part of Pulumi.yaml the offline tools need.
type Project struct {
	Name string
	// Config maps each fully qualified key to its declaration.
	Config map[string]Declaration
}

// Declaration is one entry of Pulumi.yaml's config block.
type Declaration struct {
	Type        string // "string", "integer", "boolean", "array", "object"; empty for non-project keys
	Description string
	// Default is the project key's default; Value is a non-project key's value (aws:region).
	// Pulumi forbids both on one key; Default set to nil means the key is required.
	Default any
	Value   any
}

type projectFile struct {
	Name   string         `yaml:"name"`
	Config map[string]any `yaml:"config"`
}

type stackFile struct {
	Config map[string]any `yaml:"config"`
}

// ReadProject parses dir/Pulumi.yaml.
func ReadProject(dir string) (*Project, error) {
	path := filepath.Join(dir, ProjectFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the project file: %w", err)
	}
	var pf projectFile
	if err := yaml.Unmarshal(data, &pf); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	if pf.Name == "" {
		return nil, fmt.Errorf("%s has no name", path)
	}
	p := &Project{Name: pf.Name, Config: map[string]Declaration{}}
	for key, raw := range pf.Config {
		full := p.qualify(key)
		decl := Declaration{}
		if m, ok := raw.(map[string]any); ok && isDeclaration(m) {
			decl.Type, _ = m["type"].(string)
			decl.Description, _ = m["description"].(string)
			decl.Default = m["default"]
			decl.Value = m["value"]
		} else if p.ownsKey(full) {
			// Shorthand "key: value" is a default for project keys and a value for others.
			decl.Default = raw
		} else {
			decl.Value = raw
		}
		if decl.Default != nil && decl.Value != nil {
			return nil, fmt.Errorf("%s: config key %s has both a default and a value; Pulumi allows one", path, full)
		}
		p.Config[full] = decl
	}
	return p, nil
}

func isDeclaration(m map[string]any) bool {
	for k := range m {
		switch k {
		case "type", "default", "value", "description", "secret", "items":
		default:
			return false
		}
	}
	return true
}

// qualify turns a bare project key into "project:key", as Pulumi does.
func (p *Project) qualify(key string) string {
	if strings.Contains(key, ":") {
		return key
	}
	return p.Name + ":" + key
}

func (p *Project) ownsKey(fullKey string) bool {
	return strings.HasPrefix(fullKey, p.Name+":")
}

// Keys returns the fully qualified keys Pulumi.yaml declares, sorted.
func (p *Project) Keys() []string {
	return slices.Sorted(maps.Keys(p.Config))
}

// Defaults renders every declared default (and non-project value) as Pulumi passes it to a
// program. Keys declared without either are left out: they are required.
func (p *Project) Defaults() (map[string]string, error) {
	values := map[string]string{}
	for key, decl := range p.Config {
		v := decl.Default
		if v == nil {
			v = decl.Value
		}
		if v == nil {
			continue
		}
		s, err := render(v)
		if err != nil {
			return nil, fmt.Errorf("%s: config key %s: %w", ProjectFile, key, err)
		}
		values[key] = s
	}
	return values, nil
}

// MissingStackError is a stack without a settings file: a usage error of
// the tools that take -stack.
type MissingStackError struct{ Stack, Path string }

func (e *MissingStackError) Error() string {
	return fmt.Sprintf("stack %q has no settings file %s; create it (pulumi stack init %s) or pick another stack", e.Stack, e.Path, e.Stack)
}

// StackFile is the path of a stack's settings file in dir.
func StackFile(dir, stack string) string { return filepath.Join(dir, "Pulumi."+stack+".yaml") }

// CheckStack is a *MissingStackError when the stack has no settings file
// in dir: what the tools that take -stack check before any work.
func CheckStack(dir, stack string) error {
	if _, err := os.Stat(StackFile(dir, stack)); errors.Is(err, os.ErrNotExist) {
		return &MissingStackError{Stack: stack, Path: StackFile(dir, stack)}
	}
	return nil
}

// Load merges dir/Pulumi.<stack>.yaml over dir/Pulumi.yaml's defaults and returns the values as
// Pulumi passes them to a program: strings as they are, numbers and booleans in their plain
// text form, objects and arrays as JSON. Problems with keys of the stack file come back as one
// *config.ValidationError.
func Load(dir, stack string) (map[string]string, error) {
	values, problems, err := LoadAll(dir, stack)
	if err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		return nil, &config.ValidationError{Stack: stack, Problems: problems}
	}
	return values, nil
}

// LoadAll is Load that keeps going past problems with single keys: it returns the values of
// every other key with the problems, so that the caller can validate those values too and
// report everything in one pass. An error is a file that cannot be read at all.
func LoadAll(dir, stack string) (map[string]string, []config.Problem, error) {
	project, err := ReadProject(dir)
	if err != nil {
		return nil, nil, err
	}
	stackPath := StackFile(dir, stack)
	data, err := os.ReadFile(stackPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, &MissingStackError{Stack: stack, Path: stackPath}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading the stack settings: %w", err)
	}
	var sf stackFile
	if err := yaml.Unmarshal(data, &sf); err != nil {
		return nil, nil, fmt.Errorf("parsing %s: %w", stackPath, err)
	}

	merged, err := project.Defaults()
	if err != nil {
		return nil, nil, err
	}
	file := filepath.Base(stackPath)
	var problems []config.Problem
	for _, key := range slices.Sorted(maps.Keys(sf.Config)) {
		v := sf.Config[key]
		full := project.qualify(key)
		shown, _ := render(v)
		if _, declared := project.Config[full]; project.ownsKey(full) && !declared {
			p := config.Problem{Key: full, Value: shown,
				Rule: fmt.Sprintf("is set in %s but %s declares no such key", file, ProjectFile),
				Fix:  "pulumi config rm " + full}
			if guess := project.closest(full); guess != "" {
				p.Rule += fmt.Sprintf("; did you mean %s?", guess)
				p.Fix = fmt.Sprintf("pulumi config rm %s && pulumi config set %s %s", full, guess, shellWord(shown))
			}
			problems = append(problems, p)
			continue
		}
		if m, ok := v.(map[string]any); ok {
			if _, secure := m["secure"]; secure && len(m) == 1 {
				problems = append(problems, config.Problem{Key: full, Value: "(secret)",
					Rule: "is a secret, which the offline tools cannot decrypt",
					Fix:  "keep secrets out of the keys the program reads offline"})
				continue
			}
		}
		s, err := render(v)
		if err != nil {
			problems = append(problems, config.Problem{Key: full, Value: fmt.Sprint(v), Rule: err.Error(), Fix: "write it as a string, number, boolean, list or map"})
			continue
		}
		merged[full] = s
	}
	for _, key := range project.Keys() {
		decl := project.Config[key]
		if _, ok := merged[key]; !ok && decl.Default == nil && decl.Value == nil {
			problems = append(problems, config.Problem{Key: key, Value: "(not set)",
				Rule: fmt.Sprintf("%s declares it without a default and %s does not set it", ProjectFile, file),
				Fix:  "pulumi config set " + key + " <value>"})
		}
	}
	return merged, problems, nil
}

// closest is the declared key nearest to an undeclared one by edit distance (case-blind), ""
// when none is near enough to be a likely typo.
func (p *Project) closest(key string) string {
	best, bestDistance := "", 0
	for _, k := range p.Keys() {
		d := levenshtein.Distance(strings.ToLower(key), strings.ToLower(k), nil)
		if best == "" || d < bestDistance {
			best, bestDistance = k, d
		}
	}
	name := key[strings.Index(key, ":")+1:]
	if best == "" || bestDistance > max(2, len(name)/3) {
		return ""
	}
	return best
}

// shellWord is a value as one shell word, quoted when it needs to be.
func shellWord(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:/@+=,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func render(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.Itoa(x), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case map[string]any, []any:
		b, err := json.Marshal(x)
		if err != nil {
			return "", err
		}
		return string(b), nil
	default:
		return "", fmt.Errorf("unsupported value %v of type %T", v, v)
	}
}
