package attackreport

import (
	_ "embed"
	"fmt"
	"html"
	"html/template"
	"io"
	"slices"
	"strings"

	"github.com/mlsec/mlsec/internal/attack/redteam"
	"github.com/mlsec/mlsec/internal/finding"
)

//go:embed report.html.tmpl
var htmlTemplate string

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#7f7f7f"}

type series struct {
	name   string
	pts    [][2]float64
	dashed bool
}

// chart draws a line chart as inline SVG.
func chart(title, xl, yl string, xmax, ymax float64, ss []series) template.HTML {
	const w, h, l, r, t, bm = 520.0, 300.0, 56.0, 150.0, 28.0, 44.0
	pw, ph := w-l-r, h-t-bm
	if !(xmax > 0) {
		xmax = 1
	}
	if !(ymax > 0) {
		ymax = 1
	}
	x := func(v float64) float64 { return l + pw*v/xmax }
	y := func(v float64) float64 { return t + ph*(1-v/ymax) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %g %g" width="%g" height="%g" role="img" aria-label="%s">`, w, h, w, h, html.EscapeString(title))
	fmt.Fprintf(&b, `<text x="%g" y="16" font-size="13" font-weight="bold">%s</text>`, l, html.EscapeString(title))
	for i := 0; i <= 4; i++ {
		fx, fy := xmax*float64(i)/4, ymax*float64(i)/4
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`, l, y(fy), l+pw, y(fy))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="10" text-anchor="end">%s</text>`, l-4, y(fy)+3, tick(fy))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="10" text-anchor="middle">%s</text>`, x(fx), t+ph+14, tick(fx))
	}
	fmt.Fprintf(&b, `<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#444"/>`, l, t, pw, ph)
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="11" text-anchor="middle">%s</text>`, l+pw/2, h-8, html.EscapeString(xl))
	fmt.Fprintf(&b, `<text x="12" y="%.1f" font-size="11" text-anchor="middle" transform="rotate(-90 12 %.1f)">%s</text>`, t+ph/2, t+ph/2, html.EscapeString(yl))
	for i, s := range ss {
		col := palette[i%len(palette)]
		var pts []string
		for _, p := range s.pts {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(min(p[0], xmax)), y(min(p[1], ymax))))
		}
		dash := ""
		if s.dashed {
			dash = ` stroke-dasharray="4 3"`
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`, col, dash, strings.Join(pts, " "))
		for _, p := range s.pts {
			if len(s.pts) <= 12 {
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>`, x(min(p[0], xmax)), y(min(p[1], ymax)), col)
			}
		}
		ly := t + 12 + 16*float64(i)
		fmt.Fprintf(&b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="%s" stroke-width="2"%s/><text x="%g" y="%.1f" font-size="11">%s</text>`,
			l+pw+8, ly, l+pw+26, ly, col, dash, l+pw+30, ly+4, html.EscapeString(s.name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // every string inserted above is escaped
}

func tick(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 1:
		return fmt.Sprintf("%.3g", v)
	}
	return fmt.Sprintf("%.3g", v)
}

type view struct {
	R        *redteam.Result
	Tool     finding.Tool
	Summary  finding.Summary
	Charts   []template.HTML
	Findings []finding.Finding
	Best95   string
}

// HTML writes a self-contained report.
func HTML(w io.Writer, r *redteam.Result, tool finding.Tool) error {
	t, err := template.New("report").Funcs(template.FuncMap{
		"pct":   pct,
		"f4":    func(v float64) string { return fmt.Sprintf("%.4f", v) },
		"f3":    func(v float64) string { return fmt.Sprintf("%.3f", v) },
		"upper": strings.ToUpper,
	}).Parse(htmlTemplate)
	if err != nil {
		return err
	}
	v := view{R: r, Tool: tool, Summary: r.Report(tool).Summary, Findings: r.Findings}
	if len(r.Evasion) > 0 {
		var ss []series
		xmax := 0.0
		for _, e := range r.Evasion {
			s := series{name: e.Attack, dashed: e.FixedEps}
			for _, p := range e.Curve {
				s.pts = append(s.pts, [2]float64{p.Eps, p.RobustAccuracy})
				xmax = max(xmax, p.Eps)
			}
			ss = append(ss, s)
		}
		v.Charts = append(v.Charts, chart("Robust accuracy versus ε", "ε ("+string(r.Config.Norm)+", fraction of feature range)", "robust accuracy", xmax, 1, ss))
		// Perturbation distribution: share of attacked samples broken within distance d.
		ss = nil
		for _, e := range r.Evasion {
			var ds []float64
			for _, s := range e.Samples {
				if s.Success {
					if r.Config.Norm == "linf" {
						ds = append(ds, s.Linf)
					} else {
						ds = append(ds, s.L2)
					}
				}
			}
			slices.Sort(ds)
			s := series{name: e.Attack, pts: [][2]float64{{0, 0}}}
			for i, d := range ds {
				s.pts = append(s.pts, [2]float64{d, float64(i+1) / float64(max(e.Attacked, 1))})
			}
			ss = append(ss, s)
		}
		v.Charts = append(v.Charts, chart("Perturbation found (cumulative)", "distance ("+string(r.Config.Norm)+")", "share of samples evaded", xmax, 1, ss))
	}
	if m := r.Membership; m != nil {
		ss := []series{{name: "chance", pts: [][2]float64{{0, 0}, {1, 1}}, dashed: true}}
		for _, a := range m.Attacks {
			s := series{name: fmt.Sprintf("%s %.2f", a.Attack, a.AUC)}
			for _, p := range a.Curve {
				s.pts = append(s.pts, [2]float64{p.FPR, p.TPR})
			}
			ss = append(ss, s)
		}
		v.Charts = append(v.Charts, chart("Membership inference ROC", "false-positive rate", "true-positive rate", 1, 1, ss))
	}
	if x := r.Extraction; x != nil {
		var ss []series
		idx := map[string]int{}
		xmax := 0.0
		for _, p := range x.Points {
			key := p.Surrogate + " / " + p.Source
			i, ok := idx[key]
			if !ok {
				i = len(ss)
				idx[key] = i
				ss = append(ss, series{name: key, dashed: p.Source == "synthetic"})
			}
			ss[i].pts = append(ss[i].pts, [2]float64{float64(p.Queries), p.Fidelity})
			xmax = max(xmax, float64(p.Queries))
		}
		v.Charts = append(v.Charts, chart("Extraction fidelity versus queries", "queries", "agreement with the model", xmax, 1, ss))
		if p, ok := x.QueriesFor(0.95); ok {
			v.Best95 = fmt.Sprintf("This model can be cloned to %s agreement with %d queries (%s surrogate, %s queries).", pct(p.Fidelity), p.Queries, p.Surrogate, p.Source)
		}
	}
	return t.Execute(w, v)
}
