package policy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlsec/mlsec/internal/policy"
	"github.com/mlsec/mlsec/internal/report/reporttest"
)

func readEvidence(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "evidence", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParseEvidence(t *testing.T) {
	scanJSON, _ := json.Marshal(reporttest.Sample())
	for _, tc := range []struct {
		name  string
		data  []byte
		kind  string
		check func(t *testing.T, e *policy.Evidence)
	}{
		{"bom", readEvidence(t, "bom.cdx.json"), policy.KindBOM, func(t *testing.T, e *policy.Evidence) {
			if n := len(e.BOM.Components); n != 5 {
				t.Errorf("%d components (metadata, nested and no-licence ones included), want 5", n)
			}
			if v := e.BOM.Vulnerabilities; len(v) != 1 || v[0].Severity != "critical" {
				t.Errorf("vulnerabilities %+v: want the highest rating, critical", v)
			}
			if l := e.BOM.Components[2].Licenses; len(l) != 1 || l[0] != "MIT OR Apache-2.0" {
				t.Errorf("nested expression licence: %v", l)
			}
		}},
		{"fairness", readEvidence(t, "fairness.json"), policy.KindFairness, func(t *testing.T, e *policy.Evidence) {
			if e.Fairness.MinDisparateImpact == nil || len(e.Fairness.Groups) == 0 || len(e.Fairness.Disparities) == 0 {
				t.Errorf("fairness evidence incomplete: %+v", e.Fairness)
			}
		}},
		{"robustness", readEvidence(t, "robustness.json"), policy.KindRobustness, func(t *testing.T, e *policy.Evidence) {
			if len(e.Robustness.Attacks) != 2 || e.Robustness.Attacks[0].Name != "hop-skip-jump" {
				t.Errorf("attacks %+v", e.Robustness.Attacks)
			}
		}},
		{"redteam", readEvidence(t, "redteam.json"), policy.KindRobustness, func(t *testing.T, e *policy.Evidence) {
			kinds := map[string]int{}
			for _, a := range e.Robustness.Attacks {
				kinds[a.Kind]++
			}
			if kinds["evasion"] == 0 || kinds["membership-inference"] == 0 || kinds["extraction"] != 1 {
				t.Errorf("attacks %+v", e.Robustness.Attacks)
			}
			if a := e.Robustness.Attacks[0]; a.Epsilon == nil || *a.Epsilon != 0.1 || a.SuccessRate != 0.75 || a.RobustAccuracy == nil {
				t.Errorf("evasion judged at the report's ε 0.1: %+v", a)
			}
			if len(e.Robustness.Findings) == 0 {
				t.Error("the red-team findings are dropped")
			}
		}},
		{"redteam robustness document", readEvidence(t, "redteam-robustness.json"), policy.KindRobustness, func(t *testing.T, e *policy.Evidence) {
			if len(e.Robustness.Attacks) < 3 || len(e.Robustness.Findings) == 0 {
				t.Errorf("mlsec redteam's robustness document: %+v", e.Robustness)
			}
		}},
		{"verify", readEvidence(t, "verify.json"), policy.KindSignature, func(t *testing.T, e *policy.Evidence) {
			if e.Signature.Verified || e.Signature.Error == nil || e.Signature.Error.Kind != "modified" {
				t.Errorf("verify result %+v", e.Signature)
			}
		}},
		{"scan", scanJSON, policy.KindScan, func(t *testing.T, e *policy.Evidence) {
			if e.Scan.Complete || len(e.Scan.Findings) == 0 {
				t.Errorf("the sample report has an inconclusive artifact and findings: %+v", e.Scan)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := policy.ParseEvidence(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if e.Kind != tc.kind {
				t.Fatalf("kind %s, want %s", e.Kind, tc.kind)
			}
			tc.check(t, e)
		})
	}
	for name, data := range map[string]string{
		"not json":       "PK\x03\x04",
		"unknown object": `{"a": 1}`,
		"bad robustness": `{"schema_version": "1.0.0", "kind": "robustness", "attacks": [{"name": "x", "kind": "evasion", "success_rate": 1.5}]}`,
		"unknown attack": `{"schema_version": "1.0.0", "kind": "robustness", "attacks": [{"name": "x", "kind": "vibes", "success_rate": 0.1}]}`,
		"robustness v2":  `{"schema_version": "2.0.0", "kind": "robustness", "attacks": []}`,
		"deep bom":       `{"bomFormat": "CycloneDX", "components": [` + deepComponents(40) + `]}`,
	} {
		if _, err := policy.ParseEvidence([]byte(data)); err == nil {
			t.Errorf("%s: accepted", name)
		} else if name == "unknown object" && !errors.Is(err, policy.ErrUnknownEvidence) {
			t.Errorf("%s: %v is not ErrUnknownEvidence", name, err)
		}
	}
}

func deepComponents(n int) string {
	var b bytes.Buffer
	for range n {
		b.WriteString(`{"type": "library", "name": "x", "components": [`)
	}
	for range n {
		b.WriteString(`]}`)
	}
	return b.String()
}

func FuzzParseEvidence(f *testing.F) {
	for _, n := range []string{"bom.cdx.json", "fairness.json", "robustness.json", "verify.json", "redteam.json", "redteam-robustness.json"} {
		f.Add(readEvidence(f, n))
	}
	scanJSON, _ := json.Marshal(reporttest.Sample())
	f.Add(scanJSON)
	f.Add([]byte(`{"bomFormat": "CycloneDX", "components": [{"components": [{"components": []}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := policy.ParseEvidence(data)
		if err == nil && e.Kind == "" {
			t.Fatal("evidence without a kind")
		}
	})
}
