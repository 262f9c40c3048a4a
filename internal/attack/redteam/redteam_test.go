package redteam_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mlsec/mlsec/internal/attack"
	"github.com/mlsec/mlsec/internal/attack/attacktest"
	"github.com/mlsec/mlsec/internal/attack/evasion"
	"github.com/mlsec/mlsec/internal/attack/redteam"
	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/inference"
)

// serve exposes a model over OIP v2 with mlsec serve's handler and dials it.
func serve(t *testing.T, name string, m inference.Model) inference.Model {
	t.Helper()
	srv, err := inference.NewServer(context.Background(), map[string]inference.Model{name: m}, inference.ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	c, err := inference.Dial(ts.URL + "/v2/models/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func data(d *attacktest.Data) *redteam.Data {
	return &redteam.Data{Names: d.Names, X: d.X, Labels: d.Labels}
}

func rules(fs []finding.Finding) []string {
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.RuleID)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

func TestRedteamServedModel(t *testing.T) {
	m, d := attacktest.Fixture(t, "logreg")
	c := serve(t, "logreg", m)
	cfg := redteam.Config{Attacks: []string{"hopskipjump", "boundary", "square", "simba", redteam.Extraction},
		Norm: evasion.Linf, Eps: []float64{0.05, 0.1, 0.3}, Budget: 400, Samples: 16, Seed: 7, Workers: 4,
		ExtractionBudgets: []int{50, 200}}
	res, err := redteam.Run(context.Background(), c, "http://served/v2/models/logreg", finding.Artifact{Path: "logreg"}, data(d), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Evasion) != 4 || res.Extraction == nil || len(res.Gaps) != 0 {
		t.Fatalf("evasion %d, extraction %v, gaps %v", len(res.Evasion), res.Extraction != nil, res.Gaps)
	}
	var total int64 = 1 + int64(res.Evaluated) + res.Extraction.Queries + int64(res.Extraction.EvalRows)
	for _, e := range res.Evasion {
		if e.MaxQueries > cfg.Budget {
			t.Errorf("%s: a sample used %d queries (budget %d)", e.Attack, e.MaxQueries, cfg.Budget)
		}
		if e.OutOfBounds != 0 || e.Errors != 0 {
			t.Errorf("%s: %d out of bounds, %d errors", e.Attack, e.OutOfBounds, e.Errors)
		}
		if e.AtEps[2].SuccessRate < 0.9 {
			t.Errorf("%s: success %.2f at ε=0.3 against an undefended model", e.Attack, e.AtEps[2].SuccessRate)
		}
		for _, s := range e.Samples {
			if s.Success && !attack.NewSpace(mustResolve(t, d)).InBounds(s.Adversarial, d.X[s.Row], 1e-9) {
				t.Errorf("%s row %d: adversarial out of bounds", e.Attack, s.Row)
			}
		}
		total += e.TotalQueries + int64(e.Successes)
	}
	if res.Queries != total {
		t.Errorf("oracle counted %d rows, parts account for %d", res.Queries, total)
	}
	if res.Calls >= res.Queries {
		t.Errorf("no batching: %d requests for %d rows", res.Calls, res.Queries)
	}
	if got := rules(res.Findings); !slices.Equal(got, []string{"MLS-ADV-001", "MLS-ADV-004"}) {
		t.Errorf("rules %v", got)
	}
	rep := res.Report(finding.Tool{Name: "mlsec"})
	if rep.Summary.Inconclusive != 0 || len(rep.Artifacts[0].Findings) != len(res.Findings) {
		t.Errorf("report summary %+v", rep.Summary)
	}
}

func mustResolve(t *testing.T, d *attacktest.Data) *attack.Schema {
	s, err := attack.Resolve(nil, attack.InferSchema(d.Names, d.X))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRedteamReproducible(t *testing.T) {
	m, d := attacktest.Fixture(t, "mlp")
	cfg := redteam.Config{Attacks: []string{"hopskipjump", "square"}, Norm: evasion.L2, Budget: 300, Samples: 12, Seed: 3, Workers: 3}
	run := func(workers int) []byte {
		c := cfg
		c.Workers = workers
		res, err := redteam.Run(context.Background(), m, "mlp", finding.Artifact{}, data(d), c)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range res.Evasion {
			e.DurationMS = 0
		}
		b, _ := json.Marshal(res.Evasion)
		return b
	}
	a, b := run(1), run(4)
	if string(a) != string(b) {
		t.Error("same seed, different results with 1 and 4 workers")
	}
	cfg.Seed = 4
	if c := run(2); string(c) == string(a) {
		t.Error("different seeds gave identical results")
	}
}

func TestRedteamSchemaConstraints(t *testing.T) {
	m, d := attacktest.Fixture(t, "gboost")
	lo, hi := 0.0, 3.0
	sch := &attack.Schema{Features: []attack.Feature{
		{Name: "f0", Kind: attack.Continuous, Immutable: true},
		{Name: "f1", Kind: attack.Integer},
		{Name: "f2", Kind: attack.Continuous, Min: &lo, Max: &hi},
	}}
	res, err := redteam.Run(context.Background(), m, "gboost", finding.Artifact{}, data(d), redteam.Config{
		Attacks: []string{"hopskipjump", "simba", "square"}, Budget: 300, Samples: 20, Seed: 1, Schema: sch})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range res.Evasion {
		for _, s := range e.Samples {
			if !s.Success {
				continue
			}
			x, x0 := s.Adversarial, d.X[s.Row]
			if x[0] != x0[0] {
				t.Errorf("%s row %d: immutable f0 changed %v → %v", e.Attack, s.Row, x0[0], x[0])
			}
			if x[1] != float64(int64(x[1])) && x[1] != x0[1] {
				t.Errorf("%s row %d: integer f1 = %v", e.Attack, s.Row, x[1])
			}
			if x[2] != x0[2] && (x[2] < lo-1e-9 || x[2] > hi+1e-9) {
				t.Errorf("%s row %d: f2 = %v outside [%v, %v]", e.Attack, s.Row, x[2], lo, hi)
			}
		}
		if e.Successes == 0 {
			t.Errorf("%s: no success under constraints", e.Attack)
		}
	}
}

// labelsOnly hides a classifier's probabilities (decision-based access).
type labelsOnly struct{ inference.Model }

func (l labelsOnly) Metadata(ctx context.Context) (inference.Metadata, error) {
	md, err := l.Model.Metadata(ctx)
	md.Outputs = md.Outputs[:1]
	return md, err
}

func (l labelsOnly) Predict(ctx context.Context, in []inference.Tensor, _ ...string) ([]inference.Tensor, error) {
	return l.Model.Predict(ctx, in, "output_label")
}

func TestRedteamLabelsOnly(t *testing.T) {
	m, d := attacktest.Fixture(t, "forest")
	res, err := redteam.Run(context.Background(), labelsOnly{m}, "forest", finding.Artifact{}, data(d), redteam.Config{
		Attacks: []string{"hopskipjump", "square"}, Budget: 300, Samples: 10, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Evasion) != 1 || len(res.Gaps) != 1 || res.Scores {
		t.Fatalf("evasion %d, gaps %v, scores %v", len(res.Evasion), res.Gaps, res.Scores)
	}
	if res.Report(finding.Tool{}).Summary.Inconclusive != 1 {
		t.Error("a skipped attack must make the run inconclusive")
	}
}

func TestRedteamMembership(t *testing.T) {
	dir := attacktest.Dir()
	mem := attacktest.ReadCSV(t, filepath.Join(dir, "mia_members.csv"))
	non := attacktest.ReadCSV(t, filepath.Join(dir, "mia_nonmembers.csv"))
	pop := attacktest.ReadCSV(t, filepath.Join(dir, "mia_population.csv"))
	for _, tc := range []struct {
		model string
		want  bool
	}{{"mia_overfit", true}, {"mia_regularised", false}} {
		t.Run(tc.model, func(t *testing.T) {
			m := serve(t, tc.model, attacktest.Model(t, filepath.Join(dir, tc.model+".onnx")))
			res, err := redteam.Run(context.Background(), m, tc.model, finding.Artifact{}, data(pop), redteam.Config{
				Attacks: []string{redteam.Membership}, Seed: 1, Members: data(mem), NonMembers: data(non)})
			if err != nil {
				t.Fatal(err)
			}
			got := slices.Contains(rules(res.Findings), "MLS-ADV-003")
			if got != tc.want {
				t.Errorf("MLS-ADV-003 raised = %v, want %v (best %+v)", got, tc.want, res.Membership.Best())
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	m, d := attacktest.Fixture(t, "logreg")
	for _, cfg := range []redteam.Config{
		{Norm: "l3"},
		{Attacks: []string{"fgsm"}},
		{Eps: []float64{-1}},
	} {
		if _, err := redteam.Run(context.Background(), m, "x", finding.Artifact{}, data(d), cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

// flaky fails every call after the first n.
type flaky struct {
	inference.Model
	n *int
}

func (f flaky) Predict(ctx context.Context, in []inference.Tensor, out ...string) ([]inference.Tensor, error) {
	if *f.n <= 0 {
		return nil, &inference.Error{Status: 503, Message: "unavailable"}
	}
	*f.n--
	return f.Model.Predict(ctx, in, out...)
}

func TestRedteamFailingModelIsInconclusive(t *testing.T) {
	m, d := attacktest.Fixture(t, "logreg")
	n := 2 // the probe and the clean pass succeed, the attacks fail
	res, err := redteam.Run(context.Background(), flaky{m, &n}, "logreg", finding.Artifact{}, data(d), redteam.Config{
		Attacks: []string{"hopskipjump"}, Budget: 100, Samples: 5, Seed: 1, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Gaps) != 1 || res.Report(finding.Tool{}).Summary.Inconclusive != 1 {
		t.Errorf("gaps %v", res.Gaps)
	}
}
