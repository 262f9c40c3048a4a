# MLS-POL-005: no critical vulnerability without a waiver.
# A dependency vulnerability (MLS-DEP-001) rated critical, or a critical
# vulnerability listed in the BOM, denies; a high one only warns. Waive a
# known, accepted vulnerability with 'mlsec policy waive --rule MLS-DEP-001'.
package mlsec.rules.vulnerabilities

import data.mlsec.lib

deny contains lib.finding_violation("MLS-POL-005", f, msg) if {
	some f in input.scan.findings
	f.rule_id == "MLS-DEP-001"
	f.severity == "critical"
	msg := sprintf("critical vulnerability at %s: %s", [f.where, f.title])
}

deny contains lib.violation("MLS-POL-005", "critical", msg) if {
	some v in input.bom.vulnerabilities
	v.severity == "critical"
	msg := sprintf("critical vulnerability %s in %s (BOM)", [v.id, concat(", ", v.affects)])
}

warn contains lib.finding_violation("MLS-POL-005", f, msg) if {
	some f in input.scan.findings
	f.rule_id == "MLS-DEP-001"
	f.severity == "high"
	msg := sprintf("high vulnerability at %s: %s", [f.where, f.title])
}
