package evasion

import (
	"context"
	"math"
	"slices"
)

// Boundary is the decision-based Boundary attack of Brendel, Rauber and
// Bethge, "Decision-Based Adversarial Attacks: Reliable Attacks Against
// Black-Box Machine Learning Models" (ICLR 2018), untargeted, L2. From an
// adversarial starting point it random-walks along the decision boundary:
// an orthogonal step of relative size δ on the sphere around the original,
// then a step of relative size ε towards it, adapting both to keep the
// acceptance rates near the paper's targets. Candidates of one trial are
// queried as one batch. Defaults are ART's (delta 0.01, epsilon 0.01,
// step_adapt 0.667, num_trial 25, sample_size 20, init_size 100); the
// iteration count is bounded by the query budget.
type Boundary struct {
	Delta, Epsilon, StepAdapt float64
	NumTrial, SampleSize      int
	InitSize                  int
	MaxIter                   int // default 5000
}

func (b Boundary) withDefaults() Boundary {
	if b.Delta <= 0 {
		b.Delta = 0.01
	}
	if b.Epsilon <= 0 {
		b.Epsilon = 0.01
	}
	if b.StepAdapt <= 0 || b.StepAdapt >= 1 {
		b.StepAdapt = 0.667
	}
	if b.NumTrial <= 0 {
		b.NumTrial = 25
	}
	if b.SampleSize <= 0 {
		b.SampleSize = 20
	}
	if b.InitSize <= 0 {
		b.InitSize = 100
	}
	if b.MaxIter <= 0 {
		b.MaxIter = 5000
	}
	return b
}

// Name implements Attack.
func (Boundary) Name() string { return "boundary" }

// Norm implements Attack.
func (Boundary) Norm() Norm { return L2 }

// NeedsScores implements Attack.
func (Boundary) NeedsScores() bool { return false }

// FixedEps implements Attack.
func (Boundary) FixedEps() bool { return false }

// Run implements Attack.
func (b Boundary) Run(ctx context.Context, p *Problem, _ float64) ([]float64, error) {
	b = b.withDefaults()
	dims := p.mutableDims()
	start, err := p.randomStart(ctx, b.InitSize)
	if err != nil || start == nil {
		return nil, ignoreBudget(err)
	}
	// Start near the boundary, as Foolbox's blended-noise initialisation does.
	adv, err := p.boundarySearch(ctx, L2, start, 1e-3)
	if err != nil {
		return adv, err
	}
	dist := attack2(p, adv)
	delta, eps := b.Delta, b.Epsilon
	for it := 0; it < b.MaxIter && dist > 0; it++ {
		// Orthogonal step: try up to NumTrial batches until one candidate stays adversarial.
		var ok [][]float64
		for trial := 0; trial < b.NumTrial && ok == nil; trial++ {
			cands := make([][]float64, b.SampleSize)
			for i := range cands {
				cands[i] = p.project(b.orthogonal(p, dims, adv, delta, dist))
			}
			adv1, err := p.adversarial(ctx, cands)
			if err != nil {
				return adv, ignoreBudget(err)
			}
			rate := frac(adv1)
			if rate < 0.2 {
				delta *= b.StepAdapt
			} else if rate > 0.5 {
				delta /= b.StepAdapt
			}
			for i, a := range adv1 {
				if a {
					ok = append(ok, cands[i])
				}
			}
		}
		if ok == nil {
			return adv, nil
		}
		// Step towards the original.
		var best []float64
		for trial := 0; trial < b.NumTrial && best == nil; trial++ {
			steps := make([][]float64, len(ok))
			for i, u := range ok {
				v := slices.Clone(u)
				for j := range v {
					v[j] += eps * (p.U0[j] - v[j])
				}
				steps[i] = p.project(v)
			}
			adv2, err := p.adversarial(ctx, steps)
			if err != nil {
				return adv, ignoreBudget(err)
			}
			rate := frac(adv2)
			if rate < 0.2 {
				eps *= b.StepAdapt
			} else if rate > 0.5 {
				eps /= b.StepAdapt
			}
			bd := math.Inf(1)
			for i, a := range adv2 {
				if d := attack2(p, steps[i]); a && d < bd {
					best, bd = steps[i], d
				}
			}
		}
		if best == nil {
			return adv, nil
		}
		if d := attack2(p, best); d < dist {
			adv, dist = best, d
		}
		if eps < 1e-10 {
			break
		}
	}
	return adv, nil
}

// orthogonal proposes current + a random step of L2 size delta·dist,
// orthogonal to the direction of the original, rescaled back onto the
// sphere of radius dist around it.
func (b Boundary) orthogonal(p *Problem, dims []int, cur []float64, delta, dist float64) []float64 {
	pert := make([]float64, len(cur))
	for _, j := range dims {
		pert[j] = p.Rng.NormFloat64()
	}
	dir := make([]float64, len(cur))
	for j := range dir {
		dir[j] = p.U0[j] - cur[j]
	}
	dn := norm2(dir)
	if dn == 0 {
		return slices.Clone(cur)
	}
	var dot float64
	for j := range dir {
		dir[j] /= dn
		dot += pert[j] * dir[j]
	}
	for j := range pert {
		pert[j] -= dot * dir[j]
	}
	if pn := norm2(pert); pn > 0 {
		for j := range pert {
			pert[j] *= delta * dist / pn
		}
	}
	v := make([]float64, len(cur))
	for j := range v {
		v[j] = cur[j] + pert[j]
	}
	// Back onto the sphere: same distance to the original as before.
	var vn float64
	for j := range v {
		vn += (v[j] - p.U0[j]) * (v[j] - p.U0[j])
	}
	if vn = math.Sqrt(vn); vn > 0 {
		for j := range v {
			v[j] = p.U0[j] + (v[j]-p.U0[j])*dist/vn
		}
	}
	return v
}

func attack2(p *Problem, u []float64) float64 { return p.dist(L2, u) }

func frac(b []bool) float64 {
	n := 0
	for _, v := range b {
		if v {
			n++
		}
	}
	return float64(n) / float64(max(len(b), 1))
}
