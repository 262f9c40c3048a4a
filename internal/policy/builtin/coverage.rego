# MLS-POL-002: the model was scanned, and completely.
# Denies when there is no scan result, when an artifact's scan was
# inconclusive (a parse error, a limit hit, an unsupported variant), or when
# nothing at all was analysed.
package mlsec.rules.scan_coverage

import data.mlsec.lib

deny contains lib.violation("MLS-POL-002", "high", "no scan result: the model was not scanned") if {
	not input.scan.present
}

deny contains lib.violation("MLS-POL-002", "high", msg) if {
	some a in input.scan.artifacts
	a.status == "inconclusive"
	msg := sprintf("scan of %s is inconclusive: %s", [a.path, concat("; ", object.get(a, "gaps", []))])
}

deny contains lib.violation("MLS-POL-002", "high", "the scan analysed no model file") if {
	input.scan.present
	count([a | some a in input.scan.artifacts; a.status != "skipped"]) == 0
}
