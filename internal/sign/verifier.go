package sign

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// SignerInfo describes who signed, as far as the method can tell.
type SignerInfo struct {
	Method           string     `json:"method"`
	KeyHint          string     `json:"key_hint,omitempty"`
	Subject          string     `json:"subject,omitempty"`
	Issuer           string     `json:"issuer,omitempty"`
	Fingerprint      string     `json:"certificate_sha256,omitempty"`
	NotBefore        *time.Time `json:"not_before,omitempty"`
	NotAfter         *time.Time `json:"not_after,omitempty"`
	Identity         string     `json:"identity,omitempty"`
	IdentityProvider string     `json:"identity_provider,omitempty"`
	LegacyPAE        bool       `json:"legacy_pae,omitempty"`
}

// BundleVerifier authenticates a bundle and returns its signed payload.
type BundleVerifier interface {
	Method() string
	// VerifyBundle checks the signature (and identity) of b, whose raw JSON
	// is raw, and returns the DSSE payload.
	VerifyBundle(ctx context.Context, b *Bundle, raw []byte) ([]byte, *SignerInfo, error)
}

// verifyEnvelope checks the DSSE signatures of b against pub: the standard
// PAE with the curve's hash, and, for the v0.2 compat predicate only, the
// encoding model_signing v0.2 signed ("DSSEV1 … b'<payload repr>'" with
// SHA-256).
func verifyEnvelope(b *Bundle, pub *ecdsa.PublicKey) (payload []byte, legacy bool, err error) {
	payload, err = b.payload()
	if err != nil {
		return nil, false, err
	}
	sigs, err := b.signatures()
	if err != nil {
		return nil, false, err
	}
	pae := dsse.PAE(b.DSSEEnvelope.PayloadType, payload)
	d := digest(curveHash(pub), pae)
	for _, s := range sigs {
		if ecdsa.VerifyASN1(pub, d, s) {
			return payload, false, nil
		}
	}
	if isCompatPayload(payload) {
		d := digest(crypto.SHA256, legacyPAE(b.DSSEEnvelope.PayloadType, payload))
		for _, s := range sigs {
			if ecdsa.VerifyASN1(pub, d, s) {
				return payload, true, nil
			}
		}
	}
	return nil, false, verr(KindSignature, "bad-signature", nil, "the DSSE signature does not verify with this key")
}

func isCompatPayload(p []byte) bool {
	var st struct {
		PredicateType string `json:"predicateType"`
	}
	return json.Unmarshal(p, &st) == nil && st.PredicateType == PredicateTypeCompat
}

// legacyPAE is model_signing v0.2's encoding: "DSSEV1" (capital V) and the
// payload formatted as a Python bytes literal.
func legacyPAE(payloadType string, payload []byte) []byte {
	return []byte("DSSEV1 " + strconv.Itoa(len(payloadType)) + " " + payloadType + " " + strconv.Itoa(len(payload)) + " " + pyBytesRepr(payload))
}

// pyBytesRepr is Python's repr() of a bytes object.
func pyBytesRepr(b []byte) string {
	q := byte('\'')
	if slices.Contains(b, '\'') && !slices.Contains(b, '"') {
		q = '"'
	}
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/8 + 3)
	sb.WriteByte('b')
	sb.WriteByte(q)
	const hexd = "0123456789abcdef"
	for _, c := range b {
		switch {
		case c == q || c == '\\':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case c == '\n':
			sb.WriteString(`\n`)
		case c == '\r':
			sb.WriteString(`\r`)
		case c == '\t':
			sb.WriteString(`\t`)
		case c < 0x20 || c >= 0x7f:
			sb.WriteString(`\x`)
			sb.WriteByte(hexd[c>>4])
			sb.WriteByte(hexd[c&15])
		default:
			sb.WriteByte(c)
		}
	}
	sb.WriteByte(q)
	return sb.String()
}

// KeyVerifier verifies bundles signed with a known ECDSA public key.
type KeyVerifier struct{ pub *ecdsa.PublicKey }

// NewKeyVerifier returns a verifier for pub.
func NewKeyVerifier(pub *ecdsa.PublicKey) (*KeyVerifier, error) {
	if pub == nil {
		return nil, errors.New("no public key")
	}
	if err := checkCurve(pub); err != nil {
		return nil, err
	}
	return &KeyVerifier{pub}, nil
}

// Method is "key".
func (v *KeyVerifier) Method() string { return "key" }

// VerifyBundle checks the envelope signature with the key. The bundle's
// legacy rawBytes key, when present, must be the same key.
func (v *KeyVerifier) VerifyBundle(_ context.Context, b *Bundle, _ []byte) ([]byte, *SignerInfo, error) {
	info := &SignerInfo{Method: "key", KeyHint: PublicKeyHint(v.pub)}
	vm := b.VerificationMaterial
	if pk := vm.PublicKey; pk != nil && len(pk.RawBytes) > 0 {
		if other, err := ParsePublicKey(pk.RawBytes); err == nil && !other.Equal(v.pub) {
			return nil, info, verr(KindSignature, "wrong-key", nil, "the bundle names a different public key (hint %s)", PublicKeyHint(other))
		}
	}
	payload, legacy, err := verifyEnvelope(b, v.pub)
	if err != nil {
		var ve *VerifyError
		if errors.As(err, &ve) && ve.Kind == KindSignature && vm.PublicKey != nil && vm.PublicKey.Hint != "" && vm.PublicKey.Hint != info.KeyHint {
			ve.Reason = "wrong-key"
			ve.Detail = fmt.Sprintf("signed by key %s, not by the given key %s", vm.PublicKey.Hint, info.KeyHint)
		}
		return nil, info, err
	}
	info.LegacyPAE = legacy
	return payload, info, nil
}

// CertificateVerifier verifies bundles whose verification material is an
// X.509 certificate chain, built to the given trust anchors with
// crypto/x509.
type CertificateVerifier struct {
	roots *x509.CertPool
	now   func() time.Time
}

// CertificateOption configures a CertificateVerifier.
type CertificateOption func(*CertificateVerifier)

// WithVerificationTime checks validity periods at t instead of now.
func WithVerificationTime(t time.Time) CertificateOption {
	return func(v *CertificateVerifier) { v.now = func() time.Time { return t } }
}

// NewCertificateVerifier trusts anchors; with none, the system roots.
func NewCertificateVerifier(anchors []*x509.Certificate, opts ...CertificateOption) (*CertificateVerifier, error) {
	v := &CertificateVerifier{now: time.Now}
	if len(anchors) == 0 {
		pool, err := x509.SystemCertPool()
		if err != nil {
			return nil, fmt.Errorf("system roots: %w", err)
		}
		v.roots = pool
	} else {
		v.roots = x509.NewCertPool()
		for _, c := range anchors {
			v.roots.AddCert(c)
		}
	}
	for _, o := range opts {
		o(v)
	}
	return v, nil
}

// Method is "certificate".
func (v *CertificateVerifier) Method() string { return "certificate" }

// VerifyBundle builds the chain from the bundle's leaf through its
// intermediates to a trust anchor, checks validity periods at the
// verification time, requires digitalSignature key usage or the
// codeSigning extended key usage, then checks the signature.
func (v *CertificateVerifier) VerifyBundle(_ context.Context, b *Bundle, _ []byte) ([]byte, *SignerInfo, error) {
	vm := b.VerificationMaterial
	var ders [][]byte
	switch {
	case vm.X509CertificateChain != nil:
		for _, c := range vm.X509CertificateChain.Certificates {
			ders = append(ders, c.RawBytes)
		}
	case vm.Certificate != nil:
		ders = append(ders, vm.Certificate.RawBytes)
	}
	if len(ders) == 0 {
		return nil, nil, verr(KindMalformed, "missing-certificate-chain", nil, "the bundle carries no certificate (signed with a key?)")
	}
	if len(ders) > 16 {
		return nil, nil, verr(KindMalformed, "bad-certificate-chain", nil, "%d certificates in the chain", len(ders))
	}
	certs := make([]*x509.Certificate, 0, len(ders))
	for i, der := range ders {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, nil, verr(KindMalformed, "bad-certificate", err, "certificate %d: %v", i, err)
		}
		certs = append(certs, c)
	}
	leaf := certs[0]
	fp := sha256.Sum256(leaf.Raw)
	nb, na := leaf.NotBefore, leaf.NotAfter
	info := &SignerInfo{Method: "certificate", Subject: leaf.Subject.String(), Issuer: leaf.Issuer.String(),
		Fingerprint: hex.EncodeToString(fp[:]), NotBefore: &nb, NotAfter: &na}
	now := v.now()
	for _, c := range certs {
		if now.Before(c.NotBefore) || now.After(c.NotAfter) {
			return nil, info, verr(KindExpired, "outside-validity-period", nil, "certificate %q is valid from %s to %s, not at %s",
				c.Subject, c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		}
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: v.roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		var inv x509.CertificateInvalidError
		if errors.As(err, &inv) && inv.Reason == x509.Expired {
			return nil, info, verr(KindExpired, "outside-validity-period", err, "%v", err)
		}
		return nil, info, verr(KindIdentity, "untrusted-chain", err, "%v", err)
	}
	if leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageCodeSigning) {
		return nil, info, verr(KindIdentity, "not-for-signing", nil, "certificate %q allows neither digitalSignature nor codeSigning", leaf.Subject)
	}
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, info, verr(KindMalformed, "unsupported-key", nil, "signing certificate key is %T, want ECDSA", leaf.PublicKey)
	}
	payload, legacy, err := verifyEnvelope(b, pub)
	if err != nil {
		return nil, info, err
	}
	info.LegacyPAE = legacy
	return payload, info, nil
}
