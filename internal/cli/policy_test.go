package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlsec/mlsec/internal/ledger"
)

// policyEnv is a model directory, a release key pair and a ledger.
type policyEnv struct {
	dir, model, db, lkey string
	env                  map[string]string
}

func newPolicyEnv(t *testing.T, fixture string) *policyEnv {
	t.Helper()
	dir := t.TempDir()
	e := &policyEnv{dir: dir, model: filepath.Join(dir, "scorer"), db: filepath.Join(dir, "ledger.db"), lkey: filepath.Join(dir, "ledger.key"),
		env: map[string]string{"XDG_DATA_HOME": filepath.Join(dir, "data"), "XDG_CONFIG_HOME": filepath.Join(dir, "config")}}
	data, err := os.ReadFile(filepath.Join("..", "policy", "testdata", fixture))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(e.model, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.model, "model.pkl"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	// A ledger key whose base64 has no "+" (internal/ledger's DSSE key
	// parser splits on it).
	for {
		skey, vkey, err := ledger.GenerateKey("test.example/ledger")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(skey, "+") == 4 && strings.Count(vkey, "+") == 2 {
			os.WriteFile(e.lkey, []byte(skey+"\n"), 0o600)
			os.WriteFile(filepath.Join(dir, "ledger.pub"), []byte(vkey+"\n"), 0o644)
			break
		}
	}
	if code, _, errs := run(t, e.env, "ledger", "init", "--db", e.db, "--key", e.lkey); code != 0 {
		t.Fatalf("ledger init: %d %s", code, errs)
	}
	return e
}

func (e *policyEnv) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return run(t, e.env, args...)
}

func (e *policyEnv) signAndAttest(t *testing.T) []string {
	t.Helper()
	priv, pub := filepath.Join(e.dir, "rel.key"), filepath.Join(e.dir, "rel.pub")
	sig := filepath.Join(e.dir, "scorer.sig")
	for _, args := range [][]string{
		{"keygen", "--private-key", priv, "--public-key", pub},
		{"sign", "key", e.model, "--private-key", priv, "--signature", sig},
		{"attest", e.model, "--type", "training", "--db", e.db, "--key", e.lkey, "-q", "-o", filepath.Join(e.dir, "att.json")},
	} {
		if code, out, errs := e.run(t, args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, errs)
		}
	}
	return []string{"--signature", sig, "--public-key", pub, "--db", e.db, "--key", e.lkey}
}

func TestPolicyCheckCLI(t *testing.T) {
	t.Run("malicious", func(t *testing.T) {
		e := newPolicyEnv(t, "malicious.pkl")
		code, out, errs := e.run(t, "policy", "check", e.model, "--db", e.db, "--key", e.lkey, "--format", "json")
		if code != ExitFindings {
			t.Fatalf("exit %d, want %d\n%s%s", code, ExitFindings, out, errs)
		}
		var res checkResult
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, v := range res.Deny {
			got[v.Rule+"/"+v.FindingRule] = true
		}
		for _, want := range []string{"MLS-POL-001/MLS-PKL-001", "MLS-POL-003/", "MLS-POL-007/"} {
			if !got[want] {
				t.Errorf("no denial %s in %v", want, got)
			}
		}
		if res.Allow || len(res.Deny[0].Controls) == 0 {
			t.Errorf("want deny with control references: %+v", res.Deny[0])
		}
	})
	t.Run("clean signed attested, then waiver", func(t *testing.T) {
		e := newPolicyEnv(t, "clean.pkl")
		flags := e.signAndAttest(t)
		code, out, errs := e.run(t, append([]string{"policy", "check", e.model}, flags...)...)
		if code != 0 || !strings.HasPrefix(out, "ALLOW") {
			t.Fatalf("exit %d\n%s%s", code, out, errs)
		}
		// Tampering breaks the signature: denied.
		os.WriteFile(filepath.Join(e.model, "extra.py"), []byte("import os"), 0o644)
		code, out, _ = e.run(t, append([]string{"policy", "check", e.model}, flags...)...)
		if code != ExitFindings || !strings.Contains(out, "MLS-POL-003") {
			t.Fatalf("tampered model: exit %d\n%s", code, out)
		}
		os.Remove(filepath.Join(e.model, "extra.py"))
		// A user policy requires a BOM; a waiver lets this model through.
		pol := filepath.Join(e.dir, "policies")
		os.MkdirAll(pol, 0o755)
		os.WriteFile(filepath.Join(pol, "bom.rego"), []byte(`package acme.x
`), 0o644)
		os.WriteFile(filepath.Join(pol, "bom_required.rego"), []byte(`package mlsec.rules.bom_required

deny contains {"rule": "MLS-POL-006", "severity": "medium", "msg": "a BOM is required"} if not input.bom.present
`), 0o644)
		os.WriteFile(filepath.Join(pol, "bom_required_test.rego"), []byte(`package mlsec.rules.bom_required_test

import data.mlsec.rules.bom_required

test_requires_bom if { count(bom_required.deny) == 1 with input as {"bom": {"present": false}} }
`), 0o644)
		code, out, _ = e.run(t, append([]string{"policy", "check", e.model, "--policy", pol}, flags...)...)
		if code != ExitFindings || !strings.Contains(out, "a BOM is required") {
			t.Fatalf("user policy: exit %d\n%s", code, out)
		}
		if code, out, errs := e.run(t, "policy", "waive", "scorer", "--rule", "MLS-POL-006", "--reason", "BOM tooling lands next sprint",
			"--approver", "cto@example.com", "--expires", "14d", "--model-path", e.model, "--db", e.db, "--key", e.lkey); code != 0 {
			t.Fatalf("waive: %d %s %s", code, out, errs)
		}
		code, out, _ = e.run(t, append([]string{"policy", "check", e.model, "--policy", pol}, flags...)...)
		if code != 0 || !strings.Contains(out, "waived by cto@example.com") {
			t.Fatalf("waived: exit %d\n%s", code, out)
		}
		// Past the expiry the waiver no longer counts.
		code, _, _ = e.run(t, append([]string{"policy", "check", e.model, "--policy", pol, "--at", "2099-01-01T00:00:00Z"}, flags...)...)
		if code != ExitFindings {
			t.Fatalf("expired waiver: exit %d, want %d", code, ExitFindings)
		}
		// policy test runs the built-in and the user's tests.
		code, out, _ = e.run(t, "policy", "test", pol)
		if code != 0 || !strings.Contains(out, "test_requires_bom") || !strings.Contains(out, " 0 failed") {
			t.Fatalf("policy test: exit %d\n%s", code, out)
		}
		// report compliance writes a self-contained HTML file.
		html := filepath.Join(e.dir, "eu.html")
		code, _, errs = e.run(t, append([]string{"report", "compliance", e.model, "--framework", "eu-ai-act", "-o", html}, flags...)...)
		if code != 0 {
			t.Fatalf("report: exit %d %s", code, errs)
		}
		b, _ := os.ReadFile(html)
		for _, want := range []string{"Art. 15", "Accuracy, robustness and cybersecurity", "ALLOW", "signature verified"} {
			if !strings.Contains(string(b), want) {
				t.Errorf("report lacks %q", want)
			}
		}
	})
	t.Run("usage", func(t *testing.T) {
		e := newPolicyEnv(t, "clean.pkl")
		if code, _, _ := e.run(t, "report", "compliance", e.model, "--framework", "sox"); code != ExitError {
			t.Errorf("unknown framework: exit %d", code)
		}
		bad := filepath.Join(e.dir, "bad")
		os.MkdirAll(bad, 0o755)
		os.WriteFile(filepath.Join(bad, "x.rego"), []byte("package x\nallow if {"), 0o644)
		if code, _, _ := e.run(t, "policy", "check", e.model, "--policy", bad); code != ExitError {
			t.Errorf("broken policy: exit %d", code)
		}
		ev := filepath.Join(e.dir, "ev.json")
		os.WriteFile(ev, []byte(`{"hello": 1}`), 0o644)
		if code, _, _ := e.run(t, "policy", "check", e.model, "--evidence", ev); code != ExitError {
			t.Errorf("unknown evidence: exit %d", code)
		}
		if code, _, _ := e.run(t, "policy", "waive", "scorer", "--rule", "MLS-POL-006", "--reason", "r", "--approver", "a",
			"--expires", "900d", "--db", e.db, "--key", e.lkey); code != ExitError {
			t.Errorf("waiver longer than a year: exit %d", code)
		}
	})
}
