package policy_test

import (
	"context"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/ledger"
	"github.com/mlsec/mlsec/internal/policy"
	"github.com/mlsec/mlsec/internal/scan"
	"github.com/mlsec/mlsec/internal/scan/registry"
	"github.com/mlsec/mlsec/internal/sign"
	"github.com/mlsec/mlsec/internal/store"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// copyModel copies a fixture into a fresh model directory.
func copyModel(t *testing.T, fixture string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", fixture))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "model")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "model.pkl"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func scanModel(t *testing.T, path string) policy.ScanEvidence {
	t.Helper()
	eng := scan.New(registry.Scanners(registry.Config{}), scan.Options{Workers: 1, Limits: scan.DefaultLimits(),
		Tool: finding.Tool{Name: "mlsec", Version: "test"}})
	rep, err := eng.Scan(context.Background(), []string{path})
	if err != nil {
		t.Fatal(err)
	}
	return policy.ScanFromReport(rep)
}

// signModel signs the model with a throwaway key and verifies it, as
// 'mlsec policy check --signature … --public-key …' would.
func signModel(t *testing.T, dir string) policy.SignatureEvidence {
	t.Helper()
	ctx := context.Background()
	privPEM, pubPEM, err := sign.GenerateKey(elliptic.P256())
	if err != nil {
		t.Fatal(err)
	}
	priv, err := sign.ParsePrivateKey(privPEM)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := sign.NewKeySigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	ser := sign.Serialization{Method: sign.MethodFiles, Hash: sign.SHA256}
	sigPath := filepath.Join(filepath.Dir(dir), "model.sig")
	signed, err := sign.Sign(ctx, dir, signer, sign.SignOptions{HashOptions: sign.HashOptions{Serialization: ser}, SignaturePath: sigPath})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := sign.ParsePublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	v, err := sign.NewKeyVerifier(pub)
	if err != nil {
		t.Fatal(err)
	}
	res, verr := sign.Verify(ctx, dir, signed.Bundle, v, sign.VerifyOptions{SignaturePath: sigPath})
	ev, err := policy.SignatureFromVerify(res, verr, sigPath)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// testLedger is a temporary SQLite ledger with its key.
type testLedger struct {
	l    *ledger.Ledger
	st   *store.Store
	skey string
}

func newLedger(t *testing.T) *testLedger {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	// ledger's DSSE key parsing splits the note key on "+", which base64
	// may contain: use a key whose encoding has none (see the report).
	var skey, vkey string
	for {
		var err error
		if skey, vkey, err = ledger.GenerateKey("test.example/ledger"); err != nil {
			t.Fatal(err)
		}
		if strings.Count(skey, "+") == 4 && strings.Count(vkey, "+") == 2 {
			break
		}
	}
	if err := ledger.Init(ctx, st, vkey); err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(ctx, st, ledger.WithSignerKey(skey), ledger.WithClock(func() time.Time { return now.Add(-24 * time.Hour) }))
	if err != nil {
		t.Fatal(err)
	}
	return &testLedger{l: l, st: st, skey: skey}
}

// attest records a signed training attestation for the model, as 'mlsec
// attest --type training' does.
func (tl *testLedger) attest(t *testing.T, m policy.Model, buildType string) {
	t.Helper()
	ctx := context.Background()
	var subjects []ledger.ResourceDescriptor
	for name, h := range m.Files {
		subjects = append(subjects, ledger.ResourceDescriptor{Name: name, Digest: map[string]string{"sha256": h}})
	}
	st := &ledger.Statement{Type: ledger.StatementType, Subject: subjects, PredicateType: ledger.ProvenanceType,
		Predicate: ledger.Provenance{
			BuildDefinition: ledger.BuildDefinition{BuildType: buildType, ExternalParameters: map[string]any{"epochs": 3},
				ResolvedDependencies: []ledger.ResourceDescriptor{{Name: "train.csv", Digest: map[string]string{"sha256": strings.Repeat("ab", 32)}}}},
			RunDetails: ledger.RunDetails{Builder: ledger.Builder{ID: "https://mlsec.dev/builder/ci"}},
		}}
	env, err := ledger.SignStatement(ctx, st, tl.skey)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(env)
	att := ledger.Attachment{Name: "provenance.intoto.dsse.json", MediaType: ledger.DSSEMediaType, Digest: "sha256:" + hex.EncodeToString(sum[:]), Size: int64(len(env))}
	if err := tl.st.PutBlob(ctx, att.Digest, att.MediaType, env); err != nil {
		t.Fatal(err)
	}
	if _, err := tl.l.Append(ctx, ledger.Event{Actor: "ci@example.com", Action: ledger.ActionAttest,
		Subject: ledger.Subject{Name: m.Name, Digest: m.Digest}, Attachments: []ledger.Attachment{att}}); err != nil {
		t.Fatal(err)
	}
}

func (tl *testLedger) evidence(t *testing.T, m policy.Model, at time.Time) policy.LedgerEvidence {
	t.Helper()
	ev, err := policy.FromLedger(context.Background(), tl.l, tl.st, m, policy.LedgerOptions{Now: at})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func engine(t testing.TB, opts ...policy.Option) *policy.Engine {
	t.Helper()
	e, err := policy.New(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func rules(vs []policy.Violation) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Rule)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func hasRule(vs []policy.Violation, rule, findingRule string) bool {
	for _, v := range vs {
		if v.Rule == rule && (findingRule == "" || v.FindingRule == findingRule) {
			return true
		}
	}
	return false
}

func digest(t *testing.T, dir string) policy.Model {
	t.Helper()
	m, err := policy.DigestModel(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// cleanInput is a clean model, signed, scanned and attested in a ledger.
func cleanInput(t *testing.T) (*policy.Input, *testLedger) {
	dir := copyModel(t, "clean.pkl")
	m := digest(t, dir)
	sig := signModel(t, dir)
	tl := newLedger(t)
	tl.attest(t, m, ledger.TrainingBuildType)
	return &policy.Input{EvaluatedAt: now, Model: m, Scan: scanModel(t, dir), Signature: sig, Ledger: tl.evidence(t, m, now)}, tl
}

func TestMaliciousModelDenied(t *testing.T) {
	dir := copyModel(t, "malicious.pkl")
	in := &policy.Input{EvaluatedAt: now, Model: digest(t, dir), Scan: scanModel(t, dir)}
	d, err := engine(t).Evaluate(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if d.Allow {
		t.Fatal("a malicious, unsigned, unattested model was allowed")
	}
	if want := []string{"MLS-POL-001", "MLS-POL-003", "MLS-POL-007"}; !slices.Equal(rules(d.Deny), want) {
		t.Errorf("deny rules = %v, want %v\n%+v", rules(d.Deny), want, d.Deny)
	}
	if !hasRule(d.Deny, "MLS-POL-001", "MLS-PKL-001") {
		t.Errorf("no MLS-POL-001 denial naming the pickle finding MLS-PKL-001: %+v", d.Deny)
	}
	for _, v := range d.Deny {
		if v.Rule == "MLS-POL-001" && (v.Severity != "critical" || !strings.Contains(v.Message, "model.pkl")) {
			t.Errorf("scan denial %+v: want critical with the file in the message", v)
		}
	}
	if !hasRule(d.Warn, "MLS-POL-006", "") {
		t.Errorf("no warning that licences were not checked: %+v", d.Warn)
	}
}

func TestCleanSignedAttestedAllowed(t *testing.T) {
	in, _ := cleanInput(t)
	d, err := engine(t).Evaluate(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Allow || len(d.Deny) != 0 {
		t.Fatalf("clean, signed, attested model denied: %+v", d.Deny)
	}
}

func TestTamperedAfterSigningDenied(t *testing.T) {
	in, _ := cleanInput(t)
	if err := os.WriteFile(filepath.Join(in.Model.Path, "extra.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	in.Signature.Verified = false
	in.Signature.Error = &policy.SignatureError{Kind: "added", Message: "unsigned files present: extra.txt"}
	d, err := engine(t).Evaluate(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if d.Allow || !hasRule(d.Deny, "MLS-POL-003", "") {
		t.Fatalf("tampered model: want MLS-POL-003 deny, got %+v", d)
	}
}

func TestAttestationMustCoverModel(t *testing.T) {
	in, tl := cleanInput(t)
	// An attestation for other content, and one with a foreign build type.
	other := in.Model
	other.Files = map[string]string{"model.pkl": strings.Repeat("00", 32)}
	tl.attest(t, other, ledger.TrainingBuildType)
	in.Ledger = tl.evidence(t, in.Model, now)
	if got := len(in.Ledger.Attestations); got != 2 {
		t.Fatalf("attestations = %d, want 2", got)
	}
	d, _ := engine(t).Evaluate(context.Background(), in)
	if !d.Allow {
		t.Fatalf("one good attestation should suffice: %+v", d.Deny)
	}
	in.Ledger.Attestations = in.Ledger.Attestations[1:] // only the wrong one
	d, _ = engine(t).Evaluate(context.Background(), in)
	if d.Allow || !hasRule(d.Deny, "MLS-POL-007", "") || !strings.Contains(d.Deny[0].Message, "does not match") {
		t.Fatalf("mismatching attestation: want MLS-POL-007 naming the mismatch, got %+v", d.Deny)
	}
}

func TestWaiverUntilExpiry(t *testing.T) {
	ctx := context.Background()
	in, tl := cleanInput(t)
	// A critical dependency vulnerability denies …
	in.Scan.Findings = append(in.Scan.Findings, policy.ScanFinding{RuleID: "MLS-DEP-001", Severity: "critical",
		Title: "torch 2.0.0: GHSA-xxxx", Artifact: "requirements.txt", Where: "requirements.txt:3"})
	e := engine(t)
	d, _ := e.Evaluate(ctx, in)
	if d.Allow || !hasRule(d.Deny, "MLS-POL-005", "MLS-DEP-001") {
		t.Fatalf("critical vulnerability: want MLS-POL-005 deny, got %+v", d)
	}
	// … until a waiver for MLS-DEP-001 is recorded for this model.
	w := policy.Waiver{Rule: "MLS-DEP-001", Model: in.Model.Name, Digest: in.Model.Digest, Reason: "not reachable: no untrusted input",
		Approver: "security@example.com", Expires: now.Add(7 * 24 * time.Hour)}
	if _, err := w.Record(ctx, tl.l, tl.st, now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	in.Ledger = tl.evidence(t, in.Model, now)
	d, _ = e.Evaluate(ctx, in)
	if !d.Allow || len(d.Waived) != 1 || d.Waived[0].Waiver == nil || d.Waived[0].Waiver.Approver != "security@example.com" {
		t.Fatalf("waived: want allow with one waived violation, got %+v", d)
	}
	// After the expiry the waiver stops counting.
	later := now.Add(8 * 24 * time.Hour)
	in.EvaluatedAt, in.Ledger = later, tl.evidence(t, in.Model, later)
	if in.Ledger.Waivers[0].Active {
		t.Fatal("expired waiver still active")
	}
	d, _ = e.Evaluate(ctx, in)
	if d.Allow || !hasRule(d.Deny, "MLS-POL-005", "") {
		t.Fatalf("after expiry: want deny again, got %+v", d)
	}
	// A waiver for another build (digest) of the model does not apply.
	w2 := w
	w2.Digest = "sha256:" + strings.Repeat("11", 32)
	w2.Expires = later.Add(24 * time.Hour)
	if _, err := w2.Record(ctx, tl.l, tl.st, now); err != nil {
		t.Fatal(err)
	}
	if ev := tl.evidence(t, in.Model, later); len(ev.Waivers) != 1 {
		t.Fatalf("waiver for another digest applied: %+v", ev.Waivers)
	}
}

func TestWaiverValidate(t *testing.T) {
	ok := policy.Waiver{Rule: "MLS-POL-003", Model: "m", Reason: "r", Approver: "a", Expires: now.Add(time.Hour)}
	for _, tc := range []struct {
		name string
		edit func(*policy.Waiver)
	}{
		{"bad rule", func(w *policy.Waiver) { w.Rule = "signature" }},
		{"no model", func(w *policy.Waiver) { w.Model = "" }},
		{"no reason", func(w *policy.Waiver) { w.Reason = " " }},
		{"no approver", func(w *policy.Waiver) { w.Approver = "" }},
		{"expired", func(w *policy.Waiver) { w.Expires = now.Add(-time.Minute) }},
		{"too long", func(w *policy.Waiver) { w.Expires = now.Add(400 * 24 * time.Hour) }},
		{"bad digest", func(w *policy.Waiver) { w.Digest = "sha256:xyz" }},
	} {
		w := ok
		tc.edit(&w)
		if err := w.Validate(now); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	if err := ok.Validate(now); err != nil {
		t.Fatal(err)
	}
}

func TestUserPolicyOverridesBuiltin(t *testing.T) {
	dir := copyModel(t, "clean.pkl")
	in := &policy.Input{EvaluatedAt: now, Model: digest(t, dir), Scan: scanModel(t, dir)}
	// Built-in: unsigned and unattested denies.
	d, _ := engine(t).Evaluate(context.Background(), in)
	if !hasRule(d.Deny, "MLS-POL-003", "") {
		t.Fatalf("built-in signature rule did not deny: %+v", d.Deny)
	}
	// A user module in the same package replaces the built-in rule: here
	// signatures are only required for models named "prod-*", and a new
	// rule of the organisation's own is added.
	pol := t.TempDir()
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(pol, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("signature.rego", `package mlsec.rules.signature

import data.mlsec.lib

deny contains lib.violation("MLS-POL-003", "high", "production models must be signed") if {
	startswith(input.model.name, "prod-")
	not input.signature.verified
}
`)
	write("naming.rego", `package mlsec.rules.naming

import data.mlsec.lib

warn contains lib.violation("ACME-001", "low", sprintf("model name %q has no team prefix", [input.model.name])) if {
	not contains(input.model.name, "-")
}
`)
	write("data.json", `{"mlsec": {"config": {"training_build_types": ["https://acme.example/train/v2"]}}}`)
	d, err := engine(t, policy.WithPolicyDir(pol)).Evaluate(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if hasRule(d.Deny, "MLS-POL-003", "") {
		t.Errorf("user policy did not replace the built-in signature rule: %+v", d.Deny)
	}
	if !hasRule(d.Deny, "MLS-POL-007", "") || !hasRule(d.Warn, "ACME-001", "") {
		t.Errorf("other built-in rules and the user's rule must still apply: deny %+v warn %+v", d.Deny, d.Warn)
	}
}

func TestUserConfigChangesThreshold(t *testing.T) {
	in := &policy.Input{EvaluatedAt: now, Fairness: policy.FairnessEvidence{Present: true,
		Groups: []policy.FairnessGroup{{View: "sex", Name: "female", Count: 100, DisparateImpact: 0.75}}}}
	d, _ := engine(t).Evaluate(context.Background(), in)
	if !hasRule(d.Deny, "MLS-POL-008", "") {
		t.Fatalf("disparate impact 0.75 < 0.8 not denied: %+v", d.Deny)
	}
	d, _ = engine(t, policy.WithData(map[string]any{"mlsec": map[string]any{"config": map[string]any{
		"fairness": map[string]any{"min_disparate_impact": 0.7}}}})).Evaluate(context.Background(), in)
	if hasRule(d.Deny, "MLS-POL-008", "") {
		t.Fatalf("threshold lowered to 0.7 but still denied: %+v", d.Deny)
	}
}

func TestEvidenceRules(t *testing.T) {
	base := func() *policy.Input {
		in, _ := cleanInput(t)
		return in
	}
	ctx := context.Background()
	e := engine(t)
	for _, tc := range []struct {
		name string
		edit func(*policy.Input)
		rule string
	}{
		{"inconclusive scan", func(in *policy.Input) {
			in.Scan.Artifacts[0].Status, in.Scan.Artifacts[0].Gaps = "inconclusive", []string{"pickle: limit hit"}
		}, "MLS-POL-002"},
		{"no scan", func(in *policy.Input) { in.Scan = policy.ScanEvidence{} }, "MLS-POL-002"},
		{"malicious dependency", func(in *policy.Input) {
			in.Scan.Findings = append(in.Scan.Findings, policy.ScanFinding{RuleID: "MLS-DEP-002", Severity: "critical", Title: "evil-pkg", Where: "requirements.txt:1"})
		}, "MLS-POL-004"},
		{"licence", func(in *policy.Input) {
			in.BOM = policy.BOMEvidence{Present: true, Components: []policy.BOMComponent{{Type: "machine-learning-model", Name: "m", Licenses: []string{"CC-BY-NC-4.0"}}}}
		}, "MLS-POL-006"},
		{"robustness", func(in *policy.Input) {
			ra := 0.3
			in.Robustness = policy.RobustnessEvidence{Present: true, Attacks: []policy.RobustnessAttack{{Name: "hsj", Kind: "evasion", SuccessRate: 0.6, RobustAccuracy: &ra}}}
		}, "MLS-POL-009"},
		{"untrusted signer", func(in *policy.Input) {}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := base()
			tc.edit(in)
			d, err := e.Evaluate(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if tc.rule == "" {
				if !d.Allow {
					t.Fatalf("want allow, got %+v", d.Deny)
				}
				return
			}
			if d.Allow || !hasRule(d.Deny, tc.rule, "") {
				t.Fatalf("want %s deny, got %+v", tc.rule, d.Deny)
			}
		})
	}
	// trusted_signers restricts who may sign.
	in := base()
	d, _ := engine(t, policy.WithData(map[string]any{"mlsec": map[string]any{"config": map[string]any{
		"trusted_signers": []any{"release@example.com"}}}})).Evaluate(ctx, in)
	if !hasRule(d.Deny, "MLS-POL-003", "") {
		t.Fatalf("signer not in trusted_signers allowed: %+v", d.Deny)
	}
}

func TestBuiltinRegoTests(t *testing.T) {
	res, err := policy.RunTests(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(res) < 5 {
		t.Fatalf("only %d Rego tests ran", len(res))
	}
	for _, r := range res {
		if !r.Pass {
			t.Errorf("%s.%s: %s", r.Package, r.Name, r.Error)
		}
	}
}

func TestBadPolicy(t *testing.T) {
	if _, err := policy.New(context.Background(), policy.WithModule("bad.rego", "package x\nallow if {")); err == nil {
		t.Fatal("a syntax error was accepted")
	}
	if _, err := policy.New(context.Background(), policy.WithoutBuiltin(), policy.WithModule("x.rego", "package x\ny := 1")); err != nil {
		t.Fatal(err)
	} else if e := engine(t, policy.WithoutBuiltin(), policy.WithModule("x.rego", "package x\ny := 1")); e != nil {
		if _, err := e.Evaluate(context.Background(), &policy.Input{}); err == nil {
			t.Fatal("evaluating without a decision package did not fail")
		}
	}
}
