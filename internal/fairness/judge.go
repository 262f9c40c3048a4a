package fairness

import (
	"fmt"
	"strings"

	"github.com/mlsec/mlsec/internal/finding"
)

// ruleFor maps a disparity to the rule that reports it.
func ruleFor(name string) *finding.Rule {
	switch name {
	case DemographicParityDifference, DemographicParityRatio:
		return RuleDemographicParity
	case DisparateImpactRatio:
		return RuleDisparateImpact
	case EqualizedOddsDifference, EqualizedOddsRatio:
		return RuleEqualizedOdds
	default:
		return RuleEqualOpportunity
	}
}

// judge sets thresholds and breaches on the disparities and turns what is
// past a threshold into findings.
func judge(res *Result, cfg Config) []finding.Finding {
	var out []finding.Finding
	art := res.Artifact
	if art.Path == "" {
		art = finding.Artifact{Path: res.Input.Path, Size: res.Input.Size, Format: string(res.Input.Format)}
	}
	for vi := range res.Views {
		v := &res.Views[vi]
		for di := range v.Disparities {
			d := &v.Disparities[di]
			th, ok := cfg.Thresholds[d.Name]
			if !ok {
				continue
			}
			t := Num(th)
			d.Threshold = &t
			if d.Method != cfg.Method && d.Name != DisparateImpactRatio {
				continue
			}
			if d.Value.IsNaN() {
				continue
			}
			if IsRatio(d.Name) {
				d.Breach = d.Value < t
			} else {
				d.Breach = d.Value > t
			}
			if !d.Breach {
				continue
			}
			out = append(out, disparityFinding(art, v, d))
		}
		var small, oneClass []string
		for _, g := range v.Groups {
			if g.Count == 0 {
				continue
			}
			if cfg.MinGroupSize > 0 && g.Count < cfg.MinGroupSize {
				small = append(small, fmt.Sprintf("%s (%d)", g.Name, g.Count))
			}
			if g.Positives == 0 || g.Negatives == 0 {
				what := "no positive labels"
				if g.Negatives == 0 {
					what = "no negative labels"
				}
				oneClass = append(oneClass, fmt.Sprintf("%s: %s", g.Name, what))
			}
		}
		if len(small) > 0 {
			f := finding.New(RuleSmallGroup, art, finding.Location{Pointer: "/views/" + escapePointer(v.Name) + "/groups"})
			f.Evidence = finding.Evidence{
				Text:   fmt.Sprintf("%s: %d group(s) below %d rows: %s", v.Name, len(small), cfg.MinGroupSize, truncList(small, 10)),
				Fields: map[string]any{"view": v.Name, "groups": small, "min_group_size": cfg.MinGroupSize},
			}
			out = append(out, f)
		}
		if len(oneClass) > 0 {
			f := finding.New(RuleUndefinedRate, art, finding.Location{Pointer: "/views/" + escapePointer(v.Name) + "/groups"})
			f.Evidence = finding.Evidence{
				Text:   fmt.Sprintf("%s: %s", v.Name, truncList(oneClass, 10)),
				Fields: map[string]any{"view": v.Name, "groups": oneClass},
			}
			out = append(out, f)
		}
	}
	finding.SortFindings(out)
	return out
}

func disparityFinding(art finding.Artifact, v *View, d *Disparity) finding.Finding {
	f := finding.New(ruleFor(d.Name), art, finding.Location{Pointer: "/views/" + escapePointer(v.Name) + "/disparities/" + d.Name})
	metric := MetricSelection
	switch d.Name {
	case EqualOpportunityDifference, EqualOpportunityRatio:
		metric = MetricTPR
	case EqualizedOddsDifference, EqualizedOddsRatio:
		// The worst case is whichever of TPR and FPR gave the value.
		metric = MetricTPR
		if pick(v.Metrics[MetricFPR], d) == d.Value && pick(v.Metrics[MetricTPR], d) != d.Value {
			metric = MetricFPR
		}
	}
	lowG, highG := extremes(v, metric)
	op := ">"
	if IsRatio(d.Name) {
		op = "<"
	}
	f.Evidence = finding.Evidence{
		Text: fmt.Sprintf("%s %s (%s) = %.4f %s %.4g; %s ranges from %.4f (%s) to %.4f (%s)",
			v.Name, d.Name, d.Method, float64(d.Value), op, float64(*d.Threshold),
			metric, float64(v.Metrics[metric].GroupMin), lowG, float64(v.Metrics[metric].GroupMax), highG),
		Fields: map[string]any{
			"view": v.Name, "metric": d.Name, "method": d.Method, "value": d.Value, "threshold": *d.Threshold,
			"base_metric": metric, "lowest_group": lowG, "highest_group": highG,
		},
	}
	if d.CI != nil {
		f.Evidence.Fields["ci"] = *d.CI
	}
	return f
}

// extremes names the groups with the lowest and highest value of a metric.
func extremes(v *View, metric string) (low, high string) {
	lo, hi := NaN, NaN
	for _, g := range v.Groups {
		x := g.Metrics[metric]
		if x.IsNaN() {
			continue
		}
		if lo.IsNaN() || x < lo {
			lo, low = x, g.Name
		}
		if hi.IsNaN() || x > hi {
			hi, high = x, g.Name
		}
	}
	return low, high
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func truncList(xs []string, n int) string {
	if len(xs) <= n {
		return strings.Join(xs, "; ")
	}
	return strings.Join(xs[:n], "; ") + fmt.Sprintf("; and %d more", len(xs)-n)
}

// pick returns the summary of a that a disparity of d's kind and method reads.
func pick(a Aggregate, d *Disparity) Num {
	switch {
	case IsRatio(d.Name) && d.Method == BetweenGroups:
		return a.RatioBetween
	case IsRatio(d.Name):
		return a.RatioToOverall
	case d.Method == BetweenGroups:
		return a.DifferenceBetween
	}
	return a.DifferenceToOverall
}
