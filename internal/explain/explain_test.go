package explain

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// linear is f(x) = w·x + b as a single output.
func linear(w []float64, b float64) Predictor {
	return PredictorFunc(func(_ context.Context, rows [][]float64) ([][]float64, error) {
		out := make([][]float64, len(rows))
		for i, r := range rows {
			s := b
			for j := range r {
				s += w[j] * r[j]
			}
			out[i] = []float64{s}
		}
		return out, nil
	})
}

// tree is a small regression tree with interactions between features.
func tree() Predictor {
	return PredictorFunc(func(_ context.Context, rows [][]float64) ([][]float64, error) {
		out := make([][]float64, len(rows))
		for i, r := range rows {
			var v float64
			switch {
			case r[0] > 0.5 && r[1] > 0.3:
				v = 3 + r[2]
			case r[0] > 0.5:
				v = 1
			case r[3] > 0.2:
				v = -2 * r[1]
			default:
				v = 0.5
			}
			if len(r) > 4 && r[4] > 0.7 && r[0] < 0.4 {
				v += 2
			}
			// Two outputs: a classifier-like pair; the last is explained.
			p := 1 / (1 + math.Exp(-v))
			out[i] = []float64{1 - p, p}
		}
		return out, nil
	})
}

// bruteShapley computes exact Shapley values of v(S) = mean_b f(x_S, b_S̄)
// from the definition, over every subset.
func bruteShapley(t *testing.T, p Predictor, x []float64, bg [][]float64) []float64 {
	t.Helper()
	m := len(x)
	v := func(s uint) float64 {
		rows := make([][]float64, len(bg))
		for k, b := range bg {
			r := make([]float64, m)
			for i := range r {
				if s&(1<<uint(i)) != 0 {
					r[i] = x[i]
				} else {
					r[i] = b[i]
				}
			}
			rows[k] = r
		}
		out, err := p.Predict(context.Background(), rows)
		if err != nil {
			t.Fatal(err)
		}
		total := 0.0
		for _, o := range out {
			total += o[len(o)-1]
		}
		return total / float64(len(out))
	}
	fact := func(n int) float64 {
		r := 1.0
		for i := 2; i <= n; i++ {
			r *= float64(i)
		}
		return r
	}
	phi := make([]float64, m)
	for i := 0; i < m; i++ {
		for s := uint(0); s < 1<<uint(m); s++ {
			if s&(1<<uint(i)) != 0 {
				continue
			}
			k := popcount(coalition(s))
			w := fact(k) * fact(m-k-1) / fact(m)
			phi[i] += w * (v(s|1<<uint(i)) - v(s))
		}
	}
	return phi
}

func randRows(rng *rand.Rand, n, m int) [][]float64 {
	rows := make([][]float64, n)
	for i := range rows {
		rows[i] = make([]float64, m)
		for j := range rows[i] {
			rows[i][j] = rng.Float64()
		}
	}
	return rows
}

func names(m int) []string {
	out := make([]string, m)
	for i := range out {
		out[i] = fmt.Sprintf("x%d", i)
	}
	return out
}

func TestKernelSHAPExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name string
		p    Predictor
		m    int
	}{
		{"linear 3", linear([]float64{2, -1, 0.5}, 1), 3},
		{"linear 6", linear([]float64{1, 2, 3, -4, 0, 0.25}, -2), 6},
		{"tree 4", tree(), 4},
		{"tree 5", tree(), 5},
		{"single feature", linear([]float64{3}, 0), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := randRows(rng, 6, tc.m)
			bg := randRows(rng, 7, tc.m)
			res, err := KernelSHAP(context.Background(), tc.p, names(tc.m), x, nil, bg, SHAPOptions{Samples: 1 << 12, Output: -1})
			if err != nil {
				t.Fatal(err)
			}
			if tc.m > 1 && !res.Exact {
				t.Fatal("expected full enumeration")
			}
			for r, row := range res.Rows {
				want := bruteShapley(t, tc.p, x[r], bg)
				total := res.Base
				for i, v := range row.Values {
					total += v
					if math.Abs(v-want[i]) > 1e-9 {
						t.Errorf("row %d feature %d: shap %v, exact %v", r, i, v, want[i])
					}
				}
				if math.Abs(total-row.Prediction) > 1e-9 {
					t.Errorf("row %d: base + sum = %v, prediction %v", r, total, row.Prediction)
				}
			}
		})
	}
}

func TestKernelSHAPLinearClosedForm(t *testing.T) {
	// For a linear model, phi_i = w_i (x_i - mean_b b_i).
	w := []float64{1.5, -2, 0.25, 4}
	rng := rand.New(rand.NewPCG(3, 4))
	x, bg := randRows(rng, 3, 4), randRows(rng, 10, 4)
	res, err := KernelSHAP(context.Background(), linear(w, 0.3), names(4), x, nil, bg, SHAPOptions{Output: -1})
	if err != nil {
		t.Fatal(err)
	}
	for r, row := range res.Rows {
		for i := range w {
			mb := 0.0
			for _, b := range bg {
				mb += b[i] / float64(len(bg))
			}
			if want := w[i] * (x[r][i] - mb); math.Abs(row.Values[i]-want) > 1e-9 {
				t.Errorf("row %d feature %d: %v, want %v", r, i, row.Values[i], want)
			}
		}
	}
}

// TestKernelSHAPSampled: with a budget below 2^M, coalitions are sampled;
// additivity still holds exactly on every row, the values approach the
// exact ones, and the same seed gives the same values.
func TestKernelSHAPSampled(t *testing.T) {
	m := 10
	rng := rand.New(rand.NewPCG(5, 6))
	x, bg := randRows(rng, 8, m), randRows(rng, 5, m)
	w := []float64{1, -1, 2, 0.5, 0, 3, -2, 1, 0.1, -0.5}
	run := func(seed uint64) *SHAPResult {
		res, err := KernelSHAP(context.Background(), linear(w, 0), names(m), x, nil, bg, SHAPOptions{Samples: 600, Seed: seed, Output: -1})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	a, b := run(9), run(9)
	if a.Exact {
		t.Fatal("budget 600 < 1022 should sample")
	}
	for r, row := range a.Rows {
		total := a.Base
		for i, v := range row.Values {
			total += v
			if v != b.Rows[r].Values[i] {
				t.Fatalf("same seed, different values")
			}
		}
		if math.Abs(total-row.Prediction) > 1e-9 {
			t.Errorf("row %d: additivity off by %g", r, total-row.Prediction)
		}
	}
	// Linear models are exactly representable, so even sampled coalitions
	// recover the exact values.
	res := run(11)
	for r, row := range res.Rows {
		want := bruteShapley(t, linear(w, 0), x[r], bg)
		for i := range want {
			if math.Abs(row.Values[i]-want[i]) > 1e-6 {
				t.Errorf("row %d feature %d: %v, want %v", r, i, row.Values[i], want[i])
			}
		}
	}
	// A non-linear model with a small budget: additivity is still exact.
	tr, err := KernelSHAP(context.Background(), tree(), names(m), x, nil, bg, SHAPOptions{Samples: 40, Seed: 1, Output: -1})
	if err != nil {
		t.Fatal(err)
	}
	for r, row := range tr.Rows {
		if d := tr.Base + sum(row.Values) - row.Prediction; math.Abs(d) > 1e-9 {
			t.Errorf("tree row %d: additivity off by %g", r, d)
		}
	}
}

func TestPermutation(t *testing.T) {
	// Class 1 iff x0 > 0.5; x1 is noise: x0 matters, x1 does not.
	clf := PredictorFunc(func(_ context.Context, rows [][]float64) ([][]float64, error) {
		out := make([][]float64, len(rows))
		for i, r := range rows {
			if r[0] > 0.5 {
				out[i] = []float64{0.1, 0.9}
			} else {
				out[i] = []float64{0.8, 0.2}
			}
		}
		return out, nil
	})
	rng := rand.New(rand.NewPCG(7, 8))
	x := randRows(rng, 400, 2)
	labels := make([]string, len(x))
	for i, r := range x {
		labels[i] = "0"
		if r[0] > 0.5 {
			labels[i] = "1"
		}
	}
	res, err := Permutation(context.Background(), clf, []string{"income", "noise"}, x, labels, PermutationOptions{Repeats: 10, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Baseline != 1 || res.Importances[0].Feature != "income" || res.Importances[0].Mean < 0.4 ||
		res.Importances[1].Mean != 0 || res.Importances[0].CI[0] > res.Importances[0].Mean || res.Importances[0].CI[1] < res.Importances[0].Mean {
		t.Fatalf("%+v", res)
	}
	if res.Queries.Rows != 400*(1+2*10) {
		t.Errorf("queries %+v", res.Queries)
	}
	again, _ := Permutation(context.Background(), clf, []string{"income", "noise"}, x, labels, PermutationOptions{Repeats: 10, Seed: 1})
	if again.Importances[0].Mean != res.Importances[0].Mean {
		t.Error("not reproducible")
	}
	// Regression metrics.
	ys := make([]string, len(x))
	for i, r := range x {
		ys[i] = fmt.Sprint(3*r[0] + 1)
	}
	reg, err := Permutation(context.Background(), linear([]float64{3, 0}, 1), []string{"a", "b"}, x, ys, PermutationOptions{Metric: MetricR2, Repeats: 3})
	if err != nil || reg.Baseline != 1 || reg.Importances[0].Feature != "a" || reg.Importances[0].Mean < 1 {
		t.Fatalf("%+v %v", reg, err)
	}
	if _, err := Permutation(context.Background(), clf, []string{"a", "b"}, x, labels, PermutationOptions{Metric: "f1"}); err == nil {
		t.Error("unknown metric accepted")
	}
}
