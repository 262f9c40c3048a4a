package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	redteamModel = "../inference/testdata/logreg.onnx"
	redteamData  = "../attack/testdata/logreg.csv"
)

func TestRedteamCommand(t *testing.T) {
	base := []string{"redteam", redteamModel, "--data", redteamData, "--label", "label", "--samples", "8", "--budget", "200",
		"--seed", "1", "--attacks", "hopskipjump,square,extraction", "--extraction-budgets", "50,100", "--norm", "linf", "--eps", "0.1,0.3"}
	code, out, errOut := run(t, nil, base...)
	if code != ExitFindings {
		t.Fatalf("exit %d, want %d (findings): %s %s", code, ExitFindings, out, errOut)
	}
	for _, s := range []string{"EVASION", "hopskipjump", "MODEL EXTRACTION", "MLS-ADV-001", "queries in"} {
		if !strings.Contains(out, s) {
			t.Errorf("table lacks %q:\n%s", s, out)
		}
	}
	code, out, _ = run(t, nil, append(base, "--format", "json", "--fail-on", "none")...)
	if code != ExitClean {
		t.Fatalf("--fail-on none: exit %d", code)
	}
	var doc struct {
		Kind    string `json:"kind"`
		Evasion []struct {
			Attack     string `json:"attack"`
			MaxQueries int    `json:"max_queries"`
		} `json:"evasion"`
		Findings []struct {
			RuleID string `json:"rule_id"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Kind != "robustness" || len(doc.Evasion) != 2 || len(doc.Findings) == 0 {
		t.Errorf("doc %+v", doc)
	}
	for _, e := range doc.Evasion {
		if e.MaxQueries > 200 {
			t.Errorf("%s used %d queries per sample, budget 200", e.Attack, e.MaxQueries)
		}
	}
	html := filepath.Join(t.TempDir(), "r.html")
	if code, _, errOut := run(t, nil, append(base, "--format", "html", "-o", html)...); code != ExitFindings {
		t.Fatalf("html exit %d: %s", code, errOut)
	}
	if b, _ := os.ReadFile(html); !strings.Contains(string(b), "<svg") {
		t.Error("HTML report has no plots")
	}
	if code, out, _ := run(t, nil, append(base, "--format", "sarif")...); code != ExitFindings || !strings.Contains(out, "MLS-ADV-001") {
		t.Errorf("sarif exit %d", code)
	}
}

func TestRedteamUsageErrors(t *testing.T) {
	schema := filepath.Join(t.TempDir(), "s.yaml")
	os.WriteFile(schema, []byte("features:\n  - {name: f0, type: nope}\n"), 0o644)
	for _, args := range [][]string{
		{"redteam", redteamModel, "--data", redteamData},
		{"redteam", redteamModel, "--data", redteamData, "--label", "label", "--norm", "l1"},
		{"redteam", redteamModel, "--data", redteamData, "--label", "label", "--attacks", "fgsm"},
		{"redteam", redteamModel, "--data", redteamData, "--label", "label", "--schema", schema},
		{"redteam", redteamModel, "--data", redteamData, "--label", "label", "--budget", "0"},
	} {
		if code, _, _ := run(t, nil, args...); code != ExitError {
			t.Errorf("%v: exit %d, want %d", args[3:], code, ExitError)
		}
	}
}
