# Unit tests of the built-in pack ('mlsec policy test' runs them with the
# user's own tests).
package mlsec.builtin_test

import data.mlsec.decision

clean := {
	"evaluated_at": "2026-03-01T12:00:00Z",
	"model": {"name": "m", "digest": "sha256:00"},
	"scan": {"present": true, "complete": true, "artifacts": [{"path": "m.pkl", "status": "complete"}], "findings": []},
	"signature": {"present": true, "verified": true, "signer": {"method": "key", "key_hint": "abc"}},
	"ledger": {"present": true, "events": [], "waivers": [], "attestations": [{
		"seq": 1, "verified": true, "covers_model": true, "problem": "",
		"build_type": "https://mlsec.dev/attestation/training/v1",
	}]},
	"bom": {"present": false},
	"fairness": {"present": false},
	"robustness": {"present": false},
}

rules_denied(inp) := {v.rule | some v in decision.deny with input as inp}

test_clean_allowed if {
	decision.allow with input as clean
}

test_critical_finding_denied if {
	inp := json.patch(clean, [{"op": "add", "path": "/scan/findings/-", "value": {
		"rule_id": "MLS-PKL-001", "severity": "critical", "title": "os.system", "where": "m.pkl@0",
	}}])
	rules_denied(inp) == {"MLS-POL-001"}
}

test_medium_finding_allowed if {
	inp := json.patch(clean, [{"op": "add", "path": "/scan/findings/-", "value": {
		"rule_id": "MLS-PKL-002", "severity": "medium", "title": "x", "where": "m.pkl@0",
	}}])
	decision.allow with input as inp
}

test_unsigned_denied if {
	inp := json.patch(clean, [{"op": "replace", "path": "/signature", "value": {"present": false}}])
	rules_denied(inp) == {"MLS-POL-003"}
}

test_no_attestation_denied if {
	inp := json.patch(clean, [{"op": "replace", "path": "/ledger/attestations", "value": []}])
	rules_denied(inp) == {"MLS-POL-007"}
}

test_waiver_by_finding_rule if {
	inp := json.patch(clean, [
		{"op": "add", "path": "/scan/findings/-", "value": {"rule_id": "MLS-PKL-001", "severity": "critical", "title": "x", "where": "m.pkl"}},
		{"op": "add", "path": "/ledger/waivers/-", "value": {"rule": "MLS-PKL-001", "active": true, "approver": "a"}},
	])
	decision.allow with input as inp
	count(decision.waived) == 1 with input as inp
}

test_expired_waiver_ignored if {
	inp := json.patch(clean, [
		{"op": "add", "path": "/scan/findings/-", "value": {"rule_id": "MLS-PKL-001", "severity": "critical", "title": "x", "where": "m.pkl"}},
		{"op": "add", "path": "/ledger/waivers/-", "value": {"rule": "MLS-PKL-001", "active": false, "approver": "a"}},
	])
	not decision.allow with input as inp
}

test_fairness_threshold if {
	inp := json.patch(clean, [{"op": "replace", "path": "/fairness", "value": {"present": true, "disparities": [],
		"groups": [{"view": "sex", "name": "f", "disparate_impact": 0.79}]}}])
	rules_denied(inp) == {"MLS-POL-008"}
}
