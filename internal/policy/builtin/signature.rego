# MLS-POL-003: a valid signature from a trusted key or identity.
# The signature (an OpenSSF Model Signing bundle) must verify against the
# model as it is now. When config.trusted_signers is not empty, the signer's
# identity, certificate subject or key hint must be one of them.
package mlsec.rules.signature

import data.mlsec.lib

deny contains lib.violation("MLS-POL-003", "high", "the model is not signed (no signature evidence)") if {
	not input.signature.present
}

deny contains lib.violation("MLS-POL-003", "critical", msg) if {
	input.signature.present
	not input.signature.verified
	msg := sprintf("signature does not verify: %s", [object.get(input.signature, ["error", "message"], "unknown error")])
}

signer_ids contains id if {
	some k in ["identity", "subject", "key_hint"]
	id := input.signature.signer[k]
	id != ""
}

deny contains lib.violation("MLS-POL-003", "high", msg) if {
	input.signature.verified
	count(lib.config.trusted_signers) > 0
	count({id | some id in signer_ids; id in lib.config.trusted_signers}) == 0
	msg := sprintf("signer %v is not in the trusted signers", [sort([id | some id in signer_ids])])
}
