// Package evasion runs query-only evasion attacks against a classifier:
// HopSkipJump and the Boundary attack (decision-based: labels only),
// Square and SimBA (score-based: class probabilities). Every query goes
// through an attack.Session with a per-sample budget; every queried point
// satisfies the feature constraints of an attack.Space; samples are
// attacked in parallel with their own random streams, so results depend
// only on the seed.
package evasion

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/mlsec/mlsec/internal/attack"
)

// Attack is one evasion algorithm.
type Attack interface {
	Name() string
	// Norm is the distance the attack minimises (or bounds).
	Norm() Norm
	// NeedsScores reports whether the attack needs class probabilities.
	NeedsScores() bool
	// FixedEps reports whether the attack searches within an ε-ball (run
	// once per ε) rather than minimising the perturbation.
	FixedEps() bool
	// Run attacks one sample and returns the best adversarial point found
	// (unit coordinates, within the constraints) or nil. Running out of
	// budget is not an error.
	Run(ctx context.Context, p *Problem, eps float64) ([]float64, error)
}

// ByName returns the attack called name in the given norm ("hopskipjump"
// or "hsj", "boundary", "square", "simba").
func ByName(name string, norm Norm) (Attack, error) {
	switch name {
	case "hopskipjump", "hsj":
		return HopSkipJump{Distance: norm}, nil
	case "boundary":
		return Boundary{}, nil
	case "square":
		return Square{Distance: norm}, nil
	case "simba":
		return SimBA{}, nil
	}
	return nil, fmt.Errorf("unknown evasion attack %q (want hopskipjump, boundary, square or simba)", name)
}

// Config controls a run.
type Config struct {
	// Norm measures perturbations against Eps (l2 or linf).
	Norm Norm
	// Eps are the perturbation sizes evaluated (unit-space distances),
	// ascending; fixed-ε attacks run once per value.
	Eps []float64
	// Budget is the most queries per sample and attack.
	Budget int
	// Workers attack samples in parallel (default 4).
	Workers int
	// Seed makes the run reproducible.
	Seed uint64
}

// Sample is the outcome for one attacked row.
type Sample struct {
	Row     int  `json:"row"`
	Success bool `json:"success"`
	// Queries is what the attack spent on this sample.
	Queries int `json:"queries"`
	// L2 and Linf are distances of the adversarial point found (unit
	// space; 0 when none was found).
	L2   float64 `json:"l2"`
	Linf float64 `json:"linf"`
	// Eps is, for fixed-ε attacks, the smallest ε at which it succeeded.
	Eps float64 `json:"eps,omitempty"`
	// QueriesToEps is, per configured ε, how many queries the attack had
	// spent when it first held an adversarial point within ε (-1: never).
	QueriesToEps []int `json:"queries_to_eps"`
	// Adversarial is the adversarial row found (feature values).
	Adversarial []float64 `json:"adversarial,omitempty"`
	// AdversarialClass is the class the model predicts for it.
	AdversarialClass string `json:"adversarial_class,omitempty"`
	// InBounds reports whether the adversarial row satisfies the
	// constraints (always true; recorded as evidence).
	InBounds bool   `json:"in_bounds"`
	Error    string `json:"error,omitempty"`
}

// EpsResult is the outcome at one ε.
type EpsResult struct {
	Eps            float64 `json:"eps"`
	SuccessRate    float64 `json:"success_rate"`
	RobustAccuracy float64 `json:"robust_accuracy"`
	// MedianQueries is the median, over samples broken at this ε, of the
	// queries spent until the first adversarial point within ε.
	MedianQueries float64 `json:"median_queries"`
}

// CurvePoint is robust accuracy at one ε.
type CurvePoint struct {
	Eps            float64 `json:"eps"`
	RobustAccuracy float64 `json:"robust_accuracy"`
}

// Result is one attack's outcome over the samples.
type Result struct {
	Attack      string  `json:"attack"`
	Norm        Norm    `json:"norm"`
	Access      string  `json:"access"` // "decision" or "score"
	FixedEps    bool    `json:"fixed_eps"`
	Attacked    int     `json:"attacked"`
	Successes   int     `json:"successes"`
	SuccessRate float64 `json:"success_rate"`
	// AtEps gives success rate and robust accuracy at each configured ε,
	// measured in Config.Norm.
	AtEps []EpsResult `json:"at_eps"`
	// Median perturbation of successful samples, in Config.Norm, L2 and L∞.
	MedianPerturbation float64      `json:"median_perturbation"`
	MedianL2           float64      `json:"median_l2"`
	MedianLinf         float64      `json:"median_linf"`
	MedianQueries      float64      `json:"median_queries"`
	MeanQueries        float64      `json:"mean_queries"`
	MaxQueries         int          `json:"max_queries"`
	TotalQueries       int64        `json:"total_queries"`
	OutOfBounds        int          `json:"out_of_bounds"`
	Errors             int          `json:"errors"`
	Curve              []CurvePoint `json:"curve"`
	DurationMS         int64        `json:"duration_ms"`
	Samples            []Sample     `json:"samples"`
}

// Target is the set of rows to attack.
type Target struct {
	// Rows are the original feature values; Labels their true classes
	// (indices into the oracle's classes); Index their row numbers in the
	// data (for reporting).
	Rows   [][]float64
	Labels []int
	Index  []int
	// Correct marks rows the model classifies correctly (only these are
	// attacked); N is the number of rows evaluated, for robust accuracy.
	Correct []bool
}

// Run attacks every correctly classified row of t with a.
func Run(ctx context.Context, o *attack.Oracle, sp *attack.Space, t Target, a Attack, cfg Config) (*Result, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Budget <= 0 {
		return nil, fmt.Errorf("evasion: budget must be positive")
	}
	eps := slices.Clone(cfg.Eps)
	slices.Sort(eps)
	start := time.Now()
	res := &Result{Attack: a.Name(), Norm: a.Norm(), Access: "decision", FixedEps: a.FixedEps()}
	if a.NeedsScores() {
		res.Access = "score"
	}
	var idx []int
	for i, c := range t.Correct {
		if c {
			idx = append(idx, i)
		}
	}
	samples := make([]Sample, len(idx))
	var mu sync.Mutex
	var firstErr error
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range jobs {
				i := idx[k]
				s, err := runSample(ctx, o, sp, t.Rows[i], t.Labels[i], a, eps, cfg, seedFor(cfg.Seed, a.Name(), string(a.Norm()), t.Index[i]))
				s.Row = t.Index[i]
				if err != nil {
					s.Error = err.Error()
					mu.Lock()
					if firstErr == nil && ctx.Err() != nil {
						firstErr = ctx.Err()
					}
					mu.Unlock()
				}
				if s.Success {
					s.InBounds = sp.InBounds(s.Adversarial, t.Rows[i], 1e-9)
				}
				samples[k] = s
			}
		}()
	}
	for k := range idx {
		select {
		case jobs <- k:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	res.Samples = samples
	summarise(res, cfg.Norm, eps, len(t.Rows), len(idx))
	res.DurationMS = time.Since(start).Milliseconds()
	return res, nil
}

func seedFor(seed uint64, parts ...any) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		fmt.Fprint(h, p, "\x00")
	}
	return seed ^ h.Sum64()
}

func runSample(ctx context.Context, o *attack.Oracle, sp *attack.Space, x0 []float64, label int, a Attack, eps []float64, cfg Config, seed uint64) (Sample, error) {
	rng := rand.New(rand.NewPCG(seed, 0x6576617369))
	var s Sample
	var adv []float64
	s.QueriesToEps = make([]int, len(eps))
	for i := range s.QueriesToEps {
		s.QueriesToEps[i] = -1
	}
	if a.FixedEps() {
		// Ascending ε; what a smaller ε left unused flows to the larger ones.
		used := 0
		for i, e := range eps {
			share := (cfg.Budget - used) / (len(eps) - i)
			sess := o.Session(share)
			p := NewProblem(sp, x0, label, sess, rng)
			p.offset = used
			u, err := a.Run(ctx, p, e)
			for k := i; k < len(eps); k++ {
				if q := p.queriesTo(cfg.Norm, eps[k]); q >= 0 && s.QueriesToEps[k] < 0 {
					s.QueriesToEps[k] = q
				}
			}
			used += sess.Used()
			s.Queries = used
			if err != nil {
				return s, err
			}
			if u != nil {
				adv, s.Eps = u, e
				break
			}
		}
	} else {
		sess := o.Session(cfg.Budget)
		p := NewProblem(sp, x0, label, sess, rng)
		u, err := a.Run(ctx, p, 0)
		s.Queries = sess.Used()
		for k, e := range eps {
			s.QueriesToEps[k] = p.queriesTo(cfg.Norm, e)
		}
		if err != nil {
			return s, err
		}
		adv = u
	}
	if adv == nil {
		return s, nil
	}
	// Confirm with one more (unbudgeted, uncounted-against-the-attack) query.
	row := sp.FromUnit(adv, x0)
	ans, err := o.Query(ctx, [][]float64{row})
	if err != nil {
		return s, err
	}
	if ans.Labels[0] == label {
		return s, nil
	}
	u0 := sp.ToUnit(x0)
	s.Success, s.Adversarial = true, row
	s.L2, s.Linf = attack.L2(adv, u0), attack.Linf(adv, u0)
	if cl := o.Classes(); ans.Labels[0] >= 0 && ans.Labels[0] < len(cl) {
		s.AdversarialClass = cl[ans.Labels[0]]
	}
	return s, nil
}

func summarise(r *Result, norm Norm, eps []float64, n, attacked int) {
	r.Attacked = attacked
	var l2s, lis, dists, qs []float64
	for _, s := range r.Samples {
		r.TotalQueries += int64(s.Queries)
		r.MaxQueries = max(r.MaxQueries, s.Queries)
		if s.Error != "" {
			r.Errors++
		}
		if !s.Success {
			continue
		}
		if !s.InBounds {
			r.OutOfBounds++
		}
		r.Successes++
		l2s, lis = append(l2s, s.L2), append(lis, s.Linf)
		dists = append(dists, dist(s, norm))
		qs = append(qs, float64(s.Queries))
	}
	if attacked > 0 {
		r.SuccessRate = float64(r.Successes) / float64(attacked)
		r.MeanQueries = float64(r.TotalQueries) / float64(attacked)
	}
	r.MedianL2, r.MedianLinf, r.MedianPerturbation = nan0(attack.Median(l2s)), nan0(attack.Median(lis)), nan0(attack.Median(dists))
	r.MedianQueries = nan0(attack.Median(qs))
	broken := func(e float64) int {
		k := 0
		for _, s := range r.Samples {
			if s.Success && dist(s, norm) <= e*(1+1e-9) {
				k++
			}
		}
		return k
	}
	ra := func(e float64) float64 {
		if n == 0 {
			return 0
		}
		return float64(attacked-broken(e)) / float64(n)
	}
	for k, e := range eps {
		er := EpsResult{Eps: e, RobustAccuracy: ra(e)}
		if attacked > 0 {
			er.SuccessRate = float64(broken(e)) / float64(attacked)
		}
		var q []float64
		for _, s := range r.Samples {
			if s.Success && dist(s, norm) <= e*(1+1e-9) && k < len(s.QueriesToEps) && s.QueriesToEps[k] >= 0 {
				q = append(q, float64(s.QueriesToEps[k]))
			}
		}
		er.MedianQueries = nan0(attack.Median(q))
		r.AtEps = append(r.AtEps, er)
	}
	// Curve: for minimal-perturbation attacks a fine grid up to 1.25×max ε
	// plus every observed distance; for fixed-ε attacks the tested ε only.
	grid := []float64{0}
	if r.FixedEps {
		grid = append(grid, eps...)
	} else if len(eps) > 0 {
		top := eps[len(eps)-1] * 1.25
		for k := 1; k <= 40; k++ {
			grid = append(grid, top*float64(k)/40)
		}
		grid = append(grid, eps...)
	}
	sort.Float64s(grid)
	grid = slices.Compact(grid)
	for _, e := range grid {
		r.Curve = append(r.Curve, CurvePoint{Eps: e, RobustAccuracy: ra(e)})
	}
}

func dist(s Sample, norm Norm) float64 {
	if norm == Linf {
		return s.Linf
	}
	return s.L2
}

func nan0(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}
