package cli

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const explainModel = "../inference/testdata/logreg.onnx" // 6 float features, 2 classes

func explainData(t *testing.T) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 1))
	var b strings.Builder
	b.WriteString("id,f0,f1,f2,f3,f4,f5,label\n")
	for i := 0; i < 60; i++ {
		fmt.Fprintf(&b, "%d", i)
		s := 0.0
		for j := 0; j < 6; j++ {
			v := rng.NormFloat64()
			s += v * float64(j%3-1)
			fmt.Fprintf(&b, ",%.4f", v)
		}
		l := 0
		if s > 0 {
			l = 1
		}
		fmt.Fprintf(&b, ",%d\n", l)
	}
	p := filepath.Join(t.TempDir(), "rows.csv")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExplainCommand(t *testing.T) {
	data := explainData(t)
	base := []string{"explain", explainModel, "--data", data, "--drop", "id", "--label", "label", "--rows", "0-4", "--background-size", "20", "--samples", "200", "--seed", "1"}
	code, out, errOut := run(t, nil, base...)
	if code != ExitClean {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	for _, s := range []string{"Permutation importance (accuracy", "KernelSHAP (exact", "row 4: prediction"} {
		if !strings.Contains(out, s) {
			t.Errorf("table lacks %q:\n%s", s, out)
		}
	}
	code, out, _ = run(t, nil, append(base, "--format", "json")...)
	if code != ExitClean {
		t.Fatalf("json exit %d", code)
	}
	var doc struct {
		Output string `json:"output"`
		SHAP   struct {
			Base float64 `json:"base_value"`
			Rows []struct {
				Prediction float64   `json:"prediction"`
				Values     []float64 `json:"shap_values"`
			} `json:"rows"`
		} `json:"shap"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.SHAP.Rows) != 5 || doc.Output != "1" {
		t.Fatalf("rows %d output %q", len(doc.SHAP.Rows), doc.Output)
	}
	for i, r := range doc.SHAP.Rows {
		s := doc.SHAP.Base
		for _, v := range r.Values {
			s += v
		}
		if math.Abs(s-r.Prediction) > 1e-9 {
			t.Errorf("row %d: base + Σ SHAP = %v, prediction %v", i, s, r.Prediction)
		}
	}
	code, out, _ = run(t, nil, append(base, "--format", "html")...)
	if code != ExitClean || !strings.Contains(out, "<circle") || strings.Contains(out, "<script") {
		t.Fatalf("html exit %d", code)
	}
	if code, _, errOut := run(t, nil, "explain", explainModel, "--data", data, "--drop", "id,label", "--rows", "500"); code != ExitError || !strings.Contains(errOut, "selects none") {
		t.Errorf("bad rows: exit %d %s", code, errOut)
	}
	if code, _, errOut := run(t, nil, "explain", explainModel, "--data", data); code != ExitError || !strings.Contains(errOut, "not a number") && !strings.Contains(errOut, "features") {
		t.Errorf("label column as a feature: exit %d %s", code, errOut)
	}
}
