// Package sign hashes, signs and verifies machine-learning models in the
// OpenSSF Model Signing (OMS) format, interoperable with the reference
// implementation model_signing from sigstore/model-transparency.
//
// A signature is a Sigstore bundle (media type
// application/vnd.dev.sigstore.bundle.v0.3+json) whose DSSE envelope carries
// an in-toto Statement v1 with predicate type
// https://model_signing/signature/v1.0. The predicate lists one resource
// descriptor per file ("files" serialization) or per byte range of a file
// ("shards" serialization), plus the serialization parameters; the
// statement's single subject is the model name with a SHA-256 over the
// resource digests, in the order the resources are listed.
//
// Three methods are supported: key (ECDSA P-256/P-384/P-521), certificate
// (a signing certificate and its chain, verified with crypto/x509) and
// sigstore (keyless bundles, verified offline against a trusted root with
// sigstore-go). Verification fails with a *VerifyError whose Kind says what
// is wrong: files modified, added or missing, a wrong key or identity, an
// expired certificate, a malformed bundle.
//
// Hashing streams every file once through a bounded buffer, in parallel
// across files and across shards of large files; nothing is loaded whole.
//
// On verify the reference tool's known divergences are tolerated: shard
// algorithm names such as "sha256-sharded-N", a float shard_size, resources
// in any order (the root digest is recomputed in the order given), the
// legacy publicKey.rawBytes key material, and the v0.2 predicate
// https://model_signing/Digests/v0.1 with its non-standard PAE.
package sign
