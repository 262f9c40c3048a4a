package fairness

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/stat/distuv"
)

// viewDef maps combinations of sensitive values (tuples) to the groups of
// one view.
type viewDef struct {
	name       string
	features   []int
	keys       [][]string
	tupleGroup []int32
}

func (v *viewDef) confusions(cells []Confusion) []Confusion {
	out := make([]Confusion, len(v.keys))
	for t, c := range cells {
		out[v.tupleGroup[t]].add(c)
	}
	return out
}

// sortedValues orders a feature's values as pandas' groupby does: by
// number when every value is numeric, else as strings.
func sortedValues(vals []string) []int32 {
	order := make([]int32, len(vals))
	for i := range order {
		order[i] = int32(i)
	}
	nums := make([]float64, len(vals))
	numeric := true
	for i, s := range vals {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			numeric = false
			break
		}
		nums[i] = f
	}
	sort.SliceStable(order, func(a, b int) bool {
		if numeric && nums[order[a]] != nums[order[b]] {
			return nums[order[a]] < nums[order[b]]
		}
		return vals[order[a]] < vals[order[b]]
	})
	return order
}

func (a *accumulator) views() ([]*viewDef, error) {
	rank := make([][]int32, len(a.values)) // per feature: id -> sorted position
	order := make([][]int32, len(a.values))
	for f, vals := range a.values {
		if len(vals) > a.cfg.MaxGroups {
			return nil, fmt.Errorf("sensitive column %q has %d distinct values (limit %d): is it really categorical?", a.cfg.Sensitive[f], len(vals), a.cfg.MaxGroups)
		}
		order[f] = sortedValues(vals)
		rank[f] = make([]int32, len(vals))
		for pos, id := range order[f] {
			rank[f][id] = int32(pos)
		}
	}
	var out []*viewDef
	for f, name := range a.cfg.Sensitive {
		v := &viewDef{name: name, features: []int{f}}
		for _, id := range order[f] {
			v.keys = append(v.keys, []string{a.values[f][id]})
		}
		v.tupleGroup = make([]int32, len(a.tupleIDs))
		for t, ids := range a.tupleIDs {
			v.tupleGroup[t] = rank[f][ids[f]]
		}
		out = append(out, v)
	}
	if a.cfg.Intersectional && len(a.cfg.Sensitive) > 1 {
		total := 1
		for f := range a.values {
			total *= len(a.values[f])
			if total > a.cfg.MaxGroups {
				return nil, fmt.Errorf("the intersection of %s has more than %d combinations", strings.Join(a.cfg.Sensitive, ", "), a.cfg.MaxGroups)
			}
		}
		v := &viewDef{name: strings.Join(a.cfg.Sensitive, " × "), features: make([]int, len(a.cfg.Sensitive))}
		for f := range v.features {
			v.features[f] = f
		}
		// Every combination, present or not (Fairlearn reindexes to the
		// product of the unique values; absent ones are NaN).
		idx := make([]int, len(a.values))
		for range total {
			key := make([]string, len(idx))
			for f, i := range idx {
				key[f] = a.values[f][order[f][i]]
			}
			v.keys = append(v.keys, key)
			for f := len(idx) - 1; f >= 0; f-- {
				idx[f]++
				if idx[f] < len(a.values[f]) {
					break
				}
				idx[f] = 0
			}
		}
		v.tupleGroup = make([]int32, len(a.tupleIDs))
		for t, ids := range a.tupleIDs {
			g := 0
			for f := range ids {
				g = g*len(a.values[f]) + int(rank[f][ids[f]])
			}
			v.tupleGroup[t] = int32(g)
		}
		out = append(out, v)
	}
	return out, nil
}

// evaluated is everything computed from one set of confusion counts.
type evaluated struct {
	groups      []map[string]Num
	metrics     map[string]Aggregate
	disparities []Disparity
}

func evaluate(groups []Confusion, overall Confusion, auc []Num, overallAUC Num) evaluated {
	e := evaluated{groups: make([]map[string]Num, len(groups)), metrics: map[string]Aggregate{}}
	for i, c := range groups {
		e.groups[i] = metricsOf(c)
		if auc != nil {
			e.groups[i][MetricROCAUC] = auc[i]
		}
	}
	om := metricsOf(overall)
	names := BaseMetrics
	if auc != nil {
		om[MetricROCAUC] = overallAUC
		names = append(slices.Clone(BaseMetrics), MetricROCAUC)
	}
	col := make([]Num, len(groups))
	for _, m := range names {
		for i := range groups {
			col[i] = e.groups[i][m]
		}
		e.metrics[m] = aggregate(om[m], col)
	}
	sel, tpr, fpr := e.metrics[MetricSelection], e.metrics[MetricTPR], e.metrics[MetricFPR]
	for _, method := range []string{BetweenGroups, ToOverall} {
		diff := func(a Aggregate) Num {
			if method == BetweenGroups {
				return a.DifferenceBetween
			}
			return a.DifferenceToOverall
		}
		ratio := func(a Aggregate) Num {
			if method == BetweenGroups {
				return a.RatioBetween
			}
			return a.RatioToOverall
		}
		e.disparities = append(e.disparities,
			Disparity{Name: DemographicParityDifference, Method: method, Value: diff(sel)},
			Disparity{Name: DemographicParityRatio, Method: method, Value: ratio(sel)},
			// Fairlearn: max(eo.difference()) and min(eo.ratio()) over the
			// Series [tpr, fpr], with Python's built-in max and min.
			Disparity{Name: EqualizedOddsDifference, Method: method, Value: pyMax(diff(tpr), diff(fpr))},
			Disparity{Name: EqualizedOddsRatio, Method: method, Value: pyMin(ratio(tpr), ratio(fpr))},
			Disparity{Name: EqualOpportunityDifference, Method: method, Value: diff(tpr)},
			Disparity{Name: EqualOpportunityRatio, Method: method, Value: ratio(tpr)},
		)
	}
	e.disparities = append(e.disparities, Disparity{Name: DisparateImpactRatio, Method: BetweenGroups, Value: sel.RatioBetween})
	sort.SliceStable(e.disparities, func(i, j int) bool {
		return slices.Index(DisparityNames, e.disparities[i].Name) < slices.Index(DisparityNames, e.disparities[j].Name)
	})
	return e
}

func groupOf(key []string, c Confusion, m map[string]Num) Group {
	return Group{Key: key, Name: strings.Join(key, ", "), Count: c.N(), Positives: c.TP + c.FN, Negatives: c.FP + c.TN, Confusion: c, Metrics: m}
}

func (a *accumulator) result(ctx context.Context) (*Result, error) {
	var total Confusion
	for _, c := range a.cells {
		total.add(c)
	}
	if total.N() == 0 {
		return nil, ErrNoRows
	}
	defs, err := a.views()
	if err != nil {
		return nil, err
	}
	res := &Result{Settings: Settings{
		Label: a.cfg.Label, Pred: a.cfg.Pred, Score: a.cfg.Score, Sensitive: a.cfg.Sensitive,
		Intersectional: a.cfg.Intersectional, Positive: a.cfg.Positive, Method: a.cfg.Method,
		Bootstrap: a.cfg.Bootstrap, Seed: a.cfg.Seed, CILevel: a.cfg.CILevel,
		MinGroupSize: a.cfg.MinGroupSize, Thresholds: a.cfg.Thresholds,
	}}
	var aucs [][]Num
	overallAUC := NaN
	if a.cfg.Score != "" {
		aucs, overallAUC = rocAUC(a.scored, defs)
	}
	om := metricsOf(total)
	if a.cfg.Score != "" {
		om[MetricROCAUC] = overallAUC
	}
	res.Overall = groupOf(nil, total, om)
	res.Overall.Name = "overall"
	for vi, d := range defs {
		gc := d.confusions(a.cells)
		var auc []Num
		if aucs != nil {
			auc = aucs[vi]
		}
		e := evaluate(gc, total, auc, overallAUC)
		v := View{Name: d.name, Metrics: e.metrics, Disparities: e.disparities}
		for _, f := range d.features {
			v.Features = append(v.Features, a.cfg.Sensitive[f])
		}
		maxSel := e.metrics[MetricSelection].GroupMax
		for i, key := range d.keys {
			g := groupOf(key, gc[i], e.groups[i])
			if gc[i].N() > 0 {
				di := pyDiv(g.Metrics[MetricSelection], maxSel)
				g.DisparateImpact = &di
			}
			v.Groups = append(v.Groups, g)
		}
		res.Views = append(res.Views, v)
	}
	if a.cfg.Bootstrap > 0 {
		if err := a.bootstrap(ctx, defs, res); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// rocAUC computes ROC AUC per group of every view, and overall, in one
// pass over the rows sorted by score. It is the Mann–Whitney statistic
// with ties counted one half, which is what scikit-learn's trapezoidal
// roc_auc_score equals; a group with only one class has no AUC (NaN;
// scikit-learn raises).
func rocAUC(chunks [][]scoredRow, defs []*viewDef) ([][]Num, Num) {
	type acc struct{ pos, neg, negBelow, blockPos, blockNeg, num float64 }
	per := make([][]acc, len(defs)+1) // last: overall
	for i, d := range defs {
		per[i] = make([]acc, len(d.keys))
	}
	per[len(defs)] = make([]acc, 1)
	touched := make([][]int32, len(per))
	groupOf := func(vi int, t int32) int32 {
		if vi == len(defs) {
			return 0
		}
		return defs[vi].tupleGroup[t]
	}
	flush := func() {
		for vi := range per {
			for _, g := range touched[vi] {
				s := &per[vi][g]
				s.num += s.blockPos * (s.negBelow + 0.5*s.blockNeg)
				s.negBelow += s.blockNeg
				s.pos += s.blockPos
				s.neg += s.blockNeg
				s.blockPos, s.blockNeg = 0, 0
			}
			touched[vi] = touched[vi][:0]
		}
	}
	first, block := true, 0.0
	mergeSorted(chunks, func(r scoredRow) {
		if first || r.score != block {
			flush()
			first, block = false, r.score
		}
		for vi := range per {
			g := groupOf(vi, r.tuple)
			s := &per[vi][g]
			if s.blockPos == 0 && s.blockNeg == 0 {
				touched[vi] = append(touched[vi], g)
			}
			if r.pos {
				s.blockPos++
			} else {
				s.blockNeg++
			}
		}
	})
	flush()
	val := func(s acc) Num {
		if s.pos == 0 || s.neg == 0 {
			return NaN
		}
		return Num(s.num / (s.pos * s.neg))
	}
	out := make([][]Num, len(defs))
	for vi := range defs {
		out[vi] = make([]Num, len(per[vi]))
		for g, s := range per[vi] {
			out[vi][g] = val(s)
		}
	}
	return out, val(per[len(defs)][0])
}

// bootstrap resamples rows with replacement, Cfg.Bootstrap times, as
// Fairlearn's MetricFrame(n_boot=…) does, and sets percentile intervals
// (numpy's default linear interpolation; an interval is null when any
// resample left the value undefined, as np.quantile propagates NaN).
//
// Every metric here depends on the rows only through the counts of each
// (sensitive values, label, prediction) cell, and drawing n rows with
// replacement gives those counts a multinomial distribution with the
// cells' shares as probabilities; so each resample draws the counts
// directly (sequential binomials), in time independent of the row count.
// ROC AUC needs the rows themselves and has no interval.
func (a *accumulator) bootstrap(ctx context.Context, defs []*viewDef, res *Result) error {
	rng := rand.New(rand.NewPCG(a.cfg.Seed, 0x6d6c736563)) // "mlsec"
	nCells := len(a.cells) * 4
	probs := make([]float64, nCells)
	var n int64
	for t, c := range a.cells {
		probs[4*t], probs[4*t+1], probs[4*t+2], probs[4*t+3] = float64(c.TP), float64(c.FP), float64(c.TN), float64(c.FN)
		n += c.N()
	}
	for i := range probs {
		probs[i] /= float64(n)
	}
	// Layout of one sample vector: per view, per group, per base metric;
	// then per view, per disparity.
	width := 0
	for vi, d := range defs {
		width += len(d.keys)*len(BaseMetrics) + len(res.Views[vi].Disparities)
	}
	samples := make([][]float64, a.cfg.Bootstrap)
	cells := make([]Confusion, len(a.cells))
	for b := range samples {
		if b%64 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		remaining, premain := n, 1.0
		for i, p := range probs {
			var k int64
			switch {
			case remaining == 0 || p == 0:
			case i == len(probs)-1 || p >= premain:
				k = remaining
			default:
				k = int64(distuv.Binomial{N: float64(remaining), P: p / premain, Src: rng}.Rand())
			}
			premain -= p
			remaining -= k
			t := i / 4
			switch i % 4 {
			case 0:
				cells[t].TP = k
			case 1:
				cells[t].FP = k
			case 2:
				cells[t].TN = k
			case 3:
				cells[t].FN = k
			}
		}
		var total Confusion
		for _, c := range cells {
			total.add(c)
		}
		vec := make([]float64, 0, width)
		for _, d := range defs {
			e := evaluate(d.confusions(cells), total, nil, NaN)
			for _, gm := range e.groups {
				for _, m := range BaseMetrics {
					vec = append(vec, float64(gm[m]))
				}
			}
			for _, dis := range e.disparities {
				vec = append(vec, float64(dis.Value))
			}
		}
		samples[b] = vec
	}
	lo, hi := (1-a.cfg.CILevel)/2, 1-(1-a.cfg.CILevel)/2
	col := make([]float64, len(samples))
	k := 0
	interval := func() [2]Num {
		for b := range samples {
			col[b] = samples[b][k]
		}
		k++
		return [2]Num{Num(quantile(col, lo)), Num(quantile(col, hi))}
	}
	for vi, d := range defs {
		v := &res.Views[vi]
		for g := range d.keys {
			v.Groups[g].CI = map[string][2]Num{}
			for _, m := range BaseMetrics {
				v.Groups[g].CI[m] = interval()
			}
		}
		for i := range v.Disparities {
			ci := interval()
			v.Disparities[i].CI = &ci
		}
	}
	return nil
}

// quantile is numpy.quantile with the default "linear" method; it sorts
// xs in place and returns NaN when any value is NaN.
func quantile(xs []float64, q float64) float64 {
	for _, x := range xs {
		if math.IsNaN(x) {
			return math.NaN()
		}
	}
	slices.Sort(xs)
	pos := q * float64(len(xs)-1)
	i := int(math.Floor(pos))
	if i >= len(xs)-1 {
		return xs[len(xs)-1]
	}
	frac := pos - float64(i)
	return xs[i] + frac*(xs[i+1]-xs[i])
}

// scoredChunk is the number of rows per chunk of kept scores: chunks are
// never reallocated, so memory is exactly what the rows need.
const scoredChunk = 1 << 20

// mergeSorted sorts each chunk by score and visits all rows in ascending
// score order through a k-way merge.
func mergeSorted(chunks [][]scoredRow, visit func(scoredRow)) {
	for _, c := range chunks {
		slices.SortFunc(c, func(a, b scoredRow) int { return cmp.Compare(a.score, b.score) })
	}
	pos := make([]int, len(chunks))
	for {
		best := -1
		for i, c := range chunks {
			if pos[i] < len(c) && (best < 0 || c[pos[i]].score < chunks[best][pos[best]].score) {
				best = i
			}
		}
		if best < 0 {
			return
		}
		// Emit the run of the best chunk that stays at or below every
		// other chunk's head.
		limit := math.Inf(1)
		for i, c := range chunks {
			if i != best && pos[i] < len(c) && c[pos[i]].score < limit {
				limit = c[pos[i]].score
			}
		}
		c := chunks[best]
		for pos[best] < len(c) && c[pos[best]].score <= limit {
			visit(c[pos[best]])
			pos[best]++
		}
	}
}
