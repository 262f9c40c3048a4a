// Package extraction measures how easily a classifier can be copied
// through its prediction API (Tramèr et al., "Stealing Machine Learning
// Models via Prediction APIs", USENIX Security 2016): it queries the model
// on points drawn from the data distribution (the attacker's own sample)
// or synthesised uniformly within the feature bounds, trains surrogates —
// multinomial logistic regression and a small ReLU network, in Go — on
// the answers (class probabilities when the model returns them, labels
// otherwise), and reports, per query budget, fidelity (agreement with the
// model on held-out rows) and accuracy (against the true labels).
package extraction

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/mlsec/mlsec/internal/attack"
	"github.com/mlsec/mlsec/internal/attack/learn"
)

// Sources of query points.
const (
	SourceData      = "data"
	SourceSynthetic = "synthetic"
)

// Surrogate model families.
const (
	SurrogateLogReg = "logreg"
	SurrogateMLP    = "mlp"
)

// Config controls the attack.
type Config struct {
	// Budgets are the query counts evaluated (default 100, 250, 500, 1000, 2000).
	Budgets []int
	// Sources and Surrogates default to all.
	Sources    []string
	Surrogates []string
	// Hidden is the MLP surrogate's width (default 32).
	Hidden int
	Seed   uint64
}

// Input is the attacker's data and the held-out evaluation set.
type Input struct {
	Space *attack.Space
	// Pool is the attacker's sample of the data distribution.
	Pool [][]float64
	// Eval rows, their true labels (class indices, -1 unknown) and the
	// model's predictions on them.
	Eval       [][]float64
	EvalLabels []int
	EvalTarget []int
}

// Point is one surrogate trained from one budget of one source.
type Point struct {
	Surrogate string  `json:"surrogate"`
	Source    string  `json:"source"`
	Queries   int     `json:"queries"`
	Fidelity  float64 `json:"fidelity"`
	Accuracy  float64 `json:"accuracy"`
}

// Result is the extraction assessment.
type Result struct {
	Points []Point `json:"points"`
	// TargetAccuracy is the model's own accuracy on the evaluation rows.
	TargetAccuracy float64 `json:"target_accuracy"`
	EvalRows       int     `json:"eval_rows"`
	SoftLabels     bool    `json:"soft_labels"`
	Queries        int64   `json:"queries"`
	DurationMS     int64   `json:"duration_ms"`
}

// Best is the highest-fidelity point (ties: fewest queries).
func (r *Result) Best() Point {
	var b Point
	for i, p := range r.Points {
		if i == 0 || p.Fidelity > b.Fidelity || (p.Fidelity == b.Fidelity && p.Queries < b.Queries) {
			b = p
		}
	}
	return b
}

// QueriesFor is the fewest queries with which any surrogate reached
// fidelity f (0 if none did).
func (r *Result) QueriesFor(f float64) (Point, bool) {
	var b Point
	found := false
	for _, p := range r.Points {
		if p.Fidelity >= f && (!found || p.Queries < b.Queries) {
			b, found = p, true
		}
	}
	return b, found
}

// Run queries the model and trains the surrogates.
func Run(ctx context.Context, o *attack.Oracle, in Input, cfg Config) (*Result, error) {
	start := time.Now()
	budgets := slices.Clone(cfg.Budgets)
	if len(budgets) == 0 {
		budgets = []int{100, 250, 500, 1000, 2000}
	}
	slices.Sort(budgets)
	budgets = slices.Compact(budgets)
	if budgets[0] < 2 {
		return nil, fmt.Errorf("extraction: budgets must be at least 2")
	}
	sources := cfg.Sources
	if len(sources) == 0 {
		sources = []string{SourceData, SourceSynthetic}
	}
	surrogates := cfg.Surrogates
	if len(surrogates) == 0 {
		surrogates = []string{SurrogateLogReg, SurrogateMLP}
	}
	if len(in.Eval) == 0 || len(in.EvalTarget) != len(in.Eval) {
		return nil, fmt.Errorf("extraction: need evaluation rows with the model's predictions")
	}
	if cfg.Hidden <= 0 {
		cfg.Hidden = 32
	}
	k := len(o.Classes())
	res := &Result{EvalRows: len(in.Eval), SoftLabels: o.HasScores()}
	res.TargetAccuracy = agreement(in.EvalTarget, in.EvalLabels)
	maxB := budgets[len(budgets)-1]
	before := o.Rows()
	for _, src := range sources {
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(len(src))*0x65787472))
		var q [][]float64
		switch src {
		case SourceData:
			if len(in.Pool) == 0 {
				return nil, fmt.Errorf("extraction: no data to draw queries from")
			}
			q = drawData(in.Space, in.Pool, maxB, rng)
		case SourceSynthetic:
			q = drawUniform(in.Space, in.Pool, maxB, rng)
		default:
			return nil, fmt.Errorf("extraction: unknown query source %q", src)
		}
		ans, err := o.Query(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("extraction: %w", err)
		}
		k = max(k, len(o.Classes()))
		targets := learn.OneHot(ans.Labels, k)
		if ans.Scores != nil {
			targets = ans.Scores
		}
		for _, b := range budgets {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if distinct(ans.Labels[:b]) < 2 {
				// One class only: the surrogate predicts it everywhere.
				for _, sur := range surrogates {
					pred := make([]int, len(in.Eval))
					for i := range pred {
						pred[i] = ans.Labels[0]
					}
					res.Points = append(res.Points, Point{Surrogate: sur, Source: src, Queries: b,
						Fidelity: agreement(pred, in.EvalTarget), Accuracy: agreement(pred, in.EvalLabels)})
				}
				continue
			}
			for _, sur := range surrogates {
				opt := learn.Options{Seed: cfg.Seed, Epochs: 200}
				switch sur {
				case SurrogateLogReg:
				case SurrogateMLP:
					opt.Hidden = cfg.Hidden
				default:
					return nil, fmt.Errorf("extraction: unknown surrogate %q", sur)
				}
				m, err := learn.Train(q[:b], targets[:b], k, opt)
				if err != nil {
					return nil, fmt.Errorf("extraction: %w", err)
				}
				pred := m.Predict(in.Eval)
				res.Points = append(res.Points, Point{Surrogate: sur, Source: src, Queries: b,
					Fidelity: agreement(pred, in.EvalTarget), Accuracy: agreement(pred, in.EvalLabels)})
			}
		}
	}
	res.Queries = o.Rows() - before
	res.DurationMS = time.Since(start).Milliseconds()
	return res, nil
}

// drawData samples pool rows without replacement; beyond the pool's size
// it keeps drawing with a small Gaussian jitter (2% of each range) so
// queries are not plain repeats.
func drawData(sp *attack.Space, pool [][]float64, n int, rng *rand.Rand) [][]float64 {
	out := make([][]float64, 0, n)
	for len(out) < n {
		for _, i := range rng.Perm(len(pool)) {
			if len(out) == n {
				break
			}
			x := pool[i]
			if len(out) >= len(pool) {
				u0 := sp.ToUnit(x)
				u := slices.Clone(u0)
				for j := range u {
					u[j] += 0.02 * rng.NormFloat64()
				}
				x = sp.FromUnit(sp.Project(u, u0), x)
			}
			out = append(out, x)
		}
	}
	return out
}

// drawUniform samples every feature uniformly within its bounds (integer
// and categorical features snapped), knowing nothing of the distribution.
func drawUniform(sp *attack.Space, pool [][]float64, n int, rng *rand.Rand) [][]float64 {
	out := make([][]float64, n)
	ref := make([]float64, sp.Dim())
	if len(pool) > 0 {
		ref = pool[0]
	}
	for i := range out {
		u := make([]float64, sp.Dim())
		for j := range u {
			u[j] = rng.Float64()
		}
		out[i] = sp.FromUnit(sp.Project(u, u), ref)
	}
	return out
}

func agreement(a, b []int) float64 {
	n, ok := 0, 0
	for i := range a {
		if i >= len(b) || b[i] < 0 {
			continue
		}
		n++
		if a[i] == b[i] {
			ok++
		}
	}
	if n == 0 {
		return 0
	}
	return float64(ok) / float64(n)
}

func distinct(xs []int) int {
	seen := map[int]bool{}
	for _, x := range xs {
		seen[x] = true
	}
	return len(seen)
}
