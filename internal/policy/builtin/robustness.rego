# MLS-POL-009: robustness thresholds, when a robustness report exists.
# Denies when an attack succeeded more often than
# config.robustness.max_attack_success_rate, or when accuracy under attack
# fell below config.robustness.min_robust_accuracy.
package mlsec.rules.robustness

import data.mlsec.lib

deny contains lib.violation("MLS-POL-009", "high", msg) if {
	some a in input.robustness.attacks
	a.success_rate > lib.config.robustness.max_attack_success_rate
	msg := sprintf("%s attack %s succeeded %.1f%% of the time (limit %.1f%%)", [a.kind, a.name, a.success_rate * 100, lib.config.robustness.max_attack_success_rate * 100])
}

deny contains lib.violation("MLS-POL-009", "high", msg) if {
	some a in input.robustness.attacks
	is_number(a.robust_accuracy)
	a.robust_accuracy < lib.config.robustness.min_robust_accuracy
	msg := sprintf("accuracy under %s attack %s is %.3f, below %.2f", [a.kind, a.name, a.robust_accuracy, lib.config.robustness.min_robust_accuracy])
}
