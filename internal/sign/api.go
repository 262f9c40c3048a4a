package sign

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// SignOptions configure Sign.
type SignOptions struct {
	HashOptions
	// SignaturePath is where the bundle will be written; when it lies inside
	// the model it is left out of the signature (and recorded as ignored).
	SignaturePath string
	// IgnorePaths are user paths to leave out (see NormalizeIgnorePath).
	IgnorePaths []string
}

// Signed is the outcome of Sign.
type Signed struct {
	Bundle   []byte    `json:"-"`
	Manifest *Manifest `json:"-"`
	Summary
}

// Summary describes a signed or verified model.
type Summary struct {
	Model         string        `json:"model"`
	ModelName     string        `json:"model_name"`
	RootDigest    string        `json:"root_digest"`
	PredicateType string        `json:"predicate_type"`
	Serialization Serialization `json:"serialization"`
	Resources     int           `json:"resources"`
	Files         int           `json:"files"`
	Bytes         int64         `json:"bytes"`
	Signer        *SignerInfo   `json:"signer,omitempty"`
	Duration      time.Duration `json:"duration_ns"`
}

// ignoreList gathers the model-relative ignore paths: the user's, the
// signature file's when it is inside the model, and the git paths.
func ignoreList(modelPath, signaturePath string, user []string, git bool) []string {
	var out []string
	for _, p := range user {
		if rel, ok := NormalizeIgnorePath(modelPath, p); ok {
			out = append(out, rel)
		}
	}
	if signaturePath != "" {
		if rel, ok := insideModel(modelPath, signaturePath); ok {
			out = append(out, rel)
		}
	}
	if git {
		out = append(out, GitPaths...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// insideModel reports p's model-relative path when p is inside the model
// directory.
func insideModel(modelPath, p string) (string, bool) {
	root, err1 := filepath.Abs(modelPath)
	abs, err2 := filepath.Abs(p)
	if err1 != nil || err2 != nil {
		return "", false
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil || rel == "." || rel == ".." || len(rel) > 2 && rel[:3] == ".."+string(filepath.Separator) {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

// Sign hashes the model at modelPath and signs it with signer, returning
// the Sigstore bundle.
func Sign(ctx context.Context, modelPath string, signer Signer, o SignOptions) (*Signed, error) {
	start := time.Now()
	if signer == nil {
		return nil, errors.New("no signer")
	}
	ho := o.HashOptions
	ho.Serialization.IgnorePaths = ignoreList(modelPath, o.SignaturePath, o.IgnorePaths, o.IgnoreGitPaths)
	ho.IgnoreGitPaths = false // already in the list, and so recorded
	m, _, err := hashModel(ctx, modelPath, ho)
	if err != nil {
		return nil, err
	}
	if len(m.Resources) == 0 && m.Files == 0 {
		return nil, fmt.Errorf("model %s has no files to sign after exclusions", modelPath)
	}
	if st, err := os.Stat(modelPath); err == nil && st.Mode().IsRegular() {
		m.Serialization.IgnorePaths = nil // a one-file model ignores nothing
	} else {
		m.Serialization.IgnorePaths = ho.Serialization.IgnorePaths
	}
	payload, err := EncodeStatement(m)
	if err != nil {
		return nil, err
	}
	es, err := dsse.NewEnvelopeSigner(signer)
	if err != nil {
		return nil, err
	}
	env, err := es.SignPayload(ctx, PayloadType, payload)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	b := &Bundle{MediaType: BundleMediaType, VerificationMaterial: signer.Material(), DSSEEnvelope: env}
	raw, err := b.Marshal()
	if err != nil {
		return nil, err
	}
	return &Signed{Bundle: raw, Manifest: m, Summary: Summary{
		Model: modelPath, ModelName: m.ModelName, RootDigest: "sha256:" + m.RootDigestHex(), PredicateType: PredicateType,
		Serialization: m.Serialization, Resources: len(m.Resources), Files: m.Files, Bytes: m.Bytes,
		Signer: &SignerInfo{Method: signer.Method()}, Duration: time.Since(start),
	}}, nil
}

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// SignaturePath is left out of hashing when it lies inside the model.
	SignaturePath string
	// IgnorePaths are added to those recorded in the signature.
	IgnorePaths []string
	// IgnoreGitPaths leaves out the git files (model_signing's default).
	IgnoreGitPaths bool
	// IgnoreUnsignedFiles hashes only the files the signature lists, so
	// extra files are not an error.
	IgnoreUnsignedFiles bool
	// AllowSymlinks follows symbolic links even when the signer did not.
	AllowSymlinks bool
	// Expect, when set, must match the signature's serialization (method,
	// hash and shard size); zero fields are not checked.
	Expect  Serialization
	Workers int
}

// Verified is the outcome of a successful Verify.
type Verified struct {
	Summary
	Manifest *Manifest `json:"-"`
}

// Verify checks the bundle (raw JSON) with v, then hashes the model as the
// signature says and compares. Verification failures are *VerifyError.
func Verify(ctx context.Context, modelPath string, raw []byte, v BundleVerifier, o VerifyOptions) (*Verified, error) {
	start := time.Now()
	if v == nil {
		return nil, errors.New("no verifier")
	}
	b, err := ParseBundle(raw)
	if err != nil {
		return nil, err
	}
	// The statement and predicate types are checked before the signature so
	// a foreign attestation is reported as such; nothing else of the
	// unauthenticated payload is used.
	if err := checkStatementTypes(b); err != nil {
		return nil, err
	}
	payload, info, err := v.VerifyBundle(ctx, b, raw)
	if err != nil {
		return nil, err
	}
	expected, predType, err := DecodeStatement(payload)
	if err != nil {
		var pe *PayloadError
		if errors.As(err, &pe) {
			return nil, &VerifyError{Kind: KindMalformed, Reason: pe.Reason, Detail: pe.Detail, Err: err}
		}
		return nil, err
	}
	es := expected.Serialization
	if x := o.Expect; (x.Method != "" && x.Method != es.Method) || (x.Hash != "" && x.Hash != es.Hash) ||
		(x.ShardSize != 0 && es.Method == MethodShards && x.ShardSize != es.ShardSize) {
		return nil, verr(KindMalformed, "serialization-mismatch", nil, "the signature uses %s/%s (shard size %d), not the requested %s/%s",
			es.Method, es.Hash, es.ShardSize, x.Method, x.Hash)
	}
	ho := HashOptions{Serialization: es, IgnoreGitPaths: o.IgnoreGitPaths, Workers: o.Workers}
	ho.Serialization.AllowSymlinks = es.AllowSymlinks || o.AllowSymlinks
	ho.Serialization.IgnorePaths = append(ignoreList(modelPath, o.SignaturePath, o.IgnorePaths, false), es.IgnorePaths...)
	if o.IgnoreUnsignedFiles {
		ho.only = map[string]bool{}
		for _, r := range expected.Resources {
			ho.only[r.Path] = true
		}
	}
	actual, empty, err := hashModel(ctx, modelPath, ho)
	if err != nil {
		var pe *PathError
		if errors.As(err, &pe) {
			return nil, &VerifyError{Kind: KindPath, Reason: "symlink-or-special-file", Detail: pe.Error(), Err: err}
		}
		return nil, err
	}
	if d := compareManifests(expected, actual, empty); !d.Empty() {
		return nil, diffError(d)
	}
	return &Verified{Manifest: expected, Summary: Summary{
		Model: modelPath, ModelName: expected.ModelName, RootDigest: "sha256:" + hex.EncodeToString(expected.RootDigest()),
		PredicateType: predType, Serialization: es, Resources: len(expected.Resources), Files: actual.Files, Bytes: actual.Bytes,
		Signer: info, Duration: time.Since(start),
	}}, nil
}

func checkStatementTypes(b *Bundle) error {
	p, err := b.payload()
	if err != nil {
		return err
	}
	var st struct {
		Type          string `json:"_type"`
		PredicateType string `json:"predicateType"`
	}
	if err := json.Unmarshal(p, &st); err != nil {
		return verr(KindMalformed, "not-json", err, "payload is not JSON: %v", err)
	}
	if st.Type != StatementType {
		return verr(KindMalformed, "wrong-statement-type", nil, "payload type %q (want %s)", st.Type, StatementType)
	}
	if st.PredicateType != PredicateType && st.PredicateType != PredicateTypeCompat {
		return verr(KindMalformed, "wrong-predicate-type", nil, "predicate type %q (want %s)", st.PredicateType, PredicateType)
	}
	return nil
}
