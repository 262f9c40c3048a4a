package sign

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

func addSeeds(f *testing.F, globs ...string) {
	for _, g := range globs {
		files, _ := filepath.Glob(g)
		for _, p := range files {
			f.Add(mustRead(f, p))
		}
	}
}

// FuzzParseBundle: any bytes give a bundle or a malformed-bundle error.
func FuzzParseBundle(f *testing.F) {
	addSeeds(f, filepath.Join(mtDir, "golden/*/model.sig"), filepath.Join(specDir, "*/*.json"))
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{}},"dsseEnvelope":{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"sig":"AA=="}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseBundle(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if _, err := b.Marshal(); err != nil {
			t.Fatal(err)
		}
		_ = checkStatementTypes(b)
	})
}

// FuzzDecodeStatement: any payload gives a manifest whose resources are
// safe relative paths, or a PayloadError.
func FuzzDecodeStatement(f *testing.F) {
	addSeeds(f, filepath.Join(mtDir, "payloads/*"))
	for _, p := range []string{"golden/v0.2.0-certificate/model.sig", "golden/v1.1.0-sigstore/model.sig"} {
		b, err := ParseBundle(mustRead(f, filepath.Join(mtDir, p)))
		if err != nil {
			f.Fatal(err)
		}
		pl, _ := b.payload()
		f.Add(pl)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, _, err := DecodeStatement(data)
		if err != nil {
			var pe *PayloadError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		for _, r := range m.Resources {
			if checkResourcePath(r.Path) != nil {
				t.Fatalf("unsafe path accepted: %q", r.Path)
			}
			if r.Sharded && (r.Start < 0 || r.End < r.Start) {
				t.Fatalf("bad shard %s", r.Name())
			}
		}
		if _, err := EncodeStatement(m); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzVerify runs whole verification of arbitrary bundles against a small
// model: it must return a result or an error, never panic.
func FuzzVerify(f *testing.F) {
	addSeeds(f, filepath.Join(mtDir, "golden/*-elliptic-key/model.sig"), filepath.Join(specDir, "*/*.json"))
	model := filepath.Join(mtDir, "golden/v1.1.0-elliptic-key")
	v := keyVerifier(f)
	cv := certVerifier(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, bv := range []BundleVerifier{v, cv} {
			_, _ = Verify(context.Background(), model, data, bv, VerifyOptions{IgnorePaths: []string{"ignore-me", "model.sig"}, Workers: 1})
		}
	})
}

// FuzzPyBytesRepr: the legacy PAE quoting is total.
func FuzzPyBytesRepr(f *testing.F) {
	f.Add([]byte("a'b\"c\\\n\x00\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := pyBytesRepr(data)
		if len(s) < 3 || s[0] != 'b' {
			t.Fatalf("bad repr %q", s)
		}
	})
}
