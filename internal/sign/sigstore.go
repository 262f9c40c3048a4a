package sign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

// LoadTrustedRoot reads a Sigstore trusted root JSON, or a ClientTrustConfig
// (as model_signing's --trust_config takes) holding one under
// "trustedRoot".
func LoadTrustedRoot(path string) (*root.TrustedRoot, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("trust config: %w", err)
	}
	return ParseTrustedRoot(data)
}

// ParseTrustedRoot is LoadTrustedRoot over bytes.
func ParseTrustedRoot(data []byte) (*root.TrustedRoot, error) {
	var probe struct {
		TrustedRoot json.RawMessage `json:"trustedRoot"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("trust config: %w", err)
	}
	if len(probe.TrustedRoot) > 0 {
		data = probe.TrustedRoot
	}
	tr, err := root.NewTrustedRootFromJSON(data)
	if err != nil {
		return nil, fmt.Errorf("trust config: %w", err)
	}
	return tr, nil
}

// SigstoreVerifier verifies keyless Sigstore bundles offline: the Fulcio
// certificate chain, the transparency log entry (inclusion promise or
// proof), the timestamps and the signer identity, with sigstore-go.
type SigstoreVerifier struct {
	trusted  root.TrustedMaterial
	identity verify.CertificateIdentity
	san      string
	issuer   string
}

// NewSigstoreVerifier requires the expected identity (certificate SAN,
// e.g. an e-mail address or workflow URI) and OIDC issuer.
func NewSigstoreVerifier(trusted root.TrustedMaterial, identity, issuer string) (*SigstoreVerifier, error) {
	if trusted == nil {
		return nil, errors.New("no trusted root")
	}
	if identity == "" || issuer == "" {
		return nil, errors.New("sigstore verification needs both an identity and an identity provider")
	}
	id, err := verify.NewShortCertificateIdentity(issuer, "", identity, "")
	if err != nil {
		return nil, err
	}
	return &SigstoreVerifier{trusted: trusted, identity: id, san: identity, issuer: issuer}, nil
}

// Method is "sigstore".
func (v *SigstoreVerifier) Method() string { return "sigstore" }

// VerifyBundle verifies with sigstore-go and returns the DSSE payload.
func (v *SigstoreVerifier) VerifyBundle(_ context.Context, b *Bundle, raw []byte) ([]byte, *SignerInfo, error) {
	info := &SignerInfo{Method: "sigstore"}
	if b.VerificationMaterial.Certificate == nil && b.VerificationMaterial.X509CertificateChain == nil {
		return nil, info, verr(KindMalformed, "missing-certificate", nil, "the bundle carries no Fulcio certificate (signed with a key?)")
	}
	if len(b.VerificationMaterial.TlogEntries) == 0 {
		return nil, info, verr(KindMalformed, "missing-tlog-entries", nil, "the bundle has no transparency log entry")
	}
	var sb sgbundle.Bundle
	if err := sb.UnmarshalJSON(raw); err != nil {
		return nil, info, verr(KindMalformed, "invalid-sigstore-bundle", err, "%v", err)
	}
	ver, err := verify.NewVerifier(v.trusted, verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1))
	if err != nil {
		return nil, info, err
	}
	res, err := ver.Verify(&sb, verify.NewPolicy(verify.WithoutArtifactUnsafe(), verify.WithCertificateIdentity(v.identity)))
	if err != nil {
		return nil, info, classifySigstoreError(err)
	}
	if res.Signature != nil && res.Signature.Certificate != nil {
		info.Identity = res.Signature.Certificate.SubjectAlternativeName
		info.IdentityProvider = res.Signature.Certificate.Issuer
	}
	payload, err := b.payload()
	if err != nil {
		return nil, info, err
	}
	return payload, info, nil
}

func classifySigstoreError(err error) *VerifyError {
	var idErr *verify.ErrNoMatchingCertificateIdentity
	msg := err.Error()
	switch {
	case errors.As(err, &idErr):
		return verr(KindIdentity, "identity-mismatch", err, "%v", err)
	case strings.Contains(msg, "expired") || strings.Contains(msg, "not yet valid"):
		return verr(KindExpired, "outside-validity-period", err, "%v", err)
	case strings.Contains(msg, "log inclusion") || strings.Contains(msg, "transparency log"):
		return verr(KindIdentity, "tlog-not-verified", err, "%v", err)
	case strings.Contains(msg, "signature"):
		return verr(KindSignature, "bad-signature", err, "%v", err)
	}
	return verr(KindIdentity, "untrusted", err, "%v", err)
}
