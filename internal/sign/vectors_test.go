package sign

import (
	"context"
	"crypto/elliptic"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	mtDir       = "testdata/model-transparency"
	specDir     = "testdata/oms-spec-v1.0/test-vectors"
	trustedRoot = "testdata/sigstore-trusted-root-public-good.json"
	sigIdentity = "stefanb@us.ibm.com"
	sigIssuer   = "https://sigstore.verify.ibm.com/oauth2"
)

func mustRead(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func keyVerifier(t testing.TB) BundleVerifier {
	t.Helper()
	pub, err := ParsePublicKey(mustRead(t, filepath.Join(mtDir, "keys/signing-key-pub.pem")))
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewKeyVerifier(pub)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func certVerifier(t testing.TB, opts ...CertificateOption) BundleVerifier {
	t.Helper()
	roots, err := ParseCertificates(mustRead(t, filepath.Join(mtDir, "keys/ca-cert.pem")))
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewCertificateVerifier(roots, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func sigstoreVerifier(t testing.TB, identity, issuer string) BundleVerifier {
	t.Helper()
	tr, err := LoadTrustedRoot(trustedRoot)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewSigstoreVerifier(tr, identity, issuer)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// verifierFor picks the verifier from the golden directory's method.
func verifierFor(t testing.TB, method string) BundleVerifier {
	switch method {
	case "elliptic-key":
		return keyVerifier(t)
	case "certificate":
		return certVerifier(t)
	case "sigstore":
		return sigstoreVerifier(t, sigIdentity, sigIssuer)
	}
	t.Fatalf("unknown method %q", method)
	return nil
}

// goldenModel returns the model path for a golden directory: the
// directory, or the single signed file when the signature's only resource
// is "." (v0.3.1 and v1.0.0 elliptic-key signed one file).
func goldenModel(t testing.TB, dir string) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "signme") {
			n++
		}
	}
	if n == 1 {
		return filepath.Join(dir, "signme-1")
	}
	return dir
}

func TestGoldenSignaturesVerify(t *testing.T) {
	t.Parallel()
	dirs, err := filepath.Glob(filepath.Join(mtDir, "golden", "*"))
	if err != nil || len(dirs) != 13 {
		t.Fatalf("golden dirs: %v %d", err, len(dirs))
	}
	for _, dir := range dirs {
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, method, _ := strings.Cut(name, "-")
			sig := filepath.Join(dir, "model.sig")
			res, err := Verify(context.Background(), goldenModel(t, dir), mustRead(t, sig), verifierFor(t, method), VerifyOptions{
				SignaturePath: sig, IgnorePaths: []string{"ignore-me"}, IgnoreGitPaths: true,
			})
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if res.Resources == 0 || res.Signer == nil {
				t.Fatalf("empty result %+v", res)
			}
			if strings.HasPrefix(name, "v0.2.0") != res.Signer.LegacyPAE {
				t.Errorf("legacy PAE = %v", res.Signer.LegacyPAE)
			}
			if method == "sigstore" && res.Signer.Identity != sigIdentity {
				t.Errorf("identity %q", res.Signer.Identity)
			}
		})
	}
}

// The OMS spec's valid vectors sign signme-1/-2 with the same content as
// the v1.1.0 elliptic-key golden model (sigstore: the v1.1.0 sigstore one).
func TestSpecValidVectors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		file, model string
		v           BundleVerifier
	}{
		{"valid/key.bundle.json", "golden/v1.1.0-elliptic-key", keyVerifier(t)},
		{"valid/certificate.bundle.json", "golden/v1.1.0-elliptic-key", certVerifier(t)},
		{"valid/sigstore.bundle.json", "golden/v1.1.0-sigstore", sigstoreVerifier(t, sigIdentity, sigIssuer)},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			_, err := Verify(context.Background(), filepath.Join(mtDir, c.model), mustRead(t, filepath.Join(specDir, c.file)), c.v,
				VerifyOptions{IgnorePaths: []string{"ignore-me", "model.sig"}, IgnoreGitPaths: true})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSpecInvalidVectors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		file   string
		v      BundleVerifier
		kind   Kind
		reason string
	}{
		{"invalid/empty.bundle.json", keyVerifier(t), KindMalformed, "empty"},
		{"invalid/missing-envelope.bundle.json", keyVerifier(t), KindMalformed, "missing-envelope"},
		{"invalid/missing-verification-material.bundle.json", keyVerifier(t), KindMalformed, "missing-verification-material"},
		{"invalid/missing-tlog-entries.bundle.json", sigstoreVerifier(t, sigIdentity, sigIssuer), KindMalformed, "missing-tlog-entries"},
		{"invalid-payload/wrong-predicate.bundle.json", keyVerifier(t), KindMalformed, "wrong-predicate-type"},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			_, err := Verify(context.Background(), filepath.Join(mtDir, "golden/v1.1.0-elliptic-key"), mustRead(t, filepath.Join(specDir, c.file)), c.v,
				VerifyOptions{IgnorePaths: []string{"ignore-me", "model.sig"}, IgnoreGitPaths: true})
			var ve *VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("want VerifyError, got %v", err)
			}
			if ve.Kind != c.kind || ve.Reason != c.reason {
				t.Fatalf("got %s/%s (%v), want %s/%s", ve.Kind, ve.Reason, err, c.kind, c.reason)
			}
		})
	}
}

// Wrong key, wrong identity, wrong issuer, untrusted anchor, expired.
func TestGoldenRejections(t *testing.T) {
	t.Parallel()
	otherPriv, _, err := GenerateKey(mustCurve(t, "P-384"))
	if err != nil {
		t.Fatal(err)
	}
	op, _ := ParsePrivateKey(otherPriv)
	otherKey, _ := NewKeyVerifier(&op.PublicKey)
	wrongAnchor, _ := NewCertificateVerifier(nil) // system roots
	cases := []struct {
		name, dir string
		v         BundleVerifier
		kind      Kind
		reason    string
	}{
		{"wrong key (hint)", "v1.1.0-elliptic-key", otherKey, KindSignature, "wrong-key"},
		{"wrong key (rawBytes)", "v1.0.1-elliptic-key", otherKey, KindSignature, "wrong-key"},
		{"key bundle to certificate verifier", "v1.1.0-elliptic-key", certVerifier(t), KindMalformed, "missing-certificate-chain"},
		{"certificate bundle, system roots", "v1.1.0-certificate", wrongAnchor, KindIdentity, "untrusted-chain"},
		{"certificate expired", "v1.1.0-certificate", certVerifier(t, WithVerificationTime(time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC))), KindExpired, "outside-validity-period"},
		{"certificate not yet valid", "v1.1.0-certificate", certVerifier(t, WithVerificationTime(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))), KindExpired, "outside-validity-period"},
		{"sigstore wrong identity", "v1.1.0-sigstore", sigstoreVerifier(t, "mallory@example.com", sigIssuer), KindIdentity, "identity-mismatch"},
		{"sigstore wrong issuer", "v1.1.0-sigstore", sigstoreVerifier(t, sigIdentity, "https://accounts.google.com"), KindIdentity, "identity-mismatch"},
		{"sigstore bundle to key verifier", "v1.1.0-sigstore", otherKey, KindSignature, "bad-signature"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(mtDir, "golden", c.dir)
			_, err := Verify(context.Background(), dir, mustRead(t, filepath.Join(dir, "model.sig")), c.v,
				VerifyOptions{SignaturePath: filepath.Join(dir, "model.sig"), IgnorePaths: []string{"ignore-me"}, IgnoreGitPaths: true})
			var ve *VerifyError
			if !errors.As(err, &ve) || ve.Kind != c.kind || ve.Reason != c.reason {
				t.Fatalf("got %v, want %s/%s", err, c.kind, c.reason)
			}
		})
	}
}

func mustCurve(t testing.TB, s string) elliptic.Curve {
	t.Helper()
	c, err := ParseCurve(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
