// Package compliancereport renders a compliance assessment as one
// self-contained HTML file (inline CSS, no scripts, no external resources)
// laid out to print well to PDF: control by control, the evidence found,
// the verdict and the gaps.
package compliancereport

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"

	"github.com/mlsec/mlsec/internal/compliance"
	"github.com/mlsec/mlsec/internal/finding"
)

//go:embed report.html.tmpl
var tmplText string

var tmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"verdictLabel": func(v compliance.Verdict) string {
		return map[compliance.Verdict]string{compliance.Fail: "Fail", compliance.Waived: "Waived", compliance.Gap: "Gap",
			compliance.Partial: "Partial", compliance.Pass: "Pass", compliance.NotAssessed: "Not assessed"}[v]
	},
	"count": func(a *compliance.Assessment, v compliance.Verdict) int { return a.Counts[v] },
	"join":  strings.Join,
	"date":  func(a *compliance.Assessment) string { return a.EvaluatedAt.Format("2006-01-02 15:04 UTC") },
	"short": func(s string) string {
		if len(s) > 23 && strings.HasPrefix(s, "sha256:") {
			return s[:23] + "…"
		}
		return s
	},
}).Parse(tmplText))

type view struct {
	*compliance.Assessment
	Tool     finding.Tool
	Verdicts []compliance.Verdict
	Kinds    map[string]string
}

// HTML writes the report.
func HTML(w io.Writer, a *compliance.Assessment, cat *compliance.Catalogue, tool finding.Tool) error {
	if err := tmpl.Execute(w, view{Assessment: a, Tool: tool, Verdicts: compliance.Verdicts, Kinds: cat.EvidenceKinds}); err != nil {
		return fmt.Errorf("render compliance report: %w", err)
	}
	return nil
}
