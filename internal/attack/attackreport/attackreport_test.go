package attackreport_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mlsec/mlsec/internal/attack"
	"github.com/mlsec/mlsec/internal/attack/attackreport"
	"github.com/mlsec/mlsec/internal/attack/evasion"
	"github.com/mlsec/mlsec/internal/attack/extraction"
	"github.com/mlsec/mlsec/internal/attack/membership"
	"github.com/mlsec/mlsec/internal/attack/redteam"
	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/policy"
	"github.com/mlsec/mlsec/internal/report/reporttest"
)

var tool = finding.Tool{Name: "mlsec", Version: "test"}

func sample() *redteam.Result {
	lo, hi := 0.0, 10.0
	art := finding.Artifact{Path: "model.onnx", Format: "onnx", Size: 1234}
	ev := func(name string, fixed bool, access string) *evasion.Result {
		r := &evasion.Result{Attack: name, Norm: evasion.Linf, Access: access, FixedEps: fixed, Attacked: 4, Successes: 3, SuccessRate: 0.75,
			AtEps:              []evasion.EpsResult{{Eps: 0.05, SuccessRate: 0.25, RobustAccuracy: 0.6, MedianQueries: 40}, {Eps: 0.1, SuccessRate: 0.75, RobustAccuracy: 0.2, MedianQueries: 120}},
			MedianPerturbation: 0.07, MedianL2: 0.12, MedianLinf: 0.07, MedianQueries: 150, MeanQueries: 160, MaxQueries: 300, TotalQueries: 640, DurationMS: 12,
			Curve: []evasion.CurvePoint{{Eps: 0, RobustAccuracy: 0.8}, {Eps: 0.05, RobustAccuracy: 0.6}, {Eps: 0.1, RobustAccuracy: 0.2}},
			Samples: []evasion.Sample{
				{Row: 0, Success: true, Queries: 100, L2: 0.1, Linf: 0.04, Adversarial: []float64{1, 2}, AdversarialClass: "1", InBounds: true, QueriesToEps: []int{40, 40}},
				{Row: 3, Success: true, Queries: 150, L2: 0.12, Linf: 0.07, Adversarial: []float64{1, 3}, AdversarialClass: "1", InBounds: true, QueriesToEps: []int{-1, 120}},
				{Row: 5, Success: true, Queries: 300, L2: 0.2, Linf: 0.09, Adversarial: []float64{2, 3}, AdversarialClass: "0", InBounds: true, QueriesToEps: []int{-1, 200}},
				{Row: 7, Queries: 300, QueriesToEps: []int{-1, -1}},
			}}
		return r
	}
	roc := attack.ComputeROC([]float64{0.9, 0.8, 0.7, 0.4}, []float64{0.6, 0.5, 0.3, 0.2})
	r := &redteam.Result{
		Target: "model.onnx", DataPath: "test.csv", Artifact: art, Scores: true, Rows: 400, Evaluated: 5, CleanAccuracy: 0.8,
		Config: redteam.Config{Attacks: []string{"hopskipjump", "square", "membership", "extraction"}, Norm: evasion.Linf, Eps: []float64{0.05, 0.1},
			Budget: 300, Samples: 5, Seed: 1, Thresholds: redteam.Thresholds{EvasionRate: 0.5, EvasionEps: 0.1, MinPerturbation: 0.05, MembershipAUC: 0.6, MembershipTPR: 0.1, ExtractionFidelity: 0.9}},
		Features: []attack.Feature{{Name: "f0", Kind: attack.Continuous, Min: &lo, Max: &hi}, {Name: "f1", Kind: attack.Integer, Min: &lo, Max: &hi, Immutable: true}},
		Classes:  []string{"0", "1"},
		Evasion:  []*evasion.Result{ev("hopskipjump", false, "decision"), ev("square", true, "score")},
		Membership: &membership.Result{Members: 4, NonMembers: 4, MemberAccuracy: 1, NonMemberAccuracy: 0.75, Queries: 8,
			Attacks: []membership.AttackResult{{Attack: "loss", ROC: roc}}},
		Extraction: &extraction.Result{TargetAccuracy: 0.9, EvalRows: 100, SoftLabels: true, Queries: 500, Points: []extraction.Point{
			{Surrogate: "logreg", Source: "data", Queries: 100, Fidelity: 0.93, Accuracy: 0.88},
			{Surrogate: "logreg", Source: "data", Queries: 400, Fidelity: 0.97, Accuracy: 0.9},
			{Surrogate: "mlp", Source: "synthetic", Queries: 100, Fidelity: 0.8, Accuracy: 0.78},
			{Surrogate: "mlp", Source: "synthetic", Queries: 400, Fidelity: 0.9, Accuracy: 0.86},
		}},
		Queries: 2000, Calls: 300,
		Notes:   []string{"a note <with> markup"},
		Gaps:    []string{"simba needs class scores"},
		Started: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Duration: 1500 * time.Millisecond,
	}
	f := finding.New(attack.RuleEvasion, art, finding.Location{Pointer: "/evasion/hopskipjump"})
	f.Evidence = finding.Evidence{Text: "hopskipjump evaded 75% <of> 4 samples", Fields: map[string]any{"success_rate": 0.75}}
	r.Findings = []finding.Finding{f}
	return r
}

func TestTable(t *testing.T) {
	var b bytes.Buffer
	if err := attackreport.Table(&b, sample()); err != nil {
		t.Fatal(err)
	}
	reporttest.Golden(t, "report.txt", b.Bytes())
}

func TestJSON(t *testing.T) {
	var b bytes.Buffer
	if err := attackreport.JSON(&b, sample(), tool); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"schema_version", "kind", "evasion", "membership", "extraction", "findings", "summary", "settings"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	reporttest.Golden(t, "report.json", b.Bytes())
	// The policy gate reads the document as robustness evidence.
	ev, err := policy.ParseEvidence(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if ev.Kind != policy.KindRobustness || len(ev.Robustness.Attacks) != 4 {
		t.Errorf("policy evidence %+v", ev.Robustness)
	}
}

func TestHTML(t *testing.T) {
	var b bytes.Buffer
	if err := attackreport.HTML(&b, sample(), tool); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	for _, bad := range []string{"<script", " src=", "<with>", "<of>", "stylesheet"} {
		if strings.Contains(s, bad) {
			t.Errorf("HTML contains %q", bad)
		}
	}
	if n := strings.Count(s, "<svg"); n != 4 {
		t.Errorf("%d charts, want 4", n)
	}
	reporttest.Golden(t, "report.html", b.Bytes())
}
