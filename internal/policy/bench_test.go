package policy_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mlsec/mlsec/internal/compliance"
	"github.com/mlsec/mlsec/internal/policy"
)

// benchInput is a realistic input: a scanned model with findings, a
// verified signature, a ledger with an attestation and waivers, a BOM of
// 200 components and a fairness report.
func benchInput() *policy.Input {
	in := &policy.Input{EvaluatedAt: now,
		Model: policy.Model{Path: "models/m", Name: "m", Digest: "sha256:00"},
		Scan:  policy.ScanEvidence{Present: true, Complete: true},
		Signature: policy.SignatureEvidence{Present: true, Verified: true, Method: "key",
			Signer: &policy.Signer{Method: "key", KeyHint: "abc"}},
		Ledger: policy.LedgerEvidence{Present: true, Attestations: []policy.Attestation{{Seq: 1, Verified: true, CoversModel: true,
			BuildType: "https://mlsec.dev/attestation/training/v1"}}},
		BOM:      policy.BOMEvidence{Present: true},
		Fairness: policy.FairnessEvidence{Present: true},
	}
	for i := range 20 {
		in.Scan.Artifacts = append(in.Scan.Artifacts, policy.ScanArtifact{Path: fmt.Sprintf("models/m/shard-%02d.safetensors", i), Status: "complete"})
	}
	sev := []string{"medium", "low", "info", "high"}
	for i := range 40 {
		in.Scan.Findings = append(in.Scan.Findings, policy.ScanFinding{RuleID: "MLS-PKL-002", Severity: sev[i%4], Title: "import",
			Where: fmt.Sprintf("models/m/shard-%02d.safetensors@%d", i%20, i)})
	}
	for i := range 10 {
		in.Ledger.Events = append(in.Ledger.Events, policy.LedgerEvent{Seq: int64(i), Action: "scan", Actor: "ci"})
		in.Ledger.Waivers = append(in.Ledger.Waivers, policy.Waiver{Rule: "MLS-PKL-002", Active: i%2 == 0, Expires: now.Add(time.Hour)})
	}
	for i := range 200 {
		in.BOM.Components = append(in.BOM.Components, policy.BOMComponent{Type: "library", Name: fmt.Sprintf("pkg%d", i), Licenses: []string{"MIT"}})
	}
	for i := range 8 {
		in.Fairness.Groups = append(in.Fairness.Groups, policy.FairnessGroup{View: "sex", Name: fmt.Sprint(i), DisparateImpact: 0.9})
	}
	return in
}

// BenchmarkEvaluate is the time to decide over one model with the default
// pack (the goal is under 10 ms): input conversion plus prepared-query
// evaluation, with control mapping.
func BenchmarkEvaluate(b *testing.B) {
	e := engine(b, policy.WithControls(compliance.Default().Refs))
	in := benchInput()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		d, err := e.Evaluate(ctx, in)
		if err != nil || len(d.Waived) != 10 || !d.Allow {
			b.Fatalf("%v: %d waived, allow %v", err, len(d.Waived), d != nil && d.Allow)
		}
	}
}

// BenchmarkNew is the one-off cost of loading, compiling and preparing
// the default pack.
func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		engine(b)
	}
}
