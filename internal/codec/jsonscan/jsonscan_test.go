package jsonscan

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

func TestSkipValue(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{`"plain"`, true}, {`"esc\"aped\\ \/ \b\f\n\r\t \u00e9"`, true}, {`"bad \x"`, false}, {`"bad \u00g0"`, false},
		{"\"ctl \x01\"", false}, {`"open`, false}, {`"ünï"`, true},
		{`0`, true}, {`-0.5e+10`, true}, {`01`, true /* 0, then the caller sees 1 */}, {`-`, false}, {`1.`, false}, {`.5`, false}, {`1e`, false},
		{`true`, true}, {`false`, true}, {`null`, true}, {`nul`, false}, {`tru`, false},
		{`{}`, true}, {`[]`, true}, {`{"a":[1,{"b":null}],"c":"d"}`, true}, {`{"a" 1}`, false}, {`{"a":1,}`, false}, {`[1,]`, false},
		{`{1:2}`, false}, {`[1 2]`, false}, {` [ 1 , 2 ] `[1:], true},
	} {
		end, ok := SkipValue(c.in, 0)
		if ok != c.want {
			t.Errorf("SkipValue(%q) ok = %v, want %v", c.in, ok, c.want)
		}
		if ok && c.in != "01" && SkipSpace(c.in, end) != len(c.in) {
			t.Errorf("SkipValue(%q) stopped at %d", c.in, end)
		}
	}
}

func TestString(t *testing.T) {
	for _, c := range []struct {
		in                string
		end               int
		escaped, nonASCII bool
	}{
		{`"abc"`, 5, false, false},
		{`"a somewhat longer plain string"x`, 32, false, false},
		{`"with \"escape\" inside and more text"`, 38, true, false},
		{`"héllo, a long string of words"`, 32, false, true},
		{`"ascii part that is long" "é"`, 25, false, false}, // bytes after the end do not count
	} {
		end, escaped, nonASCII := String(c.in, 0)
		if end != c.end || escaped != c.escaped || nonASCII != c.nonASCII {
			t.Errorf("String(%q) = %d, %v, %v; want %d, %v, %v", c.in, end, escaped, nonASCII, c.end, c.escaped, c.nonASCII)
		}
	}
}

func TestDecimal(t *testing.T) {
	for _, s := range []string{"0", "19.99", "0.1", "1545084650.987", "4503599627370495", "0.000001", "123456789012345.6"} {
		got, ok := Decimal(s)
		want, _ := strconv.ParseFloat(s, 64)
		if !ok || got != want {
			t.Errorf("Decimal(%s) = %v, %v; want %v", s, got, ok, want)
		}
	}
	for _, s := range []string{"", ".", "1.", ".5", "-1", "1e5", "4503599627370496", "12345678901234567890", "1.2.3"} {
		if _, ok := Decimal(s); ok {
			t.Errorf("Decimal(%q) accepted it", s)
		}
	}
}

// FuzzSkipValue: whatever SkipValue accepts as a whole document,
// encoding/json accepts too, and the other way round within the nesting
// limit.
func FuzzSkipValue(f *testing.F) {
	for _, s := range []string{`{"a":[1,2,{"b":"c\n"}],"d":-1.5e3}`, `"x"`, `[true,false,null]`, `{"a":"\ud800"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		i := SkipSpace(doc, 0)
		end, ok := SkipValue(doc, i)
		whole := ok && SkipSpace(doc, end) == len(doc)
		valid := json.Valid([]byte(doc))
		tooDeep := strings.Count(doc, "[")+strings.Count(doc, "{") > MaxDepth
		if whole != valid && (whole || !tooDeep) {
			t.Fatalf("SkipValue says %v, json.Valid says %v, for %q", whole, valid, doc)
		}
	})
}

// FuzzDecimal: Decimal agrees with strconv.ParseFloat wherever it answers.
func FuzzDecimal(f *testing.F) {
	f.Add("19.99")
	f.Add("1545084650.987")
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := Decimal(s)
		if !ok {
			return
		}
		want, err := strconv.ParseFloat(s, 64)
		if err != nil || got != want {
			t.Fatalf("Decimal(%q) = %v, strconv: %v, %v", s, got, want, err)
		}
	})
}
