# MLS-POL-004: no malicious dependencies.
# A dependency that is a known malicious package (MLS-DEP-002) or a name
# hijacked in a supply-chain attack (MLS-DEP-007) denies.
package mlsec.rules.malicious_dependencies

import data.mlsec.lib

deny contains lib.finding_violation("MLS-POL-004", f, msg) if {
	some f in input.scan.findings
	f.rule_id in {"MLS-DEP-002", "MLS-DEP-007"}
	msg := sprintf("malicious dependency at %s: %s", [f.where, f.title])
}
