// Package fairreport renders a fairness.Result for people and machines:
// an aligned text table, a JSON document and a self-contained HTML report
// with inline SVG charts (no scripts, no external resources).
package fairreport

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mlsec/mlsec/internal/fairness"
	"github.com/mlsec/mlsec/internal/finding"
)

// SchemaVersion of the JSON document.
const SchemaVersion = "1.0.0"

// Document is the JSON form of an assessment.
type Document struct {
	SchemaVersion string            `json:"schema_version"`
	Kind          string            `json:"kind"`
	Tool          finding.Tool      `json:"tool"`
	StartedAt     time.Time         `json:"started_at"`
	DurationMS    int64             `json:"duration_ms"`
	Input         fairness.Input    `json:"input"`
	Settings      fairness.Settings `json:"settings"`
	Overall       fairness.Group    `json:"overall"`
	Views         []fairness.View   `json:"views"`
	Findings      []finding.Finding `json:"findings"`
	Summary       finding.Summary   `json:"summary"`
}

// Report wraps the findings in a finding.Report (for SARIF, the policy
// gate and the server).
func Report(res *fairness.Result, tool finding.Tool) *finding.Report {
	r := &finding.Report{
		Tool: tool, StartedAt: res.Started, DurationMS: res.Duration.Milliseconds(),
		Targets: []string{res.Input.Path},
		Artifacts: []finding.ArtifactResult{{
			Artifact: res.Artifact, Status: finding.StatusComplete,
			Findings: append([]finding.Finding(nil), res.Findings...), DurationMS: res.Duration.Milliseconds(),
		}},
	}
	r.Finalize()
	return r
}

// JSON writes the document.
func JSON(w io.Writer, res *fairness.Result, tool finding.Tool) error {
	rep := Report(res, tool)
	doc := Document{SchemaVersion: SchemaVersion, Kind: "fairness", Tool: tool, StartedAt: res.Started.UTC(),
		DurationMS: res.Duration.Milliseconds(), Input: res.Input, Settings: res.Settings, Overall: res.Overall,
		Views: res.Views, Findings: rep.Artifacts[0].Findings, Summary: rep.Summary}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

func f4(n fairness.Num) string {
	if n.IsNaN() || math.IsInf(float64(n), 0) {
		return "—"
	}
	return fmt.Sprintf("%.4f", float64(n))
}

func ci(c [2]fairness.Num) string {
	if c[0].IsNaN() || c[1].IsNaN() {
		return "[—]"
	}
	return fmt.Sprintf("[%.3f, %.3f]", float64(c[0]), float64(c[1]))
}

// Table writes the assessment as aligned text.
func Table(w io.Writer, res *fairness.Result) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Fairness of %s (%d rows, label %q, prediction %q, positive %q)\n",
		res.Input.Path, res.Input.Rows, res.Settings.Label, res.Settings.Pred, res.Settings.Positive)
	metrics := append([]string(nil), fairness.BaseMetrics...)
	if res.Settings.Score != "" {
		metrics = append(metrics, fairness.MetricROCAUC)
	}
	short := map[string]string{
		fairness.MetricSelection: "SEL", fairness.MetricAccuracy: "ACC", fairness.MetricTPR: "TPR", fairness.MetricFPR: "FPR",
		fairness.MetricFNR: "FNR", fairness.MetricTNR: "TNR", fairness.MetricPrecision: "PREC", fairness.MetricROCAUC: "AUC",
	}
	for _, v := range res.Views {
		fmt.Fprintf(&b, "\n== %s\n", v.Name)
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprint(tw, "GROUP\tCOUNT\t")
		for _, m := range metrics {
			fmt.Fprintf(tw, "%s\t", short[m])
		}
		fmt.Fprint(tw, "DI\t\n")
		row := func(g fairness.Group) {
			fmt.Fprintf(tw, "%s\t%d\t", sanitize(g.Name), g.Count)
			for _, m := range metrics {
				fmt.Fprintf(tw, "%s\t", f4(g.Metrics[m]))
			}
			if g.DisparateImpact != nil {
				fmt.Fprintf(tw, "%s\t\n", f4(*g.DisparateImpact))
			} else {
				fmt.Fprint(tw, "\t\n")
			}
		}
		for _, g := range v.Groups {
			row(g)
		}
		row(res.Overall)
		tw.Flush()
		b.WriteString("\n")
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprint(tw, "DISPARITY\tMETHOD\tVALUE\tTHRESHOLD\tCI\t\n")
		for _, d := range v.Disparities {
			th, ci95, mark := "", "", ""
			if d.Threshold != nil {
				op := "≤ "
				if fairness.IsRatio(d.Name) {
					op = "≥ "
				}
				th = op + f4(*d.Threshold)
			}
			if d.CI != nil {
				ci95 = ci(*d.CI)
			}
			if d.Breach {
				mark = "  ✗ breach"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.Name, d.Method, f4(d.Value), th, ci95, mark)
		}
		tw.Flush()
	}
	if len(res.Findings) == 0 {
		b.WriteString("\nNo findings: every disparity is within its threshold.\n")
	} else {
		fmt.Fprintf(&b, "\n%d finding(s):\n", len(res.Findings))
		for _, f := range res.Findings {
			fmt.Fprintf(&b, "  %-8s %s  %s\n           %s\n", strings.ToUpper(f.Severity.String()), f.RuleID, f.Title, sanitize(f.Evidence.Text))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// sanitize keeps data values (group names come from the file) from
// carrying terminal control sequences.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
			return '?'
		}
		return r
	}, s)
}
