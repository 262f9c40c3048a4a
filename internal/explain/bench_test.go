package explain

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkKernelSHAP reports the model rows queried and the time per
// explained row, for a 10-feature model with 100 background rows.
func BenchmarkKernelSHAP(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, samples := range []int{256, 1022, 4096} {
		b.Run(fmt.Sprintf("features=10/background=100/samples=%d", samples), func(b *testing.B) {
			x, bg := randRows(rng, 1, 10), randRows(rng, 100, 10)
			var q Queries
			for b.Loop() {
				res, err := KernelSHAP(context.Background(), tree10(), names(10), x, nil, bg, SHAPOptions{Samples: samples, Output: -1})
				if err != nil {
					b.Fatal(err)
				}
				q = res.Queries
			}
			b.ReportMetric(float64(q.Rows), "queries/row")
			b.ReportMetric(float64(q.Calls), "calls/row")
		})
	}
}

func BenchmarkPermutation(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	x := randRows(rng, 1000, 10)
	labels := make([]string, len(x))
	for i := range labels {
		labels[i] = "1"
	}
	for b.Loop() {
		if _, err := Permutation(context.Background(), tree10(), names(10), x, labels, PermutationOptions{Repeats: 5}); err != nil {
			b.Fatal(err)
		}
	}
}

// tree10 is the tree model widened to ten features.
func tree10() Predictor { return tree() }
