package policy

import "github.com/mlsec/mlsec/internal/finding"

// The built-in pack's rules, in the catalogue so they are documented in
// docs/rules.md, appear in SARIF and can be waived by ID.
var (
	RuleScanFindings = finding.MustRegister(finding.Rule{
		ID: "MLS-POL-001", Name: "PolicyScanFindings", Title: "Policy: no critical or high scan findings",
		Severity: finding.High,
		Summary:  "The model's scan has a finding at a blocking severity (critical or high by default).",
		Doc: "Every scan finding whose severity is in `blocking_severities` (default critical and high) denies, " +
			"with the finding's own severity, rule and location in the message. Dependency vulnerabilities " +
			"(MLS-DEP-001) and malicious dependencies (MLS-DEP-002, MLS-DEP-007) are left to MLS-POL-005 and " +
			"MLS-POL-004. A waiver may name MLS-POL-001 (every finding) or the finding's rule (that rule only).",
		Remediation: "Fix or remove what the finding names, or record a time-limited waiver with 'mlsec policy waive'.",
		References:  []finding.Reference{finding.OWASPML("ML06"), finding.ATLAS("AML.T0011.000")},
	})
	RuleScanCoverage = finding.MustRegister(finding.Rule{
		ID: "MLS-POL-002", Name: "PolicyScanCoverage", Title: "Policy: the model was scanned completely",
		Severity: finding.High,
		Summary:  "There is no scan result, a scanned file is inconclusive, or nothing was analysed.",
		Doc: "Fail closed: a model that was not scanned, or whose scan could not analyse every part (a parse " +
			"error, a limit hit, an unsupported variant), is not clean. The message lists the coverage gaps.",
		Remediation: "Scan the model ('mlsec policy check' scans it unless a report is given); convert formats mlsec cannot analyse.",
		References:  []finding.Reference{finding.OWASPML("ML06")},
	})
	RuleSignature = finding.MustRegister(finding.Rule{
		ID: "MLS-POL-003", Name: "PolicySignature", Title: "Policy: a valid signature from a trusted key or identity",
		Severity: finding.High,
		Summary:  "The model is not signed, its signature does not verify, or the signer is not trusted.",
		Doc: "The model must carry an OpenSSF Model Signing bundle that verifies against its current content " +
			"(any modified, added or missing file fails) with the key, certificate chain or Sigstore identity " +
			"given to 'mlsec policy check'. When `trusted_signers` is set, the signer's identity, certificate " +
			"subject or key hint must be one of them.",
		Remediation: "Sign the model in the release pipeline ('mlsec sign') and verify with the release key.",
		References:  []finding.Reference{finding.ATLAS("AML.T0010.003"), finding.OWASPML("ML06"), finding.CWE(345)},
	})
	RuleMaliciousDeps = finding.MustRegister(finding.Rule{
		ID: "MLS-POL-004", Name: "PolicyMaliciousDependencies", Title: "Policy: no malicious dependencies",
		Severity: finding.Critical,
		Summary:  "A dependency of the model's project is a known malicious or hijacked package.",
		Doc:      "Denies for every MLS-DEP-002 (known malicious package) and MLS-DEP-007 (hijacked name) finding.",
		Remediation: "Remove the package, rotate any credentials on machines that installed it, and pin " +
			"dependencies with hashes.",
		References: []finding.Reference{finding.ATLAS("AML.T0010.001"), finding.OWASPML("ML06"), finding.CWE(506)},
	})
	RuleVulnerabilities = finding.MustRegister(finding.Rule{
		ID: "MLS-POL-005", Name: "PolicyCriticalVulnerabilities", Title: "Policy: no critical vulnerability without a waiver",
		Severity: finding.Critical,
		Summary:  "A dependency has a critical known vulnerability and no active waiver covers it.",
		Doc: "Denies for every MLS-DEP-001 finding rated critical (from the advisory's CVSS score) and every " +
			"critical vulnerability listed in the BOM; a high one only warns. Accepted risks are waived by " +
			"rule (MLS-DEP-001 or MLS-POL-005), model, approver and expiry.",
		Remediation: "Upgrade to a fixed version, or record a waiver with the reason the vulnerability is not exploitable.",
		References:  []finding.Reference{finding.ATLAS("AML.T0010.001"), finding.OWASPML("ML06"), finding.CWE(1395)},
	})
	RuleLicenses = finding.MustRegister(finding.Rule{
		ID: "MLS-POL-006", Name: "PolicyLicenseAllowList", Title: "Policy: licences on the allow list",
		Severity: finding.Medium,
		Summary:  "A BOM component is licensed under a licence that is not on the allow list.",
		Doc: "Checks every component of the CycloneDX BOM given as evidence against `license_allow` (SPDX IDs; " +
			"a permissive default list). A component without a licence warns; without a BOM the rule warns that " +
			"licences were not checked.",
		Remediation: "Replace the component, obtain legal approval and add the licence to license_allow, or waive it.",
		References:  []finding.Reference{finding.OWASPML("ML06")},
	})
	RuleAttestation = finding.MustRegister(finding.Rule{
		ID: "MLS-POL-007", Name: "PolicyTrainingAttestation", Title: "Policy: a training attestation is present",
		Severity: finding.High,
		Summary:  "The ledger holds no verified training attestation that covers this model's files.",
		Doc: "The provenance ledger must hold an 'attest' event for the model whose DSSE envelope verifies with the " +
			"ledger key, whose in-toto subjects are exactly the model's files and digests, and whose SLSA build " +
			"type is in `training_build_types`. Record one with 'mlsec attest MODEL --type training'.",
		Remediation: "Attest the model where it is trained: 'mlsec attest MODEL --type training --input dataset=…'.",
		References:  []finding.Reference{finding.ATLAS("AML.T0010.002"), finding.OWASPML("ML02")},
	})
	RuleFairness = finding.MustRegister(finding.Rule{
		ID: "MLS-POL-008", Name: "PolicyFairness", Title: "Policy: fairness thresholds",
		Severity: finding.High,
		Summary:  "A fairness report shows disparate impact below the threshold or a disparity past its limit.",
		Doc: "When a fairness report ('mlsec fairness --format json') is given, every group's disparate impact " +
			"ratio must be at least `fairness.min_disparate_impact` (0.8, the four-fifths rule) and no disparity " +
			"may be marked as breaching its threshold.",
		Remediation: "Investigate the model's behaviour for the group; re-balance data or apply mitigation, then re-assess.",
		References:  []finding.Reference{finding.OWASPML("ML08")},
	})
	RuleRobustness = finding.MustRegister(finding.Rule{
		ID: "MLS-POL-009", Name: "PolicyRobustness", Title: "Policy: robustness thresholds",
		Severity: finding.High,
		Summary:  "A robustness report shows an attack success rate above, or accuracy under attack below, the limit.",
		Doc: "When a robustness report is given, every attack's success rate must be at most " +
			"`robustness.max_attack_success_rate` (0.2) and accuracy under attack at least " +
			"`robustness.min_robust_accuracy` (0.5).",
		Remediation: "Harden the model (adversarial training, input restoration) or limit queries; re-test.",
		References:  []finding.Reference{finding.OWASPML("ML01"), finding.ATLAS("AML.T0015")},
	})
)
