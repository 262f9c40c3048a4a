package sign

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"path"
	"strconv"
	"strings"
)

// In-toto and OMS identifiers.
const (
	PayloadType         = "application/vnd.in-toto+json"
	StatementType       = "https://in-toto.io/Statement/v1"
	PredicateType       = "https://model_signing/signature/v1.0"
	PredicateTypeCompat = "https://model_signing/Digests/v0.1" // model_signing v0.2
)

// Parser limits.
const (
	maxPayload   = 256 << 20
	maxResources = 4 << 20
)

type statementJSON struct {
	Type          string          `json:"_type"`
	Subject       []subjectJSON   `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

type subjectJSON struct {
	Name        string            `json:"name"`
	Digest      map[string]string `json:"digest"`
	Annotations map[string]any    `json:"annotations,omitempty"`
}

type serializationJSON struct {
	Method        string   `json:"method"`
	HashType      string   `json:"hash_type"`
	ShardSize     any      `json:"shard_size,omitempty"`
	AllowSymlinks any      `json:"allow_symlinks"`
	IgnorePaths   []string `json:"ignore_paths,omitempty"`
}

type resourceJSON struct {
	Algorithm string `json:"algorithm"`
	Digest    string `json:"digest"`
	Name      string `json:"name"`
}

type predicateJSON struct {
	Serialization *serializationJSON `json:"serialization"`
	Resources     []resourceJSON     `json:"resources"`
}

// EncodeStatement renders the manifest as the in-toto Statement that is
// signed, indented as model_signing writes it.
func EncodeStatement(m *Manifest) ([]byte, error) {
	s := m.Serialization
	ser := serializationJSON{Method: string(s.Method), HashType: string(s.Hash), AllowSymlinks: s.AllowSymlinks, IgnorePaths: s.IgnorePaths}
	if s.Method == MethodShards {
		ser.ShardSize = s.ShardSize
	}
	res := make([]resourceJSON, len(m.Resources))
	for i, r := range m.Resources {
		res[i] = resourceJSON{Algorithm: r.Algorithm, Digest: hex.EncodeToString(r.Digest), Name: r.Name()}
	}
	pred, err := json.Marshal(struct {
		Serialization serializationJSON `json:"serialization"`
		Resources     []resourceJSON    `json:"resources"`
	}{ser, res})
	if err != nil {
		return nil, err
	}
	st := statementJSON{
		Type:          StatementType,
		Subject:       []subjectJSON{{Name: m.ModelName, Digest: map[string]string{"sha256": m.RootDigestHex()}}},
		PredicateType: PredicateType,
		Predicate:     pred,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(st); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// PayloadError is a statement that is not a valid OMS statement.
type PayloadError struct {
	Reason string // stable code: not-json, wrong-statement-type, wrong-predicate-type, ...
	Detail string
}

func (e *PayloadError) Error() string {
	if e.Detail == "" {
		return "invalid payload: " + e.Reason
	}
	return "invalid payload: " + e.Reason + ": " + e.Detail
}

func payloadErr(reason, format string, args ...any) *PayloadError {
	return &PayloadError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// DecodeStatement parses a signed in-toto statement into the manifest it
// describes. It accepts the v1.0 predicate with the reference tool's
// divergences and the v0.2 compat predicate, checks that the subject
// digest matches the resources in the order given, and rejects unsafe
// resource paths.
func DecodeStatement(data []byte) (*Manifest, string, error) {
	if len(data) > maxPayload {
		return nil, "", payloadErr("too-large", "%d bytes", len(data))
	}
	var st statementJSON
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, "", payloadErr("not-json", "%v", err)
	}
	if st.Type != StatementType {
		return nil, st.PredicateType, payloadErr("wrong-statement-type", "%q", st.Type)
	}
	switch st.PredicateType {
	case PredicateType:
		m, err := decodeV1(&st)
		return m, st.PredicateType, err
	case PredicateTypeCompat:
		m, err := decodeCompat(&st)
		return m, st.PredicateType, err
	}
	return nil, st.PredicateType, payloadErr("wrong-predicate-type", "%q (want %s)", st.PredicateType, PredicateType)
}

func decodeV1(st *statementJSON) (*Manifest, error) {
	if len(st.Subject) != 1 {
		return nil, payloadErr("bad-subject", "want exactly one subject, got %d", len(st.Subject))
	}
	want, ok := st.Subject[0].Digest["sha256"]
	if !ok {
		return nil, payloadErr("bad-subject", "subject has no sha256 digest")
	}
	var p predicateJSON
	if err := json.Unmarshal(st.Predicate, &p); err != nil {
		return nil, payloadErr("bad-predicate", "%v", err)
	}
	if p.Serialization == nil {
		return nil, payloadErr("bad-predicate", "no serialization")
	}
	s, err := decodeSerialization(p.Serialization)
	if err != nil {
		return nil, err
	}
	if len(p.Resources) > maxResources {
		return nil, payloadErr("too-many-resources", "%d", len(p.Resources))
	}
	m := &Manifest{ModelName: st.Subject[0].Name, Serialization: s, Resources: make([]Resource, 0, len(p.Resources))}
	seen := make(map[string]bool, len(p.Resources))
	root := sha256.New()
	for _, rj := range p.Resources {
		r, err := decodeResource(rj, s)
		if err != nil {
			return nil, err
		}
		if seen[r.Name()] {
			return nil, payloadErr("duplicate-resource", "%q", r.Name())
		}
		seen[r.Name()] = true
		root.Write(r.Digest)
		m.Resources = append(m.Resources, r)
	}
	if got := hex.EncodeToString(root.Sum(nil)); !strings.EqualFold(got, want) {
		return nil, payloadErr("root-digest-mismatch", "subject digest %s, resources hash to %s", want, got)
	}
	return m, nil
}

func decodeSerialization(sj *serializationJSON) (Serialization, error) {
	var s Serialization
	method, err := ParseMethod(sj.Method)
	if err != nil || (sj.Method != "files" && sj.Method != "shards") {
		return s, payloadErr("bad-serialization", "method %q", sj.Method)
	}
	s.Method = method
	h, err := ParseHashAlgorithm(sj.HashType)
	if err != nil {
		return s, payloadErr("bad-serialization", "%v", err)
	}
	s.Hash = h
	s.AllowSymlinks, err = decodeBool(sj.AllowSymlinks)
	if err != nil {
		return s, payloadErr("bad-serialization", "allow_symlinks: %v", err)
	}
	if s.Method == MethodShards {
		n, err := decodeInt(sj.ShardSize)
		if err != nil || n <= 0 {
			return s, payloadErr("bad-serialization", "shard_size %v", sj.ShardSize)
		}
		s.ShardSize = n
	}
	for _, p := range sj.IgnorePaths {
		if p == "" || len(p) > 4096 {
			return s, payloadErr("bad-serialization", "ignore path %q", p)
		}
		s.IgnorePaths = append(s.IgnorePaths, strings.TrimSuffix(path.Clean(p), "/"))
	}
	return s, nil
}

// decodeBool accepts JSON booleans and the strings "true"/"false" (the v0.2
// compat path builds the latter).
func decodeBool(v any) (bool, error) {
	switch b := v.(type) {
	case nil:
		return false, nil
	case bool:
		return b, nil
	case string:
		return strconv.ParseBool(b)
	}
	return false, fmt.Errorf("not a boolean: %v", v)
}

// decodeInt accepts an integer or an integral float (protobuf Struct turns
// every number into a double, so the reference tool writes 1000000000.0).
func decodeInt(v any) (int64, error) {
	f, ok := v.(float64)
	if !ok {
		return 0, fmt.Errorf("not a number: %v", v)
	}
	if f != math.Trunc(f) || f < 0 || f > 1<<53 {
		return 0, fmt.Errorf("not an integer: %v", f)
	}
	return int64(f), nil
}

func decodeResource(rj resourceJSON, s Serialization) (Resource, error) {
	alg, err := parseResourceAlgorithm(rj.Algorithm)
	if err != nil {
		return Resource{}, payloadErr("bad-resource", "%q: %v", rj.Name, err)
	}
	if alg != s.Hash {
		return Resource{}, payloadErr("bad-resource", "%q: algorithm %s differs from hash_type %s", rj.Name, rj.Algorithm, s.Hash)
	}
	dig, err := hex.DecodeString(rj.Digest)
	if err != nil || len(dig) != alg.Size() {
		return Resource{}, payloadErr("bad-resource", "%q: digest is not %d hex bytes", rj.Name, alg.Size())
	}
	r := Resource{Digest: dig, Algorithm: rj.Algorithm}
	name := rj.Name
	if s.Method == MethodShards {
		rest, endS, ok1 := cutLast(name, ":")
		p, startS, ok2 := cutLast(rest, ":")
		if !ok1 || !ok2 {
			return Resource{}, payloadErr("bad-resource", "%q: shard name is not path:start:end", name)
		}
		start, err1 := strconv.ParseInt(startS, 10, 64)
		end, err2 := strconv.ParseInt(endS, 10, 64)
		if err1 != nil || err2 != nil || start < 0 || end < start || end-start > s.ShardSize {
			return Resource{}, payloadErr("bad-resource", "%q: bad shard range", name)
		}
		r.Sharded, r.Start, r.End = true, start, end
		name = p
	}
	if err := checkResourcePath(name); err != nil {
		return Resource{}, payloadErr("unsafe-path", "%q: %v", rj.Name, err)
	}
	r.Path = name
	return r, nil
}

func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// checkResourcePath rejects names that could address anything outside the
// model: absolute paths, parent references, empty or unclean names.
func checkResourcePath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("empty path")
	case p == ".":
		return nil
	case strings.HasPrefix(p, "/"), strings.Contains(p, "\\"), strings.ContainsRune(p, 0):
		return fmt.Errorf("not a relative POSIX path")
	case path.Clean(p) != p:
		return fmt.Errorf("not a clean path")
	}
	for _, c := range strings.Split(p, "/") {
		if c == ".." || c == "." {
			return fmt.Errorf("contains %q", c)
		}
	}
	return nil
}

// decodeCompat reads model_signing v0.2's Digests/v0.1 predicate: one
// subject per file with its SHA-256, no serialization block and no root
// digest.
func decodeCompat(st *statementJSON) (*Manifest, error) {
	if len(st.Subject) > maxResources {
		return nil, payloadErr("too-many-resources", "%d", len(st.Subject))
	}
	m := &Manifest{ModelName: "compat-undefined-not-present", Serialization: Serialization{Method: MethodFiles, Hash: SHA256}}
	seen := map[string]bool{}
	for _, sj := range st.Subject {
		d, ok := sj.Digest["sha256"]
		if !ok {
			return nil, payloadErr("bad-subject", "%q has no sha256 digest", sj.Name)
		}
		r, err := decodeResource(resourceJSON{Algorithm: "sha256", Digest: d, Name: sj.Name}, m.Serialization)
		if err != nil {
			return nil, err
		}
		if seen[r.Path] {
			return nil, payloadErr("duplicate-resource", "%q", r.Path)
		}
		seen[r.Path] = true
		m.Resources = append(m.Resources, r)
	}
	return m, nil
}
