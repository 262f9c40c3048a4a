package fairness

import "github.com/mlsec/mlsec/internal/finding"

// Control references shared by the fairness rules.
var (
	refNIST    = finding.Reference{Kind: "NIST-AI-RMF", ID: "MEASURE 2.11", URL: "https://airc.nist.gov/airmf-resources/airmf/5-sec-core/"}
	refEUAIAct = finding.Reference{Kind: "EU-AI-ACT", ID: "Art. 10(2)(f)", URL: "https://eur-lex.europa.eu/eli/reg/2024/1689/oj"}
	// OWASP's ML Top 10 has no fairness entry; ML08 (model skewing) is the
	// item about a model's outcomes being skewed against some inputs.
	refOWASP = finding.OWASPML("ML08")
	fairRefs = []finding.Reference{refNIST, refEUAIAct, refOWASP}
)

// Rules reported by the fairness analysis.
var (
	RuleDemographicParity = finding.MustRegister(finding.Rule{
		ID: "MLS-FAIR-001", Name: "DemographicParityGap", Severity: finding.Medium,
		Title:   "Selection rates differ across groups beyond the threshold",
		Summary: "The demographic parity difference (largest minus smallest group selection rate) is above, or the demographic parity ratio (smallest over largest) below, the configured threshold.",
		Doc: "Selection rate is the share of rows the model predicts positive, computed per group of a sensitive feature " +
			"exactly as Fairlearn's `selection_rate`. `between_groups` compares the extreme groups; `to_overall` compares each group with the whole data set.",
		Remediation: "Check whether the gap is justified by the task; otherwise rebalance or reweight training data, or apply a mitigation (threshold optimisation, reductions) and re-assess.",
		References:  fairRefs,
	})
	RuleDisparateImpact = finding.MustRegister(finding.Rule{
		ID: "MLS-FAIR-002", Name: "DisparateImpactFourFifths", Severity: finding.High,
		Title:   "Disparate impact: a group's selection rate is below four fifths of the highest",
		Summary: "The ratio of the lowest to the highest group selection rate is below the four-fifths (80%) rule of thumb used in adverse-impact analysis, or the configured ratio.",
		Doc: "The four-fifths rule (US EEOC Uniform Guidelines, 29 CFR 1607.4(D)) treats a selection rate for any group below 80% of the rate of the " +
			"group with the highest rate as evidence of adverse impact. The value equals Fairlearn's `demographic_parity_ratio` with `method=\"between_groups\"`.",
		Remediation: "Investigate the affected group's outcomes before release; mitigate and re-assess, and document the justification if the model ships.",
		References:  fairRefs,
	})
	RuleEqualizedOdds = finding.MustRegister(finding.Rule{
		ID: "MLS-FAIR-003", Name: "EqualizedOddsGap", Severity: finding.Medium,
		Title:       "Error rates (TPR or FPR) differ across groups beyond the threshold",
		Summary:     "The equalized odds difference (the larger of the true-positive-rate and false-positive-rate differences) is above, or the equalized odds ratio below, the configured threshold.",
		Doc:         "Computed as Fairlearn's `equalized_odds_difference` / `equalized_odds_ratio` with `agg=\"worst_case\"`.",
		Remediation: "Compare per-group confusion matrices; consider post-processing (equalized-odds threshold optimisation) or more representative training data.",
		References:  fairRefs,
	})
	RuleEqualOpportunity = finding.MustRegister(finding.Rule{
		ID: "MLS-FAIR-004", Name: "EqualOpportunityGap", Severity: finding.Medium,
		Title:       "True positive rates differ across groups beyond the threshold",
		Summary:     "The equal opportunity difference (largest minus smallest group true positive rate) is above, or the equal opportunity ratio below, the configured threshold.",
		Doc:         "Computed as Fairlearn's `equal_opportunity_difference` / `equal_opportunity_ratio`.",
		Remediation: "Qualified members of some group are missed more often: review features that proxy for the sensitive attribute and the group's label quality.",
		References:  fairRefs,
	})
	RuleSmallGroup = finding.MustRegister(finding.Rule{
		ID: "MLS-FAIR-005", Name: "FairnessSmallGroup", Severity: finding.Low,
		Title:       "A group is too small for its metrics to be reliable",
		Summary:     "A group (or intersection of groups) has fewer rows than the configured minimum, so its rates and the disparities that involve it have wide uncertainty.",
		Remediation: "Collect more evaluation data for the group, use bootstrap intervals (--bootstrap) to judge the uncertainty, or merge sparse categories.",
		References:  fairRefs,
	})
	RuleUndefinedRate = finding.MustRegister(finding.Rule{
		ID: "MLS-FAIR-006", Name: "FairnessUndefinedRate", Severity: finding.Low,
		Title:       "A group has no positive (or no negative) labels: its error rates are undefined",
		Summary:     "A group has no rows with a positive (or negative) true label, so its true (false) positive rate is 0 by scikit-learn's convention rather than measured; disparities involving it are not evidence either way.",
		Remediation: "Add labelled examples of both classes for the group before relying on equalized odds or equal opportunity.",
		References:  fairRefs,
	})
)
