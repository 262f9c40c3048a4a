// Package compliance maps mlsec's rules and evidence to the controls of
// the frameworks organisations answer to: OWASP Machine Learning Security
// Top 10, OWASP Top 10 for LLM Applications 2025, MITRE ATLAS (v5
// technique and mitigation IDs), NIST AI RMF 1.0 subcategories, EU AI Act
// Articles 9–15 and ISO/IEC 42001:2023 Annex A. The maps are embedded data
// (data/*.yaml); Assess judges, control by control, what a policy decision
// and its evidence show.
package compliance

import (
	_ "embed"
	"fmt"
	"path"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/mlsec/mlsec/internal/policy"
)

//go:embed data/frameworks.yaml
var frameworksYAML []byte

//go:embed data/mappings.yaml
var mappingsYAML []byte

// Framework is one control catalogue.
type Framework struct {
	ID       string    `yaml:"id" json:"id"`
	Name     string    `yaml:"name" json:"name"`
	Version  string    `yaml:"version" json:"version"`
	URL      string    `yaml:"url" json:"url"`
	Controls []Control `yaml:"controls" json:"controls"`
}

// Control is one control, article, risk, technique or mitigation.
type Control struct {
	ID    string `yaml:"id" json:"id"`
	Title string `yaml:"title" json:"title"`
	// Kind distinguishes ATLAS techniques from mitigations.
	Kind string `yaml:"kind" json:"kind,omitempty"`
	// Evidence lists the kinds of evidence that speak to the control; none
	// means an organisational control mlsec cannot assess.
	Evidence []string `yaml:"evidence" json:"evidence"`
}

type mapping struct {
	Match    []string            `yaml:"match"`
	Controls map[string][]string `yaml:"controls"`
}

// Catalogue is the loaded data.
type Catalogue struct {
	Frameworks    []*Framework
	EvidenceKinds map[string]string
	mappings      []mapping
	byID          map[string]*Framework
	control       map[string]map[string]*Control // framework → control ID → control
	memo          sync.Map                       // framework+"\x00"+rule → []string
}

var (
	defaultOnce sync.Once
	defaultCat  *Catalogue
	defaultErr  error
)

// Default returns the embedded catalogue.
func Default() *Catalogue {
	defaultOnce.Do(func() { defaultCat, defaultErr = Load(frameworksYAML, mappingsYAML) })
	if defaultErr != nil {
		panic("compliance: embedded data: " + defaultErr.Error())
	}
	return defaultCat
}

// Load parses a frameworks and a mappings document and checks that every
// mapped control exists.
func Load(frameworks, mappings []byte) (*Catalogue, error) {
	var fw struct {
		EvidenceKinds map[string]string `yaml:"evidence_kinds"`
		Frameworks    []*Framework      `yaml:"frameworks"`
	}
	if err := yaml.Unmarshal(frameworks, &fw); err != nil {
		return nil, fmt.Errorf("frameworks: %w", err)
	}
	var mp struct {
		Mappings []mapping `yaml:"mappings"`
	}
	if err := yaml.Unmarshal(mappings, &mp); err != nil {
		return nil, fmt.Errorf("mappings: %w", err)
	}
	c := &Catalogue{Frameworks: fw.Frameworks, EvidenceKinds: fw.EvidenceKinds, mappings: mp.Mappings,
		byID: map[string]*Framework{}, control: map[string]map[string]*Control{}}
	for _, f := range c.Frameworks {
		if c.byID[f.ID] != nil {
			return nil, fmt.Errorf("framework %s listed twice", f.ID)
		}
		c.byID[f.ID] = f
		c.control[f.ID] = map[string]*Control{}
		for i := range f.Controls {
			ctl := &f.Controls[i]
			if c.control[f.ID][ctl.ID] != nil {
				return nil, fmt.Errorf("%s: control %s listed twice", f.ID, ctl.ID)
			}
			for _, k := range ctl.Evidence {
				if _, ok := c.EvidenceKinds[k]; !ok {
					return nil, fmt.Errorf("%s %s: unknown evidence kind %q", f.ID, ctl.ID, k)
				}
			}
			c.control[f.ID][ctl.ID] = ctl
		}
	}
	for i, m := range c.mappings {
		if len(m.Match) == 0 {
			return nil, fmt.Errorf("mapping %d matches nothing", i)
		}
		for fwID, ids := range m.Controls {
			if c.byID[fwID] == nil {
				return nil, fmt.Errorf("mapping %v: unknown framework %q", m.Match, fwID)
			}
			for _, id := range ids {
				if c.control[fwID][id] == nil {
					return nil, fmt.Errorf("mapping %v: %s has no control %q", m.Match, fwID, id)
				}
			}
		}
	}
	return c, nil
}

// Framework returns the framework with the given ID.
func (c *Catalogue) Framework(id string) (*Framework, bool) {
	f, ok := c.byID[id]
	return f, ok
}

// FrameworkIDs lists the framework IDs in catalogue order.
func (c *Catalogue) FrameworkIDs() []string {
	out := make([]string, len(c.Frameworks))
	for i, f := range c.Frameworks {
		out[i] = f.ID
	}
	return out
}

func matches(pattern, rule string) bool {
	if strings.HasSuffix(pattern, "*") {
		return strings.HasPrefix(rule, strings.TrimSuffix(pattern, "*"))
	}
	ok, _ := path.Match(pattern, rule)
	return ok
}

// ControlsFor returns the control IDs of framework fw that rule bears on,
// in catalogue order.
func (c *Catalogue) ControlsFor(fw, rule string) []string {
	key := fw + "\x00" + rule
	if v, ok := c.memo.Load(key); ok {
		return v.([]string)
	}
	out := c.controlsFor(fw, rule)
	c.memo.Store(key, out)
	return out
}

func (c *Catalogue) controlsFor(fw, rule string) []string {
	set := map[string]bool{}
	for _, m := range c.mappings {
		for _, p := range m.Match {
			if matches(p, rule) {
				for _, id := range m.Controls[fw] {
					set[id] = true
				}
				break
			}
		}
	}
	f := c.byID[fw]
	if f == nil {
		return nil
	}
	var out []string
	for _, ctl := range f.Controls {
		if set[ctl.ID] {
			out = append(out, ctl.ID)
		}
	}
	return out
}

// Refs returns every control, in every framework, that the rules bear on;
// it fits policy.WithControls.
func (c *Catalogue) Refs(rules ...string) []policy.ControlRef {
	var out []policy.ControlRef
	for _, f := range c.Frameworks {
		seen := map[string]bool{}
		for _, r := range rules {
			for _, id := range c.ControlsFor(f.ID, r) {
				if !seen[id] {
					seen[id] = true
					out = append(out, policy.ControlRef{Framework: f.ID, ID: id, Title: c.control[f.ID][id].Title})
				}
			}
		}
	}
	return out
}
