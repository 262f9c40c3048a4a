package compliancereport_test

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mlsec/mlsec/internal/compliance"
	"github.com/mlsec/mlsec/internal/compliance/compliancereport"
	"github.com/mlsec/mlsec/internal/finding"
	"github.com/mlsec/mlsec/internal/policy"
	"github.com/mlsec/mlsec/internal/report/reporttest"
)

var at = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// sample is a model with a bit of everything: a clean signature and
// attestation, a waived critical vulnerability, a secret in a notebook
// (denied), a GPL component in the BOM (denied), a fairness report and no
// robustness report (gaps).
func sample() *policy.Input {
	di := 0.85
	thr := 0.1
	return &policy.Input{
		EvaluatedAt: at,
		Model: policy.Model{Path: "models/credit-scorer", Name: "credit-scorer",
			Digest: "sha256:" + strings.Repeat("ab", 32), Files: map[string]string{"model.safetensors": strings.Repeat("cd", 32)}},
		Scan: policy.ScanEvidence{Present: true, Complete: true,
			Artifacts: []policy.ScanArtifact{
				{Path: "models/credit-scorer/model.safetensors", Format: "safetensors", Status: "complete"},
				{Path: "models/credit-scorer/requirements.txt", Format: "requirements", Status: "complete"},
				{Path: "models/credit-scorer/train.ipynb", Format: "notebook", Status: "complete"},
			},
			Findings: []policy.ScanFinding{
				{RuleID: "MLS-DEP-001", Severity: "critical", Title: "torch 2.0.0: GHSA-53q9-r3pm-6pq6", Where: "models/credit-scorer/requirements.txt:3"},
				{RuleID: "MLS-NB-001", Severity: "high", Title: "Secret in a notebook cell", Where: "models/credit-scorer/train.ipynb:12"},
				{RuleID: "MLS-DEP-003", Severity: "medium", Title: "Dependency is not pinned to one version", Where: "models/credit-scorer/requirements.txt:5"},
			}},
		Signature: policy.SignatureEvidence{Present: true, Verified: true, Method: "key", RootDigest: "sha256:" + strings.Repeat("ef", 32),
			Signer: &policy.Signer{Method: "key", KeyHint: "b5a3c1d2e4f60718"}},
		Ledger: policy.LedgerEvidence{Present: true,
			Events: []policy.LedgerEvent{
				{Seq: 3, Time: at.Add(-72 * time.Hour), Action: "train", Actor: "ci@example.com"},
				{Seq: 4, Time: at.Add(-71 * time.Hour), Action: "attest", Actor: "ci@example.com"},
				{Seq: 9, Time: at.Add(-2 * time.Hour), Action: "waive", Actor: "security@example.com", Reason: "not reachable"},
			},
			Attestations: []policy.Attestation{{Seq: 4, Time: at.Add(-71 * time.Hour), Actor: "ci@example.com",
				BuildType: "https://mlsec.dev/attestation/training/v1", Builder: "https://mlsec.dev/builder/ci",
				Inputs: []string{"credit.csv@sha256:" + strings.Repeat("12", 32)}, Verified: true, CoversModel: true}},
			Waivers: []policy.Waiver{{Rule: "MLS-DEP-001", Model: "credit-scorer", Reason: "the vulnerable code path needs untrusted pickles, which this service never loads",
				Approver: "security@example.com", Expires: at.Add(30 * 24 * time.Hour), Seq: 9, Recorded: at.Add(-2 * time.Hour), Active: true}},
		},
		BOM: policy.BOMEvidence{Present: true, Format: "CycloneDX", SpecVersion: "1.6",
			Components: []policy.BOMComponent{
				{Type: "machine-learning-model", Name: "credit-scorer", Version: "1.4.0", Licenses: []string{"Apache-2.0"}},
				{Type: "library", Name: "torch", Version: "2.0.0", Licenses: []string{"BSD-3-Clause"}},
				{Type: "library", Name: "readline-wrapper", Version: "0.3", Licenses: []string{"GPL-3.0-only"}},
			}, Vulnerabilities: []policy.BOMVulnerability{}},
		Fairness: policy.FairnessEvidence{Present: true, Input: "predictions.csv", MinDisparateImpact: &di,
			Groups:      []policy.FairnessGroup{{View: "sex", Name: "female", Count: 480, DisparateImpact: di}},
			Disparities: []policy.FairnessDisparity{{View: "sex", Name: "demographic_parity_difference", Method: "between_groups", Value: 0.06, Threshold: &thr}}},
		Sources: []policy.EvidenceSource{{Kind: "scan", From: "engine"}, {Kind: "signature", From: "credit-scorer.sig"},
			{Kind: "ledger", From: "ledger.db"}, {Kind: "bom", From: "bom.cdx.json"}, {Kind: "fairness", From: "fairness.json"}},
	}
}

func render(t testing.TB, fw string) ([]byte, *compliance.Assessment) {
	t.Helper()
	cat := compliance.Default()
	e, err := policy.New(context.Background(), policy.WithControls(cat.Refs))
	if err != nil {
		t.Fatal(err)
	}
	in := sample()
	d, err := e.Evaluate(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	a, err := cat.Assess(fw, in, d)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := compliancereport.HTML(&buf, a, cat, finding.Tool{Name: "mlsec", Version: "0.1.0-test"}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), a
}

func TestGolden(t *testing.T) {
	for _, fw := range compliance.Default().FrameworkIDs() {
		t.Run(fw, func(t *testing.T) {
			out, a := render(t, fw)
			reporttest.Golden(t, "report-"+fw+".html", out)
			html := string(out)
			// Structure: every control has its section and exactly one verdict.
			for _, c := range a.Controls {
				if !strings.Contains(html, `id="control-`+c.Control.ID+`"`) {
					t.Errorf("control %s has no section", c.Control.ID)
				}
			}
			if got, want := strings.Count(html, `<div class="control `), len(a.Framework.Controls); got != want {
				t.Errorf("%d control sections, want %d", got, want)
			}
			// Self-contained: nothing is loaded from elsewhere.
			if regexp.MustCompile(`(?i)<(script|link|img|iframe)\b|url\(|@import`).MatchString(html) {
				t.Error("the report loads external resources or runs scripts")
			}
			if a.Allow || !strings.Contains(html, "DENY") {
				t.Error("the sample is denied (notebook secret, GPL component) and the report must say so")
			}
		})
	}
}

// TestVerdicts pins the verdicts the sample must get in the EU AI Act.
func TestVerdicts(t *testing.T) {
	_, a := render(t, "eu-ai-act")
	got := map[string]compliance.Verdict{}
	for _, c := range a.Controls {
		got[c.Control.ID] = c.Verdict
	}
	want := map[string]compliance.Verdict{
		"Art. 9":  compliance.Fail, // the notebook secret denies (MLS-POL-001)
		"Art. 10": compliance.Pass, // attestation and fairness present, nothing denied
		"Art. 11": compliance.Fail, // the GPL licence (MLS-POL-006)
		"Art. 12": compliance.Pass, // ledger events
		"Art. 13": compliance.Pass, // BOM
		"Art. 14": compliance.Pass, // waiver decisions recorded
		"Art. 15": compliance.Fail, // the notebook secret; robustness missing too
	}
	for id, v := range want {
		if got[id] != v {
			t.Errorf("%s: verdict %s, want %s", id, got[id], v)
		}
	}
	_, a = render(t, "atlas")
	for _, c := range a.Controls {
		if c.Control.ID == "AML.T0015" && c.Verdict != compliance.Gap {
			t.Errorf("AML.T0015 without a robustness report: %s, want gap", c.Verdict)
		}
		if c.Control.ID == "AML.M0016" && (c.Verdict != compliance.Fail || len(c.Waived) != 1) {
			t.Errorf("AML.M0016: %s with %d waived, want fail with the waived vulnerability listed", c.Verdict, len(c.Waived))
		}
	}
}

// TestChromiumScreenshot renders the EU AI Act report in headless Chromium
// and checks the screenshot: a PNG of the window size that is not blank.
func TestChromiumScreenshot(t *testing.T) {
	bin := "/usr/bin/chromium"
	if _, err := os.Stat(bin); err != nil {
		if p, err := exec.LookPath("chromium"); err == nil {
			bin = p
		} else {
			t.Skip("chromium is not installed (apt-get install -y chromium): the rendering check is skipped")
		}
	}
	out, _ := render(t, "eu-ai-act")
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	if err := os.WriteFile(page, out, 0o644); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "out.png")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--no-first-run", "--disable-component-update", "--disable-sync", "--user-data-dir="+filepath.Join(dir, "profile"),
		"--screenshot="+shot, "--window-size=1200,1600", "file://"+page)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, msg)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1200 || b.Dy() != 1600 {
		t.Fatalf("screenshot is %dx%d, want 1200x1600", b.Dx(), b.Dy())
	}
	white, colored, total := 0, 0, 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 4 {
		for x := b.Min.X; x < b.Max.X; x += 4 {
			r, g, bl, _ := img.At(x, y).RGBA()
			total++
			switch {
			case r > 0xf000 && g > 0xf000 && bl > 0xf000:
				white++
			case saturated(r, g, bl):
				colored++
			}
		}
	}
	// Text and coloured badges cover part of the page; a blank or all-dark
	// page fails.
	if white == total || float64(white)/float64(total) < 0.5 {
		t.Errorf("screenshot looks blank or broken: %d of %d sampled pixels white", white, total)
	}
	if colored < 50 {
		t.Errorf("only %d coloured pixels: the verdict badges did not render", colored)
	}
	if dst := os.Getenv("MLSEC_SCREENSHOT_OUT"); dst != "" {
		data, _ := os.ReadFile(shot)
		_ = os.WriteFile(dst, data, 0o644)
	}
}

func saturated(r, g, b uint32) bool {
	mx, mn := max(r, g, b), min(r, g, b)
	return mx-mn > 0x4000
}
