package sign

import (
	"crypto/sha256"
	"fmt"
	"hash"
	"strings"

	"github.com/zeebo/blake3"
	"golang.org/x/crypto/blake2b"
)

// HashAlgorithm names a content hash as the OMS predicate spells it.
type HashAlgorithm string

// The content hashes OMS allows.
const (
	SHA256  HashAlgorithm = "sha256"
	BLAKE2b HashAlgorithm = "blake2b" // BLAKE2b-512, as Python's hashlib.blake2b()
	BLAKE3  HashAlgorithm = "blake3"  // 256-bit output
)

// HashAlgorithms lists the supported hashes.
var HashAlgorithms = []HashAlgorithm{SHA256, BLAKE2b, BLAKE3}

// ParseHashAlgorithm accepts the OMS names and the reference tool's
// aliases (blake2 for blake2b).
func ParseHashAlgorithm(s string) (HashAlgorithm, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "sha256", "sha-256":
		return SHA256, nil
	case "blake2b", "blake2", "blake2b-512":
		return BLAKE2b, nil
	case "blake3":
		return BLAKE3, nil
	}
	return "", fmt.Errorf("unknown hash algorithm %q (want sha256, blake2b or blake3)", s)
}

// New returns a fresh hash.
func (h HashAlgorithm) New() hash.Hash {
	switch h {
	case BLAKE2b:
		d, _ := blake2b.New512(nil) // cannot fail without a key
		return d
	case BLAKE3:
		return blake3.New()
	default:
		return sha256.New()
	}
}

// Size is the digest length in bytes.
func (h HashAlgorithm) Size() int {
	if h == BLAKE2b {
		return 64
	}
	return 32
}

func (h HashAlgorithm) valid() bool {
	return h == SHA256 || h == BLAKE2b || h == BLAKE3
}

// parseResourceAlgorithm accepts the specification's names ("sha256") and
// the reference tool's shard spelling ("sha256-sharded-1000000000"), which
// the specification lists as a known divergence. Only the former is
// written.
func parseResourceAlgorithm(s string) (HashAlgorithm, error) {
	base, _, _ := strings.Cut(s, "-sharded-")
	h, err := ParseHashAlgorithm(base)
	if err != nil {
		return "", err
	}
	return h, nil
}
