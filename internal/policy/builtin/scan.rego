# MLS-POL-001: no critical or high scan findings.
# Every finding at a blocking severity (config.blocking_severities) denies,
# except dependency vulnerabilities and malicious dependencies, which have
# their own rules (MLS-POL-005, MLS-POL-004).
package mlsec.rules.scan_findings

import data.mlsec.lib

own_rules := {"MLS-DEP-001", "MLS-DEP-002", "MLS-DEP-007"}

deny contains lib.finding_violation("MLS-POL-001", f, msg) if {
	some f in input.scan.findings
	f.severity in lib.config.blocking_severities
	not f.rule_id in own_rules
	msg := sprintf("%s finding %s at %s: %s", [f.severity, f.rule_id, f.where, f.title])
}
