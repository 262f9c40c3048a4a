// Package attackreport renders a redteam.Result for people and machines:
// an aligned text table, a versioned JSON document and a self-contained
// HTML report with inline SVG plots (robust accuracy versus ε, perturbation
// distribution, membership-inference ROC curves, extraction fidelity versus
// queries) — no scripts, no external resources.
package attackreport

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mlsec/mlsec/internal/attack/redteam"
	"github.com/mlsec/mlsec/internal/finding"
)

// SchemaVersion of the JSON document.
const SchemaVersion = "1.0.0"

// Document is the JSON form of a run. Its kind is "robustness" and its
// "attacks" list is the robustness evidence format of internal/policy
// (mlsec policy check --evidence reads it directly); the rest is the full
// measurement.
type Document struct {
	SchemaVersion string       `json:"schema_version"`
	Kind          string       `json:"kind"`
	Tool          finding.Tool `json:"tool"`
	Model         string       `json:"model"`
	DurationMS    int64        `json:"duration_ms"`
	// Attacks summarises each attack for policies.
	Attacks []AttackSummary `json:"attacks"`
	*redteam.Result
	Summary finding.Summary `json:"summary"`
}

// AttackSummary is one attack's headline number. SuccessRate is, for evasion,
// the success rate at the judged ε; for membership inference the best
// balanced accuracy over thresholds (0.5 + advantage/2, 0.5 is guessing);
// for extraction the best surrogate's fidelity.
type AttackSummary struct {
	Name           string   `json:"name"`
	Kind           string   `json:"kind"` // evasion, membership-inference, extraction
	SuccessRate    float64  `json:"success_rate"`
	CleanAccuracy  *float64 `json:"clean_accuracy,omitempty"`
	RobustAccuracy *float64 `json:"robust_accuracy,omitempty"`
	Queries        int64    `json:"queries,omitempty"`
	Epsilon        *float64 `json:"epsilon,omitempty"`
	AUC            *float64 `json:"auc,omitempty"`
}

func summaries(r *redteam.Result) []AttackSummary {
	out := []AttackSummary{}
	ca := r.CleanAccuracy
	for _, e := range r.Evasion {
		s := AttackSummary{Name: e.Attack, Kind: "evasion", Queries: e.TotalQueries, CleanAccuracy: &ca}
		for i := range e.AtEps {
			if e.AtEps[i].Eps <= r.Config.Thresholds.EvasionEps*(1+1e-12) {
				a := e.AtEps[i]
				s.SuccessRate, s.RobustAccuracy, s.Epsilon = a.SuccessRate, &a.RobustAccuracy, &a.Eps
			}
		}
		out = append(out, s)
	}
	if m := r.Membership; m != nil {
		for _, a := range m.Attacks {
			auc := a.AUC
			out = append(out, AttackSummary{Name: "membership-" + a.Attack, Kind: "membership-inference",
				SuccessRate: 0.5 + a.Advantage/2, Queries: m.Queries, AUC: &auc})
		}
	}
	if x := r.Extraction; x != nil && len(x.Points) > 0 {
		b := x.Best()
		out = append(out, AttackSummary{Name: "extraction-" + b.Surrogate + "-" + b.Source, Kind: "extraction",
			SuccessRate: b.Fidelity, Queries: int64(b.Queries)})
	}
	return out
}

// JSON writes the document.
func JSON(w io.Writer, r *redteam.Result, tool finding.Tool) error {
	rep := r.Report(tool)
	doc := Document{SchemaVersion: SchemaVersion, Kind: "robustness", Tool: tool, Model: r.Target, DurationMS: r.Duration.Milliseconds(),
		Attacks: summaries(r), Result: r, Summary: rep.Summary}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

func pct(v float64) string { return fmt.Sprintf("%.1f%%", 100*v) }

// Table writes the run as aligned text.
func Table(w io.Writer, r *redteam.Result) error {
	var b strings.Builder
	c := r.Config
	fmt.Fprintf(&b, "Red team of %s with %s (%d rows; %d sampled, clean accuracy %s; %s output)\n",
		r.Target, r.DataPath, r.Rows, r.Evaluated, pct(r.CleanAccuracy), map[bool]string{true: "scores", false: "labels only"}[r.Scores])
	fmt.Fprintf(&b, "seed %d, budget %d queries per sample and attack, norm %s, distances in units of each feature's range\n", c.Seed, c.Budget, c.Norm)
	if len(r.Evasion) > 0 {
		fmt.Fprintf(&b, "\nEVASION\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprint(tw, "ATTACK\tACCESS\tNORM\tATTACKED\tSUCCESS")
		for _, e := range c.Eps {
			fmt.Fprintf(tw, "\t@ε=%g", e)
		}
		fmt.Fprint(tw, "\tMEDIAN PERT.\tMEDIAN L2\tMEDIAN L∞\tMEDIAN QUERIES\tMAX QUERIES\tTIME\n")
		for _, e := range r.Evasion {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s", e.Attack, e.Access, e.Norm, e.Attacked, pct(e.SuccessRate))
			for _, a := range e.AtEps {
				fmt.Fprintf(tw, "\t%s (%.0fq)", pct(a.SuccessRate), a.MedianQueries)
			}
			fmt.Fprintf(tw, "\t%.4f\t%.4f\t%.4f\t%.0f\t%d\t%s\n", e.MedianPerturbation, e.MedianL2, e.MedianLinf, e.MedianQueries, e.MaxQueries,
				(time.Duration(e.DurationMS) * time.Millisecond).String())
		}
		tw.Flush()
		fmt.Fprintf(&b, "robust accuracy (%s):", c.Norm)
		for i, eps := range c.Eps {
			lo := 1.0
			for _, e := range r.Evasion {
				if i < len(e.AtEps) {
					lo = min(lo, e.AtEps[i].RobustAccuracy)
				}
			}
			fmt.Fprintf(&b, " ε=%g %s", eps, pct(lo))
		}
		fmt.Fprintln(&b, " (worst attack)")
	}
	if m := r.Membership; m != nil {
		fmt.Fprintf(&b, "\nMEMBERSHIP INFERENCE (%d members, %d non-members; accuracy %s vs %s)\n", m.Members, m.NonMembers, pct(m.MemberAccuracy), pct(m.NonMemberAccuracy))
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		io.WriteString(tw, "ATTACK\tROC AUC\tADVANTAGE\tTPR@1%FPR\n")
		for _, a := range m.Attacks {
			fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.3f\n", a.Attack, a.AUC, a.Advantage, a.TPRAt1FPR)
		}
		tw.Flush()
	}
	if x := r.Extraction; x != nil {
		fmt.Fprintf(&b, "\nMODEL EXTRACTION (%d held-out rows, model accuracy %s, %s labels)\n", x.EvalRows, pct(x.TargetAccuracy), map[bool]string{true: "soft", false: "hard"}[x.SoftLabels])
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SURROGATE\tQUERIES FROM\tQUERIES\tFIDELITY\tACCURACY")
		for _, p := range x.Points {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", p.Surrogate, p.Source, p.Queries, pct(p.Fidelity), pct(p.Accuracy))
		}
		tw.Flush()
		if p, ok := x.QueriesFor(0.95); ok {
			fmt.Fprintf(&b, "cloned to %s agreement with %d queries (%s surrogate, %s queries)\n", pct(p.Fidelity), p.Queries, p.Surrogate, p.Source)
		}
	}
	fmt.Fprintf(&b, "\nFINDINGS\n")
	if len(r.Findings) == 0 {
		fmt.Fprintln(&b, "none above the thresholds")
	}
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "%-8s %s %s\n         %s\n", strings.ToUpper(f.Severity.String()), f.RuleID, f.Title, f.Evidence.Text)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	for _, g := range r.Gaps {
		fmt.Fprintf(&b, "INCONCLUSIVE: %s\n", g)
	}
	fmt.Fprintf(&b, "\n%d queries in %d requests, %s\n", r.Queries, r.Calls, r.Duration.Round(time.Millisecond))
	_, err := io.WriteString(w, b.String())
	return err
}
