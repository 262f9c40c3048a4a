// Package detect holds the gateway's stateful query detectors:
//
//   - [PRADA] detects model extraction (Juuti, Szyller, Marchal and Asokan,
//     "PRADA: Protecting against DNN Model Stealing Attacks", EuroS&P 2019):
//     per identity and predicted class it keeps a growing set of queries
//     and the minimum distance of each new query to that set; natural
//     queries give minimum distances that fit a normal distribution,
//     synthetic extraction queries do not, so a Shapiro–Wilk W below a
//     threshold raises an alarm.
//   - [Similarity] detects query-based black-box adversarial attacks
//     (Chen, Carlini and Wagner, "Stateful Detection of Black-Box
//     Adversarial Attacks", SPAI 2020): the mean distance of a query to
//     its k nearest previous queries of the same identity below a
//     threshold calibrated on benign data ([CalibrateSimilarity]) is an
//     attack in progress.
//   - [Drift] measures input drift against a reference [Profile] with the
//     population stability index per feature over a tumbling window.
//
// Memory is bounded: each detector keeps state for at most MaxIdentities
// identities (least recently used are forgotten) and a fixed number of
// vectors per identity. Detectors are safe for concurrent use and never
// log; the caller decides what a Verdict means.
package detect

import (
	"container/list"
	"math"
	"slices"
	"sync"
)

// Verdict is one detector's judgement of one query or window.
type Verdict struct {
	Detector  string  `json:"detector"`
	Triggered bool    `json:"triggered"`
	Score     float64 `json:"score"`     // W (PRADA), mean k-NN distance (similarity), largest PSI (drift)
	Threshold float64 `json:"threshold"` // the configured threshold
	Queries   int     `json:"queries"`   // observations the score rests on
	Feature   string  `json:"feature,omitempty"`
}

// Detector names.
const (
	NamePRADA      = "prada"
	NameSimilarity = "similarity"
	NameDrift      = "drift"
)

// lru maps identities to states, forgetting the least recently used
// beyond max.
type lru[T any] struct {
	mu    sync.Mutex
	max   int
	order *list.List // front = most recent; values are *lruEntry[T]
	items map[string]*list.Element
	make  func() *T
}

type lruEntry[T any] struct {
	key string
	val *T
}

func newLRU[T any](max int, mk func() *T) *lru[T] {
	return &lru[T]{max: max, order: list.New(), items: map[string]*list.Element{}, make: mk}
}

func (l *lru[T]) get(key string) *T {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.items[key]; ok {
		l.order.MoveToFront(e)
		return e.Value.(*lruEntry[T]).val
	}
	v := l.make()
	l.items[key] = l.order.PushFront(&lruEntry[T]{key: key, val: v})
	for l.order.Len() > l.max {
		last := l.order.Back()
		l.order.Remove(last)
		delete(l.items, last.Value.(*lruEntry[T]).key)
	}
	return v
}

func (l *lru[T]) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.order.Len()
}

// dist is the Euclidean distance of a and b after dividing each feature by
// scale (when given), so that features in different units weigh alike.
func dist(a, b, scale []float64) float64 {
	s := 0.0
	for i := range a {
		d := a[i] - b[i]
		if i < len(scale) && scale[i] > 0 {
			d /= scale[i]
		}
		s += d * d
	}
	return math.Sqrt(s)
}

// ring is a fixed-capacity FIFO of values.
type ring[T any] struct {
	buf  []T
	next int
	full bool
}

func newRing[T any](n int) ring[T] { return ring[T]{buf: make([]T, 0, n)} }

func (r *ring[T]) push(v T) {
	if len(r.buf) < cap(r.buf) {
		r.buf = append(r.buf, v)
		return
	}
	r.buf[r.next] = v
	r.next = (r.next + 1) % len(r.buf)
	r.full = true
}

func (r *ring[T]) reset() { r.buf, r.next, r.full = r.buf[:0], 0, false }

// PRADAConfig configures PRADA.
type PRADAConfig struct {
	// Threshold is δ: W below it raises the alarm (default 0.90).
	Threshold float64
	// MinQueries is how many minimum distances an identity needs before
	// the test runs (default 100, as in the paper).
	MinQueries int
	// Window bounds the minimum distances kept per identity; the test runs
	// over the most recent Window (default 1000).
	Window int
	// MaxGrowing bounds the growing-set vectors kept per identity over all
	// classes (default 1000); once full, sets stop growing.
	MaxGrowing int
	// Every runs the test on every n-th query of an identity (default 1).
	Every int
	// MaxIdentities bounds the identities tracked (default 1000).
	MaxIdentities int
	// Scale divides each feature before distances are taken (e.g. the
	// reference profile's standard deviations); nil means raw values.
	Scale []float64
}

func (c PRADAConfig) withDefaults() PRADAConfig {
	if c.Threshold <= 0 {
		c.Threshold = 0.90
	}
	if c.MinQueries < 3 {
		c.MinQueries = 100
	}
	if c.Window < c.MinQueries {
		c.Window = max(1000, c.MinQueries)
	}
	c.Window = min(c.Window, 5000)
	if c.MaxGrowing <= 0 {
		c.MaxGrowing = 1000
	}
	if c.Every <= 0 {
		c.Every = 1
	}
	if c.MaxIdentities <= 0 {
		c.MaxIdentities = 1000
	}
	return c
}

// PRADA is the extraction detector of Juuti et al. (Algorithm 1), per
// identity.
type PRADA struct {
	cfg PRADAConfig
	ids *lru[pradaState]
}

type pradaState struct {
	mu      sync.Mutex
	sets    map[int][][]float64 // growing set G_c per predicted class
	setDist map[int][]float64   // D_{G_c}: the minimum distances that grew G_c
	stored  int                 // vectors across all G_c
	d       ring[float64]       // D: recent minimum distances
	n       int                 // queries seen
	last    Verdict
}

// NewPRADA returns a PRADA detector.
func NewPRADA(cfg PRADAConfig) *PRADA {
	cfg = cfg.withDefaults()
	return &PRADA{cfg: cfg, ids: newLRU(cfg.MaxIdentities, func() *pradaState {
		return &pradaState{sets: map[int][][]float64{}, setDist: map[int][]float64{}, d: newRing[float64](cfg.Window)}
	})}
}

// Config returns the effective configuration.
func (p *PRADA) Config() PRADAConfig { return p.cfg }

// Identities reports how many identities are tracked.
func (p *PRADA) Identities() int { return p.ids.len() }

// Last returns the last verdict computed for identity id (Score is NaN
// before the first test).
func (p *PRADA) Last(id string) Verdict {
	p.ids.mu.Lock()
	e, ok := p.ids.items[id]
	p.ids.mu.Unlock()
	if !ok {
		return Verdict{Detector: NamePRADA, Score: math.NaN()}
	}
	st := e.Value.(*lruEntry[pradaState]).val
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.last.Detector == "" {
		return Verdict{Detector: NamePRADA, Score: math.NaN(), Queries: len(st.d.buf)}
	}
	return st.last
}

// Observe records query x of identity id that the model assigned to class
// and reports whether the identity's minimum-distance distribution has
// stopped looking normal.
func (p *PRADA) Observe(id string, x []float64, class int) Verdict {
	st := p.ids.get(id)
	st.mu.Lock()
	defer st.mu.Unlock()
	st.n++
	g := st.sets[class]
	if len(g) == 0 {
		if st.stored < p.cfg.MaxGrowing {
			st.sets[class] = append(g, slices.Clone(x))
			st.setDist[class] = append(st.setDist[class], 0)
			st.stored++
		}
		return p.verdict(st)
	}
	dmin := math.Inf(1)
	for _, y := range g {
		if len(y) != len(x) {
			continue
		}
		dmin = min(dmin, dist(x, y, p.cfg.Scale))
	}
	if math.IsInf(dmin, 1) {
		return p.verdict(st)
	}
	st.d.push(dmin)
	// T_c = max(mean(D_Gc) - std(D_Gc), 0); grow the set when dmin > T_c.
	dg := st.setDist[class]
	mean, sd := meanStd(dg)
	if dmin > max(mean-sd, 0) && st.stored < p.cfg.MaxGrowing {
		st.sets[class] = append(g, slices.Clone(x))
		st.setDist[class] = append(dg, dmin)
		st.stored++
	}
	return p.verdict(st)
}

func (p *PRADA) verdict(st *pradaState) Verdict {
	v := Verdict{Detector: NamePRADA, Threshold: p.cfg.Threshold, Queries: len(st.d.buf), Score: math.NaN()}
	if len(st.d.buf) < p.cfg.MinQueries {
		return v
	}
	if st.n%p.cfg.Every != 0 && !math.IsNaN(st.last.Score) && st.last.Queries > 0 {
		v.Score, v.Triggered = st.last.Score, st.last.Triggered
		return v
	}
	w, _, err := ShapiroWilk(st.d.buf)
	if err != nil {
		// All distances equal: as far from a natural spread as it gets.
		w = 0
	}
	v.Score, v.Triggered = w, w < p.cfg.Threshold
	st.last = v
	return v
}

func meanStd(x []float64) (mean, sd float64) {
	if len(x) == 0 {
		return 0, 0
	}
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	for _, v := range x {
		sd += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(sd / float64(len(x)))
}

// SimilarityConfig configures Similarity.
type SimilarityConfig struct {
	// K is the number of nearest neighbours averaged (default 20).
	K int
	// Buffer is how many recent queries are kept per identity (default 1000).
	Buffer int
	// Threshold: a mean k-NN distance below it is an attack (required;
	// see CalibrateSimilarity).
	Threshold float64
	// MaxIdentities bounds the identities tracked (default 1000).
	MaxIdentities int
	// Scale divides each feature before distances are taken.
	Scale []float64
	// KeepOnDetect keeps the buffer after a detection; by default it is
	// cleared, as in Chen et al., so one attack is counted once per k
	// queries.
	KeepOnDetect bool
}

func (c SimilarityConfig) withDefaults() SimilarityConfig {
	if c.K <= 0 {
		c.K = 20
	}
	if c.Buffer < c.K {
		c.Buffer = max(1000, c.K)
	}
	if c.MaxIdentities <= 0 {
		c.MaxIdentities = 1000
	}
	return c
}

// Similarity is the stateful k-NN detector of Chen, Carlini and Wagner.
type Similarity struct {
	cfg SimilarityConfig
	ids *lru[simState]
}

type simState struct {
	mu  sync.Mutex
	buf ring[[]float64]
	d   []float64 // scratch distances
}

// NewSimilarity returns a similarity detector.
func NewSimilarity(cfg SimilarityConfig) *Similarity {
	cfg = cfg.withDefaults()
	return &Similarity{cfg: cfg, ids: newLRU(cfg.MaxIdentities, func() *simState {
		return &simState{buf: newRing[[]float64](cfg.Buffer)}
	})}
}

// Config returns the effective configuration.
func (s *Similarity) Config() SimilarityConfig { return s.cfg }

// Observe records query x of identity id.
func (s *Similarity) Observe(id string, x []float64) Verdict {
	st := s.ids.get(id)
	st.mu.Lock()
	defer st.mu.Unlock()
	v := Verdict{Detector: NameSimilarity, Threshold: s.cfg.Threshold, Queries: len(st.buf.buf), Score: math.NaN()}
	if len(st.buf.buf) >= s.cfg.K {
		st.d = st.d[:0]
		for _, y := range st.buf.buf {
			if len(y) == len(x) {
				st.d = append(st.d, dist(x, y, s.cfg.Scale))
			}
		}
		if len(st.d) >= s.cfg.K {
			v.Score = meanSmallest(st.d, s.cfg.K)
			v.Triggered = v.Score < s.cfg.Threshold
		}
	}
	if v.Triggered && !s.cfg.KeepOnDetect {
		st.buf.reset()
		return v
	}
	st.buf.push(slices.Clone(x))
	return v
}

// meanSmallest is the mean of the k smallest values of d (d is reordered).
func meanSmallest(d []float64, k int) float64 {
	k = min(k, len(d))
	quickselect(d, k)
	s := 0.0
	for _, v := range d[:k] {
		s += v
	}
	return s / float64(k)
}

// quickselect partially orders d so that d[:k] holds its k smallest values.
func quickselect(d []float64, k int) {
	lo, hi := 0, len(d)-1
	for lo < hi {
		p := d[(lo+hi)/2]
		i, j := lo, hi
		for i <= j {
			for d[i] < p {
				i++
			}
			for d[j] > p {
				j--
			}
			if i <= j {
				d[i], d[j] = d[j], d[i]
				i++
				j--
			}
		}
		if k-1 <= j {
			hi = j
		} else if k-1 >= i {
			lo = i
		} else {
			return
		}
	}
}

// CalibrateSimilarity picks the similarity threshold that flags a fraction
// fpr of benign queries: for each benign vector, the mean distance to its
// k nearest other benign vectors; the threshold is the fpr-quantile of
// those means (Chen et al. use 0.1%).
func CalibrateSimilarity(benign [][]float64, k int, fpr float64, scale []float64) float64 {
	if len(benign) <= k || k <= 0 {
		return 0
	}
	means := make([]float64, 0, len(benign))
	d := make([]float64, 0, len(benign))
	for i, x := range benign {
		d = d[:0]
		for j, y := range benign {
			if i != j && len(x) == len(y) {
				d = append(d, dist(x, y, scale))
			}
		}
		if len(d) >= k {
			means = append(means, meanSmallest(d, k))
		}
	}
	if len(means) == 0 {
		return 0
	}
	slices.Sort(means)
	idx := int(math.Floor(fpr * float64(len(means))))
	return means[min(max(idx, 0), len(means)-1)]
}
