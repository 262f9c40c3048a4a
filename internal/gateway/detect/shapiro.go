package detect

import (
	"errors"
	"math"
	"slices"
)

// ErrSample reports a sample the Shapiro–Wilk test cannot be applied to.
var ErrSample = errors.New("shapiro-wilk: sample must have 3 to 5000 values with a nonzero range")

// Coefficients of Royston's approximations (Royston 1992, 1995; Applied
// Statistics algorithm AS R94).
var (
	swC1 = []float64{0, 0.221157, -0.147981, -2.07119, 4.434685, -2.706056}
	swC2 = []float64{0, 0.042981, -0.293762, -1.752461, 5.682633, -3.582633}
	swC3 = []float64{0.544, -0.39978, 0.025054, -6.714e-4}
	swC4 = []float64{1.3822, -0.77857, 0.062767, -0.0020322}
	swC5 = []float64{-1.5861, -0.31082, -0.083751, 0.0038915}
	swC6 = []float64{-0.4803, -0.082676, 0.0030302}
	swG  = []float64{-2.273, 0.459}
)

// poly evaluates c[0] + c[1]x + c[2]x² + ….
func poly(c []float64, x float64) float64 {
	r := 0.0
	for i := len(c) - 1; i >= 0; i-- {
		r = r*x + c[i]
	}
	return r
}

// qnorm is the standard normal quantile function.
func qnorm(p float64) float64 { return -math.Sqrt2 * math.Erfcinv(2*p) }

// swCoefficients returns the upper half of Royston's approximation of the
// Shapiro–Wilk coefficients a_1 … a_{n/2} (a_1 for the extremes).
func swCoefficients(n int) []float64 {
	n2 := n / 2
	a := make([]float64, n2)
	if n == 3 {
		a[0] = math.Sqrt(0.5)
		return a
	}
	an := float64(n)
	m := make([]float64, n2)
	summ2 := 0.0
	for i := range n2 {
		m[i] = qnorm((float64(i+1) - 0.375) / (an + 0.25))
		summ2 += m[i] * m[i]
	}
	summ2 *= 2
	ssumm2 := math.Sqrt(summ2)
	rsn := 1 / math.Sqrt(an)
	a1 := poly(swC1, rsn) - m[0]/ssumm2
	var fac float64
	i1 := 1
	if n > 5 {
		i1 = 2
		a2 := -m[1]/ssumm2 + poly(swC2, rsn)
		fac = math.Sqrt((summ2 - 2*m[0]*m[0] - 2*m[1]*m[1]) / (1 - 2*a1*a1 - 2*a2*a2))
		a[1] = a2
	} else {
		fac = math.Sqrt((summ2 - 2*m[0]*m[0]) / (1 - 2*a1*a1))
	}
	a[0] = a1
	for i := i1; i < n2; i++ {
		a[i] = -m[i] / fac
	}
	return a
}

// ShapiroWilk computes the Shapiro–Wilk W statistic of x and its p-value
// for the null hypothesis that x is drawn from a normal distribution,
// using Royston's algorithm (AS R94, the algorithm behind R's shapiro.test
// and SciPy's scipy.stats.shapiro). x is not modified; 3 ≤ len(x) ≤ 5000.
func ShapiroWilk(x []float64) (w, p float64, err error) {
	n := len(x)
	if n < 3 || n > 5000 {
		return 0, 0, ErrSample
	}
	s := slices.Clone(x)
	for _, v := range s {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, 0, ErrSample
		}
	}
	slices.Sort(s)
	rng := s[n-1] - s[0]
	if !(rng > 1e-19*math.Max(1, math.Abs(s[0]))) {
		return 0, 0, ErrSample
	}
	a := swCoefficients(n)
	mean := 0.0
	for _, v := range s {
		mean += v / rng
	}
	mean /= float64(n)
	ssq := 0.0
	for _, v := range s {
		d := v/rng - mean
		ssq += d * d
	}
	num := 0.0
	for i := range a {
		num += a[i] * (s[n-1-i] - s[i]) / rng
	}
	w = num * num / ssq
	if w > 1 {
		w = 1
	}
	return w, swPValue(w, n), nil
}

// swPValue is Royston's normalising transformation of W.
func swPValue(w float64, n int) float64 {
	if n == 3 {
		const stqr = math.Pi / 3 // asin(sqrt(3/4))
		p := 6 / math.Pi * (math.Asin(math.Sqrt(w)) - stqr)
		return math.Max(p, 0)
	}
	an := float64(n)
	w1 := math.Log(1 - w)
	var y, m, s float64
	if n <= 11 {
		gamma := poly(swG, an)
		if w1 >= gamma {
			return 1e-99
		}
		y = -math.Log(gamma - w1)
		m = poly(swC3, an)
		s = math.Exp(poly(swC4, an))
	} else {
		xx := math.Log(an)
		m = poly(swC5, xx)
		s = math.Exp(poly(swC6, xx))
		y = w1
	}
	return 0.5 * math.Erfc((y-m)/s/math.Sqrt2)
}
