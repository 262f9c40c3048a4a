package fairreport

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"

	"github.com/mlsec/mlsec/internal/fairness"
	"github.com/mlsec/mlsec/internal/finding"
)

//go:embed report.html.tmpl
var htmlTemplate string

var tmpl = template.Must(template.New("fairness").Funcs(template.FuncMap{
	"f4":      f4,
	"ci":      ci,
	"upper":   strings.ToUpper,
	"isRatio": fairness.IsRatio,
	"add":     func(a, b float64) float64 { return a + b },
	"mul100":  func(a float64) float64 { return a * 100 },
}).Parse(htmlTemplate))

// bar is one bar of an SVG chart, in pixels.
type bar struct {
	Label      string
	Value      string
	Y, W       float64
	HasCI      bool
	CILo, CIHi float64
	Low        bool // below the four-fifths line
	Missing    bool
}

type chart struct {
	Title   string
	Metric  string
	Height  float64
	Bars    []bar
	LineX   float64 // four-fifths reference line (selection rate only)
	HasLine bool
	Ticks   []tick
}

type tick struct {
	X     float64
	Label string
}

type viewData struct {
	fairness.View
	Charts []chart
}

type page struct {
	Res      *fairness.Result
	Tool     finding.Tool
	Views    []viewData
	Metrics  []string
	Findings []finding.Finding
	Highest  string
}

const (
	chartLeft  = 170.0
	chartWidth = 420.0
	barH       = 18.0
	barGap     = 6.0
)

func buildChart(v fairness.View, metric, title string, fourFifths bool) chart {
	c := chart{Title: title, Metric: metric}
	for i := 0; i <= 4; i++ {
		x := float64(i) / 4
		c.Ticks = append(c.Ticks, tick{X: chartLeft + x*chartWidth, Label: fmt.Sprintf("%.2f", x)})
	}
	for i, g := range v.Groups {
		b := bar{Label: g.Name, Y: 10 + float64(i)*(barH+barGap)}
		val := g.Metrics[metric]
		if val.IsNaN() {
			b.Missing, b.Value = true, "no data"
		} else {
			b.W = float64(val) * chartWidth
			b.Value = f4(val)
		}
		if iv, ok := g.CI[metric]; ok && !iv[0].IsNaN() && !iv[1].IsNaN() {
			b.HasCI, b.CILo, b.CIHi = true, chartLeft+float64(iv[0])*chartWidth, chartLeft+float64(iv[1])*chartWidth
		}
		if fourFifths && g.DisparateImpact != nil && *g.DisparateImpact < 0.8 {
			b.Low = true
		}
		c.Bars = append(c.Bars, b)
	}
	c.Height = 10 + float64(len(v.Groups))*(barH+barGap) + 24
	if fourFifths {
		if max := v.Metrics[metric].GroupMax; !max.IsNaN() {
			c.HasLine, c.LineX = true, chartLeft+0.8*float64(max)*chartWidth
		}
	}
	return c
}

// HTML writes a self-contained report.
func HTML(w io.Writer, res *fairness.Result, tool finding.Tool) error {
	p := page{Res: res, Tool: tool, Metrics: append([]string(nil), fairness.BaseMetrics...), Findings: res.Findings}
	if res.Settings.Score != "" {
		p.Metrics = append(p.Metrics, fairness.MetricROCAUC)
	}
	for _, v := range res.Views {
		vd := viewData{View: v}
		vd.Charts = append(vd.Charts,
			buildChart(v, fairness.MetricSelection, "Selection rate (line: four fifths of the highest)", true),
			buildChart(v, fairness.MetricTPR, "True positive rate", false),
			buildChart(v, fairness.MetricFPR, "False positive rate", false))
		p.Views = append(p.Views, vd)
	}
	rep := Report(res, tool)
	if rep.Summary.Highest != nil {
		p.Highest = rep.Summary.Highest.String()
	}
	return tmpl.Execute(w, p)
}
