package evasion

import (
	"context"
	"math"
	"slices"
)

// HopSkipJump is the decision-based attack of Chen, Jordan and Wainwright,
// "HopSkipJumpAttack: A Query-Efficient Decision-Based Attack" (IEEE S&P
// 2020), untargeted, in its L2 and L∞ variants. Starting from a random
// adversarial point it alternates a binary search to the decision boundary,
// a Monte-Carlo estimate of the boundary's normal from label-only queries
// (batched), and a geometric step-size search. Defaults follow the paper
// and ART's HopSkipJump (max_iter 50, max_eval 10000, init_eval 100,
// init_size 100, θ = γ/d^{3/2} for L2 and γ/d² for L∞ with γ = 1).
type HopSkipJump struct {
	Distance Norm
	MaxIter  int // iterations (default 50)
	MaxEval  int // most queries per gradient estimate (default 10000)
	InitEval int // queries of the first gradient estimate (default 100)
	InitSize int // random tries for a starting point (default 100)
	Gamma    float64
}

func (h HopSkipJump) withDefaults() HopSkipJump {
	if h.MaxIter <= 0 {
		h.MaxIter = 50
	}
	if h.MaxEval <= 0 {
		h.MaxEval = 10000
	}
	if h.InitEval <= 0 {
		h.InitEval = 100
	}
	if h.InitSize <= 0 {
		h.InitSize = 100
	}
	if h.Gamma <= 0 {
		h.Gamma = 1
	}
	if h.Distance == "" {
		h.Distance = L2
	}
	return h
}

// Name implements Attack.
func (h HopSkipJump) Name() string { return "hopskipjump" }

// Norm implements Attack.
func (h HopSkipJump) Norm() Norm { return h.withDefaults().Distance }

// NeedsScores implements Attack: HopSkipJump uses labels only.
func (HopSkipJump) NeedsScores() bool { return false }

// FixedEps implements Attack: HopSkipJump minimises the perturbation.
func (HopSkipJump) FixedEps() bool { return false }

// Run implements Attack.
func (h HopSkipJump) Run(ctx context.Context, p *Problem, _ float64) ([]float64, error) {
	h = h.withDefaults()
	dims := p.mutableDims()
	d := float64(max(len(dims), 1))
	theta := h.Gamma / (d * math.Sqrt(d))
	if h.Distance == Linf {
		theta = h.Gamma / (d * d)
	}
	start, err := p.randomStart(ctx, h.InitSize)
	if err != nil || start == nil {
		return nil, ignoreBudget(err)
	}
	adv, err := p.boundarySearch(ctx, h.Distance, start, theta)
	if err != nil {
		return adv, err
	}
	dist := p.dist(h.Distance, adv)
	for t := 1; t <= h.MaxIter && dist > 0; t++ {
		delta := 0.1
		if t > 1 {
			if h.Distance == Linf {
				delta = d * theta * dist
			} else {
				delta = math.Sqrt(d) * theta * dist
			}
		}
		n := min(int(float64(h.InitEval)*math.Sqrt(float64(t))), h.MaxEval, p.Session.Remaining()-1)
		if n < 2 {
			break
		}
		grad, err := h.gradient(ctx, p, dims, adv, delta, n)
		if err != nil {
			return adv, ignoreBudget(err)
		}
		update := grad
		if h.Distance == Linf {
			update = make([]float64, len(grad))
			for j, g := range grad {
				update[j] = sign(g)
			}
		}
		// Geometric step-size search.
		eps := 2 * dist / math.Sqrt(float64(t))
		var cand []float64
		for eps > 1e-9 {
			u := slices.Clone(adv)
			for j := range u {
				u[j] += eps * update[j]
			}
			u = p.project(u)
			ok, err := p.isAdv(ctx, u)
			if err != nil {
				return adv, ignoreBudget(err)
			}
			if ok {
				cand = u
				break
			}
			eps /= 2
		}
		if cand == nil {
			break
		}
		next, err := p.boundarySearch(ctx, h.Distance, cand, theta)
		if nd := p.dist(h.Distance, next); nd < dist {
			adv, dist = next, nd
		}
		if err != nil {
			return adv, err
		}
	}
	return adv, nil
}

// gradient estimates the direction in which the adversarial criterion
// grows at boundary point x from n label queries (one batch).
func (h HopSkipJump) gradient(ctx context.Context, p *Problem, dims []int, x []float64, delta float64, n int) ([]float64, error) {
	rvs := make([][]float64, n)
	pts := make([][]float64, n)
	for i := range rvs {
		rv := make([]float64, len(x))
		for _, j := range dims {
			if h.Distance == Linf {
				rv[j] = 2*p.Rng.Float64() - 1
			} else {
				rv[j] = p.Rng.NormFloat64()
			}
		}
		nrm := norm2(rv)
		u := slices.Clone(x)
		for j := range rv {
			if nrm > 0 {
				rv[j] /= nrm
			}
			u[j] += delta * rv[j]
		}
		u = p.project(u)
		for j := range rv { // the direction actually taken after projection
			rv[j] = (u[j] - x[j]) / delta
		}
		rvs[i], pts[i] = rv, u
	}
	adv, err := p.adversarial(ctx, pts)
	if err != nil {
		return nil, err
	}
	f := make([]float64, n)
	var mean float64
	for i, a := range adv {
		f[i] = -1
		if a {
			f[i] = 1
		}
		mean += f[i]
	}
	mean /= float64(n)
	grad := make([]float64, len(x))
	for i, rv := range rvs {
		w := f[i] - mean
		if mean == 1 || mean == -1 {
			w = mean
		}
		for j := range rv {
			grad[j] += w * rv[j] / float64(n)
		}
	}
	if g := norm2(grad); g > 0 {
		for j := range grad {
			grad[j] /= g
		}
	}
	return grad, nil
}

func sign(v float64) float64 {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

func ignoreBudget(err error) error {
	if budgetDone(err) {
		return nil
	}
	return err
}
