package deps

import "github.com/mlsec/mlsec/internal/finding"

// Rules reported by this package.
var (
	RuleVulnerable = finding.MustRegister(finding.Rule{
		ID: "MLS-DEP-001", Name: "KnownVulnerableDependency",
		Title:    "Dependency version has a known vulnerability",
		Severity: finding.High,
		Summary: "A pinned or locked dependency is a version that an OSV advisory (PYSEC, GHSA, CVE) lists as " +
			"affected. The finding's severity comes from the advisory's CVSS v4/v3 vector (or GitHub's rating); " +
			"advisories without any score are reported as high.",
		Doc: "Matching uses the offline database imported with `mlsec db import`: OSV `ECOSYSTEM` ranges " +
			"(introduced, fixed, last_affected) evaluated in PEP 440 order and explicit `versions` lists; withdrawn " +
			"advisories are ignored and advisories that alias each other are reported once.",
		Remediation: "Upgrade to the fixed version named in the finding (or later) and regenerate lockfiles.",
		References:  []finding.Reference{finding.CWE(1395), finding.ATLAS("AML.T0010.001"), finding.OWASPML("ML06")},
	})
	RuleMalicious = finding.MustRegister(finding.Rule{
		ID: "MLS-DEP-002", Name: "MaliciousDependency",
		Title:    "Dependency is a known malicious package",
		Severity: finding.Critical,
		Summary: "The OpenSSF malicious-packages database (MAL- advisories in OSV) reports this package version " +
			"as malicious: installing it runs attacker code (credential theft, backdoors), as the ctx and " +
			"typosquatting campaigns against ML projects did.",
		Remediation: "Remove the package, rotate every credential the environment could reach, and rebuild the " +
			"environment from a clean lockfile.",
		References: []finding.Reference{finding.CWE(506), finding.CWE(829), finding.ATLAS("AML.T0010.001"), finding.OWASPML("ML06")},
	})
	RuleUnpinned = finding.MustRegister(finding.Rule{
		ID: "MLS-DEP-003", Name: "UnpinnedDependency",
		Title:    "Dependency is not pinned to one version",
		Severity: finding.Medium,
		Summary: "A requirement admits a range of versions, so what gets installed changes over time and may be " +
			"a vulnerable or hijacked release. The evidence lists advisories that affect any version the range allows.",
		Remediation: "Pin exact versions (==) with hashes in a lockfile or a compiled requirements file " +
			"(pip-compile --generate-hashes, uv lock, poetry lock) and install from it.",
		References: []finding.Reference{finding.CWE(1357), finding.CWE(829), finding.OWASPML("ML06")},
	})
	RuleMissingHash = finding.MustRegister(finding.Rule{
		ID: "MLS-DEP-004", Name: "DependencyWithoutHash",
		Title:    "Dependency has no hash in a file that uses hashes",
		Severity: finding.Medium,
		Summary: "The file pins artifacts by hash for other packages but not for this one, so its download is not " +
			"verified (and pip refuses mixed files in hash-checking mode, which invites turning checks off).",
		Remediation: "Add --hash entries for every requirement (pip-compile --generate-hashes) or regenerate the lockfile.",
		References:  []finding.Reference{finding.CWE(494), finding.CWE(353), finding.OWASPML("ML06")},
	})
	RuleTyposquat = finding.MustRegister(finding.Rule{
		ID: "MLS-DEP-005", Name: "TyposquatDependency",
		Title:    "Dependency name imitates a popular ML package",
		Severity: finding.High,
		Summary: "The package name is a near miss of a widely used ML or data package (one character changed, " +
			"swapped, added or dropped; separators changed; look-alike characters; a prefix or suffix added). " +
			"Typosquats published under such names steal credentials on install.",
		Remediation: "Check the name against the project you meant; replace it with the real package and treat " +
			"any environment that installed the look-alike as compromised.",
		References: []finding.Reference{finding.CWE(1357), finding.CWE(506), finding.ATLAS("AML.T0010.001"), finding.OWASPML("ML06")},
	})
	RuleConfusion = finding.MustRegister(finding.Rule{
		ID: "MLS-DEP-006", Name: "DependencyConfusionRisk",
		Title:    "Extra package index with dependencies that are not hash-pinned",
		Severity: finding.High,
		Summary: "The manifest consults more than one index (--extra-index-url, supplemental sources). pip and " +
			"most resolvers pick the highest version from any index, so anyone who publishes an internal " +
			"package's name on PyPI with a higher version gets installed; without hashes nothing stops it. " +
			"PyTorch's torchtriton compromise of December 2022 worked this way.",
		Remediation: "Use a single index that proxies PyPI (or per-package index pinning: uv explicit indexes, " +
			"Poetry explicit sources), pin every package with hashes, and reserve internal names on PyPI.",
		References: []finding.Reference{finding.CWE(427), finding.CWE(829), finding.ATLAS("AML.T0010.001"), finding.OWASPML("ML06")},
	})
	RuleCompromised = finding.MustRegister(finding.Rule{
		ID: "MLS-DEP-007", Name: "KnownHijackedDependencyName",
		Title:    "Dependency name was hijacked in a known supply-chain attack",
		Severity: finding.Critical,
		Summary: "The package name was taken over on PyPI in a documented attack (for example torchtriton, the " +
			"PyTorch nightly dependency whose PyPI namesake exfiltrated SSH keys and credentials in December 2022). " +
			"Resolving the name from PyPI installs the attacker's code.",
		Remediation: "Remove the dependency or take it from the vendor's own index with hash pinning; for PyTorch " +
			"nightlies use pytorch-triton. Treat machines that installed it as compromised.",
		References: []finding.Reference{finding.CWE(427), finding.CWE(506), finding.ATLAS("AML.T0010.001"), finding.OWASPML("ML06")},
	})
	RuleInsecureIndex = finding.MustRegister(finding.Rule{
		ID: "MLS-DEP-008", Name: "InsecurePackageIndex",
		Title:    "Package index reached without TLS verification",
		Severity: finding.High,
		Summary: "An index URL uses plain http:// or its host is marked trusted (TLS verification off), so anyone " +
			"on the network path can substitute packages during installation.",
		Remediation: "Use https:// index URLs with valid certificates and remove --trusted-host / verify_ssl = false.",
		References:  []finding.Reference{finding.CWE(319), finding.CWE(295), finding.CWE(494), finding.OWASPML("ML06")},
	})
)

// hijacked are package names taken over on PyPI in documented attacks,
// with what happened.
var hijacked = map[string]string{
	"torchtriton": "PyPI namesake of PyTorch's nightly dependency; malicious 3.0.0 exfiltrated system data, SSH keys and credentials (Dec 25-30, 2022)",
}
