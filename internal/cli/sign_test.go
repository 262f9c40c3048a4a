package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlsec/mlsec/internal/ledger"
	"github.com/mlsec/mlsec/internal/sign"
)

const signVectors = "../sign/testdata"

func writeModel(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "model")
	for name, content := range map[string]string{"weights.bin": "0123456789abcdef", "config.json": `{"a":1}`, "sub/tok.txt": "hello"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestSignVerifyKeyCLI(t *testing.T) {
	dir := t.TempDir()
	priv, pub := filepath.Join(dir, "k.pem"), filepath.Join(dir, "k.pub")
	if code, _, errs := run(t, nil, "keygen", "--private-key", priv, "--public-key", pub, "--curve", "P-384"); code != 0 {
		t.Fatalf("keygen: %d %s", code, errs)
	}
	if code, _, _ := run(t, nil, "keygen", "--private-key", priv, "--public-key", pub); code != ExitError {
		t.Fatalf("keygen overwrote keys")
	}
	model := writeModel(t)
	sig := filepath.Join(model, "model.sig")
	for _, ser := range [][]string{{"--hash", "sha256"}, {"--hash", "blake3", "--serialization", "shards", "--shard-size", "4"}, {"--hash", "blake2b"}} {
		args := append([]string{"sign", "key", model, "--private_key", priv, "--signature", sig}, ser...)
		if code, out, errs := run(t, nil, args...); code != 0 || !strings.Contains(out, "Signing succeeded") {
			t.Fatalf("sign %v: %d %s %s", ser, code, out, errs)
		}
		code, out, errs := run(t, nil, "verify", "key", model, "--public-key", pub, "--signature", sig)
		if code != 0 || !strings.Contains(out, "Verification succeeded") {
			t.Fatalf("verify %v: %d %s %s", ser, code, out, errs)
		}
	}
	// digest matches what was signed
	_, dout, _ := run(t, nil, "digest", model, "--hash", "blake2b", "--ignore-paths", "model.sig")
	_, vout, _ := run(t, nil, "--format", "json", "verify", "key", model, "--public-key", pub, "--signature", sig)
	var vr verifyResult
	if err := json.Unmarshal([]byte(vout), &vr); err != nil {
		t.Fatalf("json: %v\n%s", err, vout)
	}
	if !vr.Verified || !strings.HasPrefix(dout, vr.Summary.RootDigest) {
		t.Fatalf("digest %q vs verified %+v", dout, vr.Summary)
	}

	// tamper: modified, added, missing each with its own status and JSON
	if err := os.WriteFile(filepath.Join(model, "extra.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := run(t, nil, "--format", "json", "verify", "key", model, "--public-key", pub, "--signature", sig)
	if code != ExitVerifyAdded || !strings.Contains(out, `"kind": "added"`) || !strings.Contains(out, "extra.txt") {
		t.Fatalf("added: %d %s", code, out)
	}
	if code, _, _ := run(t, nil, "verify", "key", model, "--public-key", pub, "--signature", sig, "--ignore-unsigned-files"); code != 0 {
		t.Fatalf("ignore-unsigned-files: %d", code)
	}
	os.Remove(filepath.Join(model, "extra.txt"))
	if err := os.WriteFile(filepath.Join(model, "weights.bin"), []byte("0123456789abcdeF"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := run(t, nil, "verify", "key", model, "--public-key", pub, "--signature", sig); code != ExitVerifyModified || !strings.Contains(out, "weights.bin") {
		t.Fatalf("modified: %d %s", code, out)
	}
	os.Remove(filepath.Join(model, "weights.bin"))
	if code, _, _ := run(t, nil, "verify", "key", model, "--public-key", pub, "--signature", sig); code != ExitVerifyMissing {
		t.Fatalf("missing: %d", code)
	}
	// wrong key
	priv2, pub2 := filepath.Join(dir, "k2.pem"), filepath.Join(dir, "k2.pub")
	run(t, nil, "keygen", "--private-key", priv2, "--public-key", pub2)
	if code, _, _ := run(t, nil, "verify", "key", model, "--public-key", pub2, "--signature", sig); code != ExitVerifySignature {
		t.Fatalf("wrong key: %d", code)
	}
	// malformed
	bad := filepath.Join(dir, "bad.sig")
	os.WriteFile(bad, []byte("{}"), 0o644)
	if code, _, _ := run(t, nil, "verify", "key", model, "--public-key", pub, "--signature", bad); code != ExitVerifyMalformed {
		t.Fatalf("malformed: %d", code)
	}
	// usage
	if code, _, _ := run(t, nil, "verify", "key", model); code != ExitError {
		t.Fatalf("missing --public-key: %d", code)
	}
}

func TestVerifyGoldenCLI(t *testing.T) {
	golden := filepath.Join(signVectors, "model-transparency/golden")
	keys := filepath.Join(signVectors, "model-transparency/keys")
	cases := []struct {
		args []string
		code int
	}{
		{[]string{"verify", "key", filepath.Join(golden, "v1.1.0-elliptic-key"), "--public-key", filepath.Join(keys, "signing-key-pub.pem")}, 0},
		{[]string{"verify", "certificate", filepath.Join(golden, "v1.0.1-certificate"), "--certificate-chain", filepath.Join(keys, "ca-cert.pem")}, 0},
		{[]string{"verify", "certificate", filepath.Join(golden, "v0.2.0-certificate"), "--certificate_chain", filepath.Join(keys, "ca-cert.pem")}, 0},
		{[]string{"verify", "sigstore", filepath.Join(golden, "v1.1.0-sigstore"), "--identity", "stefanb@us.ibm.com",
			"--identity-provider", "https://sigstore.verify.ibm.com/oauth2", "--trust-config", filepath.Join(signVectors, "sigstore-trusted-root-public-good.json")}, 0},
		{[]string{"verify", "sigstore", filepath.Join(golden, "v1.1.0-sigstore"), "--identity", "eve@example.com",
			"--identity-provider", "https://sigstore.verify.ibm.com/oauth2", "--trust-config", filepath.Join(signVectors, "sigstore-trusted-root-public-good.json")}, ExitVerifyIdentity},
		{[]string{"verify", "sigstore", filepath.Join(golden, "v1.1.0-sigstore"), "--identity", "x", "--identity-provider", "y"}, ExitError},
	}
	for _, c := range cases {
		dir := c.args[2]
		args := append(c.args, "--signature", filepath.Join(dir, "model.sig"), "--ignore-paths", "ignore-me")
		code, out, errs := run(t, nil, args...)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d\n%s%s", c.args[:3], code, c.code, out, errs)
		}
	}
}

func TestSignVerifyLedgerEvents(t *testing.T) {
	dir := t.TempDir()
	db, lkey := filepath.Join(dir, "ledger.db"), filepath.Join(dir, "ledger.key")
	if code, out, errs := run(t, nil, "ledger", "init", "--db", db, "--key", lkey); code != 0 {
		t.Fatalf("ledger init: %d %s %s", code, out, errs)
	}
	priv, pub := filepath.Join(dir, "k.pem"), filepath.Join(dir, "k.pub")
	run(t, nil, "keygen", "--private-key", priv, "--public-key", pub)
	model := writeModel(t)
	sig := filepath.Join(dir, "model.sig")
	led := []string{"--ledger", db, "--ledger-key", lkey}
	if code, _, errs := run(t, nil, append([]string{"sign", "key", model, "--private-key", priv, "--signature", sig}, led...)...); code != 0 {
		t.Fatalf("sign: %s", errs)
	}
	if code, _, errs := run(t, nil, append([]string{"verify", "key", model, "--public-key", pub, "--signature", sig}, led...)...); code != 0 {
		t.Fatalf("verify: %s", errs)
	}
	os.WriteFile(filepath.Join(model, "weights.bin"), []byte("tampered"), 0o644)
	if code, _, _ := run(t, nil, append([]string{"verify", "key", model, "--public-key", pub, "--signature", sig}, led...)...); code != ExitVerifyModified {
		t.Fatalf("tampered verify: %d", code)
	}
	code, out, errs := run(t, nil, "--format", "json", "ledger", "log", "--db", db, "--key", lkey)
	if code != 0 {
		t.Fatalf("ledger log: %d %s", code, errs)
	}
	for _, want := range []string{`"sign"`, `"verify"`, "OMS signature written", "OMS signature verified", "verification failed: model modified"} {
		if !strings.Contains(out, want) {
			t.Errorf("ledger log lacks %q:\n%s", want, out)
		}
	}
	if code, _, errs := run(t, nil, "ledger", "verify", "--db", db, "--key", lkey); code != 0 {
		t.Fatalf("ledger verify: %d %s", code, errs)
	}
}

// fakeAppender checks the event built for the ledger without a database.
type fakeAppender struct{ got []string }

func (f *fakeAppender) Append(_ context.Context, ev ledger.Event) (int64, error) {
	if err := ev.Validate(); err != nil {
		return 0, err
	}
	f.got = append(f.got, ev.Action+" "+ev.Subject.Digest)
	return int64(len(f.got)), nil
}

func TestSignEventIsValid(t *testing.T) {
	var f fakeAppender
	s := &sign.Summary{ModelName: "m", RootDigest: "sha256:" + strings.Repeat("ab", 32), Signer: &sign.SignerInfo{Method: "key"}}
	if err := appendSignEvent(context.Background(), &f, ledger.ActionSign, s, nil); err != nil {
		t.Fatal(err)
	}
	if err := appendSignEvent(context.Background(), &f, ledger.ActionVerify, &sign.Summary{ModelName: "m"}, sign.ErrMissing); err != nil {
		t.Fatal(err)
	}
	if len(f.got) != 2 {
		t.Fatal(f.got)
	}
}
