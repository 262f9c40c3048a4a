package deps

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/BurntSushi/toml"
	"gopkg.in/yaml.v3"

	"github.com/mlsec/mlsec/internal/pep440"
)

type lockFile struct {
	Name     string `toml:"name"`
	Version  string `toml:"version"`
	Markers  string `toml:"markers"`
	Optional bool   `toml:"optional"`
	Groups   []string
	Files    []struct {
		File string `toml:"file"`
		URL  string `toml:"url"`
		Hash string `toml:"hash"`
	} `toml:"files"`
	// Poetry source / uv source.
	Source map[string]any `toml:"source"`
	// uv.
	Sdist  map[string]any   `toml:"sdist"`
	Wheels []map[string]any `toml:"wheels"`
	// PDM direct references.
	Git  string `toml:"git"`
	Path string `toml:"path"`
	URL  string `toml:"url"`
}

// ParsePoetryLock reads poetry.lock (v1 and v2 formats).
func ParsePoetryLock(data []byte) (*Manifest, error) {
	return parseTOMLLock(data, KindPoetryLock)
}

// ParseUVLock reads uv.lock.
func ParseUVLock(data []byte) (*Manifest, error) { return parseTOMLLock(data, KindUVLock) }

// ParsePDMLock reads pdm.lock.
func ParsePDMLock(data []byte) (*Manifest, error) { return parseTOMLLock(data, KindPDMLock) }

func parseTOMLLock(data []byte, kind string) (*Manifest, error) {
	var doc struct {
		Package []lockFile `toml:"package"`
	}
	if _, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	m := &Manifest{Kind: kind, Lock: true}
	lf := newLineFinder(data)
	indexes := map[string]bool{}
	for _, lp := range doc.Package {
		if lp.Name == "" {
			continue
		}
		p := Package{Name: lp.Name, Version: lp.Version, Marker: lp.Markers, Section: "package"}
		if _, err := pep440.Parse(lp.Version); err != nil && lp.Version != "" {
			return nil, fmt.Errorf("%s: package %s: %w", kind, lp.Name, err)
		}
		if v, err := pep440.Parse(lp.Version); err == nil {
			p.Version = v.String()
		}
		p.Line = lf.find(`name = "` + lp.Name + `"`)
		for _, f := range lp.Files {
			if f.Hash != "" {
				p.Hashes = append(p.Hashes, f.Hash)
			}
		}
		if h, ok := lp.Sdist["hash"].(string); ok {
			p.Hashes = append(p.Hashes, h)
		}
		for _, w := range lp.Wheels {
			if h, ok := w["hash"].(string); ok {
				p.Hashes = append(p.Hashes, h)
			}
		}
		switch {
		case lp.Git != "":
			p.URL = lp.Git
		case lp.Path != "":
			p.URL = lp.Path
		case lp.URL != "":
			p.URL = lp.URL
		}
		// Sources: Poetry {type, url, reference}; uv {registry|git|path|
		// editable|virtual|directory|url = …}.
		if lp.Source != nil {
			if t, _ := lp.Source["type"].(string); t != "" {
				u, _ := lp.Source["url"].(string)
				if t == "legacy" {
					p.Index = u
					indexes[u] = true
				} else {
					p.URL = u
				}
			}
			if r, ok := lp.Source["registry"].(string); ok {
				p.Index = r
				indexes[r] = true
			}
			for _, k := range []string{"git", "path", "editable", "virtual", "directory", "url"} {
				if s, ok := lp.Source[k].(string); ok {
					p.URL = s
				}
			}
		}
		if kind == KindUVLock && p.URL != "" && len(p.Hashes) == 0 {
			// The project itself (virtual/editable) has no artifacts.
			if _, virtual := lp.Source["virtual"]; virtual {
				continue
			}
			if _, editable := lp.Source["editable"]; editable {
				continue
			}
		}
		if err := m.add(p); err != nil {
			return nil, err
		}
	}
	for _, u := range sortedKeys(indexes) {
		if !isPyPI(u) {
			m.Indexes = append(m.Indexes, Index{URL: u, Extra: true, Line: lf.find(u)})
		}
	}
	return m, nil
}

// isPyPI reports whether an index URL is the public PyPI.
func isPyPI(u string) bool {
	u = strings.TrimRight(strings.ToLower(u), "/")
	return u == "https://pypi.org/simple" || u == "https://pypi.python.org/simple" || u == "https://pypi.org/pypi"
}

// ParsePipfileLock reads Pipfile.lock (JSON; "default" and "develop").
func ParsePipfileLock(data []byte) (*Manifest, error) {
	var doc struct {
		Meta struct {
			Sources []struct {
				Name      string `json:"name"`
				URL       string `json:"url"`
				VerifySSL *bool  `json:"verify_ssl"`
			} `json:"sources"`
		} `json:"_meta"`
		Default map[string]pipfileDep `json:"default"`
		Develop map[string]pipfileDep `json:"develop"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("pipfile.lock: %w", err)
	}
	m := &Manifest{Kind: KindPipfileLock, Lock: true}
	lf := newLineFinder(data)
	for i, s := range doc.Meta.Sources {
		m.Indexes = append(m.Indexes, Index{URL: s.URL, Name: s.Name, Extra: i > 0, Line: lf.find(s.URL)})
		if s.VerifySSL != nil && !*s.VerifySSL {
			m.TrustedHosts = append(m.TrustedHosts, s.URL)
		}
	}
	for _, sec := range []struct {
		name string
		deps map[string]pipfileDep
	}{{"default", doc.Default}, {"develop", doc.Develop}} {
		for _, name := range sortedKeys(sec.deps) {
			d := sec.deps[name]
			p := Package{Name: name, Hashes: d.Hashes, Marker: d.Markers, Section: sec.name, Index: d.Index,
				Line: lf.find(`"` + name + `"`)}
			switch {
			case d.Git != "":
				p.URL = d.Git
			case d.Path != "":
				p.URL = d.Path
			case d.File != "":
				p.URL = d.File
			}
			if d.Version != "" {
				set, err := pep440.ParseSet(d.Version)
				if err != nil {
					return nil, fmt.Errorf("pipfile.lock: %s: %w", name, err)
				}
				p.Specifier = set
			}
			if err := m.add(p); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

type pipfileDep struct {
	Version string   `json:"version"`
	Hashes  []string `json:"hashes"`
	Markers string   `json:"markers"`
	Index   string   `json:"index"`
	Git     string   `json:"git"`
	Path    string   `json:"path"`
	File    string   `json:"file"`
}

// condaToPyPI maps conda package names that differ from their PyPI names.
var condaToPyPI = map[string]string{
	"pytorch": "torch", "pytorch-cpu": "torch", "pytorch-gpu": "torch", "py-xgboost": "xgboost",
	"py-opencv": "opencv-python", "tensorflow-base": "tensorflow", "pyyaml": "pyyaml",
	"matplotlib-base": "matplotlib", "pytorch-lightning": "pytorch-lightning",
}

// ParseCondaEnv reads a conda environment.yml: conda match specs
// ("numpy=1.26", "pytorch==2.1.0=py3.11_cuda12.1_0", "scipy>=1.10") and the
// pip section (requirement lines, with -r/-c includes through resolve).
func ParseCondaEnv(data []byte, resolve Resolver) (*Manifest, error) {
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		return nil, fmt.Errorf("environment.yml: %w", err)
	}
	if len(n.Content) == 0 || n.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("environment.yml: not a mapping")
	}
	root := n.Content[0]
	m := &Manifest{Kind: KindConda}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "channels":
			for _, c := range v.Content {
				if strings.Contains(c.Value, "://") {
					m.Indexes = append(m.Indexes, Index{URL: c.Value, Name: "conda channel", Line: c.Line})
				}
			}
		case "dependencies":
			if v.Kind != yaml.SequenceNode {
				return nil, fmt.Errorf("environment.yml: dependencies is not a list")
			}
			for _, d := range v.Content {
				switch d.Kind {
				case yaml.ScalarNode:
					p, ok, err := condaSpec(d.Value)
					if err != nil {
						return nil, fmt.Errorf("environment.yml line %d: %w", d.Line, err)
					}
					if !ok {
						continue
					}
					p.Line, p.Section = d.Line, "dependencies"
					if err := m.add(p); err != nil {
						return nil, err
					}
				case yaml.MappingNode:
					for j := 0; j+1 < len(d.Content); j += 2 {
						if d.Content[j].Value != "pip" {
							continue
						}
						if err := condaPip(m, d.Content[j+1], resolve); err != nil {
							return nil, err
						}
					}
				}
			}
		}
	}
	return m, nil
}

func condaPip(m *Manifest, list *yaml.Node, resolve Resolver) error {
	var lines []string
	for _, e := range list.Content {
		lines = append(lines, e.Value)
	}
	sub, err := ParseRequirements([]byte(strings.Join(lines, "\n")), resolve)
	if err != nil {
		return fmt.Errorf("environment.yml pip section: %w", err)
	}
	for _, p := range sub.Packages {
		if p.File == "" && p.Line > 0 && p.Line <= len(list.Content) {
			p.Line = list.Content[p.Line-1].Line
		}
		p.Section = "pip"
		if err := m.add(p); err != nil {
			return err
		}
	}
	for _, ix := range sub.Indexes {
		if ix.Line > 0 && ix.Line <= len(list.Content) {
			ix.Line = list.Content[ix.Line-1].Line
		}
		m.Indexes = append(m.Indexes, ix)
	}
	m.TrustedHosts = append(m.TrustedHosts, sub.TrustedHosts...)
	m.Notes = append(m.Notes, sub.Notes...)
	return nil
}

// condaSpec parses a conda match spec in its common forms. Channel
// prefixes ("conda-forge::numpy") are dropped; "python" and virtual
// packages are skipped.
func condaSpec(s string) (Package, bool, error) {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "::"); i >= 0 {
		s = s[i+2:]
	}
	if s == "" || strings.HasPrefix(s, "__") {
		return Package{}, false, nil
	}
	i := strings.IndexAny(s, "=<>!~ ")
	name, rest := s, ""
	if i >= 0 {
		name, rest = s[:i], strings.TrimSpace(s[i:])
	}
	if !pep440.ValidName(name) {
		return Package{}, false, fmt.Errorf("invalid conda package name %q", name)
	}
	if l := strings.ToLower(name); l == "python" || l == "pip" {
		return Package{}, false, nil
	}
	p := Package{Name: name, Conda: true}
	var spec string
	switch {
	case rest == "":
	case strings.HasPrefix(rest, "=="):
		spec = "==" + strings.SplitN(rest[2:], "=", 2)[0]
	case strings.HasPrefix(rest, "=") && !strings.HasPrefix(rest, "=="):
		parts := strings.SplitN(rest[1:], "=", 2)
		v := strings.TrimSuffix(parts[0], "*")
		v = strings.TrimSuffix(v, ".")
		if len(parts) == 2 && !strings.Contains(parts[0], "*") {
			spec = "==" + v // version and build string: exact
		} else {
			spec = "==" + v + ".*" // conda's "=1.2" means 1.2.*
		}
	default:
		spec = strings.ReplaceAll(strings.SplitN(rest, " ", 2)[0], "*", "")
	}
	set, err := pep440.ParseSet(spec)
	if err != nil {
		return Package{}, false, fmt.Errorf("conda spec %q: %w", s, err)
	}
	p.Specifier = set
	return p, true, nil
}
