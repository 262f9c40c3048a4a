package sign

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testPKI is a root, an intermediate and a code-signing leaf.
type testPKI struct {
	root, inter, leaf *x509.Certificate
	leafKey           *ecdsa.PrivateKey
}

func newTestPKI(t testing.TB, leafTemplate func(*x509.Certificate)) *testPKI {
	t.Helper()
	mk := func(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) *x509.Certificate {
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	key := func(c elliptic.Curve) *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	now := time.Now()
	rk, ik, lk := key(elliptic.P384()), key(elliptic.P384()), key(elliptic.P256())
	ca := func(cn string, serial int64) *x509.Certificate {
		return &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn}, NotBefore: now.Add(-time.Hour),
			NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	}
	root := mk(ca("test-root", 1), ca("test-root", 1), &rk.PublicKey, rk)
	inter := mk(ca("test-intermediate", 2), root, &ik.PublicKey, rk)
	lt := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "model-signer"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(12 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}
	if leafTemplate != nil {
		leafTemplate(lt)
	}
	return &testPKI{root: root, inter: inter, leaf: mk(lt, inter, &lk.PublicKey, ik), leafKey: lk}
}

type method struct {
	name   string
	signer Signer
	v      BundleVerifier
}

func testMethods(t testing.TB) []method {
	t.Helper()
	var out []method
	for _, c := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := NewKeySigner(k)
		v, _ := NewKeyVerifier(&k.PublicKey)
		out = append(out, method{"key-" + c.Params().Name, s, v})
	}
	pki := newTestPKI(t, nil)
	cs, err := NewCertificateSigner(pki.leafKey, pki.leaf, []*x509.Certificate{pki.inter})
	if err != nil {
		t.Fatal(err)
	}
	cv, _ := NewCertificateVerifier([]*x509.Certificate{pki.root})
	out = append(out, method{"certificate", cs, cv})
	return out
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	methods := testMethods(t)
	sers := []Serialization{
		{Method: MethodFiles, Hash: SHA256}, {Method: MethodFiles, Hash: BLAKE2b}, {Method: MethodFiles, Hash: BLAKE3},
		{Method: MethodShards, Hash: SHA256, ShardSize: 8}, {Method: MethodShards, Hash: BLAKE2b, ShardSize: 5},
		{Method: MethodShards, Hash: BLAKE3, ShardSize: DefaultShardSize},
	}
	for _, kind := range []string{"sample_model_folder", "sample_model_file", "model_folder_with_empty_file", "deep_model_folder"} {
		for _, m := range methods {
			for _, s := range sers {
				t.Run(kind+"/"+m.name+"/"+string(s.Method)+"-"+string(s.Hash), func(t *testing.T) {
					t.Parallel()
					dir := t.TempDir()
					model := makeFixture(t, dir, kind, "model")
					sig := filepath.Join(dir, "model.sig")
					if st, _ := os.Stat(model); st.IsDir() {
						sig = filepath.Join(model, "model.sig")
					}
					signed, err := Sign(context.Background(), model, m.signer, SignOptions{
						HashOptions: HashOptions{Serialization: s, IgnoreGitPaths: true}, SignaturePath: sig})
					if err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(sig, signed.Bundle, 0o644); err != nil {
						t.Fatal(err)
					}
					res, err := Verify(context.Background(), model, signed.Bundle, m.v, VerifyOptions{SignaturePath: sig, IgnoreGitPaths: true})
					if err != nil {
						t.Fatal(err)
					}
					if res.RootDigest != signed.RootDigest || res.Serialization.Hash != s.Hash || res.Serialization.Method != s.Method {
						t.Fatalf("verified %+v, signed %+v", res.Summary, signed.Summary)
					}
				})
			}
		}
	}
}

// tamper applies one change to a signed sample_model_folder and expects
// verification to fail with kind.
func TestTamper(t *testing.T) {
	t.Parallel()
	m := testMethods(t)[0]
	cases := []struct {
		name   string
		change func(t *testing.T, model string)
		kind   Kind
		file   string
		opts   func(*VerifyOptions)
	}{
		{"byte changed", func(t *testing.T, model string) { flipByte(t, filepath.Join(model, "d0/f01"), 3) }, KindModified, "d0/f01", nil},
		{"file added", func(t *testing.T, model string) { writeFile(t, filepath.Join(model, "d1/extra.bin"), "x") }, KindAdded, "d1/extra.bin", nil},
		{"file added, ignored unsigned", func(t *testing.T, model string) { writeFile(t, filepath.Join(model, "d1/extra.bin"), "x") }, "", "",
			func(o *VerifyOptions) { o.IgnoreUnsignedFiles = true }},
		{"file added, ignored path", func(t *testing.T, model string) { writeFile(t, filepath.Join(model, "README.md"), "x") }, "", "",
			func(o *VerifyOptions) { o.IgnorePaths = []string{"README.md"} }},
		{"file removed", func(t *testing.T, model string) { must(t, os.Remove(filepath.Join(model, "f2"))) }, KindMissing, "f2", nil},
		{"file renamed", func(t *testing.T, model string) {
			must(t, os.Rename(filepath.Join(model, "f2"), filepath.Join(model, "f2.renamed")))
		}, KindMissing, "f2", nil},
		{"symlink inserted", func(t *testing.T, model string) {
			must(t, os.Symlink(filepath.Join(model, "f0"), filepath.Join(model, "link")))
		}, KindPath, "", nil},
		{"symlink replaces file", func(t *testing.T, model string) {
			must(t, os.Remove(filepath.Join(model, "f0")))
			must(t, os.Symlink(filepath.Join(model, "f1"), filepath.Join(model, "f0")))
		}, KindPath, "", nil},
		{"file truncated", func(t *testing.T, model string) { must(t, os.Truncate(filepath.Join(model, "d1/f12"), 0)) }, KindModified, "d1/f12", nil},
		{"git dir is ignored", func(t *testing.T, model string) { writeFile(t, filepath.Join(model, ".git/HEAD"), "ref") }, "", "", nil},
	}
	for _, ser := range []Serialization{{Method: MethodFiles, Hash: SHA256}, {Method: MethodShards, Hash: SHA256, ShardSize: 8}} {
		for _, c := range cases {
			t.Run(string(ser.Method)+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				model := makeFixture(t, dir, "sample_model_folder", "model")
				signed, err := Sign(context.Background(), model, m.signer, SignOptions{HashOptions: HashOptions{Serialization: ser, IgnoreGitPaths: true}})
				if err != nil {
					t.Fatal(err)
				}
				c.change(t, model)
				o := VerifyOptions{IgnoreGitPaths: true}
				if c.opts != nil {
					c.opts(&o)
				}
				_, err = Verify(context.Background(), model, signed.Bundle, m.v, o)
				if c.kind == "" {
					if err != nil {
						t.Fatalf("want success, got %v", err)
					}
					return
				}
				var ve *VerifyError
				if !errors.As(err, &ve) || ve.Kind != c.kind {
					t.Fatalf("got %v, want kind %s", err, c.kind)
				}
				if !errors.Is(err, kindSentinel[c.kind]) {
					t.Errorf("errors.Is(%v) false", kindSentinel[c.kind])
				}
				if c.file != "" {
					all := append(append(append([]string{}, ve.Diff.Modified...), ve.Diff.Added...), ve.Diff.Missing...)
					found := false
					for _, f := range all {
						found = found || f == c.file
					}
					if !found {
						t.Errorf("diff %+v does not name %s", ve.Diff, c.file)
					}
				}
			})
		}
	}
}

// Tampering with the signed bundle itself.
func TestTamperBundle(t *testing.T) {
	t.Parallel()
	m := testMethods(t)[0]
	dir := t.TempDir()
	model := makeFixture(t, dir, "sample_model_folder", "model")
	signed, err := Sign(context.Background(), model, m.signer, SignOptions{HashOptions: HashOptions{Serialization: Serialization{Method: MethodFiles, Hash: SHA256}}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseBundle(signed.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := b.payload()
	alt := []byte(string(p[:len(p)-3]) + " }}") // still JSON-ish, different bytes
	b.DSSEEnvelope.Payload = encodeB64(alt)
	raw, _ := b.Marshal()
	_, err = Verify(context.Background(), model, raw, m.v, VerifyOptions{})
	if !errors.Is(err, ErrSignature) && !errors.Is(err, ErrMalformed) {
		t.Fatalf("altered payload: %v", err)
	}
}

func flipByte(t *testing.T, p string, off int64) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	must(t, err)
	defer f.Close()
	var b [1]byte
	_, err = f.ReadAt(b[:], off)
	must(t, err)
	b[0] ^= 0x01
	_, err = f.WriteAt(b[:], off)
	must(t, err)
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(t, os.WriteFile(p, []byte(s), 0o644))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
