package extraction_test

import (
	"context"
	"testing"

	"github.com/mlsec/mlsec/internal/attack"
	"github.com/mlsec/mlsec/internal/attack/attacktest"
	"github.com/mlsec/mlsec/internal/attack/extraction"
)

func TestExtractSklearnModels(t *testing.T) {
	for _, tc := range []struct {
		model string
		// minFidelity is the least fidelity the best surrogate trained on
		// data-distribution queries must reach at 1000 queries.
		minFidelity float64
	}{
		{"logreg", 0.95},
		{"mlp", 0.85},
		{"forest", 0.85},
		{"gboost", 0.85},
	} {
		t.Run(tc.model, func(t *testing.T) {
			ctx := context.Background()
			m, d := attacktest.Fixture(t, tc.model)
			o, err := attack.NewOracle(ctx, m, d.X[0], attack.OracleOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			sp := attack.NewSpace(attack.InferSchema(d.Names, d.X))
			pool, eval := d.X[:200], d.X[200:]
			ans, err := o.Query(ctx, eval)
			if err != nil {
				t.Fatal(err)
			}
			var labels []int
			for _, l := range d.Labels[200:] {
				labels = append(labels, o.ClassIndex(l))
			}
			before := o.Rows()
			r, err := extraction.Run(ctx, o, extraction.Input{Space: sp, Pool: pool, Eval: eval, EvalLabels: labels, EvalTarget: ans.Labels},
				extraction.Config{Budgets: []int{50, 200, 1000}, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			if got := o.Rows() - before; got != 2000 || r.Queries != 2000 {
				t.Errorf("queries: oracle %d, result %d, want 2000 (1000 per source)", got, r.Queries)
			}
			best := 0.0
			for _, p := range r.Points {
				t.Logf("%s %-9s %-6s %4d queries: fidelity %.3f accuracy %.3f", tc.model, p.Source, p.Surrogate, p.Queries, p.Fidelity, p.Accuracy)
				if p.Source == extraction.SourceData && p.Queries == 1000 {
					best = max(best, p.Fidelity)
				}
			}
			if best < tc.minFidelity {
				t.Errorf("best data-query fidelity at 1000 queries %.3f, want ≥ %.2f", best, tc.minFidelity)
			}
			t.Logf("target accuracy %.3f, %d ms", r.TargetAccuracy, r.DurationMS)
		})
	}
}
