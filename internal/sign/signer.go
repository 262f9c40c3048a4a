package sign

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
)

// Signer produces the DSSE signature and the bundle's verification
// material. It satisfies go-securesystemslib's dsse.Signer.
type Signer interface {
	// Sign signs the DSSE pre-authentication encoding.
	Sign(ctx context.Context, pae []byte) ([]byte, error)
	// KeyID is empty: OMS bundles identify keys by verification material.
	KeyID() (string, error)
	// Material is the bundle's verification material.
	Material() *VerificationMaterial
	// Method names the signing method: key or certificate.
	Method() string
}

type ecdsaSigner struct{ priv *ecdsa.PrivateKey }

func (s ecdsaSigner) Sign(_ context.Context, data []byte) ([]byte, error) {
	return ecdsa.SignASN1(rand.Reader, s.priv, digest(curveHash(&s.priv.PublicKey), data))
}

func (ecdsaSigner) KeyID() (string, error) { return "", nil }

// KeySigner signs with an ECDSA key; the bundle carries the key's hint.
type KeySigner struct{ ecdsaSigner }

// NewKeySigner returns a signer for an ECDSA P-256, P-384 or P-521 key.
func NewKeySigner(priv *ecdsa.PrivateKey) (*KeySigner, error) {
	if priv == nil {
		return nil, errors.New("no private key")
	}
	if err := checkCurve(&priv.PublicKey); err != nil {
		return nil, err
	}
	return &KeySigner{ecdsaSigner{priv}}, nil
}

// Material is publicKey.hint = hex(sha256(PEM public key)).
func (s *KeySigner) Material() *VerificationMaterial {
	return &VerificationMaterial{PublicKey: &PublicKeyMaterial{Hint: PublicKeyHint(&s.priv.PublicKey)}}
}

// Method is "key".
func (s *KeySigner) Method() string { return "key" }

// CertificateSigner signs with the key of a signing certificate; the
// bundle carries the certificate and its chain.
type CertificateSigner struct {
	ecdsaSigner
	chain []*x509.Certificate
}

// NewCertificateSigner checks that leaf certifies priv's public key.
// chain holds the intermediates (and optionally the root) to embed.
func NewCertificateSigner(priv *ecdsa.PrivateKey, leaf *x509.Certificate, chain []*x509.Certificate) (*CertificateSigner, error) {
	if priv == nil || leaf == nil {
		return nil, errors.New("a private key and a signing certificate are required")
	}
	if err := checkCurve(&priv.PublicKey); err != nil {
		return nil, err
	}
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&priv.PublicKey) {
		return nil, fmt.Errorf("the signing certificate (%s) does not certify the private key", leaf.Subject)
	}
	return &CertificateSigner{ecdsaSigner{priv}, append([]*x509.Certificate{leaf}, chain...)}, nil
}

// Material is the x509CertificateChain, leaf first.
func (s *CertificateSigner) Material() *VerificationMaterial {
	cc := &CertificateChain{}
	for _, c := range s.chain {
		cc.Certificates = append(cc.Certificates, RawCertificate{RawBytes: c.Raw})
	}
	return &VerificationMaterial{X509CertificateChain: cc}
}

// Method is "certificate".
func (s *CertificateSigner) Method() string { return "certificate" }
