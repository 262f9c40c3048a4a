# Shared helpers and settings of the built-in pack. Settings come from
# default_config, overridden key by key (recursively) by data.mlsec.config,
# which a policy directory sets in a data.json or data.yaml file:
#
#   {"mlsec": {"config": {"license_allow": ["Apache-2.0", "MIT"]}}}
package mlsec.lib

default_config := {
	# Scan findings at these severities block release (MLS-POL-001).
	"blocking_severities": ["critical", "high"],
	# Signer identities, certificate subjects or key hints accepted by
	# MLS-POL-003. Empty: any signature that verifies is accepted (the
	# verifier was already given the trusted key or identity).
	"trusted_signers": [],
	# SPDX licence IDs accepted by MLS-POL-006.
	"license_allow": [
		"Apache-2.0", "MIT", "BSD-2-Clause", "BSD-3-Clause", "ISC", "MPL-2.0",
		"PSF-2.0", "Python-2.0", "Unlicense", "CC0-1.0", "CC-BY-4.0", "Zlib",
	],
	# SLSA build types accepted as a training attestation (MLS-POL-007).
	"training_build_types": ["https://mlsec.dev/attestation/training/v1"],
	# MLS-POL-008: the lowest acceptable disparate impact ratio (four-fifths rule).
	"fairness": {"min_disparate_impact": 0.8},
	# MLS-POL-009: the highest acceptable attack success rate and the lowest
	# acceptable accuracy under attack.
	# max_success_rate overrides the limit per attack kind: an extraction
	# "succeeds" with the surrogate's fidelity, cloned at 0.9.
	"robustness": {
		"max_attack_success_rate": 0.2,
		"max_success_rate": {"extraction": 0.9},
		"min_robust_accuracy": 0.5,
	},
}

default user_config := {}

user_config := data.mlsec.config

config := object.union(default_config, user_config)

# violation builds a deny or warn entry.
violation(rule, severity, msg) := {"rule": rule, "severity": severity, "msg": msg}

# finding_violation ties a violation to the scan finding that caused it, so
# a waiver may name either the policy rule or the finding's rule.
finding_violation(rule, f, msg) := {
	"rule": rule,
	"severity": f.severity,
	"msg": msg,
	"finding_rule": f.rule_id,
	"where": f.where,
}
