package names_test

import (
	"strings"
	"testing"

	"github.com/streamfn/streamfn/infra/names"
)

// AwkwardStacks are stack names Pulumi accepts (letters, digits, "-", "_", ".", up to 100
// characters) that some AWS service does not take as part of a name.
var AwkwardStacks = []string{
	"dev", "prod", "qa.eu", "QA.EU", "a", "my_stack", "team.qa.eu-west-1", "-lead", "trail.", "x..y", "__",
	"192.168.0.1", strings.Repeat("long-stack-name.", 7)[:100], strings.Repeat("A", 100),
}

var rules = []names.Rule{
	names.Dashboard, names.LogGroup, names.Bucket, names.Queue, names.Role, names.Table,
	names.Function, names.Stream, names.Consumer, names.Topic, names.TopicDisplayName, names.Alarm,
}

func TestNameIsValidForEveryStackName(t *testing.T) {
	for _, rule := range rules {
		for _, stack := range AwkwardStacks {
			for _, parts := range [][]string{{"streamfn", stack}, {"streamfn", stack, "failures", names.Hash("arn", 8)}, {stack}} {
				name := rule.Name(parts...)
				if err := rule.Check(name); err != nil {
					t.Errorf("%s.Name(%q): %v", rule.Service, parts, err)
				}
				if again := rule.Name(parts...); again != name {
					t.Errorf("%s.Name(%q) is not stable: %q, then %q", rule.Service, parts, name, again)
				}
			}
		}
	}
}

func TestLongNamesStayDistinct(t *testing.T) {
	a := names.Bucket.Name("streamfn", strings.Repeat("x", 90)+"-one", "failures")
	b := names.Bucket.Name("streamfn", strings.Repeat("x", 90)+"-two", "failures")
	if a == b {
		t.Errorf("two stacks that differ after the length limit share the bucket name %s", a)
	}
	if len(a) != 63 {
		t.Errorf("a cut name uses %d of the 63 characters", len(a))
	}
}

func TestExamples(t *testing.T) {
	for _, tt := range []struct {
		rule  names.Rule
		parts []string
		want  string
	}{
		{names.Dashboard, []string{"streamfn", "qa.eu", "1a2b3c4d"}, "streamfn-qa-eu-1a2b3c4d"},
		{names.Dashboard, []string{"streamfn", "dev", "1a2b3c4d"}, "streamfn-dev-1a2b3c4d"},
		{names.LogGroup, []string{"/streamfn/qa.eu/ingest"}, "/streamfn/qa.eu/ingest"},
		{names.Bucket, []string{"streamfn", "QA.EU", "failures"}, "streamfn-qa-eu-failures"},
	} {
		if got := tt.rule.Name(tt.parts...); got != tt.want {
			t.Errorf("%s.Name(%q) = %q, want %q", tt.rule.Service, tt.parts, got, tt.want)
		}
	}
}

func TestCheckExplains(t *testing.T) {
	for _, tt := range []struct {
		rule names.Rule
		name string
		want string
	}{
		{names.Dashboard, "streamfn-qa.eu", `contains "."`},
		{names.Bucket, "Streamfn-dev", "uppercase"},
		{names.Bucket, "ab", "3..63"},
		{names.Bucket, "-streamfn", "begin and end"},
		{names.Bucket, "xn--streamfn", `"xn--"`},
		{names.Bucket, "192.168.0.1", "contains"},
		{names.Role, strings.Repeat("r", 65), "1..64"},
		{names.Queue, "failures.fifo.x", `contains "."`},
	} {
		err := tt.rule.Check(tt.name)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "https://docs.aws.amazon.com/") {
			t.Errorf("%s.Check(%q) = %v, want an error saying %s and citing AWS's page", tt.rule.Service, tt.name, err, tt.want)
		}
	}
}
