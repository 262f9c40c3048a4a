package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

const fairPreds = "testdata/fairness/preds.csv"

func TestFairnessCommand(t *testing.T) {
	base := []string{"fairness", fairPreds, "--label", "approved", "--pred", "label", "--sensitive", "group"}
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr string
	}{
		// disparate impact 0.75 < 0.8 is high: exit 1 at the default --fail-on high.
		{"table", base, ExitFindings, []string{"demographic_parity_ratio", "0.7500", "MLS-FAIR-002"}, ""},
		{"fail-on critical", append(base, "--fail-on", "critical"), ExitClean, nil, ""},
		{"looser ratio", append(base, "--min-ratio", "0.7", "--fail-on", "high"), ExitClean, nil, ""},
		{"threshold override", append(base, "--threshold", "disparate_impact_ratio=0.7", "--min-group-size", "0", "--fail-on", "low"), ExitFindings, []string{"MLS-FAIR-003"}, ""},
		{"html", append(base, "--format", "html", "--score", "score_1", "--sensitive", "sex", "--intersectional"), ExitFindings, []string{"<svg", "group × sex", "roc_auc"}, ""},
		{"sarif", append(base, "--format", "sarif"), ExitFindings, []string{"MLS-FAIR-002", "\"version\": \"2.1.0\""}, ""},
		{"bootstrap", append(base, "--bootstrap", "100", "--seed", "3"), ExitFindings, []string{"[0."}, ""},
		{"missing column", []string{"fairness", fairPreds, "--label", "nope", "--pred", "label", "--sensitive", "group"}, ExitError, nil, "no such column"},
		{"bad threshold", append(base, "--threshold", "bogus=1"), ExitError, nil, "unknown threshold"},
		{"missing flag", []string{"fairness", fairPreds, "--label", "approved"}, ExitError, nil, "required flag"},
		{"no file", []string{"fairness", "testdata/fairness/nope.csv", "--label", "a", "--pred", "b", "--sensitive", "c"}, ExitError, nil, "cannot read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, nil, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errOut)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			if tt.stderr != "" && !strings.Contains(errOut, tt.stderr) {
				t.Errorf("stderr %q lacks %q", errOut, tt.stderr)
			}
		})
	}
}

func TestFairnessJSON(t *testing.T) {
	code, out, _ := run(t, nil, "fairness", fairPreds, "--label", "approved", "--pred", "label", "--sensitive", "group", "--format", "json", "--fail-on", "none")
	if code != ExitClean {
		t.Fatalf("exit %d", code)
	}
	var doc struct {
		Kind  string `json:"kind"`
		Views []struct {
			Disparities []struct {
				Name   string   `json:"name"`
				Method string   `json:"method"`
				Value  *float64 `json:"value"`
			} `json:"disparities"`
		} `json:"views"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	for _, d := range doc.Views[0].Disparities {
		if d.Name == "equalized_odds_difference" && d.Method == "between_groups" && (d.Value == nil || *d.Value != 0.5) {
			t.Errorf("equalized odds difference %v, want 0.5", d.Value)
		}
	}
}
