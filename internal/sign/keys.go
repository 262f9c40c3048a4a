package sign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// ErrEncryptedKey is returned for password-protected PEM keys, which are
// not supported: decrypt them first (openssl pkey -in k.pem -out plain.pem).
var ErrEncryptedKey = errors.New("encrypted private keys are not supported; decrypt the key first")

// ParseCurve accepts P-256, P-384 and P-521 (also secp256r1 etc.).
func ParseCurve(s string) (elliptic.Curve, error) {
	switch strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), "-", "")) {
	case "P256", "SECP256R1", "PRIME256V1", "256", "":
		return elliptic.P256(), nil
	case "P384", "SECP384R1", "384":
		return elliptic.P384(), nil
	case "P521", "SECP521R1", "521":
		return elliptic.P521(), nil
	}
	return nil, fmt.Errorf("unsupported curve %q (want P-256, P-384 or P-521)", s)
}

func checkCurve(pub *ecdsa.PublicKey) error {
	switch pub.Curve {
	case elliptic.P256(), elliptic.P384(), elliptic.P521():
		return nil
	}
	return fmt.Errorf("unsupported curve %s (want P-256, P-384 or P-521)", pub.Curve.Params().Name)
}

// curveHash is the digest paired with each curve (Sigstore's
// PKIX_ECDSA_P256_SHA_256, _P384_SHA_384, _P521_SHA_512).
func curveHash(pub *ecdsa.PublicKey) crypto.Hash {
	switch pub.Curve {
	case elliptic.P384():
		return crypto.SHA384
	case elliptic.P521():
		return crypto.SHA512
	}
	return crypto.SHA256
}

func digest(h crypto.Hash, data []byte) []byte {
	switch h {
	case crypto.SHA384:
		d := sha512.Sum384(data)
		return d[:]
	case crypto.SHA512:
		d := sha512.Sum512(data)
		return d[:]
	}
	d := sha256.Sum256(data)
	return d[:]
}

// ParsePrivateKey reads an ECDSA private key from PEM (PKCS#8 or SEC 1).
func ParsePrivateKey(data []byte) (*ecdsa.PrivateKey, error) {
	for {
		var blk *pem.Block
		blk, data = pem.Decode(data)
		if blk == nil {
			return nil, errors.New("no PEM private key found")
		}
		switch blk.Type {
		case "ENCRYPTED PRIVATE KEY":
			return nil, ErrEncryptedKey
		case "EC PRIVATE KEY":
			if _, ok := blk.Headers["DEK-Info"]; ok {
				return nil, ErrEncryptedKey
			}
			k, err := x509.ParseECPrivateKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse EC private key: %w", err)
			}
			return k, checkCurve(&k.PublicKey)
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse private key: %w", err)
			}
			ek, ok := k.(*ecdsa.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("private key is %T, want ECDSA", k)
			}
			return ek, checkCurve(&ek.PublicKey)
		}
	}
}

// ParsePublicKey reads an ECDSA public key from PEM (a PUBLIC KEY block,
// or the key of a CERTIFICATE block).
func ParsePublicKey(data []byte) (*ecdsa.PublicKey, error) {
	for {
		var blk *pem.Block
		blk, data = pem.Decode(data)
		if blk == nil {
			return nil, errors.New("no PEM public key found")
		}
		var k any
		var err error
		switch blk.Type {
		case "PUBLIC KEY":
			k, err = x509.ParsePKIXPublicKey(blk.Bytes)
		case "CERTIFICATE":
			var c *x509.Certificate
			if c, err = x509.ParseCertificate(blk.Bytes); err == nil {
				k = c.PublicKey
			}
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("parse public key: %w", err)
		}
		ek, ok := k.(*ecdsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("public key is %T, want ECDSA", k)
		}
		return ek, checkCurve(ek)
	}
}

// ParseCertificates reads every CERTIFICATE block of a PEM file.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, data = pem.Decode(data)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate found")
	}
	return out, nil
}

// PublicKeyPEM encodes pub as a PEM SubjectPublicKeyInfo.
func PublicKeyPEM(pub *ecdsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// PublicKeyHint is hex(sha256(PEM public key)), the publicKey.hint
// model_signing writes.
func PublicKeyHint(pub *ecdsa.PublicKey) string {
	p, err := PublicKeyPEM(pub)
	if err != nil {
		return ""
	}
	d := sha256.Sum256(p)
	return hex.EncodeToString(d[:])
}

// GenerateKey makes an ECDSA key pair and returns it PEM encoded (PKCS#8
// private key, SubjectPublicKeyInfo public key).
func GenerateKey(curve elliptic.Curve) (privPEM, pubPEM []byte, err error) {
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, nil, err
	}
	pubPEM, err = PublicKeyPEM(&k.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), pubPEM, nil
}
