# MLS-POL-006: licences on the allow list.
# Every BOM component's licences must be in config.license_allow. A
# component with no licence warns; without a BOM the rule only warns that
# licences were not checked.
package mlsec.rules.licenses

import data.mlsec.lib

deny contains lib.violation("MLS-POL-006", "medium", msg) if {
	some c in input.bom.components
	some l in c.licenses
	not l in lib.config.license_allow
	msg := sprintf("%s %s is licensed %s, which is not on the allow list", [c.type, c.name, l])
}

warn contains lib.violation("MLS-POL-006", "low", msg) if {
	some c in input.bom.components
	count(object.get(c, "licenses", [])) == 0
	msg := sprintf("%s %s declares no licence", [c.type, c.name])
}

warn contains lib.violation("MLS-POL-006", "info", "no BOM given: licences were not checked") if {
	not input.bom.present
}
