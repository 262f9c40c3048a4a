package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/mlsec/mlsec/internal/sign"
)

// maxModelFiles bounds how many files of a model directory are digested.
const maxModelFiles = 100_000

// DigestModel identifies the model at path: its name (the base name
// without extension), the SHA-256 of every regular file, and the model
// digest as 'mlsec attest' records it (the file's SHA-256, or for a
// directory the SHA-256 of its sorted "hex  path" lines).
func DigestModel(ctx context.Context, path string) (Model, error) {
	m := Model{Path: path, Files: map[string]string{}}
	clean := filepath.Clean(path)
	m.Name = strings.TrimSuffix(filepath.Base(clean), filepath.Ext(clean))
	fi, err := os.Stat(path)
	if err != nil {
		return Model{}, err
	}
	if !fi.IsDir() {
		h, err := fileSHA256(ctx, path)
		if err != nil {
			return Model{}, err
		}
		m.Files[filepath.Base(clean)] = h
		m.Digest = "sha256:" + h
		return m, nil
	}
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if len(m.Files) >= maxModelFiles {
			return fmt.Errorf("more than %d files", maxModelFiles)
		}
		h, err := fileSHA256(ctx, p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(path, p)
		m.Files[filepath.ToSlash(rel)] = h
		return nil
	})
	if err != nil {
		return Model{}, fmt.Errorf("digest %s: %w", path, err)
	}
	if len(m.Files) == 0 {
		return Model{}, fmt.Errorf("%s: no files", path)
	}
	names := make([]string, 0, len(m.Files))
	for n := range m.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s  %s\n", m.Files[n], n)
	}
	m.Digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
	return m, nil
}

func fileSHA256(ctx context.Context, p string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// SignatureFromVerify turns the outcome of sign.Verify into evidence.
// Only verification failures (*sign.VerifyError) become evidence; other
// errors (I/O) are returned.
func SignatureFromVerify(res *sign.Verified, verr error, bundle string) (SignatureEvidence, error) {
	s := SignatureEvidence{Present: true, Bundle: bundle}
	if verr != nil {
		var ve *sign.VerifyError
		if !errors.As(verr, &ve) {
			return SignatureEvidence{}, verr
		}
		s.Error = &SignatureError{Kind: string(ve.Kind), Reason: ve.Reason, Message: ve.Error()}
		return s, nil
	}
	s.Verified = true
	s.RootDigest = res.RootDigest
	if si := res.Signer; si != nil {
		s.Method = si.Method
		issuer := si.Issuer
		if si.IdentityProvider != "" {
			issuer = si.IdentityProvider
		}
		s.Signer = &Signer{Method: si.Method, Identity: si.Identity, Issuer: issuer, Subject: si.Subject, KeyHint: si.KeyHint}
	}
	return s, nil
}
