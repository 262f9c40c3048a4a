// Package learn trains the small classifiers the attacks need as
// surrogates and shadow models: multinomial logistic regression and a
// one-hidden-layer ReLU network, fitted with Adam on (soft) class targets
// using gonum matrices. Inputs are standardised internally. Training is
// deterministic given the seed.
package learn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// Options control training.
type Options struct {
	// Hidden is the hidden layer width; 0 trains logistic regression.
	Hidden int
	// Epochs over the data (default 200), Batch rows per step (default 64),
	// LR Adam's step size (default 0.01), L2 weight decay (default 1e-4).
	Epochs int
	Batch  int
	LR     float64
	L2     float64
	Seed   uint64
}

func (o Options) withDefaults() Options {
	if o.Epochs <= 0 {
		o.Epochs = 200
	}
	if o.Batch <= 0 {
		o.Batch = 64
	}
	if o.LR <= 0 {
		o.LR = 0.01
	}
	if o.L2 < 0 {
		o.L2 = 0
	} else if o.L2 == 0 {
		o.L2 = 1e-4
	}
	return o
}

// Model is a trained classifier.
type Model struct {
	mean, std []float64
	layers    []*layer
}

type layer struct {
	w, b   *mat.Dense
	mw, vw *mat.Dense // Adam moments
	mb, vb *mat.Dense
}

func newLayer(in, out int, rng *rand.Rand) *layer {
	scale := math.Sqrt(2 / float64(in))
	w := mat.NewDense(in, out, nil)
	for i := range in {
		for j := range out {
			w.Set(i, j, rng.NormFloat64()*scale)
		}
	}
	return &layer{w: w, b: mat.NewDense(1, out, nil),
		mw: mat.NewDense(in, out, nil), vw: mat.NewDense(in, out, nil),
		mb: mat.NewDense(1, out, nil), vb: mat.NewDense(1, out, nil)}
}

// Train fits a classifier with k classes to rows x and target
// distributions y (one-hot for hard labels).
func Train(x, y [][]float64, k int, o Options) (*Model, error) {
	o = o.withDefaults()
	if len(x) == 0 || len(x) != len(y) {
		return nil, fmt.Errorf("learn: %d rows and %d targets", len(x), len(y))
	}
	if k < 2 {
		return nil, fmt.Errorf("learn: need at least 2 classes, got %d", k)
	}
	d := len(x[0])
	for i := range x {
		if len(x[i]) != d || len(y[i]) != k {
			return nil, fmt.Errorf("learn: row %d has %d features and %d targets, want %d and %d", i, len(x[i]), len(y[i]), d, k)
		}
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x6c6561726e))
	m := &Model{mean: make([]float64, d), std: make([]float64, d)}
	for j := range d {
		var s, ss float64
		for _, r := range x {
			s += r[j]
		}
		m.mean[j] = s / float64(len(x))
		for _, r := range x {
			ss += (r[j] - m.mean[j]) * (r[j] - m.mean[j])
		}
		m.std[j] = math.Sqrt(ss / float64(len(x)))
		if m.std[j] < 1e-12 {
			m.std[j] = 1
		}
	}
	if o.Hidden > 0 {
		m.layers = []*layer{newLayer(d, o.Hidden, rng), newLayer(o.Hidden, k, rng)}
	} else {
		m.layers = []*layer{newLayer(d, k, rng)}
		m.layers[0].w.Scale(0.01, m.layers[0].w)
	}
	xs := m.standardise(x)
	ys := mat.NewDense(len(y), k, nil)
	for i, r := range y {
		ys.SetRow(i, r)
	}
	n := len(x)
	step := 0
	for range o.Epochs {
		perm := rng.Perm(n)
		for start := 0; start < n; start += o.Batch {
			idx := perm[start:min(start+o.Batch, n)]
			xb := mat.NewDense(len(idx), d, nil)
			yb := mat.NewDense(len(idx), k, nil)
			for r, i := range idx {
				xb.SetRow(r, xs.RawRowView(i))
				yb.SetRow(r, ys.RawRowView(i))
			}
			step++
			m.step(xb, yb, o, step)
		}
	}
	return m, nil
}

func (m *Model) standardise(x [][]float64) *mat.Dense {
	out := mat.NewDense(len(x), len(m.mean), nil)
	for i, r := range x {
		row := out.RawRowView(i)
		for j, v := range r {
			row[j] = (v - m.mean[j]) / m.std[j]
		}
	}
	return out
}

// forward returns each layer's input and the final probabilities.
func (m *Model) forward(x *mat.Dense) ([]*mat.Dense, *mat.Dense) {
	acts := []*mat.Dense{x}
	cur := x
	for li, l := range m.layers {
		var z mat.Dense
		z.Mul(cur, l.w)
		r, c := z.Dims()
		b := l.b.RawRowView(0)
		for i := range r {
			row := z.RawRowView(i)
			for j := range c {
				row[j] += b[j]
				if li < len(m.layers)-1 && row[j] < 0 {
					row[j] = 0
				}
			}
		}
		if li < len(m.layers)-1 {
			acts = append(acts, &z)
		}
		cur = &z
	}
	r, _ := cur.Dims()
	for i := range r {
		softmax(cur.RawRowView(i))
	}
	return acts, cur
}

func softmax(v []float64) {
	mx := math.Inf(-1)
	for _, x := range v {
		mx = max(mx, x)
	}
	var s float64
	for i, x := range v {
		v[i] = math.Exp(x - mx)
		s += v[i]
	}
	for i := range v {
		v[i] /= s
	}
}

const beta1, beta2, adamEps = 0.9, 0.999, 1e-8

func (m *Model) step(x, y *mat.Dense, o Options, t int) {
	acts, p := m.forward(x)
	n, _ := x.Dims()
	var delta mat.Dense
	delta.Sub(p, y)
	delta.Scale(1/float64(n), &delta)
	for li := len(m.layers) - 1; li >= 0; li-- {
		l := m.layers[li]
		var gw mat.Dense
		gw.Mul(acts[li].T(), &delta)
		gw.Add(&gw, scaled(o.L2, l.w))
		_, c := delta.Dims()
		gb := mat.NewDense(1, c, nil)
		for i := range n {
			gb.Apply(func(_, j int, v float64) float64 { return v + delta.At(i, j) }, gb)
		}
		if li > 0 {
			var back mat.Dense
			back.Mul(&delta, l.w.T())
			a := acts[li]
			back.Apply(func(i, j int, v float64) float64 {
				if a.At(i, j) <= 0 {
					return 0
				}
				return v
			}, &back)
			delta = back
		}
		adam(l.w, &gw, l.mw, l.vw, o.LR, t)
		adam(l.b, gb, l.mb, l.vb, o.LR, t)
	}
}

func scaled(s float64, a *mat.Dense) *mat.Dense {
	var out mat.Dense
	out.Scale(s, a)
	return &out
}

func adam(w, g, mom, v *mat.Dense, lr float64, t int) {
	c1 := 1 - math.Pow(beta1, float64(t))
	c2 := 1 - math.Pow(beta2, float64(t))
	wr, gr, mr, vr := w.RawMatrix().Data, g.RawMatrix().Data, mom.RawMatrix().Data, v.RawMatrix().Data
	for i := range wr {
		mr[i] = beta1*mr[i] + (1-beta1)*gr[i]
		vr[i] = beta2*vr[i] + (1-beta2)*gr[i]*gr[i]
		wr[i] -= lr * (mr[i] / c1) / (math.Sqrt(vr[i]/c2) + adamEps)
	}
}

// Proba returns class probabilities for rows.
func (m *Model) Proba(x [][]float64) [][]float64 {
	if len(x) == 0 {
		return nil
	}
	_, p := m.forward(m.standardise(x))
	out := make([][]float64, len(x))
	for i := range out {
		out[i] = append([]float64(nil), p.RawRowView(i)...)
	}
	return out
}

// Predict returns the most probable class per row.
func (m *Model) Predict(x [][]float64) []int {
	p := m.Proba(x)
	out := make([]int, len(p))
	for i, r := range p {
		for j := range r {
			if r[j] > r[out[i]] {
				out[i] = j
			}
		}
	}
	return out
}

// OneHot turns class indices into target rows.
func OneHot(labels []int, k int) [][]float64 {
	out := make([][]float64, len(labels))
	for i, l := range labels {
		out[i] = make([]float64, k)
		if l >= 0 && l < k {
			out[i][l] = 1
		}
	}
	return out
}
