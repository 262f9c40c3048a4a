package explain

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// SHAPOptions tune KernelSHAP.
type SHAPOptions struct {
	// Samples is the budget of coalitions per row. When it is at least
	// 2^M - 2 (M features) every coalition is evaluated and the values are
	// the exact Shapley values of the background value function.
	Samples int
	// Output is the model output explained (-1: the last one, the positive
	// class of a binary classifier).
	Output int
	// Seed makes coalition sampling reproducible.
	Seed uint64
	// Batch is the rows per model call (default 1024).
	Batch int
}

// SHAPResult holds the explanation of several rows.
type SHAPResult struct {
	Features []string `json:"features"`
	// Base is E[f(background)], the value every row's SHAP values start from.
	Base float64   `json:"base_value"`
	Rows []SHAPRow `json:"rows"`
	// MeanAbs is the global importance: mean |SHAP| per feature over rows.
	MeanAbs []float64 `json:"mean_abs_shap"`
	Exact   bool      `json:"exact"`
	Samples int       `json:"samples_per_row"`
	Queries Queries   `json:"queries"`
}

// SHAPRow is one row's explanation: Base + sum(Values) == Prediction.
type SHAPRow struct {
	Index      int       `json:"index"`
	Features   []float64 `json:"features"`
	Prediction float64   `json:"prediction"`
	Values     []float64 `json:"shap_values"`
}

// KernelSHAP explains rows of x against a background set. The value of a
// coalition S is the mean model output over the background rows with the
// features in S replaced by the row's (interventional SHAP); the SHAP
// values are the solution of the Shapley-kernel weighted least squares
// problem under the efficiency constraint, which makes additivity exact.
func KernelSHAP(ctx context.Context, p Predictor, features []string, x [][]float64, rowIndex []int, background [][]float64, o SHAPOptions) (*SHAPResult, error) {
	m := len(features)
	if m == 0 {
		return nil, fmt.Errorf("%w: no features", ErrInput)
	}
	if m > 64 {
		return nil, fmt.Errorf("%w: KernelSHAP supports up to 64 features, got %d", ErrInput, m)
	}
	if err := checkMatrix("data", x, m); err != nil {
		return nil, err
	}
	if err := checkMatrix("background", background, m); err != nil {
		return nil, err
	}
	if o.Samples <= 0 {
		o.Samples = 2*m + 2048
	}
	c := newCounter(p, o.Batch)
	bg, err := c.predict(ctx, background, o.Output)
	if err != nil {
		return nil, err
	}
	res := &SHAPResult{Features: features, Base: mean(bg), MeanAbs: make([]float64, m)}
	coalitions, weights, exact := coalitionsFor(m, o.Samples, o.Seed)
	res.Exact, res.Samples = exact, len(coalitions)
	fx, err := c.predict(ctx, x, o.Output)
	if err != nil {
		return nil, err
	}
	for r, row := range x {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		v, err := coalitionValues(ctx, c, row, background, coalitions, o.Output)
		if err != nil {
			return nil, err
		}
		phi, err := solveShapley(m, coalitions, weights, v, res.Base, fx[r])
		if err != nil {
			return nil, err
		}
		idx := r
		if rowIndex != nil {
			idx = rowIndex[r]
		}
		res.Rows = append(res.Rows, SHAPRow{Index: idx, Features: slices.Clone(row), Prediction: fx[r], Values: phi})
		for i, p := range phi {
			res.MeanAbs[i] += math.Abs(p) / float64(len(x))
		}
	}
	res.Queries = Queries{Calls: c.calls, Rows: c.rows}
	return res, nil
}

// coalition is a feature subset as a bit mask.
type coalition uint64

func (z coalition) has(i int) bool { return z&(1<<uint(i)) != 0 }

// kernelWeight is the Shapley kernel (M-1) / (C(M,s) s (M-s)).
func kernelWeight(m, s int) float64 {
	return float64(m-1) / (binom(m, s) * float64(s) * float64(m-s))
}

func binom(n, k int) float64 {
	r := 1.0
	for i := 1; i <= k; i++ {
		r = r * float64(n-k+i) / float64(i)
	}
	return r
}

// coalitionsFor returns the coalitions to evaluate with their regression
// weights: all 2^M - 2 proper non-empty subsets with kernel weights when
// the budget allows, else a seeded sample drawn with sizes proportional to
// the kernel's total weight per size, uniform within a size, in
// complementary pairs (each then weighs the same).
func coalitionsFor(m, budget int, seed uint64) ([]coalition, []float64, bool) {
	if m <= 20 && budget >= (1<<m)-2 {
		var zs []coalition
		var ws []float64
		for z := coalition(1); z < (1<<m)-1; z++ {
			zs = append(zs, z)
			ws = append(ws, kernelWeight(m, popcount(z)))
		}
		return zs, ws, true
	}
	rng := rand.New(rand.NewPCG(seed, 0x5348415021))
	// Size distribution over 1..M-1, proportional to (M-1)/(s(M-s)).
	cum := make([]float64, m)
	total := 0.0
	for s := 1; s < m; s++ {
		total += float64(m-1) / (float64(s) * float64(m-s))
		cum[s] = total
	}
	var zs []coalition
	perm := make([]int, m)
	for len(zs)+1 < budget {
		u := rng.Float64() * total
		s := 1
		for s < m-1 && cum[s] < u {
			s++
		}
		for i := range perm {
			perm[i] = i
		}
		var z coalition
		for i := 0; i < s; i++ { // partial Fisher–Yates
			j := i + rng.IntN(m-i)
			perm[i], perm[j] = perm[j], perm[i]
			z |= 1 << uint(perm[i])
		}
		full := coalition(1)<<uint(m) - 1
		if m == 64 {
			full = ^coalition(0)
		}
		zs = append(zs, z, full&^z)
	}
	ws := make([]float64, len(zs))
	for i := range ws {
		ws[i] = 1
	}
	return zs, ws, false
}

func popcount(z coalition) int {
	n := 0
	for ; z != 0; z &= z - 1 {
		n++
	}
	return n
}

// coalitionValues evaluates v(S) = mean over background b of f(x_S, b_rest)
// for every coalition, in batched queries.
func coalitionValues(ctx context.Context, c *counter, x []float64, bg [][]float64, zs []coalition, out int) ([]float64, error) {
	m := len(x)
	v := make([]float64, len(zs))
	// Chunk coalitions so that one chunk's rows fit a few batches.
	per := max(1, (4*c.batch)/len(bg))
	for start := 0; start < len(zs); start += per {
		end := min(start+per, len(zs))
		rows := make([][]float64, 0, (end-start)*len(bg))
		flat := make([]float64, (end-start)*len(bg)*m)
		for zi := start; zi < end; zi++ {
			for _, b := range bg {
				r := flat[:m:m]
				flat = flat[m:]
				for i := range r {
					if zs[zi].has(i) {
						r[i] = x[i]
					} else {
						r[i] = b[i]
					}
				}
				rows = append(rows, r)
			}
		}
		y, err := c.predict(ctx, rows, out)
		if err != nil {
			return nil, err
		}
		for zi := start; zi < end; zi++ {
			v[zi] = mean(y[(zi-start)*len(bg) : (zi-start+1)*len(bg)])
		}
	}
	return v, nil
}

// solveShapley solves min sum_z w_z (v_z - base - sum_{i in z} phi_i)^2
// subject to sum phi = fx - base, by eliminating the last feature.
func solveShapley(m int, zs []coalition, ws, v []float64, base, fx float64) ([]float64, error) {
	delta := fx - base
	if m == 1 {
		return []float64{delta}, nil
	}
	k := m - 1
	a := make([]float64, k*k)
	b := make([]float64, k)
	xrow := make([]float64, k)
	for zi, z := range zs {
		last := 0.0
		if z.has(m - 1) {
			last = 1
		}
		y := v[zi] - base - last*delta
		for i := 0; i < k; i++ {
			xi := 0.0
			if z.has(i) {
				xi = 1
			}
			xrow[i] = xi - last
		}
		w := ws[zi]
		for i := 0; i < k; i++ {
			if xrow[i] == 0 {
				continue
			}
			b[i] += w * xrow[i] * y
			for j := 0; j < k; j++ {
				a[i*k+j] += w * xrow[i] * xrow[j]
			}
		}
	}
	sol, err := solve(a, b, k)
	if err != nil {
		return nil, err
	}
	phi := append(sol, delta-sum(sol))
	return phi, nil
}

// solve solves the k×k system by Gaussian elimination with partial
// pivoting; a singular system (too few distinct coalitions) gets a tiny
// ridge.
func solve(a, b []float64, k int) ([]float64, error) {
	for attempt := 0; attempt < 2; attempt++ {
		m := slices.Clone(a)
		r := slices.Clone(b)
		if attempt == 1 {
			for i := 0; i < k; i++ {
				m[i*k+i] += 1e-9 * (1 + m[i*k+i])
			}
		}
		ok := true
		for col := 0; col < k && ok; col++ {
			p := col
			for i := col + 1; i < k; i++ {
				if math.Abs(m[i*k+col]) > math.Abs(m[p*k+col]) {
					p = i
				}
			}
			if math.Abs(m[p*k+col]) < 1e-12 {
				ok = false
				break
			}
			if p != col {
				for j := 0; j < k; j++ {
					m[p*k+j], m[col*k+j] = m[col*k+j], m[p*k+j]
				}
				r[p], r[col] = r[col], r[p]
			}
			for i := col + 1; i < k; i++ {
				f := m[i*k+col] / m[col*k+col]
				for j := col; j < k; j++ {
					m[i*k+j] -= f * m[col*k+j]
				}
				r[i] -= f * r[col]
			}
		}
		if !ok {
			continue
		}
		x := make([]float64, k)
		for i := k - 1; i >= 0; i-- {
			s := r[i]
			for j := i + 1; j < k; j++ {
				s -= m[i*k+j] * x[j]
			}
			x[i] = s / m[i*k+i]
		}
		return x, nil
	}
	return nil, fmt.Errorf("%w: KernelSHAP system is singular; raise --samples", ErrInput)
}

func mean(xs []float64) float64 { return sum(xs) / float64(len(xs)) }

func sum(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s
}
