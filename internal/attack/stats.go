package attack

import (
	"math"
	"slices"
	"sort"
)

// Median of xs (NaN when empty).
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// ROCPoint is one operating point of a score threshold.
type ROCPoint struct {
	FPR float64 `json:"fpr"`
	TPR float64 `json:"tpr"`
}

// ROC summarises how well a score separates positives (members) from
// negatives (non-members); higher scores mean "positive".
type ROC struct {
	AUC float64 `json:"auc"`
	// Advantage is max over thresholds of TPR − FPR (Yeom et al.'s
	// membership advantage).
	Advantage float64 `json:"advantage"`
	// TPRAt1FPR is the highest TPR at a false-positive rate of at most 1%
	// (Carlini et al., "Membership Inference Attacks From First
	// Principles").
	TPRAt1FPR float64 `json:"tpr_at_1pct_fpr"`
	// Curve is the ROC curve, thinned to at most ~200 points.
	Curve []ROCPoint `json:"curve"`
}

// ComputeROC computes the ROC of scores for positives pos and negatives neg.
// Ties are handled exactly (AUC counts a tie as one half).
func ComputeROC(pos, neg []float64) ROC {
	type sc struct {
		v   float64
		pos bool
	}
	all := make([]sc, 0, len(pos)+len(neg))
	for _, v := range pos {
		all = append(all, sc{v, true})
	}
	for _, v := range neg {
		all = append(all, sc{v, false})
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].v > all[j].v })
	np, nn := float64(len(pos)), float64(len(neg))
	r := ROC{Curve: []ROCPoint{{0, 0}}}
	if np == 0 || nn == 0 {
		r.AUC = math.NaN()
		return r
	}
	var tp, fp float64
	var auc float64
	for i := 0; i < len(all); {
		j := i
		var dtp, dfp float64
		for j < len(all) && all[j].v == all[i].v {
			if all[j].pos {
				dtp++
			} else {
				dfp++
			}
			j++
		}
		auc += dfp * (tp + dtp/2)
		tp, fp = tp+dtp, fp+dfp
		tpr, fpr := tp/np, fp/nn
		r.Advantage = max(r.Advantage, tpr-fpr)
		if fpr <= 0.01 {
			r.TPRAt1FPR = max(r.TPRAt1FPR, tpr)
		}
		r.Curve = append(r.Curve, ROCPoint{FPR: fpr, TPR: tpr})
		i = j
	}
	r.AUC = auc / (np * nn)
	if len(r.Curve) > 201 {
		step := float64(len(r.Curve)-1) / 200
		thin := make([]ROCPoint, 0, 201)
		for k := 0; k <= 200; k++ {
			thin = append(thin, r.Curve[int(math.Round(float64(k)*step))])
		}
		r.Curve = thin
	}
	return r
}
