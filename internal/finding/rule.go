package finding

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Reference kinds. Control references tie a finding to the frameworks
// compliance work is mapped to.
const (
	RefCWE   = "CWE"
	RefATLAS = "MITRE-ATLAS"
	RefOWASP = "OWASP-ML"
	RefCVE   = "CVE"
	RefGHSA  = "GHSA"
	RefURL   = "URL"
)

// Reference is an external identifier such as CWE-502 or AML.T0010.003.
type Reference struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
	URL  string `json:"url,omitempty"`
}

// CWE returns a reference to a CWE weakness by number.
func CWE(n int) Reference {
	return Reference{Kind: RefCWE, ID: fmt.Sprintf("CWE-%d", n),
		URL: fmt.Sprintf("https://cwe.mitre.org/data/definitions/%d.html", n)}
}

// ATLAS returns a reference to a MITRE ATLAS technique (v5 IDs, e.g.
// AML.T0010.003).
func ATLAS(id string) Reference {
	return Reference{Kind: RefATLAS, ID: id, URL: "https://atlas.mitre.org/techniques/" + id}
}

// OWASPML returns a reference to the OWASP Machine Learning Security Top 10
// (IDs ML01..ML10).
func OWASPML(id string) Reference {
	return Reference{Kind: RefOWASP, ID: id, URL: owaspURL[id]}
}

// CVE returns a reference to a CVE record.
func CVE(id string) Reference {
	return Reference{Kind: RefCVE, ID: id, URL: "https://www.cve.org/CVERecord?id=" + id}
}

// GHSA returns a reference to a GitHub security advisory.
func GHSA(id string) Reference {
	return Reference{Kind: RefGHSA, ID: id, URL: "https://github.com/advisories/" + id}
}

var owaspURL = map[string]string{
	"ML01": "https://owasp.org/www-project-machine-learning-security-top-10/docs/ML01_2023-Input_Manipulation_Attack",
	"ML02": "https://owasp.org/www-project-machine-learning-security-top-10/docs/ML02_2023-Data_Poisoning_Attack",
	"ML03": "https://owasp.org/www-project-machine-learning-security-top-10/docs/ML03_2023-Model_Inversion_Attack",
	"ML04": "https://owasp.org/www-project-machine-learning-security-top-10/docs/ML04_2023-Membership_Inference_Attack",
	"ML05": "https://owasp.org/www-project-machine-learning-security-top-10/docs/ML05_2023-Model_Theft",
	"ML06": "https://owasp.org/www-project-machine-learning-security-top-10/docs/ML06_2023-AI_Supply_Chain_Attacks",
	"ML07": "https://owasp.org/www-project-machine-learning-security-top-10/docs/ML07_2023-Transfer_Learning_Attack",
	"ML08": "https://owasp.org/www-project-machine-learning-security-top-10/docs/ML08_2023-Model_Skewing",
	"ML09": "https://owasp.org/www-project-machine-learning-security-top-10/docs/ML09_2023-Output_Integrity_Attack",
	"ML10": "https://owasp.org/www-project-machine-learning-security-top-10/docs/ML10_2023-Model_Poisoning",
}

// Rule is one entry in the catalogue. IDs are stable: reports, SARIF
// baselines and policies refer to them.
type Rule struct {
	ID       string // e.g. "MLS-PKL-001"
	Name     string // short CamelCase name for SARIF, e.g. "PickleDangerousCall"
	Title    string // one line
	Severity Severity
	// Summary is one paragraph; Doc is the long Markdown explanation.
	Summary     string
	Doc         string
	Remediation string
	References  []Reference
}

// HelpURI is where the rule is documented.
func (r *Rule) HelpURI() string {
	return "https://github.com/mlsec/mlsec/blob/main/docs/rules.md#" + strings.ToLower(r.ID)
}

var (
	catalogueMu sync.RWMutex
	catalogue   = map[string]*Rule{}
	ruleIDRe    = regexp.MustCompile(`^MLS-[A-Z0-9]+-[0-9]{3}$`)
)

// MustRegister adds a rule to the catalogue and returns it. Packages call it
// at init time (in a package-level var); a malformed or duplicate rule is a
// programming error and panics.
func MustRegister(r Rule) *Rule {
	if !ruleIDRe.MatchString(r.ID) {
		panic(fmt.Sprintf("finding: rule ID %q does not match %s", r.ID, ruleIDRe))
	}
	if r.Title == "" || r.Name == "" || r.Summary == "" {
		panic(fmt.Sprintf("finding: rule %s needs a name, title and summary", r.ID))
	}
	catalogueMu.Lock()
	defer catalogueMu.Unlock()
	if _, dup := catalogue[r.ID]; dup {
		panic("finding: duplicate rule " + r.ID)
	}
	p := &r
	catalogue[r.ID] = p
	return p
}

// Lookup returns the rule with the given ID (case-insensitive).
func Lookup(id string) (*Rule, bool) {
	catalogueMu.RLock()
	defer catalogueMu.RUnlock()
	r, ok := catalogue[strings.ToUpper(strings.TrimSpace(id))]
	return r, ok
}

// Rules returns every registered rule sorted by ID.
func Rules() []*Rule {
	catalogueMu.RLock()
	defer catalogueMu.RUnlock()
	out := make([]*Rule, 0, len(catalogue))
	for _, r := range catalogue {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
