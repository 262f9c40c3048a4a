package ledger

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// in-toto and SLSA identifiers.
const (
	StatementType       = "https://in-toto.io/Statement/v1"
	ProvenanceType      = "https://slsa.dev/provenance/v1"
	InTotoPayloadType   = "application/vnd.in-toto+json"
	DSSEMediaType       = "application/vnd.dsse.envelope.v1+json"
	TrainingBuildType   = "https://mlsec.dev/attestation/training/v1"
	maxEnvelopeSize     = 16 << 20
	maxSubjectsInStmt   = 100000
	DefaultBuilderIDFmt = "https://mlsec.dev/builder/%s"
)

// ResourceDescriptor is an in-toto v1 resource descriptor.
type ResourceDescriptor struct {
	Name        string            `json:"name,omitempty"`
	URI         string            `json:"uri,omitempty"`
	Digest      map[string]string `json:"digest,omitempty"`
	Annotations map[string]any    `json:"annotations,omitempty"`
}

// Statement is an in-toto Statement v1 with a SLSA Provenance v1 predicate.
type Statement struct {
	Type          string               `json:"_type"`
	Subject       []ResourceDescriptor `json:"subject"`
	PredicateType string               `json:"predicateType"`
	Predicate     Provenance           `json:"predicate"`
}

// Provenance is the SLSA Provenance v1 predicate.
type Provenance struct {
	BuildDefinition BuildDefinition `json:"buildDefinition"`
	RunDetails      RunDetails      `json:"runDetails"`
}

// BuildDefinition describes what the build (training run) did.
type BuildDefinition struct {
	BuildType            string               `json:"buildType"`
	ExternalParameters   map[string]any       `json:"externalParameters"`
	InternalParameters   map[string]any       `json:"internalParameters,omitempty"`
	ResolvedDependencies []ResourceDescriptor `json:"resolvedDependencies,omitempty"`
}

// RunDetails says who ran it and when.
type RunDetails struct {
	Builder  Builder       `json:"builder"`
	Metadata BuildMetadata `json:"metadata,omitzero"`
}

// Builder identifies the trusted build platform.
type Builder struct {
	ID string `json:"id"`
}

// BuildMetadata carries run identifiers and times.
type BuildMetadata struct {
	InvocationID string     `json:"invocationId,omitempty"`
	StartedOn    *time.Time `json:"startedOn,omitempty"`
	FinishedOn   *time.Time `json:"finishedOn,omitempty"`
}

// Validate checks the fields SLSA requires.
func (s *Statement) Validate() error {
	if s.Type != StatementType {
		return fmt.Errorf("statement _type %q, want %s", s.Type, StatementType)
	}
	if len(s.Subject) == 0 || len(s.Subject) > maxSubjectsInStmt {
		return fmt.Errorf("statement has %d subjects", len(s.Subject))
	}
	for i, sub := range s.Subject {
		if len(sub.Digest) == 0 {
			return fmt.Errorf("subject %d has no digest", i)
		}
	}
	if s.PredicateType != ProvenanceType {
		return fmt.Errorf("predicateType %q, want %s", s.PredicateType, ProvenanceType)
	}
	if s.Predicate.BuildDefinition.BuildType == "" || s.Predicate.RunDetails.Builder.ID == "" {
		return errors.New("provenance needs buildType and builder.id")
	}
	return nil
}

// noteKey decodes a note key's algorithm byte and key material.
func noteKeyBytes(key string, private bool) ([]byte, string, error) {
	key = strings.TrimSpace(key)
	if private {
		if !strings.HasPrefix(key, "PRIVATE+KEY+") {
			return nil, "", errors.New("not a private note key")
		}
		key = strings.TrimPrefix(key, "PRIVATE+KEY+")
	}
	// name+hash+base64: the name and hash never hold '+', the base64 may.
	parts := strings.SplitN(key, "+", 3)
	if len(parts) != 3 {
		return nil, "", errors.New("malformed note key")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 33 || raw[0] != 1 {
		return nil, "", errors.New("not an Ed25519 note key")
	}
	return raw[1:], parts[0], nil
}

// KeySigner is a DSSE signer/verifier over a ledger (note) Ed25519 key.
type KeySigner struct {
	priv  ed25519.PrivateKey
	pub   ed25519.PublicKey
	keyID string
}

// NewKeySigner makes a DSSE signer from a private note key.
func NewKeySigner(skey string) (*KeySigner, error) {
	seed, _, err := noteKeyBytes(skey, true)
	if err != nil {
		return nil, err
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	return &KeySigner{priv: priv, pub: pub, keyID: keyID(pub)}, nil
}

// NewKeyVerifier makes a DSSE verifier from a public note key.
func NewKeyVerifier(vkey string) (*KeySigner, error) {
	pub, _, err := noteKeyBytes(vkey, false)
	if err != nil {
		return nil, err
	}
	return &KeySigner{pub: ed25519.PublicKey(pub), keyID: keyID(pub)}, nil
}

func keyID(pub []byte) string {
	id, _ := dsse.SHA256KeyID(ed25519.PublicKey(pub))
	if id == "" {
		return hex.EncodeToString(pub)
	}
	return id
}

// Sign implements dsse.Signer.
func (k *KeySigner) Sign(_ context.Context, data []byte) ([]byte, error) {
	if k.priv == nil {
		return nil, errors.New("verifier cannot sign")
	}
	return ed25519.Sign(k.priv, data), nil
}

// Verify implements dsse.Verifier.
func (k *KeySigner) Verify(_ context.Context, data, sig []byte) error {
	if !ed25519.Verify(k.pub, data, sig) {
		return errors.New("bad signature")
	}
	return nil
}

// KeyID implements dsse.Signer.
func (k *KeySigner) KeyID() (string, error) { return k.keyID, nil }

// Public implements dsse.Verifier.
func (k *KeySigner) Public() crypto.PublicKey { return k.pub }

// SignStatement wraps a statement in a signed DSSE envelope.
func SignStatement(ctx context.Context, st *Statement, skey string) ([]byte, error) {
	if err := st.Validate(); err != nil {
		return nil, err
	}
	k, err := NewKeySigner(skey)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	es, err := dsse.NewEnvelopeSigner(k)
	if err != nil {
		return nil, err
	}
	env, err := es.SignPayload(ctx, InTotoPayloadType, body)
	if err != nil {
		return nil, fmt.Errorf("sign envelope: %w", err)
	}
	return json.MarshalIndent(env, "", "  ")
}

// ErrAttestation marks an envelope that does not verify.
var ErrAttestation = errors.New("attestation does not verify")

// VerifyStatement checks a DSSE envelope's signature with vkey and
// returns the statement inside it.
func VerifyStatement(ctx context.Context, envelope []byte, vkey string) (*Statement, error) {
	if len(envelope) > maxEnvelopeSize {
		return nil, fmt.Errorf("envelope is %d bytes (max %d)", len(envelope), maxEnvelopeSize)
	}
	var env dsse.Envelope
	if err := json.Unmarshal(envelope, &env); err != nil {
		return nil, fmt.Errorf("decode envelope: %w", err)
	}
	if env.PayloadType != InTotoPayloadType {
		return nil, fmt.Errorf("%w: payload type %q", ErrAttestation, env.PayloadType)
	}
	k, err := NewKeyVerifier(vkey)
	if err != nil {
		return nil, err
	}
	ev, err := dsse.NewEnvelopeVerifier(k)
	if err != nil {
		return nil, err
	}
	_, payload, err := ev.VerifyAndDecode(ctx, &env)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAttestation, err)
	}
	var st Statement
	if err := json.Unmarshal(payload, &st); err != nil {
		return nil, fmt.Errorf("%w: statement: %v", ErrAttestation, err)
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAttestation, err)
	}
	return &st, nil
}
