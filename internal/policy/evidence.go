package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/mlsec/mlsec/internal/finding"
)

// MaxEvidenceSize bounds one evidence file.
const MaxEvidenceSize = 64 << 20

// Evidence kinds accepted by ParseEvidence.
const (
	KindScan       = "scan"
	KindSignature  = "signature"
	KindBOM        = "bom"
	KindFairness   = "fairness"
	KindRobustness = "robustness"
)

// ErrUnknownEvidence is returned for a file that is none of the accepted
// evidence formats.
var ErrUnknownEvidence = errors.New("unknown evidence format")

// RobustnessReport is the robustness evidence file format: what an
// adversarial test of the model (mlsec attack, or another tool) measured.
//
//	{"schema_version": "1.0.0", "kind": "robustness",
//	 "attacks": [{"name": "hop-skip-jump", "kind": "evasion",
//	              "success_rate": 0.12, "clean_accuracy": 0.94,
//	              "robust_accuracy": 0.81, "queries": 5000, "epsilon": 0.05}]}
//
// kind is one of evasion, membership-inference, extraction, inversion,
// poisoning or prompt-injection; success_rate (0..1) is required, the rest
// optional.
type RobustnessReport struct {
	SchemaVersion string             `json:"schema_version"`
	Kind          string             `json:"kind"`
	Model         string             `json:"model,omitempty"`
	Attacks       []RobustnessAttack `json:"attacks"`
	// Findings, optional, are the tool's findings (MLS-ADV-* from mlsec redteam).
	Findings []finding.Finding `json:"findings,omitempty"`
}

// RobustnessAttack is one attack's outcome.
type RobustnessAttack struct {
	Name           string   `json:"name"`
	Kind           string   `json:"kind"`
	SuccessRate    float64  `json:"success_rate"`
	CleanAccuracy  *float64 `json:"clean_accuracy,omitempty"`
	RobustAccuracy *float64 `json:"robust_accuracy,omitempty"`
	Queries        int64    `json:"queries,omitempty"`
	Epsilon        *float64 `json:"epsilon,omitempty"`
}

var robustnessKinds = map[string]bool{"evasion": true, "membership-inference": true, "extraction": true,
	"inversion": true, "poisoning": true, "prompt-injection": true}

// Evidence is one parsed evidence file; exactly one field is set.
type Evidence struct {
	Kind       string
	Scan       *ScanEvidence
	Signature  *SignatureEvidence
	BOM        *BOMEvidence
	Fairness   *FairnessEvidence
	Robustness *RobustnessEvidence
}

// ParseEvidence recognises an evidence file by its content: an mlsec scan
// report (JSON), an 'mlsec verify --format json' result, a CycloneDX BOM
// (JSON), an mlsec fairness report (JSON), an 'mlsec redteam --format json'
// report or a robustness report (RobustnessReport).
func ParseEvidence(data []byte) (*Evidence, error) {
	if len(data) > MaxEvidenceSize {
		return nil, fmt.Errorf("evidence file larger than %d bytes", MaxEvidenceSize)
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("%w: not a JSON object: %v", ErrUnknownEvidence, err)
	}
	str := func(k string) string {
		var s string
		_ = json.Unmarshal(probe[k], &s)
		return s
	}
	switch {
	case str("bomFormat") == "CycloneDX":
		b, err := parseCycloneDX(data)
		return &Evidence{Kind: KindBOM, BOM: b}, err
	case str("kind") == "fairness":
		f, err := parseFairness(data)
		return &Evidence{Kind: KindFairness, Fairness: f}, err
	case str("kind") == "robustness":
		r, err := parseRobustness(data)
		return &Evidence{Kind: KindRobustness, Robustness: r}, err
	case str("kind") == "redteam":
		r, err := parseRedteam(data)
		return &Evidence{Kind: KindRobustness, Robustness: r}, err
	case probe["artifacts"] != nil && probe["summary"] != nil:
		var rep finding.Report
		if err := strictJSON(data, &rep); err != nil {
			return nil, fmt.Errorf("scan report: %w", err)
		}
		s := ScanFromReport(&rep)
		return &Evidence{Kind: KindScan, Scan: &s}, nil
	case probe["verified"] != nil && probe["method"] != nil:
		s, err := parseVerifyResult(data)
		return &Evidence{Kind: KindSignature, Signature: s}, err
	}
	return nil, fmt.Errorf("%w (want an mlsec scan report, verify result, fairness or robustness report, or a CycloneDX BOM)", ErrUnknownEvidence)
}

func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	return dec.Decode(v)
}

// ScanFromReport flattens a scan report for policies.
func ScanFromReport(rep *finding.Report) ScanEvidence {
	s := ScanEvidence{Present: true, Complete: true, Artifacts: []ScanArtifact{}, Findings: []ScanFinding{}}
	tool, sum := rep.Tool, rep.Summary
	s.Tool, s.Summary = &tool, &sum
	for _, a := range rep.Artifacts {
		s.Artifacts = append(s.Artifacts, ScanArtifact{Path: a.Artifact.Path, Format: a.Artifact.Format,
			SHA256: a.Artifact.SHA256, Status: string(a.Status), Gaps: a.Gaps})
		if a.Status == finding.StatusInconclusive {
			s.Complete = false
		}
		for _, f := range a.Findings {
			s.Findings = append(s.Findings, flatFinding(f))
		}
	}
	return s
}

func flatFinding(f finding.Finding) ScanFinding {
	return ScanFinding{RuleID: f.RuleID, Severity: f.Severity.String(), Title: f.Title, Artifact: f.Artifact.Path,
		Where: f.Where(), Evidence: f.Evidence.Text, Fields: f.Evidence.Fields}
}

// parseVerifyResult reads the JSON printed by 'mlsec verify --format json'.
func parseVerifyResult(data []byte) (*SignatureEvidence, error) {
	var r struct {
		Verified  bool   `json:"verified"`
		Method    string `json:"method"`
		Signature string `json:"signature"`
		Result    *struct {
			RootDigest string `json:"root_digest"`
			Signer     *struct {
				Method           string `json:"method"`
				KeyHint          string `json:"key_hint"`
				Subject          string `json:"subject"`
				Issuer           string `json:"issuer"`
				Identity         string `json:"identity"`
				IdentityProvider string `json:"identity_provider"`
			} `json:"signer"`
		} `json:"result"`
		Error *struct {
			Kind   string `json:"kind"`
			Reason string `json:"reason"`
			Detail string `json:"detail"`
		} `json:"error"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("verify result: %w", err)
	}
	s := &SignatureEvidence{Present: true, Verified: r.Verified && r.Error == nil, Method: r.Method, Bundle: r.Signature}
	if r.Result != nil {
		s.RootDigest = r.Result.RootDigest
		if si := r.Result.Signer; si != nil {
			issuer := si.Issuer
			if si.IdentityProvider != "" {
				issuer = si.IdentityProvider
			}
			s.Signer = &Signer{Method: si.Method, Identity: si.Identity, Issuer: issuer, Subject: si.Subject, KeyHint: si.KeyHint}
		}
	}
	if r.Error != nil {
		msg := r.Error.Kind
		if r.Error.Reason != "" {
			msg += " (" + r.Error.Reason + ")"
		}
		if r.Error.Detail != "" {
			msg += ": " + r.Error.Detail
		}
		s.Error = &SignatureError{Kind: r.Error.Kind, Reason: r.Error.Reason, Message: msg}
	} else if !r.Verified {
		s.Error = &SignatureError{Kind: "unverified", Message: "the verify result says the signature did not verify"}
	}
	return s, nil
}

// parseCycloneDX reads components, licences and vulnerabilities of a
// CycloneDX JSON BOM (any 1.x spec version), including nested components
// and the metadata component.
func parseCycloneDX(data []byte) (*BOMEvidence, error) {
	type license struct {
		License *struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"license"`
		Expression string `json:"expression"`
	}
	type component struct {
		Type       string          `json:"type"`
		Name       string          `json:"name"`
		Version    string          `json:"version"`
		PURL       string          `json:"purl"`
		BOMRef     string          `json:"bom-ref"`
		Licenses   []license       `json:"licenses"`
		Components json.RawMessage `json:"components"`
	}
	var doc struct {
		SpecVersion string `json:"specVersion"`
		Metadata    *struct {
			Component *component `json:"component"`
		} `json:"metadata"`
		Components      []component `json:"components"`
		Vulnerabilities []struct {
			ID      string `json:"id"`
			Ratings []struct {
				Severity string `json:"severity"`
			} `json:"ratings"`
			Affects []struct {
				Ref string `json:"ref"`
			} `json:"affects"`
		} `json:"vulnerabilities"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("CycloneDX BOM: %w", err)
	}
	b := &BOMEvidence{Present: true, Format: "CycloneDX", SpecVersion: doc.SpecVersion,
		Components: []BOMComponent{}, Vulnerabilities: []BOMVulnerability{}}
	const maxComponents, maxDepth = 100_000, 32
	var add func(c component, depth int) error
	add = func(c component, depth int) error {
		if depth > maxDepth || len(b.Components) >= maxComponents {
			return fmt.Errorf("CycloneDX BOM: more than %d components or nested deeper than %d", maxComponents, maxDepth)
		}
		bc := BOMComponent{Type: c.Type, Name: c.Name, Version: c.Version, PURL: c.PURL, Licenses: []string{}}
		for _, l := range c.Licenses {
			switch {
			case l.Expression != "":
				bc.Licenses = append(bc.Licenses, l.Expression)
			case l.License != nil && l.License.ID != "":
				bc.Licenses = append(bc.Licenses, l.License.ID)
			case l.License != nil && l.License.Name != "":
				bc.Licenses = append(bc.Licenses, l.License.Name)
			}
		}
		b.Components = append(b.Components, bc)
		if len(c.Components) > 0 {
			var sub []component
			if err := json.Unmarshal(c.Components, &sub); err != nil {
				return fmt.Errorf("CycloneDX BOM: components of %s: %w", c.Name, err)
			}
			for _, s := range sub {
				if err := add(s, depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if doc.Metadata != nil && doc.Metadata.Component != nil {
		if err := add(*doc.Metadata.Component, 0); err != nil {
			return nil, err
		}
	}
	for _, c := range doc.Components {
		if err := add(c, 0); err != nil {
			return nil, err
		}
	}
	rank := map[string]int{"none": 0, "info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
	for _, v := range doc.Vulnerabilities {
		sev := "unknown"
		for _, r := range v.Ratings {
			s := strings.ToLower(r.Severity)
			if _, ok := rank[s]; ok && (sev == "unknown" || rank[s] > rank[sev]) {
				sev = s
			}
		}
		bv := BOMVulnerability{ID: v.ID, Severity: sev, Affects: []string{}}
		for _, a := range v.Affects {
			bv.Affects = append(bv.Affects, a.Ref)
		}
		b.Vulnerabilities = append(b.Vulnerabilities, bv)
	}
	return b, nil
}

// parseFairness reads an 'mlsec fairness --format json' document.
func parseFairness(data []byte) (*FairnessEvidence, error) {
	var doc struct {
		Input struct {
			Path string `json:"path"`
		} `json:"input"`
		Views []struct {
			Name   string `json:"name"`
			Groups []struct {
				Name            string   `json:"name"`
				Count           int64    `json:"count"`
				DisparateImpact *float64 `json:"disparate_impact"`
			} `json:"groups"`
			Disparities []struct {
				Name      string   `json:"name"`
				Method    string   `json:"method"`
				Value     *float64 `json:"value"`
				Threshold *float64 `json:"threshold"`
				Breach    bool     `json:"breach"`
			} `json:"disparities"`
		} `json:"views"`
		Findings []finding.Finding `json:"findings"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("fairness report: %w", err)
	}
	f := &FairnessEvidence{Present: true, Input: doc.Input.Path, Groups: []FairnessGroup{},
		Disparities: []FairnessDisparity{}, Findings: []ScanFinding{}}
	for _, v := range doc.Views {
		for _, g := range v.Groups {
			if g.DisparateImpact == nil || math.IsNaN(*g.DisparateImpact) {
				continue
			}
			di := *g.DisparateImpact
			f.Groups = append(f.Groups, FairnessGroup{View: v.Name, Name: g.Name, Count: g.Count, DisparateImpact: di})
			if f.MinDisparateImpact == nil || di < *f.MinDisparateImpact {
				f.MinDisparateImpact = &di
			}
		}
		for _, d := range v.Disparities {
			if d.Value == nil {
				continue
			}
			f.Disparities = append(f.Disparities, FairnessDisparity{View: v.Name, Name: d.Name, Method: d.Method,
				Value: *d.Value, Threshold: d.Threshold, Breach: d.Breach})
		}
	}
	for _, x := range doc.Findings {
		f.Findings = append(f.Findings, flatFinding(x))
	}
	return f, nil
}

func parseRobustness(data []byte) (*RobustnessEvidence, error) {
	var r RobustnessReport
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("robustness report: %w", err)
	}
	if !strings.HasPrefix(r.SchemaVersion, "1.") {
		return nil, fmt.Errorf("robustness report: schema_version %q (want 1.x)", r.SchemaVersion)
	}
	for i, a := range r.Attacks {
		if a.Name == "" || !robustnessKinds[a.Kind] {
			return nil, fmt.Errorf("robustness report: attack %d: a name and a known kind are required (got %q, %q)", i, a.Name, a.Kind)
		}
		if !(a.SuccessRate >= 0 && a.SuccessRate <= 1) {
			return nil, fmt.Errorf("robustness report: attack %s: success_rate %v is not in [0, 1]", a.Name, a.SuccessRate)
		}
	}
	sort.SliceStable(r.Attacks, func(i, j int) bool { return r.Attacks[i].Name < r.Attacks[j].Name })
	if r.Attacks == nil {
		r.Attacks = []RobustnessAttack{}
	}
	ev := &RobustnessEvidence{Present: true, Attacks: r.Attacks, Findings: []ScanFinding{}}
	for _, f := range r.Findings {
		ev.Findings = append(ev.Findings, flatFinding(f))
	}
	return ev, nil
}

// parseRedteam reads an 'mlsec redteam --format json' report as robustness
// evidence: each evasion attack at the judged ε (its success rate and
// accuracy under attack), each membership-inference attack with its
// advantage (TPR − FPR) as success rate, and the best extraction
// surrogate with its fidelity as success rate.
func parseRedteam(data []byte) (*RobustnessEvidence, error) {
	var doc struct {
		SchemaVersion string   `json:"schema_version"`
		CleanAccuracy *float64 `json:"clean_accuracy"`
		Settings      struct {
			Thresholds struct {
				EvasionEps float64 `json:"evasion_eps"`
			} `json:"thresholds"`
		} `json:"settings"`
		Evasion []struct {
			Attack       string  `json:"attack"`
			SuccessRate  float64 `json:"success_rate"`
			TotalQueries int64   `json:"total_queries"`
			AtEps        []struct {
				Eps            float64 `json:"eps"`
				SuccessRate    float64 `json:"success_rate"`
				RobustAccuracy float64 `json:"robust_accuracy"`
			} `json:"at_eps"`
		} `json:"evasion"`
		Membership *struct {
			Queries int64 `json:"queries"`
			Attacks []struct {
				Attack    string  `json:"attack"`
				Advantage float64 `json:"advantage"`
			} `json:"attacks"`
		} `json:"membership"`
		Extraction *struct {
			Points []struct {
				Surrogate string  `json:"surrogate"`
				Queries   int64   `json:"queries"`
				Fidelity  float64 `json:"fidelity"`
			} `json:"points"`
		} `json:"extraction"`
		Findings []finding.Finding `json:"findings"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("redteam report: %w", err)
	}
	if !strings.HasPrefix(doc.SchemaVersion, "1.") {
		return nil, fmt.Errorf("redteam report: schema_version %q (want 1.x)", doc.SchemaVersion)
	}
	clamp := func(x float64) float64 { return math.Max(0, math.Min(1, x)) }
	r := &RobustnessEvidence{Present: true, Attacks: []RobustnessAttack{}, Findings: []ScanFinding{}}
	for _, e := range doc.Evasion {
		a := RobustnessAttack{Name: e.Attack, Kind: "evasion", SuccessRate: clamp(e.SuccessRate), CleanAccuracy: doc.CleanAccuracy, Queries: e.TotalQueries}
		judged := -1
		for i, p := range e.AtEps {
			if p.Eps == doc.Settings.Thresholds.EvasionEps || (doc.Settings.Thresholds.EvasionEps == 0 && (judged < 0 || p.Eps > e.AtEps[judged].Eps)) {
				judged = i
			}
		}
		if judged >= 0 {
			p := e.AtEps[judged]
			eps, ra := p.Eps, p.RobustAccuracy
			a.SuccessRate, a.RobustAccuracy, a.Epsilon = clamp(p.SuccessRate), &ra, &eps
		}
		r.Attacks = append(r.Attacks, a)
	}
	if m := doc.Membership; m != nil {
		for _, x := range m.Attacks {
			r.Attacks = append(r.Attacks, RobustnessAttack{Name: "membership-" + x.Attack, Kind: "membership-inference",
				SuccessRate: clamp(x.Advantage), Queries: m.Queries})
		}
	}
	if x := doc.Extraction; x != nil && len(x.Points) > 0 {
		best := x.Points[0]
		for _, p := range x.Points[1:] {
			if p.Fidelity > best.Fidelity {
				best = p
			}
		}
		r.Attacks = append(r.Attacks, RobustnessAttack{Name: "extraction-" + best.Surrogate, Kind: "extraction",
			SuccessRate: clamp(best.Fidelity), Queries: best.Queries})
	}
	for _, f := range doc.Findings {
		r.Findings = append(r.Findings, flatFinding(f))
	}
	return r, nil
}
