package sign

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// BundleMediaType is the Sigstore bundle version written.
const BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// maxBundle bounds a signature file.
const maxBundle = 512 << 20

// Bundle is the subset of a Sigstore bundle that OMS uses. Fields owned by
// Sigstore (transparency log entries, timestamps) are kept raw and
// verified by sigstore-go for the sigstore method.
type Bundle struct {
	MediaType            string                `json:"mediaType"`
	VerificationMaterial *VerificationMaterial `json:"verificationMaterial,omitempty"`
	DSSEEnvelope         *dsse.Envelope        `json:"dsseEnvelope,omitempty"`
	MessageSignature     json.RawMessage       `json:"messageSignature,omitempty"`
}

// VerificationMaterial carries exactly one of PublicKey,
// X509CertificateChain or Certificate.
type VerificationMaterial struct {
	PublicKey                 *PublicKeyMaterial `json:"publicKey,omitempty"`
	X509CertificateChain      *CertificateChain  `json:"x509CertificateChain,omitempty"`
	Certificate               *RawCertificate    `json:"certificate,omitempty"`
	TlogEntries               []json.RawMessage  `json:"tlogEntries"`
	TimestampVerificationData json.RawMessage    `json:"timestampVerificationData,omitempty"`
}

// PublicKeyMaterial identifies the signing key. Hint is
// hex(sha256(PEM public key)) as model_signing ≥ 1.1 writes; RawBytes and
// KeyDetails are the legacy form (PEM bytes and the algorithm name).
type PublicKeyMaterial struct {
	Hint       string `json:"hint,omitempty"`
	RawBytes   []byte `json:"rawBytes,omitempty"`
	KeyDetails string `json:"keyDetails,omitempty"`
}

// CertificateChain is the leaf first, then intermediates, DER encoded.
type CertificateChain struct {
	Certificates []RawCertificate `json:"certificates"`
}

// RawCertificate is one DER certificate.
type RawCertificate struct {
	RawBytes []byte `json:"rawBytes"`
}

// ParseBundle decodes and structurally validates a signature file. Errors
// are *VerifyError of KindMalformed with a Reason naming what is missing.
func ParseBundle(data []byte) (*Bundle, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, verr(KindMalformed, "empty", nil, "signature file is empty")
	}
	if len(data) > maxBundle {
		return nil, verr(KindMalformed, "too-large", nil, "signature file is %d bytes", len(data))
	}
	var b Bundle
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&b); err != nil {
		return nil, verr(KindMalformed, "not-json", err, "%v", err)
	}
	if !strings.HasPrefix(b.MediaType, "application/vnd.dev.sigstore.bundle") {
		return nil, verr(KindMalformed, "wrong-media-type", nil, "media type %q is not a Sigstore bundle", b.MediaType)
	}
	if b.VerificationMaterial == nil {
		return nil, verr(KindMalformed, "missing-verification-material", nil, "bundle has no verification material")
	}
	vm := b.VerificationMaterial
	if vm.PublicKey == nil && vm.X509CertificateChain == nil && vm.Certificate == nil {
		return nil, verr(KindMalformed, "missing-verification-material", nil, "bundle has no key, certificate or certificate chain")
	}
	if b.DSSEEnvelope == nil {
		if len(b.MessageSignature) > 0 {
			return nil, verr(KindMalformed, "missing-envelope", nil, "bundle holds a message signature, not a DSSE envelope")
		}
		return nil, verr(KindMalformed, "missing-envelope", nil, "bundle has no DSSE envelope")
	}
	env := b.DSSEEnvelope
	if env.PayloadType != PayloadType {
		return nil, verr(KindMalformed, "wrong-payload-type", nil, "payload type %q (want %s)", env.PayloadType, PayloadType)
	}
	if env.Payload == "" {
		return nil, verr(KindMalformed, "missing-payload", nil, "DSSE envelope has no payload")
	}
	if len(env.Signatures) == 0 {
		return nil, verr(KindMalformed, "missing-signature", nil, "DSSE envelope has no signature")
	}
	if len(env.Signatures) > 16 {
		return nil, verr(KindMalformed, "too-many-signatures", nil, "%d signatures", len(env.Signatures))
	}
	return &b, nil
}

// payload returns the decoded DSSE payload.
func (b *Bundle) payload() ([]byte, error) {
	p, err := b.DSSEEnvelope.DecodeB64Payload()
	if err != nil {
		return nil, verr(KindMalformed, "bad-payload-encoding", err, "payload is not base64")
	}
	return p, nil
}

// signatures returns the decoded DSSE signatures.
func (b *Bundle) signatures() ([][]byte, error) {
	var out [][]byte
	for _, s := range b.DSSEEnvelope.Signatures {
		sig, err := decodeB64(s.Sig)
		if err != nil {
			return nil, verr(KindMalformed, "bad-signature-encoding", err, "signature is not base64")
		}
		out = append(out, sig)
	}
	return out, nil
}

func decodeB64(s string) ([]byte, error) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.URLEncoding.DecodeString(s)
}

// Marshal renders the bundle as model_signing writes it (compact JSON).
func (b *Bundle) Marshal() ([]byte, error) {
	if b.VerificationMaterial != nil && b.VerificationMaterial.TlogEntries == nil {
		b.VerificationMaterial.TlogEntries = []json.RawMessage{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(b); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

func encodeB64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
