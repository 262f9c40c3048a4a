package evasion_test

import (
	"context"
	"testing"

	"github.com/mlsec/mlsec/internal/attack/evasion"
)

// go test -run '^$' -bench . -benchtime 3x ./internal/attack/evasion
func BenchmarkAttacks(b *testing.B) {
	for _, bc := range []struct {
		model  string
		attack evasion.Attack
		norm   evasion.Norm
		eps    []float64
	}{
		{"logreg", evasion.HopSkipJump{Distance: evasion.L2}, evasion.L2, []float64{0.25}},
		{"mlp", evasion.HopSkipJump{Distance: evasion.Linf}, evasion.Linf, []float64{0.1}},
		{"forest", evasion.Boundary{}, evasion.L2, []float64{0.25}},
		{"gboost", evasion.Square{Distance: evasion.Linf}, evasion.Linf, []float64{0.1}},
		{"mlp", evasion.SimBA{}, evasion.L2, []float64{0.25}},
	} {
		b.Run(bc.model+"/"+bc.attack.Name()+"/"+string(bc.norm), func(b *testing.B) {
			o, sp, tg := setup(b, bc.model, 20, nil)
			var queries int64
			for b.Loop() {
				r, err := evasion.Run(context.Background(), o, sp, tg, bc.attack, evasion.Config{Norm: bc.norm, Eps: bc.eps, Budget: 1000, Workers: 4, Seed: 1})
				if err != nil {
					b.Fatal(err)
				}
				queries += r.TotalQueries
			}
			b.ReportMetric(float64(queries)/float64(b.N)/20, "queries/sample")
		})
	}
}
