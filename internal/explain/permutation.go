package explain

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"
)

// Metrics for permutation importance.
const (
	MetricAccuracy = "accuracy" // share of rows whose arg-max class equals the label
	MetricMSE      = "mse"      // mean squared error of the explained output
	MetricR2       = "r2"       // coefficient of determination of the explained output
)

// PermutationOptions tune permutation importance.
type PermutationOptions struct {
	Metric  string
	Repeats int // shuffles per feature (default 5)
	Seed    uint64
	CILevel float64 // default 0.95
	Output  int     // output compared for mse/r2 (-1: last)
	// Classes names the model's outputs for accuracy (label = class name);
	// nil: labels are output indexes.
	Classes []string
	Batch   int
}

// Importance is one feature's permutation importance.
type Importance struct {
	Feature string     `json:"feature"`
	Mean    float64    `json:"mean"`
	Std     float64    `json:"std"`
	CI      [2]float64 `json:"ci"`
	Repeats []float64  `json:"repeats"`
}

// PermutationResult is the importance of every feature, most important first.
type PermutationResult struct {
	Metric      string       `json:"metric"`
	Baseline    float64      `json:"baseline"`
	Importances []Importance `json:"importances"`
	Queries     Queries      `json:"queries"`
}

// higherIsBetter says whether a larger metric value is better.
func higherIsBetter(metric string) bool { return metric != MetricMSE }

// Permutation computes how much the metric worsens when one feature's
// column is shuffled (the decrease for accuracy and r2, the increase for
// mse), Repeats times per feature, like scikit-learn's
// permutation_importance. Intervals are mean ± t·sd/√repeats.
func Permutation(ctx context.Context, p Predictor, features []string, x [][]float64, labels []string, o PermutationOptions) (*PermutationResult, error) {
	m := len(features)
	if err := checkMatrix("data", x, m); err != nil {
		return nil, err
	}
	if len(labels) != len(x) {
		return nil, fmt.Errorf("%w: %d labels for %d rows", ErrInput, len(labels), len(x))
	}
	if o.Metric == "" {
		o.Metric = MetricAccuracy
	}
	if o.Repeats <= 0 {
		o.Repeats = 5
	}
	if o.CILevel == 0 {
		o.CILevel = 0.95
	}
	c := newCounter(p, o.Batch)
	score, err := scorer(o, labels)
	if err != nil {
		return nil, err
	}
	base, err := c.predictAll(ctx, x)
	if err != nil {
		return nil, err
	}
	baseline, err := score(base)
	if err != nil {
		return nil, err
	}
	res := &PermutationResult{Metric: o.Metric, Baseline: baseline}
	rng := rand.New(rand.NewPCG(o.Seed, 0x5045524d)) // "PERM"
	work := make([][]float64, len(x))
	for i := range x {
		work[i] = slices.Clone(x[i])
	}
	perm := make([]int, len(x))
	for f := 0; f < m; f++ {
		imp := Importance{Feature: features[f]}
		for r := 0; r < o.Repeats; r++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			for i := range perm {
				perm[i] = i
			}
			rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
			for i := range work {
				work[i][f] = x[perm[i]][f]
			}
			out, err := c.predictAll(ctx, work)
			if err != nil {
				return nil, err
			}
			s, err := score(out)
			if err != nil {
				return nil, err
			}
			d := baseline - s
			if !higherIsBetter(o.Metric) {
				d = s - baseline
			}
			imp.Repeats = append(imp.Repeats, d)
		}
		for i := range work {
			work[i][f] = x[i][f]
		}
		imp.Mean = mean(imp.Repeats)
		if o.Repeats > 1 {
			ss := 0.0
			for _, d := range imp.Repeats {
				ss += (d - imp.Mean) * (d - imp.Mean)
			}
			imp.Std = math.Sqrt(ss / float64(o.Repeats-1))
			t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(o.Repeats - 1)}.Quantile(1 - (1-o.CILevel)/2)
			half := t * imp.Std / math.Sqrt(float64(o.Repeats))
			imp.CI = [2]float64{imp.Mean - half, imp.Mean + half}
		} else {
			imp.CI = [2]float64{imp.Mean, imp.Mean}
		}
		res.Importances = append(res.Importances, imp)
	}
	sort.SliceStable(res.Importances, func(i, j int) bool { return res.Importances[i].Mean > res.Importances[j].Mean })
	res.Queries = Queries{Calls: c.calls, Rows: c.rows}
	return res, nil
}

func scorer(o PermutationOptions, labels []string) (func([][]float64) (float64, error), error) {
	switch o.Metric {
	case MetricAccuracy:
		return func(out [][]float64) (float64, error) {
			correct := 0
			for i, r := range out {
				best := 0
				for j := range r {
					if r[j] > r[best] {
						best = j
					}
				}
				name := fmt.Sprint(best)
				if o.Classes != nil && best < len(o.Classes) {
					name = o.Classes[best]
				}
				if sameLabel(name, labels[i]) {
					correct++
				}
			}
			return float64(correct) / float64(len(out)), nil
		}, nil
	case MetricMSE, MetricR2:
		ys := make([]float64, len(labels))
		for i, l := range labels {
			var err error
			if ys[i], err = parseFloat(l); err != nil {
				return nil, fmt.Errorf("%w: label %q of row %d is not a number (metric %s)", ErrInput, l, i, o.Metric)
			}
		}
		return func(out [][]float64) (float64, error) {
			var sse, sst float64
			my := mean(ys)
			for i, r := range out {
				k := o.Output
				if k < 0 || k >= len(r) {
					k = len(r) - 1
				}
				e := r[k] - ys[i]
				sse += e * e
				sst += (ys[i] - my) * (ys[i] - my)
			}
			if o.Metric == MetricMSE {
				return sse / float64(len(out)), nil
			}
			if sst == 0 {
				return math.NaN(), nil
			}
			return 1 - sse/sst, nil
		}, nil
	}
	return nil, fmt.Errorf("%w: unknown metric %q (accuracy, mse or r2)", ErrInput, o.Metric)
}
