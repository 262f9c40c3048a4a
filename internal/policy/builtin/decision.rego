# The decision: every rule package under data.mlsec.rules contributes deny
# and warn entries; a deny covered by an active waiver (same model, rule ID
# equal to the entry's rule or finding_rule, not expired) is moved to
# "waived". The model may ship when nothing is left in deny.
package mlsec.decision

violations contains object.union(d, {"policy": name}) if {
	some name
	some d in data.mlsec.rules[name].deny
}

warn contains object.union(d, {"policy": name}) if {
	some name
	some d in data.mlsec.rules[name].warn
}

waivers_for(v) := [w |
	some w in input.ledger.waivers
	w.active
	w.rule in {v.rule, object.get(v, "finding_rule", "")}
]

deny contains v if {
	some v in violations
	count(waivers_for(v)) == 0
}

waived contains object.union(v, {"waiver": waivers_for(v)[0]}) if {
	some v in violations
	count(waivers_for(v)) > 0
}

default allow := false

allow if count(deny) == 0
