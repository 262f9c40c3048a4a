package policy

import (
	"time"

	"github.com/mlsec/mlsec/internal/finding"
)

// InputSchemaVersion is the version of the input document
// (schema/policy-input.schema.json). Minor versions only add optional
// fields; a major version may break policies written for the previous one.
const InputSchemaVersion = "1.0.0"

// Input is the document every policy sees as `input`: all the evidence
// about one model. Each section has a Present flag, so a policy can tell
// "no evidence" from "evidence that is empty".
type Input struct {
	SchemaVersion string `json:"schema_version"`
	// EvaluatedAt is when the decision is taken (RFC 3339, UTC); waiver
	// expiry is judged against it.
	EvaluatedAt time.Time          `json:"evaluated_at"`
	Model       Model              `json:"model"`
	Scan        ScanEvidence       `json:"scan"`
	Signature   SignatureEvidence  `json:"signature"`
	Ledger      LedgerEvidence     `json:"ledger"`
	BOM         BOMEvidence        `json:"bom"`
	Fairness    FairnessEvidence   `json:"fairness"`
	Robustness  RobustnessEvidence `json:"robustness"`
	Sources     []EvidenceSource   `json:"sources"`
}

// Model identifies the model under decision.
type Model struct {
	Path string `json:"path"`
	// Name is the ledger subject name (default: the file or directory name
	// without extension).
	Name string `json:"name"`
	// Digest is "sha256:<hex>": the file's SHA-256, or for a directory the
	// SHA-256 of its sorted "hex  path" lines (as 'mlsec attest' records).
	Digest string `json:"digest,omitempty"`
	// Files maps each file (relative path) to its SHA-256 hex.
	Files map[string]string `json:"files,omitempty"`
}

// EvidenceSource records where one piece of evidence came from.
type EvidenceSource struct {
	Kind string `json:"kind"` // scan, signature, ledger, bom, fairness, robustness
	From string `json:"from"` // a file path, "engine", "ledger:<db>"
}

// ScanEvidence is the model scan, flattened for policies.
type ScanEvidence struct {
	Present bool `json:"present"`
	// Complete is true when every artifact was analysed completely.
	Complete  bool             `json:"complete"`
	Tool      *finding.Tool    `json:"tool,omitempty"`
	Summary   *finding.Summary `json:"summary,omitempty"`
	Artifacts []ScanArtifact   `json:"artifacts"`
	Findings  []ScanFinding    `json:"findings"`
}

// ScanArtifact is one scanned file.
type ScanArtifact struct {
	Path   string   `json:"path"`
	Format string   `json:"format,omitempty"`
	SHA256 string   `json:"sha256,omitempty"`
	Status string   `json:"status"`
	Gaps   []string `json:"gaps,omitempty"`
}

// ScanFinding is one finding with where it is, in one string.
type ScanFinding struct {
	RuleID   string         `json:"rule_id"`
	Severity string         `json:"severity"`
	Title    string         `json:"title"`
	Artifact string         `json:"artifact"`
	Where    string         `json:"where"`
	Evidence string         `json:"evidence,omitempty"`
	Fields   map[string]any `json:"fields,omitempty"`
}

// SignatureEvidence is the outcome of verifying the model's signature.
type SignatureEvidence struct {
	Present  bool   `json:"present"`
	Verified bool   `json:"verified"`
	Method   string `json:"method,omitempty"`
	Bundle   string `json:"bundle,omitempty"`
	// RootDigest is the signed manifest's digest ("sha256:<hex>").
	RootDigest string          `json:"root_digest,omitempty"`
	Signer     *Signer         `json:"signer,omitempty"`
	Error      *SignatureError `json:"error,omitempty"`
}

// Signer is who signed, as far as the method can tell.
type Signer struct {
	Method   string `json:"method,omitempty"`
	Identity string `json:"identity,omitempty"`
	Issuer   string `json:"issuer,omitempty"`
	Subject  string `json:"subject,omitempty"`
	KeyHint  string `json:"key_hint,omitempty"`
}

// SignatureError says why verification failed.
type SignatureError struct {
	Kind    string `json:"kind"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message"`
}

// LedgerEvidence is what the provenance ledger knows about the model.
type LedgerEvidence struct {
	Present bool `json:"present"`
	// Verified is true when the ledger's Merkle tree and checkpoints were
	// checked against its public key for this decision.
	Events       []LedgerEvent `json:"events"`
	Attestations []Attestation `json:"attestations"`
	Waivers      []Waiver      `json:"waivers"`
}

// LedgerEvent is one event about the model.
type LedgerEvent struct {
	Seq    int64     `json:"seq"`
	Time   time.Time `json:"time"`
	Action string    `json:"action"`
	Actor  string    `json:"actor"`
	Reason string    `json:"reason,omitempty"`
	Digest string    `json:"digest,omitempty"`
}

// Attestation is a provenance attestation recorded for the model.
type Attestation struct {
	Seq       int64     `json:"seq"`
	Time      time.Time `json:"time"`
	Actor     string    `json:"actor"`
	BuildType string    `json:"build_type,omitempty"`
	Builder   string    `json:"builder,omitempty"`
	// Inputs are the resolved dependencies (datasets, base model, code).
	Inputs []string `json:"inputs,omitempty"`
	// Verified: the DSSE envelope's signature verifies with the ledger key.
	Verified bool `json:"verified"`
	// CoversModel: the attested subjects are exactly the model's files.
	CoversModel bool `json:"covers_model"`
	// Problem says what is wrong when the attestation does not count.
	Problem string `json:"problem"`
}

// BOMEvidence is the part of a CycloneDX BOM that policies use.
type BOMEvidence struct {
	Present         bool               `json:"present"`
	Format          string             `json:"format,omitempty"`
	SpecVersion     string             `json:"spec_version,omitempty"`
	Components      []BOMComponent     `json:"components"`
	Vulnerabilities []BOMVulnerability `json:"vulnerabilities"`
}

// BOMComponent is one component with its licences (SPDX IDs, or names
// when the BOM gives no ID, or expressions as written).
type BOMComponent struct {
	Type     string   `json:"type"`
	Name     string   `json:"name"`
	Version  string   `json:"version,omitempty"`
	PURL     string   `json:"purl,omitempty"`
	Licenses []string `json:"licenses"`
}

// BOMVulnerability is one vulnerability listed in the BOM.
type BOMVulnerability struct {
	ID       string   `json:"id"`
	Severity string   `json:"severity"`
	Affects  []string `json:"affects"`
}

// FairnessEvidence is the part of an mlsec fairness report that policies use.
type FairnessEvidence struct {
	Present bool   `json:"present"`
	Input   string `json:"input,omitempty"`
	// MinDisparateImpact is the lowest group disparate impact ratio (absent
	// when no group has one).
	MinDisparateImpact *float64            `json:"min_disparate_impact,omitempty"`
	Groups             []FairnessGroup     `json:"groups"`
	Disparities        []FairnessDisparity `json:"disparities"`
	Findings           []ScanFinding       `json:"findings"`
}

// FairnessGroup is one group's disparate impact ratio.
type FairnessGroup struct {
	View            string  `json:"view"`
	Name            string  `json:"name"`
	Count           int64   `json:"count"`
	DisparateImpact float64 `json:"disparate_impact"`
}

// FairnessDisparity is one fairness metric over one view.
type FairnessDisparity struct {
	View      string   `json:"view"`
	Name      string   `json:"name"`
	Method    string   `json:"method"`
	Value     float64  `json:"value"`
	Threshold *float64 `json:"threshold,omitempty"`
	Breach    bool     `json:"breach"`
}

// RobustnessEvidence is a robustness (adversarial testing) report; see
// RobustnessReport for the file format accepted.
type RobustnessEvidence struct {
	Present bool               `json:"present"`
	Attacks []RobustnessAttack `json:"attacks"`
	// Findings are the red-team report's findings (MLS-ADV-*).
	Findings []ScanFinding `json:"findings"`
}
