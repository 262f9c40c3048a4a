package fairness

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlsec/mlsec/internal/tabular"
)

const tol = 1e-12

func near(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= tol
}

func disparity(t *testing.T, v View, name, method string) float64 {
	t.Helper()
	for _, d := range v.Disparities {
		if d.Name == name && d.Method == method {
			return float64(d.Value)
		}
	}
	t.Fatalf("no %s/%s", name, method)
	return 0
}

func analyzeCounts(t *testing.T, cfg Config, groups map[string]Confusion) *Result {
	t.Helper()
	var keys [][]string
	var counts []Confusion
	for k, c := range groups {
		keys = append(keys, strings.Split(k, "|"))
		counts = append(counts, c)
	}
	res, err := FromConfusion(context.Background(), cfg, keys, counts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestHandComputed checks every disparity on a two-group table worked out
// by hand (see the comments for the arithmetic).
func TestHandComputed(t *testing.T) {
	// A: TP=3 FN=1 FP=1 TN=5 -> sel .4, TPR .75, FPR 1/6
	// B: TP=1 FN=3 FP=2 TN=4 -> sel .3, TPR .25, FPR 1/3
	// overall: TP=4 FN=4 FP=3 TN=9 -> sel .35, TPR .5, FPR .25
	res := analyzeCounts(t, Config{Label: "y", Pred: "p", Sensitive: []string{"g"}}, map[string]Confusion{
		"A": {TP: 3, FN: 1, FP: 1, TN: 5},
		"B": {TP: 1, FN: 3, FP: 2, TN: 4},
	})
	v := res.Views[0]
	a, b := v.Groups[0].Metrics, v.Groups[1].Metrics
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"A selection", float64(a[MetricSelection]), 0.4},
		{"A accuracy", float64(a[MetricAccuracy]), 0.8},
		{"A tpr", float64(a[MetricTPR]), 0.75},
		{"A fpr", float64(a[MetricFPR]), 1.0 / 6},
		{"A fnr", float64(a[MetricFNR]), 0.25},
		{"A tnr", float64(a[MetricTNR]), 5.0 / 6},
		{"A precision", float64(a[MetricPrecision]), 0.75},
		{"B precision", float64(b[MetricPrecision]), 1.0 / 3},
		{"overall selection", float64(res.Overall.Metrics[MetricSelection]), 0.35},
		{"dpd between", disparity(t, v, DemographicParityDifference, BetweenGroups), 0.4 - 0.3},
		{"dpd to_overall", disparity(t, v, DemographicParityDifference, ToOverall), 0.4 - 0.35},
		{"dpr between", disparity(t, v, DemographicParityRatio, BetweenGroups), 0.3 / 0.4},
		{"dpr to_overall", disparity(t, v, DemographicParityRatio, ToOverall), 0.3 / 0.35},
		{"eod between", disparity(t, v, EqualizedOddsDifference, BetweenGroups), 0.5},
		{"eod to_overall", disparity(t, v, EqualizedOddsDifference, ToOverall), 0.25},
		{"eor between", disparity(t, v, EqualizedOddsRatio, BetweenGroups), 1.0 / 3},
		{"eor to_overall", disparity(t, v, EqualizedOddsRatio, ToOverall), 0.5},
		{"eopd between", disparity(t, v, EqualOpportunityDifference, BetweenGroups), 0.5},
		{"eopr between", disparity(t, v, EqualOpportunityRatio, BetweenGroups), 1.0 / 3},
		{"eopr to_overall", disparity(t, v, EqualOpportunityRatio, ToOverall), 0.5},
		{"di", disparity(t, v, DisparateImpactRatio, BetweenGroups), 0.75},
		{"B di", float64(*v.Groups[1].DisparateImpact), 0.75},
	} {
		if !near(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	// With default thresholds: dpd 0.1 is not > 0.1 (it is 0.1000…03 in
	// floating point, as in Fairlearn, so it is); di 0.75 < 0.8; eod 0.5.
	rules := map[string]bool{}
	for _, f := range res.Findings {
		rules[f.RuleID] = true
	}
	for _, id := range []string{"MLS-FAIR-002", "MLS-FAIR-003", "MLS-FAIR-004", "MLS-FAIR-005"} {
		if !rules[id] {
			t.Errorf("missing finding %s in %v", id, rules)
		}
	}
}

func TestEdgeCases(t *testing.T) {
	cfg := Config{Label: "y", Pred: "p", Sensitive: []string{"g"}}
	t.Run("group without positives", func(t *testing.T) {
		res := analyzeCounts(t, cfg, map[string]Confusion{
			"A": {TP: 2, FN: 2, FP: 1, TN: 5},
			"C": {FP: 2, TN: 3}, // no positive labels: TPR = FNR = 0 (sklearn nan_to_num)
		})
		v := res.Views[0]
		c := v.Groups[1].Metrics
		if c[MetricTPR] != 0 || c[MetricFNR] != 0 || !near(float64(c[MetricFPR]), 0.4) {
			t.Fatalf("C metrics %v", c)
		}
		if got := disparity(t, v, EqualOpportunityRatio, BetweenGroups); got != 0 {
			t.Errorf("eop ratio %v, want 0", got)
		}
		if got := disparity(t, v, EqualOpportunityDifference, BetweenGroups); !near(got, 0.5) {
			t.Errorf("eop diff %v", got)
		}
		found := false
		for _, f := range res.Findings {
			found = found || f.RuleID == RuleUndefinedRate.ID
		}
		if !found {
			t.Error("no undefined-rate finding")
		}
	})
	t.Run("largest value zero", func(t *testing.T) {
		// Nobody is predicted positive: every selection rate and TPR is 0.
		res := analyzeCounts(t, cfg, map[string]Confusion{
			"A": {FN: 2, TN: 5},
			"B": {FN: 1, TN: 3},
		})
		v := res.Views[0]
		for _, m := range []string{BetweenGroups, ToOverall} {
			if got := disparity(t, v, DemographicParityRatio, m); !math.IsNaN(got) {
				t.Errorf("dp ratio %s = %v, want NaN (0/0)", m, got)
			}
			if got := disparity(t, v, DemographicParityDifference, m); got != 0 {
				t.Errorf("dp diff %s = %v", m, got)
			}
			// min([tpr_ratio=NaN, fpr_ratio=NaN]) is NaN.
			if got := disparity(t, v, EqualizedOddsRatio, m); !math.IsNaN(got) {
				t.Errorf("eo ratio %s = %v", m, got)
			}
		}
		for _, f := range res.Findings {
			if f.RuleID == RuleDisparateImpact.ID {
				t.Error("an undefined ratio must not be judged")
			}
		}
	})
	t.Run("tpr ratio NaN comes first", func(t *testing.T) {
		// No true positives anywhere (TPR ratio 0/0 = NaN) but FPR differs:
		// Python's min([nan, x]) is nan, so the equalized odds ratio is NaN;
		// max([0, x]) for the difference is x.
		res := analyzeCounts(t, cfg, map[string]Confusion{
			"A": {FN: 2, FP: 1, TN: 3},
			"B": {FN: 1, FP: 2, TN: 2},
		})
		v := res.Views[0]
		if got := disparity(t, v, EqualizedOddsRatio, BetweenGroups); !math.IsNaN(got) {
			t.Errorf("eo ratio %v, want NaN", got)
		}
		if got := disparity(t, v, EqualizedOddsDifference, BetweenGroups); !near(got, 0.5-0.25) {
			t.Errorf("eo diff %v", got)
		}
	})
	t.Run("fpr ratio NaN comes second", func(t *testing.T) {
		// No negatives predicted positive anywhere (FPR 0/0): min([tpr, nan]) = tpr.
		res := analyzeCounts(t, cfg, map[string]Confusion{
			"A": {TP: 2, FN: 2, TN: 3},
			"B": {TP: 1, FN: 3, TN: 2},
		})
		if got := disparity(t, res.Views[0], EqualizedOddsRatio, BetweenGroups); !near(got, 0.5) {
			t.Errorf("eo ratio %v, want 0.5", got)
		}
	})
	t.Run("to_overall with a zero overall folds infinity to zero", func(t *testing.T) {
		a := aggregate(0, []Num{0, 0.5})
		if a.RatioToOverall != 0 {
			t.Errorf("ratio to overall %v, want 0 (0.5/0 = inf -> 1/inf)", a.RatioToOverall)
		}
	})
	t.Run("single group", func(t *testing.T) {
		res := analyzeCounts(t, cfg, map[string]Confusion{"only": {TP: 3, FN: 1, FP: 2, TN: 4}})
		v := res.Views[0]
		for _, m := range []string{BetweenGroups, ToOverall} {
			if disparity(t, v, DemographicParityDifference, m) != 0 || disparity(t, v, DemographicParityRatio, m) != 1 ||
				disparity(t, v, EqualizedOddsDifference, m) != 0 || disparity(t, v, EqualizedOddsRatio, m) != 1 {
				t.Errorf("%s: %+v", m, v.Disparities)
			}
		}
	})
	t.Run("intersection with an empty combination", func(t *testing.T) {
		c := cfg
		c.Sensitive = []string{"sex", "race"}
		c.Intersectional = true
		res := analyzeCounts(t, c, map[string]Confusion{
			"f|a": {TP: 2, FN: 1, FP: 1, TN: 4},
			"f|b": {TP: 1, FN: 1, FP: 0, TN: 6},
			"m|a": {TP: 3, FN: 0, FP: 2, TN: 3},
			// m|b is absent: NaN, skipped by min/max as pandas does.
		})
		if len(res.Views) != 3 {
			t.Fatalf("%d views", len(res.Views))
		}
		x := res.Views[2]
		if x.Name != "sex × race" || len(x.Groups) != 4 || x.Groups[3].Name != "m, b" || x.Groups[3].Count != 0 ||
			!x.Groups[3].Metrics[MetricSelection].IsNaN() {
			t.Fatalf("%+v", x.Groups)
		}
		// selection: f,a 3/8; f,b 1/8; m,a 5/8
		if got := disparity(t, x, DemographicParityDifference, BetweenGroups); !near(got, 5.0/8-1.0/8) {
			t.Errorf("dpd %v", got)
		}
		if got := disparity(t, x, DemographicParityRatio, BetweenGroups); !near(got, 0.2) {
			t.Errorf("dpr %v", got)
		}
		// sex alone: f 4/16, m 5/8
		if got := disparity(t, res.Views[0], DemographicParityDifference, BetweenGroups); !near(got, 5.0/8-4.0/16) {
			t.Errorf("sex dpd %v", got)
		}
	})
}

// row is one generated prediction.
type row struct {
	sex, race, age string
	y, p           int
	score          float64
}

// generate makes a realistic lending-style data set: three sensitive
// features, a label that depends on income, and a model that scores one
// group lower than its income warrants.
func generate(n int, seed uint64) []row {
	rng := rand.New(rand.NewPCG(seed, 1))
	races := []string{"asian", "black", "hispanic", "white", "other"}
	ages := []string{"18-25", "26-40", "41-65", "65+"}
	out := make([]row, n)
	for i := range out {
		r := row{sex: "male", race: races[rng.IntN(len(races))], age: ages[rng.IntN(len(ages))]}
		if rng.Float64() < 0.48 {
			r.sex = "female"
		}
		if rng.Float64() < 0.02 {
			r.race = "pacific"
		}
		income := rng.NormFloat64()
		if r.age == "18-25" {
			income -= 0.5
		}
		if rng.Float64() < 1/(1+math.Exp(-1.5*income)) {
			r.y = 1
		}
		logit := 1.5*income + 0.6*rng.NormFloat64()
		if r.sex == "female" {
			logit -= 0.5
		}
		if r.race == "black" {
			logit -= 0.3
		}
		r.score = math.Round(1/(1+math.Exp(-logit))*1000) / 1000 // ties, as real scores have
		if r.score >= 0.5 {
			r.p = 1
		}
		out[i] = r
	}
	return out
}

// reference computes by-group metrics row by row, straight from the
// Fairlearn/scikit-learn definitions, without any of the package's code.
func reference(rows []row, key func(row) string) (map[string]map[string]float64, map[string]float64) {
	type acc struct{ n, sel, correct, tp, fp, tn, fn float64 }
	by := map[string]*acc{}
	var all acc
	for _, r := range rows {
		for _, a := range []*acc{by[key(r)], &all} {
			if a == nil {
				a = &acc{}
				by[key(r)] = a
			}
			a.n++
			if r.p == 1 {
				a.sel++
			}
			if r.p == r.y {
				a.correct++
			}
			switch {
			case r.y == 1 && r.p == 1:
				a.tp++
			case r.y == 1:
				a.fn++
			case r.p == 1:
				a.fp++
			default:
				a.tn++
			}
		}
	}
	div := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	m := func(a *acc) map[string]float64 {
		return map[string]float64{
			MetricSelection: a.sel / a.n, MetricAccuracy: a.correct / a.n,
			MetricTPR: div(a.tp, a.tp+a.fn), MetricFPR: div(a.fp, a.fp+a.tn),
			MetricFNR: div(a.fn, a.tp+a.fn), MetricTNR: div(a.tn, a.fp+a.tn), MetricPrecision: div(a.tp, a.tp+a.fp),
		}
	}
	out := map[string]map[string]float64{}
	for k, a := range by {
		out[k] = m(a)
	}
	return out, m(&all)
}

// bruteAUC is the probability that a random positive outscores a random
// negative (ties one half), over every pair.
func bruteAUC(rows []row, keep func(row) bool) float64 {
	var num, pairs float64
	for _, p := range rows {
		if p.y != 1 || !keep(p) {
			continue
		}
		for _, n := range rows {
			if n.y != 0 || !keep(n) {
				continue
			}
			pairs++
			switch {
			case p.score > n.score:
				num++
			case p.score == n.score:
				num += 0.5
			}
		}
	}
	if pairs == 0 {
		return math.NaN()
	}
	return num / pairs
}

func writeCSV(t testing.TB, rows []row) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "preds.csv")
	var b strings.Builder
	b.WriteString("id,sex,race,age_band,label,prediction,score\n")
	for i, r := range rows {
		fmt.Fprintf(&b, "%d,%s,%s,%s,%d,%d,%g\n", i, r.sex, r.race, r.age, r.y, r.p, r.score)
	}
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGeneratedAgainstReference(t *testing.T) {
	rows := generate(3000, 7)
	p := writeCSV(t, rows)
	src, err := tabular.Open(p, tabular.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	res, err := Analyze(context.Background(), src, Config{
		Label: "label", Pred: "prediction", Score: "score",
		Sensitive: []string{"sex", "race", "age_band"}, Intersectional: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Input.Rows != 3000 || len(res.Views) != 4 {
		t.Fatalf("rows %d views %d", res.Input.Rows, len(res.Views))
	}
	keys := map[string]func(row) string{
		"sex":                   func(r row) string { return r.sex },
		"race":                  func(r row) string { return r.race },
		"age_band":              func(r row) string { return r.age },
		"sex × race × age_band": func(r row) string { return r.sex + ", " + r.race + ", " + r.age },
	}
	for _, v := range res.Views {
		key := keys[v.Name]
		want, overall := reference(rows, key)
		for m, w := range overall {
			if !near(float64(res.Overall.Metrics[m]), w) {
				t.Errorf("overall %s = %v, want %v", m, res.Overall.Metrics[m], w)
			}
		}
		// Reference disparities from the by-group dictionary.
		lo, hi := map[string]float64{}, map[string]float64{}
		for _, g := range v.Groups {
			w, ok := want[g.Name]
			if !ok {
				if g.Count != 0 {
					t.Errorf("%s: unexpected group %q", v.Name, g.Name)
				}
				continue
			}
			for m, x := range w {
				if !near(float64(g.Metrics[m]), x) {
					t.Errorf("%s/%s %s = %v, want %v", v.Name, g.Name, m, g.Metrics[m], x)
				}
				if _, ok := lo[m]; !ok || x < lo[m] {
					lo[m] = x
				}
				if _, ok := hi[m]; !ok || x > hi[m] {
					hi[m] = x
				}
			}
			if v.Name != "sex × race × age_band" || g.Count > 60 { // brute force on the small groups only
				continue
			}
			k := g.Name
			if got, w := float64(g.Metrics[MetricROCAUC]), bruteAUC(rows, func(r row) bool { return key(r) == k }); !near(got, w) {
				t.Errorf("%s/%s auc = %v, want %v", v.Name, g.Name, got, w)
			}
		}
		if got := disparity(t, v, DemographicParityDifference, BetweenGroups); !near(got, hi[MetricSelection]-lo[MetricSelection]) {
			t.Errorf("%s dpd %v", v.Name, got)
		}
		eod := math.Max(hi[MetricTPR]-lo[MetricTPR], hi[MetricFPR]-lo[MetricFPR])
		if got := disparity(t, v, EqualizedOddsDifference, BetweenGroups); !near(got, eod) {
			t.Errorf("%s eod %v want %v", v.Name, got, eod)
		}
	}
	if got, w := float64(res.Overall.Metrics[MetricROCAUC]), bruteAUC(rows, func(row) bool { return true }); !near(got, w) {
		t.Errorf("overall auc %v, want %v", got, w)
	}
	// The model is biased against women: demographic parity on sex fails.
	var sexFinding bool
	for _, f := range res.Findings {
		if f.Location.Pointer == "/views/sex/disparities/demographic_parity_difference" {
			sexFinding = true
		}
	}
	if !sexFinding {
		t.Errorf("no demographic parity finding on sex: %v", res.Findings)
	}
}

func TestBootstrapReproducible(t *testing.T) {
	rows := generate(2000, 3)
	p := writeCSV(t, rows)
	run := func(seed uint64) *Result {
		src, err := tabular.Open(p, tabular.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		res, err := Analyze(context.Background(), src, Config{Label: "label", Pred: "prediction",
			Sensitive: []string{"sex"}, Bootstrap: 200, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	a, b, c := run(42), run(42), run(43)
	da, db, dc := a.Views[0].Disparities[0], b.Views[0].Disparities[0], c.Views[0].Disparities[0]
	if da.CI == nil || *da.CI != *db.CI {
		t.Fatalf("same seed, different intervals: %v %v", da.CI, db.CI)
	}
	if *da.CI == *dc.CI {
		t.Errorf("different seeds, same interval %v", da.CI)
	}
	if !(da.CI[0] <= da.Value && da.Value <= da.CI[1]) || da.CI[1]-da.CI[0] > 0.2 {
		t.Errorf("interval %v around %v", *da.CI, da.Value)
	}
	g := a.Views[0].Groups[0]
	ci := g.CI[MetricSelection]
	if !(ci[0] < g.Metrics[MetricSelection] && g.Metrics[MetricSelection] < ci[1]) {
		t.Errorf("group interval %v around %v", ci, g.Metrics[MetricSelection])
	}
}

func TestQuantileLikeNumpy(t *testing.T) {
	xs := []float64{4, 1, 3, 2}
	// numpy.quantile([1,2,3,4], [0, .25, .5, .975, 1]) = 1, 1.75, 2.5, 3.925, 4
	for q, want := range map[float64]float64{0: 1, 0.25: 1.75, 0.5: 2.5, 0.975: 3.925, 1: 4} {
		if got := quantile(append([]float64(nil), xs...), q); math.Abs(got-want) > 1e-12 {
			t.Errorf("q%v = %v, want %v", q, got, want)
		}
	}
	if !math.IsNaN(quantile([]float64{1, math.NaN()}, 0.5)) {
		t.Error("NaN must propagate")
	}
}

func TestInputErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ name, csv, want string }{
		{"three classes", "y,p,g\n1,0,a\n0,2,b\n", "third value"},
		{"missing sensitive", "y,p,g\n1,0,a\n0,1,\n", "row 2: sensitive column \"g\": missing value"},
		{"missing label", "y,p,g\n,0,a\n", "label column"},
		{"no rows", "y,p,g\n", "no data rows"},
		{"no column", "y,p\n1,0\n", "no such column"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.name+".csv")
			os.WriteFile(p, []byte(tt.csv), 0o644)
			src, err := tabular.Open(p, tabular.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			_, err = Analyze(context.Background(), src, Config{Label: "y", Pred: "p", Sensitive: []string{"g"}})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := FromConfusion(context.Background(), Config{Label: "y", Pred: "p"}, nil, nil); err == nil {
		t.Error("config without sensitive features accepted")
	}
}

func TestLabelSpellings(t *testing.T) {
	// 1, 1.0 and True are the same positive label; "yes" needs --positive.
	p := filepath.Join(t.TempDir(), "x.csv")
	os.WriteFile(p, []byte("y,p,g\n1,1.0,a\nTrue,0,a\n0.0,False,b\n"), 0o644)
	src, _ := tabular.Open(p, tabular.Limits{})
	defer src.Close()
	res, err := Analyze(context.Background(), src, Config{Label: "y", Pred: "p", Sensitive: []string{"g"}})
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Overall.Confusion; c != (Confusion{TP: 1, FN: 1, TN: 1}) {
		t.Fatalf("%+v", c)
	}
}

func TestMergeSorted(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	var chunks [][]scoredRow
	n := 0
	for c := 0; c < 5; c++ {
		var ch []scoredRow
		for i := 0; i < rng.IntN(50); i++ {
			ch = append(ch, scoredRow{score: float64(rng.IntN(20))})
			n++
		}
		chunks = append(chunks, ch)
	}
	var got []float64
	mergeSorted(chunks, func(r scoredRow) { got = append(got, r.score) })
	if len(got) != n {
		t.Fatalf("%d rows, want %d", len(got), n)
	}
	for i := 1; i < len(got); i++ {
		if got[i] < got[i-1] {
			t.Fatalf("out of order at %d: %v", i, got)
		}
	}
}
