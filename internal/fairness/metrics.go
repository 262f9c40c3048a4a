package fairness

import (
	"encoding/json"
	"math"
	"strconv"
)

// Num is a metric value. NaN means undefined (an intersection with no
// rows, a ratio of zero to zero) and is written as JSON null.
type Num float64

// NaN is the undefined value.
var NaN = Num(math.NaN())

// IsNaN reports whether n is undefined.
func (n Num) IsNaN() bool { return math.IsNaN(float64(n)) }

// MarshalJSON writes null for NaN and infinities.
func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// UnmarshalJSON reads null as NaN.
func (n *Num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = NaN
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*n = Num(f)
	return nil
}

// Confusion holds the confusion-matrix counts of one group.
type Confusion struct {
	TP, FP, TN, FN int64
}

// N is the number of rows.
func (c Confusion) N() int64 { return c.TP + c.FP + c.TN + c.FN }

func (c *Confusion) add(o Confusion) {
	c.TP += o.TP
	c.FP += o.FP
	c.TN += o.TN
	c.FN += o.FN
}

// Metric names, as Fairlearn and scikit-learn call them.
const (
	MetricCount     = "count"
	MetricSelection = "selection_rate"
	MetricAccuracy  = "accuracy"
	MetricTPR       = "true_positive_rate"
	MetricFPR       = "false_positive_rate"
	MetricFNR       = "false_negative_rate"
	MetricTNR       = "true_negative_rate"
	MetricPrecision = "precision"
	MetricROCAUC    = "roc_auc"
)

// BaseMetrics lists the per-group metrics in report order (roc_auc only
// when a score column was given).
var BaseMetrics = []string{MetricSelection, MetricAccuracy, MetricTPR, MetricFPR, MetricFNR, MetricTNR, MetricPrecision}

// rate divides the way scikit-learn's confusion_matrix(normalize="true")
// and precision_score(zero_division=…) do: an empty denominator gives 0.
func rate(num, den int64) Num {
	if den == 0 {
		return 0
	}
	return Num(float64(num) / float64(den))
}

// metricsOf computes the confusion-matrix metrics of one group following
// Fairlearn and scikit-learn:
//
//   - selection_rate = mean(y_pred == pos) (Fairlearn selection_rate)
//   - accuracy = mean(y_true == y_pred) (sklearn accuracy_score)
//   - TPR, FPR, FNR, TNR come from sklearn's confusion_matrix with
//     normalize="true" (Fairlearn's *_rate functions): each row of the
//     matrix is divided by its sum and NaN is replaced by 0, so a group with
//     no positives has TPR = FNR = 0 and one with no negatives FPR = TNR = 0.
//   - precision = TP / (TP + FP), 0 when nothing was predicted positive
//     (sklearn's zero_division default).
//
// An empty group (an intersection absent from the data) has every metric
// undefined, as Fairlearn's reindexed MetricFrame does.
func metricsOf(c Confusion) map[string]Num {
	n := c.N()
	m := make(map[string]Num, len(BaseMetrics)+1)
	if n == 0 {
		for _, k := range BaseMetrics {
			m[k] = NaN
		}
		return m
	}
	m[MetricSelection] = Num(float64(c.TP+c.FP) / float64(n))
	m[MetricAccuracy] = Num(float64(c.TP+c.TN) / float64(n))
	m[MetricTPR] = rate(c.TP, c.TP+c.FN)
	m[MetricFNR] = rate(c.FN, c.TP+c.FN)
	m[MetricFPR] = rate(c.FP, c.FP+c.TN)
	m[MetricTNR] = rate(c.TN, c.FP+c.TN)
	m[MetricPrecision] = rate(c.TP, c.TP+c.FP)
	return m
}

// Aggregate holds MetricFrame's summaries of one metric over the groups.
type Aggregate struct {
	Overall  Num `json:"overall"`
	GroupMin Num `json:"group_min"`
	GroupMax Num `json:"group_max"`
	// DifferenceBetween is group_max - group_min (method="between_groups").
	DifferenceBetween Num `json:"difference_between_groups"`
	// DifferenceToOverall is max |group - overall| (method="to_overall").
	DifferenceToOverall Num `json:"difference_to_overall"`
	// RatioBetween is group_min / group_max (method="between_groups").
	RatioBetween Num `json:"ratio_between_groups"`
	// RatioToOverall is min over groups of group/overall, each folded below
	// one by taking its reciprocal when above one (method="to_overall").
	RatioToOverall Num `json:"ratio_to_overall"`
}

// aggregate reproduces MetricFrame.group_min/group_max/difference/ratio
// with pandas semantics: NaN entries (empty intersections) are skipped by
// min and max, 0/0 is NaN, x/0 is +Inf (which the to_overall ratio folds to
// 0), and an all-NaN column aggregates to NaN.
func aggregate(overall Num, byGroup []Num) Aggregate {
	a := Aggregate{Overall: overall, GroupMin: NaN, GroupMax: NaN,
		DifferenceBetween: NaN, DifferenceToOverall: NaN, RatioBetween: NaN, RatioToOverall: NaN}
	for _, v := range byGroup {
		if v.IsNaN() {
			continue
		}
		if a.GroupMin.IsNaN() || v < a.GroupMin {
			a.GroupMin = v
		}
		if a.GroupMax.IsNaN() || v > a.GroupMax {
			a.GroupMax = v
		}
		d := Num(math.Abs(float64(v - overall)))
		if !d.IsNaN() && (a.DifferenceToOverall.IsNaN() || d > a.DifferenceToOverall) {
			a.DifferenceToOverall = d
		}
		r := pyDiv(v, overall)
		if r > 1 { // ratio_sub_one; NaN > 1 is false, +Inf > 1 is true
			r = 1 / r
		}
		if !r.IsNaN() && (a.RatioToOverall.IsNaN() || r < a.RatioToOverall) {
			a.RatioToOverall = r
		}
	}
	if !a.GroupMin.IsNaN() {
		// pandas computes (by_group - group_min).abs().max(); for a column
		// that is exactly group_max - group_min.
		a.DifferenceBetween = a.GroupMax - a.GroupMin
		a.RatioBetween = pyDiv(a.GroupMin, a.GroupMax)
	}
	return a
}

// pyDiv divides as numpy does on floats: 0/0 and NaN operands give NaN,
// x/0 gives ±Inf.
func pyDiv(a, b Num) Num { return Num(float64(a) / float64(b)) }

// pyMax and pyMin are Python's built-in max and min of two values, which
// Fairlearn's equalized odds uses over [tpr, fpr]: the first argument wins
// unless the second compares strictly greater (less), so a NaN first
// argument is returned as is and a NaN second argument is ignored.
func pyMax(a, b Num) Num {
	if b > a {
		return b
	}
	return a
}

func pyMin(a, b Num) Num {
	if b < a {
		return b
	}
	return a
}
