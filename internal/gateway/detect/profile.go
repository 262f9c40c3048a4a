package detect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
)

// Profile describes the reference (training or validation) data of a
// model's features: value ranges for input validation, means and standard
// deviations for scaling distances, and quantile bins for drift.
type Profile struct {
	Features []Feature `json:"features"`
	// Rows is how many rows the profile was built from.
	Rows int `json:"rows,omitempty"`
	// SimilarityThreshold, when set, is a calibrated threshold for the
	// similarity detector (see CalibrateSimilarity) for SimilarityK.
	SimilarityThreshold float64 `json:"similarity_threshold,omitempty"`
	SimilarityK         int     `json:"similarity_k,omitempty"`
}

// Feature is one column of the reference data.
type Feature struct {
	Name string  `json:"name"`
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"`
	// Edges are the interior bin boundaries (ascending); bin i holds
	// values v with Edges[i-1] < v <= Edges[i].
	Edges []float64 `json:"edges,omitempty"`
	// Expected is the reference share of each bin (len(Edges)+1 values
	// summing to 1).
	Expected []float64 `json:"expected,omitempty"`
}

// Limits on a profile document.
const (
	MaxProfileSize     = 8 << 20
	MaxProfileFeatures = 100000
	MaxProfileBins     = 1000
)

// ErrProfile reports an invalid profile.
var ErrProfile = errors.New("invalid profile")

// ParseProfile reads and checks a JSON profile.
func ParseProfile(data []byte) (*Profile, error) {
	if len(data) > MaxProfileSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrProfile, MaxProfileSize)
	}
	var p Profile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProfile, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data", ErrProfile)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// Validate checks a profile's consistency.
func (p *Profile) Validate() error {
	if len(p.Features) == 0 || len(p.Features) > MaxProfileFeatures {
		return fmt.Errorf("%w: want 1 to %d features", ErrProfile, MaxProfileFeatures)
	}
	for i, f := range p.Features {
		bad := func(msg string) error { return fmt.Errorf("%w: feature %d (%s): %s", ErrProfile, i, f.Name, msg) }
		for _, v := range []float64{f.Min, f.Max, f.Mean, f.Std} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return bad("non-finite value")
			}
		}
		if f.Min > f.Max || f.Std < 0 {
			return bad("min above max or negative std")
		}
		if len(f.Edges) > MaxProfileBins {
			return bad("too many bins")
		}
		if len(f.Edges) == 0 && len(f.Expected) == 0 {
			continue
		}
		if len(f.Expected) != len(f.Edges)+1 {
			return bad("expected must have one more value than edges")
		}
		if !slices.IsSorted(f.Edges) {
			return bad("edges not ascending")
		}
		sum := 0.0
		for _, e := range f.Expected {
			if !(e >= 0 && e <= 1) {
				return bad("expected shares must lie in [0, 1]")
			}
			sum += e
		}
		if math.Abs(sum-1) > 1e-3 {
			return bad("expected shares must sum to 1")
		}
	}
	return nil
}

// Scale returns the features' standard deviations (1 where zero), for
// scaling distances.
func (p *Profile) Scale() []float64 {
	s := make([]float64, len(p.Features))
	for i, f := range p.Features {
		s[i] = f.Std
		if s[i] <= 0 {
			s[i] = 1
		}
	}
	return s
}

// CheckRow reports the first value outside the profile's range, allowing
// a margin of tol times the range on each side.
func (p *Profile) CheckRow(row []float64, tol float64) error {
	if len(row) != len(p.Features) {
		return fmt.Errorf("row has %d features, profile %d", len(row), len(p.Features))
	}
	for i, v := range row {
		f := &p.Features[i]
		m := tol * (f.Max - f.Min)
		if math.IsNaN(v) || v < f.Min-m || v > f.Max+m {
			return fmt.Errorf("feature %d (%s) = %g outside the reference range [%g, %g]", i, f.Name, v, f.Min, f.Max)
		}
	}
	return nil
}

// BuildProfile summarises reference rows into a profile with the given
// number of quantile bins per feature (default 10). names may be nil.
func BuildProfile(rows [][]float64, names []string, bins int) (*Profile, error) {
	if len(rows) < 2 {
		return nil, fmt.Errorf("%w: need at least 2 rows", ErrProfile)
	}
	if bins <= 1 {
		bins = 10
	}
	nf := len(rows[0])
	p := &Profile{Rows: len(rows), Features: make([]Feature, nf)}
	col := make([]float64, len(rows))
	for j := range nf {
		for i, r := range rows {
			if len(r) != nf {
				return nil, fmt.Errorf("%w: row %d has %d features, want %d", ErrProfile, i, len(r), nf)
			}
			col[i] = r[j]
		}
		sorted := slices.Clone(col)
		slices.Sort(sorted)
		f := Feature{Min: sorted[0], Max: sorted[len(sorted)-1]}
		if j < len(names) {
			f.Name = names[j]
		} else {
			f.Name = fmt.Sprintf("f%d", j)
		}
		f.Mean, f.Std = meanStd(col)
		for b := 1; b < bins; b++ {
			e := sorted[min(len(sorted)-1, b*len(sorted)/bins)]
			if len(f.Edges) == 0 || e > f.Edges[len(f.Edges)-1] {
				if e < f.Max {
					f.Edges = append(f.Edges, e)
				}
			}
		}
		counts := make([]float64, len(f.Edges)+1)
		for _, v := range col {
			counts[bin(f.Edges, v)]++
		}
		for k := range counts {
			counts[k] /= float64(len(col))
		}
		f.Expected = counts
		p.Features[j] = f
	}
	return p, p.Validate()
}

// bin returns the index of the bin holding v.
func bin(edges []float64, v float64) int {
	i, _ := slices.BinarySearch(edges, v)
	return i
}

// PSI is the population stability index of observed bin counts against
// expected shares: Σ (a−e)·ln(a/e), shares floored at 1e-4.
func PSI(expected []float64, counts []int) float64 {
	total := 0
	for _, c := range counts {
		total += c
	}
	if total == 0 {
		return 0
	}
	const floor = 1e-4
	s := 0.0
	for i, e := range expected {
		a := max(float64(counts[i])/float64(total), floor)
		e = max(e, floor)
		s += (a - e) * math.Log(a/e)
	}
	return s
}

// DriftConfig configures Drift.
type DriftConfig struct {
	// Window is how many rows make one comparison (default 1000).
	Window int
	// Threshold is the PSI above which a feature has drifted (default 0.25,
	// the customary "significant shift").
	Threshold float64
}

// Drift compares the distribution of incoming rows with a reference
// profile, feature by feature, over tumbling windows.
type Drift struct {
	cfg     DriftConfig
	profile *Profile
	mu      sync.Mutex
	counts  [][]int
	rows    int
	last    []float64
}

// NewDrift returns a drift detector for profile (which needs bins).
func NewDrift(profile *Profile, cfg DriftConfig) (*Drift, error) {
	if cfg.Window <= 0 {
		cfg.Window = 1000
	}
	if cfg.Threshold <= 0 {
		cfg.Threshold = 0.25
	}
	d := &Drift{cfg: cfg, profile: profile, counts: make([][]int, len(profile.Features))}
	for i, f := range profile.Features {
		if len(f.Expected) == 0 {
			return nil, fmt.Errorf("%w: feature %s has no bins for drift", ErrProfile, f.Name)
		}
		d.counts[i] = make([]int, len(f.Expected))
	}
	return d, nil
}

// Observe adds a row. When it completes a window, the verdict reports the
// largest per-feature PSI and ok is true; otherwise ok is false.
func (d *Drift) Observe(row []float64) (v Verdict, ok bool) {
	if len(row) != len(d.counts) {
		return Verdict{}, false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, x := range row {
		d.counts[i][bin(d.profile.Features[i].Edges, x)]++
	}
	d.rows++
	if d.rows < d.cfg.Window {
		return Verdict{}, false
	}
	v = Verdict{Detector: NameDrift, Threshold: d.cfg.Threshold, Queries: d.rows}
	d.last = make([]float64, len(d.counts))
	for i, c := range d.counts {
		psi := PSI(d.profile.Features[i].Expected, c)
		d.last[i] = psi
		if psi > v.Score || v.Feature == "" {
			v.Score, v.Feature = psi, d.profile.Features[i].Name
		}
		clear(c)
	}
	d.rows = 0
	v.Triggered = v.Score > d.cfg.Threshold
	return v, true
}

// Last returns the per-feature PSI of the last complete window.
func (d *Drift) Last() []float64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.last)
}
