# MLS-POL-007: a training attestation is present.
# The ledger must hold an 'attest' event for this model whose DSSE envelope
# verifies with the ledger key, whose subjects match the model's files, and
# whose SLSA build type is in config.training_build_types.
package mlsec.rules.attestation

import data.mlsec.lib

good contains a if {
	some a in input.ledger.attestations
	a.verified
	a.covers_model
	a.build_type in lib.config.training_build_types
}

deny contains lib.violation("MLS-POL-007", "high", msg) if {
	count(good) == 0
	msg := reason
}

reason := "no ledger evidence: the training attestation could not be looked up" if {
	not input.ledger.present
} else := "no training attestation for this model in the ledger" if {
	count(object.get(input.ledger, "attestations", [])) == 0
} else := sprintf("no valid training attestation: %s", [concat("; ", sort(problems))])

problems contains sprintf("#%d: %s", [a.seq, a.problem]) if {
	some a in input.ledger.attestations
	a.problem != ""
}

problems contains sprintf("#%d: build type %s is not a training build type", [a.seq, a.build_type]) if {
	some a in input.ledger.attestations
	a.problem == ""
	not a.build_type in lib.config.training_build_types
}
