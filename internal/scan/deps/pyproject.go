package deps

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/mlsec/mlsec/internal/pep440"
)

// ParsePyproject reads the dependencies of a pyproject.toml: PEP 621
// [project] dependencies and optional-dependencies, PEP 735
// [dependency-groups], [build-system] requires, Poetry's
// [tool.poetry.*dependencies] and sources, PDM's dev-dependencies and
// sources, and uv's dev-dependencies, constraint/override dependencies and
// indexes.
func ParsePyproject(data []byte) (*Manifest, error) {
	var doc map[string]any
	if _, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("pyproject.toml: %w", err)
	}
	m := &Manifest{Kind: KindPyproject}
	lf := newLineFinder(data)
	addPEP508 := func(section string, list any) error {
		items, _ := list.([]any)
		for _, it := range items {
			s, ok := it.(string)
			if !ok {
				continue // {include-group = "…"} entries
			}
			r, err := pep440.ParseRequirement(s)
			if err != nil {
				return fmt.Errorf("pyproject.toml: %s: %w", section, err)
			}
			p := fromRequirement(r)
			p.Section, p.Line = section, lf.find(s)
			if err := m.add(p); err != nil {
				return err
			}
		}
		return nil
	}
	project := table(doc, "project")
	if err := addPEP508("project.dependencies", project["dependencies"]); err != nil {
		return nil, err
	}
	for _, k := range sortedKeys(table(project, "optional-dependencies")) {
		if err := addPEP508("project.optional-dependencies."+k, table(project, "optional-dependencies")[k]); err != nil {
			return nil, err
		}
	}
	groups := table(doc, "dependency-groups")
	for _, k := range sortedKeys(groups) {
		if err := addPEP508("dependency-groups."+k, groups[k]); err != nil {
			return nil, err
		}
	}
	if err := addPEP508("build-system.requires", table(doc, "build-system")["requires"]); err != nil {
		return nil, err
	}
	tool := table(doc, "tool")

	// Poetry.
	poetry := table(tool, "poetry")
	poetrySections := map[string]map[string]any{
		"tool.poetry.dependencies":     table(poetry, "dependencies"),
		"tool.poetry.dev-dependencies": table(poetry, "dev-dependencies"),
	}
	for g, v := range table(poetry, "group") {
		gt, _ := v.(map[string]any)
		poetrySections["tool.poetry.group."+g+".dependencies"] = table(gt, "dependencies")
	}
	for _, sec := range sortedKeys(poetrySections) {
		deps := poetrySections[sec]
		for _, name := range sortedKeys(deps) {
			if strings.EqualFold(name, "python") {
				continue
			}
			p, err := poetryDependency(name, deps[name])
			if err != nil {
				return nil, fmt.Errorf("pyproject.toml: %s.%s: %w", sec, name, err)
			}
			p.Section, p.Line = sec, lf.findKey(name)
			if err := m.add(p); err != nil {
				return nil, err
			}
		}
	}
	for _, s := range tables(poetry["source"]) {
		u, _ := s["url"].(string)
		name, _ := s["name"].(string)
		prio, _ := s["priority"].(string)
		if u == "" {
			continue
		}
		// Poetry: "primary" (or legacy default=true) replaces PyPI;
		// "supplemental", "secondary" and unset priorities are consulted
		// beside it; "explicit" only for packages that name it.
		extra := prio != "primary" && prio != "explicit" && s["default"] != true
		m.Indexes = append(m.Indexes, Index{URL: u, Name: name, Extra: extra, Line: lf.find(u)})
	}

	// PDM.
	pdm := table(tool, "pdm")
	dev := table(pdm, "dev-dependencies")
	for _, k := range sortedKeys(dev) {
		if err := addPEP508("tool.pdm.dev-dependencies."+k, dev[k]); err != nil {
			return nil, err
		}
	}
	for _, s := range tables(pdm["source"]) {
		u, _ := s["url"].(string)
		name, _ := s["name"].(string)
		if u == "" {
			continue
		}
		// PDM: a source named "pypi" replaces PyPI; others are extra.
		m.Indexes = append(m.Indexes, Index{URL: u, Name: name, Extra: name != "pypi", Line: lf.find(u)})
	}

	// uv.
	uv := table(tool, "uv")
	for _, k := range []string{"dev-dependencies", "constraint-dependencies", "override-dependencies"} {
		if err := addPEP508("tool.uv."+k, uv[k]); err != nil {
			return nil, err
		}
	}
	for _, s := range tables(uv["index"]) {
		u, _ := s["url"].(string)
		name, _ := s["name"].(string)
		if u == "" {
			continue
		}
		extra := s["default"] != true && s["explicit"] != true
		m.Indexes = append(m.Indexes, Index{URL: u, Name: name, Extra: extra, Line: lf.find(u)})
	}
	if u, ok := uv["index-url"].(string); ok {
		m.Indexes = append(m.Indexes, Index{URL: u, Line: lf.find(u)})
	}
	if l, ok := uv["extra-index-url"].([]any); ok {
		for _, x := range l {
			if u, ok := x.(string); ok {
				m.Indexes = append(m.Indexes, Index{URL: u, Extra: true, Line: lf.find(u)})
			}
		}
	}
	return m, nil
}

// poetryDependency converts a Poetry dependency (a constraint string or a
// table with version/git/path/url) into a Package.
func poetryDependency(name string, v any) (Package, error) {
	p := Package{Name: name}
	var constraint string
	switch x := v.(type) {
	case string:
		constraint = x
	case map[string]any:
		constraint, _ = x["version"].(string)
		for _, k := range []string{"git", "path", "url"} {
			if s, ok := x[k].(string); ok {
				p.URL = s
			}
		}
		if mk, ok := x["markers"].(string); ok {
			p.Marker = mk
		}
		if src, ok := x["source"].(string); ok {
			p.Index = src
		}
		if ex, ok := x["extras"].([]any); ok {
			for _, e := range ex {
				if s, ok := e.(string); ok {
					p.Extras = append(p.Extras, s)
				}
			}
		}
	case []any:
		// Multiple-constraint dependencies: one entry per environment.
		// Checked as unconstrained (every version may be chosen).
		return p, nil
	default:
		return p, fmt.Errorf("unsupported dependency value %T", v)
	}
	set, err := PoetryConstraint(constraint)
	if err != nil {
		return p, err
	}
	p.Specifier = set
	return p, nil
}

var poetryVersionRE = regexp.MustCompile(`^[0-9][0-9A-Za-z.+!-]*$`)

// PoetryConstraint translates Poetry's version constraint syntax (^, ~,
// *, bare versions, comma lists of PEP 440 clauses) to a PEP 440 set.
// Alternatives ("||") cannot be one set: they become "any version".
func PoetryConstraint(s string) (pep440.Set, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "*" || strings.Contains(s, "||") || strings.Contains(s, "|") {
		return nil, nil
	}
	var clauses []string
	for part := range strings.SplitSeq(s, ",") {
		// Operators may be separated from their versions by spaces, and
		// clauses by spaces instead of commas (">= 1.2 < 2").
		var toks []string
		for f := range strings.FieldsSeq(part) {
			if n := len(toks); n > 0 && strings.Trim(toks[n-1], "<>=!~^") == "" {
				toks[n-1] += f
				continue
			}
			toks = append(toks, f)
		}
		for _, f := range toks {
			c, err := poetryClause(f)
			if err != nil {
				return nil, err
			}
			clauses = append(clauses, c...)
		}
	}
	return pep440.ParseSet(strings.Join(clauses, ","))
}

func poetryClause(c string) ([]string, error) {
	switch {
	case strings.HasPrefix(c, "^"):
		v, err := pep440.Parse(c[1:])
		if err != nil {
			return nil, err
		}
		// Caret: the left-most non-zero release segment may not change.
		rel := v.Release
		i := 0
		for i < len(rel)-1 && rel[i] == 0 {
			i++
		}
		upper := upperBound(rel, i)
		return []string{">=" + v.String(), "<" + upper}, nil
	case strings.HasPrefix(c, "~") && !strings.HasPrefix(c, "~="):
		v, err := pep440.Parse(c[1:])
		if err != nil {
			return nil, err
		}
		i := 1
		if len(v.Release) == 1 {
			i = 0
		}
		return []string{">=" + v.String(), "<" + upperBound(v.Release, i)}, nil
	case strings.HasSuffix(c, ".*") && poetryVersionRE.MatchString(strings.TrimSuffix(c, ".*")):
		return []string{"==" + c}, nil
	case poetryVersionRE.MatchString(c):
		return []string{"==" + c}, nil
	case strings.HasPrefix(c, "="):
		if !strings.HasPrefix(c, "==") {
			c = "=" + c
		}
		return []string{c}, nil
	}
	return []string{c}, nil
}

// upperBound increments release segment i and drops the rest ("1.2.3", 1
// → "1.3.0.dev0"-free form "1.3").
func upperBound(rel []uint64, i int) string {
	parts := make([]string, 0, i+1)
	for j := 0; j <= i && j < len(rel); j++ {
		n := rel[j]
		if j == i {
			n++
		}
		parts = append(parts, fmt.Sprint(n))
	}
	return strings.Join(parts, ".")
}

func table(m map[string]any, k string) map[string]any {
	if m == nil {
		return nil
	}
	t, _ := m[k].(map[string]any)
	return t
}

func tables(v any) []map[string]any {
	switch x := v.(type) {
	case []map[string]any:
		return x
	case []any:
		var out []map[string]any
		for _, e := range x {
			if t, ok := e.(map[string]any); ok {
				out = append(out, t)
			}
		}
		return out
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// lineFinder locates the first line mentioning a string, for evidence.
type lineFinder struct {
	lines []string
}

func newLineFinder(data []byte) *lineFinder {
	return &lineFinder{lines: strings.Split(string(data), "\n")}
}

func (l *lineFinder) find(s string) int {
	for i, line := range l.lines {
		if strings.Contains(line, s) {
			return i + 1
		}
	}
	return 0
}

// findKey finds a TOML key at the start of a line ("torch = …").
func (l *lineFinder) findKey(k string) int {
	for i, line := range l.lines {
		t := strings.TrimSpace(line)
		t = strings.Trim(t, `"'`)
		if strings.HasPrefix(t, k) {
			rest := strings.TrimLeft(t[len(k):], `"' `)
			if strings.HasPrefix(rest, "=") {
				return i + 1
			}
		}
	}
	return 0
}
