// Package explainreport renders explanations: an aligned table, JSON, and
// a self-contained HTML report with a bar chart of global importance and
// a beeswarm of per-row SHAP values (inline SVG, no scripts).
package explainreport

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/mlsec/mlsec/internal/explain"
	"github.com/mlsec/mlsec/internal/finding"
)

// Document is the JSON form.
type Document struct {
	SchemaVersion string                     `json:"schema_version"`
	Kind          string                     `json:"kind"`
	Tool          finding.Tool               `json:"tool"`
	Model         string                     `json:"model"`
	Data          string                     `json:"data"`
	Output        string                     `json:"output,omitempty"`
	SHAP          *explain.SHAPResult        `json:"shap,omitempty"`
	Permutation   *explain.PermutationResult `json:"permutation,omitempty"`
}

// JSON writes the document.
func JSON(w io.Writer, d Document) error {
	d.SchemaVersion, d.Kind = "1.0.0", "explanation"
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}

// Table writes the explanations as text.
func Table(w io.Writer, d Document) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Explanations of %s on %s", d.Model, d.Data)
	if d.Output != "" {
		fmt.Fprintf(&b, " (output %s)", d.Output)
	}
	b.WriteString("\n")
	if p := d.Permutation; p != nil {
		fmt.Fprintf(&b, "\nPermutation importance (%s, baseline %.4f; %d rows queried in %d calls)\n", p.Metric, p.Baseline, p.Queries.Rows, p.Queries.Calls)
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprint(tw, "FEATURE\tMEAN\tSTD\tCI\n")
		for _, imp := range p.Importances {
			fmt.Fprintf(tw, "%s\t%.4f\t%.4f\t[%.4f, %.4f]\n", imp.Feature, imp.Mean, imp.Std, imp.CI[0], imp.CI[1])
		}
		tw.Flush()
	}
	if s := d.SHAP; s != nil {
		mode := "sampled"
		if s.Exact {
			mode = "exact"
		}
		fmt.Fprintf(&b, "\nKernelSHAP (%s, %d coalitions per row; base value %.6f; %d rows queried in %d calls)\n", mode, s.Samples, s.Base, s.Queries.Rows, s.Queries.Calls)
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprint(tw, "FEATURE\tMEAN |SHAP|\n")
		for _, i := range order(s) {
			fmt.Fprintf(tw, "%s\t%.6f\n", s.Features[i], s.MeanAbs[i])
		}
		tw.Flush()
		for _, r := range s.Rows {
			fmt.Fprintf(&b, "\nrow %d: prediction %.6f = base %.6f + Σ SHAP\n", r.Index, r.Prediction, s.Base)
			tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
			for _, i := range order(s) {
				fmt.Fprintf(tw, "  %s\t%g\t%+.6f\n", s.Features[i], r.Features[i], r.Values[i])
			}
			tw.Flush()
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// order sorts features by mean |SHAP|, largest first.
func order(s *explain.SHAPResult) []int {
	idx := make([]int, len(s.Features))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return s.MeanAbs[idx[a]] > s.MeanAbs[idx[b]] })
	return idx
}

type hbar struct {
	Label, Value string
	Y, W         float64
	LoX, HiX     float64
	HasCI        bool
}

type dot struct {
	X, Y  float64
	Color string
}

type page struct {
	Doc       Document
	PermBars  []hbar
	PermH     float64
	ShapBars  []hbar
	ShapH     float64
	Dots      []dot
	ZeroX     float64
	SwarmRows []hbar
	SwarmH    float64
}

var tmpl = template.Must(template.New("x").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Explanations — {{.Doc.Model}}</title>
<style>body{font:14px/1.45 system-ui,sans-serif;max-width:1000px;margin:2em auto;color:#1d2330;padding:0 1em}
h2{border-bottom:2px solid #dde3ee}svg text{font:11px system-ui,sans-serif;fill:#1d2330}.meta{color:#5b6475}
table{border-collapse:collapse}td,th{padding:.2em .6em;border-bottom:1px solid #e4e8f0;text-align:right}td.l,th.l{text-align:left}</style>
</head><body>
<h1>Explanations</h1>
<p class="meta">model <code>{{.Doc.Model}}</code> · data <code>{{.Doc.Data}}</code>{{if .Doc.Output}} · output <code>{{.Doc.Output}}</code>{{end}} · {{.Doc.Tool.Name}} {{.Doc.Tool.Version}}</p>
{{with .Doc.Permutation}}<h2>Permutation importance</h2>
<p class="meta">Drop in {{.Metric}} when a feature is shuffled (baseline {{printf "%.4f" .Baseline}}); whiskers: confidence interval. {{.Queries.Rows}} rows in {{.Queries.Calls}} calls.</p>{{end}}
{{if .PermBars}}<svg xmlns="http://www.w3.org/2000/svg" width="700" height="{{.PermH}}">
{{range .PermBars}}<text x="194" y="{{.Y}}" dy="13" text-anchor="end">{{.Label}}</text><rect x="200" y="{{.Y}}" width="{{.W}}" height="18" fill="#4a6fd8"/>
{{if .HasCI}}<line x1="{{.LoX}}" y1="{{.Y}}" x2="{{.HiX}}" y2="{{.Y}}" transform="translate(0,9)" stroke="#1d2330"/>{{end}}<text x="610" y="{{.Y}}" dy="13">{{.Value}}</text>
{{end}}</svg>{{end}}
{{with .Doc.SHAP}}<h2>KernelSHAP</h2>
<p class="meta">Base value E[f] = {{printf "%.6f" .Base}}; {{if .Exact}}every coalition evaluated (exact){{else}}{{.Samples}} sampled coalitions per row{{end}}; {{.Queries.Rows}} rows in {{.Queries.Calls}} calls. For every row, base + Σ SHAP = prediction.</p>
<h3>Global importance (mean |SHAP|)</h3>{{end}}
{{if .ShapBars}}<svg xmlns="http://www.w3.org/2000/svg" width="700" height="{{.ShapH}}">
{{range .ShapBars}}<text x="194" y="{{.Y}}" dy="13" text-anchor="end">{{.Label}}</text><rect x="200" y="{{.Y}}" width="{{.W}}" height="18" fill="#c76a00"/><text x="610" y="{{.Y}}" dy="13">{{.Value}}</text>
{{end}}</svg>
<h3>Beeswarm (one dot per row; colour: feature value, blue low → red high)</h3>
<svg xmlns="http://www.w3.org/2000/svg" width="700" height="{{.SwarmH}}">
<line x1="{{.ZeroX}}" y1="0" x2="{{.ZeroX}}" y2="{{.SwarmH}}" stroke="#9aa3b5"/>
{{range .SwarmRows}}<text x="194" y="{{.Y}}" dy="4" text-anchor="end">{{.Label}}</text>{{end}}
{{range .Dots}}<circle cx="{{.X}}" cy="{{.Y}}" r="3" fill="{{.Color}}" fill-opacity="0.8"/>{{end}}
</svg>{{end}}
{{with .Doc.SHAP}}<h3>Rows</h3><table><tr><th class="l">row</th><th>prediction</th>{{range .Features}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr><td class="l">{{.Index}}</td><td>{{printf "%.4f" .Prediction}}</td>{{range .Values}}<td>{{printf "%+.4f" .}}</td>{{end}}</tr>{{end}}</table>{{end}}
</body></html>
`))

// HTML writes the self-contained report.
func HTML(w io.Writer, d Document) error {
	p := page{Doc: d}
	if perm := d.Permutation; perm != nil && len(perm.Importances) > 0 {
		hi := 0.0
		for _, imp := range perm.Importances {
			hi = math.Max(hi, math.Max(imp.Mean, imp.CI[1]))
		}
		scale := 400 / math.Max(hi, 1e-12)
		for i, imp := range perm.Importances {
			y := 6 + float64(i)*24
			p.PermBars = append(p.PermBars, hbar{Label: imp.Feature, Value: fmt.Sprintf("%.4f", imp.Mean), Y: y,
				W: math.Max(0, imp.Mean) * scale, HasCI: true, LoX: 200 + math.Max(0, imp.CI[0])*scale, HiX: 200 + math.Max(0, imp.CI[1])*scale})
		}
		p.PermH = 12 + float64(len(perm.Importances))*24
	}
	if s := d.SHAP; s != nil && len(s.Features) > 0 {
		ord := order(s)
		hi := 0.0
		for _, v := range s.MeanAbs {
			hi = math.Max(hi, v)
		}
		scale := 400 / math.Max(hi, 1e-12)
		maxAbs := 0.0
		for _, r := range s.Rows {
			for _, v := range r.Values {
				maxAbs = math.Max(maxAbs, math.Abs(v))
			}
		}
		p.ZeroX = 400
		for k, i := range ord {
			y := 6 + float64(k)*24
			p.ShapBars = append(p.ShapBars, hbar{Label: s.Features[i], Value: fmt.Sprintf("%.4f", s.MeanAbs[i]), Y: y, W: s.MeanAbs[i] * scale})
			cy := 14 + float64(k)*24
			p.SwarmRows = append(p.SwarmRows, hbar{Label: s.Features[i], Y: cy})
			lo, hiF := math.Inf(1), math.Inf(-1)
			for _, r := range s.Rows {
				lo, hiF = math.Min(lo, r.Features[i]), math.Max(hiF, r.Features[i])
			}
			for j, r := range s.Rows {
				t := 0.5
				if hiF > lo {
					t = (r.Features[i] - lo) / (hiF - lo)
				}
				jitter := float64(j%7-3) * 1.6
				p.Dots = append(p.Dots, dot{X: 400 + r.Values[i]/math.Max(maxAbs, 1e-12)*190, Y: cy + jitter,
					Color: fmt.Sprintf("rgb(%d,%d,%d)", int(40+200*t), 80, int(240-200*t))})
			}
		}
		p.ShapH = 12 + float64(len(ord))*24
		p.SwarmH = 28 + float64(len(ord))*24
	}
	return tmpl.Execute(w, p)
}
