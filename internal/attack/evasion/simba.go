package evasion

import (
	"context"
	"slices"
)

// SimBA is the Simple Black-box Attack of Guo, Gardner, You, Wilson and
// Weinberger, "Simple Black-box Adversarial Attacks" (ICML 2019), in its
// Cartesian-basis form (SimBA-pixel): in random order, step one feature by
// ±Step and keep the step when the true class's probability drops. Rows
// have few features, so after every feature was tried the attack starts a
// new pass in a new order. A pass without progress means the model is flat
// around the point at this step size (tree ensembles are piecewise
// constant), so the step doubles, at most three times. Step is in units of
// the feature's range; ART's default is 0.1 on [0, 1] images, the default
// here 0.05.
type SimBA struct {
	Step float64
}

// Name implements Attack.
func (SimBA) Name() string { return "simba" }

// Norm implements Attack: SimBA's perturbations are measured in L2.
func (SimBA) Norm() Norm { return L2 }

// NeedsScores implements Attack.
func (SimBA) NeedsScores() bool { return true }

// FixedEps implements Attack.
func (SimBA) FixedEps() bool { return false }

// Run implements Attack.
func (s SimBA) Run(ctx context.Context, p *Problem, _ float64) ([]float64, error) {
	step := s.Step
	if step <= 0 {
		step = 0.05
	}
	dims := p.mutableDims()
	if len(dims) == 0 {
		return nil, nil
	}
	u := slices.Clone(p.U0)
	ans, err := p.query(ctx, [][]float64{u})
	if err != nil {
		return nil, ignoreBudget(err)
	}
	if ans.Labels[0] != p.Label {
		return u, nil
	}
	prob := ans.Scores[0][p.Label]
	for doublings := 0; doublings <= 3; {
		progress := false
		for _, k := range p.Rng.Perm(len(dims)) {
			j := dims[k]
			for _, sg := range [2]float64{-1, 1} {
				cand := slices.Clone(u)
				cand[j] += sg * step
				cand = p.project(cand)
				if cand[j] == u[j] {
					continue
				}
				a, err := p.query(ctx, [][]float64{cand})
				if err != nil {
					return nil, ignoreBudget(err)
				}
				if a.Labels[0] != p.Label {
					return cand, nil
				}
				if q := a.Scores[0][p.Label]; q < prob {
					u, prob, progress = cand, q, true
					break
				}
			}
		}
		if !progress {
			doublings++
			step *= 2
		}
	}
	return nil, nil
}
