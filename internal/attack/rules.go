package attack

import "github.com/mlsec/mlsec/internal/finding"

// Rules raised by mlsec redteam when a measured risk crosses its
// threshold.
var (
	RuleEvasion = finding.MustRegister(finding.Rule{
		ID: "MLS-ADV-001", Name: "QueryOnlyEvasion", Severity: finding.High,
		Title:   "Query-only evasion attacks flip the model's decisions within the perturbation budget",
		Summary: "A black-box evasion attack (HopSkipJump, Boundary, Square or SimBA) that only queries the model found adversarial inputs within the tested ε for more than the configured share of correctly classified samples.",
		Doc: "The attacks see nothing but the model's answers, exactly what a client of its prediction API sees, and stay within the feature bounds " +
			"and mutability constraints of the data. Distances are in units of each feature's range. A success rate above the threshold at the tested " +
			"ε means an attacker with the same query budget can reliably push inputs across the decision boundary with changes of that size " +
			"(MITRE ATLAS AML.T0015 Evade ML Model, via AML.T0043 Craft Adversarial Data).",
		Remediation: "Decide what perturbation size the application must tolerate; harden the model (adversarial training, input " +
			"preprocessing, monotonic or constrained features), limit and monitor query rates per client, and avoid returning scores " +
			"when labels suffice (score-based attacks need far fewer queries).",
		References: []finding.Reference{finding.ATLAS("AML.T0015"), finding.ATLAS("AML.T0043"), finding.OWASPML("ML01")},
	})
	RulePerturbation = finding.MustRegister(finding.Rule{
		ID: "MLS-ADV-002", Name: "SmallAdversarialPerturbation", Severity: finding.Medium,
		Title:   "Median minimal adversarial perturbation is below the threshold",
		Summary: "Half of the attacked samples were misclassified after a change smaller than the configured fraction of the feature ranges.",
		Doc: "Minimal-perturbation attacks (HopSkipJump, Boundary, SimBA) walk an adversarial input towards the original until it sits on the " +
			"decision boundary. Their median distance estimates how far typical inputs are from a wrong answer; a small median means tiny, " +
			"plausible edits suffice (MITRE ATLAS AML.T0043 Craft Adversarial Data).",
		Remediation: "Treat the median as the model's robustness margin: compare it with the natural noise and the changes an adversary " +
			"can make to real inputs, and improve robustness where the margin is smaller.",
		References: []finding.Reference{finding.ATLAS("AML.T0043"), finding.OWASPML("ML01")},
	})
	RuleMembership = finding.MustRegister(finding.Rule{
		ID: "MLS-ADV-003", Name: "MembershipInference", Severity: finding.High,
		Title:   "The model's outputs reveal whether a record was in its training data",
		Summary: "A membership-inference attack (confidence or loss threshold, or shadow models) separates training members from non-members with ROC AUC or TPR at 1% FPR above the configured threshold.",
		Doc: "Models that fit their training data much better than unseen data answer members with higher confidence and lower loss. " +
			"An attacker with query access can then tell whether a person's record was used for training (MITRE ATLAS AML.T0024.000 " +
			"Infer Training Data Membership; OWASP ML04). TPR at a low FPR measures how many members can be identified confidently.",
		Remediation: "Reduce over-fitting (regularisation, early stopping, more data), train with differential privacy (DP-SGD), and " +
			"return labels or rounded scores instead of full probability vectors.",
		References: []finding.Reference{finding.ATLAS("AML.T0024.000"), finding.OWASPML("ML04")},
	})
	RuleExtraction = finding.MustRegister(finding.Rule{
		ID: "MLS-ADV-004", Name: "ModelExtraction", Severity: finding.Medium,
		Title:   "The model can be cloned through its prediction API within the query budget",
		Summary: "A surrogate trained only on the model's answers to at most the tested number of queries agrees with the model on held-out data at or above the configured fidelity.",
		Doc: "Model extraction (Tramèr et al., 2016; Jagielski et al., 2020) trains a copy of the model from its own predictions. A " +
			"high-fidelity copy leaks the intellectual property and becomes a white-box stand-in for crafting transferable adversarial " +
			"examples (MITRE ATLAS AML.T0024.002 Extract ML Model; OWASP ML05 Model Theft).",
		Remediation: "Rate-limit and monitor query volume and distribution per client (synthetic queries look unlike real traffic), " +
			"return labels rather than probabilities, and watermark the model so a clone can be recognised.",
		References: []finding.Reference{finding.ATLAS("AML.T0024.002"), finding.OWASPML("ML05")},
	})
)
