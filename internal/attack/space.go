package attack

import (
	"math"
	"slices"
)

// Space maps feature values to the unit cube the attacks work in: feature
// j at Min_j maps to 0 and Max_j to 1, so distances are in units of each
// feature's range (an L∞ distance of 0.1 moves no feature by more than a
// tenth of its range), the image-like setting in which the published
// attacks are defined and evaluated.
type Space struct {
	lo, span []float64
	kind     []Kind
	values   [][]float64 // categorical values in unit coordinates
	mutable  []bool
	names    []string
}

// NewSpace builds the space of a resolved schema. Features with an empty
// range cannot move and are treated as immutable.
func NewSpace(s *Schema) *Space {
	n := len(s.Features)
	sp := &Space{lo: make([]float64, n), span: make([]float64, n), kind: make([]Kind, n),
		values: make([][]float64, n), mutable: make([]bool, n), names: make([]string, n)}
	for j, f := range s.Features {
		lo, hi := 0.0, 0.0
		if f.Min != nil {
			lo = *f.Min
		}
		if f.Max != nil {
			hi = *f.Max
		}
		sp.lo[j], sp.span[j], sp.kind[j], sp.names[j] = lo, hi-lo, f.Kind, f.Name
		sp.mutable[j] = !f.Immutable && hi > lo
		if f.Kind == Categorical && hi > lo {
			for _, v := range f.Values {
				sp.values[j] = append(sp.values[j], (v-lo)/(hi-lo))
			}
		}
	}
	return sp
}

// Dim is the number of features.
func (s *Space) Dim() int { return len(s.lo) }

// Names are the feature names.
func (s *Space) Names() []string { return s.names }

// Mutable reports whether feature j may be changed.
func (s *Space) Mutable(j int) bool { return s.mutable[j] }

// MutableCount is the number of features an attack may change.
func (s *Space) MutableCount() int {
	n := 0
	for _, m := range s.mutable {
		if m {
			n++
		}
	}
	return n
}

// ToUnit maps a row of feature values into the unit cube (values outside
// the bounds map outside [0, 1]).
func (s *Space) ToUnit(x []float64) []float64 {
	u := make([]float64, len(x))
	for j, v := range x {
		if s.span[j] > 0 {
			u[j] = (v - s.lo[j]) / s.span[j]
		}
	}
	return u
}

// FromUnit maps unit coordinates back to feature values. Coordinates of
// features with an empty range come from orig (the raw row).
func (s *Space) FromUnit(u, orig []float64) []float64 {
	x := make([]float64, len(u))
	for j, v := range u {
		if s.span[j] > 0 {
			x[j] = s.lo[j] + v*s.span[j]
		} else {
			x[j] = orig[j]
		}
	}
	return x
}

// Project makes u (unit coordinates) satisfy the constraints relative to
// the original point u0, in place: immutable features reset to u0, values
// clipped to [0, 1], integer features rounded, categorical features snapped
// to the nearest allowed value. It returns u.
func (s *Space) Project(u, u0 []float64) []float64 {
	for j := range u {
		if !s.mutable[j] {
			u[j] = u0[j]
			continue
		}
		v := min(max(u[j], 0), 1)
		switch s.kind[j] {
		case Integer:
			x := math.Round(s.lo[j] + v*s.span[j])
			v = (x - s.lo[j]) / s.span[j]
			if v > 1 {
				v -= 1 / s.span[j]
			} else if v < 0 {
				v += 1 / s.span[j]
			}
			v = min(max(v, 0), 1)
		case Categorical:
			v = nearest(s.values[j], v)
		}
		u[j] = v
	}
	return u
}

func nearest(vals []float64, v float64) float64 {
	if len(vals) == 0 {
		return v
	}
	i, _ := slices.BinarySearch(vals, v)
	switch {
	case i == 0:
		return vals[0]
	case i == len(vals):
		return vals[len(vals)-1]
	case v-vals[i-1] <= vals[i]-v:
		return vals[i-1]
	}
	return vals[i]
}

// InBounds reports whether raw row x satisfies the constraints relative to
// the original raw row x0 (within tol in unit coordinates).
func (s *Space) InBounds(x, x0 []float64, tol float64) bool {
	u, u0 := s.ToUnit(x), s.ToUnit(x0)
	p := s.Project(slices.Clone(u), u0)
	for j := range u {
		if !s.mutable[j] && x[j] != x0[j] {
			return false
		}
		if math.Abs(p[j]-u[j]) > tol {
			return false
		}
	}
	return true
}

// L2 is the Euclidean distance between unit-space points.
func L2(a, b []float64) float64 {
	var s float64
	for i := range a {
		d := a[i] - b[i]
		s += d * d
	}
	return math.Sqrt(s)
}

// Linf is the maximum absolute coordinate difference.
func Linf(a, b []float64) float64 {
	var m float64
	for i := range a {
		m = max(m, math.Abs(a[i]-b[i]))
	}
	return m
}
