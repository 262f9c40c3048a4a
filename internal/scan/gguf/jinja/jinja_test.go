package jinja

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readDir(t testing.TB, dir string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.jinja"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no templates in %s: %v", dir, err)
	}
	out := map[string]string{}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = string(b)
	}
	return out
}

func TestBenignTemplates(t *testing.T) {
	t.Parallel()
	for name, src := range readDir(t, "benign") {
		issues, err := Check(src)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(issues) != 0 {
			t.Errorf("%s: unexpected issues %+v", name, issues)
		}
	}
}

func TestMaliciousTemplates(t *testing.T) {
	t.Parallel()
	want := map[string]Level{
		"private-attr.jinja": Suspicious,
		"dynamic-attr.jinja": Suspicious,
		"include.jinja":      Include,
	}
	for name, src := range readDir(t, "malicious") {
		issues, err := Check(src)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		lvl, ok := want[name]
		if !ok {
			lvl = Escape
		}
		if len(issues) == 0 || issues[0].Level != lvl {
			t.Errorf("%s: issues %+v, want top level %d", name, issues, lvl)
		}
	}
}

func TestSyntaxErrors(t *testing.T) {
	t.Parallel()
	for _, src := range []string{
		"{{ x ", "{% for x in y %}", "{% if x %}{% endfor %}", "{{ 'abc }}", "{# open",
		"{% bogus %}", "{{ x. }}", "{{ (1 }}", "{{ [1, 2 }}", "{% endif %}", "{{ x | }}",
		"{% set %}", "{% raw %}never closed", "{{ a b }}", "{{ x is }}", "{% macro m( %}{% endmacro %}",
		"{{ 1 + }}", "{% for in y %}{% endfor %}", "{{ } }}", "{{ x ? y }}",
	} {
		_, err := Parse(src)
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want a syntax error", src)
			continue
		}
		if !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) error %v does not wrap ErrSyntax", src, err)
		}
	}
}

func TestFold(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		`{{ x['__cla' ~ 'ss__'] }}`:                    "__class__",
		`{{ x[("_" * 2) + "class" + "_" * 2] }}`:       "__class__",
		`{{ x['\u005f\u005fclass\u005f\u005f'] }}`:     "__class__",
		`{{ x['\137\137class\137\137'] }}`:             "__class__",
		`{{ x["\N{LOW LINE}_class__"] }}`:              "__class__",
		`{{ x['%s%sclass%s%s' % ('_','_','_','_')] }}`: "__class__",
		`{{ x["__CLASS__"|lower] }}`:                   "__class__",
		`{{ x["--class--"|replace("-", "_")] }}`:       "__class__",
		`{{ x['_'.join(['', '', 'class', '', ''])] }}`: "__class__",
	}
	for src, want := range cases {
		issues, err := Check(src)
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		if len(issues) == 0 || issues[0].Level != Escape || !strings.Contains(issues[0].Why, want) {
			t.Errorf("%s: issues %+v, want an escape naming %s", src, issues, want)
		}
	}
}

func TestBoundNamesNotFlagged(t *testing.T) {
	t.Parallel()
	issues, err := Check(`{% set os = 'linux' %}{% for sys in messages %}{{ os }}{{ sys }}{% endfor %}`)
	if err != nil || len(issues) != 0 {
		t.Errorf("issues %+v err %v, want none", issues, err)
	}
	issues, _ = Check(`{{ os.popen('true') }}`)
	if len(issues) == 0 || issues[0].Level != Escape {
		t.Errorf("issues %+v, want an escape for os.popen", issues)
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("(", 10000) + "1" + strings.Repeat(")", 10000)
	if _, err := Parse("{{ " + deep + " }}"); err == nil {
		t.Error("deep nesting parsed")
	}
	nested := strings.Repeat("{% if x %}", 5000) + strings.Repeat("{% endif %}", 5000)
	if _, err := Parse(nested); err == nil {
		t.Error("deep block nesting parsed")
	}
	notNot := "{{ " + strings.Repeat("not ", 5000) + "x }}"
	if _, err := Parse(notNot); err == nil {
		t.Error("deep not chain parsed")
	}
}

func FuzzJinja(f *testing.F) {
	for _, dir := range []string{"benign", "malicious"} {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.jinja"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(string(b))
			}
		}
	}
	f.Fuzz(func(t *testing.T, src string) {
		issues, err := Check(src)
		if err != nil && !errors.Is(err, ErrSyntax) {
			t.Fatalf("error %v does not wrap ErrSyntax", err)
		}
		for _, is := range issues {
			if is.Level < Include || is.Level > Escape {
				t.Fatalf("bad level %d", is.Level)
			}
		}
	})
}

// TestJinja2Oracle compares with jinja2's own parser (testdata/gen_oracle.py):
// every template jinja2 accepts must parse here.
func TestJinja2Oracle(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/oracle.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	accepted := 0
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var c struct {
			Src string `json:"src"`
			OK  bool   `json:"ok"`
		}
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		_, err := Parse(c.Src)
		if c.OK && err != nil {
			t.Errorf("case %d: jinja2 accepts but Parse fails: %v\n%q", i+1, err, c.Src)
		}
		if !c.OK && err == nil {
			accepted++
		}
	}
	t.Logf("%d templates jinja2 rejects are accepted here (lenient escapes)", accepted)
}

func TestAnalysisBounded(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("{% set a0 = 'x' %}")
	for i := 1; i <= 60; i++ {
		fmt.Fprintf(&b, "{%% set a%d = (a%d ~ a%d)|replace('xx', 'x') %%}", i, i-1, i-1)
	}
	for i := 0; i < 2000; i++ {
		b.WriteString("{{ m[a60] }}{{ m[a59 ~ a58] }}")
	}
	start := time.Now()
	if _, err := Check(b.String()); err != nil && !errors.Is(err, ErrLimit) {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("analysis took %v", d)
	}
	long := "{{ x.__class__ + " + strings.Repeat("x.y + ", 20000) + "x }}"
	issues, err := Check(long)
	if err != nil || len(issues) == 0 || issues[0].Level != Escape {
		t.Errorf("long expression: %v %+v", err, issues)
	}
	split := "{{ m|attr(" + strings.Repeat("'_' ~ ", 2) + "'c' ~ 'l' ~ 'a' ~ 's' ~ 's'" + strings.Repeat(" ~ '_'", 2) + strings.Repeat(" ~ ''", 100) + ") }}"
	issues, err = Check(split)
	if err != nil || len(issues) == 0 || issues[0].Level != Escape {
		t.Errorf("long concatenation: %v %+v", err, issues)
	}
}
