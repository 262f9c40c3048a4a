package evasion

import (
	"context"
	"math"
	"slices"
)

// Square is the score-based Square attack of Andriushchenko, Croce,
// Flammarion and Hein, "Square Attack: a query-efficient black-box
// adversarial attack via random search" (ECCV 2020), untargeted, L∞ and
// L2, at a fixed ε. Each iteration changes a random window of features and
// keeps the change if the margin loss (true-class probability minus the
// best other class) decreases; the window covers a fraction p of the
// features that shrinks on the paper's schedule from PInit. Tabular rows
// have no spatial structure, so a "square" is a random subset of the
// mutable features: L∞ sets it to the ε-ball's vertices x0 ± ε, L2 moves
// the perturbation's mass from a second window into the first (keeping
// ‖δ‖₂ ≤ ε) as the paper's L2 update does. PInit defaults to ART's 0.8.
type Square struct {
	Distance Norm
	PInit    float64
}

// Name implements Attack.
func (Square) Name() string { return "square" }

// Norm implements Attack.
func (s Square) Norm() Norm {
	if s.Distance == "" {
		return Linf
	}
	return s.Distance
}

// NeedsScores implements Attack.
func (Square) NeedsScores() bool { return true }

// FixedEps implements Attack.
func (Square) FixedEps() bool { return true }

// pSelection is the paper's schedule for the window fraction, with the
// iteration rescaled to a 10,000-query run.
func pSelection(p0 float64, it, n int) float64 {
	it = int(float64(it) / float64(max(n, 1)) * 10000)
	switch {
	case it <= 10:
		return p0
	case it <= 50:
		return p0 / 2
	case it <= 200:
		return p0 / 4
	case it <= 500:
		return p0 / 8
	case it <= 1000:
		return p0 / 16
	case it <= 2000:
		return p0 / 32
	case it <= 4000:
		return p0 / 64
	case it <= 6000:
		return p0 / 128
	case it <= 8000:
		return p0 / 256
	}
	return p0 / 512
}

func margin(scores []float64, y int) float64 {
	other := math.Inf(-1)
	for k, v := range scores {
		if k != y {
			other = max(other, v)
		}
	}
	return scores[y] - other
}

// Run implements Attack.
func (s Square) Run(ctx context.Context, p *Problem, eps float64) ([]float64, error) {
	norm := s.Norm()
	p0 := s.PInit
	if p0 <= 0 || p0 > 1 {
		p0 = 0.8
	}
	dims := p.mutableDims()
	if len(dims) == 0 || eps <= 0 {
		return nil, nil
	}
	budget := p.Session.Remaining()
	// Initialisation: the ball's vertices (L∞) or a random point on the sphere (L2).
	u := slices.Clone(p.U0)
	if norm == Linf {
		for _, j := range dims {
			u[j] += eps * randSign(p)
		}
	} else {
		g := make([]float64, len(u))
		for _, j := range dims {
			g[j] = p.Rng.NormFloat64()
		}
		gn := norm2(g)
		for _, j := range dims {
			u[j] += eps * g[j] / gn
		}
	}
	u = s.fit(p, norm, u, eps)
	ans, err := p.query(ctx, [][]float64{u})
	if err != nil {
		return nil, ignoreBudget(err)
	}
	if ans.Labels[0] != p.Label {
		return u, nil
	}
	loss := margin(ans.Scores[0], p.Label)
	stale := 0
	for it := 0; p.Session.Remaining() > 0 && stale < 100; it++ {
		h := max(1, int(math.Round(pSelection(p0, it, budget)*float64(len(dims)))))
		perm := p.Rng.Perm(len(dims))
		cand := slices.Clone(u)
		if norm == Linf {
			for _, k := range perm[:h] {
				j := dims[k]
				cand[j] = p.U0[j] + eps*randSign(p)
			}
		} else {
			s.l2Step(p, cand, dims, perm, h, eps)
		}
		cand = s.fit(p, norm, cand, eps)
		if slices.Equal(cand, u) {
			stale++
			continue
		}
		stale = 0
		ans, err := p.query(ctx, [][]float64{cand})
		if err != nil {
			return nil, ignoreBudget(err)
		}
		if ans.Labels[0] != p.Label {
			return cand, nil
		}
		if l := margin(ans.Scores[0], p.Label); l < loss {
			u, loss = cand, l
		}
	}
	return nil, nil
}

// l2Step moves the perturbation's mass in windows W1 = perm[:h] and
// W2 = perm[h:2h] into W1 along a random direction, zeroing W2, so that
// ‖δ‖₂ stays at most ε.
func (s Square) l2Step(p *Problem, u []float64, dims, perm []int, h int, eps float64) {
	h = min(h, max(len(dims)/2, 1))
	w1 := perm[:h]
	var w2 []int
	if len(perm) >= 2*h {
		w2 = perm[h : 2*h]
	}
	var total, in1, in2 float64
	for j := range u {
		d := u[j] - p.U0[j]
		total += d * d
	}
	for _, k := range w1 {
		d := u[dims[k]] - p.U0[dims[k]]
		in1 += d * d
	}
	for _, k := range w2 {
		d := u[dims[k]] - p.U0[dims[k]]
		in2 += d * d
	}
	unused := max(eps*eps-total, 0)
	m2 := in1 + in2 + unused
	eta := make([]float64, len(w1))
	for i := range eta {
		eta[i] = randSign(p) / math.Sqrt(float64(len(w1)))
	}
	var b float64
	for i, k := range w1 {
		b += (u[dims[k]] - p.U0[dims[k]]) * eta[i]
	}
	r := -b + math.Sqrt(max(b*b-(in1-m2), 0))
	for i, k := range w1 {
		u[dims[k]] += r * eta[i]
	}
	for _, k := range w2 {
		u[dims[k]] = p.U0[dims[k]]
	}
}

// fit projects u onto the constraints and keeps it inside the ε-ball
// (integer rounding could push a feature outside).
func (s Square) fit(p *Problem, norm Norm, u []float64, eps float64) []float64 {
	if norm == Linf {
		return p.clipBall(u, eps)
	}
	u = p.project(u)
	if d := attack2(p, u); d > eps {
		for j := range u {
			u[j] = p.U0[j] + (u[j]-p.U0[j])*eps/d
		}
		u = p.project(u)
		if attack2(p, u) > eps*(1+1e-9) {
			return slices.Clone(p.U0) // cannot fit: leave unperturbed
		}
	}
	return u
}

func randSign(p *Problem) float64 {
	if p.Rng.IntN(2) == 0 {
		return -1
	}
	return 1
}
