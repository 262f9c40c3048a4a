package evasion_test

import (
	"context"
	"testing"
	"time"

	"github.com/mlsec/mlsec/internal/attack"
	"github.com/mlsec/mlsec/internal/attack/attacktest"
	"github.com/mlsec/mlsec/internal/attack/evasion"
	"github.com/mlsec/mlsec/internal/inference"
)

// setup prepares n rows of a fixture for attack.
func setup(t testing.TB, name string, n int, sch *attack.Schema) (*attack.Oracle, *attack.Space, evasion.Target) {
	t.Helper()
	ctx := context.Background()
	m, d := attacktest.Fixture(t, name)
	o, err := attack.NewOracle(ctx, m, d.X[0], attack.OracleOptions{Batch: 128, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Close)
	s, err := attack.Resolve(sch, attack.InferSchema(d.Names, d.X))
	if err != nil {
		t.Fatal(err)
	}
	sp := attack.NewSpace(s)
	tg := evasion.Target{Rows: d.X[:n]}
	ans, err := o.Query(ctx, tg.Rows)
	if err != nil {
		t.Fatal(err)
	}
	for i := range tg.Rows {
		y := o.ClassIndex(d.Labels[i])
		tg.Labels = append(tg.Labels, y)
		tg.Index = append(tg.Index, i)
		tg.Correct = append(tg.Correct, ans.Labels[i] == y)
	}
	return o, sp, tg
}

var _ inference.Model = (*inference.ONNXModel)(nil)

func TestAttacksOnSklearnModels(t *testing.T) {
	type tc struct {
		model  string
		attack evasion.Attack
		norm   evasion.Norm
		eps    []float64
		budget int
		// minSuccess is the least success rate at the largest ε.
		minSuccess float64
	}
	var cases []tc
	for _, m := range []string{"logreg", "mlp", "forest", "gboost"} {
		cases = append(cases,
			tc{m, evasion.HopSkipJump{Distance: evasion.L2}, evasion.L2, []float64{0.1, 0.25, 0.5}, 2000, 0.9},
			tc{m, evasion.HopSkipJump{Distance: evasion.Linf}, evasion.Linf, []float64{0.05, 0.1, 0.3}, 2000, 0.9},
			tc{m, evasion.Boundary{}, evasion.L2, []float64{0.1, 0.25, 0.5}, 2000, 0.9},
			tc{m, evasion.Square{Distance: evasion.Linf}, evasion.Linf, []float64{0.05, 0.1, 0.3}, 1000, 0.9},
			tc{m, evasion.Square{Distance: evasion.L2}, evasion.L2, []float64{0.1, 0.25, 0.5}, 1000, 0.8},
			tc{m, evasion.SimBA{}, evasion.L2, []float64{0.1, 0.25, 0.5}, 1000, 0.8},
		)
	}
	for _, c := range cases {
		t.Run(c.model+"/"+c.attack.Name()+"/"+string(c.norm), func(t *testing.T) {
			o, sp, tg := setup(t, c.model, 40, nil)
			before := o.Rows()
			start := time.Now()
			r, err := evasion.Run(context.Background(), o, sp, tg, c.attack, evasion.Config{Norm: c.norm, Eps: c.eps, Budget: c.budget, Workers: 4, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			confirm := int64(r.Successes)
			if got := o.Rows() - before; got != r.TotalQueries+confirm {
				t.Errorf("oracle counted %d rows, attack reports %d (+%d confirmations)", got, r.TotalQueries, confirm)
			}
			if r.MaxQueries > c.budget {
				t.Errorf("a sample used %d queries, budget %d", r.MaxQueries, c.budget)
			}
			if r.OutOfBounds != 0 || r.Errors != 0 {
				t.Errorf("out of bounds %d, errors %d", r.OutOfBounds, r.Errors)
			}
			last := r.AtEps[len(r.AtEps)-1]
			if last.SuccessRate < c.minSuccess {
				t.Errorf("success rate at ε=%g is %.2f, want ≥ %.2f", last.Eps, last.SuccessRate, c.minSuccess)
			}
			t.Logf("attacked %d: success %.2f (at ε %v: %+v), median %s %.4f (L2 %.4f, Linf %.4f), median queries %.0f, mean %.0f, %v",
				r.Attacked, r.SuccessRate, c.eps, r.AtEps, c.norm, r.MedianPerturbation, r.MedianL2, r.MedianLinf, r.MedianQueries, r.MeanQueries, time.Since(start).Round(time.Millisecond))
		})
	}
}
