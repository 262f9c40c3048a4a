package fairreport

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/mlsec/mlsec/internal/fairness"
	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/report/reporttest"
)

var tool = finding.Tool{Name: "mlsec", Version: "0.1.0-test"}

// sample is a fixed assessment: two sensitive features and their
// intersection (one combination absent), a group name that needs HTML
// escaping, and bootstrap intervals.
func sample(t *testing.T) *fairness.Result {
	t.Helper()
	keys := [][]string{{"female", "a"}, {"female", "<b>&c"}, {"male", "a"}}
	counts := []fairness.Confusion{
		{TP: 30, FN: 10, FP: 8, TN: 52},
		{TP: 5, FN: 9, FP: 2, TN: 24},
		{TP: 70, FN: 12, FP: 25, TN: 93},
	}
	res, err := fairness.FromConfusion(context.Background(), fairness.Config{
		Label: "approved", Pred: "label", Sensitive: []string{"sex", "race"}, Intersectional: true,
		Bootstrap: 50, Seed: 1,
	}, keys, counts)
	if err != nil {
		t.Fatal(err)
	}
	res.Input = fairness.Input{Path: "predictions.csv", Format: "csv", Size: 1234, Rows: res.Input.Rows}
	res.Artifact = finding.Artifact{Path: "predictions.csv", Size: 1234, Format: "csv"}
	res.Started = reporttest.Start
	for i := range res.Findings {
		res.Findings[i].Artifact = res.Artifact
	}
	return res
}

func TestGolden(t *testing.T) {
	res := sample(t)
	var h, tb, js bytes.Buffer
	if err := HTML(&h, res, tool); err != nil {
		t.Fatal(err)
	}
	if err := Table(&tb, res); err != nil {
		t.Fatal(err)
	}
	if err := JSON(&js, res, tool); err != nil {
		t.Fatal(err)
	}
	reporttest.Golden(t, "report.html", h.Bytes())
	reporttest.Golden(t, "report.table", tb.Bytes())
	reporttest.Golden(t, "report.json", js.Bytes())

	html := h.String()
	for _, bad := range []string{"<script", "src=", "href=\"http", "<b>&c"} {
		if strings.Contains(html, bad) {
			t.Errorf("HTML contains %q", bad)
		}
	}
	if !strings.Contains(html, "&lt;b&gt;&amp;c") || !strings.Contains(html, "<svg") {
		t.Error("HTML lacks the escaped group name or the charts")
	}
	// Well-formed enough for an XML parser to walk every SVG element.
	d := xml.NewDecoder(strings.NewReader(html[strings.Index(html, "<body>") : strings.Index(html, "</body>")+7]))
	d.Strict, d.AutoClose, d.Entity = false, xml.HTMLAutoClose, xml.HTMLEntity
	for {
		if _, err := d.Token(); err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("HTML does not parse: %v", err)
			}
			break
		}
	}
	var doc map[string]any
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["kind"] != "fairness" || doc["summary"] == nil {
		t.Errorf("JSON document %v", doc["kind"])
	}
}
