package gateway

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// API keys look like "mlsk_<id>_<secret>": id is 16 hex digits (public,
// used to find the record), secret 32 random bytes in base64url. Only
// SHA-256 of the secret is stored; with 256 random bits no slower hash
// is needed. The full key is shown once, when it is created.
const keyPrefix = "mlsk_"

// KeyRecord is one stored API key.
type KeyRecord struct {
	ID      string    `json:"id"`
	Hash    string    `json:"hash"` // "sha256:<hex>" of the secret
	Owner   string    `json:"owner"`
	Groups  []string  `json:"groups,omitempty"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires,omitzero"`
	Revoked time.Time `json:"revoked,omitzero"`
	Note    string    `json:"note,omitempty"`
}

// Active reports whether the key may be used at time now.
func (k *KeyRecord) Active(now time.Time) bool {
	return k.Revoked.IsZero() && (k.Expires.IsZero() || now.Before(k.Expires))
}

// KeyFile is the hashed key file's document.
type KeyFile struct {
	Version int         `json:"version"`
	Keys    []KeyRecord `json:"keys"`
}

// Limits on the key file.
const (
	MaxKeyFileSize = 16 << 20
	maxKeys        = 100000
)

// Key errors.
var (
	ErrKeyNotFound = errors.New("gateway: no such key")
	ErrKeyFile     = errors.New("gateway: invalid key file")
)

// ParseKeyFile reads a key file document.
func ParseKeyFile(data []byte) (*KeyFile, error) {
	if len(data) > MaxKeyFileSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrKeyFile, MaxKeyFileSize)
	}
	var kf KeyFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&kf); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyFile, err)
	}
	if kf.Version != 1 {
		return nil, fmt.Errorf("%w: version %d (want 1)", ErrKeyFile, kf.Version)
	}
	if len(kf.Keys) > maxKeys {
		return nil, fmt.Errorf("%w: more than %d keys", ErrKeyFile, maxKeys)
	}
	seen := map[string]bool{}
	for i, k := range kf.Keys {
		if !validKeyID(k.ID) || seen[k.ID] {
			return nil, fmt.Errorf("%w: key %d: invalid or duplicate id %q", ErrKeyFile, i, k.ID)
		}
		seen[k.ID] = true
		h, ok := strings.CutPrefix(k.Hash, "sha256:")
		if b, err := hex.DecodeString(h); !ok || err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("%w: key %s: hash must be sha256:<64 hex>", ErrKeyFile, k.ID)
		}
		if strings.TrimSpace(k.Owner) == "" {
			return nil, fmt.Errorf("%w: key %s: no owner", ErrKeyFile, k.ID)
		}
	}
	return &kf, nil
}

// ReadKeyFile reads path; a missing file is an empty key file.
func ReadKeyFile(path string) (*KeyFile, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &KeyFile{Version: 1}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read keys: %w", err)
	}
	kf, err := ParseKeyFile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return kf, nil
}

// Write replaces path atomically (mode 0600).
func (kf *KeyFile) Write(path string) error {
	data, err := json.MarshalIndent(kf, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write keys: %w", err)
	}
	f, err := os.CreateTemp(dir, ".keys-*")
	if err != nil {
		return fmt.Errorf("write keys: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("write keys: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write keys: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write keys: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write keys: %w", err)
	}
	return nil
}

// NewKeyOptions describe a key to create.
type NewKeyOptions struct {
	Owner   string
	Groups  []string
	Expires time.Time
	Note    string
	Now     time.Time
}

// NewKey adds a new key and returns its record and the secret key string,
// which is not stored and cannot be recovered.
func (kf *KeyFile) NewKey(o NewKeyOptions) (KeyRecord, string, error) {
	if strings.TrimSpace(o.Owner) == "" {
		return KeyRecord{}, "", errors.New("gateway: a key needs an owner")
	}
	if len(kf.Keys) >= maxKeys {
		return KeyRecord{}, "", fmt.Errorf("gateway: key file holds %d keys already", maxKeys)
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	var id [8]byte
	var secret [32]byte
	for {
		if _, err := rand.Read(id[:]); err != nil {
			return KeyRecord{}, "", err
		}
		if !slices.ContainsFunc(kf.Keys, func(k KeyRecord) bool { return k.ID == hex.EncodeToString(id[:]) }) {
			break
		}
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return KeyRecord{}, "", err
	}
	sec := base64.RawURLEncoding.EncodeToString(secret[:])
	sum := sha256.Sum256([]byte(sec))
	rec := KeyRecord{
		ID: hex.EncodeToString(id[:]), Hash: "sha256:" + hex.EncodeToString(sum[:]),
		Owner: o.Owner, Groups: o.Groups, Created: o.Now.UTC().Truncate(time.Second), Note: o.Note,
	}
	if !o.Expires.IsZero() {
		rec.Expires = o.Expires.UTC()
	}
	kf.Keys = append(kf.Keys, rec)
	return rec, keyPrefix + rec.ID + "_" + sec, nil
}

// Revoke marks key id revoked.
func (kf *KeyFile) Revoke(id string, now time.Time) error {
	for i := range kf.Keys {
		if kf.Keys[i].ID == id {
			if kf.Keys[i].Revoked.IsZero() {
				kf.Keys[i].Revoked = now.UTC().Truncate(time.Second)
			}
			return nil
		}
	}
	return fmt.Errorf("%w: %s", ErrKeyNotFound, id)
}

func validKeyID(s string) bool {
	if len(s) != 16 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// splitKey parses "mlsk_<id>_<secret>".
func splitKey(key string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(key, keyPrefix)
	if !ok || len(rest) < 18 || rest[16] != '_' || !validKeyID(rest[:16]) {
		return "", "", false
	}
	return rest[:16], rest[17:], true
}

// keyIndex answers key lookups.
type keyIndex struct {
	byID map[string]*keyEntry
}

type keyEntry struct {
	rec  KeyRecord
	hash [sha256.Size]byte
}

func newKeyIndex(kf *KeyFile) *keyIndex {
	ix := &keyIndex{byID: make(map[string]*keyEntry, len(kf.Keys))}
	for _, k := range kf.Keys {
		e := &keyEntry{rec: k}
		b, _ := hex.DecodeString(strings.TrimPrefix(k.Hash, "sha256:"))
		copy(e.hash[:], b)
		ix.byID[k.ID] = e
	}
	return ix
}

// verify returns the key's record if key is valid and active. The secret
// is compared in constant time; an unknown id still costs one hash and
// one comparison.
func (ix *keyIndex) verify(key string, now time.Time) (*KeyRecord, bool) {
	id, secret, ok := splitKey(key)
	sum := sha256.Sum256([]byte(secret))
	e := ix.byID[id]
	want := [sha256.Size]byte{}
	if e != nil {
		want = e.hash
	}
	match := subtle.ConstantTimeCompare(sum[:], want[:]) == 1
	if !ok || e == nil || !match || !e.rec.Active(now) {
		return nil, false
	}
	return &e.rec, true
}
