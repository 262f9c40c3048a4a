package learn

import (
	"math/rand/v2"
	"testing"
)

func blobs(n int, seed uint64) ([][]float64, []int) {
	rng := rand.New(rand.NewPCG(seed, 1))
	var x [][]float64
	var y []int
	for i := range n {
		c := i % 3
		x = append(x, []float64{float64(c)*3 + rng.NormFloat64(), float64(c%2)*2 + rng.NormFloat64(), rng.NormFloat64()})
		y = append(y, c)
	}
	return x, y
}

func TestTrainSeparatesBlobs(t *testing.T) {
	x, y := blobs(300, 1)
	tx, ty := blobs(300, 2)
	for _, tc := range []struct {
		name string
		opt  Options
	}{
		{"logreg", Options{Seed: 1}},
		{"mlp", Options{Hidden: 16, Seed: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Train(x, OneHot(y, 3), 3, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			pred := m.Predict(tx)
			ok := 0
			for i := range pred {
				if pred[i] == ty[i] {
					ok++
				}
			}
			if acc := float64(ok) / float64(len(ty)); acc < 0.85 {
				t.Errorf("held-out accuracy %.3f", acc)
			}
			m2, _ := Train(x, OneHot(y, 3), 3, tc.opt)
			if a, b := m.Proba(tx[:1])[0][0], m2.Proba(tx[:1])[0][0]; a != b {
				t.Errorf("not deterministic: %v vs %v", a, b)
			}
		})
	}
}

func TestTrainRejectsBadInput(t *testing.T) {
	if _, err := Train(nil, nil, 2, Options{}); err == nil {
		t.Error("empty data accepted")
	}
	if _, err := Train([][]float64{{1}}, [][]float64{{1}}, 1, Options{}); err == nil {
		t.Error("one class accepted")
	}
	if _, err := Train([][]float64{{1}, {1, 2}}, [][]float64{{1, 0}, {0, 1}}, 2, Options{}); err == nil {
		t.Error("ragged rows accepted")
	}
}
