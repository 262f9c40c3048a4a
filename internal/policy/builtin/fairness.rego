# MLS-POL-008: fairness thresholds, when a fairness report exists.
# Denies when any group's disparate impact ratio is below
# config.fairness.min_disparate_impact, or when the report marks a
# disparity as past its threshold.
package mlsec.rules.fairness

import data.mlsec.lib

deny contains lib.violation("MLS-POL-008", "high", msg) if {
	some g in input.fairness.groups
	g.disparate_impact < lib.config.fairness.min_disparate_impact
	msg := sprintf("disparate impact of group %s (%s) is %.3f, below %.2f", [g.name, g.view, g.disparate_impact, lib.config.fairness.min_disparate_impact])
}

deny contains lib.violation("MLS-POL-008", "medium", msg) if {
	some d in input.fairness.disparities
	d.breach
	msg := sprintf("%s over %s is %.3f, past the threshold %.3f", [d.name, d.view, d.value, d.threshold])
}
