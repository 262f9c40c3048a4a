package evasion

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/mlsec/mlsec/internal/attack"
)

// Norm is the distance an attack minimises or bounds, measured in the unit
// space (units of each feature's range).
type Norm string

// Norms.
const (
	L2   Norm = "l2"
	Linf Norm = "linf"
)

// Problem is one sample under attack: the original point, its true class,
// the constraints, the budgeted session and the sample's own random
// stream. Attacks work in unit coordinates.
type Problem struct {
	Space   *attack.Space
	X0      []float64 // original row (feature values)
	U0      []float64 // original row in unit coordinates
	Label   int       // true (and, for attacked samples, predicted) class
	Session *attack.Session
	Rng     *rand.Rand

	// offset is added to the session's query count in the trace (fixed-ε
	// attacks run one session per ε).
	offset int
	trace  []tracePoint
	minL2  float64
	minInf float64
}

// tracePoint records that after q queries the closest adversarial point
// seen so far was at these distances.
type tracePoint struct {
	q        int
	l2, linf float64
}

// NewProblem prepares a sample for attack.
func NewProblem(sp *attack.Space, x0 []float64, label int, s *attack.Session, rng *rand.Rand) *Problem {
	return &Problem{Space: sp, X0: x0, U0: sp.ToUnit(x0), Label: label, Session: s, Rng: rng, minL2: math.Inf(1), minInf: math.Inf(1)}
}

// project applies the constraints to u in place and returns it.
func (p *Problem) project(u []float64) []float64 { return p.Space.Project(u, p.U0) }

// query sends unit-space points (already projected) to the model.
func (p *Problem) query(ctx context.Context, us [][]float64) (attack.Answer, error) {
	rows := make([][]float64, len(us))
	for i, u := range us {
		rows[i] = p.Space.FromUnit(u, p.X0)
	}
	ans, err := p.Session.Query(ctx, rows)
	if err != nil {
		return ans, err
	}
	base := p.offset + p.Session.Used() - len(us)
	for i, l := range ans.Labels {
		if l == p.Label {
			continue
		}
		l2, li := attack.L2(us[i], p.U0), attack.Linf(us[i], p.U0)
		if l2 < p.minL2 || li < p.minInf {
			p.minL2, p.minInf = min(p.minL2, l2), min(p.minInf, li)
			p.trace = append(p.trace, tracePoint{q: base + i + 1, l2: p.minL2, linf: p.minInf})
		}
	}
	return ans, nil
}

// queriesTo is the number of queries after which an adversarial point
// within eps (in norm) had been seen; -1 if never.
func (p *Problem) queriesTo(norm Norm, eps float64) int {
	for _, t := range p.trace {
		d := t.l2
		if norm == Linf {
			d = t.linf
		}
		if d <= eps*(1+1e-9) {
			return t.q
		}
	}
	return -1
}

// adversarial reports, per point, whether the model no longer predicts
// the true class.
func (p *Problem) adversarial(ctx context.Context, us [][]float64) ([]bool, error) {
	ans, err := p.query(ctx, us)
	if err != nil {
		return nil, err
	}
	out := make([]bool, len(us))
	for i, l := range ans.Labels {
		out[i] = l != p.Label
	}
	return out, nil
}

// isAdv is adversarial for one point.
func (p *Problem) isAdv(ctx context.Context, u []float64) (bool, error) {
	a, err := p.adversarial(ctx, [][]float64{u})
	if err != nil {
		return false, err
	}
	return a[0], nil
}

func (p *Problem) dist(norm Norm, u []float64) float64 {
	if norm == Linf {
		return attack.Linf(u, p.U0)
	}
	return attack.L2(u, p.U0)
}

// mutableDims lists the features the attack may change.
func (p *Problem) mutableDims() []int {
	var d []int
	for j := range p.U0 {
		if p.Space.Mutable(j) {
			d = append(d, j)
		}
	}
	return d
}

// budgetDone reports whether err only says the budget ran out.
func budgetDone(err error) bool { return errors.Is(err, attack.ErrBudget) }

// randomStart looks for an adversarial starting point among up to tries
// uniform random points of the constrained space, queried 10 at a time.
func (p *Problem) randomStart(ctx context.Context, tries int) ([]float64, error) {
	for done := 0; done < tries; {
		k := min(10, tries-done, p.Session.Remaining())
		if k <= 0 {
			return nil, nil
		}
		batch := make([][]float64, k)
		for i := range batch {
			u := slices.Clone(p.U0)
			for j := range u {
				if p.Space.Mutable(j) {
					u[j] = p.Rng.Float64()
				}
			}
			batch[i] = p.project(u)
		}
		adv, err := p.adversarial(ctx, batch)
		if err != nil {
			return nil, err
		}
		for i, a := range adv {
			if a {
				return batch[i], nil
			}
		}
		done += k
	}
	return nil, nil
}

// blend is u0 + a(u - u0), projected.
func (p *Problem) blend(u []float64, a float64) []float64 {
	v := make([]float64, len(u))
	for j := range u {
		v[j] = p.U0[j] + a*(u[j]-p.U0[j])
	}
	return p.project(v)
}

// clipBall is u clipped to the L∞ ball of radius r around u0, projected.
func (p *Problem) clipBall(u []float64, r float64) []float64 {
	v := make([]float64, len(u))
	for j := range u {
		v[j] = min(max(u[j], p.U0[j]-r), p.U0[j]+r)
	}
	return p.project(v)
}

// boundarySearch moves adversarial point adv towards the original by
// binary search until the bracket is narrower than theta (L2: along the
// line; L∞: shrinking the L∞ ball, as in HopSkipJump). It returns the
// closest adversarial point found; on budget exhaustion, the best so far.
func (p *Problem) boundarySearch(ctx context.Context, norm Norm, adv []float64, theta float64) ([]float64, error) {
	lo, hi := 0.0, 1.0
	at := func(a float64) []float64 { return p.blend(adv, a) }
	if norm == Linf {
		hi = attack.Linf(adv, p.U0)
		theta = min(hi*theta, theta)
		at = func(a float64) []float64 { return p.clipBall(adv, a) }
	}
	best := adv
	for hi-lo > theta && hi > 0 {
		mid := (lo + hi) / 2
		u := at(mid)
		ok, err := p.isAdv(ctx, u)
		if err != nil {
			if budgetDone(err) {
				return best, nil
			}
			return best, err
		}
		if ok {
			hi, best = mid, u
		} else {
			lo = mid
		}
	}
	return best, nil
}

func norm2(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}
