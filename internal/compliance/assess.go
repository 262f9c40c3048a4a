package compliance

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mlsec/mlsec/internal/policy"
)

// Verdict is a control's outcome.
type Verdict string

// Verdicts, worst first.
const (
	// Fail: a policy rule that bears on the control denied.
	Fail Verdict = "fail"
	// Waived: a denial that bears on the control is covered by an active waiver.
	Waived Verdict = "waived"
	// Gap: none of the evidence the control calls for was given.
	Gap Verdict = "gap"
	// Partial: some, not all, of the evidence the control calls for was given.
	Partial Verdict = "partial"
	// Pass: all the evidence the control calls for was given and nothing bearing on it denied.
	Pass Verdict = "pass"
	// NotAssessed: an organisational control mlsec has no evidence for.
	NotAssessed Verdict = "not-assessed"
)

// Verdicts lists the verdicts in report order.
var Verdicts = []Verdict{Fail, Waived, Gap, Partial, Pass, NotAssessed}

// EvidenceItem is one piece of evidence, summarised.
type EvidenceItem struct {
	Kind    string `json:"kind"`
	Label   string `json:"label"`
	Summary string `json:"summary"`
	Source  string `json:"source,omitempty"`
}

// ControlResult is the assessment of one control.
type ControlResult struct {
	Control    Control              `json:"control"`
	Verdict    Verdict              `json:"verdict"`
	Evidence   []EvidenceItem       `json:"evidence"`
	Missing    []string             `json:"missing"`
	Violations []policy.Violation   `json:"violations"`
	Waived     []policy.Violation   `json:"waived"`
	Findings   []policy.ScanFinding `json:"findings"`
}

// Assessment is a framework's controls judged against one model's evidence.
type Assessment struct {
	Framework   *Framework      `json:"framework"`
	Model       policy.Model    `json:"model"`
	EvaluatedAt time.Time       `json:"evaluated_at"`
	Allow       bool            `json:"allow"`
	Evidence    []EvidenceItem  `json:"evidence"`
	Missing     []EvidenceItem  `json:"missing"`
	Controls    []ControlResult `json:"controls"`
	Counts      map[Verdict]int `json:"counts"`
	// Unmapped lists rule IDs in the evidence that map to no control of
	// this framework.
	Unmapped []string `json:"unmapped"`
}

// Assess judges every control of framework fwID against the input and the
// policy decision taken over it.
func (c *Catalogue) Assess(fwID string, in *policy.Input, d *policy.Decision) (*Assessment, error) {
	fw, ok := c.byID[fwID]
	if !ok {
		return nil, fmt.Errorf("unknown framework %q (want one of %s)", fwID, strings.Join(c.FrameworkIDs(), ", "))
	}
	present := c.evidence(in)
	a := &Assessment{Framework: fw, Model: in.Model, EvaluatedAt: in.EvaluatedAt.UTC(), Allow: d.Allow, Counts: map[Verdict]int{}}
	for _, k := range evidenceOrder(c) {
		if items, ok := present[k]; ok {
			a.Evidence = append(a.Evidence, items...)
		} else {
			a.Missing = append(a.Missing, EvidenceItem{Kind: k, Label: c.EvidenceKinds[k]})
		}
	}
	bears := func(ctl string, rules ...string) bool {
		for _, r := range rules {
			if r == "" {
				continue
			}
			for _, id := range c.ControlsFor(fwID, r) {
				if id == ctl {
					return true
				}
			}
		}
		return false
	}
	findings := append(append(append([]policy.ScanFinding(nil), in.Scan.Findings...), in.Fairness.Findings...), in.Robustness.Findings...)
	for _, ctl := range fw.Controls {
		r := ControlResult{Control: ctl, Evidence: []EvidenceItem{}, Missing: []string{}, Violations: []policy.Violation{},
			Waived: []policy.Violation{}, Findings: []policy.ScanFinding{}}
		for _, v := range d.Deny {
			if bears(ctl.ID, v.Rule, v.FindingRule) {
				r.Violations = append(r.Violations, v)
			}
		}
		for _, v := range d.Waived {
			if bears(ctl.ID, v.Rule, v.FindingRule) {
				r.Waived = append(r.Waived, v)
			}
		}
		for _, f := range findings {
			if bears(ctl.ID, f.RuleID) {
				r.Findings = append(r.Findings, f)
			}
		}
		for _, k := range ctl.Evidence {
			if items, ok := present[k]; ok {
				r.Evidence = append(r.Evidence, items...)
			} else {
				r.Missing = append(r.Missing, k)
			}
		}
		switch {
		case len(r.Violations) > 0:
			r.Verdict = Fail
		case len(r.Waived) > 0:
			r.Verdict = Waived
		case len(ctl.Evidence) == 0:
			r.Verdict = NotAssessed
		case len(r.Missing) == len(ctl.Evidence):
			r.Verdict = Gap
		case len(r.Missing) > 0:
			r.Verdict = Partial
		default:
			r.Verdict = Pass
		}
		a.Counts[r.Verdict]++
		a.Controls = append(a.Controls, r)
	}
	unmapped := map[string]bool{}
	for _, f := range findings {
		if len(c.ControlsFor(fwID, f.RuleID)) == 0 {
			unmapped[f.RuleID] = true
		}
	}
	for _, v := range append(append([]policy.Violation(nil), d.Deny...), d.Waived...) {
		if len(c.ControlsFor(fwID, v.Rule)) == 0 && len(c.ControlsFor(fwID, v.FindingRule)) == 0 {
			unmapped[v.Rule] = true
		}
	}
	for r := range unmapped {
		a.Unmapped = append(a.Unmapped, r)
	}
	sort.Strings(a.Unmapped)
	return a, nil
}

func evidenceOrder(c *Catalogue) []string {
	order := []string{"scan", "signature", "attestation", "ledger", "waiver", "bom", "fairness", "robustness", "policy"}
	for k := range c.EvidenceKinds {
		found := false
		for _, o := range order {
			found = found || o == k
		}
		if !found {
			order = append(order, k)
		}
	}
	return order
}

func source(in *policy.Input, kind string) string {
	for _, s := range in.Sources {
		if s.Kind == kind {
			return s.From
		}
	}
	return ""
}

// evidence summarises what the input holds, by evidence kind.
func (c *Catalogue) evidence(in *policy.Input) map[string][]EvidenceItem {
	out := map[string][]EvidenceItem{}
	add := func(kind, summary string, src string) {
		out[kind] = append(out[kind], EvidenceItem{Kind: kind, Label: c.EvidenceKinds[kind], Summary: summary, Source: src})
	}
	if s := in.Scan; s.Present {
		state := "complete"
		if !s.Complete {
			state = "inconclusive"
		}
		n := 0
		for _, a := range s.Artifacts {
			if a.Status != "skipped" {
				n++
			}
		}
		add("scan", fmt.Sprintf("%d file(s) scanned, coverage %s, %d finding(s)%s", n, state, len(s.Findings), bySeverity(s.Findings)), source(in, "scan"))
	}
	if s := in.Signature; s.Present {
		if s.Verified {
			who := "unknown signer"
			if s.Signer != nil {
				who = firstNonEmpty(s.Signer.Identity, s.Signer.Subject, s.Signer.KeyHint, s.Signer.Method)
			}
			add("signature", fmt.Sprintf("signature verified (%s, %s), root digest %s", s.Method, who, s.RootDigest), source(in, "signature"))
		} else {
			msg := "signature does not verify"
			if s.Error != nil {
				msg += ": " + s.Error.Message
			}
			add("signature", msg, source(in, "signature"))
		}
	}
	if l := in.Ledger; l.Present {
		if len(l.Events) > 0 {
			add("ledger", fmt.Sprintf("%d ledger event(s) for %s: %s", len(l.Events), in.Model.Name, actions(l.Events)), source(in, "ledger"))
		}
		for _, at := range l.Attestations {
			if at.Verified && at.CoversModel {
				add("attestation", fmt.Sprintf("training attestation #%d by %s (%s), %d input(s)", at.Seq, at.Builder, at.Time.Format("2006-01-02"), len(at.Inputs)), source(in, "ledger"))
			}
		}
		approvals := 0
		for _, e := range l.Events {
			if e.Action == "waive" || e.Action == "approve" || e.Action == "reject" {
				approvals++
			}
		}
		active := 0
		for _, w := range l.Waivers {
			if w.Active {
				active++
			}
		}
		add("waiver", fmt.Sprintf("%d recorded approval or waiver decision(s), %d waiver(s) active", approvals, active), source(in, "ledger"))
	}
	if b := in.BOM; b.Present {
		add("bom", fmt.Sprintf("%s %s BOM, %d component(s), %d vulnerability record(s)", b.Format, b.SpecVersion, len(b.Components), len(b.Vulnerabilities)), source(in, "bom"))
	}
	if f := in.Fairness; f.Present {
		s := fmt.Sprintf("fairness report over %s: %d disparity metric(s)", firstNonEmpty(f.Input, "predictions"), len(f.Disparities))
		if f.MinDisparateImpact != nil {
			s += fmt.Sprintf(", lowest disparate impact %.3f", *f.MinDisparateImpact)
		}
		add("fairness", s, source(in, "fairness"))
	}
	if r := in.Robustness; r.Present {
		worst := 0.0
		for _, a := range r.Attacks {
			if a.SuccessRate > worst {
				worst = a.SuccessRate
			}
		}
		add("robustness", fmt.Sprintf("%d attack(s) run, highest success rate %.1f%%", len(r.Attacks), worst*100), source(in, "robustness"))
	}
	add("policy", "policy gate evaluated (mlsec policy check)", "")
	return out
}

func bySeverity(fs []policy.ScanFinding) string {
	if len(fs) == 0 {
		return ""
	}
	n := map[string]int{}
	for _, f := range fs {
		n[f.Severity]++
	}
	var parts []string
	for _, s := range []string{"critical", "high", "medium", "low", "info"} {
		if n[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[s], s))
		}
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func actions(evs []policy.LedgerEvent) string {
	n := map[string]int{}
	var order []string
	for _, e := range evs {
		if n[e.Action] == 0 {
			order = append(order, e.Action)
		}
		n[e.Action]++
	}
	parts := make([]string, len(order))
	for i, a := range order {
		parts[i] = fmt.Sprintf("%s ×%d", a, n[a])
	}
	return strings.Join(parts, ", ")
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
