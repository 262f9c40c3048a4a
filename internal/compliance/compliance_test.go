package compliance_test

import (
	"regexp"
	"strings"
	"testing"

	_ "github.com/mlsec/mlsec/internal/attack" // registers MLS-ADV-*
	"github.com/mlsec/mlsec/internal/compliance"
	_ "github.com/mlsec/mlsec/internal/fairness" // registers MLS-FAIR-*
	"github.com/mlsec/mlsec/internal/finding"
	_ "github.com/mlsec/mlsec/internal/policy"        // registers MLS-POL-*
	_ "github.com/mlsec/mlsec/internal/scan/registry" // registers every scanner's rules
)

// Every rule in the catalogue maps to at least one control of every
// framework.
func TestEveryRuleMapped(t *testing.T) {
	cat := compliance.Default()
	n := 0
	for _, r := range finding.Rules() {
		if strings.HasPrefix(r.ID, "MLS-TEST-") {
			continue
		}
		n++
		for _, fw := range cat.FrameworkIDs() {
			if len(cat.ControlsFor(fw, r.ID)) == 0 {
				t.Errorf("%s (%s) maps to no %s control: add it to internal/compliance/data/mappings.yaml", r.ID, r.Title, fw)
			}
		}
	}
	if n < 60 {
		t.Fatalf("only %d rules in the catalogue: are the scanners registered?", n)
	}
}

var idFormat = map[string]*regexp.Regexp{
	"owasp-ml":    regexp.MustCompile(`^ML(0[1-9]|10)$`),
	"owasp-llm":   regexp.MustCompile(`^LLM(0[1-9]|10):2025$`),
	"atlas":       regexp.MustCompile(`^AML\.(T\d{4}(\.\d{3})?|M\d{4})$`),
	"nist-ai-rmf": regexp.MustCompile(`^(GOVERN|MAP|MEASURE|MANAGE) \d\.\d{1,2}$`),
	"eu-ai-act":   regexp.MustCompile(`^Art\. (9|1[0-5])$`),
	"iso42001":    regexp.MustCompile(`^A\.([2-9]|10)\.\d(\.\d)?$`),
}

func TestCatalogue(t *testing.T) {
	cat := compliance.Default()
	want := []string{"owasp-ml", "owasp-llm", "atlas", "nist-ai-rmf", "eu-ai-act", "iso42001"}
	if got := cat.FrameworkIDs(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("frameworks %v, want %v", got, want)
	}
	sizes := map[string]int{"owasp-ml": 10, "owasp-llm": 10, "eu-ai-act": 7, "iso42001": 38}
	for _, id := range want {
		fw, _ := cat.Framework(id)
		if n, ok := sizes[id]; ok && len(fw.Controls) != n {
			t.Errorf("%s has %d controls, want %d", id, len(fw.Controls), n)
		}
		for _, c := range fw.Controls {
			if !idFormat[id].MatchString(c.ID) {
				t.Errorf("%s control ID %q is malformed", id, c.ID)
			}
			if c.Title == "" {
				t.Errorf("%s %s has no title", id, c.ID)
			}
			if id == "atlas" && (c.Kind == "technique") != strings.HasPrefix(c.ID, "AML.T") {
				t.Errorf("atlas %s: kind %q", c.ID, c.Kind)
			}
		}
	}
	// The references the rules already carry (finding.ATLAS, OWASPML) exist in the catalogue.
	for _, r := range finding.Rules() {
		for _, ref := range r.References {
			fw := map[string]string{finding.RefATLAS: "atlas", finding.RefOWASP: "owasp-ml"}[ref.Kind]
			if fw == "" {
				continue
			}
			f, _ := cat.Framework(fw)
			found := false
			for _, c := range f.Controls {
				found = found || c.ID == ref.ID
			}
			if !found {
				t.Errorf("%s references %s %s, which the %s catalogue lacks", r.ID, ref.Kind, ref.ID, fw)
			}
		}
	}
}

func TestLoadRejectsUnknownControls(t *testing.T) {
	fw := []byte("evidence_kinds: {scan: s}\nframeworks:\n  - {id: x, name: X, controls: [{id: C1, title: t, evidence: [scan]}]}\n")
	if _, err := compliance.Load(fw, []byte("mappings:\n  - {match: [MLS-A-*], controls: {x: [C2]}}\n")); err == nil {
		t.Error("a mapping to an unknown control was accepted")
	}
	if _, err := compliance.Load(fw, []byte("mappings:\n  - {match: [MLS-A-*], controls: {y: [C1]}}\n")); err == nil {
		t.Error("a mapping to an unknown framework was accepted")
	}
	bad := []byte("evidence_kinds: {scan: s}\nframeworks:\n  - {id: x, name: X, controls: [{id: C1, title: t, evidence: [dna]}]}\n")
	if _, err := compliance.Load(bad, []byte("mappings: []\n")); err == nil {
		t.Error("an unknown evidence kind was accepted")
	}
	c, err := compliance.Load(fw, []byte("mappings:\n  - {match: [MLS-A-*, MLS-B-001], controls: {x: [C1]}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for rule, want := range map[string]int{"MLS-A-007": 1, "MLS-B-001": 1, "MLS-B-002": 0} {
		if got := len(c.ControlsFor("x", rule)); got != want {
			t.Errorf("%s: %d controls, want %d", rule, got, want)
		}
	}
}
