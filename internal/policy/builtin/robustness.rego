# MLS-POL-009: robustness thresholds, when a robustness (or mlsec redteam)
# report exists. Denies when an attack succeeded more often than its limit
# (config.robustness.max_success_rate[kind], else
# config.robustness.max_attack_success_rate), or when accuracy under attack
# fell below config.robustness.min_robust_accuracy. For membership
# inference the success rate is the attack's advantage; for extraction, the
# surrogate's fidelity.
package mlsec.rules.robustness

import data.mlsec.lib

limit(kind) := lib.config.robustness.max_success_rate[kind]

limit(kind) := lib.config.robustness.max_attack_success_rate if not lib.config.robustness.max_success_rate[kind]

deny contains lib.violation("MLS-POL-009", "high", msg) if {
	some a in input.robustness.attacks
	a.success_rate > limit(a.kind)
	msg := sprintf("%s attack %s succeeded %.1f%% of the time (limit %.1f%%)", [a.kind, a.name, a.success_rate * 100, limit(a.kind) * 100])
}

deny contains lib.violation("MLS-POL-009", "high", msg) if {
	some a in input.robustness.attacks
	is_number(a.robust_accuracy)
	a.robust_accuracy < lib.config.robustness.min_robust_accuracy
	msg := sprintf("accuracy under %s attack %s is %.3f, below %.2f", [a.kind, a.name, a.robust_accuracy, lib.config.robustness.min_robust_accuracy])
}
