package sign

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Method is an OMS serialization method.
type Method string

// Serialization methods.
const (
	MethodFiles  Method = "files"  // one resource per file
	MethodShards Method = "shards" // one resource per byte range of a file
)

// DefaultShardSize is model_signing's default shard size (1 GB).
const DefaultShardSize int64 = 1_000_000_000

// ParseMethod accepts "files" and "shards" (and "file"/"shard").
func ParseMethod(s string) (Method, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "files", "file":
		return MethodFiles, nil
	case "shards", "shard", "file-shard", "file_shard":
		return MethodShards, nil
	}
	return "", fmt.Errorf("unknown serialization %q (want files or shards)", s)
}

// Serialization records how a model was turned into resources; it is
// stored in the predicate so verification can repeat it.
type Serialization struct {
	Method        Method        `json:"method"`
	Hash          HashAlgorithm `json:"hash_type"`
	ShardSize     int64         `json:"shard_size,omitempty"`
	AllowSymlinks bool          `json:"allow_symlinks"`
	// IgnorePaths are model-relative POSIX paths left out of the signature.
	IgnorePaths []string `json:"ignore_paths,omitempty"`
}

func (s Serialization) validate() error {
	switch s.Method {
	case MethodFiles:
	case MethodShards:
		if s.ShardSize <= 0 {
			return fmt.Errorf("shard size must be positive, got %d", s.ShardSize)
		}
	default:
		return fmt.Errorf("unknown serialization method %q", s.Method)
	}
	if !s.Hash.valid() {
		return fmt.Errorf("unknown hash %q", s.Hash)
	}
	return nil
}

// Resource is one signed item: a whole file, or the byte range
// [Start, End) of a file under shard serialization.
type Resource struct {
	Path    string // model-relative POSIX path; "." when the model is one file
	Start   int64
	End     int64
	Sharded bool
	Digest  []byte
	// Algorithm is the name as written in the predicate ("sha256",
	// "sha256-sharded-8").
	Algorithm string
}

// Name is the resource name as the predicate writes it: the path, or
// "path:start:end" for a shard.
func (r Resource) Name() string {
	if !r.Sharded {
		return r.Path
	}
	return r.Path + ":" + strconv.FormatInt(r.Start, 10) + ":" + strconv.FormatInt(r.End, 10)
}

// Manifest is a hashed model: its resources in signing order.
type Manifest struct {
	ModelName     string
	Serialization Serialization
	Resources     []Resource
	// Files and Bytes count what was hashed (informational).
	Files int
	Bytes int64
}

// RootDigest is SHA-256 over the resource digests in manifest order: the
// statement subject's digest.
func (m *Manifest) RootDigest() []byte {
	h := sha256.New()
	for _, r := range m.Resources {
		h.Write(r.Digest)
	}
	return h.Sum(nil)
}

// RootDigestHex is RootDigest in lower-case hex.
func (m *Manifest) RootDigestHex() string { return hex.EncodeToString(m.RootDigest()) }

// sortResources orders resources as model_signing does: by path compared
// component-wise (Python's PurePosixPath ordering), then by shard start
// and end.
func sortResources(rs []Resource) {
	slices.SortFunc(rs, compareResources)
}

func compareResources(a, b Resource) int {
	if c := comparePaths(a.Path, b.Path); c != 0 {
		return c
	}
	if a.Start != b.Start {
		if a.Start < b.Start {
			return -1
		}
		return 1
	}
	switch {
	case a.End < b.End:
		return -1
	case a.End > b.End:
		return 1
	}
	return 0
}

// comparePaths compares POSIX paths component by component, so "a/b"
// sorts before "a.txt" (as PurePosixPath does, unlike a byte comparison).
func comparePaths(a, b string) int {
	for {
		ai, bi := strings.IndexByte(a, '/'), strings.IndexByte(b, '/')
		ac, bc := a, b
		if ai >= 0 {
			ac = a[:ai]
		}
		if bi >= 0 {
			bc = b[:bi]
		}
		if c := strings.Compare(ac, bc); c != 0 {
			return c
		}
		switch {
		case ai < 0 && bi < 0:
			return 0
		case ai < 0:
			return -1
		case bi < 0:
			return 1
		}
		a, b = a[ai+1:], b[bi+1:]
	}
}

// Diff is what differs between a signed manifest and the model on disk,
// per file.
type Diff struct {
	Modified []string `json:"modified,omitempty"`
	Added    []string `json:"added,omitempty"`
	Missing  []string `json:"missing,omitempty"`
}

// Empty reports whether the model matches.
func (d Diff) Empty() bool { return len(d.Modified)+len(d.Added)+len(d.Missing) == 0 }

// compareManifests diffs expected (from the signature) against actual
// (from disk). Digests are compared, never algorithm spellings. present
// maps every hashed file to its size: shard serialization writes no
// resource for an empty file, so a file present on disk without resources
// is modified (truncated), unless the signature's only shards for it are
// empty ("p:0:0", as newer model_signing writes).
func compareManifests(expected, actual *Manifest, present map[string]int64) Diff {
	type fileSet map[string][]byte // resource name -> digest
	group := func(m *Manifest) (map[string]fileSet, []string) {
		out := map[string]fileSet{}
		var order []string
		for _, r := range m.Resources {
			fs, ok := out[r.Path]
			if !ok {
				fs = fileSet{}
				out[r.Path] = fs
				order = append(order, r.Path)
			}
			fs[r.Name()] = r.Digest
		}
		return out, order
	}
	exp, expOrder := group(expected)
	act, actOrder := group(actual)
	var d Diff
	for _, p := range expOrder {
		e := exp[p]
		a, ok := act[p]
		if !ok {
			size, onDisk := present[p]
			switch {
			case !onDisk:
				d.Missing = append(d.Missing, p)
			case size != 0 || !allEmptyShards(e, expected.Serialization.Hash):
				d.Modified = append(d.Modified, p)
			}
			continue
		}
		if len(a) != len(e) {
			d.Modified = append(d.Modified, p)
			continue
		}
		for name, dig := range e {
			if ad, ok := a[name]; !ok || !bytes.Equal(ad, dig) {
				d.Modified = append(d.Modified, p)
				break
			}
		}
	}
	for _, p := range actOrder {
		if _, ok := exp[p]; !ok {
			d.Added = append(d.Added, p)
		}
	}
	slices.SortFunc(d.Modified, comparePaths)
	slices.SortFunc(d.Added, comparePaths)
	slices.SortFunc(d.Missing, comparePaths)
	return d
}

func allEmptyShards(fs map[string][]byte, h HashAlgorithm) bool {
	empty := h.New().Sum(nil)
	for name, dig := range fs {
		if !strings.HasSuffix(name, ":0:0") || !bytes.Equal(dig, empty) {
			return false
		}
	}
	return len(fs) > 0
}
